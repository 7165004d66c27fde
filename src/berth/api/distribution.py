"""Engine API: pull (POST /images/create?fromImage=), push, /auth, save and load.

The work runs in threads; progress comes back through a queue and is written
as docker's JSON lines. Errors before the first line are HTTP errors, as
dockerd's (it does not flush its output before the manifest is known).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from typing import Any

from aiohttp import web

from berth.api.params import qbool, reply
from berth.distribution import progress as prog
from berth.distribution.client import AuthConfig
from berth.errors import BerthError, InvalidParameter
from berth.images import reference as refs

log = logging.getLogger("berth.api.distribution")
# Pulls, pushes, saves and loads hold a thread for their whole length: their own pool,
# so a few of them never starve the default executor other handlers use.
_EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="distribution")


def service(request: web.Request):
    d = request.app["daemon"]
    svc = getattr(d, "distribution", None)
    if svc is None:
        from berth.distribution.service import DistributionConfig, DistributionService

        cfg = d.cfg
        svc = DistributionService(d.images, cfg.data_root, DistributionConfig(
            list(cfg.insecure_registries), getattr(cfg, "max_concurrent_downloads", 3) or 3,
            getattr(cfg, "max_concurrent_uploads", 5) or 5))
        d.distribution = svc
    return svc


def _auth(request: web.Request) -> AuthConfig:
    return AuthConfig.from_header(request.headers.get("X-Registry-Auth"))


class _Stream:
    """JSON lines from worker threads to one HTTP response."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.resp: web.StreamResponse | None = None
        self.cancel = threading.Event()  # set when the client has gone: a pull stops (its bytes kept)

    def emit(self, msg: dict) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, msg)

    def run_sync(self, fn: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result()

    async def start(self) -> web.StreamResponse:
        self.resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await self.resp.prepare(self.request)
        return self.resp

    async def pump(self, work: Callable[[], Any]) -> Any:
        """Run `work` in a thread, writing its messages; an error becomes the last message."""
        assert self.resp is not None
        fut = self.loop.run_in_executor(_EXECUTOR, work)
        done = object()
        fut.add_done_callback(lambda _f: self.queue.put_nowait(done))
        client_gone = False
        while True:
            msg = await self.queue.get()
            if msg is done:
                break
            if client_gone:
                continue
            try:
                await self.resp.write(json.dumps(msg).encode() + b"\r\n")
            except (ConnectionResetError, ConnectionError):
                client_gone = True
                self.cancel.set()
        result = None
        try:
            result = fut.result()
        except BerthError as e:
            await self._error(e.message)
        except Exception as e:
            log.exception("distribution request failed")
            await self._error(str(e) or type(e).__name__)
        while not self.queue.empty():
            msg = self.queue.get_nowait()
            if msg is not done:
                try:
                    await self.resp.write(json.dumps(msg).encode() + b"\r\n")
                except ConnectionError:
                    break
        return result

    async def _error(self, message: str) -> None:
        try:
            assert self.resp is not None
            await self.resp.write(json.dumps(prog.error(message)).encode() + b"\r\n")
        except ConnectionError:
            pass

    async def finish(self) -> web.StreamResponse:
        assert self.resp is not None
        try:
            await self.resp.write_eof()
        except ConnectionError:
            pass
        return self.resp


# ------------------------------------------------------------------ pull
async def pull(request: web.Request) -> web.StreamResponse:
    q = request.query
    image, tag = q["fromImage"], q.get("tag", "")
    if tag:
        text = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    else:
        text = image
    ref = refs.parse(text, default_tag=False)
    svc = service(request)
    auth = _auth(request)
    platform = q.get("platform", "")
    loop = asyncio.get_running_loop()
    d = request.app["daemon"]
    stream = _Stream(request)
    if ref.tag is None and ref.digest is None:
        # no tag: every tag of the repository (docker pull --all-tags)
        tags = await loop.run_in_executor(_EXECUTOR, svc.tags, ref, auth)
        await stream.start()

        def all_tags() -> None:
            for t in tags:
                res = svc.resolve(ref.with_tag(t), auth, platform)
                svc.pull(res, stream.emit, stream.run_sync, final=False, cancel=stream.cancel)
            prog.status(stream.emit, f"Status: Downloaded newer image for {ref.familiar_name}")

        await stream.pump(all_tags)
        d.events.publish("image", "pull", ref.familiar_name, {"name": ref.familiar_name})
        return await stream.finish()
    res = await loop.run_in_executor(_EXECUTOR, svc.resolve, ref, auth, platform)
    await stream.start()
    image_id = await stream.pump(lambda: svc.pull(res, stream.emit, stream.run_sync, cancel=stream.cancel))
    if image_id:
        d.events.publish("image", "pull", ref.familiar(), {"name": ref.familiar()})
    return await stream.finish()


# ------------------------------------------------------------------ push
async def push(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    tag = request.query.get("tag", "")
    svc = service(request)
    targets = svc.push_targets(name, tag)
    auth = _auth(request)
    stream = _Stream(request)
    await stream.start()
    await stream.pump(lambda: svc.push(targets, auth, stream.emit))
    d = request.app["daemon"]
    for target, image in targets:
        d.events.publish("image", "push", target.familiar(), {"name": target.familiar()})
    return await stream.finish()


# ------------------------------------------------------------------ login
async def auth(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidParameter("invalid JSON body") from None
    if not isinstance(body, dict):
        raise InvalidParameter("invalid JSON body")
    low = {str(k).lower(): v for k, v in body.items()}
    cfg = AuthConfig(str(low.get("username") or ""), str(low.get("password") or ""),
                     str(low.get("identitytoken") or ""), str(low.get("registrytoken") or ""),
                     str(low.get("serveraddress") or ""))
    svc = service(request)
    await asyncio.get_running_loop().run_in_executor(_EXECUTOR, svc.login, cfg)
    return reply({"Status": "Login Succeeded", "IdentityToken": ""})




# ------------------------------------------------------------------ save / load
async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    from berth.images import archive_save

    d = request.app["daemon"]
    svc = service(request)
    if not names:
        raise InvalidParameter("no images given to save")
    items = archive_save.select(d.images, names)
    loop = asyncio.get_running_loop()
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
    await resp.prepare(request)

    def write(data: bytes) -> None:
        asyncio.run_coroutine_threadsafe(resp.write(data), loop).result()

    tmp_root = svc.cache.partial_dir
    try:
        await loop.run_in_executor(_EXECUTOR, archive_save.save, d.images, svc.cache, items, write, tmp_root)
    except (ConnectionError, BerthError) as e:
        # the tar is cut short: the client sees a truncated archive, never a complete wrong one
        log.warning("save failed: %s", getattr(e, "message", e))
        if request.transport is not None:
            request.transport.close()
        return resp
    for item in items:
        d.events.publish("image", "save", item.image.id, {"name": item.image.id})
    await resp.write_eof()
    return resp


async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


async def save_many(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.query.getall("names", []))


async def load(request: web.Request) -> web.StreamResponse:
    from berth.api.images import BodyReader
    from berth.images import archive_load

    d = request.app["daemon"]
    svc = service(request)
    quiet = qbool(request, "quiet")
    loop = asyncio.get_running_loop()
    body = BodyReader(request, loop)
    stream = _Stream(request)
    await stream.start()
    loaded = await stream.pump(lambda: archive_load.load(d.images, svc.cache, body, svc.cache.partial_dir,
                                                         stream.emit, quiet, stream.run_sync))
    for image_id in loaded or []:
        d.events.publish("image", "load", image_id, {"name": image_id})
    return await stream.finish()


def routes(add) -> None:
    add("POST", "/images/{name:.+}/push", push)
    add("POST", "/auth", auth)
    add("GET", "/images/get", save_many)
    add("GET", "/images/{name:.+}/get", save_one)
    add("POST", "/images/load", load)
