"""The embedded DNS server: 127.0.0.11:53 (UDP and TCP) in each container on a
user-defined network, served from the daemon's event loop.

One EmbeddedDNS serves every container; `start` opens the two sockets inside
the container's network namespace (netns.py), `stop` closes them. Answers come
from answer.Answerer over the NameResolver; names it does not own are
forwarded (forward.py) from the daemon's namespace.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass, field
from typing import Callable, Union

from dnslib import RCODE

from .answer import MAX_TCP_SIZE, Answerer, NameResolver, Verdict, rcode_reply
from .forward import DEFAULT_TIMEOUT, Forwarder
from .netns import bind_dns_sockets, in_netns

log = logging.getLogger("berth.dns")

DNS_ADDRESS = "127.0.0.11"
TCP_IDLE_TIMEOUT = 10.0

Upstreams = Union[Callable[[], list[str]], list[str]]


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: EmbeddedDNS, cid: str, forward: bool) -> None:
        self.server = server
        self.cid = cid
        self.forward = forward
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        verdict = self.server.answerer.handle(self.cid, data)
        if verdict.reply is not None:
            self.transport.sendto(verdict.reply, addr)  # type: ignore[union-attr]
        elif verdict.forward:
            self.server._spawn(self.cid, self._forward(verdict, data, addr))

    async def _forward(self, verdict: Verdict, data: bytes, addr: tuple) -> None:
        reply = await self.server._resolve_upstream(verdict, data, False, self.forward)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors about a client: ignore
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


@dataclass
class _Served:
    netns_path: str
    udp: asyncio.DatagramTransport
    tcp: asyncio.AbstractServer
    tasks: set[asyncio.Task] = field(default_factory=set)


class EmbeddedDNS:
    """docker's embedded DNS for Berth's containers.

    `upstreams` is the list of host resolvers ("ip" or "ip:port"), or a callable
    returning it at query time (the daemon captures /etc/resolv.conf at start).
    """

    def __init__(self, resolver: NameResolver, upstreams: Upstreams,
                 timeout: float = DEFAULT_TIMEOUT, address: str = DNS_ADDRESS, port: int = 53) -> None:
        self.answerer = Answerer(resolver)
        self._upstreams = upstreams
        self.forwarder = Forwarder(timeout)
        self.address = address
        self.port = port
        self._served: dict[str, _Served] = {}

    def upstreams(self) -> list[str]:
        u = self._upstreams
        return list(u() if callable(u) else u)

    def serving(self, container_id: str) -> bool:
        return container_id in self._served

    async def start(self, container_id: str, netns_path: str, forward: bool = True) -> None:
        """Serve `container_id`'s namespace at `netns_path`. `forward=False` (docker's
        internal networks) answers SERVFAIL instead of asking upstream. Starting a
        container that is already served rebinds (a restarted container has a new
        namespace)."""
        if container_id in self._served:
            await self.stop(container_id)
        address, port = self.address, self.port
        udp_sock, tcp_sock = in_netns(netns_path, lambda: bind_dns_sockets(address, port))
        loop = asyncio.get_running_loop()
        try:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UDP(self, container_id, forward), sock=udp_sock)
        except BaseException:
            udp_sock.close()
            tcp_sock.close()
            raise
        try:
            tcp = await asyncio.start_server(
                lambda r, w: self._tcp_client(container_id, forward, r, w), sock=tcp_sock)
        except BaseException:
            udp.close()
            tcp_sock.close()
            raise
        self._served[container_id] = _Served(netns_path, udp, tcp)

    async def stop(self, container_id: str) -> None:
        """Close the container's sockets and drop its in-flight forwards. Unknown
        containers are fine (stop is called on every container exit)."""
        served = self._served.pop(container_id, None)
        self.answerer.forget(container_id)
        if served is None:
            return
        served.udp.close()
        served.tcp.close()
        for task in list(served.tasks):
            task.cancel()
        await served.tcp.wait_closed()

    async def close(self) -> None:
        for cid in list(self._served):
            await self.stop(cid)

    def _spawn(self, cid: str, coro: object) -> None:
        served = self._served.get(cid)
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        if served is not None:
            served.tasks.add(task)
            task.add_done_callback(served.tasks.discard)

    async def _resolve_upstream(self, verdict: Verdict, data: bytes, tcp: bool, forward: bool) -> bytes:
        reply = None
        if forward:
            try:
                reply = await self.forwarder.forward(self.upstreams(), data, tcp)
            except Exception:
                log.exception("dns: forwarding failed")
        if reply is None:
            assert verdict.query is not None
            reply = rcode_reply(verdict.query, RCODE.SERVFAIL)
        return reply

    async def _tcp_client(self, cid: str, forward: bool, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        """Length-prefixed queries, answered in order, until the client closes or idles."""
        served = self._served.get(cid)
        task = asyncio.current_task()
        if served is not None and task is not None:
            served.tasks.add(task)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                    (size,) = struct.unpack("!H", head)
                    data = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    return
                verdict = self.answerer.handle(cid, data, MAX_TCP_SIZE)
                reply = verdict.reply
                if reply is None and verdict.forward:
                    reply = await self._resolve_upstream(verdict, data, True, forward)
                if reply is None:
                    return  # not a query we answer: close, as miekg/dns's TCP server does
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if served is not None and task is not None:
                served.tasks.discard(task)
            writer.close()
