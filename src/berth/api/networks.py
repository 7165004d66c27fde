"""Engine API: /networks (docker 1.45 shapes)."""

from __future__ import annotations

from aiohttp import web

from berth.api.params import json_body, reply
from berth.engine.filters import parse_filters


def svc(request: web.Request):
    return request.app["daemon"].networks


async def list_networks(request: web.Request) -> web.Response:
    return reply(svc(request).list_networks(parse_filters(request.query.get("filters"))))


async def inspect_network(request: web.Request) -> web.Response:
    return reply(svc(request).inspect_network(request.match_info["id"]))


async def create_network(request: web.Request) -> web.Response:
    return reply(await svc(request).create_network(await json_body(request)), status=201)


async def remove_network(request: web.Request) -> web.Response:
    await svc(request).remove_network(request.match_info["id"])
    return web.Response(status=204)


async def prune_networks(request: web.Request) -> web.Response:
    return reply(await svc(request).prune_networks(parse_filters(request.query.get("filters"))))


async def connect(request: web.Request) -> web.Response:
    await svc(request).connect(request.match_info["id"], await json_body(request))
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    await svc(request).disconnect(request.match_info["id"], await json_body(request))
    return web.Response(status=200)


def routes(add) -> None:
    add("GET", "/networks", list_networks)
    add("POST", "/networks/create", create_network)
    add("POST", "/networks/prune", prune_networks)
    add("GET", "/networks/{id}", inspect_network)
    add("DELETE", "/networks/{id}", remove_network)
    add("POST", "/networks/{id}/connect", connect)
    add("POST", "/networks/{id}/disconnect", disconnect)
