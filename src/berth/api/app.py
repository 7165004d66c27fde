"""The Engine API application: routing with docker's version prefixes,
and the one place where errors become HTTP responses."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from berth.api.params import reply

from berth import API_VERSION, MIN_API_VERSION, __version__
from berth.api import archive, containers, execs, images, resources, system, unsupported
from berth.api import distribution
from berth.api import volumes
from berth.api import networks
from berth.errors import BerthError, InvalidParameter, NotModified, http_status

log = logging.getLogger("berth.api")

VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def _version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotModified:
        return web.Response(status=304)
    except BerthError as e:
        status = http_status(e)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.path, e.message)
        else:
            log.debug("%s %s: %s", request.method, request.path, e.message)
        return reply({"message": e.message}, status=status)
    except web.HTTPException as e:
        if e.status == 404:
            return reply({"message": "page not found"}, status=404)
        if e.status == 405:
            return reply({"message": "page not found"}, status=404)
        raise
    except (ConnectionResetError, BrokenPipeError):
        raise
    except Exception as e:  # a bug: say so, keep serving
        log.exception("%s %s failed", request.method, request.path)
        return reply({"message": f"internal error: {e}"}, status=500)


def version_check(path: str) -> None:
    m = VERSION_PREFIX.match(path)
    if not m:
        return
    asked = (int(m.group(1)), int(m.group(2)))
    if asked > _version_tuple(API_VERSION):
        raise InvalidParameter(f"client version {m.group(1)}.{m.group(2)} is too new. "
                               f"Maximum supported API version is {API_VERSION}")
    if asked < _version_tuple(MIN_API_VERSION):
        raise InvalidParameter(f"client version {m.group(1)}.{m.group(2)} is too old. Minimum supported API "
                               f"version is {MIN_API_VERSION}, please upgrade your client to a newer version")


@web.middleware
async def version_middleware(request: web.Request, handler) -> web.StreamResponse:
    version_check(request.path)
    resp = await handler(request)
    return resp


def make_app(daemon) -> web.Application:
    app = web.Application(middlewares=[errors_middleware, version_middleware],
                          client_max_size=1 << 40, handler_args={"max_field_size": 1 << 20})
    app["daemon"] = daemon

    async def version_headers(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("API-Version", API_VERSION)
        response.headers["Server"] = "Berth/" + __version__ + " (linux)"

    app.on_response_prepare.append(version_headers)

    def add(method: str, path: str, handler) -> None:
        # Every route answers unprefixed and under /v1.N/.
        app.router.add_route(method, path, handler)
        app.router.add_route(method, r"/{_apiversion:v[0-9]+\.[0-9]+}" + path, handler)

    system.routes(add)
    containers.routes(add)
    archive.routes(add)
    execs.routes(add)
    resources.routes(add)
    distribution.routes(add)
    images.routes(add)
    volumes.routes(add)
    networks.routes(add)
    from berth.api import build as build_api  # the builder's routes (POST /build, /build/prune, /session)

    build_api.routes(add)
    unsupported.routes(add)
    from berth.api import check as check_api  # Berth-only: /berth/system/check (engine/check.py)

    check_api.register(app)
    return app
