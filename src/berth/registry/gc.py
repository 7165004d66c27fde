"""`berth registry gc`: remove blobs no manifest references (mark and sweep).

Mark: every manifest of every repository (with `delete_untagged`, only those
reachable from a tag: tagged manifests, the children of tagged lists/indexes,
and referrers of kept manifests), their configs and layers. Sweep: every other
blob, and the repository links to it.

Like distribution's garbage collector this is not safe beside uploads: a
layer pushed just before its manifest is unreferenced until the manifest
arrives. So gc takes the root's lock exclusively and refuses to run while a
`berth registry serve` holds it (the server holds it shared). A server started
with `--read-only` (distribution's maintenance.readonly) takes no lock, so gc
can run while it keeps serving pulls.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import manifests as mf
from .errors import RegistryError
from .storage import Storage, _listdir


class GcError(Exception):
    pass


@dataclass
class GcResult:
    marked: set[str] = field(default_factory=set)
    blobs_deleted: list[str] = field(default_factory=list)
    manifests_deleted: list[tuple[str, str]] = field(default_factory=list)
    bytes_freed: int = 0


def _repositories(storage: Storage) -> list[str]:
    out: list[str] = []

    def walk(path: str, prefix: str) -> None:
        for entry in sorted(_listdir(path)):
            if entry.startswith((".", "_")):
                continue
            full = os.path.join(path, entry)
            if os.path.isdir(full):
                name = prefix + entry
                if os.path.isdir(os.path.join(full, "_manifests")) or os.path.isdir(os.path.join(full, "_layers")):
                    out.append(name)
                walk(full, name + "/")

    walk(storage.repos_dir, "")
    return out


def _all_blobs(storage: Storage) -> list[str]:
    out = []
    for alg in _listdir(storage.blobs_dir):
        for prefix in _listdir(os.path.join(storage.blobs_dir, alg)):
            for hexa in _listdir(os.path.join(storage.blobs_dir, alg, prefix)):
                if not hexa.startswith("."):
                    out.append(f"{alg}:{hexa}")
    return out


def _parse(storage: Storage, name: str, digest: str) -> tuple[mf.ParsedManifest | None, str | None]:
    rec = storage.manifest(name, digest)
    if rec is None:
        return None, None
    with open(rec.path, "rb") as f:
        data = f.read()
    try:
        parsed = mf.parse(data, rec.media_type)
    except RegistryError:
        return None, None
    return parsed, parsed.subject.digest if parsed.subject else None


def collect(root: str, dry_run: bool = False, delete_untagged: bool = False,
            say: Callable[[str], None] = lambda _line: None) -> GcResult:
    storage = Storage(root)
    fd = os.open(os.path.join(storage.root, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GcError(f"the registry at {storage.root} is in use by a running `berth registry serve`; "
                          "stop it or restart it with --read-only first: garbage collection is not safe beside uploads") from None
        return _collect(storage, dry_run, delete_untagged, say)
    finally:
        os.close(fd)


def _collect(storage: Storage, dry_run: bool, delete_untagged: bool, say: Callable[[str], None]) -> GcResult:
    result = GcResult()
    for name in _repositories(storage):
        say(name)
        revisions = storage.revisions(name)
        parsed = {d: _parse(storage, name, d) for d in revisions}
        if delete_untagged:
            keep = {storage.resolve_tag(name, t) for t in storage.tags(name) or []} & set(revisions)
            changed = True
            while changed:
                changed = False
                for d in list(keep):
                    p, _ = parsed.get(d, (None, None))
                    for child in (p.children if p else []):
                        if child.digest in parsed and child.digest not in keep:
                            keep.add(child.digest)
                            changed = True
                for d, (p, subject) in parsed.items():
                    if subject in keep and d not in keep:
                        keep.add(d)
                        changed = True
        else:
            keep = set(revisions)
        for d in sorted(set(revisions) - keep):
            say(f"{name}: manifest eligible for deletion: {d}")
            result.manifests_deleted.append((name, d))
            if not dry_run:
                storage.delete_manifest(name, d, parsed[d][1])
        for d in sorted(keep):
            say(f"{name}: marking manifest {d}")
            result.marked.add(d)
            p, _ = parsed[d]
            for blob in (p.blobs + p.children if p else []):
                if blob.digest not in result.marked:
                    say(f"{name}: marking blob {blob.digest}")
                    result.marked.add(blob.digest)
    everything = _all_blobs(storage)
    doomed = sorted(set(everything) - result.marked)
    say(f"\n{len(result.marked)} blobs marked, {len(doomed)} blobs and "
        f"{len(result.manifests_deleted)} manifests eligible for deletion")
    repositories = _repositories(storage)
    for digest in doomed:
        say(f"blob eligible for deletion: {digest}")
        result.blobs_deleted.append(digest)
        result.bytes_freed += storage.blob_size(digest) or 0
        if not dry_run:
            for name in repositories:
                storage.unlink_blob(name, digest)
            try:
                os.unlink(storage.blob_path(digest))
            except FileNotFoundError:
                pass
    for path in _stale_temp_files(storage):
        say(f"stale temporary file: {path}")
        if not dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return result


def _stale_temp_files(storage: Storage, age: float = 3600.0) -> list[str]:
    """`.tmp-*` files a crash left between write and rename (older than an hour)."""
    now = time.time()
    out = []
    for top in (storage.blobs_dir, storage.repos_dir):
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                if name.startswith(".tmp-"):
                    path = os.path.join(dirpath, name)
                    try:
                        if now - os.stat(path).st_mtime > age:
                            out.append(path)
                    except FileNotFoundError:
                        pass
    return out

