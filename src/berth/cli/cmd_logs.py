"""`logs`: the container's log stream, split back into stdout and stderr.

The container is inspected first (as docker does) to learn whether it has a
TTY: then the stream is raw bytes, otherwise it is multiplexed frames.
"""

from __future__ import annotations


from .command import Cli, CliError, Command
from .flags import FlagSet, Values
from .units import UnitError, get_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _flags(fs: FlagSet) -> None:
    fs.bool("details", "", "Show extra details provided to logs")
    fs.bool("follow", "f", "Follow log output")
    fs.string("since", "", 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    fs.string("tail", "n", "Number of lines to show from the end of the logs", default="all")
    fs.bool("timestamps", "t", "Show timestamps")
    fs.string("until", "", 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')


def _timestamp(name: str, value: str) -> str:
    try:
        return get_timestamp(value)
    except UnitError as exc:
        raise CliError(f'invalid value for "{name}": {exc}') from None


def _logs(cli: Cli, v: Values, args: list[str]) -> int:
    client = cli.client()
    info = client.get(f"/containers/{args[0]}/json")
    params: dict[str, Any] = {"stdout": True, "stderr": True, "tail": v.tail}
    if v.since:
        params["since"] = _timestamp("since", v.since)
    if v.until:
        params["until"] = _timestamp("until", v.until)
    if v.timestamps:
        params["timestamps"] = True
    if v.follow:
        params["follow"] = True
    if v.details:
        params["details"] = True
    resp = client.request("GET", f"/containers/{info['Id']}/logs", params)
    from .session import binary
    from .stdio import OutputSink

    tty = bool((info.get("Config") or {}).get("Tty"))
    sink = OutputSink(binary(cli.out), binary(cli.err), tty)
    try:
        for chunk in resp.iter_raw():
            sink.write(chunk)
    except KeyboardInterrupt:
        return 130
    finally:
        resp.close()
    return 0


def logs_command() -> Command:
    return Command("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", _logs, _flags, ("exact", 1),
                   aliases="container logs, logs")
