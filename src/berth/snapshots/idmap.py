"""Idmapped bind mounts (Linux 5.12+) for remapped containers' image layers.

Image layers stay on disk with the container's own ids (root is 0), shared by
every container. The snapshotter bind-mounts the whole layers directory once
per mapping, idmapped and read-only (overlay/idmapped/<key>): open_tree
(OPEN_TREE_CLONE) detaches a copy of the directory's mount, mount_setattr
(MOUNT_ATTR_IDMAP) gives it a user namespace holding the mapping, move_mount
attaches it. A remapped container's overlay takes its lowerdirs from there (an
idmapped overlay itself is refused by the kernel, and an overlay whose upper dir
is idmapped comes up read-only), so its upper dir stays a plain directory that
holds the container's files with their host (shifted) ids, and a start costs no
mount per layer.

The user namespace for the maps comes from a short-lived forked child that
unshares one; the daemon writes its maps, opens /proc/PID/ns/user and lets the
child go. The fd keeps the namespace alive; one is kept per mapping.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

from berth.runtime.userns import IdMapping

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long

SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_IDMAP = 0x100000
CLONE_NEWUSER = 0x10000000


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(rc: int, what: str) -> int:
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return rc


_lock = threading.Lock()
_userns_fds: dict[tuple[str, str], int] = {}


def userns_fd(mapping: IdMapping) -> int:
    """An fd of a user namespace with the mapping's maps (cached; never close it)."""
    key = mapping.proc_maps()
    with _lock:
        fd = _userns_fds.get(key)
        if fd is None:
            fd = _userns_fds[key] = _make_userns(*key)
        return fd


def _make_userns(uid_map: str, gid_map: str) -> int:
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only raw syscalls until _exit
        try:
            os.close(ready_r)
            os.close(go_w)
            ok = _libc.unshare(CLONE_NEWUSER) == 0
            os.write(ready_w, b"1" if ok else b"0")
            os.read(go_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OSError(1, "cannot create a user namespace for idmapped mounts (unshare CLONE_NEWUSER failed)")
        for name, text in (("uid_map", uid_map), ("gid_map", gid_map)):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(text)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(go_w)  # the child reads EOF and exits
        os.waitpid(pid, 0)


def bind_idmapped(source: str, target: str, mapping: IdMapping, readonly: bool = True) -> None:
    """Mount `source` on the (existing, empty) directory `target`, ids shifted by `mapping`:
    a file owned by container id N on disk shows as its host id through `target`."""
    ns = userns_fd(mapping)
    tree = _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, source.encode(),
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), f"open_tree {source}")
    try:
        attr = _MountAttr(MOUNT_ATTR_IDMAP | (MOUNT_ATTR_RDONLY if readonly else 0), 0, 0, ns)
        _check(_libc.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr),
                             ctypes.sizeof(attr)), f"idmapped mount of {source}")
        _check(_libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(),
                             MOVE_MOUNT_F_EMPTY_PATH), f"move_mount to {target}")
    finally:
        os.close(tree)


# ---------------------------------------------------------------- long lowerdir chains
SYS_FSOPEN = 430
SYS_FSCONFIG = 431
SYS_FSMOUNT = 432
FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
# mount(2) takes its data in one page; the idmapped layer paths are long.
MOUNT_DATA_MAX = 4095


def mount_overlay_layers(lowers: list[str], upper: str | None, work: str | None, target: str) -> None:
    """An overlay mount with one `lowerdir+` per layer (Linux 6.8+), for chains
    whose lowerdir string would not fit in mount(2)'s one-page data. Without an
    upper directory the overlay is read-only."""
    fs = _check(_libc.syscall(SYS_FSOPEN, b"overlay", FSOPEN_CLOEXEC), "fsopen overlay")
    try:
        def put(key: str, value: str) -> None:
            _check(_libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_SET_STRING, key.encode(), value.encode(), 0),
                   f"overlay option {key}={value}")

        try:
            for lower in lowers:
                put("lowerdir+", lower)
        except OSError as e:
            raise OSError(e.errno, f"{len(lowers)} image layers are too many for one overlay mount on this "
                                   f"kernel (lowerdir+ needs Linux 6.8): {e.strerror}") from None
        if upper is not None and work is not None:
            put("upperdir", upper)
            put("workdir", work)
        _check(_libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_CMD_CREATE, None, None, 0), "overlay create")
        mnt = _check(_libc.syscall(SYS_FSMOUNT, fs, FSMOUNT_CLOEXEC, 0), "fsmount overlay")
        try:
            _check(_libc.syscall(SYS_MOVE_MOUNT, mnt, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH),
                   f"move_mount to {target}")
        finally:
            os.close(mnt)
    finally:
        os.close(fs)


def probe(work_dir: str, mapping: IdMapping) -> None:
    """Make and drop one idmapped mount in `work_dir` (on the layers' file system), so a
    kernel or file system that cannot do it fails the daemon's start with the reason,
    not the first container's."""
    import shutil
    import tempfile

    from berth.snapshots import mount as m

    top = tempfile.mkdtemp(prefix=".idmap-probe-", dir=work_dir)
    try:
        src, dst = os.path.join(top, "src"), os.path.join(top, "dst")
        os.mkdir(src)
        os.mkdir(dst)
        bind_idmapped(src, dst, mapping)
        try:
            if os.stat(dst).st_uid != mapping.root[0]:
                raise OSError(0, "the idmapped mount does not show the mapped owner")
        finally:
            m.unmount(dst, lazy=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)
