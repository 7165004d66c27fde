"""Engine API: /_ping, /version, /info, /events, /system/df."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time

from aiohttp import web

from berth.api.params import reply

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
        "SecurityOptions": ["name=seccomp,profile=builtin"],
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
    d = request.app["daemon"]
    filters = parse_filters(request.query.get("filters"))
    since = float(request.query["since"]) if request.query.get("since") else None
    until = float(request.query["until"]) if request.query.get("until") else None
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)

    def matches(ev) -> bool:
        if "type" in filters and ev.type not in filters["type"]:
            return False
        if "event" in filters and ev.action not in filters["event"]:
            return False
        if "container" in filters and ev.type == "container":
            name = ev.attributes.get("name", "")
            if not any(ev.actor_id.startswith(v) or name == v for v in filters["container"]):
                return False
        return True

    queue = d.events.subscribe()
    try:
        await _stream_events(resp, queue, d, since, until, matches)
    except ConnectionError:
        pass
    finally:
        d.events.unsubscribe(queue)
    return resp


async def _stream_events(resp, queue, d, since, until, matches) -> None:
    if since is not None:
        for ev in list(d.events.recent):
            if ev.time_ns / 1e9 >= since and (until is None or ev.time_ns / 1e9 <= until) and matches(ev):
                await resp.write(json.dumps(ev.to_api()).encode() + b"\n")
    while True:
        timeout = None if until is None else max(0.0, until - time.time())
        if until is not None and timeout == 0:
            break
        try:
            ev = await asyncio.wait_for(queue.get(), timeout)
        except asyncio.TimeoutError:
            break
        if matches(ev):
            await resp.write(json.dumps(ev.to_api()).encode() + b"\n")
    await resp.write_eof()


async def disk_usage(request: web.Request) -> web.Response:
    """GET /system/df: what `docker system df` shows (no volumes or build cache yet)."""
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
                  "Volumes": [], "BuildCache": []})


def routes(add) -> None:
    add("GET", "/_ping", ping)
    add("HEAD", "/_ping", ping)
    add("GET", "/version", version)
    add("GET", "/info", info)
    add("GET", "/events", events)
    add("GET", "/system/df", disk_usage)
