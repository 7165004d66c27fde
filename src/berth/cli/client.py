"""A small, synchronous Engine API client: its own HTTP/1.1 over a unix socket or TCP.

Why our own HTTP code: start-up time matters (`berth ps` and `berth run` as a
whole must stay fast, and importing an HTTP library costs more than the whole
request), and the attach/exec upgrade needs control over the raw socket,
including the bytes that arrive in the same read as the `101` response, which
several HTTP clients silently drop. What the Engine API needs of HTTP/1.1 is
small: a request line and headers, bodies with Content-Length or chunked
uploads, responses framed by Content-Length, chunked encoding or the end of the
connection, streamed as they arrive, keep-alive reuse, and the 101 hijack.
The wire level (escaping, framing, the hijacked stream) is in http11.py; this
module finds the daemon (unix, tcp, tls, ssh), pools connections and speaks the API.

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
from .http11 import (_NOSIGNAL, _READ, Connection, Hijacked, ProtocolError, Response, _parse_head, _tls_reason,
                     _Upgraded, copy_file_chunks, encode_query, path_escape, query_escape)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

CLIENT_API_VERSION = "1.45"
FALLBACK_API_VERSION = "1.24"
USER_AGENT = "Berth-Client/0.1.0 (linux)"


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


__all__ = ["APIClient", "Connection", "Hijacked", "Host", "Pending", "ProtocolError", "Response",
           "copy_file_chunks", "encode_query", "path_escape", "query_escape"]
