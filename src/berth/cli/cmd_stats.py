"""`berth stats`: containers' resource usage, once (--no-stream) or redrawn live.

The figures are computed from the API's stats documents the way docker's CLI
computes them: CPU % from the delta against `precpu_stats` scaled by the
online CPUs, memory without the inactive page cache, network and block I/O
summed over interfaces and devices. The live mode redraws every 500 ms like
docker's: cursor home, each line followed by "erase to end of line", then
"erase below".
"""

from __future__ import annotations

import threading

from .command import FORMAT_USAGE, Cli, CliError, Command
from .flags import FlagSet, Values
from .formatter import Row, write_rows
from .units import bytes_size, human_size_with_precision

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_COLUMNS = ("ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs")
HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
TICK = 0.5


def _stats_flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Show all containers (default shows just running)")
    fs.string("format", "", FORMAT_USAGE)
    fs.bool("no-stream", "", "Disable streaming stats and only pull the first result")
    fs.bool("no-trunc", "", "Do not truncate output")


# --- docker's arithmetic ----------------------------------------------------------------------


def cpu_percent(doc: dict[str, Any]) -> float:
    cpu = doc.get("cpu_stats") or {}
    pre = doc.get("precpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    cpu_delta = float(usage.get("total_usage") or 0) - float((pre.get("cpu_usage") or {}).get("total_usage") or 0)
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(pre.get("system_cpu_usage") or 0)
    online = float(cpu.get("online_cpus") or 0)
    if online == 0.0:
        online = float(len(usage.get("percpu_usage") or ()))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(mem: dict[str, Any]) -> float:
    """Usage without the inactive file cache (cgroup v1: total_inactive_file, v2: inactive_file)."""
    usage = int(mem.get("usage") or 0)
    stats = mem.get("stats") or {}
    if "total_inactive_file" in stats and int(stats["total_inactive_file"]) < usage:
        return float(usage - int(stats["total_inactive_file"]))
    inactive = int(stats.get("inactive_file") or 0)
    if inactive < usage:
        return float(usage - inactive)
    return float(usage)


def block_io(doc: dict[str, Any]) -> tuple[float, float]:
    read = write = 0
    for entry in (doc.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ():
        op = entry.get("op") or ""
        if not op:
            continue
        if op[0] in "rR":
            read += int(entry.get("value") or 0)
        elif op[0] in "wW":
            write += int(entry.get("value") or 0)
    return float(read), float(write)


def network_io(doc: dict[str, Any]) -> tuple[float, float]:
    rx = tx = 0
    for net in (doc.get("networks") or {}).values():
        rx += int(net.get("rx_bytes") or 0)
        tx += int(net.get("tx_bytes") or 0)
    return float(rx), float(tx)


class Entry:
    """docker's StatsEntry: the numbers for one container."""

    def __init__(self, container: str) -> None:
        self.container = container
        self.name = ""
        self.id = ""
        self.cpu = 0.0
        self.memory = 0.0
        self.memory_limit = 0.0
        self.memory_percent = 0.0
        self.net = (0.0, 0.0)
        self.block = (0.0, 0.0)
        self.pids = 0
        self.invalid = False
        self.error: str | None = None
        self.ready = threading.Event()

    def set_from(self, doc: dict[str, Any]) -> None:
        mem = doc.get("memory_stats") or {}
        self.name = doc.get("name") or ""
        self.id = doc.get("id") or ""
        self.cpu = cpu_percent(doc)
        self.memory = memory_usage(mem)
        self.memory_limit = float(mem.get("limit") or 0)
        self.memory_percent = self.memory / self.memory_limit * 100.0 if self.memory_limit != 0 else 0.0
        self.net = network_io(doc)
        self.block = block_io(doc)
        self.pids = int((doc.get("pids_stats") or {}).get("current") or 0)
        self.invalid = False
        self.error = None

    def row(self, trunc: bool) -> Row:
        name = self.name[1:] if len(self.name) > 1 else "--"
        ident = self.id[:12] if trunc else self.id
        if self.invalid:
            return Row(Container=self.container, Name=name, ID=ident, CPUPerc="--", MemUsage="-- / --",
                       MemPerc="--", NetIO="--", BlockIO="--", PIDs="--")
        return Row(
            Container=self.container, Name=name, ID=ident,
            CPUPerc=f"{self.cpu:.2f}%",
            MemUsage=f"{bytes_size(self.memory)} / {bytes_size(self.memory_limit)}",
            MemPerc=f"{self.memory_percent:.2f}%",
            NetIO=f"{human_size_with_precision(self.net[0], 3)} / {human_size_with_precision(self.net[1], 3)}",
            BlockIO=f"{human_size_with_precision(self.block[0], 3)} / {human_size_with_precision(self.block[1], 3)}",
            PIDs=str(self.pids),
        )


def render(fmt: str, entries: list[Entry], trunc: bool) -> str:
    import io

    buf = io.StringIO()
    write_rows(buf, _format(fmt), [e.row(trunc) for e in entries], HEADERS, DEFAULT_COLUMNS)
    return buf.getvalue()


def _format(fmt: str) -> str:
    return "table" if fmt in ("", "table") else fmt


def redraw(text: str, first: bool) -> str:
    """One frame of the live view: cursor home, then lines that erase what was under them."""
    if first:
        return "\033[H" + text
    return "\033[H" + "".join(line + " \033[K\n" for line in text.split("\n")) + "\033[J"


# --- collecting -------------------------------------------------------------------------------


def _collect(cli: Cli, entry: Entry, stream: bool, stop: threading.Event) -> None:
    from .client import APIClient

    client = APIClient(cli.host, tls=cli.tls)
    try:
        if not stream:
            entry.set_from(client.get(f"/containers/{entry.container}/stats", {"stream": False}) or {})
            return
        resp = client.request("GET", f"/containers/{entry.container}/stats", {"stream": True})
        for doc in resp.iter_json():
            if stop.is_set():
                break
            entry.set_from(doc or {})
            entry.ready.set()
    except CliError as exc:
        entry.error = exc.message or ""
        entry.invalid = True
    except Exception as exc:  # noqa: BLE001 - a broken stream marks the row invalid, as docker does
        entry.error = str(exc)
        entry.invalid = True
    finally:
        entry.ready.set()
        client.close()


def _start(cli: Cli, entry: Entry, stream: bool, stop: threading.Event) -> threading.Thread:
    t = threading.Thread(target=_collect, args=(cli, entry, stream, stop), daemon=True)
    t.start()
    return t


def _list(cli: Cli, show_all: bool) -> list[str]:
    containers = cli.client().get("/containers/json", {"all": True} if show_all else None) or []
    return [c["Id"][:12] for c in containers]


def _stats(cli: Cli, v: Values, args: list[str]) -> int:
    trunc = not v.no_trunc
    stop = threading.Event()
    fixed = bool(args)
    names = list(args) if fixed else _list(cli, v.all)
    entries: dict[str, Entry] = {}
    for name in names:
        if name not in entries:
            entries[name] = Entry(name)
            _start(cli, entries[name], not v.no_stream, stop)
    if v.no_stream:
        for entry in entries.values():
            entry.ready.wait()
        errors = [e.error for e in entries.values() if e.error is not None]
        if fixed and errors:
            raise CliError("\n".join(errors))
        shown = [e for e in entries.values() if not (e.error is not None and not fixed)]
        cli.out.write(render(v.format, shown, trunc))
        return 0
    import time

    if fixed:
        for entry in entries.values():
            entry.ready.wait()
        errors = [e.error for e in entries.values() if e.error is not None]
        if errors:
            raise CliError("\n".join(errors))
    first = True
    try:
        while True:
            for entry in list(entries.values()):
                entry.ready.wait(TICK)
            if not fixed:
                try:
                    current = _list(cli, v.all)
                except CliError:
                    current = list(entries)
                for name in current:
                    if name not in entries:
                        entries[name] = Entry(name)
                        _start(cli, entries[name], True, stop)
                for name in list(entries):
                    if name not in current:
                        del entries[name]
            text = render(v.format, list(entries.values()), trunc)
            cli.out.write(redraw(text, first))
            cli.out.flush()
            first = False
            time.sleep(TICK)
    finally:
        stop.set()


def stats_command() -> Command:
    return Command("stats", "[OPTIONS] [CONTAINER...]",
                   "Display a live stream of container(s) resource usage statistics",
                   _stats, _stats_flags, ("any",), aliases="container stats, stats")
