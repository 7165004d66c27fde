"""Write a directory tree as a tar stream without ever following a symlink.

The trees Berth archives (a container's merged rootfs for `docker cp` and
`docker export`, its rw layer for `docker commit`) are written by whatever runs
in the container, possibly while we read them. So nothing is reached by path
string: each directory is opened relative to its already-open parent with
`O_NOFOLLOW | O_DIRECTORY`, each file with `O_NOFOLLOW | O_NONBLOCK` (a FIFO
swapped in cannot block us), and the header comes from `fstat` of what was
actually opened. A file that changes size while it is read is cut or padded
to the size in its header, so the stream stays a valid tar whatever the
container does; entries that vanish between listing and opening are left out.

The tar follows docker's conventions: PAX format, directories named with a
trailing `/`, hardlinks for files seen before with the same inode, mtimes in
whole seconds, only the `security.capability` extended attribute, sockets
skipped, and the end marker of Go's writer (two zero blocks, no padding to a
10 KiB record).
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from berth.runtime.userns import IdMapping

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
# sha256 of END_OF_ARCHIVE alone: docker's "empty layer" diff id.
EMPTY_TAR_DIGEST = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20
_FLUSH_AT = 256 << 10
_KEPT_XATTRS = ("security.capability",)
# Leading bytes that stream readers take for a compressed stream (gzip, bzip2, zstd).
_COMPRESSION_MAGIC = (b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd")

_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ESTALE)


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class TreeTar:
    """A tar stream written entry by entry into `sink` (anything with write())."""

    def __init__(self, sink: Sink, idmap: IdMapping | None = None) -> None:
        self._sink = sink
        # --userns-remap: the tree holds host (shifted) ids; headers carry the container's.
        self.idmap = idmap
        self._buf = bytearray()
        self._links: dict[tuple[int, int], str] = {}
        self._first = True
        self.bytes_written = 0

    # ---------------------------------------------------------------- output
    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._sink.write(bytes(self._buf))
            self.bytes_written += len(self._buf)
            self._buf.clear()

    def close(self) -> None:
        self._emit(END_OF_ARCHIVE)
        self.flush()

    def header(self, info: tarfile.TarInfo, shift: bool = True) -> None:
        if self.idmap is not None and shift:
            info.uid, info.gid = self.idmap.to_container(info.uid, info.gid)
        if self._first:
            self._first = False
            if info.name.encode("utf-8", "surrogateescape").startswith(_COMPRESSION_MAGIC):
                # Keep magic-sniffing readers (ours included) from taking the tar for gzip/bzip2/zstd.
                info.pax_headers = {**info.pax_headers, "path": info.name}
        self._emit(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    # ---------------------------------------------------------------- entries
    def add_tree(self, dir_fd: int, name: str | None, arcname: str, *,
                 skip: Callable[[str, os.stat_result], bool] | None = None,
                 include_top: bool = True) -> None:
        """Archive `name` (relative to dir_fd; None: dir_fd itself) as `arcname`, recursively.

        `skip(arcname, st)` leaves an entry (and, for a directory, its content) out.
        """
        if name is None:
            top = os.open(".", _DIR_OPEN, dir_fd=dir_fd)
            try:
                st = os.fstat(top)
                if include_top:
                    self.directory(top, arcname, st)
                self._walk(top, _child_prefix(arcname) if include_top else arcname, skip)
            finally:
                os.close(top)
            return
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as e:
            if e.errno in _GONE:
                return
            raise
        if skip is not None and skip(arcname, st):
            return
        if not stat.S_ISDIR(st.st_mode):
            self.entry(dir_fd, name, arcname, st)
            return
        try:
            fd = os.open(name, _DIR_OPEN, dir_fd=dir_fd)
        except OSError as e:
            if e.errno in _GONE:
                return
            raise
        try:
            self.directory(fd, arcname, os.fstat(fd))
            self._walk(fd, _child_prefix(arcname), skip)
        finally:
            os.close(fd)

    def _walk(self, top: int, prefix: str, skip: Callable[[str, os.stat_result], bool] | None) -> None:
        """Pre-order, names sorted (as Go's filepath.Walk), iterative: depth is the container's choice."""
        stack: list[tuple[int, str, list[os.DirEntry]]] = [(top, prefix, _sorted_entries(top))]
        try:
            while stack:
                fd, pre, entries = stack[-1]
                if not entries:
                    stack.pop()
                    if fd != top:
                        os.close(fd)
                    continue
                ent = entries.pop()
                arc = pre + ent.name
                try:
                    st = ent.stat(follow_symlinks=False)
                except OSError as e:
                    if e.errno in _GONE:
                        continue
                    raise
                if skip is not None and skip(arc, st):
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    self.entry(fd, ent.name, arc, st)
                    continue
                try:
                    child = os.open(ent.name, _DIR_OPEN, dir_fd=fd)
                except OSError as e:
                    if e.errno in _GONE:
                        continue
                    raise
                try:
                    self.directory(child, arc, os.fstat(child))
                    children = _sorted_entries(child)
                except BaseException:
                    os.close(child)
                    raise
                stack.append((child, _child_prefix(arc), children))
        finally:
            for fd, _pre, _entries in stack:
                if fd != top:
                    os.close(fd)

    def directory(self, fd: int, arcname: str, st: os.stat_result) -> None:
        """A directory entry; subclasses add entries after it (opaque markers)."""
        info = _info(arcname if arcname.endswith("/") else arcname + "/", st, tarfile.DIRTYPE)
        _add_xattrs(info, fd)
        self.header(info)

    def entry(self, dir_fd: int, name: str, arcname: str, st: os.stat_result) -> None:
        """One non-directory entry found in dir_fd as `name` (st from lstat)."""
        mode = st.st_mode
        if stat.S_ISREG(mode):
            self._regular(dir_fd, name, arcname)
        elif stat.S_ISLNK(mode):
            try:
                target = os.readlink(name, dir_fd=dir_fd)
            except OSError as e:
                if e.errno in _GONE or e.errno == errno.EINVAL:
                    return
                raise
            info = _info(arcname, st, tarfile.SYMTYPE)
            info.linkname = target
            self.header(info)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            if self._hardlink(arcname, st):
                return
            info = _info(arcname, st, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.header(info)
        elif stat.S_ISFIFO(mode):
            if self._hardlink(arcname, st):
                return
            self.header(_info(arcname, st, tarfile.FIFOTYPE))
        # sockets (and anything else) cannot be archived: docker skips them too

    def _hardlink(self, arcname: str, st: os.stat_result) -> bool:
        if st.st_nlink <= 1:
            return False
        key = (st.st_dev, st.st_ino)
        first = self._links.get(key)
        if first is None:
            self._links[key] = arcname
            return False
        info = _info(arcname, st, tarfile.LNKTYPE)
        info.linkname = first
        info.size = 0
        self.header(info)
        return True

    def _regular(self, dir_fd: int, name: str, arcname: str) -> None:
        try:
            fd = os.open(name, _FILE_OPEN, dir_fd=dir_fd)
        except OSError as e:
            if e.errno in _GONE:
                return  # removed or swapped for a symlink since it was listed
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return  # replaced by something else since it was listed
            if self._hardlink(arcname, st):
                return
            info = _info(arcname, st, tarfile.REGTYPE)
            info.size = st.st_size
            _add_xattrs(info, fd)
            self.header(info)
            self._content(fd, st.st_size)
        finally:
            os.close(fd)

    def _content(self, fd: int, size: int) -> None:
        """Exactly `size` bytes, then padding: a file that grew is cut, one that shrank is zero-filled."""
        left = size
        while left > 0:
            data = os.read(fd, min(_CHUNK, left))
            if not data:
                break
            self._emit(data)
            left -= len(data)
        if left > 0:
            zeros = b"\0" * min(left, _CHUNK)
            while left > 0:
                n = min(left, len(zeros))
                self._emit(zeros[:n])
                left -= n
        pad = -size % BLOCK
        if pad:
            self._emit(b"\0" * pad)


def _child_prefix(arcname: str) -> str:
    """Children of `arcname`: "" for the tar root, "/x" under "/", "d/x" under "d"."""
    if arcname == "":
        return ""
    return arcname.rstrip("/") + "/"


def _sorted_entries(fd: int) -> list[os.DirEntry]:
    """Entries of an open directory, in reverse name order (popped from the end)."""
    with os.scandir(fd) as it:
        entries = list(it)
    entries.sort(key=lambda e: e.name, reverse=True)
    return entries


def _info(name: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid = st.st_uid
    info.gid = st.st_gid
    info.uname = ""
    info.gname = ""
    info.mtime = int(st.st_mtime)
    info.size = 0
    return info


def _add_xattrs(info: tarfile.TarInfo, fd: int) -> None:
    for name in _KEPT_XATTRS:
        try:
            value = os.getxattr(fd, name)
        except OSError:
            continue
        info.pax_headers = {**info.pax_headers,
                            "SCHILY.xattr." + name: value.decode("utf-8", "surrogateescape")}
