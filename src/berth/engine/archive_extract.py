"""Extract a `docker cp` upload into a directory of a container's root.

Docker unpacks the tar chrooted into the container, so a symlinked parent
(`/bin -> usr/bin`) is followed, but only inside the container. Here each
entry's parent directory is resolved with `rootfs_paths.resolve` (symlinks
followed inside the root) and opened component by component with `O_NOFOLLOW`;
the entry itself is created relative to that fd and never through a symlink
(an existing one is replaced, as docker replaces it). Names that climb out of
the destination, symlinks whose relative target does and hardlinks to outside
of it are refused with docker's messages.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import shutil
import stat
import tarfile
from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, BinaryIO

from berth.engine import rootfs_paths as rp
from berth.errors import Forbidden, InvalidParameter, System
from berth.fileio import write_stream
from berth.images.layer_tar import clean_parts

if TYPE_CHECKING:
    from berth.runtime.userns import IdMapping

log = logging.getLogger("berth.engine.archive")

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_XATTR_PREFIX = "SCHILY.xattr."
_CHUNK = 1 << 20
_MAX_OPEN = 64


class Extractor:
    def __init__(self, root_fd: int, dest: list[str], owner: tuple[int, int] | None,
                 no_overwrite_dir_non_dir: bool, idmap: IdMapping | None = None) -> None:
        self.root = root_fd
        # --userns-remap: entries carry the container's ids, the rootfs holds host ids.
        self.idmap = idmap
        self.dest = dest
        self.dest_path = rp.join(dest)
        self.owner = owner
        self.no_overwrite = no_overwrite_dir_non_dir
        self._parents: OrderedDict[tuple[str, ...], int] = OrderedDict()
        self._dir_times: list[tuple[tuple[str, ...], int]] = []

    def close(self) -> None:
        for fd in self._parents.values():
            os.close(fd)
        self._parents.clear()

    # ------------------------------------------------------------ paths
    def _rel(self, name: str) -> tuple[str, ...]:
        """An entry name as components below the destination (docker's Clean + breakout check)."""
        parts = clean_parts(name)
        if parts is None:
            raise InvalidParameter(f'"{name}" is outside of "{self.dest_path}"')
        return parts

    def _container_path(self, rel: tuple[str, ...]) -> str:
        return rp.join([*self.dest, *rel])

    def _dir(self, rel: tuple[str, ...], entry: str) -> int:
        """O_PATH fd of the directory dest/rel, made if missing, symlinks followed in the root."""
        fd = self._parents.get(rel)
        if fd is not None:
            self._parents.move_to_end(rel)
            return fd
        try:
            parts = rp.resolve(self.root, self._container_path(rel))
            fd = rp.open_dir(self.root, parts, create=True, owner=self.idmap.root if self.idmap else None)
        except (NotADirectoryError, FileExistsError):
            raise InvalidParameter(f"cannot extract {entry}: {self._container_path(rel)} is not a directory") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise InvalidParameter(f"cannot extract {entry}: too many levels of symbolic links") from None
            raise
        self._parents[rel] = fd
        while len(self._parents) > _MAX_OPEN:
            _, old = self._parents.popitem(last=False)
            os.close(old)
        return fd

    def _forget(self, rel: tuple[str, ...]) -> None:
        n = len(rel)
        for key in [k for k in self._parents if k[:n] == rel]:
            os.close(self._parents.pop(key))

    # ------------------------------------------------------------ entries
    def extract(self, stream: BinaryIO) -> None:
        try:
            tf = tarfile.open(fileobj=stream, mode="r|*", bufsize=_CHUNK)  # noqa: SIM115
        except tarfile.ReadError as e:
            if "empty" in str(e):
                return  # an empty upload changes nothing
            raise InvalidParameter(f"invalid tar archive: {e}") from None
        except (tarfile.CompressionError, EOFError, OSError) as e:
            raise InvalidParameter(f"invalid tar archive: {e}") from None
        try:
            with tf:
                while True:
                    try:
                        m = tf.next()
                    except (tarfile.TarError, EOFError, UnicodeError, ValueError) as e:
                        raise InvalidParameter(f"invalid tar archive: {e}") from None
                    if m is None:
                        break
                    try:
                        self._entry(tf, m)
                    except (tarfile.TarError, EOFError) as e:  # e.g. file data cut short
                        raise InvalidParameter(f"invalid tar archive: {e}") from None
                    tf.members.clear()
            self._finish()
        except OSError as e:
            if e.errno == errno.EROFS:
                raise Forbidden("container rootfs is marked read-only") from None
            if e.errno in (errno.ENAMETOOLONG, errno.EINVAL, errno.E2BIG):
                raise InvalidParameter(f"cannot extract archive: {e.strerror or e}") from None
            raise System(f"cannot extract archive: {e.strerror or e}") from None
        finally:
            self.close()

    def _entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = self._rel(m.name)
        if not rel:
            if m.isdir():
                return  # the destination itself stays as it is (docker: "." over a directory)
            raise InvalidParameter(f'cannot extract "{m.name}": only a directory may stand for the destination')
        uid, gid = self.owner if self.owner is not None else (m.uid, m.gid)
        if self.idmap is not None:
            uid, gid = self.idmap.to_host(uid, gid)
        parent = self._dir(rel[:-1], m.name)
        base = rel[-1]
        path = self._container_path(rel)
        try:
            existing: os.stat_result | None = os.stat(base, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            is_dir = stat.S_ISDIR(existing.st_mode)
            if self.no_overwrite and is_dir and not m.isdir():
                raise InvalidParameter(f'cannot overwrite directory "{path}" with non-directory "{self.dest_path}"')
            if self.no_overwrite and not is_dir and m.isdir():
                raise InvalidParameter(f'cannot overwrite non-directory "{path}" with directory "{self.dest_path}"')
            if not (is_dir and m.isdir()):
                self._forget(rel)
                if is_dir:
                    shutil.rmtree(base, dir_fd=parent)
                else:
                    os.unlink(base, dir_fd=parent)
        if m.isreg():
            self._file(tf, m, parent, base, uid, gid)
        elif m.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(base, 0o700, dir_fd=parent)
            fd = os.open(base, _DIR_FLAGS, dir_fd=parent)
            try:
                os.fchown(fd, uid, gid)
                os.fchmod(fd, m.mode & 0o7777)
                self._xattrs(fd, m, follow=True)
            finally:
                os.close(fd)
            self._dir_times.append((rel, _mtime_ns(m)))
        elif m.issym():
            # docker's check, on lexical paths: Join(Dir(path), linkname) must stay below
            # the destination (an absolute target is joined too, so it always does).
            target = posixpath.normpath(posixpath.dirname(path) + "/" + m.linkname)
            if not target.startswith(self.dest_path):
                raise InvalidParameter(f'invalid symlink "{path}" -> "{m.linkname}"')
            os.symlink(m.linkname, base, dir_fd=parent)
            self._meta(parent, base, m, uid, gid, link=True)
        elif m.islnk():
            # Like Go's filepath.Join(dest, linkname): an absolute name is still below dest.
            target = posixpath.normpath(self.dest_path + "/" + m.linkname)
            if target != self.dest_path and not target.startswith(self.dest_path.rstrip("/") + "/"):
                raise InvalidParameter(f'invalid hardlink "{target}" -> "{m.linkname}"')
            target_rel = tuple(rp.split(target[len(self.dest_path):]))
            if not target_rel:
                raise InvalidParameter(f'invalid hardlink "{target}" -> "{m.linkname}"')
            tparent = self._dir(target_rel[:-1], m.name)
            try:
                os.link(target_rel[-1], base, src_dir_fd=tparent, dst_dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                raise InvalidParameter(f'invalid hardlink "{path}" -> "{m.linkname}": no such file') from None
            except PermissionError:
                raise InvalidParameter(f'invalid hardlink "{path}" -> "{m.linkname}": target is a directory') from None
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            try:
                os.mknod(base, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=parent)
            except PermissionError:
                log.warning("cp: cannot create device %s: not permitted", path)
                return
            self._meta(parent, base, m, uid, gid, link=False)
        elif m.isfifo():
            os.mkfifo(base, 0o600, dir_fd=parent)
            self._meta(parent, base, m, uid, gid, link=False)
        else:
            raise InvalidParameter(f'unhandled tar header type {m.type!r} for "{m.name}"')

    def _file(self, tf: tarfile.TarFile, m: tarfile.TarInfo, parent: int, base: str, uid: int, gid: int) -> None:
        fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=parent)
        try:
            src = tf.extractfile(m)
            if src is not None:
                write_stream(fd, src, m.size)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, m.mode & 0o7777)
            self._xattrs(fd, m, follow=True)
            ns = _mtime_ns(m)
            _utime(os.utime, fd, ns=(ns, ns))
        finally:
            os.close(fd)

    def _meta(self, parent: int, base: str, m: tarfile.TarInfo, uid: int, gid: int, *, link: bool) -> None:
        os.chown(base, uid, gid, dir_fd=parent, follow_symlinks=False)
        if not link:
            # Just created by us and not a symlink: following cannot leave the parent.
            os.chmod(base, m.mode & 0o7777, dir_fd=parent)
        self._xattrs(f"/proc/self/fd/{parent}/{base}", m, follow=False)
        ns = _mtime_ns(m)
        _utime(os.utime, base, ns=(ns, ns), dir_fd=parent, follow_symlinks=False)

    def _xattrs(self, target: int | str, m: tarfile.TarInfo, *, follow: bool) -> None:
        for key, value in m.pax_headers.items():
            if not key.startswith(_XATTR_PREFIX):
                continue
            name = key[len(_XATTR_PREFIX):]
            if name.startswith("trusted.overlay."):
                continue
            try:
                os.setxattr(target, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=follow)
            except OSError as e:
                if e.errno in (errno.ENOTSUP, errno.EPERM, errno.EINVAL):
                    log.debug("cp: extended attribute %s of %s not set: %s", name, m.name, e.strerror)
                    continue
                raise

    def _finish(self) -> None:
        """Directory times last: what was extracted into them changed them."""
        for rel, ns in self._dir_times:
            try:
                parent = self._dir(rel[:-1], rp.join(rel))
                fd = os.open(rel[-1], _DIR_FLAGS, dir_fd=parent)
            except (OSError, InvalidParameter):
                continue
            try:
                _utime(os.utime, fd, ns=(ns, ns))
            finally:
                os.close(fd)


def _mtime_ns(m: tarfile.TarInfo) -> int:
    raw = m.pax_headers.get("mtime")
    if raw:
        try:
            return int(Decimal(raw) * 1_000_000_000)
        except (InvalidOperation, ValueError):
            pass
    return int(m.mtime) * 1_000_000_000


def _utime(utime, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Times out of the kernel's range are left as they are, not an error."""
    try:
        utime(*args, **kwargs)
    except (OverflowError, ValueError):
        pass
