"""/volumes: list, create, inspect, remove and prune (Engine API 1.45 shapes)."""

from __future__ import annotations

from aiohttp import web

from berth.api.params import json_body, qbool, reply
from berth.engine.filters import parse_filters
from berth.errors import InvalidParameter
from berth.volumes.filters import check_list_filters, volume_matches


def _mounts(request: web.Request):
    return request.app["daemon"].containers.mounts


async def list_volumes(request: web.Request) -> web.Response:
    m = _mounts(request)
    filters = parse_filters(request.query.get("filters"))
    check_list_filters(filters)
    counts = m.ref_counts()
    vols = [v.to_api() for v in sorted(m.volumes.volumes.values(), key=lambda v: v.name)
            if volume_matches(v, filters, counts.get(v.name, 0))]
    return reply({"Volumes": vols, "Warnings": None})


async def create_volume(request: web.Request) -> web.Response:
    body = await json_body(request)
    if body.get("ClusterVolumeSpec"):
        raise InvalidParameter("volume is a cluster volume but this node is not a swarm manager")
    labels = body.get("Labels")
    opts = body.get("DriverOpts")
    for what, value in (("Labels", labels), ("DriverOpts", opts)):
        if value is not None and not isinstance(value, dict):
            raise InvalidParameter(f"invalid {what}: must be an object of strings")
    vol = _mounts(request).create_volume(str(body.get("Name") or ""), str(body.get("Driver") or "local"),
                                         labels or None, opts or None)
    return reply(vol.to_api(), status=201)


async def inspect_volume(request: web.Request) -> web.Response:
    return reply(_mounts(request).volumes.get(request.match_info["name"]).to_api())


async def remove_volume(request: web.Request) -> web.Response:
    _mounts(request).remove_volume(request.match_info["name"], qbool(request, "force"))
    return web.Response(status=204)


async def prune_volumes(request: web.Request) -> web.Response:
    return reply(_mounts(request).prune(parse_filters(request.query.get("filters"))))


def routes(add) -> None:
    add("GET", "/volumes", list_volumes)
    add("POST", "/volumes/create", create_volume)
    add("POST", "/volumes/prune", prune_volumes)
    add("GET", "/volumes/{name}", inspect_volume)
    add("DELETE", "/volumes/{name}", remove_volume)
