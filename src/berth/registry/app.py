"""The registry application: routing, auth, error bodies, the purge task, serving.

aiohttp's router is bypassed: one catch-all route hands the *raw* path to
names.route(), so encoded slashes and dot segments are judged by the spec's
grammar before any decoding or normalisation could turn them into a path.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from . import handlers
from .auth import ANONYMOUS, Access, Authorizer, parse_scopes
from .config import RegistryConfig
from .errors import RegistryError
from .names import Route, route
from .storage import Storage
from .uploads import Uploads

log = logging.getLogger("berth.registry")
API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")

Handler = Callable[[web.Request, Route, "Registry"], Awaitable[web.StreamResponse]]
_HANDLERS: dict[str, Handler] = {
    "blob": handlers.blob, "uploads": handlers.start_upload, "upload": handlers.upload,
    "manifest": handlers.manifest, "tags": handlers.tags_list, "catalog": handlers.catalog,
    "referrers": handlers.referrers,
}
_READS = ("GET", "HEAD")
_METHODS: dict[str, tuple[str, ...]] = {
    "blob": ("GET", "HEAD", "DELETE"), "uploads": ("POST",), "upload": ("GET", "PATCH", "PUT", "DELETE"),
    "manifest": ("GET", "HEAD", "PUT", "DELETE"), "tags": _READS, "catalog": _READS, "referrers": _READS,
}


def required_access(r: Route, method: str) -> Access | None:
    """The scope a request needs (distribution's mapping of routes to actions)."""
    if r.kind == "base":
        return None
    if r.kind == "catalog":
        return Access("registry", "catalog", ("*",))
    if method == "DELETE" and r.kind in ("manifest", "blob"):
        return Access("repository", r.name, ("delete",))
    if r.kind in ("uploads", "upload") or (r.kind == "manifest" and method not in _READS):
        return Access("repository", r.name, ("pull", "push"))
    return Access("repository", r.name, ("pull",))


class Registry:
    """Everything a handler needs: settings, storage, uploads and the authorizer."""

    def __init__(self, cfg: RegistryConfig) -> None:
        self.cfg = cfg
        self.storage = Storage(cfg.root)
        self.uploads = Uploads(self.storage)
        self.auth = Authorizer(cfg, self.storage.root)
        self.scheme = "https" if cfg.tls_cert else "http"
        self.relative_urls = cfg.relative_urls
        self.token_path = (urlsplit(cfg.token_realm).path or "/token") if self.auth.issues_tokens else None
        self._lock_fd: int | None = None

    def url(self, request: web.Request, path: str) -> str:
        if self.relative_urls:
            return path
        return f"{self.scheme}://{request.host}{path}"

    def may_pull(self, request: web.Request, name: str) -> bool:
        """Cross-repository mount: the client must be allowed to read the source."""
        if self.auth.mode == "none":
            return True
        try:
            self.auth.authorize(request.headers.get("Authorization"), Access("repository", name, ("pull",)))
            return True
        except RegistryError:
            return False

    def lock_root(self) -> None:
        """A shared lock on the root: `berth registry gc` (exclusive) refuses to run beside us."""
        fd = os.open(os.path.join(self.storage.root, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        self._lock_fd = fd

    # ------------------------------------------------------------ requests
    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            raw_path = request.raw_path.split("?", 1)[0]
            r = route(raw_path, self.token_path)
            if r is None:
                return web.Response(status=404, text="404 page not found\n")
            if r.kind == "token":
                return await self.token(request)
            if self.cfg.read_only and request.method not in _READS and r.kind != "base":
                raise RegistryError("UNSUPPORTED", "the registry is in read-only mode",
                                    message="The operation is unsupported.", status=405)
            access = required_access(r, request.method)
            self.auth.authorize(request.headers.get("Authorization"), access)
            if r.kind == "base":
                if request.method not in _READS:
                    raise RegistryError("UNSUPPORTED", f"{request.method} /v2/")
                return web.Response(body=b"{}", content_type="application/json")
            if request.method not in _METHODS[r.kind]:
                raise RegistryError("UNSUPPORTED", f"{request.method} {raw_path}",
                                    headers={"Allow": ", ".join(_METHODS[r.kind])})
            return await _HANDLERS[r.kind](request, r, self)
        except RegistryError as exc:
            if exc.status >= 500:
                log.error("%s %s: %s", request.method, request.path, exc)
            return web.Response(status=exc.status, body=exc.body(),
                                headers={**exc.headers, "Content-Type": "application/json; charset=utf-8"})
        except ConnectionError:
            # the client went away (mid-upload: what reached the disk stays, resumable)
            log.info("%s %s: client disconnected", request.method, request.path)
            return web.Response(status=400)
        except OSError as exc:
            log.exception("%s %s failed", request.method, request.path)
            err = RegistryError("UNKNOWN", {"error": exc.strerror or str(exc)})
            return web.Response(status=500, body=err.body(), content_type="application/json")

    async def token(self, request: web.Request) -> web.StreamResponse:
        """The token endpoint: GET with Basic credentials, or POST (OAuth2 password grant)."""
        if not self.auth.issues_tokens:
            return web.Response(status=404, text="404 page not found\n")
        if request.method == "POST":
            form = await request.post()
            if form.get("grant_type") != "password":
                raise RegistryError("UNSUPPORTED", "only grant_type=password is supported")
            user, password = str(form.get("username", "")), str(form.get("password", ""))
            account = user if self.auth.htpasswd and self.auth.htpasswd.check(user, password) else None
            scopes = [str(s) for s in form.getall("scope", [])]
            service = str(form.get("service", ""))
        else:
            account = self.auth.basic_account(request.headers.get("Authorization"))
            scopes = request.query.getall("scope", [])
            service = request.query.get("service", "")
        if service and service != self.cfg.token_service:
            raise RegistryError("DENIED", {"service": service}, message=f"unknown service {service!r}")
        if account is None:
            raise RegistryError("UNAUTHORIZED", message="invalid username or password",
                                headers={"WWW-Authenticate": f'Basic realm="{self.cfg.htpasswd_realm}"'})
        doc = self.auth.issue(account, parse_scopes(scopes))
        return web.json_response(doc)

    # ------------------------------------------------------------ maintenance
    async def purge_loop(self) -> None:
        """Once shortly after start (uploads left by a previous run), then every interval."""
        delay = min(self.cfg.purge_interval, 5.0)
        while True:
            await asyncio.sleep(delay)
            delay = self.cfg.purge_interval
            try:
                self.uploads.purge(self.cfg.purge_age)
            except OSError:
                log.exception("upload purge failed")


@web.middleware
async def _api_version(request: web.Request, handler: Any) -> web.StreamResponse:
    resp = await handler(request)
    resp.headers[API_VERSION[0]] = API_VERSION[1]
    return resp


def make_app(reg: Registry) -> web.Application:
    app = web.Application(middlewares=[_api_version])
    app.router.add_route("*", "/{tail:.*}", reg.handle)

    async def background(app: web.Application) -> Any:
        task = asyncio.create_task(reg.purge_loop()) if reg.cfg.purge_enabled and not reg.cfg.read_only else None
        yield
        if task is not None:
            task.cancel()

    app.cleanup_ctx.append(background)
    return app


def ssl_context(cfg: RegistryConfig) -> ssl.SSLContext | None:
    if not cfg.tls_cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load TLS certificate {cfg.tls_cert} and key {cfg.tls_key}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    return ctx


async def serve(cfg: RegistryConfig, ready: Callable[[str], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM."""
    tls = ssl_context(cfg)
    try:
        reg = Registry(cfg)
        if not cfg.read_only:  # a read-only registry lets `berth registry gc` run beside it
            reg.lock_root()
    except OSError as exc:
        raise ValueError(f"cannot use storage root {cfg.root}: {exc.strerror or exc}") from None
    app = make_app(reg)
    runner = web.AppRunner(app, access_log=log if cfg.log_level == "debug" else None,
                           handle_signals=False)
    await runner.setup()
    host, _, port = cfg.addr.rpartition(":")
    host = host.strip("[]") or None
    site = web.TCPSite(runner, host, int(port), ssl_context=tls, backlog=1024,
                       reuse_address=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound = site._server.sockets[0].getsockname() if site._server and site._server.sockets else None  # type: ignore[union-attr]
    where = f"{reg.scheme}://{cfg.addr if not bound else f'{host or bound[0]}:{bound[1]}'}"
    if ready is not None:
        ready(where)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


__all__ = ["ANONYMOUS", "Registry", "make_app", "required_access", "serve"]
