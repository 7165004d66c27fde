"""Healthchecks: probes run in the container like `exec`, docker's state machine.

State.Health goes starting -> healthy / unhealthy; a failing probe inside the
start period does not count; `Retries` consecutive failures make a container
unhealthy; the last five probe results are kept, as docker keeps them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from berth.errors import BerthError
from berth.timefmt import rfc3339nano

if TYPE_CHECKING:
    from berth.engine.containers import ContainerService
    from berth.engine.execs import ExecService
    from berth.engine.model import Container

log = logging.getLogger("berth.health")

NS = 1_000_000_000
DEFAULTS = {"Interval": 30 * NS, "Timeout": 30 * NS, "StartPeriod": 0, "Retries": 3, "StartInterval": 5 * NS}
KEEP_LOGS = 5
MAX_OUTPUT = 4096


def probe_command(test: list[str]) -> list[str] | None:
    """The argv of a healthcheck Test, None when there is no check."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test)


def settings(healthcheck: dict | None) -> dict | None:
    if not healthcheck:
        return None
    cmd = probe_command(healthcheck.get("Test") or [])
    if cmd is None:
        return None
    out = {k: (healthcheck.get(k) or v) for k, v in DEFAULTS.items()}
    out["cmd"] = cmd
    return out


def status_suffix(state: dict) -> str:
    """What `ps` adds to "Up 3 minutes"."""
    health = state.get("Health")
    if not health:
        return ""
    status = health.get("Status")
    return " (health: starting)" if status == "starting" else f" ({status})"


class HealthMonitor:
    def __init__(self, containers: "ContainerService", execs: "ExecService") -> None:
        self.containers = containers
        self.execs = execs
        self.tasks: dict[str, asyncio.Task] = {}
        containers.on_started.append(self.watch)
        containers.on_exited.append(self.forget)

    def watch(self, c: "Container") -> None:
        cfg = settings(c.config.get("Healthcheck"))
        if cfg is None:
            c.state.pop("Health", None)
            return
        self.forget(c)
        c.state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self.tasks[c.id] = asyncio.ensure_future(self._loop(c, cfg, c.state.get("StartedAt", "")))

    def forget(self, c: "Container") -> None:
        task = self.tasks.pop(c.id, None)
        if task is not None:
            task.cancel()

    async def _loop(self, c: "Container", cfg: dict, run: str) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while c.running and c.state.get("StartedAt") == run:
            in_start_period = loop.time() - started < cfg["StartPeriod"] / NS
            starting = c.state["Health"]["Status"] == "starting"
            wait = cfg["StartInterval"] if in_start_period and starting else cfg["Interval"]
            await asyncio.sleep(wait / NS)
            if not c.running or c.state.get("StartedAt") != run:
                return
            begin = rfc3339nano()
            code, output = await self._probe(c, cfg)
            self._record(c, cfg, begin, code, output, loop.time() - started < cfg["StartPeriod"] / NS)

    async def _probe(self, c: "Container", cfg: dict) -> tuple[int, str]:
        try:
            ex = self.execs.create(c.id, {"Cmd": cfg["cmd"], "AttachStdout": True, "AttachStderr": True})
            self.execs.claim(ex)
            proc = await self.execs.start(ex, attach=True)
        except BerthError as e:
            return -1, e.message
        chunks: list[bytes] = []

        async def collect() -> int:
            size = 0
            while (item := await proc.read()) is not None:
                if size < MAX_OUTPUT:
                    chunks.append(item[1])
                    size += len(item[1])
            return await proc.wait()

        timeout = cfg["Timeout"] / NS
        try:
            code = await asyncio.wait_for(collect(), timeout)
        except asyncio.TimeoutError:
            if ex.pid:
                try:
                    import os

                    os.kill(ex.pid, signal.SIGKILL)
                except OSError:
                    pass
            proc.close()
            return -1, f"Health check exceeded timeout ({_go_duration(timeout)})"
        return code, b"".join(chunks)[:MAX_OUTPUT].decode(errors="replace")

    def _record(self, c: "Container", cfg: dict, begin: str, code: int, output: str,
                in_start_period: bool) -> None:
        health = c.state["Health"]
        health["Log"] = [*health["Log"], {"Start": begin, "End": rfc3339nano(), "ExitCode": code,
                                          "Output": output}][-KEEP_LOGS:]
        before = health["Status"]
        if code == 0:
            health["FailingStreak"] = 0
            health["Status"] = "healthy"
        elif not (in_start_period and before == "starting"):
            health["FailingStreak"] += 1
            if health["FailingStreak"] >= cfg["Retries"]:
                health["Status"] = "unhealthy"
        self.containers.save_state(c)
        if health["Status"] != before:
            self.containers.events.publish("container", f"health_status: {health['Status']}", c.id,
                                           self.containers.event_attrs(c))
            if health["Status"] == "unhealthy":
                self._on_failure(c)

    def _on_failure(self, c: "Container") -> None:
        """Berth's --health-on-failure (podman's option): kill, restart or stop."""
        action = (c.host_config.get("HealthOnFailure") or "none").lower()
        if action == "none":
            return
        svc = self.containers
        if action == "kill":
            asyncio.ensure_future(svc.kill(c.id, "SIGKILL"))
        elif action == "stop":
            asyncio.ensure_future(svc.stop(c.id, None))
        elif action == "restart":
            asyncio.ensure_future(svc.restart(c.id, None))


def _go_duration(seconds: float) -> str:
    if seconds == int(seconds):
        s = int(seconds)
        if s >= 60 and s % 60 == 0:
            return f"{s // 60}m0s"
        return f"{s}s"
    return f"{seconds:g}s"
