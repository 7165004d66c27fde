"""Go's text/tabwriter, the elastic-tabstop aligner behind docker's `table` output.

Docker writes rows with tabs between cells and lets tabwriter pad every column to
its widest cell plus padding (minwidth 10, padding 3, padded with spaces).  Columns
are computed per block of consecutive lines that share the column, which is why a
line without tabs resets alignment; that rule is reproduced here.

Docker's CLI carries its own copy of tabwriter that measures cells in terminal
columns (East Asian wide characters count 2, combining marks 0) instead of Go's
rune count; `display_width` is that measure and the default, `rune_count` is Go's.
"""

from __future__ import annotations

import unicodedata
from typing import Callable

ALIGN_RIGHT = 4
DISCARD_EMPTY_COLUMNS = 8
DEBUG = 16


def rune_count(s: str) -> int:
    return len(s)


def _rune_width(c: str) -> int:
    cp = ord(c)
    if cp < 0x20 or 0x7F <= cp <= 0x9F or cp == 0xAD:
        return 0
    if cp < 0x300:
        return 1
    eaw = unicodedata.east_asian_width(c)
    if eaw in ("Na", "H"):
        return 1
    cat = unicodedata.category(c)
    if cat in ("Mn", "Me", "Mc", "Cf", "Cc", "Zl", "Zp", "Cs"):
        return 0
    if eaw in ("W", "F"):
        return 2
    return 1


def display_width(s: str) -> int:
    """Terminal columns of `s`, as docker's tabwriter measures a cell (go-runewidth)."""
    if s.isascii():
        return sum(1 for c in s if " " <= c < "\x7f")
    w = 0
    joined = False
    for c in s:
        if joined:
            joined = False
            continue
        if c == "\u200d":
            joined = True
            continue
        w += _rune_width(c)
    return w


def tabwrite(text: str, minwidth: int = 10, tabwidth: int = 1, padding: int = 3,
             padchar: str = " ", flags: int = 0,
             measure: Callable[[str], int] = display_width) -> str:
    """Align `text` as tabwriter.NewWriter(w, minwidth, tabwidth, padding, padchar, flags).

    A form feed ends every column, like a flush; vertical tabs end cells like tabs.
    """
    if "\f" in text:
        parts = text.split("\f")
        return "\n".join(tabwrite(p, minwidth, tabwidth, padding, padchar, flags, measure)
                         for p in parts)
    if "\t" not in text and "\v" not in text:
        return text
    soft: set[tuple[int, int]] = set()  # (line, cell) ended by \v: discardable if empty
    if "\v" in text:
        for i, line in enumerate(text.split("\n")):
            j = 0
            for c in line:
                if c == "\t":
                    j += 1
                elif c == "\v":
                    soft.add((i, j))
                    j += 1
        text = text.replace("\v", "\t")
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []
    nlines = len(lines)

    def write_padding(textw: int, cellw: int) -> None:
        if padchar == "\t":
            if tabwidth == 0:
                return
            cellw = (cellw + tabwidth - 1) // tabwidth * tabwidth
            n = cellw - textw
            out.append("\t" * ((n + tabwidth - 1) // tabwidth))
            return
        if cellw > textw:
            out.append(padchar * (cellw - textw))

    def write_lines(line0: int, line1: int) -> None:
        nw = len(widths)
        for i in range(line0, line1):
            line = lines[i]
            last = len(line) - 1
            for j, cell in enumerate(line):
                if j > 0 and flags & DEBUG:
                    out.append("|")
                if j == last:
                    out.append(cell)
                    continue
                if not cell:
                    if j < nw:
                        write_padding(0, widths[j])
                elif flags & ALIGN_RIGHT:
                    if j < nw:
                        write_padding(measure(cell), widths[j])
                    out.append(cell)
                else:
                    out.append(cell)
                    if j < nw:
                        write_padding(measure(cell), widths[j])
            if i + 1 < nlines:
                out.append("\n")

    def format(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            discardable = True
            while this < line1:
                line = lines[this]
                if column >= len(line) - 1:
                    break
                w = measure(line[column]) + padding
                if w > width:
                    width = w
                if line[column] or (this, column) not in soft:
                    discardable = False
                this += 1
            if discardable and flags & DISCARD_EMPTY_COLUMNS:
                width = 0
            widths.append(width)
            format(line0, this)
            widths.pop()
            line0 = this
            this += 1
        write_lines(line0, line1)

    format(0, nlines)
    return "".join(out)
