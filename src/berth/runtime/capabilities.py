"""Linux capability sets with docker's semantics for --cap-add/--cap-drop/--privileged.

Docker gives every container a fixed default set and lets the user tweak it. "All
capabilities" does not mean every name the library knows: it means the ones this
kernel has (cap_last_cap) *and* the daemon itself holds in its bounding set, because
a runtime cannot hand out a capability its parent lacks (on this machine root runs
without CAP_SYS_RESOURCE, so a naive "all" would make every privileged start fail).
"""

from __future__ import annotations

from functools import lru_cache

from berth.errors import InvalidParameter

# Index = capability number, as in <linux/capability.h>.
KNOWN_CAPS: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

# Docker's default set, in docker's order (the order shows in `docker inspect`-like output).
DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

ALL = "ALL"


def cap_number(name: str) -> int:
    return KNOWN_CAPS.index(name)


def _read_cap_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return len(KNOWN_CAPS) - 1


def _read_bounding_set() -> int | None:
    """The daemon's own bounding set as a bit mask, None if /proc does not say."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


@lru_cache(maxsize=1)
def available_caps() -> tuple[str, ...]:
    """Capabilities a container can really receive here: known to the kernel and held by us."""
    last = _read_cap_last_cap()
    bounding = _read_bounding_set()
    out = []
    for number, name in enumerate(KNOWN_CAPS):
        if number > last:
            break
        if bounding is not None and not bounding >> number & 1:
            continue
        out.append(name)
    return tuple(out)


def normalize(names: list[str] | None, *, available: tuple[str, ...], for_drop: bool) -> list[str]:
    """Upper-case, add the CAP_ prefix, and reject what docker rejects.

    A capability the kernel or the daemon lacks cannot be added; dropping it is
    harmless, so it is accepted (docker rejects both; being lenient on drop keeps
    compose files written for fuller hosts working). Errors name the field the way
    dockerd does: `invalid CapAdd: unknown capability: "CAP_FOO"`.
    """
    field = "CapDrop" if for_drop else "CapAdd"
    out: list[str] = []
    for raw in names or []:
        name = raw.strip().upper()
        if name == ALL:
            out.append(ALL)
            continue
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in KNOWN_CAPS:
            raise InvalidParameter(f'invalid {field}: unknown capability: "{name}"')
        if name not in available and not for_drop:
            raise InvalidParameter(
                f"invalid {field}: capability not supported by your kernel or not available in the "
                f'current environment: "{name}"'
            )
        if name not in out:
            out.append(name)
    return out


def validate(cap_add: list[str] | None, cap_drop: list[str] | None) -> None:
    """Create-time check (docker validates even for privileged containers)."""
    avail = available_caps()
    normalize(cap_drop, available=avail, for_drop=True)
    normalize(cap_add, available=avail, for_drop=False)


def effective_caps(
    cap_add: list[str] | None,
    cap_drop: list[str] | None,
    privileged: bool,
    *,
    available: tuple[str, ...] | None = None,
) -> list[str]:
    """The container's capability set, computed the way docker does.

    - privileged: everything available;
    - ALL in cap_add: everything available minus cap_drop;
    - ALL in cap_drop: exactly cap_add;
    - otherwise: defaults minus cap_drop, plus cap_add.
    """
    avail = available_caps() if available is None else available
    if privileged:
        return list(avail)
    drop = normalize(cap_drop, available=avail, for_drop=True)
    add = normalize(cap_add, available=avail, for_drop=False)
    if ALL in add:
        return [c for c in avail if c not in drop]
    if ALL in drop:
        return [c for c in add if c != ALL]
    caps = [c for c in DEFAULT_CAPS if c not in drop and c in avail]
    caps.extend(c for c in add if c not in caps)
    return caps


def caps_mask(caps: list[str]) -> int:
    """Bit mask as /proc/<pid>/status shows it (CapBnd etc.)."""
    mask = 0
    for name in caps:
        mask |= 1 << cap_number(name)
    return mask
