"""`docker save`: images as a tar in docker's archive format, as docker 25+ writes it.

The archive is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`)
that also carries docker's legacy `manifest.json` and `repositories`, so both
old and new `docker load` (and OCI tools) read it. Layers are uncompressed
tars named by their diff id; each is produced (layer_source) and hashed before
its entry is written, because a tar header needs the size first.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.errors import InvalidParameter
from berth.images import layer_source
from berth.images import manifests as mf
from berth.images import reference as refs
from berth.images.store import Image, ImageStore, chain_id

Write = Callable[[bytes], None]


@dataclass
class SaveItem:
    image: Image
    tags: list[refs.Reference] = field(default_factory=list)


def select(store: ImageStore, names: list[str]) -> list[SaveItem]:
    """The images (and the tags to record) that `docker save NAME...` writes."""
    items: dict[str, SaveItem] = {}
    for name in names:
        image = store.lookup(name)
        parsed = None
        if image is None:
            try:
                parsed = refs.parse(name, default_tag=False)
            except InvalidParameter:
                parsed = None
            tagged = []
            if parsed is not None and parsed.tag is None and parsed.digest is None:
                for row in store.md.query("SELECT ref FROM image_refs WHERE ref LIKE ?", (parsed.name + ":%",)):
                    r = refs.parse(row["ref"])
                    if r.name == parsed.name and r.tag and not r.digest:
                        tagged.append(r)
            if not tagged:
                store.resolve(name)  # raises docker's "No such image"
            for r in tagged:
                img = store.lookup(str(r))
                assert img is not None
                items.setdefault(img.id, SaveItem(img)).tags.append(r)
            continue
        item = items.setdefault(image.id, SaveItem(image))
        try:
            parsed = refs.parse(name)
        except InvalidParameter:
            parsed = None
        if parsed is not None and str(parsed) in image.refs and not parsed.digest:
            item.tags.append(parsed)
    return list(items.values())


class _TarOut:
    def __init__(self, write: Write) -> None:
        self.write = write
        self.mtime = 0

    def dir(self, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = self.mtime
        self.write(info.tobuf(tarfile.PAX_FORMAT))

    def file(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = self.mtime
        self.write(info.tobuf(tarfile.PAX_FORMAT))
        self.write(data + b"\0" * (-len(data) % 512))

    def file_from(self, name: str, path: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o644
        info.mtime = self.mtime
        self.write(info.tobuf(tarfile.PAX_FORMAT))
        with open(path, "rb") as f:
            while True:
                data = f.read(1 << 20)
                if not data:
                    break
                self.write(data)
        self.write(b"\0" * (-size % 512))

    def close(self) -> None:
        self.write(b"\0" * 1024)


def _layer_tar(store: ImageStore, cache, diff_id: str, chain: str, tmpdir: str) -> tuple[str, int]:
    """Spool the layer's exact tar to a file; (path, size)."""
    kept = None
    if cache is not None:
        kept = next((b for b in cache.for_diff_id(diff_id) if store.blobs.has(b.digest)), None)
    if kept is not None:
        src = layer_source.open_kept(store.blobs.path(kept.digest))
    else:
        cache_id = store.cache_ids_for_chain([chain])[0]
        src = layer_source.regenerate(store.snaps.layer_diff(cache_id))
    verified = layer_source.Verified(src, diff_id)
    fd, path = tempfile.mkstemp(dir=tmpdir)
    with os.fdopen(fd, "wb") as out:
        for chunk in verified:
            out.write(chunk)
    return path, verified.size


def save(store: ImageStore, cache, items: list[SaveItem], write: Write, tmp_root: str) -> None:
    """Write the archive of `items` through `write` (blocking)."""
    out = _TarOut(write)
    written: set[str] = set()
    sizes_by_diff: dict[str, int] = {}
    manifest_json, index_entries, repositories = [], [], {}
    tmpdir = tempfile.mkdtemp(prefix="save-", dir=tmp_root)
    try:
        out.dir("blobs/")
        out.dir("blobs/sha256/")
        for item in items:
            config = store.config_bytes(item.image)
            config_hex = item.image.id.split(":", 1)[1]
            layers, parent = [], ""
            for diff_id in item.image.config.get("rootfs", {}).get("diff_ids", []):
                parent = chain_id(parent, diff_id)
                hexd = diff_id.split(":", 1)[1]
                if hexd not in written:
                    if store.blobs.has(diff_id):
                        # the plain tar itself is kept (content-addressed by its diff id): no copy needed
                        size = os.path.getsize(store.blobs.path(diff_id))
                        out.file_from(f"blobs/sha256/{hexd}", store.blobs.path(diff_id), size)
                    else:
                        path, size = _layer_tar(store, cache, diff_id, parent, tmpdir)
                        out.file_from(f"blobs/sha256/{hexd}", path, size)
                        os.unlink(path)
                    written.add(hexd)
                    sizes_by_diff[hexd] = size
                layers.append((hexd, sizes_by_diff[hexd]))
            if config_hex not in written:
                out.file(f"blobs/sha256/{config_hex}", config)
                written.add(config_hex)
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
                "config": {"mediaType": mf.OCI_CONFIG, "digest": item.image.id, "size": len(config)},
                "layers": [{"mediaType": mf.OCI_LAYER, "digest": "sha256:" + h, "size": s} for h, s in layers],
            }, separators=(",", ":")).encode()
            mdigest = mf.sha256(manifest)
            if mdigest.split(":", 1)[1] not in written:
                out.file(f"blobs/sha256/{mdigest.split(':', 1)[1]}", manifest)
                written.add(mdigest.split(":", 1)[1])
            names = [t.familiar() for t in item.tags]
            manifest_json.append({"Config": f"blobs/sha256/{config_hex}", "RepoTags": names or None,
                                  "Layers": [f"blobs/sha256/{h}" for h, _s in layers]})
            for t in item.tags:
                index_entries.append({"mediaType": mf.OCI_MANIFEST, "digest": mdigest, "size": len(manifest),
                                      "annotations": {"io.containerd.image.name": str(t),
                                                      "org.opencontainers.image.ref.name": t.tag}})
                repositories.setdefault(t.familiar_name, {})[t.tag] = config_hex
            if not item.tags:
                index_entries.append({"mediaType": mf.OCI_MANIFEST, "digest": mdigest, "size": len(manifest)})
        out.file("index.json", json.dumps({"schemaVersion": 2, "mediaType": mf.OCI_INDEX,
                                           "manifests": index_entries}, separators=(",", ":")).encode())
        out.file("manifest.json", json.dumps(manifest_json, separators=(",", ":")).encode())
        out.file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        if repositories:
            out.file("repositories", json.dumps(repositories, separators=(",", ":")).encode())
        out.close()
    finally:
        import shutil

        shutil.rmtree(tmpdir, ignore_errors=True)

