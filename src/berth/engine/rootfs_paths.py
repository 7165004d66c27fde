"""Paths inside a container's root, resolved as if that root were "/".

A container writes its own rootfs, so any symlink in it may point anywhere:
`/data -> /`, `x -> ../../../../etc`. Docker confines `docker cp` by running its
archive code chrooted into the rootfs. Berth never resolves a container path
with the host's resolver instead: `resolve` walks it one component at a time
from an fd of the root, reading each symlink and continuing from the root (an
absolute target) or from the link's directory (a relative one), with `..`
never climbing above the root. The result is a list of plain components that
is then opened with `open_dir`, component by component with `O_NOFOLLOW`; if
the container swapped something for a symlink in between, that open fails
instead of following it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque

MAX_SYMLINKS = 40
PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH_ANY = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def split(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def clean(path: str) -> list[str]:
    """Lexical cleaning of a path taken as absolute: `..` stops at the root."""
    out: list[str] = []
    for p in split(path):
        if p == "..":
            if out:
                out.pop()
        else:
            out.append(p)
    return out


def resolve(root_fd: int, path: str, follow_last: bool = True) -> list[str]:
    """Components of `path` inside the root with every symlink resolved in the
    root (the last one only with follow_last). Missing components are kept as
    they are, as docker's FollowSymlinkInScope does. Raises NotADirectoryError
    when a non-directory is used as one, OSError(ELOOP) for symlink loops."""
    todo: deque[str] = deque(clean(path))
    done: list[str] = []
    fds: list[int | None] = []  # fds[i] is the directory done[:i+1]; None when it does not exist
    hops = 0

    def current() -> int | None:
        return fds[-1] if fds else root_fd

    try:
        while todo:
            comp = todo.popleft()
            if comp == "..":
                if done:
                    done.pop()
                    fd = fds.pop()
                    if fd is not None:
                        os.close(fd)
                continue
            parent = current()
            if parent is None:
                done.append(comp)
                fds.append(None)
                continue
            try:
                fd = os.open(comp, _PATH_ANY, dir_fd=parent)
            except FileNotFoundError:
                done.append(comp)
                fds.append(None)
                continue
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
                os.close(fd)
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links")
                target = os.readlink(comp, dir_fd=parent)
                if target.startswith("/"):
                    for old in fds:
                        if old is not None:
                            os.close(old)
                    done, fds = [], []
                todo.extendleft(reversed([p for p in target.split("/") if p and p != "."]))
                continue
            if stat.S_ISDIR(st.st_mode):
                done.append(comp)
                fds.append(fd)
                continue
            os.close(fd)
            if todo:
                raise NotADirectoryError(errno.ENOTDIR, "not a directory")
            done.append(comp)
    finally:
        for fd in fds:
            if fd is not None:
                os.close(fd)
    return done


def open_dir(root_fd: int, parts: list[str] | tuple[str, ...], create: bool = False,
             owner: tuple[int, int] | None = None) -> int:
    """An O_PATH fd of the directory `parts` (already resolved: no symlinks
    allowed on the way). With create, missing directories are made (0755, owned
    by `owner` when given: the remapped root under --userns-remap)."""
    fd = os.open(".", PATH_DIR, dir_fd=root_fd)
    try:
        for comp in parts:
            try:
                nxt = os.open(comp, PATH_DIR, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    if owner is not None:
                        os.chown(comp, *owner, dir_fd=fd, follow_symlinks=False)
                except FileExistsError:
                    pass
                nxt = os.open(comp, PATH_DIR, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def lstat(root_fd: int, parts: list[str]) -> os.stat_result | None:
    """lstat of resolved `parts`; None when it does not exist."""
    if not parts:
        return os.fstat(root_fd)
    try:
        parent = open_dir(root_fd, parts[:-1])
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(parent)


def join(parts: list[str] | tuple[str, ...]) -> str:
    return "/" + "/".join(parts)
