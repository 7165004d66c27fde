"""Push an image to a registry (docker push).

Per layer, in parallel (5 at a time by default, as dockerd): a blob already
known for the layer's diff id is checked with HEAD (`Layer already exists`),
then mounted from another repository of the same registry where it was seen
(`Mounted from team/other`); otherwise it is uploaded: a kept compressed blob
as it is, or the layer tar compressed on the fly with isal (gzip level 1:
docker uses Go's default level 6, which is ~15x slower here and is the
reason docker's pushes are slow), streamed in one PATCH while the compressed
bytes are also kept, so the next push of the layer is identical and a HEAD.
Then the config blob and the manifest: docker schema 2, or OCI for images
that came as OCI.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from isal import isal_zlib

from berth.distribution import progress as prog
from berth.distribution.blobcache import BlobCache, BlobInfo
from berth.distribution.client import Registry, index_name, raise_for
from berth.errors import InvalidParameter, System
from berth.images import layer_source
from berth.images import manifests as mf
from berth.images import reference as refs
from berth.images.store import Image, ImageStore, chain_id

log = logging.getLogger("berth.distribution.push")
CHUNK = 1 << 20
COMPRESSED_TYPES = (mf.DOCKER_LAYER, mf.OCI_LAYER_GZIP, mf.OCI_LAYER_ZSTD)


@dataclass
class PushedLayer:
    digest: str
    size: int
    media_type: str


class _Gzip:
    """Compress a tar stream (isal level 1) into chunks, hashing the output and
    keeping a copy in `keep`."""

    def __init__(self, chunks: Any, keep: Any, meter: prog.Meter) -> None:
        self.chunks, self.keep, self.meter = chunks, keep, meter
        import hashlib

        self.sha = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        comp = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)
        for data in self.chunks:
            out = comp.compress(data)
            self.meter.add(len(data))
            if out:
                yield self._out(out)
        yield self._out(comp.flush())

    def _out(self, data: bytes) -> bytes:
        self.sha.update(data)
        self.size += len(data)
        self.keep.write(data)
        return data


class Pusher:
    def __init__(self, store: ImageStore, cache: BlobCache, emit: prog.Emit, max_concurrent: int = 5) -> None:
        self.store, self.cache, self.emit = store, cache, emit
        self.max_concurrent = max(1, max_concurrent)

    def push(self, reg: Registry, target: refs.Reference, image: Image) -> tuple[str, int]:
        repo = target.path
        scope = f"repository:{repo}:pull,push"
        config = self.store.config_bytes(image)
        diff_ids = list(image.config.get("rootfs", {}).get("diff_ids", []))
        chains, parent = [], ""
        for d in diff_ids:
            parent = chain_id(parent, d)
            chains.append(parent)
        order = list(range(len(diff_ids)))[::-1]  # docker lists the top layer first
        for i in order:
            prog.layer_status(self.emit, "Preparing", prog.short(diff_ids[i]))
        for i in order[self.max_concurrent:]:
            prog.layer_status(self.emit, "Waiting", prog.short(diff_ids[i]))
        results: dict[int, PushedLayer] = {}
        with ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="push") as pool:
            futs = {i: pool.submit(self._layer, reg, repo, scope, diff_ids[i], chains[i]) for i in order}
            for i in order:
                results[i] = futs[i].result()
        self._config(reg, repo, scope, config)
        oci = self.cache.is_oci(image.id) or any(r.media_type == mf.OCI_LAYER_ZSTD for r in results.values())
        manifest = mf.build_manifest(oci, config, [mf.LayerDescriptor(results[i].media_type, results[i].size,
                                                                      results[i].digest) for i in range(len(diff_ids))])
        ref_text = target.digest or target.tag or "latest"
        digest = mf.sha256(manifest)
        if target.digest and digest != target.digest:
            raise InvalidParameter(f"cannot push {target.familiar()}: the manifest Berth writes for this image "
                                   f"has digest {digest}")
        resp = reg.request("PUT", f"/v2/{repo}/manifests/{ref_text}", scope,
                           {"Content-Type": mf.OCI_MANIFEST if oci else mf.DOCKER_MANIFEST}, manifest)
        if resp.status not in (200, 201):
            raise_for(resp, f'Put "{reg.url(f"/v2/{repo}/manifests/{ref_text}")}"')
        resp.read()
        self.store.add_reference(image.id, refs.Reference(target.domain, target.path, None, digest))
        return digest, len(manifest)

    # ------------------------------------------------------------ layers
    def _layer(self, reg: Registry, repo: str, scope: str, diff_id: str, chain: str) -> PushedLayer:
        ident = prog.short(diff_id)
        registry = index_name(reg.domain)
        known = [b for b in self.cache.for_diff_id(diff_id) if b.media_type in COMPRESSED_TYPES]
        for info in known:
            if self._exists(reg, repo, scope, info.digest):
                prog.layer_status(self.emit, "Layer already exists", ident)
                self.cache.add_source(info.digest, registry, repo)
                return PushedLayer(info.digest, info.size, info.media_type)
        location = None
        for info in known:
            for other in self.cache.sources(info.digest, registry):
                if other == repo:
                    continue
                mounted, location = self._mount(reg, repo, other, info.digest)
                if mounted:
                    prog.layer_status(self.emit, f"Mounted from {other}", ident)
                    self.cache.add_source(info.digest, registry, repo)
                    return PushedLayer(info.digest, info.size, info.media_type)
                break
        stored = next((b for b in known if self.cache.blobs.has(b.digest)), None)
        if location is None:
            location = self._start_upload(reg, repo, scope)
        if stored is not None:
            layer = self._upload_stored(reg, repo, scope, location, stored, ident)
        else:
            layer = self._upload_compressed(reg, repo, scope, location, diff_id, chain, ident)
        prog.layer_status(self.emit, "Pushed", ident)
        self.cache.add_source(layer.digest, registry, repo)
        return layer

    def _exists(self, reg: Registry, repo: str, scope: str, digest: str) -> bool:
        resp = reg.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope)
        resp.read()
        if resp.status in (200, 307):
            return True
        if resp.status in (404, 401, 403):
            return False
        raise_for(resp, f'Head "{reg.url(f"/v2/{repo}/blobs/{digest}")}"', b"")
        return False

    def _mount(self, reg: Registry, repo: str, other: str, digest: str) -> tuple[bool, str | None]:
        scope = f"repository:{repo}:pull,push repository:{other}:pull"
        q = urllib.parse.urlencode({"mount": digest, "from": other})
        resp = reg.request("POST", f"/v2/{repo}/blobs/uploads/?{q}", scope, {"Content-Length": "0"}, b"")
        resp.read()
        if resp.status == 201:
            return True, None
        if resp.status == 202:
            return False, resp.header("Location")
        return False, None

    def _start_upload(self, reg: Registry, repo: str, scope: str) -> str:
        resp = reg.request("POST", f"/v2/{repo}/blobs/uploads/", scope, {"Content-Length": "0"}, b"")
        if resp.status != 202:
            raise_for(resp, f'Post "{reg.url(f"/v2/{repo}/blobs/uploads/")}"')
        resp.read()
        location = resp.header("Location")
        if not location:
            raise System("registry started an upload without a Location")
        return location

    def _path(self, reg: Registry, location: str) -> str:
        u = urllib.parse.urlsplit(urllib.parse.urljoin(reg.url("/v2/"), location))
        return u.path + ("?" + u.query if u.query else "")

    def _finish(self, reg: Registry, scope: str, location: str, body: Any, digest_of: Any) -> str:
        path = self._path(reg, location)
        resp = reg.request("PATCH", path, scope, {"Content-Type": "application/octet-stream"}, body, chunked=True)
        if resp.status not in (202, 204):
            raise_for(resp, f'Patch "{reg.url(path)}"')
        resp.read()
        digest = digest_of()
        path = self._path(reg, resp.header("Location") or location)
        sep = "&" if "?" in path else "?"
        resp = reg.request("PUT", f"{path}{sep}digest={urllib.parse.quote(digest)}", scope,
                           {"Content-Length": "0"}, b"")
        if resp.status not in (201, 204):
            raise_for(resp, f'Put "{reg.url(path)}"')
        resp.read()
        return digest

    def _upload_stored(self, reg: Registry, repo: str, scope: str, location: str, info: BlobInfo,
                       ident: str) -> PushedLayer:
        meter = prog.Meter(self.emit, "Pushing", ident, info.size)

        def chunks() -> Iterator[bytes]:
            with open(self.cache.blobs.path(info.digest), "rb") as f:
                while True:
                    data = f.read(CHUNK)
                    if not data:
                        return
                    meter.add(len(data))
                    yield data

        self._finish(reg, scope, location, chunks(), lambda: info.digest)
        meter.send()
        return PushedLayer(info.digest, info.size, info.media_type)

    def _upload_compressed(self, reg: Registry, repo: str, scope: str, location: str, diff_id: str,
                           chain: str, ident: str) -> PushedLayer:
        kept = next((b for b in self.cache.for_diff_id(diff_id) if self.cache.blobs.has(b.digest)), None)
        if kept is not None:
            src = layer_source.open_kept(self.cache.blobs.path(kept.digest))
        else:
            cache_id = self.store.cache_ids_for_chain([chain])[0]
            src = layer_source.regenerate(self.store.snaps.layer_diff(cache_id))
        row = self.store.md.one("SELECT size FROM layers WHERE chain_id=?", (chain,))
        total = int(row["size"]) if row else 0
        if kept is not None and kept.media_type == mf.OCI_LAYER:
            total = kept.size  # the tar's own length: the meter counts tar bytes
        meter = prog.Meter(self.emit, "Pushing", ident, total)
        verified = layer_source.Verified(src, diff_id)
        tmp = os.path.join(self.cache.partial_dir, "push-" + os.urandom(8).hex())
        try:
            with open(tmp, "wb") as keep:
                gz = _Gzip(verified, keep, meter)
                digest = self._finish(reg, scope, location, iter(gz), lambda: "sha256:" + gz.sha.hexdigest())
            meter.send()
            os.rename(tmp, self.cache.blobs.path(digest))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.cache.record(diff_id, digest, mf.DOCKER_LAYER, gz.size)
        return PushedLayer(digest, gz.size, mf.DOCKER_LAYER)

    def _config(self, reg: Registry, repo: str, scope: str, config: bytes) -> None:
        digest = mf.sha256(config)
        if self._exists(reg, repo, scope, digest):
            return
        location = self._start_upload(reg, repo, scope)
        path = self._path(reg, location)
        sep = "&" if "?" in path else "?"
        resp = reg.request("PUT", f"{path}{sep}digest={urllib.parse.quote(digest)}", scope,
                           {"Content-Type": "application/octet-stream"}, config)
        if resp.status not in (201, 204):
            raise_for(resp, f'Put "{reg.url(path)}"')
        resp.read()
