"""A small, synchronous Engine API client: its own HTTP/1.1 over a unix socket or TCP.

Why our own HTTP code: start-up time matters (`berth ps` and `berth run` as a
whole must stay fast, and importing an HTTP library costs more than the whole
request), and the attach/exec upgrade needs control over the raw socket,
including the bytes that arrive in the same read as the `101` response, which
several HTTP clients silently drop. What the Engine API needs of HTTP/1.1 is
small: a request line and headers, bodies with Content-Length or chunked
uploads, responses framed by Content-Length, chunked encoding or the end of the
connection, streamed as they arrive, keep-alive reuse, and the 101 hijack.

The unix-socket path uses the `_socket` C module directly: the `socket` module
would import `enum` and `selectors` (several milliseconds) for nothing we use.
TCP and TLS, rarer, take the full `socket` module.

Version negotiation follows docker: ping once, then prefix paths with
`/v<min(server, 1.45)>`.
"""

from __future__ import annotations

import _socket

from . import fastjson as json
from .command import PROG, APIError, CliError, ConnectError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Iterable, Iterator

CLIENT_API_VERSION = "1.45"
FALLBACK_API_VERSION = "1.24"
USER_AGENT = "Berth-Client/0.1.0 (linux)"
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


def _version_tuple(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return (0,)


class Host:
    """A parsed daemon address (unix://PATH, tcp://HOST:PORT, http://HOST:PORT)."""

    def __init__(self, spec: str, tls: bool = False) -> None:
        self.spec = spec
        if spec.startswith("unix://"):
            self.family = _socket.AF_UNIX
            self.path = spec[len("unix://"):] or "/run/berth/berth.sock"
            self.header_host = "api.moby.localhost"
            self.address: Any = self.path
        elif spec.startswith(("tcp://", "http://", "https://")):
            rest = spec.split("://", 1)[1].rstrip("/")
            rest = rest.split("/", 1)[0]
            default_port = 2376 if tls or spec.startswith("https://") else 2375
            if rest.startswith("["):
                h, _, p = rest[1:].partition("]")
                p = p.lstrip(":")
            elif rest.count(":") == 1:
                h, _, p = rest.partition(":")
            else:
                h, p = rest, ""
            self.family = _socket.AF_INET6 if ":" in h else _socket.AF_INET
            port = int(p) if p else default_port
            self.address = (h or "127.0.0.1", port)
            self.header_host = f"{h}:{port}" if h else f"127.0.0.1:{port}"
        elif spec.startswith("ssh://"):
            self.family = None  # dialled through an ssh process (cli/sshdial.py)
            self.address = spec
            self.header_host = "api.moby.localhost"
        elif "://" in spec:
            raise CliError(f"unable to parse berth host `{spec}`: only unix://, tcp:// and ssh:// are supported")
        else:
            # Like docker, a bare "host[:port]" means TCP.
            parsed = Host("tcp://" + spec, tls)
            self.__dict__.update(parsed.__dict__)


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


class APIClient:
    """Engine API calls over one keep-alive connection (plus extra ones for streams)."""

    def __init__(self, host: str, tls: dict[str, Any] | None = None, version: str | None = None) -> None:
        self.host = Host(host, tls=bool(tls))
        self.host_spec = self.host.spec
        self.tls = tls
        self._idle: list[Connection] = []
        from .command import getenv

        env_version = getenv("DOCKER_API_VERSION") or getenv("BERTH_API_VERSION")
        self.version: str | None = version or env_version or None
        self.server_version: str | None = None
        self.os_type = ""

    # -- connections -------------------------------------------------------------
    def _dial(self) -> Any:
        host = self.host
        if host.family is None:
            from .sshdial import dial

            return dial(host.spec)
        try:
            if host.family == _socket.AF_UNIX:
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                try:
                    sock.connect(host.address)
                except BaseException:
                    sock.close()
                    raise
            else:
                import socket

                sock = socket.create_connection(host.address)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except _socket.gaierror:
            raise CliError(
                f"error during connect: dial tcp: lookup {host.address[0]}: no such host"
            ) from None
        except PermissionError:
            raise CliError(
                f"permission denied while trying to connect to the {PROG.capitalize()} daemon socket at "
                f"{self.host_spec}: connect: permission denied"
            ) from None
        except OSError:
            raise ConnectError(self.host_spec) from None
        if self.tls:
            import signal
            import ssl

            # TLS sockets cannot send with MSG_NOSIGNAL: a daemon that drops us
            # must give EPIPE, not kill us with SIGPIPE.
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            try:
                sock = self._wrap_tls(sock)
            except ssl.SSLError as exc:
                sock.close()
                raise CliError(f"error during connect: {_tls_reason(exc)}") from None
            except OSError as exc:
                sock.close()
                raise CliError(f"could not read TLS files: {exc.strerror}: {exc.filename}") from None
        return sock

    def _wrap_tls(self, sock: Any) -> Any:
        import ssl

        opts = self.tls or {}
        ctx = ssl.create_default_context(cafile=opts.get("ca") or None)
        if not opts.get("verify"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if opts.get("cert") and opts.get("key"):
            ctx.load_cert_chain(opts["cert"], opts["key"])
        return ctx.wrap_socket(sock, server_hostname=self.host.address[0])

    def _connect(self) -> Connection:
        return Connection(self._dial(), 0 if self.tls else _NOSIGNAL)

    def _checkout(self) -> Connection:
        if self._idle:
            return self._idle.pop()
        return self._connect()

    def _checkin(self, conn: Connection) -> None:
        if len(self._idle) < 2:
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    # -- version negotiation -----------------------------------------------------
    def negotiate(self) -> str:
        """HEAD /_ping (GET if HEAD is refused) and pick min(server, ours)."""
        if self.version:
            return self.version
        resp = self._raw("HEAD", "/_ping")
        resp.read()
        if resp.status >= 400:
            resp = self._raw("GET", "/_ping")
            resp.read()
        server = resp.header("api-version")
        self.os_type = resp.header("ostype")
        self.server_version = server or None
        if server and _version_tuple(server) < _version_tuple(CLIENT_API_VERSION):
            self.version = server
        elif server:
            self.version = CLIENT_API_VERSION
        else:
            self.version = FALLBACK_API_VERSION
        return self.version

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        version = self.negotiate()
        query = encode_query(params)
        return f"/v{version}{path_escape(path)}" + (f"?{query}" if query else "")

    # -- requests ------------------------------------------------------------------
    def _raw(
        self,
        method: str,
        target: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: list[tuple[str, str]] | None = None,
        fresh: bool = False,
    ) -> Response:
        """Send one request and return once the response headers are in."""
        for attempt in (0, 1):
            reused = bool(self._idle) and not fresh
            conn = self._checkout() if not fresh else self._connect()
            try:
                self._send_request(conn, method, target, body, headers)
                return self._receive(conn)
            except (BrokenPipeError, ConnectionResetError):
                failure = getattr(conn.sock, "failure", None)
                why = failure() if failure is not None else None  # the ssh process's exit and stderr
                conn.close()
                if why:
                    raise CliError(why) from None
                # A kept-alive connection the server had already closed (nothing was
                # answered): retry once on a new connection.
                if attempt or not reused or (body is not None and not isinstance(body, bytes)):
                    if self.tls and not reused:
                        raise CliError(
                            f"error during connect: {self.host_spec}: the daemon closed the TLS connection "
                            "without answering (EOF): it may require a client certificate (--tlscert/--tlskey) "
                            "signed by a CA it trusts") from None
                    raise ConnectError(self.host_spec) from None
            except BaseException:
                conn.close()
                raise
        raise ConnectError(self.host_spec)

    def _send_request(
        self,
        conn: Connection,
        method: str,
        target: str,
        body: bytes | Iterable[bytes] | None,
        headers: list[tuple[str, str]] | None,
    ) -> None:
        if " " in target or "\r" in target or "\n" in target:
            raise CliError(f"invalid request target {target!r}")
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host.header_host}\r\nUser-Agent: {USER_AGENT}\r\n"
        names = set()
        for name, value in headers or ():
            if "\n" in value or "\r" in value:
                raise CliError(f"invalid value for header {name}")
            names.add(name.lower())
            head += f"{name}: {value}\r\n"
        chunked = False
        if isinstance(body, (bytes, bytearray)):
            if "content-length" not in names:
                head += f"Content-Length: {len(body)}\r\n"
        elif body is not None:
            chunked = True
            head += "Transfer-Encoding: chunked\r\n"
        elif method in ("POST", "PUT") and "content-length" not in names:
            head += "Content-Length: 0\r\n"
        data = (head + "\r\n").encode()
        conn.head_only = method == "HEAD"
        send = conn.send
        if not chunked:
            if body:
                if len(body) < _READ:  # one write for small requests
                    data += body
                else:
                    send(data)
                    data = body
            send(data)
            return
        send(data)
        for chunk in body:  # type: ignore[union-attr]
            if not chunk:
                continue
            size = b"%x\r\n" % len(chunk)
            if len(chunk) < _READ:
                send(size + chunk + b"\r\n")
            else:
                send(size)
                send(chunk)
                send(b"\r\n")
        send(b"0\r\n\r\n")

    def _receive(self, conn: Connection) -> Response:
        while True:
            head = conn.read_head()
            if head is None:
                raise ConnectionResetError()
            version, status, reason, headers = _parse_head(head)
            if status == 101:
                return _Upgraded(self, conn, version, status, reason, headers, False)
            if 100 <= status < 200:
                continue  # 100 Continue and other interim answers
            return Response(self, conn, version, status, reason, headers)

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        body: bytes | Iterable[bytes] | None = None,
        headers: list[tuple[str, str]] | None = None,
        fresh: bool = False,
        check: bool = True,
    ) -> Response:
        """A versioned API request; raises APIError for error statuses when `check`."""
        hdrs = list(headers or [])
        if json_body is not None:
            # Go's json.Encoder ends the document with a newline; so do we, byte for byte.
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            hdrs.append(("Content-Type", "application/json"))
        resp = self._raw(method, self.url(path, params), body, hdrs, fresh=fresh)
        if check and resp.status >= 400:
            raise self.error_from(resp)
        return resp

    def request_early(self, method: str, path: str, params: dict[str, Any] | None = None,
                      header_timeout: float = 2.0) -> Pending:
        """Send a request on its own connection and give it `header_timeout` to answer.

        Used for `wait` before `start`: docker's CLI waits for the response
        headers so the wait is registered before the container can exit. If a
        daemon holds its headers back, we go on after the timeout instead of
        hanging, and collect the response later.
        """
        target = self.url(path, params)
        conn = self._connect()
        try:
            self._send_request(conn, method, target, None, None)
            conn.sock.settimeout(header_timeout)
            try:
                resp = self._receive(conn)
            except TimeoutError:
                return Pending(self, conn, None)
            conn.sock.settimeout(None)
            return Pending(self, None, resp)
        except (BrokenPipeError, ConnectionResetError):
            conn.close()
            raise ConnectError(self.host_spec) from None
        except BaseException:
            conn.close()
            raise

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             json_body: Any = None, **kw: Any) -> Any:
        """A request whose (small) answer is JSON or empty."""
        resp = self.request(method, path, params, json_body, **kw)
        return resp.json()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, params)

    def post(self, path: str, params: dict[str, Any] | None = None, json_body: Any = None) -> Any:
        return self.call("POST", path, params, json_body)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("DELETE", path, params)

    def error_from(self, resp: Response) -> APIError:
        data = resp.read()
        message = ""
        if data:
            try:
                parsed = json.loads(data)
                if isinstance(parsed, dict) and "message" in parsed:
                    message = str(parsed["message"])
                else:
                    message = data.decode(errors="replace").strip()
            except ValueError:
                message = data.decode(errors="replace").strip()
        if not message:
            message = f"{resp.status} {resp.reason}".strip()
        return APIError(resp.status, message)

    def hijack(self, path: str, params: dict[str, Any] | None = None,
               json_body: Any = None) -> Hijacked:
        """POST with `Connection: Upgrade` / `Upgrade: tcp`; the socket becomes a raw stream."""
        headers = [("Connection", "Upgrade"), ("Upgrade", "tcp")]
        body = None
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            headers.append(("Content-Type", "application/json"))
        else:
            headers.append(("Content-Type", "text/plain"))
        resp = self._raw("POST", self.url(path, params), body, headers, fresh=True)
        if isinstance(resp, _Upgraded):
            return resp.hijacked()
        if resp.status >= 400:
            raise self.error_from(resp)
        # An engine that answers 200 without upgrading: read the body as the stream.
        return Hijacked(None, b"", resp.iter_raw())


class Pending:
    """A response that may still be on its way (see APIClient.request_early)."""

    def __init__(self, client: APIClient, conn: Connection | None, resp: Response | None) -> None:
        self._client = client
        self._conn = conn
        self._resp = resp

    def response(self) -> Response:
        if self._resp is None:
            assert self._conn is not None
            conn, self._conn = self._conn, None
            conn.sock.settimeout(None)
            try:
                self._resp = self._client._receive(conn)
            except BaseException:
                conn.close()
                raise
        return self._resp

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        elif self._resp is not None:
            self._resp.close()


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
