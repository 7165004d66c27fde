"""Display the daemon's JSON-lines progress streams (pull, import) like docker.

On a terminal, lines carrying progress for a layer ID are redrawn in place with
cursor movement; elsewhere progress bars are skipped and only status lines are
printed, which keeps logs of CI runs readable. An "error" message in the stream
ends the operation with that error.
"""

from __future__ import annotations

import time

from .command import CliError
from .units import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable


class StreamMessageError(CliError):
    """An error reported inside a progress stream ({"error": ..., "errorDetail": ...})."""


def _progress_string(progress: dict[str, Any], width: int) -> str:
    current = int(progress.get("current") or 0)
    total = int(progress.get("total") or 0)
    units = progress.get("units") or ""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        if not units:
            return f"{human_size(current):>8}"
        return f"{current} {units}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = ""
    if width > 110:
        bar = "[" + "=" * percentage + ">" + " " * max(50 - percentage, 0) + "] "
    numbers = ""
    if progress.get("hidecounts"):
        pass
    elif not units:
        numbers = f"{human_size(current):>8}/{human_size(total)}"
        if current > total:
            numbers = f"{human_size(current):>8}"
    else:
        numbers = f"{current}/{total} {units}"
        if current > total:
            numbers = f"{current} {units}"
    left = ""
    start = int(progress.get("start") or 0)
    if current > 0 and start > 0 and percentage < 50 and width > 50:
        elapsed = time.time() - start
        remaining = int((total - current) * (elapsed / current))
        from .units import format_duration

        left = " " + format_duration(remaining * 1_000_000_000)
    return bar + numbers + left


def display_stream(
    messages: Iterable[dict[str, Any]],
    write: Callable[[str], None],
    is_terminal: bool = False,
    width: int = 80,
    on_aux: Callable[[Any], None] | None = None,
) -> None:
    """Print a progress stream; raise StreamMessageError on an error message."""
    ids: dict[str, int] = {}
    for jm in messages:
        if not isinstance(jm, dict):
            continue
        if "aux" in jm and jm["aux"] is not None:
            if on_aux:
                on_aux(jm["aux"])
            continue
        jid = jm.get("id") or ""
        progress = jm.get("progressDetail")
        if not isinstance(progress, dict):
            progress = None
        has_progress = progress is not None or bool(jm.get("progress"))
        diff = 0
        if jid and has_progress:
            line = ids.get(jid)
            if line is None:
                line = len(ids)
                ids[jid] = line
                if is_terminal:
                    write("\n")
            diff = len(ids) - line
            if is_terminal and diff:
                write(f"\x1b[{diff}A")
        else:
            ids = {}
        _display_one(jm, write, is_terminal, width, progress)
        if jid and is_terminal and diff:
            write(f"\x1b[{diff}B")


def _display_one(jm: dict[str, Any], write: Callable[[str], None], is_terminal: bool,
                 width: int, progress: dict[str, Any] | None) -> None:
    error = jm.get("errorDetail") or None
    if error or jm.get("error"):
        detail = error or {}
        if detail.get("code") == 401:
            raise StreamMessageError("authentication is required")
        raise StreamMessageError(detail.get("message") or jm.get("error") or "unknown error")
    status = jm.get("status") or ""
    stream = jm.get("stream") or ""
    bar = _progress_string(progress, width) if progress is not None else ""
    endl = ""
    if is_terminal and not stream and progress is not None:
        write("\x1b[2K\r")
        endl = "\r"
    elif progress is not None and bar:
        return
    out = ""
    if jm.get("timeNano"):
        out += _rfc3339_fixed(jm["timeNano"] / 1e9) + " "
    elif jm.get("time"):
        out += _rfc3339_fixed(float(jm["time"])) + " "
    if jm.get("id"):
        out += f"{jm['id']}: "
    if jm.get("from"):
        out += f"(from {jm['from']}) "
    if progress is not None and is_terminal:
        out += f"{status} {bar}{endl}"
    elif jm.get("progress"):
        out += f"{status} {jm['progress']}{endl}"
    elif stream:
        out += f"{stream}{endl}"
    else:
        out += f"{status}{endl}\n"
    write(out)


def _rfc3339_fixed(ts: float) -> str:
    secs = int(ts)
    nanos = int(round((ts - secs) * 1e9))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(secs)) + f".{nanos:09d}" + time.strftime("%z", time.localtime(secs))[:3] + ":" + time.strftime("%z", time.localtime(secs))[3:]
