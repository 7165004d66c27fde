"""Taking over a connection after `101 UPGRADED`, as docker's attach does.

The aiohttp protocol is swapped for a raw one (not aiohttp's websocket
parser, which drops the connection on the client's half-close), so that a
client can close its write side (stdin EOF) and still read all the output.
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class RawStream(asyncio.Protocol):
    def __init__(self, transport: asyncio.Transport, initial: bytes) -> None:
        self.transport = transport
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        if initial:
            self.incoming.put_nowait(initial)
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.closed = False

    # asyncio.Protocol
    def data_received(self, data: bytes) -> None:
        self.incoming.put_nowait(data)

    def eof_received(self) -> bool:
        self.incoming.put_nowait(b"")   # half-close: the client is done sending
        return True                     # keep our side open for the rest of the output

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.incoming.put_nowait(None)
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # ours
    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("client went away")
        self.transport.write(data)
        await self._can_write.wait()

    def close(self) -> None:
        if not self.closed:
            self.transport.close()


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
    return resp, raw
