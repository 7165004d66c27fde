"""Docker API container configuration -> OCI runtime config.json (crun 1.8 / runc 1.1).

The result mirrors what dockerd hands containerd: the same default mounts, masked
paths, device rules, capabilities, seccomp filter and resource translation, so
programs see the same environment as under docker. Where this host cannot do
what docker would (rlimits above our own hard limit, capabilities we lack), the
request is clamped or refused here with a clear message rather than left for the
runtime to fail on obscurely.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from berth.errors import InvalidParameter, System
from berth.runtime import capabilities, host, seccomp
from berth.runtime.users import oci_user, resolve_user, with_home

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 << 20
DEFAULT_NOFILE = 1048576
MIN_MEMORY = 6 << 20
INIT_PATH = "/sbin/docker-init"

MASKED_PATHS = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def _dev_rule(kind: str, major: int | None, minor: int | None, access: str = "rwm",
              allow: bool = True) -> dict:
    rule: dict[str, Any] = {"allow": allow, "type": kind}
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    rule["access"] = access
    return rule


def default_device_rules() -> list[dict]:
    """Deny everything, then allow mknod of any node and use of the standard devices."""
    return [
        {"allow": False, "access": "rwm"},
        _dev_rule("c", None, None, "m"),
        _dev_rule("b", None, None, "m"),
        _dev_rule("c", 1, 3),    # null
        _dev_rule("c", 1, 5),    # zero
        _dev_rule("c", 1, 7),    # full
        _dev_rule("c", 1, 8),    # random
        _dev_rule("c", 1, 9),    # urandom
        _dev_rule("c", 5, 0),    # tty
        _dev_rule("c", 5, 1),    # console
        _dev_rule("c", 5, 2),    # ptmx
        _dev_rule("c", 136, None),  # pts/*
    ]


@dataclass
class SpecRequest:
    """Everything one start of a container needs; the engine resolves the rest first.

    The engine owns what depends on other subsystems (argv from Entrypoint+Cmd, the
    mounted rootfs, volume/hosts/resolv.conf mounts, the netns to join), so this
    module stays a pure translation plus host checks.
    """

    container_id: str
    rootfs: str
    args: list[str]
    config: dict
    host_config: dict
    netns: str | None = None
    extra_mounts: list[dict] = field(default_factory=list)
    cgroups_path: str = ""
    init_binary: str | None = None
    seccomp_profile: dict | None = None
    # Paths of namespaces to join for IpcMode/PidMode "container:<id>" (keys: "ipc", "pid").
    join_namespaces: dict[str, str] = field(default_factory=dict)
    # Environment from --link, overridable by Config.Env (docker puts it before it).
    link_env: list[str] = field(default_factory=list)
    # Host directory backing /dev/shm (shareable IPC); None = a private tmpfs.
    shm_path: str | None = None
    # --userns-remap: the container's runtime/userns.IdMapping (None: the host's user namespace).
    idmap: Any = None


# ---------------------------------------------------------------- security options


@dataclass
class SecurityOptions:
    no_new_privileges: bool = False
    seccomp: str | None = None  # raw value of seccomp=...
    unconfined_paths: bool = False
    writable_cgroups: bool | None = None


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _parse_bool(value: str) -> bool | None:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_security_opts(opts: list[str] | None) -> SecurityOptions:
    """HostConfig.SecurityOpt as dockerd reads it (`key=value`, legacy `key:value`)."""
    out = SecurityOptions()
    for opt in opts or []:
        if opt == "no-new-privileges":
            out.no_new_privileges = True
            continue
        if opt == "disable":  # legacy spelling of label=disable
            continue
        if "=" in opt:
            key, _, value = opt.partition("=")
        elif ":" in opt:
            key, _, value = opt.partition(":")
        else:
            raise InvalidParameter(f'Invalid --security-opt: "{opt}"')
        bad = InvalidParameter(f'Invalid --security-opt: "{opt}"')
        if key in ("label", "apparmor"):
            continue  # no SELinux/AppArmor on this engine; accepted like docker without them
        if key == "seccomp":
            if not value:
                raise bad
            out.seccomp = value
        elif key == "no-new-privileges":
            flag = _parse_bool(value)
            if flag is None:
                raise bad
            out.no_new_privileges = flag
        elif key == "systempaths":
            if value != "unconfined":
                raise bad
            out.unconfined_paths = True
        elif key == "writable-cgroups":
            flag = _parse_bool(value)
            if flag is None:
                raise bad
            out.writable_cgroups = flag
        else:
            raise bad
    return out


# ---------------------------------------------------------------- validation


def _parse_cpuset(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise InvalidParameter(f"Invalid value {text} for cpuset cpus")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise InvalidParameter(f"Invalid value {text} for cpuset cpus")
        cpus.update(range(lo, hi + 1))
    return cpus


def _format_cpuset(cpus: set[int]) -> str:
    out, ordered = [], sorted(cpus)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def _num(hc: dict, key: str) -> int:
    value = hc.get(key)
    return int(value) if value else 0


def validate_host_config(hc: dict) -> list[str]:
    """Reject what docker rejects at create time; return docker's warnings.

    The engine should call this when a container is created (docker fails `create`,
    not `start`); build_spec calls it again because hosts change between the two.
    """
    warnings: list[str] = []
    memory, swap = _num(hc, "Memory"), _num(hc, "MemorySwap")
    reservation = _num(hc, "MemoryReservation")
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory == 0 and swap > 0:
        raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
    if memory > 0 and swap != -1 and not host.swap_limit_supported():
        warnings.append("Your kernel does not support swap limit capabilities or the cgroup is not "
                        "mounted. Memory limited without swap.")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidParameter(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    if reservation and reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")
    if hc.get("OomKillDisable") and memory == 0:
        warnings.append("OOM killer is disabled for the container, but no memory limit is set, "
                        "this can result in the system running out of resources.")

    nano, period, quota = _num(hc, "NanoCpus"), _num(hc, "CpuPeriod"), _num(hc, "CpuQuota")
    if nano > 0 and period > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    ncpu = host.cpu_count()
    if nano < 0 or nano > ncpu * 10**9:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if period and not 1000 <= period <= 1000000:
        raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if quota > 0 and quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    shares = _num(hc, "CpuShares")
    if shares and shares < 2:
        warnings.append("Your kernel does not support CPU shares below 2. Shares set to 2.")
    elif shares > 262144:
        warnings.append("Your kernel does not support CPU shares above 262144. Shares set to 262144.")
    if hc.get("CpusetCpus"):
        requested, available = _parse_cpuset(hc["CpusetCpus"]), host.online_cpus()
        if not requested <= available:
            raise InvalidParameter(f"Requested CPUs are not available - requested {hc['CpusetCpus']}, "
                                   f"available: {_format_cpuset(available)}")
    weight = _num(hc, "BlkioWeight")
    if weight and not 10 <= weight <= 1000:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")
    if weight and not host.blkio_weight_supported():
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                        "Weight discarded.")
    oom = _num(hc, "OomScoreAdj")
    if not -1000 <= oom <= 1000:
        raise InvalidParameter(f"Invalid value {oom}, range for oom score adj is [-1000, 1000]")
    if oom and oom < host.oom_score_adj() and not host.has_capability(host.CAP_SYS_RESOURCE):
        raise InvalidParameter(f"Invalid value {oom} for --oom-score-adj: the daemon runs with "
                               f"oom_score_adj {host.oom_score_adj()} and lacks CAP_SYS_RESOURCE, so it "
                               "cannot give a container a lower value")
    if _num(hc, "ShmSize") < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    capabilities.validate(hc.get("CapAdd"), hc.get("CapDrop"))
    parse_security_opts(hc.get("SecurityOpt"))
    return warnings


# ---------------------------------------------------------------- pieces of the spec


def build_env(config: dict, hostname: str, link_env: list[str] | None = None) -> list[str]:
    """PATH, HOSTNAME, TERM and links first; Config.Env replaces or appends (a bare KEY unsets)."""
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if config.get("Tty"):
        env.append("TERM=xterm")
    env.extend(link_env or [])
    index = {e.partition("=")[0]: i for i, e in enumerate(env)}
    out: list[str | None] = list(env)
    for item in config.get("Env") or []:
        key, sep, _ = item.partition("=")
        if not sep:
            if key in index:
                out[index[key]] = None
            continue
        if key in index and out[index[key]] is not None:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return [e for e in out if e is not None]


def _fmt_limit(value: int) -> str:
    return "unlimited" if value >= host.RLIM_INFINITY else str(value)


def build_rlimits(ulimits: list[dict] | None) -> list[dict]:
    """docker's nofile default plus --ulimit, never above what the daemon can grant."""
    ceilings = host.rlimit_ceilings()
    chosen: dict[str, tuple[int, int]] = {}
    nofile = min(DEFAULT_NOFILE, ceilings["nofile"])
    chosen["nofile"] = (nofile, nofile)
    for u in ulimits or []:
        name = str(u.get("Name", "")).lower()
        if name not in host.RLIMITS:
            raise InvalidParameter(f"invalid ulimit type: {name}")
        soft = host.RLIM_INFINITY if int(u.get("Soft", 0)) < 0 else int(u.get("Soft", 0))
        hard = host.RLIM_INFINITY if int(u.get("Hard", 0)) < 0 else int(u.get("Hard", 0))
        if soft > hard:
            raise InvalidParameter(f"ulimit soft limit must be less than or equal to hard limit: "
                                   f"{_fmt_limit(soft)} > {_fmt_limit(hard)}")
        ceiling = ceilings[name]
        if hard > ceiling:
            raise InvalidParameter(
                f"invalid ulimit {name}={_fmt_limit(soft)}:{_fmt_limit(hard)}: the hard limit is above "
                f"the daemon's own hard limit ({_fmt_limit(ceiling)}), which it cannot raise without "
                f"CAP_SYS_RESOURCE; use --ulimit {name}=<soft>:<hard> with values up to {_fmt_limit(ceiling)}"
            )
        chosen[name] = (soft, hard)
    return [{"type": host.RLIMITS[n][0], "hard": h, "soft": s} for n, (s, h) in chosen.items()]


def _mount(dest: str, kind: str, source: str, options: list[str]) -> dict:
    return {"destination": dest, "type": kind, "source": source, "options": options}


def default_mounts(hc: dict, sec: SecurityOptions, shm_path: str | None) -> list[dict]:
    privileged = bool(hc.get("Privileged"))
    ipc_mode = hc.get("IpcMode") or ""
    cgroup_rw = privileged if sec.writable_cgroups is None else sec.writable_cgroups
    mounts = [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount("/dev/pts", "devpts", "devpts",
               ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup",
               ["rw" if cgroup_rw else "ro", "nosuid", "noexec", "nodev"]),
    ]
    if ipc_mode == "host":
        for path in ("/dev/mqueue", "/dev/shm"):
            if os.path.isdir(path):
                mounts.append(_mount(path, "bind", path, ["rbind", "nosuid", "noexec", "nodev"]))
        return mounts
    mounts.append(_mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]))
    if ipc_mode == "none":
        return mounts
    if shm_path:
        mounts.append(_mount("/dev/shm", "bind", shm_path, ["rbind", "nosuid", "noexec", "nodev"]))
    else:
        size = _num(hc, "ShmSize") or DEFAULT_SHM_SIZE
        mounts.append(_mount("/dev/shm", "tmpfs", "shm",
                             ["nosuid", "noexec", "nodev", "mode=1777", f"size={size}"]))
    return mounts


def merge_mounts(defaults: list[dict], extra: list[dict]) -> list[dict]:
    """A user mount on a default's destination replaces it; parents mount before children."""
    taken = {os.path.normpath(m["destination"]) for m in extra}
    kept = [m for m in defaults if os.path.normpath(m["destination"]) not in taken]
    ordered = sorted(extra, key=lambda m: os.path.normpath(m["destination"]).count("/"))
    return kept + ordered


_CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def device_settings(hc: dict) -> tuple[list[dict], list[dict]]:
    """(linux.devices, linux.resources.devices) for the container."""
    if hc.get("Privileged"):
        devs = [_oci_device(d, d.path) for d in host.host_devices()]
        return devs, [{"allow": True, "access": "rwm"}]
    devices: list[dict] = []
    rules = default_device_rules()
    for mapping in hc.get("Devices") or []:
        src = mapping.get("PathOnHost") or ""
        dst = mapping.get("PathInContainer") or src
        perms = mapping.get("CgroupPermissions") or "rwm"
        if not perms or any(ch not in "rwm" for ch in perms):
            raise InvalidParameter(f"invalid device mode: {perms}")
        for dev, path in _expand_device(src, dst):
            devices.append(_oci_device(dev, path))
            rules.append(_dev_rule(dev.type, dev.major, dev.minor, perms))
    for text in hc.get("DeviceCgroupRules") or []:
        m = _CGROUP_RULE.match(text.strip())
        if not m:
            raise InvalidParameter(f"invalid device cgroup format '{text}'")
        kind, major, minor, access = m.groups()
        rules.append(_dev_rule(kind, None if major == "*" else int(major),
                               None if minor == "*" else int(minor), access))
    return devices, rules


def _expand_device(src: str, dst: str) -> list[tuple[host.HostDevice, str]]:
    try:
        if os.path.isdir(src):
            out = []
            for dev in host.host_devices(src):
                out.append((dev, os.path.join(dst, os.path.relpath(dev.path, src))))
            return out
        return [(host.device_info(src), dst)]
    except FileNotFoundError:
        raise InvalidParameter(f'error gathering device information while adding custom device "{src}": '
                               "no such file or directory") from None
    except PermissionError as e:
        raise InvalidParameter(f'error gathering device information while adding custom device "{src}": '
                               f"{e.strerror}") from None


def _oci_device(dev: host.HostDevice, path: str) -> dict:
    return {"path": path, "type": dev.type, "major": dev.major, "minor": dev.minor,
            "fileMode": dev.file_mode, "uid": dev.uid, "gid": dev.gid}


def build_resources(hc: dict, device_rules: list[dict]) -> dict:
    res: dict[str, Any] = {"devices": device_rules}
    memory: dict[str, Any] = {}
    mem, swap = _num(hc, "Memory"), _num(hc, "MemorySwap")
    if mem > 0:
        memory["limit"] = mem
        if swap == 0:
            swap = 2 * mem
        if swap == -1 or host.swap_limit_supported():
            memory["swap"] = swap
    if _num(hc, "MemoryReservation") > 0:
        memory["reservation"] = _num(hc, "MemoryReservation")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and 0 <= swappiness <= 100:
        memory["swappiness"] = swappiness
    if hc.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        res["memory"] = memory

    cpu: dict[str, Any] = {}
    shares = _num(hc, "CpuShares")
    if shares:
        cpu["shares"] = min(max(shares, 2), 262144)
    nano = _num(hc, "NanoCpus")
    if nano > 0:
        cpu["period"] = 100000
        cpu["quota"] = nano * 100000 // 10**9
    else:
        if _num(hc, "CpuQuota"):
            cpu["quota"] = _num(hc, "CpuQuota")
        if _num(hc, "CpuPeriod"):
            cpu["period"] = _num(hc, "CpuPeriod")
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if _num(hc, "PidsLimit") > 0:
        res["pids"] = {"limit": _num(hc, "PidsLimit")}
    if _num(hc, "BlkioWeight") and host.blkio_weight_supported():
        res["blockIO"] = {"weight": _num(hc, "BlkioWeight")}
    return res


_NAMESPACED_SYSCTL_PREFIXES = ("kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.", "net.")
_IPC_SYSCTLS = ("kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.")


def validate_sysctls(sysctls: dict[str, str], hc: dict, netns: str | None) -> dict[str, str]:
    out = {}
    for key, value in (sysctls or {}).items():
        if key in ("kernel.domainname", "kernel.hostname"):
            if (hc.get("UTSMode") or "") == "host":
                raise InvalidParameter(f"sysctl '{key}' is not allowed in host UTS namespace")
        elif key.startswith(_IPC_SYSCTLS) or key == "kernel.shm_rmid_forced":
            if (hc.get("IpcMode") or "") == "host":
                raise InvalidParameter(f"sysctl '{key}' is not allowed in host IPC namespace")
        elif key.startswith("net."):
            if netns == "host" or (hc.get("NetworkMode") or "") == "host":
                raise InvalidParameter(f"sysctl '{key}' is not allowed in host network namespace")
        else:
            raise InvalidParameter(f"sysctl '{key}' is not allowed")
        out[key] = str(value)
    return out


def build_namespaces(req: SpecRequest, cgroups: host.CgroupInfo) -> list[dict]:
    hc = req.host_config
    ns: list[dict] = [{"type": "mount"}]
    if req.netns is None:
        ns.append({"type": "network"})
    elif req.netns != "host":
        ns.append({"type": "network", "path": req.netns})
    if (hc.get("UTSMode") or "") != "host":
        ns.append({"type": "uts"})
    for kind, mode_key in (("pid", "PidMode"), ("ipc", "IpcMode")):
        mode = hc.get(mode_key) or ""
        if mode == "host":
            continue
        if mode.startswith("container:"):
            path = req.join_namespaces.get(kind)
            if not path:
                raise InvalidParameter(f"cannot join {kind.upper()} of a non running container: "
                                       f"{mode.partition(':')[2]}")
            ns.append({"type": kind, "path": path})
        else:
            ns.append({"type": kind})
    if req.idmap is not None:
        ns.append({"type": "user"})
    cgroupns = hc.get("CgroupnsMode") or ("private" if cgroups.is_v2 else "host")
    if cgroupns == "private":
        ns.append({"type": "cgroup"})
    elif cgroupns != "host":
        raise InvalidParameter(f"invalid cgroup namespace mode: {cgroupns}")
    return ns


# ---------------------------------------------------------------- the whole spec


def build_spec(req: SpecRequest) -> dict:
    """The OCI config.json for one start of the container."""
    config, hc = req.config or {}, req.host_config or {}
    validate_host_config(hc)
    if not req.args:
        raise InvalidParameter("No command specified")
    cwd = config.get("WorkingDir") or "/"
    if not cwd.startswith("/"):
        raise InvalidParameter(f"the working directory '{cwd}' is invalid, it needs to be an absolute path")
    privileged = bool(hc.get("Privileged"))
    sec = parse_security_opts(hc.get("SecurityOpt"))
    caps = capabilities.effective_caps(hc.get("CapAdd"), hc.get("CapDrop"), privileged)
    uid, gid, sgids = resolve_user(req.rootfs, config.get("User") or "", hc.get("GroupAdd"))
    hostname = config.get("Hostname") or req.container_id[:12]
    cgroups = host.check_cgroups()

    args = list(req.args)
    mounts = default_mounts(hc, sec, req.shm_path)
    if hc.get("Init"):
        if not req.init_binary:
            raise System("--init was requested but no init binary (catatonit) is configured on the daemon")
        mounts.append(_mount(INIT_PATH, "bind", req.init_binary, ["bind", "ro"]))
        args = [INIT_PATH, "--", *args]
    mounts = merge_mounts(mounts, req.extra_mounts)

    user = oci_user(uid, gid, sgids)
    process: dict[str, Any] = {
        "terminal": bool(config.get("Tty")),
        "user": user,
        "args": args,
        "env": with_home(build_env(config, hostname, req.link_env), req.rootfs, uid),
        "cwd": cwd,
        "capabilities": {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)},
        "rlimits": build_rlimits(hc.get("Ulimits")),
    }
    if sec.no_new_privileges:
        process["noNewPrivileges"] = True
    if _num(hc, "OomScoreAdj"):
        process["oomScoreAdj"] = _num(hc, "OomScoreAdj")

    devices, rules = device_settings(hc)
    linux: dict[str, Any] = {
        "namespaces": build_namespaces(req, cgroups),
        "devices": devices,
        "resources": build_resources(hc, rules),
    }
    if req.cgroups_path:
        linux["cgroupsPath"] = req.cgroups_path
    if req.idmap is not None:
        linux["uidMappings"], linux["gidMappings"] = req.idmap.oci()
    sysctls = validate_sysctls(hc.get("Sysctls") or {}, hc, req.netns)
    if sysctls:
        linux["sysctl"] = sysctls
    if not privileged and not sec.unconfined_paths:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    linux_seccomp = seccomp.resolve(sec.seccomp, req.seccomp_profile, privileged, caps)
    if linux_seccomp is not None:
        linux["seccomp"] = linux_seccomp

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": req.rootfs, "readonly": bool(hc.get("ReadonlyRootfs"))},
        "mounts": mounts,
        "linux": linux,
    }
    if (hc.get("UTSMode") or "") != "host":
        spec["hostname"] = hostname
        if config.get("Domainname"):
            spec["domainname"] = config["Domainname"]
    return spec
