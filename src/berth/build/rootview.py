"""A read-only view of an image's filesystem, and path resolution scoped to a root.

COPY/ADD/WORKDIR need to know what the image already holds at a path
(directories to copy up, a destination that is a directory, symlinks on the
way) and COPY --from reads files out of another stage's image. A read-only
overlay mount of the image's layers answers both with the kernel's own
whiteout and opaque-directory semantics (one layer is used as it is: overlay
wants two lower directories without an upper one).
"""

from __future__ import annotations

import os
import posixpath
import secrets
import shutil
import stat

from berth.snapshots import mount as m
from berth.snapshots.idmap import MOUNT_DATA_MAX, mount_overlay_layers

MS_RDONLY = 1
MAX_LINKS = 40


class RootView:
    """`path` is the image's root; `close()` unmounts and removes the mount point."""

    def __init__(self, base_dir: str, layer_dirs: list[str]) -> None:
        """layer_dirs: top-most first."""
        self._mountpoint: str | None = None
        self._empty: str | None = None
        if not layer_dirs:
            self._empty = os.path.join(base_dir, "empty-" + secrets.token_hex(6))
            os.makedirs(self._empty)
            self.path = self._empty
        elif len(layer_dirs) == 1:
            self.path = layer_dirs[0]
        else:
            self._mountpoint = os.path.join(base_dir, "view-" + secrets.token_hex(6))
            os.makedirs(self._mountpoint)
            data = "lowerdir=" + ":".join(layer_dirs)
            if len(data) > MOUNT_DATA_MAX:  # mount(2) takes one page: long chains go one layer at a time
                mount_overlay_layers(layer_dirs, None, None, self._mountpoint)
            else:
                m.mount("overlay", self._mountpoint, "overlay", MS_RDONLY, data)
            self.path = self._mountpoint

    def close(self) -> None:
        if self._mountpoint is not None:
            m.unmount(self._mountpoint, lazy=True)
            try:
                os.rmdir(self._mountpoint)
            except OSError:
                pass
            self._mountpoint = None
        if self._empty is not None:
            shutil.rmtree(self._empty, ignore_errors=True)
            self._empty = None

    def __enter__(self) -> "RootView":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lstat(self, path: str) -> os.stat_result | None:
        try:
            return os.lstat(os.path.join(self.path, path.lstrip("/")))
        except OSError:
            return None


def scoped_resolve(root: str, path: str, follow_last: bool = True) -> str | None:
    """`path` inside `root` with every symlink resolved as if `root` were `/`
    (docker's FollowSymlinkInScope). Returns a clean path relative to root ("" for
    the root itself); None when a link loop or an over-long chain is met. The
    result may not exist."""
    todo = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while todo:
        name = todo.pop(0)
        if name == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, name)
        try:
            st = os.lstat(candidate)
        except OSError:
            done.append(name)
            continue
        if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
            hops += 1
            if hops > MAX_LINKS:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
            continue
        done.append(name)
    return "/".join(done)


def is_outside(path: str) -> bool:
    """A context-relative source path that climbs out of the context (`../x`)."""
    clean = posixpath.normpath(path) if path else "."
    return clean == ".." or clean.startswith("../")
