"""HTTP/1.1 on the wire for the CLI's Engine API client (cli/client.py): request-target
escaping as Go's net/url, a connection with its read buffer, response framing
(Content-Length, chunked, until close), JSON-lines streams, and the raw stream
that follows a `101 UPGRADED` (attach, exec start).

The unix-socket path uses the `_socket` C module directly: the `socket` module
would import `enum` and `selectors` for nothing we use here.
"""

from __future__ import annotations

import _socket

from . import fastjson as json
from .command import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Iterator

    from .client import APIClient

_READ = 65536
_MAX_HEAD = 1 << 20  # a response head larger than this is not a daemon talking
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
# Go's url.PathEscape keeps these in a path (shouldEscape with encodePath).
_PATH_SAFE = _SAFE | frozenset(b"$&+,/:;=@")
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ProtocolError(CliError):
    """The daemon's answer is not HTTP we can follow."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"error during connect: protocol error from the daemon: {detail}")
        self.detail = detail


def _truncated() -> CliError:
    # What docker's CLI reports when a response body stops short (Go's io.ErrUnexpectedEOF).
    return CliError("unexpected EOF")


def query_escape(text: str) -> str:
    """Go's url.QueryEscape (space becomes "+"), so our queries read like docker's."""
    out = []
    for b in text.encode():
        if b in _SAFE:
            out.append(chr(b))
        elif b == 0x20:
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def path_escape(path: str) -> str:
    """The path as Go's url.URL writes it (EscapedPath): "a b" becomes "a%20b"."""
    raw = path.encode()
    if all(b in _PATH_SAFE for b in raw):
        return path
    return "".join(chr(b) if b in _PATH_SAFE else f"%{b:02X}" for b in raw)


def encode_query(params: dict[str, Any] | None) -> str:
    """url.Values.Encode: keys sorted, repeated keys for list values, None skipped."""
    if not params:
        return ""
    parts = []
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, bool):
                item = "1" if item else "0"
            parts.append(f"{query_escape(key)}={query_escape(str(item))}")
    return "&".join(parts)


# Writes to a daemon that hung up must fail with EPIPE (BrokenPipeError, which we
# handle) rather than raise SIGPIPE, whose default action main() restores for
# stdout's sake. TLS sockets refuse send flags; they get 0.
_NOSIGNAL = getattr(_socket, "MSG_NOSIGNAL", 0)


def _tls_reason(exc: Exception) -> str:
    """An ssl error as one readable line (the alert or verification failure, not the tuple)."""
    verify = getattr(exc, "verify_message", None)
    if verify:
        return f"tls: failed to verify certificate: {verify}"
    reason = getattr(exc, "reason", None) or str(exc)
    return f"tls: {str(reason).lower().replace('_', ' ')}"


class Connection:
    """One socket and the bytes read from it but not consumed yet; reusable for keep-alive."""

    __slots__ = ("sock", "buf", "pos", "head_only", "send_flags")

    def __init__(self, sock: Any, send_flags: int = _NOSIGNAL) -> None:
        self.sock = sock
        self.buf = b""  # received bytes; those before `pos` are consumed
        self.pos = 0
        self.head_only = False  # the request in flight was HEAD: its response has no body
        self.send_flags = send_flags

    def send(self, data: bytes) -> None:
        self.sock.sendall(data, self.send_flags)

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(_READ)
        except ConnectionResetError:
            return b""
        except OSError as exc:
            if type(exc).__name__.startswith("SSL"):  # e.g. the server refused our certificate
                raise CliError(f"error during connect: {_tls_reason(exc)}") from None
            raise

    def _more(self) -> bool:
        """Append one read to the buffer; False at end of stream."""
        data = self._recv()
        if not data:
            return False
        if self.pos >= len(self.buf):
            self.buf = data
        else:
            self.buf = self.buf[self.pos:] + data
        self.pos = 0
        return True

    def read_head(self) -> bytes | None:
        """Bytes up to and including the blank line ending a response head.

        None when the peer closed before sending anything (a stale keep-alive
        connection, or a daemon that hung up on us).
        """
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in b"\r\n":  # stray line ends before a status line
                pos += 1
            self.pos = pos
            crlf = buf.find(b"\n\r\n", pos)
            lf = buf.find(b"\n\n", pos)
            if crlf >= 0 and (lf < 0 or crlf < lf):
                end = crlf + 3
            elif lf >= 0:
                end = lf + 2
            else:
                if len(buf) - pos > _MAX_HEAD:
                    raise ProtocolError("response head too large")
                if not self._more():
                    if len(self.buf) - self.pos == 0 or not self.buf[self.pos:].strip():
                        return None
                    raise ProtocolError("connection closed in the middle of the response head")
                continue
            self.pos = end
            return buf[pos:end]

    def read_line(self) -> bytes:
        """One line of chunked framing, without its line ending."""
        while True:
            buf, pos = self.buf, self.pos
            nl = buf.find(b"\n", pos)
            if nl >= 0:
                self.pos = nl + 1
                return buf[pos:nl - 1] if nl > pos and buf[nl - 1] == 0x0D else buf[pos:nl]
            if len(buf) - pos > 65536:
                raise ProtocolError("chunk header too long")
            if not self._more():
                raise _truncated()

    def take(self, limit: int) -> bytes:
        """Up to `limit` bytes: buffered ones first, else one read. b"" at end of stream."""
        avail = len(self.buf) - self.pos
        if not avail:
            data = self._recv()
            if len(data) <= limit:
                return data
            self.buf, self.pos, avail = data, 0, len(data)
        pos = self.pos
        end = pos + (limit if limit < avail else avail)
        self.pos = end
        return self.buf[pos:end]

    def rest(self) -> bytes:
        """All buffered bytes not consumed yet (handed to a hijacked stream)."""
        data = self.buf[self.pos:]
        self.buf, self.pos = b"", 0
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _parse_head(head: bytes) -> tuple[str, int, str, dict[str, str]]:
    """(version, status, reason, headers with lower-case names) of a response head."""
    lines = head.decode("latin-1").split("\n")
    status_line = lines[0].rstrip("\r")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ProtocolError(f"malformed status line {status_line[:80]!r}")
    headers: dict[str, str] = {}
    last = ""
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t":  # obsolete line folding continues the previous header
            if not last:
                raise ProtocolError("continuation line without a header")
            headers[last] = (headers[last] + " " + line.strip(" \t")).strip(" \t")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        last = name.lower()
        headers[last] = value.strip(" \t")
    return version, int(code), reason.strip(), headers


def _tokens(value: str) -> list[str]:
    return [t.strip().lower() for t in value.split(",") if t.strip()]


class Response:
    """Status and headers of a response whose body is read on demand."""

    def __init__(self, client: APIClient, conn: Connection, version: str, status: int, reason: str,
                 headers: dict[str, str], keep_alive: bool = True) -> None:
        self._client = client
        self._conn: Connection | None = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self._done = False
        # Framing of the body: a length (0 for none), "chunked" or "close" (until EOF).
        self._length = 0
        self._mode = "length"
        te = headers.get("transfer-encoding")
        if conn.head_only or status < 200 or status in (204, 304):
            pass
        elif te is not None:
            self._mode = "chunked" if _tokens(te)[-1:] == ["chunked"] else "close"
        elif "content-length" in headers:
            text = headers["content-length"]
            values = {v.strip() for v in text.split(",")}
            if len(values) != 1 or not (text.isascii() and next(iter(values)).isdigit()):
                raise ProtocolError(f"bad Content-Length {text!r}")
            self._length = int(values.pop())
        else:
            self._mode = "close"
        self._keep = (keep_alive and version == "HTTP/1.1" and self._mode != "close"
                      and "close" not in _tokens(headers.get("connection", "")))

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def iter_raw(self) -> Iterator[bytes]:
        """Body bytes as they arrive (chunked framing already removed)."""
        conn = self._conn
        if conn is None or self._done:
            return
        try:
            mode = self._mode
            if mode == "length":
                remaining = self._length
                while remaining > 0:
                    data = conn.take(remaining)
                    if not data:
                        raise _truncated()
                    remaining -= len(data)
                    yield data
            elif mode == "chunked":
                yield from self._iter_chunked(conn)
            else:
                while True:
                    data = conn.take(_READ)
                    if not data:
                        break
                    yield data
            self._done = True
        finally:
            self._release()

    @staticmethod
    def _iter_chunked(conn: Connection) -> Iterator[bytes]:
        while True:
            line = conn.read_line()
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not size_text or not all(b in _HEX for b in size_text):
                raise ProtocolError(f"bad chunk header {bytes(line[:40])!r}")
            size = int(size_text, 16)
            if size == 0:
                while conn.read_line().strip(b" \t"):  # trailers, up to the blank line
                    pass
                return
            while size > 0:
                data = conn.take(size)
                if not data:
                    raise _truncated()
                size -= len(data)
                yield data
            if conn.read_line():
                raise ProtocolError("chunk data longer than its header said")

    def read(self) -> bytes:
        if self._mode == "length" and self._conn is not None and not self._done:
            chunks = list(self.iter_raw())
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return b"".join(self.iter_raw())

    def json(self) -> Any:
        data = self.read()
        if not data.strip():
            return None
        return json.loads(data)

    def iter_json(self) -> Iterator[Any]:
        """A stream of JSON values one after another (progress streams, events, wait)."""
        buf = ""
        pending = b""
        for chunk in self.iter_raw():
            pending += chunk
            try:
                buf += pending.decode()
                pending = b""
            except UnicodeDecodeError:
                continue
            while True:
                stripped = buf.lstrip()
                if not stripped:
                    buf = ""
                    break
                try:
                    value, end = json.raw_decode(stripped)
                except ValueError:
                    buf = stripped
                    break
                yield value
                buf = stripped[end:]
        tail = (buf + pending.decode(errors="replace")).strip()
        if tail:
            yield json.loads(tail)

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._done and self._keep:
                self._client._checkin(conn)
            else:
                conn.close()

    def close(self) -> None:
        self._release()


class Hijacked:
    """The raw, bidirectional stream after `101 UPGRADED` (attach, exec start).

    `pending` holds bytes that came in the same read as the 101 response; they
    are the first bytes of the stream and must not be lost.
    """

    def __init__(self, sock: Any, pending: bytes = b"",
                 body: Iterator[bytes] | None = None, send_flags: int = _NOSIGNAL) -> None:
        self.sock = sock
        self.pending = pending
        self._body = body
        self._send_flags = send_flags

    def recv(self, n: int = _READ) -> bytes:
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            return data
        if self._body is not None:
            return next(self._body, b"")
        assert self.sock is not None
        try:
            return self.sock.recv(n)
        except ConnectionResetError:
            return b""

    def fileno(self) -> int:
        return self.sock.fileno() if self.sock is not None else -1

    def sendall(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.sendall(data, self._send_flags)

    def close_write(self) -> None:
        """Half-close: tell the container its stdin ended while output keeps flowing."""
        if self.sock is None:
            return
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


class _Upgraded(Response):
    """The 101 answer to an upgrade request: hand over the socket and leftover bytes."""

    def hijacked(self) -> Hijacked:
        conn, self._conn = self._conn, None
        assert conn is not None
        # Whatever was read past the 101's head is the start of the raw stream.
        return Hijacked(conn.sock, conn.rest(), send_flags=conn.send_flags)

    def iter_raw(self) -> Iterator[bytes]:
        # A 101 has no body; its connection belongs to whoever hijacks it.
        return iter(())


def copy_file_chunks(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """Read a file or pipe in chunks for a streamed (chunked) upload."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            break
        yield chunk
