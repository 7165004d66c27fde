"""`attach`: connect our stdio to a running container.

As docker does, the wait request goes out first so the exit status of a
container that stops while we attach is not missed, and the container's state
is checked both before and after the attach.
"""

from __future__ import annotations


from .command import Cli, CliError, Command, StatusError
from .flags import FlagSet, Values
from .terminal import is_terminal, terminal_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _flags(fs: FlagSet) -> None:
    fs.string("detach-keys", "", "Override the key sequence for detaching a container")
    fs.bool("no-stdin", "", "Do not attach STDIN")
    fs.bool("sig-proxy", "", "Proxy all received signals to the process", default=True)


def _check_state(info: dict[str, Any]) -> None:
    state = info.get("State") or {}
    if not state.get("Running"):
        raise CliError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise CliError("You cannot attach to a paused container, unpause it first")
    if state.get("Restarting"):
        raise CliError("You cannot attach to a restarting container, wait until it is running")


def _attach(cli: Cli, v: Values, args: list[str]) -> int:
    client = cli.client()
    name = args[0]
    pending = client.request_early("POST", f"/containers/{name}/wait")
    info = client.get(f"/containers/{name}/json")
    _check_state(info)
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    if not v.no_stdin and tty and not is_terminal(cli.stdin):
        raise CliError("the input device is not a TTY")
    stdin = bool(not v.no_stdin and config.get("OpenStdin"))
    params: dict[str, Any] = {"stream": True, "stdout": True, "stderr": True}
    if stdin:
        params["stdin"] = True
    if v.detach_keys:
        params["detachKeys"] = v.detach_keys
    cid = info.get("Id") or name
    proxy = None
    if v.sig_proxy and not tty:
        from .terminal import SignalProxy

        proxy = SignalProxy(lambda sig: client.post(f"/containers/{cid}/kill", {"signal": sig}))
        proxy.start()
    try:
        hijacked = client.hijack(f"/containers/{name}/attach", params)
        try:
            _check_state(client.get(f"/containers/{name}/json"))
        except CliError:
            hijacked.close()
            raise

        def resize(h: int, w: int) -> None:
            client.post(f"/containers/{name}/resize", {"h": h, "w": w})

        if tty and is_terminal(cli.out):
            # Nudge the size so a shell redraws its prompt on re-attach (docker does the same).
            h, w = terminal_size(cli.out)
            try:
                resize(h + 1, w + 1)
            except CliError:
                pass
        from .session import run_session

        result = run_session(cli, hijacked, tty=tty, stdin=stdin, stdout=True, stderr=True,
                             keys=v.detach_keys, resize=resize)
        if result == "detached":
            raise CliError("read escape sequence")  # docker's words and exit status 1
    finally:
        if proxy is not None:
            proxy.stop()
    resp = pending.response()
    if resp.status >= 400:
        raise client.error_from(resp)
    data = resp.json() or {}
    error = data.get("Error") or {}
    if error and error.get("Message"):
        raise CliError(error["Message"])
    status = int(data.get("StatusCode") or 0)
    if status:
        raise StatusError(status)
    return 0


def attach_command() -> Command:
    return Command("attach", "[OPTIONS] CONTAINER",
                   "Attach local standard input, output, and error streams to a running container",
                   _attach, _flags, ("exact", 1), aliases="container attach, attach")
