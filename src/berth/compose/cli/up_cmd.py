"""`compose up` and `compose create`."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from ...cli.flags import FlagSet, Values
from ..convergence import Converger, UpOptions
from ..errors import ComposeError
from .context import ComposeContext


def _create_flags(fs: FlagSet) -> None:
    fs.bool("build", "", "Build images before starting containers")
    fs.bool("force-recreate", "", "Recreate containers even if their configuration and image haven't changed")
    fs.bool("no-build", "", "Don't build an image, even if it's policy")
    fs.bool("no-recreate", "", "If containers already exist, don't recreate them. Incompatible with --force-recreate.")
    fs.string("pull", "", 'Pull image before running ("always"|"missing"|"never"|"build")', default="policy")
    fs.bool("quiet-pull", "", "Pull without printing progress information")
    fs.bool("remove-orphans", "", "Remove containers for services not defined in the Compose file")
    fs.list("scale", "", "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.", kind="scale")
    fs.bool("yes", "y", 'Assume "yes" as answer to all prompts and run non-interactively')


def flags_create(fs: FlagSet) -> None:
    _create_flags(fs)


def flags_up(fs: FlagSet) -> None:
    fs.bool("abort-on-container-exit", "", "Stops all containers if any container was stopped. Incompatible with -d")
    fs.bool("abort-on-container-failure", "", "Stops all containers if any container exited with failure. Incompatible with -d")
    fs.bool("always-recreate-deps", "", "Recreate dependent containers. Incompatible with --no-recreate.")
    fs.list("attach", "", "Restrict attaching to the specified services. Incompatible with --attach-dependencies.", kind="stringArray")
    fs.bool("attach-dependencies", "", "Automatically attach to log output of dependent services")
    _create_flags(fs)
    fs.bool("detach", "d", "Detached mode: Run containers in the background")
    fs.string("exit-code-from", "", "Return the exit code of the selected service container. Implies --abort-on-container-exit")
    fs.bool("menu", "", "Enable interactive shortcuts when running attached.")
    fs.list("no-attach", "", "Do not attach (stream logs) to the specified services", kind="stringArray")
    fs.bool("no-color", "", "Produce monochrome output")
    fs.bool("no-deps", "", "Don't start linked services")
    fs.bool("no-log-prefix", "", "Don't print prefix in logs")
    fs.bool("no-start", "", "Don't start the services after creating them")
    fs.bool("renew-anon-volumes", "V", "Recreate anonymous volumes instead of retrieving data from the previous containers")
    fs.int("timeout", "t", "Use this timeout in seconds for container shutdown when attached or when containers are already running")
    fs.bool("timestamps", "", "Show timestamps")
    fs.bool("wait", "", "Wait for services to be running|healthy. Implies detached mode.")
    fs.int("wait-timeout", "", "Maximum duration in seconds to wait for the project to be running|healthy")
    fs.bool("watch", "w", "Watch source code and rebuild/refresh containers when files are updated.")


def _scale(values: list[str], project: Any) -> dict[str, int]:
    out = {}
    for item in values or []:
        name, eq, num = item.partition("=")
        if not eq:
            raise ComposeError(f"invalid --scale value {item!r}: expected SERVICE=NUM")
        try:
            out[name] = int(num)
        except ValueError:
            raise ComposeError(f"invalid --scale value {item!r}: {num!r} is not a number") from None
        if name not in project.services:
            raise ComposeError(f"no such service: {name}")
    return out


def _options(v: Values, project: Any, ctx: ComposeContext) -> UpOptions:
    if v.build and v.no_build:
        raise ComposeError("--build and --no-build are incompatible")
    if v.force_recreate and v.no_recreate:
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    if v.pull not in ("policy", "always", "missing", "never", "build"):
        raise ComposeError(f'invalid --pull option "{v.pull}"')
    build = "always" if v.build else ("never" if v.no_build else "auto")
    timeout = v.get("timeout") if v.was_set("timeout") else None
    return UpOptions(force_recreate=v.force_recreate, no_recreate=v.no_recreate,
                     always_recreate_deps=bool(v.get("always_recreate_deps")),
                     renew_anon_volumes=bool(v.get("renew_anon_volumes")),
                     no_start=bool(v.get("no_start")), remove_orphans=v.remove_orphans,
                     scale=_scale(v.scale, project), timeout=timeout, build=build, dry_run=ctx.dry_run)


def converge(ctx: ComposeContext, v: Values, args: list[str], no_start: bool) -> tuple[Any, list[str], dict]:
    project = ctx.project(services=args)
    ctx.services(args)
    opts = _options(v, project, ctx)
    opts.no_start = no_start
    services = project.with_dependencies(args or list(project.services), include_deps=not v.get("no_deps"))
    from ..create_body import check_supported

    for name in services:  # refused before anything is created
        check_supported(project.services[name])
    progress = ctx.progress()
    conv = Converger(project, ctx.engine(), progress)
    conv.max_parallel = ctx.g.get("parallel") if ctx.g.get("parallel") is not None else -1
    conv.quiet_pull = bool(v.quiet_pull)
    orphans = conv.orphans()
    if ctx.env_flag("COMPOSE_REMOVE_ORPHANS"):
        opts.remove_orphans = True
    if orphans and not (ctx.env_flag("COMPOSE_IGNORE_ORPHANS") and not opts.remove_orphans):
        if opts.remove_orphans:
            for c in orphans:
                name = (c.get("Names") or ["/"])[0].lstrip("/")
                progress.event("Container", name, "Removing")
                if not ctx.dry_run:
                    conv.engine.remove(c["Id"], force=True)
                progress.event("Container", name, "Removed")
        else:
            names = ", ".join((c.get("Names") or ["/"])[0].lstrip("/") for c in orphans)
            ctx.cli.err.write(f"WARN[0000] Found orphan containers ([{names}]) for this project. If you removed or "
                              "renamed this service in your compose file, you can run this command with the "
                              "--remove-orphans flag to clean it up.\n")
    if v.pull in ("always", "never", "build", "missing"):
        for name in services:  # --pull overrides every service's pull_policy
            project.services[name].config["pull_policy"] = v.pull
    try:
        conv.ensure_networks(services, dry_run=ctx.dry_run)
        conv.ensure_volumes(services, dry_run=ctx.dry_run)
        actions = conv.plan(services, opts)
        if ctx.dry_run:
            for a in actions:
                replicas = opts.scale.get(a.service, project.services[a.service].replicas)
                ctx.cli.out.write(a.describe(replicas) + "\n")
            return conv, services, {}
        ids = asyncio.run(conv.converge(services, actions, opts))
    except BaseException:
        if not ctx.dry_run:
            conv.rollback()
        raise
    progress.summary()
    return conv, services, ids


def run_create(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    converge(ctx, v, args, no_start=True)
    return 0


def run_up(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if v.watch:
        raise ComposeError("--watch is not supported by berth compose")
    if v.menu:
        raise ComposeError("--menu is not supported by berth compose")
    abort = v.abort_on_container_exit or v.abort_on_container_failure or bool(v.exit_code_from)
    if v.detach and abort:
        raise ComposeError("-d and --abort-on-container-exit are incompatible")
    if v.attach and v.attach_dependencies:
        raise ComposeError("--attach and --attach-dependencies are incompatible")
    if v.always_recreate_deps and v.no_recreate:
        raise ComposeError("--always-recreate-deps and --no-recreate are incompatible")
    if v.detach and v.exit_code_from:
        raise ComposeError("-d and --exit-code-from are incompatible")
    detach = v.detach or v.wait
    began = time.time()
    conv, services, ids = converge(ctx, v, args, no_start=v.no_start)
    if ctx.dry_run or v.no_start:
        return 0
    if v.wait:
        return _wait_ready(ctx, conv, services, v.wait_timeout)
    if detach:
        return 0
    return _attach(ctx, conv, v, args or services, services, began)


def _wait_ready(ctx: ComposeContext, conv: Converger, services: list[str], timeout: int) -> int:
    deadline = time.monotonic() + timeout if timeout else None
    for c in conv.containers():
        labels = c.get("Labels") or {}
        if labels.get("com.docker.compose.service") not in services:
            continue
        name = (c.get("Names") or ["/"])[0].lstrip("/")
        conv.progress.event("Container", name, "Waiting")
        while True:
            state = conv.engine.inspect(c["Id"]).get("State") or {}
            health = (state.get("Health") or {}).get("Status")
            if state.get("Running") and health in (None, "healthy"):
                conv.progress.event("Container", name, "Healthy" if health else "Running")
                break
            if health == "unhealthy":
                conv.progress.event("Container", name, "Error")
                raise ComposeError(f"container {name} is unhealthy")
            if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                service = labels.get("com.docker.compose.service")
                one_shot = any((s.depends_on.get(service) or {}).get("condition") == "service_completed_successfully"
                               for s in conv.project.services.values())
                if one_shot and state.get("ExitCode") == 0:  # a job others wait for: done is ready
                    conv.progress.event("Container", name, "Exited")
                    break
                conv.progress.event("Container", name, "Error")
                raise ComposeError(f"container {name} exited ({state.get('ExitCode')})")
            if deadline and time.monotonic() > deadline:
                raise ComposeError(f"timeout waiting for {name} to be running|healthy")
            time.sleep(0.1)
    return 0


def _attach(ctx: ComposeContext, conv: Converger, v: Values, targets: list[str], services: list[str],
            began: float) -> int:
    """Foreground `up`: stream every container's log until they all stop (or one does, with
    --abort-on-container-exit); Ctrl-C stops the project gracefully."""
    from .logs_cmd import LogPrinter, short_name, stream_logs

    # the services named on the command line (their dependencies with --attach-dependencies)
    chosen = services if v.attach_dependencies else targets
    default = [n for n in chosen if conv.project.services[n].config.get("attach", True) is not False]
    attach_to = set(v.attach or default) - set(v.no_attach or [])
    containers = [c for c in conv.containers()
                  if (c.get("Labels") or {}).get("com.docker.compose.service") in services]
    shown = [c for c in containers if (c.get("Labels") or {}).get("com.docker.compose.service") in attach_to]
    names = [short_name(c) for c in shown]
    out = ctx.cli.out
    printer = LogPrinter(out, names, color=ctx.color(v.no_color), prefix=not v.no_log_prefix)
    out.write(f"Attaching to {', '.join(names)}\n")
    out.flush()
    engine = conv.engine
    exits: dict[str, int] = {}
    done = threading.Event()
    abort = v.abort_on_container_exit or bool(v.exit_code_from)
    abort_fail = v.abort_on_container_failure

    def follow(c: dict, name: str) -> None:
        try:
            # output since this `up` began: all of a new container's, none of an old one's history
            stream_logs(engine, c["Id"], name, printer, True, "all", v.timestamps, since=f"{began:.9f}")
        except Exception:  # noqa: BLE001 - a dropped log stream must not end the others
            pass

    def watch(c: dict, name: str) -> None:
        try:
            res = engine.wait(c["Id"])
            code = int(res.get("StatusCode", 0))
        except Exception:  # noqa: BLE001
            code = -1
        follower = followers.get(c["Id"])
        if follower is not None:
            follower.join(5)  # the container's last lines before its exit line
        exits[c["Id"]] = code
        printer.status(name, f"exited with code {code}")
        if abort or (abort_fail and code != 0) or len(exits) == len(containers):
            done.set()

    followers: dict[str, threading.Thread] = {}
    for c, n in zip(shown, names):
        followers[c["Id"]] = threading.Thread(target=follow, args=(c, n), daemon=True)
        followers[c["Id"]].start()
    watchers = [threading.Thread(target=watch, args=(c, short_name(c)), daemon=True) for c in containers]
    for t in watchers:
        t.start()
    interrupted = False
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        interrupted = True
        ctx.cli.err.write("Gracefully stopping... (press Ctrl+C again to force)\n")
    if interrupted or abort or abort_fail:
        if abort and not interrupted:
            ctx.cli.err.write("Aborting on container exit...\n")
        _stop_all(conv, containers, v.get("timeout") if v.was_set("timeout") else None)
    for t in watchers:  # their last log lines and "exited with code" before we return
        t.join(10)
    if v.exit_code_from:
        for c in containers:
            if (c.get("Labels") or {}).get("com.docker.compose.service") == v.exit_code_from:
                info = engine.inspect(c["Id"])
                return int((info.get("State") or {}).get("ExitCode", 0))
    if abort_fail:
        failed = [code for code in exits.values() if code]
        return failed[0] if failed else 0
    return 130 if interrupted else 0


def _stop_all(conv: Converger, containers: list[dict], timeout: int | None) -> None:
    ev = conv.progress.event

    def stop(c: dict) -> None:
        name = (c.get("Names") or ["/"])[0].lstrip("/")
        ev("Container", name, "Stopping")
        try:
            conv.engine.stop(c["Id"], timeout)
        except Exception:  # noqa: BLE001
            pass
        ev("Container", name, "Stopped")

    threads = [threading.Thread(target=stop, args=(c,)) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()




def flags_scale(fs: FlagSet) -> None:
    fs.bool("no-deps", "", "Don't start linked services")


def run_scale(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    """`scale web=3 db=1`: `up -d --no-recreate --scale ...` for the named services."""
    if not args:
        raise ComposeError('"berth compose scale" requires at least 1 argument.')
    fs = FlagSet()
    flags_up(fs)
    uv, _ = fs.parse(["-d", "--no-recreate"] + (["--no-deps"] if v.no_deps else [])
                     + [x for a in args for x in ("--scale", a)])
    names = [a.partition("=")[0] for a in args]
    converge(ctx, uv, names, no_start=False)
    return 0
