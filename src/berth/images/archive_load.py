"""`docker load`: docker archives (manifest.json, any docker version) and OCI
image layouts (index.json), from an untrusted tar.

The archive is read once as a stream and spooled into a private directory:
only regular files are written, under generated names, so no entry name or
link can place anything outside. Symlinks and hard links (older docker
archives link shared layer.tar files) are kept as a name-to-name map resolved
lexically inside the archive; an absolute link or one that climbs out of the
archive refuses the whole archive. Layers are applied into staging
directories, verified against the config's diff ids, and committed with the
image on the event loop in one step: a failed load leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from berth.distribution import progress as prog
from berth.errors import InvalidParameter
from berth.images import manifests as mf
from berth.images import reference as refs
from berth.images.layer_tar import apply_layer
from berth.images.store import ImageStore, chain_id
from berth.snapshots.remove import remove_tree

MAX_JSON = 16 << 20


def zlib_errors() -> tuple[type[BaseException], ...]:
    """What the decompressors raise on a corrupt archive."""
    import lzma
    import zlib

    import zstandard
    from isal import isal_zlib

    return (zlib.error, isal_zlib.error, lzma.LZMAError, zstandard.ZstdError, OSError, ValueError)


class _Spool:
    def __init__(self, root: str) -> None:
        self.root = root
        self.files: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.n = 0

    def _clean(self, name: str, entry: str) -> str:
        if name.startswith("/"):
            raise InvalidParameter(f'invalid archive: entry "{entry}" has an absolute path')
        norm = posixpath.normpath(name)
        if norm == ".." or norm.startswith("../"):
            raise InvalidParameter(f'invalid archive: entry "{entry}" points outside the archive')
        return norm

    def read(self, stream: BinaryIO) -> None:
        """Spool the archive; like docker, a gzip, bzip2, xz or zstd compressed archive is fine too."""
        from berth.images.layer_tar import _decompressed

        try:
            plain, _kind = _decompressed(stream)
            tf = tarfile.open(fileobj=plain, mode="r|", bufsize=1 << 20)  # noqa: SIM115
        except (tarfile.TarError, EOFError, OSError) as e:
            raise InvalidParameter(f"invalid archive: {e}") from None
        with tf:
            try:
                for m in tf:
                    name = self._clean(m.name, m.name)
                    if m.isreg():
                        self.n += 1
                        path = os.path.join(self.root, f"f{self.n}")
                        src = tf.extractfile(m)
                        assert src is not None
                        with open(path, "wb") as out:
                            shutil.copyfileobj(src, out, 1 << 20)
                        self.files[name] = path
                        self.links.pop(name, None)
                    elif m.issym():
                        if m.linkname.startswith("/"):
                            raise InvalidParameter(f'invalid archive: symlink "{m.name}" has an absolute target')
                        target = self._clean(posixpath.join(posixpath.dirname(name), m.linkname), m.name)
                        self.links[name] = target
                    elif m.islnk():
                        self.links[name] = self._clean(m.linkname, m.name)
                    tf.members.clear()
            except (tarfile.TarError, EOFError, *zlib_errors()) as e:
                raise InvalidParameter(f"invalid archive: {e}") from None

    def path(self, name: str) -> str | None:
        name = posixpath.normpath(name)
        for _ in range(40):
            if name in self.files:
                return self.files[name]
            # a link on the path itself, or on one of its directories
            parts = name.split("/")
            for i in range(len(parts), 0, -1):
                head = "/".join(parts[:i])
                if head in self.links:
                    name = posixpath.normpath("/".join([self.links[head], *parts[i:]]))
                    if name.startswith("../") or name == "..":
                        return None
                    break
            else:
                return None
        return None

    def read_json(self, name: str) -> Any:
        path = self.path(name)
        if path is None:
            raise InvalidParameter(f"invalid archive: {name} is missing")
        if os.path.getsize(path) > MAX_JSON:
            raise InvalidParameter(f"invalid archive: {name} is too large")
        with open(path, "rb") as f:
            data = f.read()
        try:
            return json.loads(data)
        except ValueError:
            raise InvalidParameter(f"invalid archive: {name} is not valid JSON") from None

    def read_bytes(self, name: str) -> bytes:
        path = self.path(name)
        if path is None:
            raise InvalidParameter(f"invalid archive: {name} is missing")
        if os.path.getsize(path) > MAX_JSON:
            raise InvalidParameter(f"invalid archive: {name} is too large")
        with open(path, "rb") as f:
            return f.read()


@dataclass
class _ImageToLoad:
    config: bytes
    layer_files: list[str]
    tags: list[refs.Reference] = field(default_factory=list)
    layer_digests: list[str | None] = field(default_factory=list)  # OCI: blob digests to verify


class _Hashing:
    def __init__(self, f: BinaryIO) -> None:
        self.f, self.sha, self.total = f, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.sha.update(data)
        self.total += len(data)
        return data

    def readable(self) -> bool:
        return True


def _docker_images(sp: _Spool) -> list[_ImageToLoad]:
    doc = sp.read_json("manifest.json")
    if not isinstance(doc, list):
        raise InvalidParameter("invalid archive: manifest.json is not a list")
    out = []
    for entry in doc:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidParameter("invalid archive: bad manifest.json entry")
        config = sp.read_bytes(entry["Config"])
        layers = [str(x) for x in entry.get("Layers") or []]
        files = []
        for name in layers:
            path = sp.path(name)
            if path is None:
                raise InvalidParameter(f"invalid archive: layer {name} is missing")
            files.append(path)
        tags = []
        for t in entry.get("RepoTags") or []:
            try:
                r = refs.parse(str(t))
            except InvalidParameter:
                raise InvalidParameter(f"invalid archive: invalid reference {t!r}") from None
            tags.append(r)
        out.append(_ImageToLoad(config, files, tags, [None] * len(files)))
    return out


def _blob_path(sp: _Spool, digest: str) -> str:
    algo, _, hexd = str(digest).partition(":")
    if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
        raise InvalidParameter(f"invalid archive: bad digest {digest!r}")
    path = sp.path(f"blobs/sha256/{hexd}")
    if path is None:
        raise InvalidParameter(f"invalid archive: blob {digest} is missing")
    return path


def _checked_blob(sp: _Spool, digest: str) -> bytes:
    path = _blob_path(sp, digest)
    if os.path.getsize(path) > MAX_JSON:
        raise InvalidParameter(f"invalid archive: blob {digest} is too large")
    data = open(path, "rb").read()
    if mf.sha256(data) != digest:
        raise InvalidParameter(f"invalid archive: blob {digest} does not match its digest")
    return data


def _oci_images(sp: _Spool) -> list[_ImageToLoad]:
    index = sp.read_json("index.json")
    out: list[_ImageToLoad] = []

    def walk(desc: dict, name: str | None, depth: int) -> None:
        if depth > 4:
            raise InvalidParameter("invalid archive: indexes nested too deep")
        data = _checked_blob(sp, desc.get("digest", ""))
        doc = json.loads(data)
        mt = mf.detect_type(doc, desc.get("mediaType", ""))
        if mt in mf.INDEX_TYPES:
            chosen = mf.pick_platform(doc, mf.host_platform(), name or "")
            walk(chosen, name, depth + 1)
            return
        mf.check_manifest(doc, mt)
        config = _checked_blob(sp, doc["config"]["digest"])
        files = [_blob_path(sp, l["digest"]) for l in doc["layers"]]
        tags = []
        if name:
            try:
                r = refs.parse(name)
                if not r.digest:
                    tags.append(r)
            except InvalidParameter:
                pass
        out.append(_ImageToLoad(config, files, tags, [l["digest"] for l in doc["layers"]]))

    for desc in index.get("manifests") or []:
        ann = desc.get("annotations") or {}
        name = ann.get("io.containerd.image.name") or ann.get("org.opencontainers.image.ref.name")
        if name and ":" not in name and "/" not in name and ann.get("io.containerd.image.name") is None:
            name = None  # a bare tag names no repository
        walk(desc, name, 0)
    return out


def load(store: ImageStore, cache, stream: BinaryIO, tmp_root: str, emit: prog.Emit, quiet: bool,
         run_sync: Callable[[Callable[[], Any]], Any]) -> list[str]:
    """Load an archive; returns the ids of the images loaded."""
    tmp = tempfile.mkdtemp(prefix="load-", dir=tmp_root)
    stagings: list[str] = []
    try:
        sp = _Spool(tmp)
        sp.read(stream)
        if sp.path("manifest.json") is not None:
            images = _docker_images(sp)
        elif sp.path("index.json") is not None:
            images = _oci_images(sp)
        else:
            raise InvalidParameter("invalid archive: no manifest.json or index.json "
                                   "(not a docker save or OCI layout archive)")
        plans = []
        planned: set[str] = set()
        for img in images:
            try:
                cdoc = json.loads(img.config)
            except ValueError:
                raise InvalidParameter("invalid archive: image config is not valid JSON") from None
            diff_ids = list((cdoc.get("rootfs") or {}).get("diff_ids") or [])
            if len(diff_ids) != len(img.layer_files):
                raise InvalidParameter(f"invalid archive: {len(img.layer_files)} layers for "
                                       f"{len(diff_ids)} diff ids in the config")
            layers, parent = [], ""
            for i, (diff_id, path) in enumerate(zip(diff_ids, img.layer_files)):
                cid = chain_id(parent, diff_id)
                staging = None
                size = 0
                if cid in planned:
                    layers.append((cid, parent, diff_id, None, 0, None))
                    parent = cid
                    continue
                planned.add(cid)
                if store.md.one("SELECT 1 FROM layers WHERE chain_id=?", (cid,)) is None:
                    staging = store.snaps.new_staging_dir()
                    stagings.append(staging)
                    total = os.path.getsize(path)
                    ident = prog.short(diff_id)
                    if not quiet:
                        emit({"status": "Loading layer", "progressDetail": {"current": 0, "total": total},
                              "progress": prog.bar(0, total), "id": ident})
                    with open(path, "rb") as f:
                        h = _Hashing(f)
                        result = apply_layer(h, staging)
                    if result.diff_id != diff_id:
                        raise InvalidParameter(f"invalid archive: layer {i} has diff id {result.diff_id}, "
                                               f"the config says {diff_id}")
                    want = img.layer_digests[i]
                    if want and "sha256:" + h.sha.hexdigest() != want:
                        raise InvalidParameter(f"invalid archive: blob {want} does not match its digest")
                    if not quiet:
                        emit({"status": "Loading layer", "progressDetail": {"current": total, "total": total},
                              "progress": prog.bar(total, total), "id": ident})
                    size = result.size
                    if cache is not None:
                        digest = "sha256:" + h.sha.hexdigest()
                        kept = store.blobs.path(digest)
                        if not os.path.exists(kept):
                            os.rename(path, kept)
                        media = mf.OCI_LAYER if digest == diff_id else (mf.DOCKER_LAYER if _is_gzip(kept) else "")
                        if media:
                            layers.append((cid, parent, diff_id, staging, size, (digest, media, h.total)))
                            parent = cid
                            continue
                layers.append((cid, parent, diff_id, staging, size, None))
                parent = cid
            plans.append((img, layers))

        loaded: list[str] = []

        def commit() -> list[str]:
            lines = []
            for img, layers in plans:
                for cid, par, diff_id, staging, size, kept in layers:
                    if staging is not None:
                        store._commit_layer(staging, par, diff_id, size)
                    if kept is not None and cache is not None:
                        cache.record(diff_id, *kept)
                image = store.add_image_raw(img.config, None)
                loaded.append(image.id)
                for t in img.tags:
                    old = store.md.one("SELECT image_id FROM image_refs WHERE ref=?", (str(t),))
                    if old is not None and old["image_id"] != image.id:
                        lines.append(f"The image {t.familiar()} already exists, renaming the old one with ID "
                                     f"{old['image_id']} to empty string")
                    store.add_reference(image.id, t)
                    lines.append(f"Loaded image: {t.familiar()}")
                if not img.tags:
                    lines.append(f"Loaded image ID: {image.id}")
            return lines

        for line in run_sync(commit):
            emit({"stream": line + "\n"})
        return loaded
    finally:
        for s in stagings:
            if os.path.exists(s):
                remove_tree(s)
        shutil.rmtree(tmp, ignore_errors=True)


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"
