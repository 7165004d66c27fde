"""A blocking client for the Docker Registry HTTP API V2 / OCI Distribution Spec.

It runs in worker threads (pull and push are bound by hashing, (de)compression
and disk, which release the GIL), so plain `http.client` with a small
keep-alive pool per registry is enough and avoids an event-loop hop per chunk.

What it knows: which scheme a registry speaks (TLS first; plain HTTP for
loopback and `--insecure-registry` registries, as dockerd), the certificates
to trust (system CAs plus certs.d directories), and the auth challenges of the
`/v2/` ping: Basic, and Bearer with the token dance against the realm, tokens
cached per scope until they expire.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from berth.errors import (
    BerthError,
    InvalidParameter,
    NotFound,
    System,
    Unauthorized,
    Unavailable,
)

DEFAULT_INDEX = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
CERTS_DIRS = ("/etc/berth/certs.d", "/etc/docker/certs.d")
USER_AGENT = "berth/1.0 (distribution client)"
_TOKEN_CACHE: dict[tuple[str, ...], "_Token"] = {}  # cached bearer tokens, until they expire
_TOKEN_LOCK = threading.Lock()
_SCHEME_SEEN: dict[str, str] = {}  # host -> the scheme its /v2/ answered on (insecure registries)
_CHALLENGE_PARAM = re.compile(r'([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass
class AuthConfig:
    """What the client sends in X-Registry-Auth (docker's registry.AuthConfig)."""

    username: str = ""
    password: str = ""
    identitytoken: str = ""
    registrytoken: str = ""
    serveraddress: str = ""

    @classmethod
    def from_header(cls, value: str | None) -> AuthConfig:
        if not value:
            return cls()
        text = value.strip()
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            doc = json.loads(raw or b"{}")
        except (ValueError, TypeError):
            # docker ignores an undecodable header and pulls anonymously
            return cls()
        if not isinstance(doc, dict):
            return cls()
        low = {str(k).lower(): v for k, v in doc.items()}
        return cls(str(low.get("username") or ""), str(low.get("password") or ""),
                   str(low.get("identitytoken") or ""), str(low.get("registrytoken") or ""),
                   str(low.get("serveraddress") or ""))

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identitytoken or self.registrytoken)


class RegistryAuthError(BerthError):
    """The registry refused our credentials during a pull or push.

    Not a 401 to the API client: docker's CLI answers a 401 from pull/push by
    prompting for a login, while dockerd reports these as plain errors."""

    status = 500


class RegistryError(BerthError):
    """An error answer of a registry (its `errors` body), worded as docker words it."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = {401: 401, 403: 403, 404: 404}.get(status, 500)
        self.http_status = status
        self.code = code


def describe_errors(status: int, body: bytes, reason: str = "") -> tuple[str, str]:
    """(first error code, docker's text) for a registry error body."""
    try:
        doc = json.loads(body or b"{}")
        errs = doc.get("errors") or []
    except (ValueError, AttributeError):
        errs = []
    parts, first = [], ""
    for e in errs:
        if not isinstance(e, dict):
            continue
        code = str(e.get("code") or "UNKNOWN")
        first = first or code
        parts.append(f"{code.lower().replace('_', ' ')}: {e.get('message') or ''}".rstrip(": "))
    if parts:
        return first, ", ".join(parts)
    return "", f"unexpected status from registry: {status} {reason or http.client.responses.get(status, '')}".strip()


def index_name(domain: str) -> str:
    return DEFAULT_INDEX if domain in ("docker.io", "index.docker.io", "registry-1.docker.io") else domain


def api_host(domain: str) -> str:
    return DOCKER_HUB_API if index_name(domain) == DEFAULT_INDEX else domain


def is_insecure(host: str, insecure: Iterable[str]) -> bool:
    """Loopback registries and those named in --insecure-registry (host[:port] or CIDR)."""
    if host.startswith("["):
        name = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        name = host.split(":", 1)[0]
    else:
        name = host
    if name == "localhost":
        return True
    addr = None
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        try:
            addr = ipaddress.ip_address(socket.gethostbyname(name)) if "." in name else None
        except OSError:
            addr = None
    if addr is not None and addr.is_loopback:
        return True
    for entry in insecure:
        entry = entry.strip()
        if entry.startswith(("http://", "https://")):
            entry = entry.split("://", 1)[1]
        entry = entry.rstrip("/")
        if entry in (host, name):
            return True
        if "/" in entry and addr is not None:
            try:
                if addr in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def _ssl_context(host: str, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    for base in CERTS_DIRS:
        d = os.path.join(base, host)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name.endswith(".crt"):
                ctx.load_verify_locations(path)
            elif name.endswith(".cert"):
                key = path[:-5] + ".key"
                if os.path.exists(key):
                    ctx.load_cert_chain(path, key)
    return ctx


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    resp: http.client.HTTPResponse
    conn: http.client.HTTPConnection
    pool: _Pool
    url: str
    no_creds: bool = False

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default) or default

    def read(self) -> bytes:
        try:
            return self.resp.read()
        finally:
            self.release()

    def release(self) -> None:
        if self.resp.isclosed():
            self.pool.put(self.conn)
        else:
            self.conn.close()

    def discard(self) -> None:
        self.conn.close()


class _Pool:
    def __init__(self, scheme: str, host: str, ctx: ssl.SSLContext | None) -> None:
        self.scheme, self.host, self.ctx = scheme, host, ctx
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get(self) -> http.client.HTTPConnection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, timeout=60, context=self.ctx, blocksize=1 << 20)
        return http.client.HTTPConnection(self.host, timeout=60, blocksize=1 << 20)

    def put(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < 8:
                self._idle.append(conn)
                return
        conn.close()


@dataclass
class _Token:
    value: str
    expires: float


@dataclass
class Registry:
    """One registry host with the credentials of one request (pull, push or login)."""

    domain: str
    auth: AuthConfig = field(default_factory=AuthConfig)
    insecure: list[str] = field(default_factory=list)
    scheme: str = ""
    _pools: dict[str, _Pool] = field(default_factory=dict)
    _challenge: tuple[str, dict[str, str]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pinged: bool = False

    @property
    def host(self) -> str:
        return api_host(self.domain)

    def base_url(self) -> str:
        return f"{self.scheme or 'https'}://{self.host}"

    # ---------------------------------------------------------------- transport
    def _pool(self, scheme: str, host: str) -> _Pool:
        key = f"{scheme}://{host}"
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                ctx = None
                if scheme == "https":
                    ctx = _ssl_context(host, verify=not is_insecure(host, self.insecure))
                pool = self._pools[key] = _Pool(scheme, host, ctx)
            return pool

    def _send(self, scheme: str, host: str, method: str, path: str, headers: dict[str, str],
              body: bytes | Iterable[bytes] | None = None, chunked: bool = False) -> Response:
        pool = self._pool(scheme, host)
        url = f"{scheme}://{host}{path}"
        for attempt in (0, 1):
            conn = pool.get()
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **headers},
                             encode_chunked=chunked)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if reused and attempt == 0 and (body is None or isinstance(body, bytes)):
                    continue  # a keep-alive connection the server had closed
                raise Unavailable(f'{method.title()} "{url}": {_neterr(e, host)}') from None
            except ssl.SSLError as e:
                conn.close()
                raise _TLSFailed(f'{method.title()} "{url}": {_tlserr(e)}') from None
            except OSError as e:
                conn.close()
                raise Unavailable(f'{method.title()} "{url}": {_neterr(e, host)}') from None
            return Response(resp.status, resp.headers, resp, conn, pool, url)
        raise AssertionError("unreachable")

    def ping(self) -> None:
        """GET /v2/: decide the scheme and learn the auth challenge."""
        if self._pinged:
            return
        schemes = ["https"]
        if is_insecure(self.host, self.insecure):
            schemes.append("http")
            if _SCHEME_SEEN.get(self.host) == "http":
                schemes = ["http", "https"]  # what answered last time goes first
        last: BerthError | None = None
        for scheme in schemes:
            try:
                resp = self._send(scheme, self.host, "GET", "/v2/", {})
            except (_TLSFailed, Unavailable) as e:
                last = e
                continue
            body = resp.read()
            if resp.status in (200, 401):
                self.scheme = scheme
                _SCHEME_SEEN[self.host] = scheme
                if resp.status == 401:
                    self._challenge = parse_challenge(resp.header("WWW-Authenticate"))
                self._pinged = True
                return
            code, text = describe_errors(resp.status, body, resp.resp.reason)
            last = RegistryError(resp.status, f'Get "{scheme}://{self.host}/v2/": {text}', code)
            if resp.status != 404:
                break
        assert last is not None
        if isinstance(last, _TLSFailed):
            raise Unavailable(last.message)
        raise last

    # ---------------------------------------------------------------- auth
    def _auth_header(self, scope: str) -> dict[str, str]:
        if self._challenge is None:
            return {}
        kind, params = self._challenge
        if kind == "basic":
            if not self.auth.username:
                return {}
            token = base64.b64encode(f"{self.auth.username}:{self.auth.password}".encode()).decode()
            return {"Authorization": "Basic " + token}
        if kind == "bearer":
            if self.auth.registrytoken:
                return {"Authorization": "Bearer " + self.auth.registrytoken}
            return {"Authorization": "Bearer " + self._token(params, scope)}
        return {}

    def _token(self, params: dict[str, str], scope: str) -> str:
        key = self._token_key(params, scope)
        with _TOKEN_LOCK:
            tok = _TOKEN_CACHE.get(key)
            if tok is not None and tok.expires > time.time() + 5:
                return tok.value
        realm = params.get("realm", "")
        if not realm:
            raise RegistryAuthError("no realm in the registry's bearer challenge")
        url = urllib.parse.urlsplit(realm)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise RegistryAuthError(f"invalid token realm {realm!r}")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        for one in scope.split():
            query.append(("scope", one))  # one parameter per scope, as docker sends them
        headers: dict[str, str] = {}
        if self.auth.identitytoken:
            form = urllib.parse.urlencode([("grant_type", "refresh_token"),
                                           ("refresh_token", self.auth.identitytoken),
                                           ("client_id", "berth"), *query]).encode()
            resp = self._send(url.scheme, url.netloc, "POST", url.path or "/",
                              {"Content-Type": "application/x-www-form-urlencoded"}, form)
        else:
            if self.auth.username:
                query.append(("account", self.auth.username))
                headers["Authorization"] = "Basic " + base64.b64encode(
                    f"{self.auth.username}:{self.auth.password}".encode()).decode()
            path = (url.path or "/") + "?" + urllib.parse.urlencode(query)
            if url.query:
                path += "&" + url.query
            resp = self._send(url.scheme, url.netloc, "GET", path, headers)
        body = resp.read()
        if resp.status != 200:
            code, text = describe_errors(resp.status, body, resp.resp.reason)
            if resp.status == 401:
                raise RegistryAuthError(f'Get "{realm}": ' + (text if code else "unauthorized: authentication required"))
            raise RegistryError(resp.status, f"failed to fetch token from {realm}: {text}", code)
        try:
            doc = json.loads(body)
            value = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            value = None
        if not value:
            raise RegistryAuthError(f"the token service at {realm} returned no token")
        lifetime = int(doc.get("expires_in") or 60)
        with _TOKEN_LOCK:
            if len(_TOKEN_CACHE) > 1024:
                _TOKEN_CACHE.clear()
            _TOKEN_CACHE[key] = _Token(value, time.time() + max(lifetime, 60))
        return value

    def _token_key(self, params: dict[str, str], scope: str) -> tuple[str, ...]:
        """Tokens are shared between requests of the same credentials (pulls, pushes)."""
        import hashlib

        secret = hashlib.sha256(f"{self.auth.password}\0{self.auth.identitytoken}".encode()).hexdigest()
        return (params.get("realm", ""), params.get("service", ""), scope, self.auth.username, secret)

    def login(self) -> None:
        """Check the credentials as `docker login` does (ping, then a token or a Basic probe)."""
        self.ping()
        where = f"{self.scheme}://{self.host}/v2/"
        if self._challenge is None:
            return
        kind, params = self._challenge
        if kind == "bearer":
            try:
                self._token(params, "")
            except RegistryAuthError:
                raise Unauthorized(f"login attempt to {where} failed with status: 401 Unauthorized") from None
            return
        resp = self._send(self.scheme, self.host, "GET", "/v2/", self._auth_header(""))
        resp.read()
        if resp.status == 401:
            raise Unauthorized(f"login attempt to {where} failed with status: 401 Unauthorized")
        if resp.status != 200:
            raise RegistryError(resp.status, f"login attempt to {where} failed with status: "
                                f"{resp.status} {resp.resp.reason}")

    # ---------------------------------------------------------------- requests
    def request(self, method: str, path: str, scope: str, headers: dict[str, str] | None = None,
                body: bytes | Iterable[bytes] | None = None, chunked: bool = False,
                follow: bool = True) -> Response:
        """A request to the registry with auth; redirects (blob storage) followed."""
        self.ping()
        hdrs = {**(headers or {}), **self._auth_header(scope)}
        resp = self._send(self.scheme, self.host, method, path, hdrs, body, chunked)
        if resp.status == 401 and self._challenge and self._challenge[0] == "bearer":
            # A token for a wider scope may be needed (a challenge per request)
            resp.read()
            challenge = parse_challenge(resp.header("WWW-Authenticate"))
            if challenge and challenge[0] == "bearer" and not isinstance(body, Iterator):
                self._challenge = (challenge[0], {**self._challenge[1], **{
                    k: v for k, v in challenge[1].items() if k != "scope"}})
                with _TOKEN_LOCK:
                    _TOKEN_CACHE.pop(self._token_key(self._challenge[1], scope), None)
                hdrs = {**(headers or {}), **self._auth_header(scope)}
                resp = self._send(self.scheme, self.host, method, path, hdrs, body, chunked)
        if resp.status == 401 and self._challenge and self._challenge[0] == "basic" and not self.auth.username:
            resp.no_creds = True
        hops = 0
        while follow and resp.status in (301, 302, 303, 307, 308) and hops < 5:
            location = resp.header("Location")
            resp.read()
            target = urllib.parse.urlsplit(urllib.parse.urljoin(f"{self.scheme}://{self.host}{path}", location))
            same = target.netloc == self.host
            hdrs2 = dict(headers or {})
            if same:
                hdrs2.update(self._auth_header(scope))
            p = target.path + ("?" + target.query if target.query else "")
            resp = self._send(target.scheme, target.netloc, method if resp.status in (307, 308) else "GET",
                              p, hdrs2)
            hops += 1
        return resp

    def url(self, path: str) -> str:
        return f"{self.scheme or 'https'}://{self.host}{path}"

    def close(self) -> None:
        for pool in self._pools.values():
            for conn in pool._idle:
                conn.close()
            pool._idle.clear()


class _TLSFailed(Unavailable):
    pass


def _tlserr(e: ssl.SSLError) -> str:
    """Go's wording for the TLS failures users meet."""
    if isinstance(e, ssl.SSLCertVerificationError):
        why = e.verify_message or str(e)
        if "local issuer" in why or "self-signed" in why or "self signed" in why:
            return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        if "IP address mismatch" in why or "Hostname mismatch" in why:
            return f"tls: failed to verify certificate: x509: certificate is not valid for this host ({why})"
        return f"tls: failed to verify certificate: x509: {why}"
    text = str(e)
    if any(k in text for k in ("WRONG_VERSION_NUMBER", "record layer failure", "packet length too long",
                               "http request")):
        return "http: server gave HTTP response to HTTPS client"
    return f"tls: {e.reason or text}"


def _neterr(e: BaseException, host: str = "") -> str:
    addr = f" {host}" if host else ""
    if isinstance(e, ConnectionRefusedError):
        return f"dial tcp{addr}: connect: connection refused"
    if isinstance(e, socket.gaierror):
        name = host.rsplit(":", 1)[0] if host else ""
        return f"dial tcp: lookup {name}: {(e.strerror or str(e)).lower()}".replace("lookup :", "lookup:")
    if isinstance(e, OSError) and e.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH
        return f"dial tcp{addr}: connect: {(e.strerror or '').lower()}"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "net/http: request canceled while waiting for connection (Client.Timeout exceeded)"
    if isinstance(e, http.client.RemoteDisconnected):
        return "EOF"
    if isinstance(e, ConnectionResetError):
        return "read: connection reset by peer"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return str(e) or type(e).__name__


def parse_challenge(header: str) -> tuple[str, dict[str, str]] | None:
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for m in _CHALLENGE_PARAM.finditer(rest):
        params[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return scheme.lower(), params


def raise_for(resp: Response, what: str, body: bytes | None = None) -> None:
    """Turn an error answer into docker's error text (`what` names the request)."""
    if body is None:
        body = resp.read()
    code, text = describe_errors(resp.status, body, resp.resp.reason)
    if resp.status == 401:
        if resp.no_creds:
            raise RegistryAuthError(f"{what}: no basic auth credentials")
        raise RegistryAuthError(f"{what}: {text}" if code else f"{what}: unauthorized: authentication required")
    if resp.status == 404:
        raise NotFound(text)
    if resp.status == 400:
        raise InvalidParameter(f"{what}: {text}")
    raise RegistryError(resp.status, f"{what}: {text}", code) if resp.status != 500 else System(f"{what}: {text}")
