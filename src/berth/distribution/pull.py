"""Pull an image from a registry into the image store (docker pull).

Each missing layer is downloaded, hashed, decompressed and applied into its
own staging directory in one streaming pass (layer directories are independent
in overlayfs, so up to N layers do this in parallel). The compressed bytes go
to a partial file keyed by the blob digest as they arrive, so an interrupted
pull resumes with `Range: bytes=N-` (the stored bytes are re-read to feed the
hash and the decompressor). A layer becomes visible only once its blob digest
and diff id are verified: the staging directories are committed, and the image
recorded, in one synchronous step on the event loop at the very end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from isal import isal_zlib

from berth.distribution import progress as prog
from berth.distribution.blobcache import BlobCache
from berth.distribution.client import AuthConfig, Registry, index_name, raise_for
from berth.errors import BerthError, InvalidParameter, NotFound, System, Unavailable
from berth.images import manifests as mf
from berth.images import reference as refs
from berth.images.layer_tar import apply_layer
from berth.images.store import ImageStore, chain_id
from berth.snapshots.remove import remove_tree

log = logging.getLogger("berth.distribution.pull")
CHUNK = 1 << 20
MAX_MANIFEST = 4 << 20


class PullError(BerthError):
    status = 500


@dataclass
class Resolved:
    """A manifest found for a reference (before any layer moves)."""

    ref: refs.Reference
    digest: str              # what the reference resolved to (a list's digest for a list)
    manifest: dict
    media_type: str
    config: bytes
    config_doc: dict
    registry: Registry


def fetch_manifest(reg: Registry, repo: str, ref_text: str, shown: str) -> tuple[bytes, str, str]:
    """(body, media type, digest) of a manifest by tag or digest."""
    scope = f"repository:{repo}:pull"
    resp = reg.request("GET", f"/v2/{repo}/manifests/{ref_text}", scope, {"Accept": mf.ACCEPT})
    if resp.status == 404:
        body = resp.read()
        from berth.distribution.client import describe_errors

        _code, text = describe_errors(404, body)
        raise NotFound(f"manifest for {shown} not found: {text}")
    if resp.status != 200:
        raise_for(resp, f'Head "{reg.url(f"/v2/{repo}/manifests/{ref_text}")}"')
    body = resp.resp.read(MAX_MANIFEST + 1)
    resp.release() if resp.resp.isclosed() else resp.discard()
    if len(body) > MAX_MANIFEST:
        raise InvalidParameter(f"manifest for {shown} is larger than 4 MiB")
    digest = mf.sha256(body)
    if ref_text.startswith("sha256:") and digest != ref_text:
        raise InvalidParameter(f"manifest verification failed for digest {ref_text}")
    return body, resp.header("Content-Type"), digest


def fetch_small_blob(reg: Registry, repo: str, digest: str) -> bytes:
    resp = reg.request("GET", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull")
    if resp.status != 200:
        raise_for(resp, f'Get "{reg.url(f"/v2/{repo}/blobs/{digest}")}"')
    body = resp.read()
    if mf.sha256(body) != digest:
        raise InvalidParameter(f"image config verification failed for digest {digest}")
    return body


def resolve(reg: Registry, ref: refs.Reference, want: mf.Platform | None) -> Resolved:
    repo = ref.path
    body, ctype, digest = fetch_manifest(reg, repo, ref.digest or ref.tag or "latest", ref.familiar())
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidParameter(f"failed to parse manifest for {ref.familiar()}") from None
    mt = mf.detect_type(doc, ctype)
    top_digest = digest
    if mt in mf.INDEX_TYPES:
        desc = mf.pick_platform(doc, want or mf.host_platform(), ref.familiar())
        body, ctype, _d = fetch_manifest(reg, repo, desc["digest"], ref.familiar())
        doc = json.loads(body)
        mt = mf.detect_type(doc, ctype)
    mf.check_manifest(doc, mt)
    config = fetch_small_blob(reg, repo, doc["config"]["digest"])
    cdoc = json.loads(config)
    if want is not None and mt not in mf.INDEX_TYPES:
        have = mf.Platform(cdoc.get("os", ""), cdoc.get("architecture", ""), cdoc.get("variant", "") or "")
        if (have.os, have.architecture) != (want.os, want.architecture) or (
                want.variant and have.variant and want.variant != have.variant):
            raise NotFound(f"image with reference {ref.familiar()} was found but does not match the specified "
                           f"platform: wanted {want}, actual: {have}")
    diff_ids = (cdoc.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(doc["layers"]):
        raise InvalidParameter(f"invalid image {ref.familiar()}: {len(doc['layers'])} layers in the manifest, "
                               f"{len(diff_ids)} diff ids in the config")
    return Resolved(ref, top_digest, doc, mt, config, cdoc, reg)


class _TeeReader:
    """The layer's compressed stream: stored partial bytes first, then the
    network, appended to the partial file as they arrive, all hashed.

    A download thread does the network side (receive, append, hash) while the
    caller's thread decompresses and applies, so the two halves overlap.
    """

    def __init__(self, part: BinaryIO, have: int, resp: Any, meter: prog.Meter, expected: int,
                 cancel: threading.Event | None = None) -> None:
        self.cancel = cancel
        self.part = part
        self.have = have
        self.resp = resp
        self.meter = meter
        self.sha = hashlib.sha256()
        self.total = 0
        self.expected = expected
        self.error: BaseException | None = None
        self.net_bytes = 0
        self._q: queue.Queue = queue.Queue(maxsize=32)
        self._mode: str | None = None
        self._magic = b""
        self._pending = b""
        self._gz: Any = None
        self.inflate_error: BerthError | None = None
        self._buf = b""
        self._eof = False
        self._stop = False
        self._thread = threading.Thread(target=self._download, name="pull-recv", daemon=True)
        self._thread.start()

    def _put(self, data: bytes) -> bool:
        while not self._stop:
            try:
                self._q.put(data, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _download(self) -> None:
        try:
            fd = self.part.fileno()
            offset = 0
            while offset < self.have:
                data = os.pread(fd, min(CHUNK, self.have - offset), offset)
                if not data:
                    self.error = System("partial download shrank while reading it")
                    return
                offset += len(data)
                self.sha.update(data)
                self.total += len(data)
                for out in self._inflate(data):
                    if not self._put(out):
                        return
            self.part.seek(self.have)
            while not self._stop:
                if self.cancel is not None and self.cancel.is_set():
                    # the client went away: stop, keeping the bytes so far for the next pull
                    self.error = Unavailable("failed to download layer: the pull was cancelled")
                    return
                try:
                    # read1: what has arrived (up to 1 MiB), so progress and cancellation keep up
                    # with a slow registry
                    data = self.resp.read1(CHUNK)
                except BaseException as e:  # noqa: BLE001 - kept and reported as the pull's error
                    self.error = Unavailable(f"failed to download layer: {_neterr(e)}")
                    return
                if not data:
                    if self.total < self.expected:
                        self.error = Unavailable("failed to download layer: unexpected EOF")
                    elif self._gz is not None and not self._gz.eof and self.total:
                        self.inflate_error = InvalidParameter("failed to read gzip layer: unexpected end of stream")
                    return
                try:
                    self.part.write(data)
                except OSError as e:  # the data root is full (ENOSPC, EDQUOT) or failing (EIO)
                    self.error = System(f"failed to download layer: write {self.part.name}: "
                                        f"{(e.strerror or str(e)).lower()}")
                    return
                self.sha.update(data)
                self.total += len(data)
                self.net_bytes += len(data)
                self.meter.add(len(data))
                for out in self._inflate(data):
                    if not self._put(out):
                        return
            if self._gz is not None and not self._gz.eof and self.total:
                self.inflate_error = InvalidParameter("failed to read gzip layer: unexpected end of stream")
        finally:
            try:
                self._q.put_nowait(None)
            except queue.Full:
                if not self._stop:
                    self._q.put(None)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        """gzip is inflated on this thread (isal), so the applier only parses and writes.
        At most CHUNK bytes come out per step: 1 MB of a decompression bomb inflates to
        1 GB, which must flow through the bounded queue, never be held at once."""
        if self._mode is None:
            self._magic += data[:2 - len(self._magic)]
            if len(self._magic) < 2:
                self._pending += data
                return
            self._mode = "gzip" if self._magic == b"\x1f\x8b" else "raw"
            data, self._pending = self._pending + data, b""
            if self._mode == "gzip":
                self._gz = isal_zlib.decompressobj(31)
        if self._mode == "failed":
            return
        if self._gz is None:
            if data:
                yield data
            return
        try:
            while True:
                if self._gz.eof:
                    data = self._gz.unused_data
                    if not data:
                        return
                    self._gz = isal_zlib.decompressobj(31)  # a multi-member gzip stream
                out = self._gz.decompress(data, CHUNK)
                data = self._gz.unconsumed_tail
                if out:
                    yield out
                if not data and not self._gz.eof and len(out) < CHUNK:
                    return  # all input taken and nothing more pending: wait for the network
        except Exception as e:  # noqa: BLE001 - isal's error: a corrupt stream
            # keep hashing what follows: the digest check decides how this is reported
            self.inflate_error = InvalidParameter(f"failed to read gzip layer: {e}")
            self._mode, self._gz = "failed", None

    def read(self, n: int = -1) -> bytes:
        if not self._buf:
            if self._eof:
                return b""
            data = self._q.get()
            if data is None:
                self._eof = True
                self._thread.join()
                if self.error is not None:
                    raise self.error
                return b""
            self._buf = data
        if n is None or n < 0 or n >= len(self._buf):
            out, self._buf = self._buf, b""
            return out
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Stop the download thread (after an error on the consuming side)."""
        self._stop = True
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _neterr(e: BaseException) -> str:
    from berth.distribution.client import _neterr as ne

    if isinstance(e, (ValueError, AttributeError)):
        return "unexpected EOF"
    return ne(e)


@dataclass
class LayerJob:
    index: int
    desc: dict
    diff_id: str
    chain: str
    ident: str
    staging: str | None = None
    size: int = 0
    done: threading.Event = field(default_factory=threading.Event)


class Puller:
    def __init__(self, store: ImageStore, cache: BlobCache, emit: prog.Emit, run_sync: Callable[[Callable[[], Any]], Any],
                 max_concurrent: int = 3, cancel: threading.Event | None = None) -> None:
        self.cancel = cancel
        self.store = store
        self.cache = cache
        self.emit = emit
        self.run_sync = run_sync
        self.max_concurrent = max(1, max_concurrent)

    def pull(self, res: Resolved) -> tuple[str, bool]:
        """Download what is missing and record the image; (image id, new reference?)."""
        reg, ref, repo = res.registry, res.ref, res.ref.path
        prog.status(self.emit, f"Pulling from {ref.path}", ref.digest or ref.tag or "latest")
        diff_ids = res.config_doc["rootfs"]["diff_ids"]
        jobs: list[LayerJob] = []
        parent = ""
        for i, desc in enumerate(res.manifest["layers"]):
            parent = chain_id(parent, diff_ids[i])
            jobs.append(LayerJob(i, desc, diff_ids[i], parent, prog.short(desc["digest"])))
        missing = [j for j in jobs if self.store.md.one("SELECT 1 FROM layers WHERE chain_id=?", (j.chain,)) is None]
        seen: dict[str, LayerJob] = {}
        unique: list[LayerJob] = []
        for j in jobs:
            if j not in missing:
                prog.layer_status(self.emit, "Already exists", j.ident)
                continue
            if j.desc["digest"] in seen:
                continue
            seen[j.desc["digest"]] = j
            unique.append(j)
        for j in unique:
            prog.layer_status(self.emit, "Pulling fs layer", j.ident)
        for j in unique[self.max_concurrent:]:
            prog.layer_status(self.emit, "Waiting", j.ident)
        failures: list[BaseException] = []
        try:
            if unique:
                with ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="pull") as pool:
                    futures: list[tuple[LayerJob, Future]] = [(j, pool.submit(self._layer, reg, repo, j)) for j in unique]
                    for j, fut in futures:
                        try:
                            fut.result()
                        except BaseException as e:  # noqa: BLE001
                            failures.append(e)
                            continue
                        if not failures:
                            self.emit({"status": "Extracting", "progressDetail": {"current": j.desc.get("size", 0),
                                                                                  "total": j.desc.get("size", 0)},
                                       "progress": prog.bar(int(j.desc.get("size", 0)), int(j.desc.get("size", 0))),
                                       "id": j.ident})
                            prog.layer_status(self.emit, "Pull complete", j.ident)
            if failures:
                raise failures[0]
            # Layers that repeat a blob already fetched in this pull: apply from the kept blob.
            for j in missing:
                if j.staging is None and seen.get(j.desc["digest"]) is not j:
                    self._apply_stored(j)
            return self.run_sync(lambda: self._commit(res, missing))
        finally:
            for j in missing:
                if j.staging is not None and os.path.exists(j.staging):
                    remove_tree(j.staging)

    # ------------------------------------------------------------ one layer
    def _layer(self, reg: Registry, repo: str, j: LayerJob) -> None:
        with self.cache.lock(j.desc["digest"]):
            self._fetch_layer(reg, repo, j)

    def _fetch_layer(self, reg: Registry, repo: str, j: LayerJob) -> None:
        digest = j.desc["digest"]
        size = int(j.desc.get("size") or 0)
        if self.cache.blobs.has(digest):
            self._apply_stored(j)
            return
        part_path = self.cache.partial_path(digest)
        have = os.path.getsize(part_path) if os.path.exists(part_path) else 0
        if size and have >= size:
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        path = f"/v2/{repo}/blobs/{digest}"
        resp = reg.request("GET", path, f"repository:{repo}:pull", headers)
        if resp.status == 206:
            start = resp.header("Content-Range").replace("bytes ", "").split("-")[0]
            if not start.isdigit() or int(start) != have:
                resp.discard()
                raise Unavailable(f"registry answered range {resp.header('Content-Range')!r} for bytes={have}-")
        elif resp.status == 200:
            have = 0
        else:
            raise_for(resp, f'Get "{reg.url(path)}"')
        meter = prog.Meter(self.emit, "Downloading", j.ident, size)
        meter.current = have
        started = time.monotonic()
        staging = self.store.snaps.new_staging_dir()
        j.staging = staging
        mode = "r+b" if have else "w+b"
        with open(part_path, mode) as part:
            if not have:
                part.truncate(0)
            tee = _TeeReader(part, have, resp.resp, meter, size, self.cancel)
            try:
                result = apply_layer(tee, staging, on_warning=lambda w: log.warning("pull %s: %s", digest, w))
            except BaseException as e:
                if tee.error is None and isinstance(e, System):
                    # the host failed (no space left on device...), not the layer: stop, and drop
                    # the partial download, which would only hold on to the space that ran out
                    tee.close()
                    resp.discard()
                    _unlink(part_path)
                    raise System(f"failed to register layer: {e.message[:1].lower()}{e.message[1:]}") from None
                if isinstance(tee.error, System):
                    tee.close()
                    resp.discard()
                    _unlink(part_path)
                    raise tee.error from None
                if tee.error is None:
                    # docker checks the digest before it extracts: a corrupt blob is reported as such
                    try:
                        while tee.read(CHUNK):
                            pass
                    except BaseException:  # noqa: BLE001
                        pass
                part.flush()
                resp.discard()
                if tee.error is not None:
                    raise tee.error from None
                if "sha256:" + tee.sha.hexdigest() != digest:
                    os.unlink(part_path)
                    raise InvalidParameter(f"filesystem layer verification failed for digest {digest}") from None
                os.unlink(part_path)
                if tee.inflate_error is not None:
                    raise tee.inflate_error from None
                raise InvalidParameter(f"failed to register layer: {getattr(e, 'message', e)}") from None
            # apply_layer read the tar to its end; anything after it must still be read and hashed
            try:
                while tee.read(CHUNK):
                    pass
            except System:
                resp.discard()
                _unlink(part_path)
                raise
            part.flush()
        resp.release()
        meter.send()
        log.debug("layer %s: %d bytes from the network, %d resumed, fetched and applied in %.2f s",
                  digest, tee.net_bytes, have, time.monotonic() - started)
        prog.layer_status(self.emit, "Verifying Checksum", j.ident)
        if "sha256:" + tee.sha.hexdigest() != digest or (size and tee.total != size):
            os.unlink(part_path)
            raise InvalidParameter(f"filesystem layer verification failed for digest {digest}")
        if tee.inflate_error is not None:
            os.unlink(part_path)
            raise tee.inflate_error
        if result.diff_id != j.diff_id:
            os.unlink(part_path)
            raise InvalidParameter(f"layer {digest}: diff id {result.diff_id} does not match the config's {j.diff_id}")
        prog.layer_status(self.emit, "Download complete", j.ident)
        os.rename(part_path, self.cache.blobs.path(digest))
        j.size = result.size

    def _apply_stored(self, j: LayerJob) -> None:
        digest = j.desc["digest"]
        staging = self.store.snaps.new_staging_dir()
        j.staging = staging
        with open(self.cache.blobs.path(digest), "rb") as f:
            result = apply_layer(f, staging, on_warning=lambda w: log.warning("pull %s: %s", digest, w))
        if result.diff_id != j.diff_id:
            raise InvalidParameter(f"layer {digest}: diff id {result.diff_id} does not match the config's {j.diff_id}")
        j.size = result.size
        prog.layer_status(self.emit, "Download complete", j.ident)

    # ------------------------------------------------------------ commit
    def _commit(self, res: Resolved, missing: list[LayerJob]) -> tuple[str, bool]:
        """On the event loop: layers in order, then the image and its references."""
        parent = ""
        by_chain = {j.chain: j for j in missing}
        for diff_id in res.config_doc["rootfs"]["diff_ids"]:
            cid = chain_id(parent, diff_id)
            j = by_chain.get(cid)
            if j is not None and j.staging is not None:
                self.store._commit_layer(j.staging, parent, diff_id, j.size)
                j.staging = None
                if self.cache.blobs.has(j.desc["digest"]):
                    # recorded only now: a prune running meanwhile would drop a blob of no layer
                    self.cache.record(diff_id, j.desc["digest"], j.desc.get("mediaType") or mf.DOCKER_LAYER,
                                      int(j.desc.get("size") or 0))
            parent = cid
        ref = res.ref
        before = None
        named = None
        if ref.tag is not None and ref.digest is None:
            named = ref
            row = self.store.md.one("SELECT image_id FROM image_refs WHERE ref=?", (str(ref),))
            before = row["image_id"] if row else None
        digest_ref = refs.Reference(ref.domain, ref.path, None, res.digest)
        if named is None:
            row = self.store.md.one("SELECT image_id FROM image_refs WHERE ref=?", (str(digest_ref),))
            before = row["image_id"] if row else None
        image = self.store.add_image_raw(res.config, named)
        self.store.add_reference(image.id, digest_ref)
        self.cache.set_oci(image.id, res.media_type == mf.OCI_MANIFEST)
        for layer, diff_id in zip(res.manifest["layers"], res.config_doc["rootfs"]["diff_ids"]):
            self.cache.add_source(layer["digest"], index_name(ref.domain), ref.path)
            # also for layers that already existed: a later push can HEAD or mount this blob
            if not any(b.digest == layer["digest"] for b in self.cache.for_diff_id(diff_id)):
                self.cache.record(diff_id, layer["digest"], layer.get("mediaType") or mf.DOCKER_LAYER,
                                  int(layer.get("size") or 0))
        return image.id, before != image.id


def registry_for(ref: refs.Reference, auth: AuthConfig, insecure: list[str]) -> Registry:
    return Registry(ref.domain, auth, list(insecure))
