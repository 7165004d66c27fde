"""Engine API: the archive endpoints (`docker cp`), changes (`docker diff`),
export (`docker export`) and `POST /commit`."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import aclosing

from aiohttp import web

from berth.api.params import qbool, reply
from berth.engine.archive import (
    STAT_HEADER,
    ArchiveService,
    encode_path_stat,
    stream_from_thread,
)
from berth.errors import BerthError, InvalidParameter

log = logging.getLogger("berth.api")


class _Body:
    """The request body as a blocking file object for a worker thread, read in
    the large pieces aiohttp hands over (no copying of what is left)."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop) -> None:
        self._content = request.content
        self._loop = loop
        self._chunk = b""
        self._pos = 0
        self._eof = False

    def _fetch(self) -> None:
        data = asyncio.run_coroutine_threadsafe(self._content.read(1 << 20), self._loop).result()
        self._chunk, self._pos = data, 0
        if not data:
            self._eof = True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._chunk[self._pos:]]
            self._chunk, self._pos = b"", 0
            while not self._eof:
                self._fetch()
                parts.append(self._chunk)
            self._chunk = b""
            return b"".join(parts)
        if self._pos >= len(self._chunk):
            if self._eof:
                return b""
            self._fetch()
        out = self._chunk[self._pos:self._pos + n]
        self._pos += len(out)
        return out


def service(request: web.Request) -> ArchiveService:
    d = request.app["daemon"]
    return ArchiveService(d.containers, d.images, d.snaps, d.events, getattr(d, "resources", None))


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("bad parameter: path cannot be empty")
    return path


async def _stream(request: web.Request, resp: web.StreamResponse, fs, produce) -> bool:  # type: ignore[no-untyped-def]
    """Send a tar made in a thread; False if it could not be sent whole."""
    try:
        async with aclosing(stream_from_thread(produce, fs.call)) as chunks:
            async for chunk in chunks:
                await resp.write(chunk)
        await resp.write_eof()
        return True
    except ConnectionError:
        return False  # the client went away
    except Exception as e:  # noqa: BLE001
        # The status line is out: the only way left to say "failed" is to cut the stream.
        log.error("%s %s: tar stream failed: %s", request.method, request.path, getattr(e, "message", e))
        if request.transport is not None:
            request.transport.close()
        return False


async def stat_path(request: web.Request) -> web.Response:
    path = _path(request)
    async with service(request).open(request.match_info["id"]) as fs:
        doc = await fs.call(fs.stat, path)
    return web.Response(status=200, headers={STAT_HEADER: encode_path_stat(doc),
                                             "Content-Type": "application/json"})


async def get_archive(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    svc = service(request)
    ref = request.match_info["id"]
    async with svc.open(ref) as fs:
        doc, write = await fs.call(fs.archive, path)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar",
                                                       STAT_HEADER: encode_path_stat(doc)})
        await resp.prepare(request)
        ok = await _stream(request, resp, fs, write)
    if ok:
        svc.event(ref, "archive-path")
    return resp


async def put_archive(request: web.Request) -> web.Response:
    path = _path(request)
    svc = service(request)
    ref = request.match_info["id"]
    no_overwrite = qbool(request, "noOverwriteDirNonDir")
    copy_uid_gid = qbool(request, "copyUIDGID")
    loop = asyncio.get_running_loop()
    try:
        async with svc.open(ref) as fs:
            dest = await fs.call(fs.extraction_point, path)
            body = _Body(request, loop)
            await fs.call(fs.extract, dest, body, copy_uid_gid, no_overwrite)
    except BerthError:
        # Take the rest of the upload before answering, so the client reads our error
        # instead of failing on a closed pipe (bounded, as Go's server bounds it).
        await _drain(request, 64 << 20)
        raise
    svc.event(ref, "extract-to-dir")
    return web.Response(status=200)


async def _drain(request: web.Request, limit: int) -> None:
    taken = 0
    while taken < limit:
        chunk = await request.content.read(1 << 20)
        if not chunk:
            return
        taken += len(chunk)


async def changes(request: web.Request) -> web.Response:
    return reply(await service(request).changes(request.match_info["id"]))


async def export(request: web.Request) -> web.StreamResponse:
    svc = service(request)
    ref = request.match_info["id"]
    async with svc.open(ref, mounts=False) as fs:  # docker's export leaves volumes out
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
        await resp.prepare(request)
        ok = await _stream(request, resp, fs, fs.export)
    if ok:
        svc.event(ref, "export")
    return resp


async def commit(request: web.Request) -> web.Response:
    q = request.query
    raw = await request.read()
    body: dict | None = None
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError as e:
            raise InvalidParameter(f"invalid JSON: {e}") from None
        if body is not None and not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: expected an object")
    pause = qbool(request, "pause", default=True)
    image_id = await service(request).commit(
        q.get("container", ""), q.get("repo", ""), q.get("tag", ""), q.get("comment", ""),
        q.get("author", ""), pause, q.getall("changes", []), body or None)
    return reply({"Id": image_id}, status=201)


def routes(add) -> None:  # type: ignore[no-untyped-def]
    add("HEAD", "/containers/{id}/archive", stat_path)
    add("GET", "/containers/{id}/archive", get_archive)
    add("PUT", "/containers/{id}/archive", put_archive)
    add("GET", "/containers/{id}/changes", changes)
    add("GET", "/containers/{id}/export", export)
    add("POST", "/commit", commit)
