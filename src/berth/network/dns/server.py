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

from dnslib import QTYPE, RCODE

from .answer import MAX_TCP_SIZE, Answerer, NameResolver, Verdict, header_only, rcode_reply
from .forward import DEFAULT_TIMEOUT, Forwarder
from .netns import bind_dns_sockets, in_netns_async, open_dns_sockets

log = logging.getLogger("berth.dns")

DNS_ADDRESS = "127.0.0.11"
TCP_IDLE_TIMEOUT = 10.0

Upstreams = Union[Callable[[], list[str]], list[str]]


@dataclass
class Policy:
    """How one container's unknown names are handled.

    forward: ask upstream at all (False on docker's internal networks: SERVFAIL);
    upstreams: the container's own --dns servers, else the daemon's host resolvers;
    ndots_set: the user set `ndots` (--dns-option), so single-label names that are
    not containers get an empty answer instead of going upstream (docker's rule).
    """

    forward: bool = True
    upstreams: list[str] | None = None
    ndots_set: bool = False


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: EmbeddedDNS, cid: str, policy: Policy) -> None:
        self.server = server
        self.cid = cid
        self.policy = policy
        self.transport: asyncio.DatagramTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            verdict = self.server.answerer.handle(self.cid, data)
        except Exception:  # never let one packet take the server down
            log.exception("dns: failed to handle a query")
            return
        if verdict.reply is not None:
            self.transport.sendto(verdict.reply, addr)  # type: ignore[union-attr]
        elif verdict.forward:
            self.server._spawn(self.cid, self._forward(verdict, data, addr))

    async def _forward(self, verdict: Verdict, data: bytes, addr: tuple) -> None:
        reply = await self.server._resolve_upstream(verdict, data, False, self.policy)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors about a client: ignore
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass
class _Served:
    netns_path: str
    udp: asyncio.DatagramTransport
    udp_protocol: _UDP
    tcp: asyncio.AbstractServer
    redirected: bool = False  # random ports behind the container's NAT rule
    tasks: set[asyncio.Task] = field(default_factory=set)


class EmbeddedDNS:
    """docker's embedded DNS for Berth's containers.

    `upstreams` is the list of host resolvers ("ip" or "ip:port"), or a callable
    returning it at query time (the daemon captures /etc/resolv.conf at start).
    """

    def __init__(self, resolver: NameResolver, upstreams: Upstreams,
                 timeout: float = DEFAULT_TIMEOUT, address: str = DNS_ADDRESS, port: int = 53,
                 redirect: bool = True) -> None:
        self.answerer = Answerer(resolver)
        self.redirect = redirect  # random ports behind NAT, port 53 left to the container (netns.py)
        self._upstreams = upstreams
        self.forwarder = Forwarder(timeout)
        self.address = address
        self.port = port
        self._served: dict[str, _Served] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, container_id: str) -> asyncio.Lock:
        lock = self._locks.get(container_id)
        if lock is None:
            lock = self._locks[container_id] = asyncio.Lock()
        return lock

    def upstreams(self) -> list[str]:
        u = self._upstreams
        return list(u() if callable(u) else u)

    def serving(self, container_id: str) -> bool:
        return container_id in self._served

    def redirected(self, container_id: str) -> bool:
        """True when the container's port 53 is left free (NAT to our random ports)."""
        served = self._served.get(container_id)
        return served is not None and served.redirected

    async def start(self, container_id: str, netns_path: str, forward: bool = True,
                    upstreams: list[str] | None = None, ndots_set: bool = False) -> None:
        """Serve `container_id`'s namespace at `netns_path`. `forward=False` (docker's
        internal networks) answers SERVFAIL instead of asking upstream; `upstreams`
        (the container's --dns) replaces the host's resolvers; see Policy. Starting a
        container that is already served rebinds (a restarted container has a new
        namespace). Calls for one container run one at a time."""
        async with self._lock(container_id):
            await self._start(container_id, netns_path,
                              Policy(forward, list(upstreams) if upstreams else None, ndots_set))

    async def _start(self, container_id: str, netns_path: str, policy: Policy) -> None:
        if container_id in self._served:
            await self._stop(container_id)
        address, port = self.address, self.port
        redirected = False
        if port == 53 and self.redirect:
            udp_sock, tcp_sock, redirected = await in_netns_async(netns_path, lambda: open_dns_sockets(address))
        else:
            udp_sock, tcp_sock = await in_netns_async(netns_path, lambda: bind_dns_sockets(address, port))
        loop = asyncio.get_running_loop()
        try:
            udp, udp_protocol = await loop.create_datagram_endpoint(
                lambda: _UDP(self, container_id, policy), sock=udp_sock)
        except BaseException:
            udp_sock.close()
            tcp_sock.close()
            raise
        try:
            tcp = await asyncio.start_server(
                lambda r, w: self._tcp_client(container_id, policy, r, w), sock=tcp_sock)
        except BaseException:
            udp.close()
            tcp_sock.close()
            raise
        self._served[container_id] = _Served(netns_path, udp, udp_protocol, tcp, redirected)

    async def stop(self, container_id: str) -> None:
        """Close the container's sockets and drop its in-flight forwards. Unknown
        containers are fine (stop is called on every container exit)."""
        async with self._lock(container_id):
            await self._stop(container_id)
        lock = self._locks.get(container_id)
        if lock is not None and container_id not in self._served and not lock.locked() \
                and not getattr(lock, "_waiters", None):
            del self._locks[container_id]  # nobody waits on it: forget the id

    async def _stop(self, container_id: str) -> None:
        served = self._served.pop(container_id, None)
        self.answerer.forget(container_id)
        if served is None:
            return
        served.udp.close()
        served.tcp.close()
        for task in list(served.tasks):
            task.cancel()
        await served.tcp.wait_closed()
        # the socket is closed on the next loop turn: wait for it, so a query sent after
        # stop() returns is refused rather than queued on a socket about to vanish
        await asyncio.wait_for(asyncio.shield(served.udp_protocol.closed), 5)

    async def close(self) -> None:
        for cid in list(self._served):
            await self.stop(cid)

    def _spawn(self, cid: str, coro: object) -> None:
        served = self._served.get(cid)
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        if served is not None:
            served.tasks.add(task)
            task.add_done_callback(served.tasks.discard)

    async def _resolve_upstream(self, verdict: Verdict, data: bytes, tcp: bool, policy: Policy) -> bytes:
        try:
            query = verdict.query
        except Exception:  # taken by the fast path, refused by dnslib
            query = None
        if query is None:
            return header_only(data, RCODE.FORMERR)
        if policy.ndots_set and query.q.qtype in (QTYPE.A, QTYPE.AAAA) and "." not in str(query.q.qname).rstrip("."):
            return rcode_reply(query, RCODE.NOERROR, ra=True)
        reply = None
        if policy.forward:
            try:
                reply = await self.forwarder.forward(policy.upstreams or self.upstreams(), data, tcp)
            except Exception:
                log.exception("dns: forwarding failed")
        if reply is None:
            reply = rcode_reply(query, RCODE.SERVFAIL)
        return reply

    async def _tcp_client(self, cid: str, policy: Policy, reader: asyncio.StreamReader,
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
                    reply = await self._resolve_upstream(verdict, data, True, policy)
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
