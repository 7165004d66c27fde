"""Filesystem storage of a registry root.

    blobs/<alg>/<hex[:2]>/<hex>                       verified content, shared by all repositories
    repositories/<name>/_layers/<alg>/<hex>            empty file: the repository holds this blob
    repositories/<name>/_manifests/revisions/<alg>/<hex>   the manifest's media type
    repositories/<name>/_manifests/tags/<tag>          the digest the tag points at
    repositories/<name>/_referrers/<alg>/<subject-hex>/<alg>-<hex>   manifests whose subject is that digest
    uploads/<uuid>/data, uploads/<uuid>/info.json     upload sessions (not visible to readers)

Every file is written as temp + fsync + rename (+ fsync of the directory), so
a crash leaves the old state or the new one. A blob enters `blobs/` only by a
rename of an upload whose digest was verified over all of its bytes, and a
repository sees a blob or manifest only once its link is written, after the
content is durable. Names and digests are validated by the caller (names.py):
nothing here joins unchecked text into a path.
"""

from __future__ import annotations

import json
import os
import time
import uuid as uuidlib
from dataclasses import dataclass

from .names import parse_digest

MANIFEST_LIMIT = 4 << 20


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """Write `data` at `path` so that a reader (or a crash) sees all of it or the old file."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{uuidlib.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _split(digest: str) -> tuple[str, str]:
    return parse_digest(digest)


@dataclass
class ManifestRecord:
    digest: str
    media_type: str
    path: str
    size: int


@dataclass
class UploadInfo:
    uuid: str
    name: str
    started: float
    path: str


class Storage:
    """The registry root on disk (see the module docstring for the layout)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.blobs_dir = os.path.join(self.root, "blobs")
        self.repos_dir = os.path.join(self.root, "repositories")
        self.uploads_dir = os.path.join(self.root, "uploads")
        for d in (self.blobs_dir, self.repos_dir, self.uploads_dir):
            os.makedirs(d, exist_ok=True)

    # ------------------------------------------------------------ blobs
    def blob_path(self, digest: str) -> str:
        alg, hexa = _split(digest)
        return os.path.join(self.blobs_dir, alg, hexa[:2], hexa)

    def blob_size(self, digest: str) -> int | None:
        try:
            return os.stat(self.blob_path(digest)).st_size
        except FileNotFoundError:
            return None

    def _repo(self, name: str) -> str:
        return os.path.join(self.repos_dir, *name.split("/"))

    def _layer_link(self, name: str, digest: str) -> str:
        alg, hexa = _split(digest)
        return os.path.join(self._repo(name), "_layers", alg, hexa)

    def repo_blob_size(self, name: str, digest: str) -> int | None:
        """The blob's size when `name` holds it (a link and the content both exist)."""
        if not os.path.exists(self._layer_link(name, digest)):
            return None
        return self.blob_size(digest)

    def link_blob(self, name: str, digest: str) -> None:
        link = self._layer_link(name, digest)
        if not os.path.exists(link):
            atomic_write(link, b"")

    def unlink_blob(self, name: str, digest: str) -> bool:
        try:
            os.unlink(self._layer_link(name, digest))
            return True
        except FileNotFoundError:
            return False

    def commit_blob(self, source: str, digest: str) -> None:
        """Move a verified file into the blob store (the content's commit point)."""
        target = self.blob_path(digest)
        if os.path.exists(target):
            os.unlink(source)
            return
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(source, target)
        _fsync_dir(os.path.dirname(target))

    def write_blob(self, digest: str, data: bytes) -> None:
        """Store small verified content (a manifest's bytes) directly."""
        if not os.path.exists(self.blob_path(digest)):
            atomic_write(self.blob_path(digest), data)

    # ------------------------------------------------------------ manifests
    def _revision(self, name: str, digest: str) -> str:
        alg, hexa = _split(digest)
        return os.path.join(self._repo(name), "_manifests", "revisions", alg, hexa)

    def _tag(self, name: str, tag: str) -> str:
        return os.path.join(self._repo(name), "_manifests", "tags", tag)

    def manifest(self, name: str, digest: str) -> ManifestRecord | None:
        media_type = _read(self._revision(name, digest))
        if media_type is None:
            return None
        path = self.blob_path(digest)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None
        return ManifestRecord(digest, media_type, path, size)

    def resolve_tag(self, name: str, tag: str) -> str | None:
        text = _read(self._tag(name, tag))
        return text.strip() if text else None

    def put_manifest(self, name: str, digest: str, media_type: str, data: bytes,
                     tag: str | None, subject: str | None) -> None:
        self.write_blob(digest, data)
        if subject is not None:
            s_alg, s_hex = _split(subject)
            alg, hexa = _split(digest)
            link = os.path.join(self._repo(name), "_referrers", s_alg, s_hex, f"{alg}-{hexa}")
            if not os.path.exists(link):
                atomic_write(link, b"")
        revision = self._revision(name, digest)
        if _read(revision) != media_type:
            atomic_write(revision, media_type.encode())
        if tag is not None:
            atomic_write(self._tag(name, tag), digest.encode())

    def tags(self, name: str) -> list[str] | None:
        """Sorted tags, None when the repository does not exist."""
        base = os.path.join(self._repo(name), "_manifests")
        if not os.path.isdir(base):
            return None
        try:
            entries = os.listdir(os.path.join(base, "tags"))
        except FileNotFoundError:
            entries = []
        return sorted(t for t in entries if not t.startswith(".tmp-"))

    def tags_of(self, name: str, digest: str) -> list[str]:
        return [t for t in self.tags(name) or [] if self.resolve_tag(name, t) == digest]

    def delete_tag(self, name: str, tag: str) -> bool:
        try:
            os.unlink(self._tag(name, tag))
            return True
        except FileNotFoundError:
            return False

    def delete_manifest(self, name: str, digest: str, subject: str | None) -> bool:
        """Forget a manifest in `name` (its tags too); the content stays until gc."""
        for tag in self.tags_of(name, digest):
            self.delete_tag(name, tag)
        if subject is not None:
            s_alg, s_hex = _split(subject)
            alg, hexa = _split(digest)
            try:
                os.unlink(os.path.join(self._repo(name), "_referrers", s_alg, s_hex, f"{alg}-{hexa}"))
            except FileNotFoundError:
                pass
        try:
            os.unlink(self._revision(name, digest))
            return True
        except FileNotFoundError:
            return False

    def revisions(self, name: str) -> list[str]:
        base = os.path.join(self._repo(name), "_manifests", "revisions")
        out = []
        for alg in _listdir(base):
            out += [f"{alg}:{h}" for h in _listdir(os.path.join(base, alg)) if not h.startswith(".")]
        return out

    def layer_links(self, name: str) -> list[str]:
        base = os.path.join(self._repo(name), "_layers")
        out = []
        for alg in _listdir(base):
            out += [f"{alg}:{h}" for h in _listdir(os.path.join(base, alg)) if not h.startswith(".")]
        return out

    def referrers(self, name: str, subject: str) -> list[str]:
        s_alg, s_hex = _split(subject)
        base = os.path.join(self._repo(name), "_referrers", s_alg, s_hex)
        return sorted(e.replace("-", ":", 1) for e in _listdir(base) if not e.startswith("."))

    def repo_exists(self, name: str) -> bool:
        return os.path.isdir(os.path.join(self._repo(name), "_manifests"))

    def catalog(self) -> list[str]:
        """Every repository holding at least one manifest record, sorted."""
        out: list[str] = []

        def walk(path: str, prefix: str) -> None:
            for entry in _listdir(path):
                if entry.startswith((".", "_")):
                    continue
                full = os.path.join(path, entry)
                if not os.path.isdir(full):
                    continue
                name = f"{prefix}{entry}"
                if os.path.isdir(os.path.join(full, "_manifests")):
                    out.append(name)
                walk(full, name + "/")

        walk(self.repos_dir, "")
        return sorted(out)

    # ------------------------------------------------------------ uploads
    def new_upload(self, name: str) -> UploadInfo:
        uid = str(uuidlib.uuid4())
        d = os.path.join(self.uploads_dir, uid)
        os.makedirs(d)
        started = time.time()
        with open(os.path.join(d, "data"), "wb"):
            pass
        atomic_write(os.path.join(d, "info.json"), json.dumps({"name": name, "started": started}).encode())
        return UploadInfo(uid, name, started, os.path.join(d, "data"))

    def upload(self, uid: str) -> UploadInfo | None:
        d = os.path.join(self.uploads_dir, uid)
        text = _read(os.path.join(d, "info.json"))
        if text is None:
            return None
        try:
            info = json.loads(text)
        except ValueError:
            return None
        return UploadInfo(uid, info["name"], info["started"], os.path.join(d, "data"))

    def remove_upload(self, uid: str) -> None:
        d = os.path.join(self.uploads_dir, uid)
        for entry in _listdir(d):
            try:
                os.unlink(os.path.join(d, entry))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass

    def stale_uploads(self, age: float, now: float | None = None) -> list[str]:
        """Uploads whose last write is older than `age` seconds."""
        now = time.time() if now is None else now
        out = []
        for uid in _listdir(self.uploads_dir):
            d = os.path.join(self.uploads_dir, uid)
            try:
                last = max(os.stat(os.path.join(d, n)).st_mtime for n in os.listdir(d)) if os.listdir(d) \
                    else os.stat(d).st_mtime
            except (FileNotFoundError, NotADirectoryError):
                continue
            if now - last > age:
                out.append(uid)
        return out


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
