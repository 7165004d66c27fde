"""Content-addressed blob store: blobs/sha256/<hex>.

A blob becomes visible only after its digest is verified and it is renamed
into place, so a crash mid-write never leaves a wrong blob under a digest.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from berth.errors import InvalidParameter, NotFound


class BlobStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._dir = os.path.join(root, "sha256")
        self._tmp = os.path.join(root, "ingest")
        os.makedirs(self._dir, exist_ok=True)
        os.makedirs(self._tmp, exist_ok=True)

    def path(self, digest: str) -> str:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
            raise InvalidParameter(f"invalid digest: {digest}")
        return os.path.join(self._dir, hexpart)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def get(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"content digest {digest}: not found") from None

    def put(self, data: bytes, expected: str | None = None) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected is not None and expected != digest:
            raise InvalidParameter(f"digest mismatch: expected {expected}, got {digest}")
        final = self.path(digest)
        if os.path.exists(final):
            return digest
        fd, tmp = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, final)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return digest

    def delete(self, digest: str) -> None:
        _unlink_quietly(self.path(digest))

    def clean_ingest(self) -> None:
        """Drop half-written blobs a killed daemon left behind."""
        for name in os.listdir(self._tmp):
            _unlink_quietly(os.path.join(self._tmp, name))


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
