"""docker's multiplexed stdio framing ("stdcopy") for non-TTY streams.

Each frame is an 8-byte header -- stream byte (0 stdin, 1 stdout, 2 stderr,
3 error text from the daemon), three zero bytes, big-endian uint32 payload
length -- then the payload.  Clients (docker CLI, docker-py) only concatenate
payloads per stream, so the sender is free to choose frame sizes; frames are
kept at or under 1 MiB so no client has to buffer more than that per frame.
"""

from __future__ import annotations

import struct

__all__ = ["MAX_FRAME", "FrameDecoder", "FrameError", "frame", "header"]

MAX_FRAME = 1 << 20
_HEADER = struct.Struct(">BxxxI")
_STREAMS = (0, 1, 2, 3)


class FrameError(ValueError):
    """The byte stream is not valid stdcopy framing."""


def header(stream: int, length: int) -> bytes:
    """The header alone, for writers that send header and payload separately
    (e.g. `transport.writelines`) to avoid copying a large payload."""
    if stream not in _STREAMS:
        raise ValueError(f"invalid stream {stream}")
    return _HEADER.pack(stream, length)


def frame(stream: int, payload: bytes) -> bytes:
    """Frame `payload` for `stream`, as several frames if above 1 MiB.

    An empty payload yields no frame: docker never sends empty frames and
    some clients read a zero length as end of stream.
    """
    n = len(payload)
    if n <= MAX_FRAME:
        return header(stream, n) + payload if n else b""
    view = memoryview(payload)
    parts = []
    for start in range(0, n, MAX_FRAME):
        chunk = view[start : start + MAX_FRAME]
        parts.append(header(stream, len(chunk)))
        parts.append(chunk)
    return b"".join(parts)


class FrameDecoder:
    """Incremental decoder: feed arbitrary chunks, get whole (stream, payload)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        end = len(buf)
        while end - pos >= 8:
            stream, length = _HEADER.unpack_from(buf, pos)
            if stream not in _STREAMS or buf[pos + 1 : pos + 4] != b"\0\0\0":
                raise FrameError(f"Unrecognized input header: {buf[pos]}")
            if end - pos - 8 < length:
                break
            out.append((stream, bytes(buf[pos + 8 : pos + 8 + length])))
            pos += 8 + length
        if pos:
            del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def close(self) -> None:
        """End of input: a frame cut short means the stream was truncated."""
        if self._buf:
            raise FrameError(f"stream ended inside a frame ({len(self._buf)} bytes left)")
