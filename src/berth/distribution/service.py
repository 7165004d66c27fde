"""The daemon's distribution service: pull, push and login, wired to the stores.

Everything here is blocking and runs in worker threads; the API module turns
the `emit` calls into docker's JSON progress stream. Errors raised before the
first message are plain HTTP errors (as dockerd, whose output is not flushed
before the manifest is known), later ones become an error message in the stream.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from berth.distribution import progress as prog
from berth.distribution.blobcache import BlobCache, LayerKeeper
from berth.distribution.client import AuthConfig, Registry, describe_errors, raise_for
from berth.distribution.pull import Puller, Resolved, resolve
from berth.distribution.push import Pusher
from berth.errors import InvalidParameter, NotFound
from berth.images import manifests as mf
from berth.images import reference as refs
from berth.images.store import ImageStore

log = logging.getLogger("berth.distribution")


@dataclass
class DistributionConfig:
    insecure_registries: list[str] = field(default_factory=list)
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5


class DistributionService:
    def __init__(self, store: ImageStore, data_root: str, cfg: DistributionConfig) -> None:
        self.store = store
        self.cfg = cfg
        self.cache = BlobCache(store.md, store.blobs, data_root)
        store.layer_keeper = lambda: LayerKeeper(self.cache)

    def registry(self, ref: refs.Reference, auth: AuthConfig) -> Registry:
        return Registry(ref.domain, auth, list(self.cfg.insecure_registries))

    # ------------------------------------------------------------ pull
    def resolve(self, ref: refs.Reference, auth: AuthConfig, platform: str) -> Resolved:
        want = mf.parse_platform(platform) if platform else None
        reg = self.registry(ref, auth)
        try:
            return resolve(reg, ref, want)
        except BaseException:
            reg.close()
            raise

    def tags(self, ref: refs.Reference, auth: AuthConfig) -> list[str]:
        reg = self.registry(ref, auth)
        try:
            path = f"/v2/{ref.path}/tags/list"
            resp = reg.request("GET", path, f"repository:{ref.path}:pull")
            if resp.status == 404:
                _c, text = describe_errors(404, resp.read())
                raise NotFound(f"repository {ref.familiar_name} not found: {text}")
            if resp.status != 200:
                raise_for(resp, f'Get "{reg.url(path)}"')
            doc = json.loads(resp.read() or b"{}")
            return sorted(doc.get("tags") or [])
        finally:
            reg.close()

    def pull(self, res: Resolved, emit: prog.Emit, run_sync: Callable[[Callable[[], Any]], Any],
             final: bool = True, cancel: threading.Event | None = None) -> str:
        """Download and record `res`; returns the image id."""
        try:
            self.cache.prune()
            puller = Puller(self.store, self.cache, emit, run_sync, self.cfg.max_concurrent_downloads, cancel)
            image_id, changed = puller.pull(res)
        finally:
            res.registry.close()
        prog.status(emit, f"Digest: {res.digest}")
        if final:
            shown = res.ref.familiar()
            word = "Downloaded newer image" if changed else "Image is up to date"
            prog.status(emit, f"Status: {word} for {shown}")
        return image_id

    # ------------------------------------------------------------ push
    def push_targets(self, name: str, tag: str) -> list[tuple[refs.Reference, Any]]:
        """The local images a push of `name[:tag]` sends (every tag of the repository without a tag)."""
        base = refs.parse(name, default_tag=False)
        if tag:
            if tag.startswith("sha256:"):
                target = refs.Reference(base.domain, base.path, None, tag)
            else:
                target = base.with_tag(tag)
        elif base.tag or base.digest:
            target = base
        else:
            target = None
        if target is not None:
            image = self.store.lookup(str(target))
            if image is None:
                raise NotFound(f"An image does not exist locally with the tag: {base.familiar_name}")
            return [(target, image)]
        out = []
        prefix = base.name + ":"
        for row in self.store.md.query("SELECT ref FROM image_refs WHERE ref LIKE ? ORDER BY ref", (prefix + "%",)):
            r = refs.parse(row["ref"])
            if r.name == base.name and r.tag and not r.digest:
                out.append((r, self.store.lookup(str(r))))
        if not out:
            raise NotFound(f"An image does not exist locally with the tag: {base.familiar_name}")
        return out

    def push(self, targets: list[tuple[refs.Reference, Any]], auth: AuthConfig, emit: prog.Emit) -> None:
        first = targets[0][0]
        prog.status(emit, f"The push refers to repository [{first.name}]")
        reg = self.registry(first, auth)
        try:
            self.cache.prune()
            pusher = Pusher(self.store, self.cache, emit, self.cfg.max_concurrent_uploads)
            for target, image in targets:
                digest, size = pusher.push(reg, target, image)
                shown = target.tag or target.digest or "latest"
                prog.status(emit, f"{shown}: digest: {digest} size: {size}")
                emit({"progressDetail": {}, "aux": {"Tag": shown, "Digest": digest, "Size": size}})
        finally:
            reg.close()

    # ------------------------------------------------------------ login
    def login(self, auth: AuthConfig) -> None:
        address = auth.serveraddress or "docker.io"
        host = address.split("://", 1)[-1].split("/", 1)[0]
        if host in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
            host = "docker.io"
        if not host or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7f for c in address) or \
                not all(c.isalnum() or c in ".-:[]_" for c in host):
            raise InvalidParameter(f"invalid registry address: {address!r}")
        reg = Registry(host, auth, list(self.cfg.insecure_registries))
        try:
            reg.login()
        finally:
            reg.close()
