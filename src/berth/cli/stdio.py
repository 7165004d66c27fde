"""Moving container stdio between our terminal and the daemon.

Two stream shapes exist on the wire (the Engine API's docs call them "stream
formats"): without a TTY, stdout and stderr are multiplexed into frames with an
8-byte header (stream id, three zero bytes, big-endian uint32 length); with a
TTY the stream is raw bytes. `Demuxer` splits frames incrementally because a
frame can arrive cut at any byte. `pump` copies stdin to the hijacked socket and
output to our stdout/stderr until the container's output ends, the way
docker's hijackedIOStreamer does, with one thread (poll) and no asyncio.
"""

from __future__ import annotations

import posix

from .command import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

STDIN, STDOUT, STDERR, SYSERR = 0, 1, 2, 3
DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q


class StreamError(CliError):
    """The multiplexed stream carried something we cannot interpret."""


class Demuxer:
    """Incremental parser for the multiplexed stdout/stderr stream."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add bytes; return the complete (stream, payload) frames now available."""
        return self._parse(data, False)

    def feed_runs(self, data: bytes) -> list[tuple[int, bytes]]:
        """Like feed, with consecutive frames of one stream joined into one payload
        (one write per run instead of one per frame: `logs` of short lines)."""
        return self._parse(data, True)

    def _parse(self, data: bytes, merge: bool) -> list[tuple[int, bytes]]:
        buf: Any = self._buf
        if buf:
            buf += data
        else:
            buf = data  # the usual case: no partial frame left over, parse in place
        out: list[tuple[int, bytes]] = []
        parts: list[bytes] = []
        current = -1
        pos = 0
        n = len(buf)
        from_bytes = int.from_bytes
        while n - pos >= 8:
            # >BxxxI, decoded by hand (`struct` is one more extension module to load)
            stream = buf[pos]
            if stream > SYSERR:
                raise StreamError(f"Unrecognized input header: {stream}")
            end = pos + 8 + from_bytes(buf[pos + 4:pos + 8], "big")
            if end > n:
                break
            if not merge:
                out.append((stream, bytes(buf[pos + 8:end])))
            else:
                if stream != current:
                    if parts:
                        out.append((current, b"".join(parts)))
                    current, parts = stream, []
                parts.append(buf[pos + 8:end])
            pos = end
        if parts:
            out.append((current, b"".join(parts)))
        if buf is self._buf:
            if pos:
                del buf[:pos]
        elif pos < n:
            self._buf = bytearray(buf[pos:])
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buf)


def frame(stream: int, payload: bytes) -> bytes:
    """Encode one frame (used by tests and fakes)."""
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


class OutputSink:
    """Where container output goes: raw for a TTY, demultiplexed otherwise."""

    def __init__(self, out: Any, err: Any, tty: bool) -> None:
        self.out = out
        self.err = err
        self.tty = tty
        self.demux = None if tty else Demuxer()

    def write(self, data: bytes) -> None:
        if self.demux is None:
            if self.out is not None:
                _write(self.out, data)
            return
        for stream, payload in self.demux.feed_runs(data):
            if stream == SYSERR:
                raise StreamError(payload.decode(errors="replace"))
            target = self.err if stream == STDERR else self.out
            if target is not None:
                _write(target, payload)


def _write(stream: Any, data: bytes) -> None:
    if isinstance(stream, int):
        view = memoryview(data)
        while view:
            written = posix.write(stream, view)
            view = view[written:]
        return
    stream.write(data)
    stream.flush()


class EscapeDetector:
    """Spots the detach sequence in typed input, like moby/term's EscapeProxy.

    Bytes that might start the sequence are held back; if the next byte does not
    continue it they are released, so ordinary typing is never delayed or lost.
    """

    def __init__(self, keys: bytes = DEFAULT_DETACH_KEYS) -> None:
        self.keys = keys
        self._held = bytearray()

    def filter(self, data: bytes) -> tuple[bytes, bool]:
        """Return (bytes to forward, whether the detach sequence completed).

        Bytes typed before the sequence are still forwarded; the sequence
        itself never is.
        """
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            held = self._held
            if b == self.keys[len(held)]:
                held.append(b)
                if len(held) == len(self.keys):
                    self._held = bytearray()
                    return bytes(out), True
                continue
            if held:
                out += held
                self._held = bytearray()
                if b == self.keys[0]:
                    self._held.append(b)
                    continue
            out.append(b)
        return bytes(out), False


def parse_detach_keys(text: str) -> bytes:
    """docker's term.ToBytes: "ctrl-p,ctrl-q", "a", "ctrl-@", "ctrl-[" ... to bytes."""
    out = bytearray()
    for part in text.split(","):
        key = part.strip()
        if len(key) > 1 and not key.lower().startswith("ctrl-"):
            raise ValueError(f"Unknown character: '{key}'")
        if len(key) == 1:
            out.append(ord(key))
            continue
        code = key[5:].lower() if key.lower().startswith("ctrl-") else ""
        if len(code) != 1:
            raise ValueError(f"Unknown character: '{key}'")
        c = code
        if "a" <= c <= "z":
            out.append(ord(c) - ord("a") + 1)
        elif c == "@":
            out.append(0)
        elif c in "[\\]^_":
            out.append(0x1B + "[\\]^_".index(c))
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


def pump(
    hijacked: Any,
    sink: OutputSink | None,
    stdin_fd: int | None,
    escape: EscapeDetector | None = None,
    on_output_end: Callable[[], None] | None = None,
) -> str:
    """Copy until the container's output ends.

    Returns "eof" when output ended, "detached" when the user typed the detach
    keys, "stdin" when there is no output to wait for and stdin ended.
    stdin EOF half-closes the socket (the container sees EOF on its stdin) but
    keeps reading output, as docker does.
    """
    if hijacked.pending and sink is not None:
        data, hijacked.pending = hijacked.pending, b""
        sink.write(data)
    if hijacked.sock is None:
        # A non-upgraded (plain body) stream: output only.
        while True:
            data = hijacked.recv()
            if not data:
                break
            if sink is not None:
                sink.write(data)
        if on_output_end:
            on_output_end()
        return "eof"

    if stdin_fd is None and sink is not None:
        # Output only (no -i): nothing to multiplex, just read until the stream ends.
        sock = hijacked.sock
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                if on_output_end:
                    on_output_end()
                return "eof"
            sink.write(data)

    import select  # the C module; `selectors` would add ~2 ms of imports to every `run`

    poller = select.poll()
    readable = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
    sock_fd = hijacked.fileno()
    if sink is not None:
        poller.register(sock_fd, readable)
    if stdin_fd is not None:
        if stdin_fd < 0 or stdin_fd == sock_fd:
            stdin_fd = None
        else:
            poller.register(stdin_fd, readable)
    if stdin_fd is None and sink is None:
        return "stdin"
    while True:
        for fd, _events in poller.poll():
            if fd == sock_fd:
                try:
                    data = hijacked.sock.recv(65536)
                except (ConnectionResetError, OSError):
                    data = b""
                if not data:
                    if on_output_end:
                        on_output_end()
                    return "eof"
                sink.write(data)  # type: ignore[union-attr]
                continue
            try:
                data = posix.read(fd, 32768)
            except OSError:
                data = b""
            if data and escape is not None:
                data, detached = escape.filter(data)
                if detached:
                    if data:
                        try:
                            hijacked.sendall(data)
                        except OSError:
                            pass
                    return "detached"
                if not data:
                    continue
            if data:
                try:
                    hijacked.sendall(data)
                    continue
                except OSError:
                    poller.unregister(fd)
                    if sink is None:
                        return "stdin"
                    continue
            poller.unregister(fd)
            hijacked.close_write()
            if sink is None:
                return "stdin"
