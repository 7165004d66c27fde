"""The build cache: which image a build step produced, by the step's key.

Docker's legacy builder finds a cached step by scanning the children of the
parent image for a matching container config. Berth keys each step instead:
sha256 over the parent image id, the instruction after expansion, the build
args in effect and, for COPY/ADD, a checksum of the sources' content and
metadata. The keys live in the metadata database (table `build_cache`), so the
cache survives daemon restarts; an entry whose image is gone is a miss.
"""

from __future__ import annotations

import hashlib
import json

from berth.store.metadata import Metadata
from berth.timefmt import rfc3339nano

SCHEMA = """
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY,         -- sha256 hex of the step's inputs
    image_id TEXT NOT NULL,       -- the image the step produced
    parent TEXT NOT NULL,         -- the image the step started from
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS build_cache_by_image ON build_cache(image_id);
"""


def step_key(**parts: object) -> str:
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class BuildCache:
    def __init__(self, md: Metadata) -> None:
        self.md = md
        for stmt in SCHEMA.strip().split(";"):
            if stmt.strip():
                md.execute(stmt)

    def get(self, key: str) -> str | None:
        row = self.md.one("SELECT image_id FROM build_cache WHERE key=?", (key,))
        if row is None:
            return None
        if self.md.one("SELECT 1 FROM images WHERE id=?", (row["image_id"],)) is None:
            self.md.execute("DELETE FROM build_cache WHERE key=?", (key,))
            return None
        return row["image_id"]

    def put(self, key: str, image_id: str, parent: str) -> None:
        self.md.execute("INSERT OR REPLACE INTO build_cache(key, image_id, parent, created_at) VALUES (?,?,?,?)",
                        (key, image_id, parent, rfc3339nano()))

    def entries(self) -> list[tuple[str, str]]:
        return [(r["key"], r["image_id"]) for r in self.md.query("SELECT key, image_id FROM build_cache")]

    def drop_all(self) -> list[str]:
        keys = [r["key"] for r in self.md.query("SELECT key FROM build_cache")]
        self.md.execute("DELETE FROM build_cache")
        return keys
