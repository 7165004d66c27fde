"""Engine API: the archive endpoints (`docker cp`), changes (`docker diff`),
export (`docker export`) and `POST /commit`."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import aclosing

from aiohttp import web

from berth.api.images import BodyReader
from berth.api.params import qbool, reply
from berth.engine.archive import STAT_HEADER, ArchiveService, encode_path_stat, stream_from_thread
from berth.errors import InvalidParameter

log = logging.getLogger("berth.api")


def service(request: web.Request) -> ArchiveService:
    d = request.app["daemon"]
    return ArchiveService(d.containers, d.images, d.snaps, d.events, getattr(d, "resources", None))


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("bad parameter: path cannot be empty")
    return path


async def _run(fn, *args):  # type: ignore[no-untyped-def]
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def _stream(request: web.Request, resp: web.StreamResponse, produce) -> bool:  # type: ignore[no-untyped-def]
    """Send a tar made in a thread; False if it could not be sent whole."""
    try:
        async with aclosing(stream_from_thread(produce)) as chunks:
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
        doc = await _run(fs.stat, path)
    return web.Response(status=200, headers={STAT_HEADER: encode_path_stat(doc),
                                             "Content-Type": "application/json"})


async def get_archive(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    svc = service(request)
    ref = request.match_info["id"]
    async with svc.open(ref) as fs:
        doc, write = await _run(fs.archive, path)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar",
                                                       STAT_HEADER: encode_path_stat(doc)})
        await resp.prepare(request)
        ok = await _stream(request, resp, write)
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
    async with svc.open(ref) as fs:
        dest = await _run(fs.extraction_point, path)
        body = BodyReader(request, loop)
        await _run(fs.extract, dest, body, copy_uid_gid, no_overwrite)
    svc.event(ref, "extract-to-dir")
    return web.Response(status=200)


async def changes(request: web.Request) -> web.Response:
    return reply(await service(request).changes(request.match_info["id"]))


async def export(request: web.Request) -> web.StreamResponse:
    svc = service(request)
    ref = request.match_info["id"]
    async with svc.open(ref) as fs:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
        await resp.prepare(request)
        ok = await _stream(request, resp, fs.export)
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
