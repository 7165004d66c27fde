"""Engine API: /containers/..."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web


from berth.api import body_types
from berth.api.hijack import DetachScanner, hijack, wants_upgrade
from berth.api.params import json_body, qbool, qint, reply
from berth.engine import monitor_link
from berth.engine.containers import ContainerService
from berth.engine.filters import parse_filters
from berth.errors import BerthError, Conflict, InvalidParameter, NotImplementedFeature

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
    dims = []
    for name in ("h", "w"):
        value = request.query.get(name, "")
        try:
            dims.append(int(value))
        except ValueError:
            raise InvalidParameter(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    s = svc(request)
    c = s.get(request.match_info["id"])
    if not c.running:
        raise Conflict(f"Container {c.id} is not running")
    try:
        await monitor_link.request(s.monitor_socket(c.id), {"op": "resize", "h": dims[0], "w": dims[1]})
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
DEFAULT_DETACH_KEYS = b"\x10\x11"   # ctrl-p, ctrl-q


def _detach_keys(request: web.Request) -> bytes:
    from berth.engine.execs import parse_detach_keys

    keys = request.query.get("detachKeys", "")
    if not keys:
        return DEFAULT_DETACH_KEYS
    try:
        return parse_detach_keys(keys)
    except InvalidParameter:
        raise InvalidParameter(f"Invalid detach keys ({keys}) provided") from None


async def attach(request: web.Request) -> web.StreamResponse:
    """docker's attach: checks answer as HTTP errors, then `101` and the stream.

    Output comes from the container's monitor; stdin goes back to it. With a
    TTY the daemon watches stdin for the detach keys (ctrl-p ctrl-q unless the
    query's detachKeys says otherwise): the client is let go, the container
    runs on, event `detach`. The client's EOF on stdin is the monitor's to
    interpret (StdinOnce closes the process's stdin, anything else ends the
    attach), as docker does.
    """
    s = svc(request)
    keys = _detach_keys(request)
    c = s.get(request.match_info["id"])
    if c.state.get("Paused"):
        raise Conflict(f"container {request.match_info['id']} is paused, unpause the container before attach")
    if c.state.get("Restarting"):
        raise Conflict(f"container {request.match_info['id']} is restarting, wait until the container is running")
    if not wants_upgrade(request):
        raise InvalidParameter("attach needs a connection upgrade (Connection: Upgrade, Upgrade: tcp)")
    want = {k: qbool(request, k) for k in ("stdin", "stdout", "stderr")}
    tty = bool(c.config.get("Tty"))
    want["stdin"] = want["stdin"] and bool(c.config.get("OpenStdin"))
    req = {"op": "attach", **want, "stdin_once": bool(c.config.get("StdinOnce"))}
    resp, raw = await hijack(request, RAW if tty else MUX)
    try:
        if qbool(request, "logs") and c.doc.get("LogPath"):
            from berth.logs.frames import frame
            from berth.logs.reader import aread_entries

            async for stream, data in aread_entries(c.doc["LogPath"],
                                                    _log_query(request, want["stdout"], want["stderr"])):
                await raw.write(data if tty else frame(stream, data))
        s.events.publish("container", "attach", c.id, s.event_attrs(c))
        if qbool(request, "stream"):
            detached = await _relay(s, c, req, raw, keys if tty and want["stdin"] else b"")
            if detached:
                s.events.publish("container", "detach", c.id, s.event_attrs(c))
    except (ConnectionError, BerthError):
        pass  # after the 101 the only way to report is to end the stream
    finally:
        raw.close()
    return resp


class _MonitorLink(asyncio.Protocol):
    """The monitor's attach connection: its output goes straight to the client's
    transport (write_nowait), and the client's backpressure pauses reading it."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.transport: asyncio.Transport | None = None
        self.ended = asyncio.get_running_loop().create_future()
        self.streams: tuple | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.raw.on_pause = self._pause
        self.raw.on_resume = self._resume
        if self.raw.writing_paused:
            transport.pause_reading()

    def _pause(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.raw.write_nowait(data)

    def eof_received(self) -> bool:
        self._end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._can_write.set()
        self._end()

    def _end(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)

    # stdin towards the monitor
    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def send(self, data: bytes) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        self.transport.write(data)
        if not self._can_write.is_set():
            await self._can_write.wait()

    def send_eof(self) -> None:
        if self.transport is not None and not self.transport.is_closing() and self.transport.can_write_eof():
            self.transport.write_eof()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _take_over(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _MonitorLink) -> None:
    """Move a connection the engine opened (as a stream pair) onto our protocol,
    with whatever the stream reader had already buffered."""
    transport = writer.transport
    link.streams = (reader, writer)  # a StreamWriter closes its transport when collected
    buffered = bytes(reader._buffer)  # type: ignore[attr-defined]
    reader._buffer.clear()  # type: ignore[attr-defined]
    at_eof = reader._eof  # type: ignore[attr-defined]
    transport.set_protocol(link)
    link.connection_made(transport)
    if buffered:
        link.data_received(buffered)
    if at_eof or transport.is_closing():
        link._end()
    elif not link.raw.writing_paused:
        transport.resume_reading()  # the stream reader may have paused it


async def _connect(s: ContainerService, c, req: dict, raw) -> _MonitorLink | None:
    """The monitor's attach connection: now if the container runs, else at its next start."""
    link = _MonitorLink(raw)
    loop = asyncio.get_running_loop()
    if c.running:
        try:
            transport, _ = await loop.create_unix_connection(lambda: link, s.monitor_socket(c.id))
        except (FileNotFoundError, ConnectionRefusedError):
            return None  # it has just exited
        transport.write((json.dumps(req) + "\n").encode())
        return link
    fut = s.register_attach(c, req)
    done, _ = await asyncio.wait({fut, raw.lost}, return_when=asyncio.FIRST_COMPLETED)
    if fut not in done:
        fut.cancel()
        if fut in c.pending_attach:
            c.pending_attach.remove(fut)
        return None
    reader, writer = fut.result()
    _take_over(reader, writer, link)
    return link


async def _relay(s: ContainerService, c, req: dict, raw, keys: bytes) -> bool:
    """Until the monitor ends the output or the client goes; True if it detached."""
    link = await _connect(s, c, req, raw)
    if link is None:
        return False
    scanner = DetachScanner(keys) if keys else None
    detached = False

    async def pump_in() -> None:
        nonlocal detached
        while True:
            data = await raw.read()
            if data is None:        # the client went away
                link.close()
                return
            if data == b"":         # it half-closed: the monitor applies docker's stdin rules
                link.send_eof()
                return
            if not req["stdin"]:
                continue
            if scanner is not None:
                data, detached = scanner.feed(data)
                if detached:
                    if data:
                        await link.send(data)
                    link.close()
                    return
            if data:
                await link.send(data)

    feeder = asyncio.ensure_future(pump_in())
    try:
        await asyncio.wait({link.ended, raw.lost}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        feeder.cancel()
        link.close()
        raw.on_pause = raw.on_resume = None
    return detached


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
