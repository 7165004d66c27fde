"""SQLite metadata: the daemon's durable desired and observed state.

WAL mode so readers never block the writer; every change is one transaction,
so a daemon killed at any instant leaves either the old or the new state.
Rows hold docker-shaped JSON documents: the API serves them almost as stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any, Callable

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,          -- sha256:<hex> of the config blob
    config TEXT NOT NULL,         -- the image config JSON (OCI/docker shape)
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,     -- when this daemon stored it
    parent TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS image_refs (
    ref TEXT PRIMARY KEY,         -- normalised: docker.io/library/busybox:latest or name@sha256:...
    image_id TEXT NOT NULL REFERENCES images(id),
    tagged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_refs_by_image ON image_refs(image_id);
CREATE TABLE IF NOT EXISTS layers (
    chain_id TEXT PRIMARY KEY,    -- sha256:<hex> chain id (OCI image spec)
    diff_id TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL,
    cache_id TEXT NOT NULL UNIQUE -- directory name under snapshots/layers
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,    -- with docker's leading slash
    image_id TEXT NOT NULL,
    doc TEXT NOT NULL,            -- desired state: Config, HostConfig, ... (inspect shape)
    state TEXT NOT NULL,          -- observed state: the inspect "State" object plus bookkeeping
    removing INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS containers_by_image ON containers(image_id);
"""


def _disk_full(e: sqlite3.OperationalError) -> bool:
    return "full" in str(e)


def _no_space(e: sqlite3.OperationalError) -> Exception:
    from berth.errors import System

    return System(f"cannot write metadata: no space left on device ({e})")


class Metadata:
    """A thin, synchronous wrapper: each call is sub-millisecond, so the
    event loop calls it directly rather than paying a thread hop.

    `on_full` is called when a write fails for lack of space; if it frees some
    (store/reserve.py) the write is retried once, else the caller gets docker's
    "no space left on device" as a System error.
    """

    def __init__(self, path: str, on_full: Callable[[], bool] | None = None) -> None:
        self.on_full = on_full
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against a killed process (not a power cut) and far faster than FULL.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=OFF")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> "_Tx":
        return _Tx(self)

    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.OperationalError as e:
                if not _disk_full(e):
                    raise
                if self.on_full is None or not self.on_full():
                    raise _no_space(e) from None
                try:
                    return self._db.execute(sql, args)
                except sqlite3.OperationalError as again:
                    if _disk_full(again):
                        raise _no_space(again) from None
                    raise

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()


class _Tx:
    def __init__(self, md: Metadata) -> None:
        self.md = md

    def __enter__(self) -> sqlite3.Connection:
        self.md._lock.acquire()
        self.md._db.execute("BEGIN IMMEDIATE")
        return self.md._db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self.md._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        except sqlite3.OperationalError as e:
            if not _disk_full(e):
                raise
            self.md._db.execute("ROLLBACK")
            if self.md.on_full is not None:
                self.md.on_full()  # the caller's next attempt can succeed
            raise _no_space(e) from None
        finally:
            self.md._lock.release()


def dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def loads(text: str) -> Any:
    return json.loads(text)
