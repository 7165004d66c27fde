"""Benchmark for issue 3's speed target: parse once, execute many.

Formats 1,000 `ps` rows with a 5-field table template (header, rows, docker's
tabwriter) and reports the best of several runs.  Target: under 50 ms.

    PYTHONPATH=src python3 bench/gotemplate_bench.py
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from berth.gotemplate.docker import parse, render  # noqa: E402

TARGET_MS = 50.0
FORMAT = r"table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Status}}\t{{.Names}}"
HEADER = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "Status": "STATUS",
          "Names": "NAMES"}


@dataclass
class ContainerRow:
    """Shaped like docker's formatter.ContainerContext: fields reached through methods."""

    id: str
    image: str
    command: str
    status: str
    names: list
    __gotype__ = "*formatter.ContainerContext"

    def ID(self) -> str:
        return self.id[:12]

    def Image(self) -> str:
        return self.image

    def Command(self) -> str:
        return '"' + self.command[:20] + '…"' if len(self.command) > 20 else '"' + self.command + '"'

    def Status(self) -> str:
        return self.status

    def Names(self) -> str:
        return ",".join(n.lstrip("/") for n in self.names)


def rows(n: int = 1000) -> list[ContainerRow]:
    return [ContainerRow(f"{i:064x}", "busybox:latest" if i % 3 else "registry.local/app:v2",
                         "sh -c 'while true; do sleep 1; done'" if i % 2 else "nginx -g daemon off;",
                         f"Up {i % 59 + 1} minutes", [f"/web-{i}"]) for i in range(n)]


def main() -> int:
    data = rows()
    tmpl = parse(FORMAT)
    best = float("inf")
    for _ in range(15):
        t0 = time.perf_counter()
        out = render(FORMAT, data, HEADER, template=tmpl)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    parse(FORMAT)
    parse_ms = (time.perf_counter() - t0) * 1000
    ms = best * 1000
    lines = out.count("\n")
    print(f"gotemplate: {len(data)} rows x 5 fields, table mode: {ms:.1f} ms "
          f"(target < {TARGET_MS:.0f} ms; parse {parse_ms:.2f} ms; {lines} lines)")
    return 0 if ms < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
