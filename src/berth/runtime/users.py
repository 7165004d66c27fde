"""Resolve `--user` against the container's own /etc/passwd and /etc/group.

The rootfs comes from an image anyone may have built, so it is hostile: its
/etc/passwd may be a symlink to /etc/shadow, a FIFO, or a chain of `..` links.
Every path is therefore walked one component at a time with openat() relative to
the rootfs, symlinks are re-resolved *inside* the rootfs (as if it were chroot'ed),
and only regular files of sane size are read. The daemon never follows a link out.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass, field

from berth.errors import BerthError, InvalidParameter

MAX_SYMLINKS = 40
MAX_FILE_BYTES = 16 << 20
MAX_ID = 2**31 - 1

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_in_root(root: str, path: str) -> int:
    """Open `path` for reading as if `root` were "/"; returns an fd of a regular file.

    Raises FileNotFoundError when the path (after in-root resolution) does not
    exist, and OSError for anything that is not a regular file.
    """
    stack = [os.open(root, _DIR_FLAGS)]
    parts: deque[str] = deque(path.split("/"))
    links = 0
    try:
        while parts:
            comp = parts.popleft()
            if comp in ("", "."):
                continue
            if comp == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            st = os.stat(comp, dir_fd=cur, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(comp, dir_fd=cur)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts.extendleft(reversed(target.split("/")))
                continue
            if _has_more(parts):
                # O_NOFOLLOW|O_DIRECTORY: a link swapped in after the stat fails with ENOTDIR.
                stack.append(os.open(comp, _DIR_FLAGS, dir_fd=cur))
                continue
            fd = os.open(comp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=cur)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.EINVAL, "not a regular file", path)
            return fd
        raise OSError(errno.EISDIR, "is a directory", path)
    finally:
        for fd in stack:
            os.close(fd)


def _has_more(parts: deque[str]) -> bool:
    return any(p not in ("", ".") for p in parts)


def read_in_root(root: str, path: str) -> str | None:
    """Text of a file inside the rootfs, None when it does not exist there."""
    try:
        fd = open_in_root(root, path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise InvalidParameter(f"unable to read {path} in the container: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidParameter(f"{path} in the container is larger than {MAX_FILE_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


@dataclass
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str = "/"


@dataclass
class GroupEntry:
    name: str
    gid: int
    members: list[str] = field(default_factory=list)


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit():
        return None
    return int(text)


def parse_passwd(text: str | None) -> list[PasswdEntry]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split(":")
        if len(f) < 4:
            continue
        uid, gid = _int_or_none(f[2]), _int_or_none(f[3])
        if uid is None or gid is None:
            continue
        out.append(PasswdEntry(f[0], uid, gid, f[5] if len(f) > 5 and f[5] else "/"))
    return out


def parse_group(text: str | None) -> list[GroupEntry]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split(":")
        if len(f) < 3:
            continue
        gid = _int_or_none(f[2])
        if gid is None:
            continue
        members = [m.strip() for m in f[3].split(",") if m.strip()] if len(f) > 3 else []
        out.append(GroupEntry(f[0], gid, members))
    return out


def _check_id_range(value: int) -> int:
    if value > MAX_ID:
        raise InvalidParameter(f"uids and gids must be in range 0-{MAX_ID}")
    return value


def _find_group(groups: list[GroupEntry], spec: str) -> int | None:
    """A numeric spec is always a gid (it need not exist); a name must exist."""
    numeric = _int_or_none(spec)
    if numeric is not None:
        return _check_id_range(numeric)
    return next((g.gid for g in groups if g.name == spec), None)


def resolve_user(rootfs: str, user: str, group_add: list[str] | None = None) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary gids) for a docker `User` string.

    Forms: "" (root), name, uid, name:group, uid:gid, name:gid. A number is always an
    id, never a name, and need not exist in /etc/passwd or /etc/group. Without an
    explicit group, the passwd entry's primary group applies and the groups listing
    the user as a member become supplementary, as in docker; with an explicit group
    there are none. `group_add` is HostConfig.GroupAdd (names or numbers), appended.
    """
    user = (user or "").strip()
    user_part, _, group_part = user.partition(":")
    passwd = parse_passwd(read_in_root(rootfs, "/etc/passwd"))
    groups = parse_group(read_in_root(rootfs, "/etc/group"))

    uid_arg = _int_or_none(user_part)
    if user_part == "":
        entry = next((p for p in passwd if p.uid == 0), None)
    elif uid_arg is not None:
        entry = next((p for p in passwd if p.uid == uid_arg), None)
    else:
        entry = next((p for p in passwd if p.name == user_part), None)
        if entry is None:
            raise InvalidParameter(f"unable to find user {user_part}: no matching entries in passwd file")

    if entry is not None:
        uid, gid = entry.uid, entry.gid
    else:
        uid, gid = _check_id_range(uid_arg or 0), 0

    sgids: list[int] = []
    if group_part:
        found = _find_group(groups, group_part)
        if found is None:
            raise InvalidParameter(f"unable to find group {group_part}: no matching entries in group file")
        gid = found
    elif entry is not None:
        sgids = [g.gid for g in groups if entry.name in g.members]
    for extra in group_add or []:
        found = _find_group(groups, extra.strip())
        if found is None:
            raise InvalidParameter(f"Unable to find group {extra.strip()}")
        if found not in sgids:
            sgids.append(found)
    return uid, gid, sgids


def oci_user(uid: int, gid: int, sgids: list[int]) -> dict:
    """The OCI process.user; the primary group leads the supplementary ones, as
    containerd sets it (so `id` lists it among the groups, as under docker)."""
    return {"uid": uid, "gid": gid, "additionalGids": [gid, *(g for g in sgids if g != gid)]}


def with_home(env: list[str], rootfs: str, uid: int) -> list[str]:
    """HOME=/ for a user without a passwd entry, as runc (and so docker) sets it;
    crun sets HOME only from the passwd entry."""
    if any(e.startswith("HOME=") for e in env):
        return env
    try:
        known = any(p.uid == uid for p in parse_passwd(read_in_root(rootfs, "/etc/passwd")))
    except BerthError:
        known = True
    return env if known else [*env, "HOME=/"]
