"""`--userns-remap`: which host ids a container's ids map to (dockerd's rules).

The daemon takes `default`, `user`, `user:group`, `uid` or `uid:gid`. The
user's ranges in /etc/subuid and the group's in /etc/subgid (matched by name or
by numeric id, in file order) are laid end to end from container id 0, as
dockerd does; container root is the first host id of the first range.
`default` means the user `berthremap` (dockerd's is `dockremap`): created with
`useradd --system` when missing, and given a free 65536-wide range above every
existing one in both files when it has none (each file rewritten atomically).

The mapping is daemon-wide; `IdMapping` converts ids both ways for the archive
paths (cp, export, commit), which must never leak remapped ids into images.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import subprocess
from dataclasses import dataclass

from berth.errors import InvalidParameter

log = logging.getLogger("berth.userns")

DEFAULT_SPEC = "default"
DEFAULT_USER = "berthremap"
RANGE_SIZE = 65536
FIRST_START = 100000
SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"
# What the kernel shows for an id that has no mapping (/proc/sys/kernel/overflowuid).
OVERFLOW_ID = 65534


class RemapError(Exception):
    """The daemon cannot start with this --userns-remap value; the text says why."""


@dataclass(frozen=True)
class IdRange:
    container: int
    host: int
    size: int


@dataclass(frozen=True)
class SubIdEntry:
    name: str
    start: int
    count: int


def _shift(ranges: tuple[IdRange, ...], ident: int, to_host: bool) -> int | None:
    for r in ranges:
        base, other = (r.container, r.host) if to_host else (r.host, r.container)
        if base <= ident < base + r.size:
            return other + ident - base
    return None


@dataclass(frozen=True)
class IdMapping:
    """Container <-> host ids for uids and gids (like moby's IdentityMapping)."""

    uids: tuple[IdRange, ...]
    gids: tuple[IdRange, ...]
    user: str = ""
    group: str = ""

    @property
    def root(self) -> tuple[int, int]:
        """Host uid and gid of container root."""
        uid = _shift(self.uids, 0, True)
        gid = _shift(self.gids, 0, True)
        if uid is None or gid is None:
            raise RemapError("the id mapping does not map container root (no range starts at container id 0)")
        return uid, gid

    def uid_to_host(self, uid: int) -> int | None:
        return _shift(self.uids, uid, True)

    def gid_to_host(self, gid: int) -> int | None:
        return _shift(self.gids, gid, True)

    def uid_to_container(self, uid: int) -> int:
        """A host uid as the container sees it; unmapped ids show as the overflow id."""
        out = _shift(self.uids, uid, False)
        return OVERFLOW_ID if out is None else out

    def gid_to_container(self, gid: int) -> int:
        out = _shift(self.gids, gid, False)
        return OVERFLOW_ID if out is None else out

    def to_host(self, uid: int, gid: int) -> tuple[int, int]:
        """A tar entry's owner as stored on the host; docker's error for ids past the ranges."""
        hu, hg = self.uid_to_host(uid), self.gid_to_host(gid)
        if hu is None:
            raise InvalidParameter(f"Container ID {uid} cannot be mapped to a host ID")
        if hg is None:
            raise InvalidParameter(f"Container ID {gid} cannot be mapped to a host ID")
        return hu, hg

    def to_container(self, uid: int, gid: int) -> tuple[int, int]:
        return self.uid_to_container(uid), self.gid_to_container(gid)

    def oci(self) -> tuple[list[dict], list[dict]]:
        """(uidMappings, gidMappings) for config.json."""
        def conv(ranges: tuple[IdRange, ...]) -> list[dict]:
            return [{"containerID": r.container, "hostID": r.host, "size": r.size} for r in ranges]
        return conv(self.uids), conv(self.gids)

    def proc_maps(self) -> tuple[str, str]:
        """The text written to /proc/PID/uid_map and gid_map."""
        def text(ranges: tuple[IdRange, ...]) -> str:
            return "".join(f"{r.container} {r.host} {r.size}\n" for r in ranges)
        return text(self.uids), text(self.gids)

    def to_doc(self) -> dict:
        return {"uids": [[r.container, r.host, r.size] for r in self.uids],
                "gids": [[r.container, r.host, r.size] for r in self.gids]}

    @classmethod
    def from_doc(cls, doc: dict) -> IdMapping:
        return cls(tuple(IdRange(*map(int, r)) for r in doc["uids"]),
                   tuple(IdRange(*map(int, r)) for r in doc["gids"]))


# ---------------------------------------------------------------- /etc/subuid, /etc/subgid
def parse_subid(text: str) -> list[SubIdEntry]:
    """`name:start:count` lines; blank lines, comments and malformed lines are skipped
    (shadow's own tools do the same)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or not parts[0]:
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if start < 0 or count <= 0:
            continue
        out.append(SubIdEntry(parts[0], start, count))
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def ranges_for(entries: list[SubIdEntry], name: str, ident: int) -> tuple[IdRange, ...]:
    """The entries of `name` (or its numeric id) laid end to end from container id 0."""
    out, next_id = [], 0
    for e in entries:
        if e.name in (name, str(ident)):
            out.append(IdRange(next_id, e.start, e.count))
            next_id += e.count
    return tuple(out)


def next_free_start(entries: list[SubIdEntry], size: int = RANGE_SIZE, floor: int = FIRST_START) -> int:
    """The lowest start >= floor where `size` ids overlap no existing range."""
    start = floor
    for e in sorted(entries, key=lambda e: e.start):
        if start < e.start + e.count and e.start < start + size:
            start = e.start + e.count
    return start


def append_atomically(path: str, line: str) -> None:
    """The file plus one line, written to a temporary file beside it and renamed over it."""
    old = _read(path)
    try:
        st = os.stat(path)
        mode, owner = st.st_mode & 0o7777, (st.st_uid, st.st_gid)
    except FileNotFoundError:
        mode, owner = 0o644, None
    if old and not old.endswith("\n"):
        old += "\n"
    tmp = f"{path}.berth-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, (old + line + "\n").encode())
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


# ---------------------------------------------------------------- the flag
def _lookup_user(part: str) -> pwd.struct_passwd:
    if part.isdigit():
        try:
            return pwd.getpwuid(int(part))
        except KeyError:
            raise RemapError(f"Uid {part} has no entry in /etc/passwd") from None
    try:
        return pwd.getpwnam(part)
    except KeyError:
        raise RemapError(f"Error during uid lookup for {part!r}: user: unknown user {part}") from None


def _lookup_group(part: str, user: pwd.struct_passwd | None) -> grp.struct_group:
    if part.isdigit():
        try:
            return grp.getgrgid(int(part))
        except KeyError:
            raise RemapError(f"Gid {part} has no entry in /etc/group") from None
    try:
        return grp.getgrnam(part)
    except KeyError:
        if user is not None:  # no group named like the user: the user's primary group
            try:
                return grp.getgrgid(user.pw_gid)
            except KeyError:
                pass
        raise RemapError(f"Error during gid lookup for {part!r}: group: unknown group {part}") from None


def ensure_default_user(subuid: str = SUBUID, subgid: str = SUBGID) -> None:
    """`berthremap` with a system account and a 65536-wide range in both files."""
    try:
        pwd.getpwnam(DEFAULT_USER)
    except KeyError:
        res = subprocess.run(["useradd", "--system", "--shell", "/bin/false", "--no-create-home",
                              "--user-group", DEFAULT_USER], check=False, capture_output=True, text=True)
        if res.returncode not in (0, 9):  # 9: created meanwhile
            raise RemapError(f"cannot create the user {DEFAULT_USER} for --userns-remap=default: "
                             f"useradd: {res.stderr.strip() or 'exit status ' + str(res.returncode)}")
        log.info("created user %s for --userns-remap=default", DEFAULT_USER)
    user = pwd.getpwnam(DEFAULT_USER)
    for path, ident in ((subuid, user.pw_uid), (subgid, user.pw_gid)):
        entries = parse_subid(_read(path))
        if ranges_for(entries, DEFAULT_USER, ident):
            continue
        start = next_free_start(entries)
        append_atomically(path, f"{DEFAULT_USER}:{start}:{RANGE_SIZE}")
        log.info("gave %s the ids %d-%d in %s", DEFAULT_USER, start, start + RANGE_SIZE - 1, path)


def resolve(spec: str, subuid: str = SUBUID, subgid: str = SUBGID) -> IdMapping:
    """The daemon-wide mapping for a --userns-remap value; RemapError says why not."""
    parts = spec.split(":")
    if not spec or len(parts) > 2 or not all(parts):
        raise RemapError(f"Invalid user/group specification in --userns-remap: {spec!r}")
    if parts[0] == DEFAULT_SPEC:
        if len(parts) == 2 and parts[1] != DEFAULT_SPEC:
            raise RemapError(f"Invalid user/group specification in --userns-remap: {spec!r}")
        ensure_default_user(subuid, subgid)
        parts = [DEFAULT_USER]
    user = _lookup_user(parts[0])
    group = _lookup_group(parts[1] if len(parts) == 2 else user.pw_name,
                          user if len(parts) == 1 else None)
    uids = ranges_for(parse_subid(_read(subuid)), user.pw_name, user.pw_uid)
    if not uids:
        raise RemapError(f"no subuid ranges found for user {user.pw_name!r} in {subuid}")
    gids = ranges_for(parse_subid(_read(subgid)), group.gr_name, group.gr_gid)
    if not gids:
        raise RemapError(f"no subgid ranges found for group {group.gr_name!r} in {subgid}")
    return IdMapping(uids, gids, user.pw_name, group.gr_name)


def check_container(host_config: dict) -> None:
    """dockerd's create-time refusals while remapping. A container with UsernsMode
    "host" runs in the host's user namespace and is not remapped; any other value
    means the daemon's mapping (dockerd 20.10 accepts "private" or "foo" alike:
    only its CLI checks the word)."""
    if (host_config.get("UsernsMode") or "") == "host":
        return
    if host_config.get("Privileged"):
        raise InvalidParameter("privileged mode is incompatible with user namespaces.  You must run the "
                               "container in the host namespace when running privileged mode")
    if (host_config.get("NetworkMode") or "") == "host":
        raise InvalidParameter("cannot share the host's network namespace when user namespaces are enabled")
    if (host_config.get("PidMode") or "") == "host":
        raise InvalidParameter("cannot share the host PID namespace when user namespaces are enabled")
