"""Forwarding queries the embedded DNS does not own to the host's resolvers.

Forwarded queries leave from the daemon's own network namespace (the sockets
here are created on the event loop's thread, which never changes namespace),
so resolvers that only the host can reach (127.0.0.53 and the like) work. As
docker's resolver does, at most three upstreams are tried in order, each with
its own timeout; SERVFAIL and REFUSED move on to the next one; when none
answers the caller replies SERVFAIL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct

MAX_UPSTREAMS = 3
DEFAULT_TIMEOUT = 4.0  # docker's extIOTimeout
MAX_CONCURRENT = 1024  # docker's maxConcurrent
DOCKER_DEFAULT_DNS = ["8.8.8.8", "8.8.4.4"]

_RETRY_RCODES = (2, 5)  # SERVFAIL, REFUSED


def host_nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    """The `nameserver` lines of the host's resolv.conf (captured at daemon start);
    docker's fallback (Google's resolvers) when there are none."""
    servers: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 2 and fields[0] == "nameserver":
                    addr = fields[1].split("%", 1)[0]
                    try:
                        ipaddress.ip_address(addr)
                    except ValueError:
                        continue
                    servers.append(fields[1])
    except OSError:
        pass
    return servers or list(DOCKER_DEFAULT_DNS)


def parse_upstream(text: str) -> tuple[str, int, int]:
    """"1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" → (host, port, family)."""
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p)
    addr = ipaddress.ip_address(host.split("%", 1)[0])
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    return host, port, family


class Forwarder:
    """Sends one query to the upstreams in turn; returns the first usable reply."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, max_concurrent: int = MAX_CONCURRENT) -> None:
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_concurrent)

    async def forward(self, upstreams: list[str], data: bytes, tcp: bool) -> bytes | None:
        """The upstream's reply (verbatim), or None when every upstream failed."""
        qid = data[:2]
        for text in upstreams[:MAX_UPSTREAMS]:
            try:
                target = parse_upstream(text)
            except ValueError:
                continue
            try:
                await asyncio.wait_for(self._slots.acquire(), self.timeout)
            except asyncio.TimeoutError:
                return _refused(data)
            try:
                reply = await asyncio.wait_for(
                    (_ask_tcp if tcp else _ask_udp)(target, data), self.timeout)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, EOFError):
                continue
            finally:
                self._slots.release()
            if len(reply) < 12 or reply[:2] != qid or not reply[2] & 0x80:
                continue
            if reply[3] & 0x0F in _RETRY_RCODES:
                continue
            return reply
        return None


def _refused(data: bytes) -> bytes:
    qid, flags = struct.unpack_from("!HH", data)
    return struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x7900) | 5, 0, 0, 0, 0)


async def _ask_udp(target: tuple[str, int, int], data: bytes) -> bytes:
    host, port, family = target
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, data)
        while True:
            reply = await loop.sock_recv(sock, 65535)
            if reply[:2] == data[:2]:  # a stray old datagram with another id: keep waiting
                return reply
    finally:
        sock.close()


async def _ask_tcp(target: tuple[str, int, int], data: bytes) -> bytes:
    host, port, _ = target
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        (size,) = struct.unpack("!H", await reader.readexactly(2))
        return await reader.readexactly(size)
    finally:
        writer.close()
