"""Tables the way docker compose prints them (Go tabwriter, padding 3)."""

from __future__ import annotations

from typing import TextIO


def write_table(out: TextIO, header: list[str], rows: list[list[str]], padding: int = 3) -> None:
    widths = [len(h) for h in header]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))
    for r in [header] + rows:
        cells = [cell.ljust(widths[i] + padding) if i < len(r) - 1 else cell for i, cell in enumerate(r)]
        out.write("".join(cells) + "\n")
