"""`exec`: run a command in a running container and exit with its status."""

from __future__ import annotations


from .command import Cli, CliError, Command, StatusError
from .optvalues import OptionError, env_value, parse_kv_file
from .flags import FlagSet, Values
from .terminal import is_terminal, terminal_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _flags(fs: FlagSet) -> None:
    fs.interspersed = False
    fs.bool("detach", "d", "Detached mode: run command in the background")
    fs.string("detach-keys", "", "Override the key sequence for detaching a container")
    fs.list("env", "e", "Set environment variables", convert=env_value)
    fs.list("env-file", "", "Read in a file of environment variables")
    fs.bool("interactive", "i", "Keep STDIN open even if not attached")
    fs.bool("privileged", "", "Give extended privileges to the command")
    fs.bool("tty", "t", "Allocate a pseudo-TTY")
    fs.string("user", "u", 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    fs.string("workdir", "w", "Working directory inside the container")


def exec_body(v: Values, cmd: list[str], console: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """The ExecConfig docker's CLI sends (POST /containers/{id}/exec)."""
    env: list[str] = []
    for path in v.env_file:
        env.extend(parse_kv_file(path, lookup_env=True))
    env.extend(v.env)
    body: dict[str, Any] = {
        "User": v.user,
        "Privileged": v.privileged,
        "Tty": v.tty,
        "AttachStdin": bool(v.interactive and not v.detach),
        "AttachStderr": not v.detach,
        "AttachStdout": not v.detach,
        "Detach": v.detach,
        "DetachKeys": v.detach_keys,
        "Env": env or None,
        "WorkingDir": v.workdir,
        "Cmd": cmd,
    }
    if v.tty and console != (0, 0):
        body["ConsoleSize"] = [console[0], console[1]]
    return body


def _exec(cli: Cli, v: Values, args: list[str]) -> int:
    container, cmd = args[0], args[1:]
    client = cli.client()
    client.get(f"/containers/{container}/json")
    console = terminal_size(cli.out) if v.tty else (0, 0)
    try:
        body = exec_body(v, cmd, console)
    except OptionError as exc:
        raise CliError(exc.message) from None
    created = client.post(f"/containers/{container}/exec", None, body) or {}
    exec_id = created.get("Id")
    if not exec_id:
        raise CliError("exec ID empty")
    start: dict[str, Any] = {"Detach": v.detach, "Tty": v.tty}
    if "ConsoleSize" in body:
        start["ConsoleSize"] = body["ConsoleSize"]
    if v.detach:
        client.post(f"/exec/{exec_id}/start", None, start)
        return 0
    if body["AttachStdin"] and v.tty and not is_terminal(cli.stdin):
        raise CliError("the input device is not a TTY")
    hijacked = client.hijack(f"/exec/{exec_id}/start", json_body=start)
    from .session import run_session

    run_session(
        cli, hijacked, tty=v.tty, stdin=body["AttachStdin"], stdout=True, stderr=True,
        keys=v.detach_keys,
        resize=lambda h, w: client.post(f"/exec/{exec_id}/resize", {"h": h, "w": w}),
        resize_retry=True,
    )
    info = client.get(f"/exec/{exec_id}/json") or {}
    status = int(info.get("ExitCode") or 0)
    if status:
        raise StatusError(status)
    return 0


def exec_command() -> Command:
    return Command("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container",
                   _exec, _flags, ("min", 2), interspersed=False, aliases="container exec, exec")
