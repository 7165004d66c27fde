"""Container lifecycle commands: start, stop, kill, restart, pause, unpause, rm,
wait, rename, top and `container prune` (`port` lives in cmd_network.py).

Commands that take several containers act on each in turn, print each name
that succeeded, print every failure to stderr and exit 1 if any failed, as
docker does; one bad name does not stop the others.
"""

from __future__ import annotations


from .command import APIError, Cli, CliError, Command, StatusError, confirm, filter_flag, filters_query
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def _each(cli: Cli, names: list[str], op: Callable[[str], Any], echo: bool = True,
          ignore: Callable[[CliError], bool] | None = None) -> int:
    errors: list[str] = []
    for name in names:
        try:
            op(name)
        except CliError as exc:
            if ignore is not None and ignore(exc):
                cli.err.write((exc.message or "") + "\n")
                continue
            errors.append(exc.message or "")
            continue
        if echo:
            cli.out.write(name + "\n")
    if errors:
        raise CliError("\n".join(errors))
    return 0


# --- start -------------------------------------------------------------------------------


def _start_flags(fs: FlagSet) -> None:
    fs.bool("attach", "a", "Attach STDOUT/STDERR and forward signals")
    fs.string("checkpoint", "", "Restore from this checkpoint")
    fs.string("checkpoint-dir", "", "Use a custom checkpoint storage directory")
    fs.string("detach-keys", "", "Override the key sequence for detaching a container")
    fs.bool("interactive", "i", "Attach container's STDIN")


def _start(cli: Cli, v: Values, args: list[str]) -> int:
    client = cli.client()
    if v.attach or v.interactive:
        if len(args) > 1:
            raise CliError("you cannot start and attach multiple containers at once")
        info = client.get(f"/containers/{args[0]}/json")
        cid = info["Id"]
        config = info.get("Config") or {}
        tty = bool(config.get("Tty"))
        auto_remove = bool((info.get("HostConfig") or {}).get("AutoRemove"))
        stdin = bool(v.interactive and config.get("OpenStdin"))
        proxy = None
        if not tty:
            from .terminal import SignalProxy

            proxy = SignalProxy(lambda sig: client.post(f"/containers/{cid}/kill", {"signal": sig}))
            proxy.start()
        try:
            params: dict[str, Any] = {"stream": True, "stdout": True, "stderr": True}
            if stdin:
                params["stdin"] = True
            if v.detach_keys:
                params["detachKeys"] = v.detach_keys
            hijacked = client.hijack(f"/containers/{cid}/attach", params)
            pending = client.request_early(
                "POST", f"/containers/{cid}/wait", {"condition": "removed" if auto_remove else "next-exit"}
            )
            try:
                start_params = {}
                if v.checkpoint:
                    start_params["checkpoint"] = v.checkpoint
                if v.checkpoint_dir:
                    start_params["checkpoint-dir"] = v.checkpoint_dir
                client.post(f"/containers/{cid}/start", start_params or None)
            except CliError:
                hijacked.close()
                if auto_remove:
                    try:
                        pending.response().read()
                    except (OSError, CliError):
                        pass
                raise
            from .session import run_session

            result = run_session(
                cli, hijacked, tty=tty, stdin=stdin, stdout=True, stderr=True, keys=v.detach_keys,
                resize=lambda h, w: client.post(f"/containers/{cid}/resize", {"h": h, "w": w}),
            )
            if result == "detached":
                return 0
            from .cmd_run import wait_status

            status = wait_status(cli, pending)
            if status:
                raise StatusError(status)
            return 0
        finally:
            if proxy is not None:
                proxy.stop()
    if v.checkpoint:
        if len(args) > 1:
            raise CliError("you cannot restore multiple containers at once")
        client.post(f"/containers/{args[0]}/start",
                    {"checkpoint": v.checkpoint, "checkpoint-dir": v.checkpoint_dir or None})
        return 0
    failed: list[str] = []
    for name in args:
        try:
            client.post(f"/containers/{name}/start")
        except CliError as exc:
            cli.err.write((exc.message or "") + "\n")
            failed.append(name)
            continue
        cli.out.write(name + "\n")
    if failed:
        raise CliError(f"Error: failed to start containers: {', '.join(failed)}")
    return 0


def start_command() -> Command:
    return Command("start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers",
                   _start, _start_flags, ("min", 1), aliases="container start, start")


# --- stop / restart / kill / pause / unpause -----------------------------------------------


def _stop_flags(fs: FlagSet) -> None:
    fs.string("signal", "s", "Signal to send to the container")
    fs.int("timeout", "t", "Seconds to wait before killing the container")
    fs.int("time", "", "Seconds to wait before killing the container", deprecated="use --timeout instead",
           hidden=True)


def _stop_params(v: Values) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if v.signal:
        params["signal"] = v.signal
    if "timeout" in v.changed and "time" in v.changed:
        raise CliError("conflicting options: cannot specify both --timeout and --time")
    if "timeout" in v.changed:
        params["t"] = v.timeout
    elif "time" in v.changed:
        params["t"] = v.time
    return params


def _stop(cli: Cli, v: Values, args: list[str]) -> int:
    params = _stop_params(v)
    client = cli.client()
    return _each(cli, args, lambda n: client.post(f"/containers/{n}/stop", params or None))


def stop_command() -> Command:
    return Command("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
                   _stop, _stop_flags, ("min", 1), aliases="container stop, stop")


def _restart(cli: Cli, v: Values, args: list[str]) -> int:
    params = _stop_params(v)
    client = cli.client()
    return _each(cli, args, lambda n: client.post(f"/containers/{n}/restart", params or None))


def restart_command() -> Command:
    return Command("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
                   _restart, _stop_flags, ("min", 1), aliases="container restart, restart")


def _kill_flags(fs: FlagSet) -> None:
    fs.string("signal", "s", "Signal to send to the container")


def _kill(cli: Cli, v: Values, args: list[str]) -> int:
    params = {"signal": v.signal} if v.signal else None
    client = cli.client()
    return _each(cli, args, lambda n: client.post(f"/containers/{n}/kill", params))


def kill_command() -> Command:
    return Command("kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
                   _kill, _kill_flags, ("min", 1), aliases="container kill, kill")


def _pause(cli: Cli, v: Values, args: list[str]) -> int:
    client = cli.client()
    return _each(cli, args, lambda n: client.post(f"/containers/{n}/pause"))


def pause_command() -> Command:
    return Command("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
                   _pause, None, ("min", 1), aliases="container pause, pause")


def _unpause(cli: Cli, v: Values, args: list[str]) -> int:
    client = cli.client()
    return _each(cli, args, lambda n: client.post(f"/containers/{n}/unpause"))


def unpause_command() -> Command:
    return Command("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers",
                   _unpause, None, ("min", 1), aliases="container unpause, unpause")


# --- rm -------------------------------------------------------------------------------------


def _rm_flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Force the removal of a running container (uses SIGKILL)")
    fs.bool("link", "l", "Remove the specified link")
    fs.bool("volumes", "v", "Remove anonymous volumes associated with the container")


def _rm(cli: Cli, v: Values, args: list[str]) -> int:
    if v.link:
        # docker's `rm --link` removes only a legacy link, not the container. Berth has no
        # legacy links, and a daemon that ignored link=1 would delete the container instead,
        # so refuse before sending anything.
        raise CliError("Error: removing legacy links (rm --link) is not supported by berth")
    params: dict[str, Any] = {}
    if v.volumes:
        params["v"] = True
    if v.force:
        params["force"] = True
    client = cli.client()

    def op(name: str) -> None:
        name = name.strip("/")
        if not name:
            raise CliError("Container name cannot be empty")
        client.delete(f"/containers/{name}", params or None)

    def missing_and_forced(exc: CliError) -> bool:
        return bool(v.force and isinstance(exc, APIError) and exc.not_found)

    return _each(cli, args, op, ignore=missing_and_forced)


def rm_command() -> Command:
    return Command("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
                   _rm, _rm_flags, ("min", 1), aliases="container rm, container remove, rm")


# --- wait -----------------------------------------------------------------------------------


def _wait(cli: Cli, v: Values, args: list[str]) -> int:
    client = cli.client()
    errors: list[str] = []
    for name in args:
        try:
            resp = client.request("POST", f"/containers/{name}/wait")
            data = resp.json() or {}
        except CliError as exc:
            errors.append(exc.message or "")
            continue
        cli.out.write(f"{data.get('StatusCode', 0)}\n")
    if errors:
        raise CliError("\n".join(errors))
    return 0


def wait_command() -> Command:
    return Command("wait", "CONTAINER [CONTAINER...]",
                   "Block until one or more containers stop, then print their exit codes",
                   _wait, None, ("min", 1), aliases="container wait, wait")


# --- rename ---------------------------------------------------------------------------------


def _rename(cli: Cli, v: Values, args: list[str]) -> int:
    old, new = args[0].strip(), args[1].strip()
    if not old or not new:
        raise CliError("Error: Neither old nor new names may be empty")
    try:
        cli.client().post(f"/containers/{old}/rename", {"name": new})
    except CliError as exc:
        raise CliError(f"{exc.message}\nError: failed to rename container named {old}") from None
    return 0


def rename_command() -> Command:
    return Command("rename", "CONTAINER NEW_NAME", "Rename a container", _rename, None, ("exact", 2),
                   aliases="container rename, rename")


# --- top --------------------------------------------------------------------------------------


def _top(cli: Cli, v: Values, args: list[str]) -> int:
    from .formatter import tabwrite

    params = {"ps_args": " ".join(args[1:])} if len(args) > 1 else None
    data = cli.client().get(f"/containers/{args[0]}/top", params) or {}
    lines = ["\t".join(data.get("Titles") or [])]
    lines.extend("\t".join(p) for p in data.get("Processes") or [])
    cli.out.write(tabwrite("\n".join(lines) + "\n", minwidth=20, padding=3))
    return 0


def top_command() -> Command:
    return Command("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container",
                   _top, None, ("min", 1), interspersed=False, aliases="container top, top")


# --- container prune -------------------------------------------------------------------------


def _prune_flags(fs: FlagSet) -> None:
    filter_flag(fs, "", 'Provide filter values (e.g. "until=<timestamp>")')
    fs.bool("force", "f", "Do not prompt for confirmation")


def _prune(cli: Cli, v: Values, args: list[str]) -> int:
    from .units import human_size

    if not v.force and not confirm(cli, "WARNING! This will remove all stopped containers.\n"
                                        "Are you sure you want to continue?"):
        return 0
    from .prunefilters import prune_filters

    params = {"filters": filters_query(prune_filters(cli, list(v.filter)))}
    report = cli.client().post("/containers/prune", params) or {}
    out = ""
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        out = "Deleted Containers:\n" + "".join(d + "\n" for d in deleted) + "\n"
    out += f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0)}\n"
    cli.out.write(out)
    return 0


def prune_command() -> Command:
    return Command("prune", "[OPTIONS]", "Remove all stopped containers", _prune, _prune_flags, ("none",))
