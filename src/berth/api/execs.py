"""Engine API: /containers/{id}/exec and /exec/{id}/...

Starting without Detach takes over the connection the way attach does
(`101 UPGRADED`, docker's 8-byte frames without a TTY, raw bytes with one).
As in docker, refusals that concern the container are HTTP errors, while an
exec that cannot run (already run, unknown user, command not found) is
reported on the stream itself, followed by "\\r\\n", after which the stream ends.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from berth.api.hijack import DetachScanner, hijack, wants_upgrade
from berth.api.params import json_body, reply
from berth.engine.exec_process import ExecProcess
from berth.engine.execs import Exec, ExecService
from berth.errors import BerthError, InvalidParameter
from berth.logs.frames import frame

MUX = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"
DEFAULT_DETACH_KEYS = b"\x10\x11"   # ctrl-p, ctrl-q


def svc(request: web.Request) -> ExecService:
    return request.app["daemon"].execs


def _api_version(request: web.Request) -> tuple[int, int]:
    prefix = request.match_info.get("_apiversion")
    if not prefix:
        return (1, 45)
    major, _, minor = prefix[1:].partition(".")
    return int(major), int(minor)


async def create(request: web.Request) -> web.Response:
    body = await json_body(request)
    ex = svc(request).create(request.match_info["id"], body)
    return reply({"Id": ex.id}, status=201)


async def inspect(request: web.Request) -> web.Response:
    return reply(svc(request).get(request.match_info["id"]).inspect())


async def resize(request: web.Request) -> web.Response:
    dims = []
    for name in ("h", "w"):
        value = request.query.get(name, "")
        try:
            dims.append(int(value))
        except ValueError:
            raise InvalidParameter(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    await svc(request).resize(request.match_info["id"], dims[0], dims[1])
    return web.Response(status=200)


async def start(request: web.Request) -> web.StreamResponse:
    body = await json_body(request)
    s = svc(request)
    ex = s.for_start(request.match_info["id"])
    size = body.get("ConsoleSize")
    if size is not None and not (isinstance(size, list) and len(size) == 2
                                 and all(isinstance(n, int) and n >= 0 for n in size)):
        raise InvalidParameter("ConsoleSize must be [height, width]")
    if body.get("Detach"):
        s.claim(ex)
        await s.start(ex, attach=False, console_size=size)
        return web.Response(status=200)
    # docker frames by the start request's Tty, and streams raw before API 1.42
    tty = bool(body.get("Tty"))
    ctype = RAW if tty or _api_version(request) < (1, 42) else MUX
    if wants_upgrade(request):
        resp, raw = await hijack(request, ctype)
        out = _Hijacked(raw)
    else:
        resp = web.StreamResponse(status=200, headers={"Content-Type": ctype})
        resp.force_close()  # docker ends the output by closing the connection
        await resp.prepare(request)
        out = _Plain(resp)
    try:
        await _run(s, ex, out, tty, size)
    except ConnectionError:
        pass  # after the upgrade, ending the stream is the only way left to report
    finally:
        await out.close()
    return resp


async def _run(s: ExecService, ex: Exec, out: _Hijacked | _Plain, tty: bool, size) -> None:
    def encode(stream: int, data: bytes) -> bytes:
        return data if tty else frame(stream, data)

    try:
        s.claim(ex)
    except BerthError as e:
        await out.write(encode(1, (e.message + "\r\n").encode()))
        return
    try:
        proc = await s.start(ex, attach=True, console_size=size)
    except BerthError as e:
        await out.write(encode(1, (e.message + "\r\n").encode()))
        return
    feeder = None
    if isinstance(out, _Hijacked):
        keys = ex.detach_keys or DEFAULT_DETACH_KEYS if ex.tty and ex.open_stdin else b""
        feeder = asyncio.ensure_future(_pump_in(s, ex, out, proc, keys))
    connected = True
    try:
        while True:
            chunk = await proc.read()
            if chunk is None:
                break
            if connected:
                try:
                    await out.write(encode(*chunk))
                except ConnectionError:
                    connected = False
                    proc.disconnect()
        await proc.wait()
        if proc.error is not None and connected:
            await out.write(encode(1, (proc.error + "\r\n").encode()))
    finally:
        if feeder is not None:
            feeder.cancel()
        if proc.exited.done():
            proc.close()
        else:
            proc.disconnect()


async def _pump_in(s: ExecService, ex: Exec, out: _Hijacked, proc: ExecProcess, keys: bytes) -> None:
    """Client bytes to the process's stdin; a half-close ends its stdin, and the
    detach keys (with a TTY) end the stream while the process runs on."""
    scanner = DetachScanner(keys) if keys else None
    incoming = out.raw.incoming
    while True:
        data = await incoming.get()
        if data is None:
            proc.disconnect()
            return
        if data == b"":
            proc.close_stdin()
            return
        if scanner is not None:
            data, detached = scanner.feed(data)
            if detached:
                if data:
                    await proc.write_stdin(data)
                s.detached(ex)
                proc.disconnect(detached=True)
                out.raw.close()
                return
        if data:
            await proc.write_stdin(data)


class _Hijacked:
    def __init__(self, raw) -> None:
        self.raw = raw

    async def write(self, data: bytes) -> None:
        if data:
            await self.raw.write(data)

    async def close(self) -> None:
        self.raw.close()


class _Plain:
    """A start without the upgrade headers: docker answers 200 and streams the output."""

    def __init__(self, resp: web.StreamResponse) -> None:
        self.resp = resp

    async def write(self, data: bytes) -> None:
        if data:
            await self.resp.write(data)

    async def close(self) -> None:
        try:
            await self.resp.write_eof()
        except ConnectionError:
            pass


def routes(add) -> None:
    add("POST", "/containers/{id}/exec", create)
    add("POST", "/exec/{id}/start", start)
    add("POST", "/exec/{id}/resize", resize)
    add("GET", "/exec/{id}/json", inspect)
