"""overlayfs snapshotter.

Image layers live read-only under layers/<cache_id>/diff and are shared by
every image and container that uses them; each container gets one rw layer
(containers/<id>/upper + work) and a merged mount point. Cache ids are short
so that a long lowerdir chain stays within the kernel's one-page mount data.
"""

from __future__ import annotations

import os
import secrets

from berth.snapshots import mount as m
from berth.snapshots.remove import remove_tree


class OverlaySnapshotter:
    def __init__(self, root: str) -> None:
        self.root = root
        self.layers_dir = os.path.join(root, "layers")
        self.containers_dir = os.path.join(root, "containers")
        self.staging_dir = os.path.join(root, "staging")
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

    def prepare(self, cid: str) -> None:
        base = self.container_dir(cid)
        for sub in ("upper", "work", "merged"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)

    def mount(self, cid: str, lower_cache_ids: list[str]) -> str:
        """Mount the container's rootfs; lower_cache_ids go top-most first."""
        base = self.container_dir(cid)
        merged = os.path.join(base, "merged")
        if m.is_mounted(merged):
            return merged
        lowers = [self.layer_diff(c) for c in lower_cache_ids]
        if not lowers:
            empty = os.path.join(base, "empty")
            os.makedirs(empty, exist_ok=True)
            lowers = [empty]
        data = f"lowerdir={':'.join(lowers)},upperdir={base}/upper,workdir={base}/work"
        m.mount("overlay", merged, "overlay", 0, data)
        return merged

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
