"""Upload sessions: appending request bodies, the running hash, verification, purge.

The sha256 of an upload is kept in memory as it grows, so finishing a large
push does not re-read it; after a restart (or for another algorithm) the hash
is recomputed from the file. A client that disconnects mid-chunk keeps every
byte that reached the file: `GET` on the upload URL reports that offset and a
`PATCH` with `Content-Range: <offset>-...` resumes from it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import RegistryError
from .names import parse_digest
from .storage import Storage, UploadInfo

log = logging.getLogger("berth.registry")
CHUNK = 1 << 20
_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)")


@dataclass
class UploadState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    hasher: Any = None   # sha256 of the first `offset` bytes, or None when unknown
    offset: int = -1


def _hash_file(path: str, algorithm: str) -> tuple[Any, int]:
    h = hashlib.new(algorithm)
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK * 4)
            if not chunk:
                return h, size
            h.update(chunk)
            size += len(chunk)


class Uploads:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.states: dict[str, UploadState] = {}

    def open(self, name: str, uid: str) -> tuple[UploadInfo, UploadState]:
        info = self.storage.upload(uid) if re.fullmatch(r"[0-9a-f-]{36}", uid) else None
        if info is None or info.name != name:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": uid})
        return info, self.states.setdefault(uid, UploadState())

    def create(self, name: str) -> tuple[UploadInfo, UploadState]:
        info = self.storage.new_upload(name)
        state = UploadState(hasher=hashlib.sha256(), offset=0)
        self.states[info.uuid] = state
        return info, state

    @staticmethod
    def size(info: UploadInfo) -> int:
        try:
            return os.stat(info.path).st_size
        except FileNotFoundError:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": info.uuid}) from None

    async def append(self, request: Any, info: UploadInfo, state: UploadState) -> int:
        """Append the request body (checked against Content-Range); returns the new size."""
        size = self.size(info)
        declared: int | None = None
        content_range = request.headers.get("Content-Range")
        if content_range:
            m = _RANGE.fullmatch(content_range.strip())
            if m is None:
                raise RegistryError("RANGE_INVALID", {"Content-Range": content_range})
            start, end = int(m.group(1)), int(m.group(2))
            # an empty chunk may be sent as "<offset>-<offset-1>"
            if start != size or end < start - 1:
                raise RegistryError("RANGE_INVALID", {"Content-Range": content_range, "offset": size})
            declared = end - start + 1
            if request.content_length is not None and request.content_length != declared:
                raise RegistryError("RANGE_INVALID", {"Content-Range": content_range,
                                                      "Content-Length": request.content_length})
        if state.offset != size:
            state.hasher, state.offset = None, -1
        written = 0
        fd = os.open(info.path, os.O_WRONLY | os.O_APPEND)
        try:
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                view = memoryview(chunk)
                try:
                    while view:
                        view = view[os.write(fd, view):]
                except OSError:
                    state.hasher, state.offset = None, -1
                    raise
                written += len(chunk)
                if state.hasher is not None:
                    state.hasher.update(chunk)
                    state.offset += len(chunk)
        finally:
            os.close(fd)
        if declared is not None and written != declared:
            # a body shorter than its declared range: take it back, the client retries
            os.truncate(info.path, size)
            state.hasher, state.offset = None, -1
            raise RegistryError("SIZE_INVALID", {"expected": declared, "received": written})
        return size + written

    async def finish(self, name: str, info: UploadInfo, state: UploadState, digest: str) -> None:
        """Verify the whole upload against `digest`, then make it the blob (or drop it)."""
        algorithm, encoded = parse_digest(digest)
        size = self.size(info)
        if algorithm == "sha256" and state.hasher is not None and state.offset == size:
            actual = state.hasher.hexdigest()
        else:
            h, _ = await asyncio.get_running_loop().run_in_executor(None, _hash_file, info.path, algorithm)
            actual = h.hexdigest()
        if actual != encoded:
            self.discard(info.uuid)
            raise RegistryError("DIGEST_INVALID", {"expected": digest, "actual": f"{algorithm}:{actual}"})
        await asyncio.get_running_loop().run_in_executor(None, self.storage.commit_blob, info.path, digest)
        self.storage.link_blob(name, digest)
        self.discard(info.uuid)

    def discard(self, uid: str) -> None:
        self.storage.remove_upload(uid)
        self.states.pop(uid, None)

    def purge(self, age: float) -> list[str]:
        """Remove uploads idle for more than `age` seconds (not those being written now)."""
        purged = []
        for uid in self.storage.stale_uploads(age):
            state = self.states.get(uid)
            if state is not None and state.lock.locked():
                continue
            self.discard(uid)
            purged.append(uid)
        if purged:
            log.info("purged %d stale upload(s): %s", len(purged), ", ".join(purged))
        return purged
