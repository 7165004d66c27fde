"""Engine API: /_ping, /version, /info, /events, /system/df."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time

from aiohttp import web

from berth.api.params import reply
from berth.errors import InvalidParameter

from berth import API_VERSION, MIN_API_VERSION, __version__
from berth.engine.filters import parse_filters
from berth.timefmt import rfc3339nano

PING_HEADERS = {
    "API-Version": API_VERSION,
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Builder-Version": "1",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


async def ping(request: web.Request) -> web.Response:
    if request.method == "HEAD":
        return web.Response(status=200, headers={**PING_HEADERS, "Content-Type": "text/plain; charset=utf-8",
                                                 "Content-Length": "0"})
    return web.Response(text="OK", headers=PING_HEADERS)


def _kernel() -> str:
    return platform.release()


async def version(request: web.Request) -> web.Response:
    d = request.app["daemon"]
    return reply({
        "Platform": {"Name": "Berth Engine"},
        "Components": [
            {"Name": "Engine", "Version": __version__,
             "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
                         "Arch": d.arch, "KernelVersion": _kernel(), "Experimental": "false"}},
            {"Name": d.cfg.default_runtime, "Version": d.runtime_version, "Details": {}},
        ],
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": d.arch,
        "KernelVersion": _kernel(),
        "BuildTime": "",
    })


async def info(request: web.Request) -> web.Response:
    d = request.app["daemon"]
    containers = list(d.containers.containers.values())
    running = sum(1 for c in containers if c.running)
    paused = sum(1 for c in containers if c.state.get("Paused"))
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        pass
    return reply({
        "ID": d.daemon_id,
        "Containers": len(containers),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": len(containers) - running - paused,
        "Images": len(d.images.all()),
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"],
                    "Authorization": None, "Log": ["json-file", "none"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "Debug": d.cfg.log_level == "debug",
        "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": len(asyncio.all_tasks()),
        "SystemTime": rfc3339nano(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": d.cgroup_version,
        "NEventsListener": len(d.events.subscribers),
        "KernelVersion": _kernel(),
        "OperatingSystem": _os_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
        "NCPU": os.cpu_count() or 1,
        "MemTotal": mem,
        "DockerRootDir": d.cfg.data_root,
        "Name": platform.node(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {name: {"path": path} for name, path in d.cfg.runtimes.items()},
        "DefaultRuntime": d.cfg.default_runtime,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "docker-init",
        "SecurityOptions": ["name=seccomp,profile=builtin"] + (["name=userns"] if getattr(d, "idmap", None) else []),
        "Warnings": d.warnings,
    })


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


async def events(request: web.Request) -> web.StreamResponse:
    """docker's GET /events: past events from the bounded history when `since`
    or `until` is given, then live ones until `until` (or the client leaves).
    An `until` already past sends the history and ends."""
    from berth.engine.events import EventFilter, parse_event_time

    d = request.app["daemon"]
    since_raw, until_raw = request.query.get("since", ""), request.query.get("until", "")
    since, until = parse_event_time(since_raw), parse_event_time(until_raw)
    if until is not None and until < (since or 0):
        raise InvalidParameter(f"`since` time ({since_raw}) cannot be after `until` time ({until_raw})")
    flt = EventFilter(parse_filters(request.query.get("filters")))
    sub = d.events.subscribe()  # before the history is read: nothing falls in between
    try:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        try:
            await _stream_events(resp, sub, d.events, since, until, flt)
        except ConnectionError:
            pass  # the client went away
    finally:
        d.events.unsubscribe(sub)
    return resp


def _encode(ev) -> bytes:
    return json.dumps(ev.to_api(), separators=(",", ":")).encode() + b"\n"


async def _stream_events(resp, sub, bus, since: int | None, until: int | None, flt) -> None:
    last = 0
    if since is not None or until is not None:
        past = [_encode(ev) for ev in bus.history(since, until) if flt.matches(ev)]
        if bus.recent:
            last = bus.recent[-1].time_ns
        if past:
            await resp.write(b"".join(past))
    if until is None or until > time.time_ns():
        loop = asyncio.get_running_loop()
        deadline = None if until is None else loop.time() + (until - time.time_ns()) / 1e9
        while True:
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                ev = await asyncio.wait_for(sub.get(), timeout)
            except asyncio.TimeoutError:
                break
            if ev is None:
                break  # this subscriber fell too far behind
            if ev.time_ns <= last:
                continue  # already sent from the history
            if until is not None and ev.time_ns > until:
                break
            if flt.matches(ev):
                await resp.write(_encode(ev))
    await resp.write_eof()


async def disk_usage(request: web.Request) -> web.Response:
    """GET /system/df: what `docker system df` shows (no build cache yet)."""
    d = request.app["daemon"]
    now = time.time()
    counts: dict[str, int] = {}
    containers = []
    for c in d.containers.containers.values():
        counts[c.doc["Image"]] = counts.get(c.doc["Image"], 0) + 1
        doc = d.containers.summary(c, now)
        doc["SizeRw"] = d.snaps.upper_size(c.id)
        doc["SizeRootFs"] = doc["SizeRw"] + c.doc.get("_ImageSize", 0)
        containers.append(doc)
    images = [d.images.summary(img, counts.get(img.id, 0)) for img in d.images.all()]
    layers = sum(r["size"] for r in d.md.query("SELECT size FROM layers"))
    return reply({"LayersSize": layers, "Images": images, "Containers": containers,
                  "Volumes": d.containers.mounts.usage(), "BuildCache": []})


def routes(add) -> None:
    add("GET", "/_ping", ping)
    add("HEAD", "/_ping", ping)
    add("GET", "/version", version)
    add("GET", "/info", info)
    add("GET", "/events", events)
    add("GET", "/system/df", disk_usage)
