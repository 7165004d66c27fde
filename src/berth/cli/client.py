"""A small, synchronous Engine API client: HTTP/1.1 via h11 over a unix socket or TCP.

Why not a bigger HTTP library: start-up time matters (`berth run` as a whole must
stay fast) and the attach/exec upgrade needs control over the raw socket,
including the bytes that arrive in the same read as the `101` response, which
several HTTP clients silently drop. h11 hands those back as trailing data.

Version negotiation follows docker: ping once, then prefix paths with
`/v<min(server, 1.45)>`.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any, BinaryIO, Iterable, Iterator

import h11

from .command import PROG, APIError, CliError, ConnectError

CLIENT_API_VERSION = "1.45"
FALLBACK_API_VERSION = "1.24"
USER_AGENT = "Berth-Client/0.1.0 (linux)"
_READ = 65536
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


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
            self.family = socket.AF_UNIX
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
            self.family = socket.AF_INET6 if ":" in h else socket.AF_INET
            port = int(p) if p else default_port
            self.address = (h or "127.0.0.1", port)
            self.header_host = f"{h}:{port}" if h else f"127.0.0.1:{port}"
        elif "://" in spec:
            raise CliError(f"unable to parse berth host `{spec}`: only unix:// and tcp:// are supported")
        else:
            # Like docker, a bare "host[:port]" means TCP.
            parsed = Host("tcp://" + spec, tls)
            self.__dict__.update(parsed.__dict__)


class Connection:
    """One socket plus its h11 state machine; reusable for keep-alive requests."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(our_role=h11.CLIENT)

    def send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            self.sock.sendall(data)

    def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = self.sock.recv(_READ)
                except ConnectionResetError:
                    data = b""
                self.h11.receive_data(data)
                continue
            return event

    def reusable(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Response:
    """Status and headers of a response whose body is read on demand."""

    def __init__(self, client: "APIClient", conn: Connection, event: Any) -> None:
        self._client = client
        self._conn: Connection | None = conn
        self.status = event.status_code
        self.reason = event.reason.decode("latin-1", "replace")
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
        self._done = False

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def iter_raw(self) -> Iterator[bytes]:
        """Body bytes as they arrive (chunked framing already removed)."""
        conn = self._conn
        if conn is None or self._done:
            return
        try:
            while True:
                event = conn.next_event()
                if isinstance(event, h11.Data):
                    if event.data:
                        yield bytes(event.data)
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    self._done = True
                    break
        finally:
            self._release()

    def read(self) -> bytes:
        return b"".join(self.iter_raw())

    def json(self) -> Any:
        data = self.read()
        if not data.strip():
            return None
        return json.loads(data)

    def iter_json(self) -> Iterator[Any]:
        """A stream of JSON values one after another (progress streams, events, wait)."""
        decoder = json.JSONDecoder()
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
                    value, end = decoder.raw_decode(stripped)
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
            if self._done and conn.reusable():
                conn.h11.start_next_cycle()
                self._client._checkin(conn)
            else:
                conn.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._done and conn.reusable():
                conn.h11.start_next_cycle()
                self._client._checkin(conn)
            else:
                conn.close()


class Hijacked:
    """The raw, bidirectional stream after `101 UPGRADED` (attach, exec start).

    `pending` holds bytes that came in the same read as the 101 response; they
    are the first bytes of the stream and must not be lost.
    """

    def __init__(self, sock: socket.socket | None, pending: bytes = b"",
                 body: Iterator[bytes] | None = None) -> None:
        self.sock = sock
        self.pending = pending
        self._body = body

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
            self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: tell the container its stdin ended while output keeps flowing."""
        if self.sock is None:
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
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
        env_version = os.environ.get("DOCKER_API_VERSION") or os.environ.get("BERTH_API_VERSION")
        self.version: str | None = version or env_version or None
        self.server_version: str | None = None
        self.os_type = ""

    # -- connections -------------------------------------------------------------
    def _dial(self) -> socket.socket:
        host = self.host
        try:
            if host.family == socket.AF_UNIX:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(host.address)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(host.address)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except socket.gaierror:
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
            sock = self._wrap_tls(sock)
        return sock

    def _wrap_tls(self, sock: socket.socket) -> socket.socket:
        import ssl

        opts = self.tls or {}
        ctx = ssl.create_default_context(cafile=opts.get("ca") or None)
        if not opts.get("verify"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if opts.get("cert") and opts.get("key"):
            ctx.load_cert_chain(opts["cert"], opts["key"])
        return ctx.wrap_socket(sock, server_hostname=self.host.address[0])

    def _checkout(self) -> Connection:
        if self._idle:
            return self._idle.pop()
        return Connection(self._dial())

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
        return f"/v{version}{path}" + (f"?{query}" if query else "")

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
            conn = self._checkout() if not fresh else Connection(self._dial())
            try:
                return self._exchange(conn, method, target, body, headers)
            except (BrokenPipeError, ConnectionResetError):
                conn.close()
                # A kept-alive connection the server had already closed (nothing was
                # answered): retry once on a new connection.
                if attempt or not reused or (body is not None and not isinstance(body, bytes)):
                    raise ConnectError(self.host_spec) from None
            except h11.RemoteProtocolError as exc:
                conn.close()
                raise CliError(f"error during connect: protocol error from the daemon: {exc}") from None
            except BaseException:
                conn.close()
                raise
        raise ConnectError(self.host_spec)

    def _exchange(
        self,
        conn: Connection,
        method: str,
        target: str,
        body: bytes | Iterable[bytes] | None,
        headers: list[tuple[str, str]] | None,
    ) -> Response:
        self._send_request(conn, method, target, body, headers)
        return self._receive(conn)

    def _send_request(
        self,
        conn: Connection,
        method: str,
        target: str,
        body: bytes | Iterable[bytes] | None,
        headers: list[tuple[str, str]] | None,
    ) -> None:
        hdrs = [("Host", self.host.header_host), ("User-Agent", USER_AGENT)]
        hdrs.extend(headers or [])
        names = {k.lower() for k, _ in hdrs}
        if isinstance(body, (bytes, bytearray)):
            hdrs.append(("Content-Length", str(len(body))))
        elif body is not None:
            hdrs.append(("Transfer-Encoding", "chunked"))
        elif method in ("POST", "PUT") and "content-length" not in names:
            hdrs.append(("Content-Length", "0"))
        conn.send(h11.Request(method=method, target=target, headers=hdrs))
        if isinstance(body, (bytes, bytearray)):
            if body:
                conn.send(h11.Data(data=bytes(body)))
        elif body is not None:
            for chunk in body:
                if chunk:
                    conn.send(h11.Data(data=chunk))
        conn.send(h11.EndOfMessage())

    def _receive(self, conn: Connection) -> Response:
        while True:
            event = conn.next_event()
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    return _Upgraded(self, conn, event)  # type: ignore[return-value]
                continue
            if isinstance(event, h11.Response):
                return Response(self, conn, event)
            if isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError()

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
                      header_timeout: float = 2.0) -> "Pending":
        """Send a request on its own connection and give it `header_timeout` to answer.

        Used for `wait` before `start`: docker's CLI waits for the response
        headers so the wait is registered before the container can exit. If a
        daemon holds its headers back, we go on after the timeout instead of
        hanging, and collect the response later.
        """
        target = self.url(path, params)
        conn = Connection(self._dial())
        try:
            self._send_request(conn, method, target, None, None)
            conn.sock.settimeout(header_timeout)
            try:
                resp = self._receive(conn)
            except TimeoutError:
                return Pending(self, conn, None)
            conn.sock.settimeout(None)
            return Pending(self, None, resp)
        except (BrokenPipeError, ConnectionResetError, h11.RemoteProtocolError):
            conn.close()
            raise ConnectError(self.host_spec) from None

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
            self._conn.sock.settimeout(None)
            self._resp = self._client._receive(self._conn)
            self._conn = None
        return self._resp

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        elif self._resp is not None:
            self._resp.close()


class _Upgraded(Response):
    """The 101 answer to an upgrade request: hand over the socket and leftover bytes."""

    def __init__(self, client: APIClient, conn: Connection, event: Any) -> None:
        super().__init__(client, conn, event)
        self.status = 101

    def hijacked(self) -> Hijacked:
        conn, self._conn = self._conn, None
        assert conn is not None
        # After a 101, h11 pauses; whatever it already read past the headers is ours.
        while True:
            event = conn.h11.next_event()
            if event is h11.PAUSED or event is h11.NEED_DATA:
                break
        data, _closed = conn.h11.trailing_data
        return Hijacked(conn.sock, bytes(data))


def copy_file_chunks(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """Read a file or pipe in chunks for a streamed (chunked) upload."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            break
        yield chunk
