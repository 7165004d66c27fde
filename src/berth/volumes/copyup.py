"""Copy a directory tree as `cp -a` does, fast: docker's copy-up of image
content into a new volume.

File data moves with copy_file_range (in-kernel, reflinks where the filesystem
can) and falls back to sendfile across filesystems (an overlay source and an
ext4 volume); owners, modes, times, xattrs, symlinks, hardlinks, device nodes,
fifos and sockets are kept.

Crash safety is the caller's: `populate` copies into a temporary directory
next to the volume's `_data` and renames it over the empty `_data` only when
complete, so a daemon killed mid-copy leaves `_data` empty and the copy is
redone at the next mount; the temporary directory is removed at start.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import time

# A test hook: seconds to sleep after each file copied (BERTH_TEST_COPYUP_DELAY), so a
# test can kill the daemon in the middle of a copy-up. Unset in normal use.
_DELAY_ENV = "BERTH_TEST_COPYUP_DELAY"
_CHUNK = 1 << 30


class _Copier:
    def __init__(self) -> None:
        self.links: dict[tuple[int, int], str] = {}
        self.use_cfr = hasattr(os, "copy_file_range")
        self.delay = float(os.environ.get(_DELAY_ENV) or 0)

    def data(self, src_fd: int, dst_fd: int, size: int) -> None:
        done = 0
        if self.use_cfr:
            try:
                while done < size:
                    n = os.copy_file_range(src_fd, dst_fd, min(_CHUNK, size - done))
                    if n == 0:
                        break
                    done += n
                if done >= size:
                    return
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF):
                    raise
                if done == 0:
                    self.use_cfr = False  # across filesystems: sendfile from now on
        while done < size:
            n = os.sendfile(dst_fd, src_fd, done, min(_CHUNK, size - done))
            if n == 0:
                break
            done += n
        # A file that grew while we read: the rest by plain reads.
        os.lseek(src_fd, done, os.SEEK_SET)
        os.lseek(dst_fd, done, os.SEEK_SET)
        while True:
            chunk = os.read(src_fd, 1 << 20)
            if not chunk:
                break
            os.write(dst_fd, chunk)

    def attrs(self, path: str, st: os.stat_result, src: str, is_link: bool = False) -> None:
        os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
        if not is_link:
            os.chmod(path, stat.S_IMODE(st.st_mode))
        _copy_xattrs(src, path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    def tree(self, src: str, dst: str) -> None:
        dirs: list[tuple[str, str, os.stat_result]] = []
        with os.scandir(src) as it:
            entries = list(it)
        for entry in entries:
            s, d = entry.path, os.path.join(dst, entry.name)
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                os.mkdir(d, 0o700)
                self.tree(s, d)
                dirs.append((d, s, st))
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = self.links.get(key)
                if first is not None:
                    os.link(first, d)
                    continue
                self.links[key] = d
            if stat.S_ISREG(mode):
                src_fd = os.open(s, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    dst_fd = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                    try:
                        if st.st_size:
                            self.data(src_fd, dst_fd, st.st_size)
                    finally:
                        os.close(dst_fd)
                finally:
                    os.close(src_fd)
                self.attrs(d, st, s)
                if self.delay:
                    time.sleep(self.delay)
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(s), d)
                self.attrs(d, st, s, is_link=True)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                os.mknod(d, stat.S_IFMT(mode) | 0o600, st.st_rdev)
                self.attrs(d, st, s)
        # Directories last: writing into them changed their times.
        for d, s, st in dirs:
            self.attrs(d, st, s)


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith("trusted.overlay."):
            continue  # overlayfs' own bookkeeping, never part of the content
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of directory `src` into the existing empty directory `dst`,
    and `src`'s own owner, mode, xattrs and times onto `dst`."""
    c = _Copier()
    c.tree(src, dst)
    c.attrs(dst, os.stat(src), src)


def is_empty_dir(path: str) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def populate(src: str, data_dir: str, in_place: bool) -> bool:
    """Copy `src` into the volume directory `data_dir` if it is empty; True when copied.

    Normally the copy goes to a sibling temporary directory that replaces the
    empty `data_dir` in one rename(2). `in_place` (the directory is a mount point
    or already mounted into a running container, where a rename would not be
    seen) copies straight into it instead."""
    if not os.path.isdir(src) or not is_empty_dir(data_dir):
        return False
    if in_place:
        copy_tree(src, data_dir)
        return True
    tmp = os.path.join(os.path.dirname(data_dir), "_copyup.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.mkdir(tmp, 0o700)
    try:
        copy_tree(src, tmp)
        os.rename(tmp, data_dir)  # replaces the empty directory atomically
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True
