"""`compose logs` and the log output of a foreground `compose up`: each line prefixed
with the container's name without the project (`web-1  | `), padded to the longest
name plus one, coloured per container on a terminal."""

from __future__ import annotations

import threading
from typing import Any, TextIO

from ...cli.flags import FlagSet, Values
from ..engine import NUMBER, SERVICE
from .context import ComposeContext

_COLORS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


def short_name(c: dict) -> str:
    labels = c.get("Labels") or {}
    if labels.get(SERVICE) and labels.get(NUMBER):
        return f"{labels[SERVICE]}-{labels[NUMBER]}"
    return (c.get("Names") or ["/?"])[0].lstrip("/")


class LogPrinter:
    def __init__(self, out: TextIO, names: list[str], color: bool, prefix: bool = True) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.width = max((len(n) for n in names), default=0) + 1
        self.prefixes: dict[str, str] = {}
        self.color = color
        self.prefix = prefix
        for i, n in enumerate(names):
            self.register(n, i)

    def register(self, name: str, index: int | None = None) -> None:
        if name in self.prefixes:
            return
        index = len(self.prefixes) if index is None else index
        text = f"{name:<{self.width}} | " if self.prefix else ""
        if self.color and text:
            text = f"\033[{_COLORS[index % len(_COLORS)]}m{text}\033[0m"
        self.prefixes[name] = text

    def line(self, name: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{self.prefixes.get(name, '')}{text}\n")
            self.out.flush()

    def status(self, name: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{name} {text}\n")
            self.out.flush()


def stream_logs(engine: Any, cid: str, name: str, printer: LogPrinter, follow: bool, tail: str = "all",
                timestamps: bool = False, since: str = "", until: str = "") -> None:
    """Copy one container's log to the printer, line by line (stdout and stderr demultiplexed)."""
    params = {"stdout": "1", "stderr": "1", "tail": tail or "all"}
    if follow:
        params["follow"] = "1"
    if timestamps:
        params["timestamps"] = "1"
    if since:
        params["since"] = since
    if until:
        params["until"] = until
    resp = engine.stream("GET", f"/containers/{cid}/logs", params)
    tty = "multiplexed" not in (resp.header("content-type") or "")
    pending = {1: b"", 2: b""}
    buf = b""
    for chunk in resp.iter_raw():
        if tty:
            pending[1] += chunk
        else:
            buf += chunk
            while len(buf) >= 8:
                size = int.from_bytes(buf[4:8], "big")
                if len(buf) < 8 + size:
                    break
                stream = buf[0] if buf[0] in (1, 2) else 1
                pending[stream] += buf[8:8 + size]
                buf = buf[8 + size:]
        for s in (1, 2):
            while b"\n" in pending[s]:
                ln, _, pending[s] = pending[s].partition(b"\n")
                printer.line(name, ln.decode("utf-8", "replace").rstrip("\r"))
    for s in (1, 2):
        if pending[s]:
            printer.line(name, pending[s].decode("utf-8", "replace"))


def flags_logs(fs: FlagSet) -> None:
    fs.bool("follow", "f", "Follow log output")
    fs.int("index", "", "index of the container if service has multiple replicas")
    fs.bool("no-color", "", "Produce monochrome output")
    fs.bool("no-log-prefix", "", "Don't print prefix in logs")
    fs.string("since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
    fs.string("tail", "n", "Number of lines to show from the end of the logs for each container", default="all")
    fs.bool("timestamps", "t", "Show timestamps")
    fs.string("until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")


def run_logs(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    from ..convergence import Converger

    project = ctx.project(services=args)
    ctx.services(args)
    conv = Converger(project, ctx.engine(), ctx.progress())
    containers = [c for c in conv.containers()
                  if not args or (c.get("Labels") or {}).get(SERVICE) in args]
    if v.index:
        containers = [c for c in containers if (c.get("Labels") or {}).get(NUMBER) == str(v.index)]
    names = [short_name(c) for c in containers]
    printer = LogPrinter(ctx.cli.out, names, color=ctx.color(v.no_color), prefix=not v.no_log_prefix)
    engine = ctx.engine()
    if not v.follow:
        for c, n in zip(containers, names):
            stream_logs(engine, c["Id"], n, printer, False, v.tail, v.timestamps, v.since, v.until)
        return 0
    threads = [threading.Thread(target=stream_logs, daemon=True,
                                args=(engine, c["Id"], n, printer, True, v.tail, v.timestamps, v.since, v.until))
               for c, n in zip(containers, names)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    return 0
