"""Engine API: POST /build (docker's legacy builder), POST /build/prune, /session.

The body is the context tar (plain, gzip, bzip2 or xz). Nothing is answered
until the context is unpacked and the Dockerfile parsed, so a parse error or
an unknown --target is a plain HTTP error (`Error response from daemon: ...`),
as docker's; from the first progress line on, errors travel in the JSON-lines
stream as `errorDetail`.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import posixpath
import secrets

from aiohttp import web

from berth.api.params import qbool, reply
from berth.errors import BerthError, InvalidParameter, NotImplementedFeature

log = logging.getLogger("berth.api.build")

_HOST_INTS = {"shmsize": "ShmSize", "memory": "Memory", "memswap": "MemorySwap", "cpushares": "CpuShares",
              "cpuperiod": "CpuPeriod", "cpuquota": "CpuQuota"}


def _json_param(request: web.Request, name: str, default):  # type: ignore[no-untyped-def]
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidParameter(f"invalid {name} JSON: {raw}") from None


def build_options(request: web.Request):  # type: ignore[no-untyped-def]
    from berth.build.state import BuildOptions

    q = request.query
    if q.get("remote"):
        raise NotImplementedFeature(f"remote build contexts are not supported by berthd ({q['remote']}): "
                                    "clone or download it and build from a local directory")
    if q.get("version") == "2":
        raise NotImplementedFeature("BuildKit is not supported by berthd: build with DOCKER_BUILDKIT=0")
    if qbool(request, "squash"):
        raise NotImplementedFeature("--squash is not supported by berthd's builder")
    if q.get("isolation") not in (None, "", "default"):
        raise InvalidParameter(f"Unsupported isolation: {q['isolation']!r}")
    if q.get("outputs"):
        raise NotImplementedFeature("--output needs BuildKit, which berthd does not have")
    hc: dict = {}
    for key, field in _HOST_INTS.items():
        if q.get(key):
            try:
                value = int(q[key])
            except ValueError:
                raise InvalidParameter(f"invalid value for {key}: {q[key]!r}") from None
            if value:
                hc[field] = value
    for key, field in (("cpusetcpus", "CpusetCpus"), ("cpusetmems", "CpusetMems"), ("cgroupparent", "CgroupParent")):
        if q.get(key):
            hc[field] = q[key]
    ulimits = _json_param(request, "ulimits", [])
    if ulimits:
        hc["Ulimits"] = ulimits
    extra_hosts = q.get("extrahosts")
    if extra_hosts:
        hc["ExtraHosts"] = [h for h in extra_hosts.split(",") if h]
    build_args = _json_param(request, "buildargs", {}) or {}
    labels = _json_param(request, "labels", {}) or {}
    cache_from = _json_param(request, "cachefrom", []) or []
    if not isinstance(build_args, dict) or not isinstance(labels, dict) or not isinstance(cache_from, list):
        raise InvalidParameter("buildargs and labels must be JSON objects, cachefrom a JSON list")
    tags = q.getall("t", [])
    from berth.images import reference as refs

    for t in tags:
        ref = refs.parse(t)
        if ref.digest:
            raise InvalidParameter(f"invalid reference format: {t}: a build cannot be tagged with a digest")
    network = q.get("networkmode", "")
    if network not in ("", "default", "bridge", "host", "none"):
        if not network.startswith("container:") and not _network_exists(request, network):
            raise InvalidParameter(f"network {network} not found")
    return BuildOptions(
        dockerfile=q.get("dockerfile") or "Dockerfile", tags=tags,
        build_args={str(k): (None if v is None else str(v)) for k, v in build_args.items()},
        labels={str(k): str(v) for k, v in labels.items()}, target=q.get("target", ""),
        nocache=qbool(request, "nocache"), rm=qbool(request, "rm", True), forcerm=qbool(request, "forcerm"),
        pull=qbool(request, "pull"), quiet=qbool(request, "q"),
        network_mode="" if network in ("", "default") else network,
        cache_from=[str(c) for c in cache_from], platform=q.get("platform", ""), host_config=hc,
        registry_auth=_registry_auth(request.headers.get("X-Registry-Config")))


def _registry_auth(header: str | None) -> dict:
    """X-Registry-Config: base64url JSON of {registry: AuthConfig}, keyed here by host."""
    if not header:
        return {}
    import base64

    from berth.distribution.client import AuthConfig

    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        doc = json.loads(raw or b"{}")
    except ValueError:
        raise InvalidParameter("invalid X-Registry-Config header") from None
    out = {}
    for key, value in (doc or {}).items():
        if not isinstance(value, dict):
            continue
        host = key.split("://", 1)[-1].split("/", 1)[0]
        if host in ("index.docker.io", "registry-1.docker.io"):
            host = "docker.io"
        fields = {k.lower(): v for k, v in value.items() if isinstance(v, str)}
        out[host] = AuthConfig(**{k: fields.get(k, "") for k in ("username", "password", "identitytoken",
                                                                   "registrytoken", "serveraddress")})
    return out


def _network_exists(request: web.Request, name: str) -> bool:
    nets = getattr(request.app["daemon"], "networks", None)
    if nets is None:
        return False
    try:
        nets.get(name)
        return True
    except BerthError:
        return False
    except AttributeError:
        return True


def _read_dockerfile(ctx, name: str) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """The Dockerfile inside the context (docker's CLI adds one from elsewhere under a random name)."""
    clean = posixpath.normpath(name.lstrip("/")) if name else "Dockerfile"
    candidates = [clean] + (["dockerfile"] if clean == "Dockerfile" else [])
    for cand in candidates:
        rel = ctx.resolve(cand)
        if rel is None:
            continue
        data = ctx.read(rel)
        if data is not None:
            return cand, data  # bytes: the parser keeps invalid UTF-8 as Go does
    raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")


async def build(request: web.Request) -> web.StreamResponse:
    from berth.build.builder import Builder, build_root
    from berth.build.context import BuildContext
    from berth.build.parser import parse
    from berth.build.runstep import RunFailed
    from berth.build.state import Output

    d = request.app["daemon"]
    opts = build_options(request)
    loop = asyncio.get_running_loop()
    ctx = BuildContext(os.path.join(build_root(d), "ctx-" + secrets.token_hex(8)))
    os.makedirs(ctx.root, mode=0o755)
    resp: web.StreamResponse | None = None

    async def send(msg: dict) -> None:
        nonlocal resp
        if resp is None:
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            await resp.prepare(request)
        await resp.write(json.dumps(msg).encode() + b"\r\n")

    output = Output(send, opts.quiet)
    builder: Builder | None = None
    try:
        started = loop.time()
        await _intake(request, ctx)
        log.debug("build: context of %d bytes parsed in %.3fs", ctx.size, loop.time() - started)
        dockerfile, text = await loop.run_in_executor(None, _read_dockerfile, ctx, opts.dockerfile)
        ctx.apply_ignore({dockerfile, ".dockerignore"})
        ctx.finish_writes()  # the files reach the disk while the first steps run
        df = parse(text, dockerfile)
        builder = Builder(d, opts, output, ctx, df.escape)
        builder.plan(df)  # an unknown --target or a repeated stage name: still a plain HTTP error
        warnings = df.warnings_text() if hasattr(df, "warnings_text") else ""
        if warnings:
            await output.stream(warnings)
        task = asyncio.ensure_future(builder.run(df))
        watcher = asyncio.ensure_future(_watch_client(request, task))
        try:
            image_id = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                task.cancel()
            raise
        finally:
            watcher.cancel()
        log.debug("build: steps done at %.3fs", loop.time() - started)
        await _finish(d, output, opts, image_id)
    except asyncio.CancelledError:
        log.info("build cancelled: the client went away")
        raise
    except BerthError as e:
        if resp is None and not output.quiet_log:
            raise
        if output.quiet and output.quiet_log:
            await send({"stream": "".join(output.quiet_log)})
        detail: dict = {"message": e.message}
        if isinstance(e, RunFailed):
            detail = {"code": e.code, "message": e.message}
        try:
            await send({"errorDetail": detail, "error": e.message})
        except (ConnectionError, RuntimeError):
            pass
    except (ConnectionError, RuntimeError) as e:
        log.info("build: the client went away (%s)", e)
    except Exception as e:  # a bug or a host failure (ENOSPC...): reported in the stream once it runs
        if resp is None:
            raise
        log.exception("build failed")
        message = f"{type(e).__name__}: {e}" if not isinstance(e, OSError) else str(e)
        try:
            await send({"errorDetail": {"message": message}, "error": message})
        except (ConnectionError, RuntimeError):
            pass
    finally:
        if builder is not None:
            builder.close()
        await loop.run_in_executor(None, ctx.close)
    if resp is None:
        return reply({"message": "build produced no output"}, status=500)
    try:
        await resp.write_eof()
    except (ConnectionError, RuntimeError):
        pass
    return resp


class _BodyRaw(io.RawIOBase):
    """The request body for the extracting thread. The event loop reads it
    (cheap) and hands over ~1 MiB blocks through a bounded queue: one thread
    hop per block instead of one per socket read."""

    BLOCK = 1 << 20

    def __init__(self) -> None:
        import queue

        self.q: queue.Queue = queue.Queue(maxsize=32)
        self.chunk = memoryview(b"")
        self.eof = False
        self.failed: BaseException | None = None

    async def pump(self, request: web.Request) -> None:
        buf = bytearray()
        try:
            while True:
                data = await request.content.readany()
                if not data:
                    break
                buf += data
                if len(buf) >= self.BLOCK:
                    await self._put(bytes(buf))
                    buf.clear()
            if buf:
                await self._put(bytes(buf))
        except BaseException as e:
            self.failed = e
            raise
        finally:
            await self._put(None)

    async def _put(self, item: bytes | None) -> None:
        import queue

        while True:
            try:
                self.q.put_nowait(item)
                return
            except queue.Full:
                await asyncio.sleep(0.002)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def,override]
        while not self.chunk:
            if self.eof:
                return 0
            data = self.q.get()
            if data is None:
                self.eof = True
                if self.failed is not None:
                    raise OSError(f"reading the build context: {self.failed}")
                return 0
            self.chunk = memoryview(data)
        n = min(len(b), len(self.chunk))
        b[:n] = self.chunk[:n]
        self.chunk = self.chunk[n:]
        return n


async def _intake(request: web.Request, ctx) -> None:  # type: ignore[no-untyped-def]
    """Receive and unpack the context; whatever the extractor leaves unread is drained."""
    raw = _BodyRaw()
    pump = asyncio.ensure_future(raw.pump(request))
    loop = asyncio.get_running_loop()
    try:
        t0 = loop.time()
        pump.add_done_callback(lambda _f: log.debug("build: body received in %.3fs", loop.time() - t0))
        await loop.run_in_executor(None, ctx.extract, io.BufferedReader(raw, 1 << 20))
        log.debug("build: extracted in %.3fs", loop.time() - t0)
        while not raw.eof:  # a tar's trailing padding
            if not await loop.run_in_executor(None, raw.read, 1 << 20):
                break
    finally:
        if not pump.done():
            pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)


async def _watch_client(request: web.Request, task: asyncio.Task) -> None:
    """aiohttp does not cancel a handler whose client left; a build must stop (and clean up)."""
    while not task.done():
        transport = request.transport
        if transport is None or transport.is_closing():
            task.cancel()
            return
        await asyncio.sleep(0.2)


async def _finish(d, output, opts, image_id: str) -> None:  # type: ignore[no-untyped-def]
    from berth.images import reference as refs

    await output.message({"aux": {"ID": image_id}})
    short = image_id.split(":", 1)[1][:12]
    await output.stream(f"Successfully built {short}\n")
    for t in opts.tags:
        ref = refs.parse(t)
        d.images.tag(image_id, t, None)
        d.events.publish("image", "tag", image_id, {"name": ref.familiar()})
        await output.stream(f"Successfully tagged {ref.familiar()}\n")
    if opts.quiet:
        await output._send({"stream": image_id + "\n"})


async def prune(request: web.Request) -> web.Response:
    """`docker builder prune`: the cache entries, and the intermediate images only
    the cache kept (untagged, no container, no tagged image built on them)."""
    from berth.build.cache import BuildCache
    from berth.engine.filters import parse_filters

    d = request.app["daemon"]
    filters = parse_filters(request.query.get("filters"))
    for key in filters:
        if key not in ("until", "unused-for"):
            raise InvalidParameter(f"invalid filter '{key}'")
    if filters:
        raise NotImplementedFeature("builder prune filters are not supported by berthd yet")
    if request.query.get("keep-storage") not in (None, "", "0"):
        raise NotImplementedFeature("builder prune --keep-storage is not supported by berthd")
    cache = BuildCache(d.md)
    entries = cache.entries()
    before = d.images.layers_size()
    keys = cache.drop_all()
    candidates = {image_id for _k, image_id in entries}
    images = {i.id: i for i in d.images.all()}
    keep: set[str] = set()
    for image in images.values():
        if image.refs or d.containers.users_of_image(image.id):
            cur = image
            while cur is not None and cur.id not in keep:
                keep.add(cur.id)
                cur = images.get(cur.parent) if cur.parent else None
    # children first, so a parent is never removed before the images built on it
    depth = {}
    for image_id in candidates:
        n, cur = 0, images.get(image_id)
        while cur is not None and cur.parent:
            n += 1
            cur = images.get(cur.parent)
        depth[image_id] = n
    for image_id in sorted(candidates, key=lambda i: -depth.get(i, 0)):
        if image_id in keep or image_id not in images:
            continue
        try:
            d.images.remove(image_id, False, d.containers.users_of_image, prune=False)
        except BerthError as e:
            log.info("builder prune: keeping %s: %s", image_id[:19], e.message)
    reclaimed = max(0, before - d.images.layers_size())
    return reply({"CachesDeleted": keys or None, "SpaceReclaimed": reclaimed})


async def session(_request: web.Request) -> web.Response:
    raise NotImplementedFeature("BuildKit sessions are not supported by berthd: its builder is docker's legacy "
                                "builder (DOCKER_BUILDKIT=0 docker build ...)")


def routes(add) -> None:  # type: ignore[no-untyped-def]
    add("POST", "/build", build)
    add("POST", "/build/prune", prune)
    add("POST", "/session", session)
    add("GET", "/session", session)
