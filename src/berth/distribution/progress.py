"""docker's JSON progress messages for pull, push and load.

The daemon has no terminal, so docker's JSONProgress.String() takes a width of
200: a 50-column bar, then `current/total` in go-units' HumanSize, and no
time-left part (the daemon's progress writer sets no start time).
Updates are throttled per layer, as docker's progress reader does, so a fast
transfer does not spend its time printing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from berth.cli.units import human_size

Emit = Callable[[dict], None]


def bar(current: int, total: int) -> str:
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    pct = min(int(current / total * 100) // 2, 50)
    box = "[" + "=" * pct + ">" + " " * max(50 - pct, 0) + "] "
    numbers = f"{human_size(current):>8}/{human_size(total)}"
    if current > total:
        numbers = f"{human_size(current):>8}"
    return box + numbers


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def status(emit: Emit, text: str, ident: str | None = None) -> None:
    msg: dict = {"status": text}
    if ident is not None:
        msg["id"] = ident
    emit(msg)


def layer_status(emit: Emit, text: str, ident: str) -> None:
    emit({"status": text, "progressDetail": {}, "id": ident})


class Meter:
    """Progress of one layer's transfer, throttled to one message per 100 ms."""

    def __init__(self, emit: Emit, action: str, ident: str, total: int, interval: float = 0.1) -> None:
        self.emit, self.action, self.ident, self.total = emit, action, ident, total
        self.interval = interval
        self.current = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        self.current += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.send()

    def send(self) -> None:
        self.emit({"status": self.action,
                   "progressDetail": {"current": self.current, "total": self.total},
                   "progress": bar(self.current, self.total), "id": self.ident})


def error(message: str) -> dict:
    return {"errorDetail": {"message": message}, "error": message}
