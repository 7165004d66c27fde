"""What the daemon remembers about compressed layer blobs.

Docker keeps a diff-id → blob-digest map (and the repositories a blob was
seen in) so that a second push of the same layer is a HEAD that says
`Layer already exists`, and a push to another repository of the same registry
can mount instead of upload. Berth keeps the same map in SQLite, and also keeps
the compressed blob itself in the content store (`content/blobs/sha256/`):
the bytes were written to disk anyway for resumable downloads, and keeping
them makes a push of a pulled layer byte-identical and free of recompression.

Partial downloads live under `distribution/partial/<hex>` keyed by the blob
digest, so an interrupted pull of the same layer continues with `Range:`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from berth.content.blobs import BlobStore
from berth.store.metadata import Metadata

PARTIAL_MAX_AGE = 24 * 3600

SCHEMA = """
CREATE TABLE IF NOT EXISTS layer_blobs (
    diff_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (diff_id, digest)
);
CREATE TABLE IF NOT EXISTS blob_sources (
    digest TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    PRIMARY KEY (digest, registry, repository)
);
CREATE TABLE IF NOT EXISTS image_manifest_kind (
    image_id TEXT PRIMARY KEY,
    oci INTEGER NOT NULL
);
"""


@dataclass
class BlobInfo:
    diff_id: str
    digest: str
    media_type: str
    size: int


class BlobCache:
    def __init__(self, md: Metadata, blobs: BlobStore, data_root: str) -> None:
        self.md = md
        self.blobs = blobs
        self.partial_dir = os.path.join(data_root, "distribution", "partial")
        os.makedirs(self.partial_dir, exist_ok=True)
        with md._lock:
            md._db.executescript(SCHEMA)
        self._clean_temporaries()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def lock(self, digest: str) -> threading.Lock:
        """One download of a blob at a time: a second pull of it waits, then finds it stored."""
        with self._locks_guard:
            return self._locks.setdefault(digest, threading.Lock())

    def _clean_temporaries(self) -> None:
        """At start: what a killed daemon left of pushes, imports, saves and loads
        (partial downloads, named by their digest, stay to be resumed)."""
        import shutil

        for name in os.listdir(self.partial_dir):
            if name.startswith(("keep-", "push-", "save-", "load-")):
                path = os.path.join(self.partial_dir, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    def partial_path(self, digest: str) -> str:
        self.blobs.path(digest)  # validates the digest
        return os.path.join(self.partial_dir, digest.split(":", 1)[1])

    def record(self, diff_id: str, digest: str, media_type: str, size: int) -> None:
        self.md.execute("INSERT OR REPLACE INTO layer_blobs(diff_id, digest, media_type, size) VALUES (?,?,?,?)",
                        (diff_id, digest, media_type, size))

    def for_diff_id(self, diff_id: str) -> list[BlobInfo]:
        rows = self.md.query("SELECT * FROM layer_blobs WHERE diff_id=?", (diff_id,))
        return [BlobInfo(r["diff_id"], r["digest"], r["media_type"], r["size"]) for r in rows]

    def stored(self, diff_id: str) -> BlobInfo | None:
        """A compressed blob of this layer that is on disk."""
        for info in self.for_diff_id(diff_id):
            if self.blobs.has(info.digest):
                return info
        return None

    def add_source(self, digest: str, registry: str, repository: str) -> None:
        self.md.execute("INSERT OR IGNORE INTO blob_sources(digest, registry, repository) VALUES (?,?,?)",
                        (digest, registry, repository))

    def sources(self, digest: str, registry: str) -> list[str]:
        rows = self.md.query("SELECT repository FROM blob_sources WHERE digest=? AND registry=?", (digest, registry))
        return [r["repository"] for r in rows]

    def set_oci(self, image_id: str, oci: bool) -> None:
        self.md.execute("INSERT OR REPLACE INTO image_manifest_kind(image_id, oci) VALUES (?,?)",
                        (image_id, 1 if oci else 0))

    def is_oci(self, image_id: str) -> bool:
        row = self.md.one("SELECT oci FROM image_manifest_kind WHERE image_id=?", (image_id,))
        return bool(row and row["oci"])

    def prune(self) -> None:
        """Drop kept blobs of layers no image has any more, and partial downloads
        nobody resumed within a day."""
        now = time.time()
        for name in os.listdir(self.partial_dir):
            path = os.path.join(self.partial_dir, name)
            try:
                if now - os.stat(path).st_mtime > PARTIAL_MAX_AGE:
                    os.unlink(path)
            except OSError:
                pass
        live = {r["diff_id"] for r in self.md.query("SELECT DISTINCT diff_id FROM layers")}
        for row in self.md.query("SELECT diff_id, digest FROM layer_blobs"):
            if row["diff_id"] not in live:
                self.md.execute("DELETE FROM layer_blobs WHERE diff_id=? AND digest=?", (row["diff_id"], row["digest"]))
                if not self.md.one("SELECT 1 FROM layer_blobs WHERE digest=?", (row["digest"],)):
                    self.blobs.delete(row["digest"])


class LayerKeeper:
    """Keeps the bytes of a layer as they are applied (import, load), so the
    layer can be pushed or saved later with exactly its diff id."""

    def __init__(self, cache: BlobCache) -> None:
        import hashlib

        self.cache = cache
        self.sha = hashlib.sha256()
        self.size = 0
        self.magic = b""
        self.path = os.path.join(cache.partial_dir, "keep-" + os.urandom(8).hex())
        self.file = open(self.path, "wb")

    def wrap(self, stream):  # type: ignore[no-untyped-def]
        keeper = self

        class _Tee:
            def read(self, n: int = -1) -> bytes:
                data = stream.read(n)
                if data:
                    if len(keeper.magic) < 6:
                        keeper.magic += data[:6 - len(keeper.magic)]
                    keeper.sha.update(data)
                    keeper.size += len(data)
                    keeper.file.write(data)
                return data

            def readable(self) -> bool:
                return True

        return _Tee()

    def media_type(self) -> str:
        if self.magic.startswith(b"\x1f\x8b"):
            return "application/vnd.docker.image.rootfs.diff.tar.gzip"
        if self.magic.startswith(b"\x28\xb5\x2f\xfd"):
            return "application/vnd.oci.image.layer.v1.tar+zstd"
        if self.magic.startswith((b"BZh", b"\xfd7zXZ")):
            return "application/x-berth-layer-other"
        return "application/vnd.oci.image.layer.v1.tar"

    def finish(self, diff_id: str) -> None:
        try:
            self.file.close()
            digest = "sha256:" + self.sha.hexdigest()
            if self.size == 0:
                return
            final = self.cache.blobs.path(digest)
            if os.path.exists(final):
                os.unlink(self.path)
            else:
                os.rename(self.path, final)
            self.cache.record(diff_id, digest, self.media_type(), self.size)
        finally:
            if os.path.exists(self.path):
                os.unlink(self.path)

    def abort(self) -> None:
        self.file.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
