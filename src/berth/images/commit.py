"""A container's rw layer (its overlay upper directory) read as docker reads it:
as a list of changes (`docker diff`) and as a new image layer (`docker commit`).

The upper directory holds overlayfs's own notation: a deletion is a 0/0
character device ("whiteout"), a directory that hides everything below it is
marked with the `trusted.overlay.opaque=y` attribute. A layer tar carries the
AUFS notation instead (`.wh.<name>`, `<dir>/.wh..wh..opq`), which is what
registries and `docker load` expect and what `layer_tar.apply_layer` turns back
into overlay form.

Docker keeps the files the runtime needs as mount targets (/etc/hosts,
/etc/resolv.conf, /etc/hostname, /proc, /dev, ...) in a separate init layer
below the rw layer, so they never show up in a diff or a commit. Berth has no
init layer: crun creates those targets in the upper directory when the image
lacks them. They are recognised (empty, absent from every image layer) and left
out, together with directories that were copied up only to hold them.
"""

from __future__ import annotations

import copy
import logging
import os
import posixpath
import stat
import tarfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from berth.errors import System
from berth.images.layer_tar import WHITEOUT_OPAQUE, WHITEOUT_PREFIX, apply_layer
from berth.images.tree_tar import EMPTY_TAR_DIGEST, TreeTar
from berth.snapshots.overlay import OverlaySnapshotter

if TYPE_CHECKING:
    from berth.runtime.userns import IdMapping

log = logging.getLogger("berth.images.commit")

KIND_MODIFIED, KIND_ADDED, KIND_DELETED = 0, 1, 2
OPAQUE_XATTR = "trusted.overlay.opaque"
# Mount targets docker keeps in its init layer (paths relative to the root).
INIT_PATHS = frozenset({
    ".dockerenv", "etc", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab",
    "dev", "dev/console", "dev/pts", "dev/shm", "dev/mqueue", "proc", "sys",
})

_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH_OPEN = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_CACHED_DIRS = 64


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


@dataclass
class UpperEntry:
    parts: tuple[str, ...]
    st: os.stat_result
    opaque: bool = False
    children: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return "/" + "/".join(self.parts)


class Lowers:
    """Lookups in the image layers below a container (top-most first), never
    following a symlink: a layer is data, not a place to walk out of."""

    def __init__(self, dirs: list[str]) -> None:
        self.roots = [os.open(d, _PATH_OPEN) for d in dirs]
        self._dirs: OrderedDict[tuple[int, tuple[str, ...]], int | None] = OrderedDict()

    def close(self) -> None:
        for fd in self._dirs.values():
            if fd is not None:
                os.close(fd)
        self._dirs.clear()
        for fd in self.roots:
            os.close(fd)
        self.roots = []

    def __enter__(self) -> Lowers:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dir(self, layer: int, parts: tuple[str, ...]) -> int | None:
        if not parts:
            return self.roots[layer]
        key = (layer, parts)
        if key in self._dirs:
            self._dirs.move_to_end(key)
            return self._dirs[key]
        # Descend from the deepest cached ancestor in a loop: layers may nest
        # directories far deeper than Python's recursion limit.
        depth = len(parts) - 1
        while depth and (layer, parts[:depth]) not in self._dirs:
            depth -= 1
        fd: int | None = self.roots[layer] if not depth else self._dirs[(layer, parts[:depth])]
        for i in range(depth, len(parts)):
            child: int | None = None
            if fd is not None:
                try:
                    child = os.open(parts[i], _PATH_OPEN, dir_fd=fd)
                except OSError:
                    child = None
            fd = child
            self._dirs[(layer, parts[:i + 1])] = fd
            while len(self._dirs) > _MAX_CACHED_DIRS:
                _, old = self._dirs.popitem(last=False)
                if old is not None and old != fd:
                    os.close(old)
        return fd

    def names(self, parts: tuple[str, ...]) -> set[str]:
        """Names in the directory `parts` of any layer, whiteouts left out."""
        out: set[str] = set()
        for layer in range(len(self.roots)):
            fd = self._dir(layer, parts)
            if fd is None:
                continue
            try:
                listing = os.open(".", _DIR_OPEN, dir_fd=fd)
            except OSError:
                continue
            try:
                with os.scandir(listing) as it:
                    for ent in it:
                        try:
                            if not is_whiteout(ent.stat(follow_symlinks=False)):
                                out.add(ent.name)
                        except OSError:
                            continue
            finally:
                os.close(listing)
        return out

    def lstat(self, parts: tuple[str, ...]) -> os.stat_result | None:
        """The entry at `parts` in the top-most layer that has one."""
        for layer in range(len(self.roots)):
            parent = self._dir(layer, parts[:-1])
            if parent is None:
                continue
            try:
                return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            except OSError:
                continue
        return None


def scan_upper(upper: str) -> list[UpperEntry]:
    """Every entry of the upper directory, pre-order, names sorted (Go's Walk order)."""
    out: list[UpperEntry] = []
    by_parts: dict[tuple[str, ...], UpperEntry] = {}
    root = os.open(upper, _DIR_OPEN)
    stack: list[tuple[int, tuple[str, ...], list[os.DirEntry]]] = [(root, (), _entries(root))]
    try:
        while stack:
            fd, prefix, entries = stack[-1]
            if not entries:
                stack.pop()
                os.close(fd)
                continue
            ent = entries.pop()
            parts = prefix + (ent.name,)
            try:
                st = ent.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            entry = UpperEntry(parts, st)
            if stat.S_ISDIR(st.st_mode):
                try:
                    child = os.open(ent.name, _DIR_OPEN, dir_fd=fd)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                try:
                    entry.opaque = _is_opaque(child)
                    children = _entries(child)
                except BaseException:
                    os.close(child)
                    raise
                stack.append((child, parts, children))
            out.append(entry)
            by_parts[parts] = entry
            if prefix:
                by_parts[prefix].children.append(parts)
    finally:
        for fd, _p, _e in stack:
            os.close(fd)
    return out


def _entries(fd: int) -> list[os.DirEntry]:
    with os.scandir(fd) as it:
        items = list(it)
    items.sort(key=lambda e: e.name, reverse=True)
    return items


def init_leftovers(entries: list[UpperEntry], lowers: Lowers,
                   idmap: IdMapping | None = None) -> set[tuple[str, ...]]:
    """Entries that stand for docker's init layer, not for the container's work.
    With `idmap` the upper dir's owners are host ids, the layers' container ids."""
    hidden: set[tuple[str, ...]] = set()
    for e in reversed(entries):  # children before their parents
        if is_whiteout(e.st) or e.opaque:
            continue
        all_hidden = all(k in hidden for k in e.children)
        mode = e.st.st_mode
        if "/".join(e.parts) in INIT_PATHS and lowers.lstat(e.parts) is None and (
                (stat.S_ISREG(mode) and e.st.st_size == 0) or (stat.S_ISDIR(mode) and all_hidden)):
            hidden.add(e.parts)
            continue
        if stat.S_ISDIR(mode) and e.children and all_hidden:
            low = lowers.lstat(e.parts)
            owner = (e.st.st_uid, e.st.st_gid) if idmap is None else idmap.to_container(e.st.st_uid, e.st.st_gid)
            if low is not None and low.st_mode == mode and (low.st_uid, low.st_gid) == owner:
                hidden.add(e.parts)  # copied up only to hold mount targets
    return hidden


def _same_fs_time(a: int, b: int) -> bool:
    """Docker's sameFsTime on nanosecond mtimes: equal, or equal seconds where one side lost its nanoseconds."""
    if a == b:
        return True
    sa, na = divmod(a, 1_000_000_000)
    sb, nb = divmod(b, 1_000_000_000)
    return sa == sb and (na == 0 or nb == 0)


def changes(upper: str, lower_dirs: list[str], idmap: IdMapping | None = None) -> list[dict]:
    """`docker diff`: Kind 0 modified, 1 added, 2 deleted, with docker's rules:
    a whiteout is a deletion, a path some image layer has is a modification, the
    parent of an addition or deletion is a modification; an opaque directory is
    modified and what it hides below is deleted. Sorted in Walk order."""
    entries = scan_upper(upper)
    out: list[dict] = []
    with Lowers(lower_dirs) as lowers:
        hidden = init_leftovers(entries, lowers, idmap)
        changed_dirs: set[str] = set()

        def record(path: str, kind: int, is_dir: bool) -> None:
            if is_dir:
                changed_dirs.add(path)
            if kind != KIND_MODIFIED:
                parent = posixpath.dirname(path)
                if parent != "/" and parent not in changed_dirs:
                    out.append({"Path": parent, "Kind": KIND_MODIFIED})
                    changed_dirs.add(parent)
            out.append({"Path": path, "Kind": kind})

        for e in entries:
            if e.parts in hidden:
                continue
            path = e.path
            is_dir = stat.S_ISDIR(e.st.st_mode)
            if is_whiteout(e.st):
                record(path, KIND_DELETED, False)
                continue
            low = lowers.lstat(e.parts)
            if e.opaque:
                record(path, KIND_ADDED if low is None else KIND_MODIFIED, True)
                present = {k[-1] for k in e.children}
                for gone in sorted(lowers.names(e.parts) - present):
                    record(path + "/" + gone, KIND_DELETED, False)
                continue
            kind = KIND_ADDED
            if low is not None:
                if (stat.S_ISDIR(low.st_mode) and is_dir and low.st_size == e.st.st_size
                        and low.st_mode == e.st.st_mode
                        and _same_fs_time(low.st_mtime_ns, e.st.st_mtime_ns)):
                    continue  # a parent copied up for a change below it: reported with that change
                kind = KIND_MODIFIED
            record(path, kind, is_dir)
    out.sort(key=lambda c: c["Path"].split("/"))
    return out


# ---------------------------------------------------------------------- the layer
class _LayerTar(TreeTar):
    """The upper directory as a layer tar, overlay whiteouts in AUFS form."""

    def directory(self, fd: int, arcname: str, st: os.stat_result) -> None:
        super().directory(fd, arcname, st)
        if _is_opaque(fd):
            marker = tarfile.TarInfo(arcname.rstrip("/") + "/" + WHITEOUT_OPAQUE)
            marker.type = tarfile.REGTYPE
            marker.mode = stat.S_IMODE(st.st_mode) & 0o777
            marker.uid, marker.gid = st.st_uid, st.st_gid
            marker.uname = marker.gname = ""
            marker.mtime = 0  # docker writes the marker without a time
            self.header(marker)

    def entry(self, dir_fd: int, name: str, arcname: str, st: os.stat_result) -> None:
        if is_whiteout(st):
            head, _, base = arcname.rpartition("/")
            info = tarfile.TarInfo((head + "/" if head else "") + WHITEOUT_PREFIX + base)
            info.type = tarfile.REGTYPE
            info.mode = 0o600
            info.uid, info.gid = st.st_uid, st.st_gid
            info.uname = info.gname = ""
            info.mtime = int(st.st_mtime)
            # The kernel writes whiteouts as the mounter: under a remap they are not the
            # container's files, and docker leaves their owner as it is too.
            self.header(info, shift=info.uid != 0)
            return
        super().entry(dir_fd, name, arcname, st)


def _check_overlay_features() -> None:
    """With metacopy or redirect_dir the upper directory no longer holds whole
    files and renames; a tar of it would not be the container's changes."""
    for feature in ("metacopy", "redirect_dir"):
        try:
            with open(f"/sys/module/overlay/parameters/{feature}") as f:
                value = f.read().strip()
        except OSError:
            continue
        if value in ("Y", "on", "follow"):
            raise System(f"cannot commit: overlayfs {feature} is enabled on this host "
                         f"(/sys/module/overlay/parameters/{feature}={value})")


@dataclass
class LayerFromUpper:
    staging: str | None  # the applied layer, ready for ImageStore.add_layer_image; None if empty
    diff_id: str
    size: int


def layer_from_upper(snaps: OverlaySnapshotter, upper: str, lower_dirs: list[str],
                     idmap: IdMapping | None = None) -> LayerFromUpper:
    """Write the rw layer as a tar and apply that same stream into a staging
    directory, so the stored layer is exactly what its diff id names. Blocking:
    run it in a thread. A remapped container's ids are shifted back (its mapping
    is found beside its upper dir when not given)."""
    _check_overlay_features()
    if idmap is None:
        idmap = snaps.upper_idmap(upper)
    entries = scan_upper(upper)
    with Lowers(lower_dirs) as lowers:
        hidden = {"/".join(p) for p in init_leftovers(entries, lowers, idmap)}
    staging = snaps.new_staging_dir()
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_fd, "wb", buffering=0) as sink:
                tar = _LayerTar(sink, idmap)
                top = os.open(upper, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    tar.add_tree(top, None, "", include_top=False,
                                 skip=lambda arc, _st: arc.rstrip("/") in hidden)
                finally:
                    os.close(top)
                tar.close()
        except BrokenPipeError:
            pass  # the applier stopped reading; its error is the one to report
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            failure.append(e)

    writer = threading.Thread(target=produce, name="commit-tar", daemon=True)
    writer.start()
    try:
        with open(read_fd, "rb") as source:
            result = apply_layer(source, staging, on_warning=lambda w: log.warning("commit: %s", w))
    except BaseException:
        writer.join()
        _remove(staging)
        if failure:
            raise _as_system(failure[0]) from None
        raise
    writer.join()
    if failure:
        _remove(staging)
        raise _as_system(failure[0])
    if result.diff_id == EMPTY_TAR_DIGEST:
        _remove(staging)
        return LayerFromUpper(None, result.diff_id, 0)
    return LayerFromUpper(staging, result.diff_id, result.size)


def _as_system(e: BaseException) -> BaseException:
    if isinstance(e, OSError):
        return System(f"failed to read the container's changes: {e.strerror or e}")
    return e


def _remove(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------- the config
def merge_commit_config(user: dict, container: dict) -> dict:
    """Docker's merge for `commit` with a config in the body: what the body
    leaves unset comes from the container's config."""
    out = copy.deepcopy(user)
    if not out.get("User"):
        out["User"] = container.get("User", "")
    ports = dict(container.get("ExposedPorts") or {})
    ports.update(out.get("ExposedPorts") or {})
    out["ExposedPorts"] = ports or None
    env = list(out.get("Env") or [])
    keys = {e.split("=", 1)[0] for e in env}
    env += [e for e in container.get("Env") or [] if e.split("=", 1)[0] not in keys]
    out["Env"] = env or None
    labels = dict(container.get("Labels") or {})
    labels.update(out.get("Labels") or {})
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = container.get("Cmd")
            if "ArgsEscaped" in container:
                out["ArgsEscaped"] = container["ArgsEscaped"]
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = container.get("Entrypoint")
    if container.get("Healthcheck"):
        health = dict(container["Healthcheck"])
        health.update({k: v for k, v in (out.get("Healthcheck") or {}).items() if v})
        out["Healthcheck"] = health
    if not out.get("WorkingDir"):
        out["WorkingDir"] = container.get("WorkingDir", "")
    volumes = dict(out.get("Volumes") or {})
    volumes.update(container.get("Volumes") or {})
    out["Volumes"] = volumes or None
    if not out.get("StopSignal") and container.get("StopSignal"):
        out["StopSignal"] = container["StopSignal"]
    return out


def image_config(parent: dict, container_id: str, container_config: dict, config: dict,
                 diff_id: str, author: str, comment: str, created: str, arch: str) -> dict:
    """The committed image's config: the parent's layers and history plus one
    entry, docker's fields for a commit (container, container_config, author)."""
    empty = diff_id == EMPTY_TAR_DIGEST
    diff_ids = list((parent.get("rootfs") or {}).get("diff_ids") or [])
    if not empty:
        diff_ids.append(diff_id)
    entry: dict = {"created": created}
    if author:
        entry["author"] = author
    created_by = " ".join(container_config.get("Cmd") or [])
    if created_by:
        entry["created_by"] = created_by
    if comment:
        entry["comment"] = comment
    if empty:
        entry["empty_layer"] = True
    out: dict = {"architecture": parent.get("architecture") or arch}
    if author:
        out["author"] = author
    if comment:
        out["comment"] = comment
    out.update({
        "config": config,
        "container": container_id,
        "container_config": container_config,
        "created": created,
        "history": [*(parent.get("history") or []), entry],
        "os": parent.get("os") or "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    for key in ("variant", "os.version", "os.features"):
        if parent.get(key):
            out[key] = parent[key]
    return out
