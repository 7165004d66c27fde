"""Taking over a connection after `101 UPGRADED`, as docker's attach does.

The aiohttp protocol is swapped for a raw one (not aiohttp's websocket
parser, which drops the connection on the client's half-close), so that a
client can close its write side (stdin EOF) and still read all the output.

Output can go two ways: `await write()` (one chunk at a time, for producers
that are coroutines) or `write_nowait()` from another protocol's
`data_received`, with `on_pause`/`on_resume` passing the client's
backpressure upstream; the second adds neither a copy nor a task switch per
chunk, which is what keeps an attach stream at hundreds of MB/s.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Callable

from aiohttp import web

# Bytes the kernel would not take yet, kept per connection before the producer is paused.
WRITE_HIGH_WATER = 1 << 20
SOCKET_SNDBUF = 1 << 20
# Client chunks queued (for consumers that use read()) before the client is paused.
READ_HIGH_WATER = 64


class RawStream(asyncio.Protocol):
    def __init__(self, transport: asyncio.Transport, initial: bytes) -> None:
        self.transport = transport
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        if initial:
            self.incoming.put_nowait(initial)
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.closed = False
        self.lost = asyncio.get_running_loop().create_future()
        self.on_pause: Callable[[], None] | None = None
        self.on_resume: Callable[[], None] | None = None
        self._flow = False          # set once the consumer reads through read()
        self._reading_paused = False

    # asyncio.Protocol
    def data_received(self, data: bytes) -> None:
        self.incoming.put_nowait(data)
        if self._flow and not self._reading_paused and self.incoming.qsize() >= READ_HIGH_WATER:
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.incoming.put_nowait(b"")   # half-close: the client is done sending
        return True                     # keep our side open for the rest of the output

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.incoming.put_nowait(None)
        self._can_write.set()
        if not self.lost.done():
            self.lost.set_result(None)
        if self.on_resume is not None:
            self.on_resume()  # let a paused producer notice the end

    def pause_writing(self) -> None:
        self._can_write.clear()
        if self.on_pause is not None:
            self.on_pause()

    def resume_writing(self) -> None:
        self._can_write.set()
        if self.on_resume is not None:
            self.on_resume()

    # ours
    async def read(self) -> bytes | None:
        """The client's next bytes: b"" once it half-closed, None once it is gone.
        While the consumer is slow, the client is not read (its sends block)."""
        self._flow = True
        data = await self.incoming.get()
        if self._reading_paused and self.incoming.qsize() < READ_HIGH_WATER // 2 and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("client went away")
        self.transport.write(data)
        if not self._can_write.is_set():
            await self._can_write.wait()

    def write_nowait(self, data: bytes) -> None:
        """For producers driven by callbacks; they honour on_pause/on_resume."""
        if not self.closed:
            self.transport.write(data)

    @property
    def writing_paused(self) -> bool:
        return not self._can_write.is_set()

    def close(self) -> None:
        """End the stream once what is buffered has been sent."""
        if not self.closed:
            self.transport.close()

    def abort(self) -> None:
        if not self.closed:
            self.transport.abort()


class DetachScanner:
    """docker's escape proxy on the daemon side: bytes that may begin the
    detach sequence are held back until it completes (the client detaches;
    the held bytes are never delivered) or breaks (they pass through)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = 0   # how many bytes of the sequence have been matched

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to pass on, and whether the sequence completed."""
        keys = self.keys
        if not self.held and keys[0] not in data:
            return data, False
        out = bytearray()
        for byte in data:
            if byte == keys[self.held]:
                self.held += 1
                if self.held == len(keys):
                    self.held = 0
                    return bytes(out), True
                continue
            if self.held:
                out += keys[:self.held]
                self.held = 0
                if byte == keys[0]:
                    self.held = 1
                    if len(keys) == 1:
                        return bytes(out), True
                    continue
            out.append(byte)
        return bytes(out), False


def wants_upgrade(request: web.Request) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower()


async def hijack(request: web.Request, content_type: str) -> tuple[web.StreamResponse, RawStream]:
    """Answer 101 and take the raw connection (callers check wants_upgrade first)."""
    resp = web.StreamResponse(status=101, reason="UPGRADED",
                              headers={"Content-Type": content_type, "Connection": "Upgrade",
                                       "Upgrade": "tcp"})
    await resp.prepare(request)
    transport = request.transport
    assert transport is not None
    protocol = request.protocol
    tail = getattr(protocol, "_message_tail", b"") or b""
    if tail:
        protocol._message_tail = b""  # type: ignore[attr-defined]
    raw = RawStream(transport, tail)
    transport.set_protocol(raw)
    transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SNDBUF)
        except OSError:
            pass
    return resp, raw
