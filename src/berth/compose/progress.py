"""docker compose v2's progress output on stderr.

Not a terminal (or --progress=plain): one line per event, as compose's plain writer prints
them (`Println(prefix, id, text, status)`: ` Container app-web-1  Started`).
`--progress json`: one JSON object per event ({"id": "Container app-web-1", "status": "Started"}).
A terminal: compose's live block, redrawn in place on every event:
`[+] Running 2/3` then one line per resource with a spinner or ✔/✘ and its timer.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

DONE_WORDS = {"Created", "Started", "Stopped", "Removed", "Running", "Recreated", "Healthy", "Exited",
              "Killed", "Paused", "Unpaused", "Restarted", "Built", "Pulled", "Pushed", "Skipped"}
ERROR_WORDS = {"Error"}
_SPIN = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    def __init__(self, out: TextIO | None = None, mode: str = "auto", dry_run: bool = False,
                 title: str = "Running") -> None:
        self.out = out or sys.stderr
        if mode == "auto":
            isatty = getattr(self.out, "isatty", lambda: False)()
            mode = "tty" if isatty else "plain"
        self.mode = mode
        self.dry_run = dry_run
        self.title = title
        self._lock = threading.Lock()
        self._items: dict[str, list] = {}  # id -> [status, detail, started, ended]
        self._drawn = 0

    def event(self, kind: str, name: str, text: str, detail: str = "") -> None:
        """One status change of one resource ("Container", "app-web-1", "Started")."""
        if self.mode == "quiet":
            return
        key = f"{kind} {name}"
        with self._lock:
            now = time.monotonic()
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = [text, detail, now, None]
            item[0], item[1] = text, detail
            item[3] = now if (text in DONE_WORDS or text in ERROR_WORDS) else None
            if self.mode == "tty":
                self._redraw()
                return
            if self.mode == "json":
                import json

                msg = {"id": key, "status": text}
                if detail:
                    msg["text"] = detail
                if self.dry_run:
                    msg["dry-run"] = True
                self.out.write(json.dumps(msg) + "\n")
                self.out.flush()
                return
            prefix = "DRY-RUN MODE - " if self.dry_run else ""
            line = f"{prefix} {key}  {text}" + (f" {detail}" if detail else "")
            self.out.write(line + "\n")
            self.out.flush()

    def _redraw(self) -> None:
        done = sum(1 for it in self._items.values() if it[0] in DONE_WORDS)
        width = max(len(k) for k in self._items)
        swidth = max(len(it[0] + (" " + it[1] if it[1] else "")) for it in self._items.values())
        now = time.monotonic()
        prefix = "DRY-RUN MODE - " if self.dry_run else ""
        lines = [f"[+] {prefix}{self.title} {done}/{len(self._items)}"]
        for i, (key, (status, detail, start, end)) in enumerate(self._items.items()):
            mark = "✔" if status in DONE_WORDS else ("✘" if status in ERROR_WORDS else _SPIN[int(now * 10 + i) % len(_SPIN)])
            text = status + (f" {detail}" if detail else "")
            lines.append(f" {mark} {key.ljust(width)} {text.ljust(swidth)} {((end or now) - start):5.1f}s")
        up = f"\033[{self._drawn}A" if self._drawn else ""
        self.out.write(up + "".join(f"\033[2K{ln}\n" for ln in lines))
        self.out.flush()
        self._drawn = len(lines)

    def summary(self, verb: str = "Running") -> None:
        """Nothing to add in plain mode; the terminal block is already final."""
        return
