"""Berth-only: `POST /berth/system/check[?repair=1]` (and GET: report only).

Kept out of docker's namespace (no /vN.NN/ prefix, no docker path) so docker
clients never see it. The answer is engine/check.py's report as JSON.
"""

from __future__ import annotations

from aiohttp import web

from berth.api.params import qbool, reply


async def system_check(request: web.Request) -> web.Response:
    from berth.engine.check import check

    repair = request.method == "POST" and qbool(request, "repair")
    report = await check(request.app["daemon"], repair)
    return reply(report.to_doc())


def register(app: web.Application) -> None:
    app.router.add_route("POST", "/berth/system/check", system_check)
    app.router.add_route("GET", "/berth/system/check", system_check)
