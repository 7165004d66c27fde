"""docker compose v2's progress lines on stderr.

Not a terminal (or --progress=plain): one line per event, ` Container app-web-1  Started`.
A terminal: the same events, then a `[+] Running n/m` summary with ` ✔` marks (printed
as events finish rather than redrawn in place).
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

DONE_WORDS = {"Created", "Started", "Stopped", "Removed", "Running", "Recreated", "Healthy", "Exited",
              "Killed", "Paused", "Unpaused", "Restarted", "Built", "Pulled", "Waiting"}


class Progress:
    def __init__(self, out: TextIO | None = None, mode: str = "auto", dry_run: bool = False) -> None:
        self.out = out or sys.stderr
        if mode == "auto":
            isatty = getattr(self.out, "isatty", lambda: False)()
            mode = "tty" if isatty else "plain"
        self.mode = mode
        self.dry_run = dry_run
        self._lock = threading.Lock()
        self._final: dict[str, str] = {}

    def event(self, kind: str, name: str, text: str, detail: str = "") -> None:
        """One status change of one resource ("Container", "app-web-1", "Started")."""
        if self.mode == "quiet":
            return
        prefix = "DRY-RUN MODE - " if self.dry_run else ""
        line = f" {prefix}{kind} {name}  {text}"
        if detail:
            line += f" {detail}"
        with self._lock:
            self._final[f"{kind} {name}"] = text
            if self.mode == "tty":
                mark = "✔" if text in DONE_WORDS else "⠿"
                line = f" {mark} {prefix}{kind} {name}  {text}" + (f" {detail}" if detail else "")
            self.out.write(line + "\n")
            self.out.flush()

    def summary(self, verb: str = "Running") -> None:
        if self.mode != "tty" or not self._final:
            return
        done = sum(1 for t in self._final.values() if t in DONE_WORDS)
        with self._lock:
            self.out.write(f"[+] {verb} {done}/{len(self._final)}\n")
            self.out.flush()
