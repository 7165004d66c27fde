"""What Berth does not do answers as a docker engine outside a swarm does,
so clients' set-up and teardown paths keep working."""

from __future__ import annotations

from aiohttp import web


from berth.api.params import reply
from berth.errors import Unavailable

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
                 "to connect this node to swarm and try again.")

SWARM_PREFIXES = ("/swarm", "/services", "/nodes", "/tasks", "/secrets", "/configs")


async def not_in_swarm(request: web.Request) -> web.Response:
    raise Unavailable(NOT_A_MANAGER)


async def plugins(request: web.Request) -> web.Response:
    if request.method == "GET" and request.path.rstrip("/").endswith("/plugins"):
        return reply([])
    raise Unavailable("plugins are not supported by berthd")


def routes(add) -> None:
    for prefix in SWARM_PREFIXES:
        for method in ("GET", "POST", "DELETE", "PUT"):
            add(method, prefix, not_in_swarm)
            add(method, prefix + "/{tail:.*}", not_in_swarm)
    add("GET", "/plugins", plugins)
    add("GET", "/plugins/{tail:.*}", plugins)
    add("POST", "/plugins/{tail:.*}", plugins)
