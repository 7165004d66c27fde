"""The userland proxy: docker-proxy's job inside the daemon's event loop.

It serves what the kernel's DNAT cannot (127.0.0.1 without route_localnet,
and a container reaching its own bridge's published port), and holding the
listening socket keeps the host port reserved against other programs.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from berth.errors import System

log = logging.getLogger("berth.network")

UDP_IDLE = 90.0


class _Pipe(asyncio.Protocol):
    def __init__(self, peer: "_Pipe | None" = None) -> None:
        self.peer = peer
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.eof = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        elif peer is not None:
            peer.pending.append(data)

    def eof_received(self):
        peer = self.peer
        if peer is not None and peer.transport is not None and peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True

    def connection_lost(self, exc) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    # backpressure both ways
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Client(_Pipe):
    """The side facing the host's client: connects the backend when accepted."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__()
        self.target = target

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        transport.pause_reading()
        asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        backend = _Pipe(self)
        self.peer = backend
        try:
            await loop.create_connection(lambda: backend, *self.target)
        except OSError:
            if self.transport is not None:
                self.transport.close()
            return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


def _bind(proto: str, host_ip: str, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    if proto == "tcp":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host_ip or "0.0.0.0", port))
    except OSError as e:
        s.close()
        raise System(f"Error starting userland proxy: listen {proto}4 {host_ip or '0.0.0.0'}:{port}: "
                     f"bind: {e.strerror.lower() if e.strerror else e}") from None
    s.setblocking(False)
    return s


class _UDPRelay(asyncio.DatagramProtocol):
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple, tuple[asyncio.DatagramTransport, asyncio.TimerHandle]] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        flow = self.flows.get(addr)
        loop = asyncio.get_running_loop()
        if flow is not None:
            flow[0].sendto(data)
            flow[1].cancel()
            self.flows[addr] = (flow[0], loop.call_later(UDP_IDLE, self._expire, addr))
            return
        asyncio.ensure_future(self._open(addr, data))

    async def _open(self, addr, first: bytes) -> None:
        loop = asyncio.get_running_loop()
        relay = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _src) -> None:
                if relay.transport is not None:
                    relay.transport.sendto(data, addr)

        back, _ = await loop.create_datagram_endpoint(Back, remote_addr=self.target)
        self.flows[addr] = (back, loop.call_later(UDP_IDLE, self._expire, addr))
        back.sendto(first)

    def _expire(self, addr) -> None:
        flow = self.flows.pop(addr, None)
        if flow is not None:
            flow[0].close()

    def close(self) -> None:
        for back, timer in self.flows.values():
            timer.cancel()
            back.close()
        self.flows.clear()
        if self.transport is not None:
            self.transport.close()


class PortProxy:
    """One published port: a bound socket, and (when proxying) a relay to the container."""

    def __init__(self, proto: str, host_ip: str, host_port: int) -> None:
        self.proto = proto
        self.sock = _bind(proto, host_ip, host_port)
        self.server: asyncio.AbstractServer | None = None
        self.udp: _UDPRelay | None = None

    async def serve(self, target: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        if self.proto == "tcp":
            self.server = await loop.create_server(lambda: _Client(target), sock=self.sock, backlog=1024)
        else:
            relay = _UDPRelay(target)
            await loop.create_datagram_endpoint(lambda: relay, sock=self.sock)
            self.udp = relay

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        elif self.udp is not None:
            self.udp.close()
        else:
            self.sock.close()
