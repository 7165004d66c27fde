"""Engine API: /containers/..."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web


from berth.api import body_types
from berth.api.hijack import hijack, wants_upgrade
from berth.api.params import json_body, qbool, qint, reply
from berth.engine import monitor_link
from berth.engine.containers import ContainerService
from berth.engine.filters import parse_filters
from berth.errors import BerthError, InvalidParameter, NotImplementedFeature

MUX = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def svc(request: web.Request) -> ContainerService:
    return request.app["daemon"].containers


async def create(request: web.Request) -> web.Response:
    body = await json_body(request)
    body_types.check_create(body)
    if request.query.get("platform") not in (None, "", "linux", "linux/amd64", "linux/x86_64"):
        raise InvalidParameter(f"image platform {request.query['platform']} is not supported")
    c, warnings = svc(request).create(body, request.query.get("name") or None)
    return reply({"Id": c.id, "Warnings": warnings}, status=201)


async def list_(request: web.Request) -> web.Response:
    s = svc(request)
    filters = parse_filters(request.query.get("filters"))
    limit = qint(request, "limit", -1) or -1
    if qbool(request, "latest") or qbool(request, "last"):
        limit = 1
    items = s.list(qbool(request, "all"), limit, filters)
    now = time.time()
    out = []
    for c in items:
        doc = s.summary(c, now)
        if qbool(request, "size"):
            doc["SizeRw"] = s.snaps.upper_size(c.id)
            doc["SizeRootFs"] = doc["SizeRw"] + c.doc.get("_ImageSize", 0)
        out.append(doc)
    return reply(out)


async def inspect(request: web.Request) -> web.Response:
    s = svc(request)
    c = s.get(request.match_info["id"])
    size = s.snaps.upper_size(c.id) if qbool(request, "size") else None
    doc = c.inspect(size)
    doc["ExecIDs"] = request.app["daemon"].execs.ids_for(c.id)
    return reply(doc)


async def start(request: web.Request) -> web.Response:
    if request.query.get("checkpoint"):
        raise NotImplementedFeature("checkpoints are not supported by berthd")
    await svc(request).start(request.match_info["id"])
    return web.Response(status=204)


def _timeout(request: web.Request) -> int | None:
    return qint(request, "t", None) if "t" in request.query else qint(request, "timeout", None)


async def stop(request: web.Request) -> web.Response:
    await svc(request).stop(request.match_info["id"], _timeout(request), request.query.get("signal"))
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    await svc(request).restart(request.match_info["id"], _timeout(request), request.query.get("signal"))
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    await svc(request).kill(request.match_info["id"], request.query.get("signal"))
    return web.Response(status=204)


async def remove(request: web.Request) -> web.Response:
    if qbool(request, "link"):
        raise InvalidParameter("Conflict, cannot remove the default link name of the container")
    await svc(request).remove(request.match_info["id"], qbool(request, "force"), qbool(request, "v"))
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    s = svc(request)
    fut = await s.wait_ready(request.match_info["id"], request.query.get("condition", ""))
    # Headers go out at once: clients (docker run) start the container only after that.
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    code = await fut
    try:
        await resp.write(json.dumps({"Error": None, "StatusCode": code}).encode() + b"\n")
        await resp.write_eof()
    except ConnectionError:
        pass  # the client stopped waiting
    return resp


async def rename(request: web.Request) -> web.Response:
    svc(request).rename(request.match_info["id"], request.query.get("name", ""))
    return web.Response(status=204)


async def top(request: web.Request) -> web.Response:
    return reply(await svc(request).top(request.match_info["id"], request.query.get("ps_args", "")))


async def prune(request: web.Request) -> web.Response:
    return reply(await svc(request).prune(parse_filters(request.query.get("filters"))))


async def resize(request: web.Request) -> web.Response:
    s = svc(request)
    c = s.get(request.match_info["id"])
    h, w = qint(request, "h", 0), qint(request, "w", 0)
    if not c.running:
        raise InvalidParameter(f"Container {c.id} is not running")
    try:
        await monitor_link.request(s.monitor_socket(c.id), {"op": "resize", "h": h, "w": w})
    except monitor_link.MonitorGone:
        pass
    return web.Response(status=200)


# ---------------------------------------------------------------------- logs
def _log_query(request: web.Request, stdout: bool, stderr: bool):
    from berth.logs.reader import LogQuery

    def nanos(name: str) -> int | None:
        """docker sends "seconds.nanoseconds"; 0 or nothing means no bound."""
        value = request.query.get(name, "")
        if value in ("", "0"):
            return None
        secs, _, frac = value.partition(".")
        try:
            return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)
        except ValueError:
            raise InvalidParameter(f"invalid value for {name}: {value!r}") from None

    tail: int | None = None
    try:
        tail = int(request.query.get("tail", "all"))
    except ValueError:
        tail = None  # "all", or anything else docker would also read as all
    return LogQuery(stdout=stdout, stderr=stderr, since_ns=nanos("since"), until_ns=nanos("until"),
                    tail=tail, timestamps=qbool(request, "timestamps"))


async def logs(request: web.Request) -> web.StreamResponse:
    from berth.logs.frames import frame

    s = svc(request)
    c = s.get(request.match_info["id"])
    stdout, stderr = qbool(request, "stdout"), qbool(request, "stderr")
    if not (stdout or stderr):
        raise InvalidParameter("You must choose at least one stream")
    if not c.doc.get("LogPath"):
        raise NotImplementedFeature("configured logging driver does not support reading")
    q = _log_query(request, stdout, stderr)
    tty = bool(c.config.get("Tty"))
    resp = web.StreamResponse(status=200, headers={"Content-Type": RAW if tty else MUX})
    await resp.prepare(request)
    encode = (lambda _s, data: data) if tty else frame
    try:
        await _send_logs(resp, c, q, encode, qbool(request, "follow"))
    except ConnectionError:
        pass  # the client went away (ctrl-c on logs -f)
    return resp


async def _send_logs(resp: web.StreamResponse, c, q, encode, follow: bool) -> None:
    from contextlib import aclosing

    from berth.logs.reader import aread_entries, follow_entries

    if follow:
        q.max_payload = 0  # one entry per frame, as docker-py's streaming readers expect
        async with aclosing(follow_entries(c.doc["LogPath"], q, lambda: not c.running)) as entries:
            async for stream, data in entries:
                await resp.write(encode(stream, data))
    else:
        batch: list[bytes] = []
        size = 0
        async for stream, data in aread_entries(c.doc["LogPath"], q):
            batch.append(encode(stream, data))
            size += len(data)
            if size >= 1 << 20:
                await resp.write(b"".join(batch))
                batch, size = [], 0
        if batch:
            await resp.write(b"".join(batch))
    await resp.write_eof()


# ---------------------------------------------------------------------- attach
async def attach(request: web.Request) -> web.StreamResponse:
    s = svc(request)
    c = s.get(request.match_info["id"])
    want = {k: qbool(request, k) for k in ("stdin", "stdout", "stderr")}
    tty = bool(c.config.get("Tty"))
    req = {"op": "attach", **want, "stdin_once": bool(c.config.get("StdinOnce"))}
    if not wants_upgrade(request):
        raise InvalidParameter("attach needs a connection upgrade (Connection: Upgrade, Upgrade: tcp)")
    resp, raw = await hijack(request, RAW if tty else MUX)
    s.events.publish("container", "attach", c.id, s.event_attrs(c))
    try:
        if qbool(request, "logs") and c.doc.get("LogPath"):
            from berth.logs.frames import frame
            from berth.logs.reader import aread_entries

            async for stream, data in aread_entries(c.doc["LogPath"],
                                                    _log_query(request, want["stdout"], want["stderr"])):
                await raw.write(data if tty else frame(stream, data))
        if qbool(request, "stream"):
            await _relay(s, c, req, raw)
    except (ConnectionError, BerthError):
        pass  # after the 101 the only way to report is to end the stream
    finally:
        raw.close()
    return resp


async def _relay(s: ContainerService, c, req: dict, raw) -> None:
    if c.running:
        try:
            reader, writer = await monitor_link.connect(s.monitor_socket(c.id), req)
        except monitor_link.MonitorGone:
            return
    else:
        fut = s.register_attach(c, req)
        client_gone = asyncio.ensure_future(_wait_closed(raw))
        done, _ = await asyncio.wait({fut, client_gone}, return_when=asyncio.FIRST_COMPLETED)
        if fut not in done:
            fut.cancel()
            if fut in c.pending_attach:
                c.pending_attach.remove(fut)
            return
        client_gone.cancel()
        reader, writer = fut.result()

    async def pump_in() -> None:
        while True:
            data = await raw.incoming.get()
            if data is None:
                writer.close()
                return
            if data == b"":
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    feeder = asyncio.ensure_future(pump_in())
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            await raw.write(data)
    finally:
        feeder.cancel()
        writer.close()


async def _wait_closed(raw) -> None:
    """Completes when the client drops the connection before the container starts."""
    while not raw.closed:
        await asyncio.sleep(0.2)


def routes(add) -> None:
    add("POST", "/containers/create", create)
    add("GET", "/containers/json", list_)
    add("POST", "/containers/prune", prune)
    add("GET", "/containers/{id}/json", inspect)
    add("POST", "/containers/{id}/start", start)
    add("POST", "/containers/{id}/stop", stop)
    add("POST", "/containers/{id}/restart", restart)
    add("POST", "/containers/{id}/kill", kill)
    add("DELETE", "/containers/{id}", remove)
    add("POST", "/containers/{id}/wait", wait)
    add("POST", "/containers/{id}/rename", rename)
    add("GET", "/containers/{id}/top", top)
    add("GET", "/containers/{id}/logs", logs)
    add("POST", "/containers/{id}/attach", attach)
    add("POST", "/containers/{id}/resize", resize)
