"""Facts about the host the daemon checks at start and the spec builder relies on.

Everything here reads the live kernel state (mountinfo, /proc, rlimits) rather
than configuration, because the point is to fail early with a clear message
instead of letting crun/runc fail later with an obscure one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import resource
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.errors import InvalidParameter, System

CGROUP_ROOT = "/sys/fs/cgroup"

Log = logging.Logger | Callable[[str], object]

# Linux generic rlimit numbers; `resource` lacks a few (RLIMIT_LOCKS), so fall back on them.
_RLIMIT_NUMBERS = {
    "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
    "memlock": 8, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14,
    "rttime": 15,
}

# docker's --ulimit names -> (OCI rlimit type, resource number)
RLIMITS: dict[str, tuple[str, int]] = {
    name: (f"RLIMIT_{name.upper()}", getattr(resource, f"RLIMIT_{name.upper()}", number))
    for name, number in _RLIMIT_NUMBERS.items()
}

RLIM_INFINITY = 2**64 - 1


# ---------------------------------------------------------------- mounts / cgroups


@dataclass
class MountEntry:
    mount_point: str
    fstype: str
    source: str
    super_options: list[str]
    optional: list[str]


def _unescape(path: str) -> str:
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and i + 3 < len(path) and path[i + 1 : i + 4].isdigit():
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def read_mountinfo(path: str = "/proc/self/mountinfo") -> list[MountEntry]:
    entries = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if "-" not in fields:
                continue
            sep = fields.index("-")
            entries.append(
                MountEntry(
                    mount_point=_unescape(fields[4]),
                    fstype=fields[sep + 1],
                    source=fields[sep + 2] if len(fields) > sep + 2 else "",
                    super_options=fields[sep + 3].split(",") if len(fields) > sep + 3 else [],
                    optional=fields[6:sep],
                )
            )
    return entries


@dataclass
class CgroupInfo:
    """Which cgroup layout the host runs, and where each hierarchy is mounted.

    version: "v1" (only v1 hierarchies), "v2" (a unified hierarchy at /sys/fs/cgroup)
    or "hybrid" (v1 hierarchies plus a cgroup2 mount, usually /sys/fs/cgroup/unified).
    """

    version: str
    v1_mounts: dict[str, str] = field(default_factory=dict)  # controller or name=X -> mount point
    unified_mount: str | None = None
    unified_controllers: list[str] = field(default_factory=list)

    @property
    def is_v2(self) -> bool:
        return self.version == "v2"


_V1_NON_CONTROLLER_OPTS = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children",
                           "xattr", "noprefix", "cpuset_v2_mode", "favordynmods"}


def check_cgroups(mountinfo: list[MountEntry] | None = None) -> CgroupInfo:
    """Describe the cgroup layout from the mounts this process sees."""
    mounts = read_mountinfo() if mountinfo is None else mountinfo
    v1: dict[str, str] = {}
    unified: str | None = None
    for m in mounts:
        if m.fstype == "cgroup2" and (unified is None or m.mount_point == CGROUP_ROOT):
            unified = m.mount_point
        elif m.fstype == "cgroup":
            for opt in m.super_options:
                if opt in _V1_NON_CONTROLLER_OPTS or opt.startswith("release_agent="):
                    continue
                v1.setdefault(opt, m.mount_point)
    controllers: list[str] = []
    if unified is not None:
        try:
            with open(os.path.join(unified, "cgroup.controllers")) as f:
                controllers = f.read().split()
        except OSError:
            controllers = []
    if unified is not None and not v1:
        version = "v2"
    elif unified is not None:
        version = "hybrid"
    else:
        version = "v1"
    return CgroupInfo(version, v1, unified, controllers)


def _call_log(log: Log | None, message: str) -> None:
    if log is None:
        return
    if isinstance(log, logging.Logger):
        log.warning(message)
    else:
        log(message)


def _libc_mount(source: str, target: str, fstype: str, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    ret = libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                     ctypes.c_ulong(flags), data.encode() if data is not None else None)
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def _libc_umount(target: str, flags: int = 0) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.umount2(target.encode(), ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


MS_BIND = 4096
MS_REC = 16384
MNT_DETACH = 2


def ensure_crun_cgroups(log: Log | None = None) -> list[str]:
    """Make a hybrid cgroup host usable by crun, or say exactly why it is not.

    crun 1.8 refuses to run on a hybrid layout while the cgroup2 hierarchy still
    holds controllers ("cgroups in hybrid mode not supported, drop all controllers
    from cgroupv2"); on this machine kind that is `hugetlb`. Mounting each such
    controller as its own v1 hierarchy moves it out of cgroup2. runc does not need
    this. Returns the mount points created (empty when nothing was needed).
    """
    mount_unmounted_v1_hierarchies(log)
    info = check_cgroups()
    if info.version != "hybrid" or not info.unified_controllers:
        return []
    done: list[str] = []
    for ctrl in info.unified_controllers:
        target = os.path.join(CGROUP_ROOT, ctrl)
        try:
            os.makedirs(target, exist_ok=True)
            _libc_mount("cgroup", target, "cgroup", 0, ctrl)
        except OSError as e:
            raise System(
                f"crun cannot run containers on this host: the cgroup v2 hierarchy at "
                f"{info.unified_mount} holds the {ctrl} controller (hybrid cgroup layout) and "
                f"mounting it as a v1 hierarchy failed ({e.strerror}). Run `mkdir -p {target} && "
                f"mount -t cgroup -o {ctrl} cgroup {target}` as root, or start berthd with "
                f"--default-runtime runc"
            ) from e
        done.append(target)
        _call_log(
            log,
            f"mounted the {ctrl} cgroup controller as a v1 hierarchy at {target} "
            f"(mount -t cgroup -o {ctrl} cgroup {target}): crun refuses hybrid cgroup "
            f"hosts whose cgroup2 hierarchy ({info.unified_mount}) still holds controllers",
        )
    return done


def mount_unmounted_v1_hierarchies(log: Log | None = None) -> list[str]:
    """Mount each v1 hierarchy this process is in (/proc/self/cgroup) whose directory
    under /sys/fs/cgroup exists but is a plain directory of the tmpfs.

    Found by the chaos test: with hugetlb moved to a v1 hierarchy mounted only in
    another mount namespace, crun took /sys/fs/cgroup/hugetlb (a tmpfs directory) for
    the hierarchy, made berth/<id> there and wrote cgroup.procs as a regular file,
    which no `crun delete` can remove: one leaked directory per container run.
    """
    done: list[str] = []
    points = {m.mount_point for m in read_mountinfo()}
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return done
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3 or parts[0] == "0" or not parts[1] or parts[1].startswith("name="):
            continue
        target = os.path.join(CGROUP_ROOT, parts[1])
        if not os.path.isdir(target) or os.path.islink(target) or target in points:
            continue
        try:
            _libc_mount("cgroup", target, "cgroup", 0, parts[1])
        except OSError as e:
            _call_log(log, f"{target} is a plain directory, not the {parts[1]} hierarchy, and mounting "
                           f"it failed ({e.strerror}): containers' {parts[1]} cgroups will leak there")
            continue
        done.append(target)
        _call_log(log, f"mounted the {parts[1]} cgroup hierarchy at {target} (it was a plain directory)")
    return done


def privatize_cgroup_root() -> None:
    """Give this mount namespace its own /sys/fs/cgroup tmpfs, keeping every hierarchy.

    /sys/fs/cgroup is a tmpfs shared with the host: a `mkdir` there (needed before
    mounting a hierarchy for crun) would show on the host even from a private mount
    namespace. Tests and namespaced daemons call this first. Refuses to run when the
    mount would propagate to the host.
    """
    mounts = read_mountinfo()
    root = next((m for m in reversed(mounts) if m.mount_point == CGROUP_ROOT), None)
    if root is None:
        raise System(f"{CGROUP_ROOT} is not a mount point")
    if any(o.startswith("shared:") for o in root.optional):
        raise System(f"{CGROUP_ROOT} is a shared mount; run in a private mount namespace "
                     "(unshare --mount --propagation private)")
    subdirs = sorted({m.mount_point for m in mounts
                      if os.path.dirname(m.mount_point) == CGROUP_ROOT})
    links = {}
    for name in os.listdir(CGROUP_ROOT):
        p = os.path.join(CGROUP_ROOT, name)
        if os.path.islink(p):
            links[name] = os.readlink(p)
    stash = tempfile.mkdtemp(prefix="berth-cgroup-stash-")
    try:
        _libc_mount(CGROUP_ROOT, stash, "", MS_BIND | MS_REC, None)
        _libc_mount("tmpfs", CGROUP_ROOT, "tmpfs", 0, "mode=755")
        for sub in subdirs:
            name = os.path.basename(sub)
            os.mkdir(os.path.join(CGROUP_ROOT, name))
            _libc_mount(os.path.join(stash, name), sub, "", MS_BIND | MS_REC, None)
        for name, target in links.items():
            os.symlink(target, os.path.join(CGROUP_ROOT, name))
    finally:
        try:
            _libc_umount(stash, MNT_DETACH)
        except OSError:
            pass
        os.rmdir(stash)


# ---------------------------------------------------------------- limits / CPUs / caps


def daemon_rlimits() -> dict[str, tuple[int, int]]:
    """(soft, hard) of every --ulimit resource, as this daemon process holds them."""
    out = {}
    for name, (_oci, res) in RLIMITS.items():
        soft, hard = resource.getrlimit(res)
        out[name] = (_to_u64(soft), _to_u64(hard))
    return out


def _to_u64(value: int) -> int:
    return RLIM_INFINITY if value == resource.RLIM_INFINITY or value < 0 else value


def has_capability(number: int) -> bool:
    """Whether this process has the capability in its effective set."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> number & 1)
    except (OSError, ValueError):
        pass
    return False


CAP_SYS_RESOURCE = 24


def rlimit_ceilings() -> dict[str, int]:
    """The highest hard limit a container may be given for each resource.

    Without CAP_SYS_RESOURCE nobody may raise a hard limit, so the daemon's own hard
    limit is the ceiling. With it, only RLIMIT_NOFILE is bounded (by fs.nr_open).
    """
    limits = daemon_rlimits()
    if not has_capability(CAP_SYS_RESOURCE):
        return {name: hard for name, (_soft, hard) in limits.items()}
    ceilings = {name: RLIM_INFINITY for name in limits}
    try:
        with open("/proc/sys/fs/nr_open") as f:
            ceilings["nofile"] = int(f.read())
    except (OSError, ValueError):
        ceilings["nofile"] = limits["nofile"][1]
    return ceilings


def cpu_count() -> int:
    """CPUs this daemon may run on (affinity, like docker's sysinfo.NumCPU)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def online_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def swap_limit_supported(info: CgroupInfo | None = None) -> bool:
    """Whether a memory+swap limit can be set (memsw on v1, memory.swap.max on v2)."""
    info = info or check_cgroups()
    if info.is_v2:
        return True  # the runtime writes memory.swap.max under the container's cgroup
    mem = info.v1_mounts.get("memory")
    return bool(mem) and os.path.exists(os.path.join(mem, "memory.memsw.limit_in_bytes"))


def blkio_weight_supported(info: CgroupInfo | None = None) -> bool:
    """Whether --blkio-weight can be applied (needs CFQ/BFQ weights, or io on v2)."""
    info = info or check_cgroups()
    if info.is_v2:
        return "io" in info.unified_controllers
    blkio = info.v1_mounts.get("blkio")
    return bool(blkio) and any(os.path.exists(os.path.join(blkio, f))
                               for f in ("blkio.weight", "blkio.bfq.weight"))


def oom_score_adj() -> int:
    try:
        with open("/proc/self/oom_score_adj") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of the running kernel, e.g. "6.18.44-fc" -> (6, 18)."""
    release = release or os.uname().release
    nums = []
    for part in release.split("-")[0].split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit()) if part else ""
        nums.append(int(digits) if digits else 0)
    while len(nums) < 2:
        nums.append(0)
    return nums[0], nums[1]


# ---------------------------------------------------------------- devices


@dataclass
class HostDevice:
    path: str
    type: str  # "c", "b" or "p"
    major: int
    minor: int
    file_mode: int
    uid: int
    gid: int


def device_info(path: str) -> HostDevice:
    """Describe a device node on the host (follows a symlink like /dev/disk/by-id/x)."""
    st = os.stat(path)
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    elif stat.S_ISFIFO(st.st_mode):
        kind = "p"
    else:
        raise InvalidParameter(f"error gathering device information while adding custom device "
                               f'"{path}": not a device node')
    return HostDevice(path, kind, os.major(st.st_rdev), os.minor(st.st_rdev),
                      stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


_SKIP_DEV_DIRS = {"pts", "shm", "mqueue", "fd"}


def host_devices(root: str = "/dev") -> list[HostDevice]:
    """Every device node under /dev, as a privileged container gets them."""
    out: list[HostDevice] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in _SKIP_DEV_DIRS]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            if path == "/dev/console":
                continue  # the runtime sets up the container's own console
            out.append(HostDevice(path, "c" if stat.S_ISCHR(st.st_mode) else "b",
                                  os.major(st.st_rdev), os.minor(st.st_rdev),
                                  stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
    return out
