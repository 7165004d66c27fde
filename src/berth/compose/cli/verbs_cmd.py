"""start, stop, restart, rm, kill, pause, unpause, wait: one verb over the project's
containers, in dependency order (stop-like verbs in reverse), parallel within a level."""

from __future__ import annotations

import threading
from typing import Any, Callable

from ...cli.command import APIError
from ...cli.flags import FlagSet, Values
from .. import engine as L
from ..errors import ComposeError
from .context import ComposeContext
from .down_cmd import _levels_reverse, _name


def _containers(ctx: ComposeContext, args: list[str], all: bool = True) -> tuple[Any, list[dict]]:
    project = ctx.project(services=args)
    ctx.services(args)
    rows = [c for c in ctx.engine().containers(project.name, all=all)
            if (c.get("Labels") or {}).get(L.ONEOFF) != "True"
            and (not args or (c.get("Labels") or {}).get(L.SERVICE) in args)]
    return project, rows


def _levels_forward(project: Any, containers: list[dict]) -> list[list[dict]]:
    return list(reversed(_levels_reverse(project, containers)))


def _each(ctx: ComposeContext, levels: list[list[dict]], doing: str, done: str,
          fn: Callable[[dict], None]) -> None:
    ev = ctx.progress().event
    errors: list[BaseException] = []

    def one(c: dict) -> None:
        ev("Container", _name(c), doing)
        try:
            if not ctx.dry_run:
                fn(c)
            ev("Container", _name(c), done)
        except BaseException as exc:  # noqa: BLE001
            ev("Container", _name(c), "Error")
            errors.append(exc)

    for level in levels:
        threads = [threading.Thread(target=one, args=(c,)) for c in level]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            exc = errors[0]
            if isinstance(exc, APIError):
                raise ComposeError(f"Error response from daemon: {exc.detail}")
            raise exc
    ctx.progress().summary()


def flags_start(fs: FlagSet) -> None:
    fs.bool("wait", "", "Wait for services to be running|healthy. Implies detached mode.")
    fs.int("wait-timeout", "", "Maximum duration in seconds to wait for the project to be running|healthy")


def run_start(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project, rows = _containers(ctx, args)
    for name in args or list(project.services):
        if not any((c.get("Labels") or {}).get(L.SERVICE) == name for c in rows):
            if args:
                raise ComposeError(f'service "{name}" has no container to start')
    engine = ctx.engine()
    todo = [c for c in rows if c.get("State") != "running"]
    _each(ctx, _levels_forward(project, todo), "Starting", "Started", lambda c: engine.start(c["Id"]))
    if v.wait:
        from ..convergence import Converger
        from .up_cmd import _wait_ready

        return _wait_ready(ctx, Converger(project, engine, ctx.progress()), args or list(project.services), v.wait_timeout)
    return 0


def flags_stop(fs: FlagSet) -> None:
    fs.int("timeout", "t", "Specify a shutdown timeout in seconds")


def run_stop(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project, rows = _containers(ctx, args)
    engine = ctx.engine()
    timeout = v.timeout if v.was_set("timeout") else None
    todo = [c for c in rows if c.get("State") in ("running", "paused", "restarting")]
    _each(ctx, _levels_reverse(project, todo), "Stopping", "Stopped", lambda c: engine.stop(c["Id"], timeout))
    return 0


def flags_restart(fs: FlagSet) -> None:
    fs.bool("no-deps", "", "Don't restart dependent services")
    fs.int("timeout", "t", "Specify a shutdown timeout in seconds")


def run_restart(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if args and not v.no_deps:  # services depending on the named ones restart with them
        project = ctx.project(services=args)
        wanted = list(args)
        changed = True
        while changed:
            changed = False
            for name, svc in project.services.items():
                if name not in wanted and any(d in wanted for d in svc.depends_on):
                    wanted.append(name)
                    changed = True
        args = wanted
    project, rows = _containers(ctx, args)
    engine = ctx.engine()
    params = {"t": str(v.timeout)} if v.was_set("timeout") else None
    _each(ctx, _levels_forward(project, rows), "Restarting", "Started",
          lambda c: engine.call("POST", f"/containers/{c['Id']}/restart", params))
    return 0


def flags_rm(fs: FlagSet) -> None:
    fs.bool("all", "a", "Deprecated - no effect", hidden=True)
    fs.bool("force", "f", "Don't ask to confirm removal")
    fs.bool("stop", "s", "Stop the containers, if required, before removing")
    fs.bool("volumes", "v", "Remove any anonymous volumes attached to containers")


def run_rm(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project, rows = _containers(ctx, args)
    engine = ctx.engine()
    if v.stop:
        running = [c for c in rows if c.get("State") in ("running", "paused", "restarting")]
        _each(ctx, _levels_reverse(project, running), "Stopping", "Stopped", lambda c: engine.stop(c["Id"]))
        rows = [dict(c, State="exited") for c in rows]
    stopped = [c for c in rows if c.get("State") not in ("running", "paused", "restarting")]
    if not stopped:
        ctx.cli.err.write("No stopped containers\n")
        return 0
    if not v.force:
        ctx.cli.err.write("Going to remove " + ", ".join(_name(c) for c in stopped) + "\n")
        ctx.cli.err.write("? Are you sure? [yN] ")
        ctx.cli.err.flush()
        line = ctx.cli.stdin.readline()
        if isinstance(line, bytes):
            line = line.decode(errors="replace")
        if line.strip().lower() not in ("y", "yes"):
            return 0
    _each(ctx, [stopped], "Removing", "Removed", lambda c: engine.remove(c["Id"], volumes=v.volumes, force=True))
    return 0


def flags_kill(fs: FlagSet) -> None:
    fs.bool("remove-orphans", "", "Remove containers for services not defined in the Compose file")
    fs.string("signal", "s", "SIGNAL to send to the container", default="SIGKILL")


def run_kill(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project, rows = _containers(ctx, args)
    engine = ctx.engine()
    if v.remove_orphans:
        known = set(project.services) | set(project.disabled)
        for c in engine.containers(project.name, all=True):
            if (c.get("Labels") or {}).get(L.SERVICE) not in known:
                engine.remove(c["Id"], force=True)
                ctx.progress().event("Container", _name(c), "Removed")
    running = [c for c in rows if c.get("State") in ("running", "restarting")]
    if not running:
        raise ComposeError("no container to kill")
    _each(ctx, [running], "Killing", "Killed", lambda c: engine.kill(c["Id"], v.signal))
    return 0


def flags_pause(fs: FlagSet) -> None:
    pass


def run_pause(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project, rows = _containers(ctx, args)
    engine = ctx.engine()
    running = [c for c in rows if c.get("State") == "running"]
    _each(ctx, [running], "Pausing", "Paused", lambda c: engine.call("POST", f"/containers/{c['Id']}/pause"))
    return 0


flags_unpause = flags_pause


def run_unpause(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project, rows = _containers(ctx, args)
    engine = ctx.engine()
    paused = [c for c in rows if c.get("State") == "paused"]
    _each(ctx, [paused], "Unpausing", "Unpaused", lambda c: engine.call("POST", f"/containers/{c['Id']}/unpause"))
    return 0


def flags_wait(fs: FlagSet) -> None:
    fs.bool("down-project", "", "Drops project when the first container stops")


def run_wait(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if not args:
        raise ComposeError('"berth compose wait" requires at least 1 argument.')
    project, rows = _containers(ctx, args)
    engine = ctx.engine()
    codes: list[int] = []
    lock = threading.Lock()
    first = threading.Event()

    def one(c: dict) -> None:
        code = int(engine.wait(c["Id"]).get("StatusCode", 0))
        with lock:
            codes.append(code)
        first.set()

    threads = [threading.Thread(target=one, args=(c,), daemon=True) for c in rows]
    for t in threads:
        t.start()
    if v.down_project:
        first.wait()
        from .down_cmd import run_down

        fs = FlagSet()
        from .down_cmd import flags_down

        flags_down(fs)
        dv, _ = fs.parse([])
        run_down(ctx, dv, [])
    else:
        for t in threads:
            t.join()
    return codes[0] if codes else 0
