"""overlayfs snapshotter.

Image layers live read-only under layers/<cache_id>/diff and are shared by
every image and container that uses them; each container gets one rw layer
(containers/<id>/upper + work) and a merged mount point. Cache ids are short
so that a long lowerdir chain stays within the kernel's one-page mount data.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from typing import TYPE_CHECKING

from berth.snapshots import mount as m
from berth.snapshots.remove import remove_tree

if TYPE_CHECKING:
    from berth.runtime.userns import IdMapping

MOUNT_DATA_MAX = 4095  # mount(2) takes its data in one page
IDMAP_FILE = "idmap.json"  # in a remapped container's snapshot dir: its id mapping


class OverlaySnapshotter:
    def __init__(self, root: str) -> None:
        self.root = root
        self.layers_dir = os.path.join(root, "layers")
        self.containers_dir = os.path.join(root, "containers")
        self.staging_dir = os.path.join(root, "staging")
        self._idmapped: set[str] = set()  # keys of the idmapped layer views mounted (--userns-remap)
        self._idmapped_lock = threading.Lock()
        for d in (self.layers_dir, self.containers_dir, self.staging_dir):
            os.makedirs(d, exist_ok=True)

    # ---- image layers
    def new_staging_dir(self) -> str:
        """A directory to apply a layer into before it is committed."""
        path = os.path.join(self.staging_dir, secrets.token_hex(8))
        os.makedirs(path)
        os.chmod(path, 0o755)  # the container's "/" whatever the daemon's umask
        return path

    def commit_layer(self, staging: str) -> str:
        """Move a fully applied layer into place; returns its cache id."""
        cache_id = secrets.token_hex(6)
        dest = os.path.join(self.layers_dir, cache_id)
        os.makedirs(dest)
        os.rename(staging, os.path.join(dest, "diff"))
        return cache_id

    def layer_diff(self, cache_id: str) -> str:
        return os.path.join(self.layers_dir, cache_id, "diff")

    def remove_layer(self, cache_id: str) -> None:
        remove_tree(os.path.join(self.layers_dir, cache_id))

    def clean_staging(self) -> None:
        remove_tree(self.staging_dir)
        os.makedirs(self.staging_dir, exist_ok=True)

    # ---- container rw layers
    def container_dir(self, cid: str) -> str:
        return os.path.join(self.containers_dir, cid)

    def merged_dir(self, cid: str) -> str:
        return os.path.join(self.containers_dir, cid, "merged")

    def prepare(self, cid: str, idmap: IdMapping | None = None) -> None:
        """The rw layer's directories. With `idmap` (--userns-remap) the upper dir is
        owned by the remapped root, and the mapping is kept beside it for every later
        mount, commit and archive of this container."""
        base = self.container_dir(cid)
        for sub in ("upper", "work", "merged"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        if idmap is not None:
            root = idmap.root
            for sub in ("upper", "work", "merged"):
                os.chown(os.path.join(base, sub), *root)
            tmp = os.path.join(base, IDMAP_FILE + ".tmp")
            with open(tmp, "w") as f:
                json.dump(idmap.to_doc(), f)
            os.rename(tmp, os.path.join(base, IDMAP_FILE))

    def idmap(self, cid: str) -> IdMapping | None:
        """The id mapping the container was created with (None: not remapped)."""
        try:
            with open(os.path.join(self.container_dir(cid), IDMAP_FILE)) as f:
                doc = json.load(f)
        except FileNotFoundError:
            return None
        from berth.runtime.userns import IdMapping

        return IdMapping.from_doc(doc)

    def upper_idmap(self, upper: str) -> IdMapping | None:
        """idmap() for a container's upper directory path (commit's callers pass paths)."""
        base = os.path.dirname(os.path.normpath(upper))
        if os.path.dirname(base) != os.path.normpath(self.containers_dir):
            return None
        return self.idmap(os.path.basename(base))

    def mount(self, cid: str, lower_cache_ids: list[str], idmap: IdMapping | None = None) -> str:
        """Mount the container's rootfs; lower_cache_ids go top-most first. A remapped
        container's layers are seen through the idmapped view of the layers directory."""
        base = self.container_dir(cid)
        merged = os.path.join(base, "merged")
        if m.is_mounted(merged):
            return merged
        if idmap is None:
            idmap = self.idmap(cid)
        layers = self.layers_dir if idmap is None else self.idmapped_layers(idmap)
        lowers = [os.path.join(layers, c, "diff") for c in lower_cache_ids]
        if not lowers:
            empty = os.path.join(base, "empty")
            os.makedirs(empty, exist_ok=True)
            lowers = [empty]
        data = f"lowerdir={':'.join(lowers)},upperdir={base}/upper,workdir={base}/work"
        if len(data) > MOUNT_DATA_MAX:  # long chains (80+ layers): one lowerdir+ per layer
            from berth.snapshots.idmap import mount_overlay_layers

            mount_overlay_layers(lowers, f"{base}/upper", f"{base}/work", merged)
        else:
            m.mount("overlay", merged, "overlay", 0, data)
        return merged

    def idmapped_layers(self, idmap: IdMapping) -> str:
        """The layers directory seen through one read-only idmapped bind mount per
        mapping (idmapped/<key>), made on first use and kept: every remapped
        container stacks its lowers from there, so a start adds no mount per layer.
        A view left mounted by a previous daemon is reused."""
        key = hashlib.sha256("".join(idmap.proc_maps()).encode()).hexdigest()[:12]
        point = os.path.join(self.root, "idmapped", key)
        with self._idmapped_lock:
            if key not in self._idmapped:
                os.makedirs(point, exist_ok=True)
                if not m.is_mounted(point):
                    from berth.snapshots.idmap import bind_idmapped

                    bind_idmapped(self.layers_dir, point, idmap)
                self._idmapped.add(key)
        return point

    def unmount(self, cid: str) -> None:
        for point in m.mounts_under(self.merged_dir(cid)):
            m.unmount(point, lazy=True)

    def remove(self, cid: str) -> None:
        self.unmount(cid)
        base = self.container_dir(cid)
        if os.path.isdir(base):
            # Rename first so a crash mid-delete leaves no half-container under its id.
            doomed = os.path.join(self.containers_dir, ".rm-" + cid)
            os.rename(base, doomed)
            remove_tree(doomed)

    def container_ids(self) -> list[str]:
        return [n for n in os.listdir(self.containers_dir) if not n.startswith(".")]

    def clean_removed(self) -> None:
        for n in os.listdir(self.containers_dir):
            if n.startswith(".rm-"):
                remove_tree(os.path.join(self.containers_dir, n))

    def upper_size(self, cid: str) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(os.path.join(self.container_dir(cid), "upper")):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    pass
        return total
