"""Engine API: /containers/{id}/pause, /unpause, /stats and /update."""

from __future__ import annotations

import json

from aiohttp import web

from berth.api.params import json_body, qbool, reply
from berth.engine.resources import ResourceService


def svc(request: web.Request) -> ResourceService:
    return request.app["daemon"].resources


async def pause(request: web.Request) -> web.Response:
    await svc(request).pause(request.match_info["id"])
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    await svc(request).unpause(request.match_info["id"])
    return web.Response(status=204)


async def update(request: web.Request) -> web.Response:
    body = await json_body(request)
    warnings = await svc(request).update(request.match_info["id"], body)
    return reply({"Warnings": warnings})


async def stats(request: web.Request) -> web.StreamResponse:
    s = svc(request)
    stream = qbool(request, "stream", True)
    one_shot = qbool(request, "one-shot")
    # Errors (no such container, stream with one-shot) must come before the headers.
    docs = s.stats(request.match_info["id"], stream, one_shot)
    first = await docs.__anext__()
    if not stream:
        await docs.aclose()
        return web.Response(body=json.dumps(first).encode() + b"\n", status=200,
                            headers={"Content-Type": "application/json"})
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    try:
        await resp.write(json.dumps(first).encode() + b"\n")
        async for doc in docs:
            await resp.write(json.dumps(doc).encode() + b"\n")
        await resp.write_eof()
    except ConnectionError:
        pass  # the client stopped reading (docker stats ended with ctrl-c)
    finally:
        await docs.aclose()
    return resp


def routes(add) -> None:
    add("POST", "/containers/{id}/pause", pause)
    add("POST", "/containers/{id}/unpause", unpause)
    add("POST", "/containers/{id}/update", update)
    add("GET", "/containers/{id}/stats", stats)
