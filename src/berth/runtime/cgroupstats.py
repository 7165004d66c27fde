"""A running container's resource usage, read from its cgroup files, in docker's stats shapes.

dockerd gets these figures from containerd's cgroup metrics; the JSON that clients
(docker stats, the SDK, cAdvisor-style tools) compute CPU % and memory use from is
reproduced here field for field: cgroup v1 gives per-CPU usage, max_usage, failcnt
and the fixed memory.stat key set, cgroup v2 gives memory.stat as the kernel writes it
and only the byte counters of io.stat. Everything is a plain file read; nothing here
changes the cgroup.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from berth.runtime.host import CgroupInfo
from berth.timefmt import ZERO_TIME, rfc3339nano

NANOS = 1_000_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# The cgroup v1 memory.stat keys dockerd reports (those containerd's v1 metrics carry).
V1_MEMORY_KEYS = (
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout", "pgfault",
    "pgmajfault", "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
    "hierarchical_memory_limit", "hierarchical_memsw_limit",
)
V1_MEMORY_KEYS_ALL = V1_MEMORY_KEYS + tuple(
    "total_" + k for k in V1_MEMORY_KEYS if not k.startswith("hierarchical"))

BLKIO_LISTS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
               "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
               "io_time_recursive", "sectors_recursive")


@dataclass
class Sample:
    """One reading: the parts of a stats object that change between readings."""

    read_ns: int
    cpu: dict
    memory: dict
    pids: dict
    blkio: dict
    networks: dict | None


# ---------------------------------------------------------------- locating the cgroup


def cgroup_dirs(info: CgroupInfo, pid: int | None, fallback: str) -> dict[str, str]:
    """controller -> the container's cgroup directory ("unified" on cgroup v2).

    The process's own /proc/<pid>/cgroup is the truth; `fallback` (the cgroupsPath the
    runtime was given) serves when the process is gone.
    """
    paths: dict[str, str] = {}
    if pid:
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                for line in f:
                    _, controllers, path = line.rstrip("\n").split(":", 2)
                    for ctrl in controllers.split(",") if controllers else ["unified"]:
                        paths[ctrl] = path
        except (OSError, ValueError):
            paths = {}
    out: dict[str, str] = {}
    if info.is_v2:
        if info.unified_mount:
            out["unified"] = _join(info.unified_mount, paths.get("unified", fallback))
        return out
    for ctrl, mount in info.v1_mounts.items():
        out[ctrl] = _join(mount, paths.get(ctrl, fallback))
    return out


def _join(mount: str, path: str) -> str:
    return os.path.join(mount, path.lstrip("/"))


# ---------------------------------------------------------------- small readers


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _int(path: str) -> int:
    text = _read(path)
    if text is None:
        return 0
    text = text.strip()
    if not text or text == "max":
        return 0
    try:
        return int(text)
    except ValueError:
        return 0


def _keyed(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def machine_memory() -> int:
    """Total RAM (dockerd reports it as the limit of a container that has none)."""
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def system_cpu_usage(stat_text: str | None = None) -> int:
    """Host CPU time in nanoseconds as dockerd counts it: the first seven fields of
    /proc/stat's "cpu" line (user nice system idle iowait irq softirq)."""
    text = stat_text if stat_text is not None else _read("/proc/stat")
    for line in (text or "").splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu" and len(parts) >= 8:
            ticks = sum(int(v) for v in parts[1:8])
            return ticks * NANOS // CLK_TCK
    return 0


def online_cpus() -> int:
    try:
        return int(os.sysconf("SC_NPROCESSORS_ONLN"))
    except (ValueError, OSError, AttributeError):
        return os.cpu_count() or 0


def net_dev(pid: int, text: str | None = None) -> dict[str, dict]:
    """Per-interface counters of the process's network namespace, loopback left out
    (dockerd reports only the interfaces of the container's endpoints)."""
    raw = text if text is not None else _read(f"/proc/{pid}/net/dev")
    out: dict[str, dict] = {}
    for line in (raw or "").splitlines()[2:]:
        name, sep, rest = line.partition(":")
        name = name.strip()
        if not sep or name == "lo":
            continue
        f = [int(x) for x in rest.split()]
        if len(f) < 12:
            continue
        out[name] = {"rx_bytes": f[0], "rx_packets": f[1], "rx_errors": f[2], "rx_dropped": f[3],
                     "tx_bytes": f[8], "tx_packets": f[9], "tx_errors": f[10], "tx_dropped": f[11]}
    return out


# ---------------------------------------------------------------- cgroup v1


def _blkio_v1(text: str | None) -> list[dict]:
    entries = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue  # the closing "Total N" line
        major, minor = parts[0].split(":", 1)
        try:
            entries.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
        except ValueError:
            continue
    return entries


def _first(dirpath: str, *names: str) -> str | None:
    for name in names:
        text = _read(os.path.join(dirpath, name))
        if text is not None:
            return text
    return None


def read_v1(dirs: dict[str, str], mem_total: int) -> tuple[dict, dict, dict, dict]:
    """(cpu_stats, memory_stats, pids_stats, blkio_stats) of a cgroup v1 container.

    Raises FileNotFoundError when the container's memory cgroup is gone (it exited).
    """
    mem_dir = dirs.get("memory", "")
    if not mem_dir or not os.path.isdir(mem_dir):
        raise FileNotFoundError(mem_dir)
    acct = dirs.get("cpuacct") or dirs.get("cpu") or ""
    cpu_dir = dirs.get("cpu") or acct
    percpu = [int(x) for x in (_read(os.path.join(acct, "cpuacct.usage_percpu")) or "").split()]
    times = _keyed(_read(os.path.join(acct, "cpuacct.stat")))
    throttle = _keyed(_read(os.path.join(cpu_dir, "cpu.stat")))
    usage: dict = {"total_usage": _int(os.path.join(acct, "cpuacct.usage"))}
    if percpu:
        usage["percpu_usage"] = percpu
    usage["usage_in_kernelmode"] = times.get("system", 0) * NANOS // CLK_TCK
    usage["usage_in_usermode"] = times.get("user", 0) * NANOS // CLK_TCK
    cpu = {"cpu_usage": usage,
           "throttling_data": {"periods": throttle.get("nr_periods", 0),
                               "throttled_periods": throttle.get("nr_throttled", 0),
                               "throttled_time": throttle.get("throttled_time", 0)}}

    raw = _keyed(_read(os.path.join(mem_dir, "memory.stat")))
    memory: dict = {}
    _put(memory, "usage", _int(os.path.join(mem_dir, "memory.usage_in_bytes")))
    _put(memory, "max_usage", _int(os.path.join(mem_dir, "memory.max_usage_in_bytes")))
    memory["stats"] = {k: raw.get(k, 0) for k in sorted(V1_MEMORY_KEYS_ALL)}
    _put(memory, "failcnt", _int(os.path.join(mem_dir, "memory.failcnt")))
    limit = _int(os.path.join(mem_dir, "memory.limit_in_bytes"))
    if mem_total and (limit == 0 or limit > mem_total):
        limit = mem_total
    _put(memory, "limit", limit)

    pids = _pids(dirs.get("pids"))
    blk = dirs.get("blkio")
    blkio: dict = {k: [] for k in BLKIO_LISTS}
    if blk:
        blkio["io_service_bytes_recursive"] = _blkio_v1(_first(
            blk, "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"))
        blkio["io_serviced_recursive"] = _blkio_v1(_first(
            blk, "blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced"))
    return cpu, memory, pids, blkio


def _pids(pids_dir: str | None) -> dict:
    out: dict = {}
    if pids_dir:
        _put(out, "current", _int(os.path.join(pids_dir, "pids.current")))
        _put(out, "limit", _int(os.path.join(pids_dir, "pids.max")))
    return out


def _put(doc: dict, key: str, value: int) -> None:
    """docker's omitempty: zero numbers are left out."""
    if value:
        doc[key] = value


# ---------------------------------------------------------------- cgroup v2


def read_v2(path: str, mem_total: int) -> tuple[dict, dict, dict, dict]:
    if not os.path.isdir(path):
        raise FileNotFoundError(path)
    st = _keyed(_read(os.path.join(path, "cpu.stat")))
    cpu = {"cpu_usage": {"total_usage": st.get("usage_usec", 0) * 1000,
                         "usage_in_kernelmode": st.get("system_usec", 0) * 1000,
                         "usage_in_usermode": st.get("user_usec", 0) * 1000},
           "throttling_data": {"periods": st.get("nr_periods", 0),
                               "throttled_periods": st.get("nr_throttled", 0),
                               "throttled_time": st.get("throttled_usec", 0) * 1000}}
    memory: dict = {}
    _put(memory, "usage", _int(os.path.join(path, "memory.current")))
    memory["stats"] = _keyed(_read(os.path.join(path, "memory.stat")))
    limit = _int(os.path.join(path, "memory.max"))
    if mem_total and (limit == 0 or limit > mem_total):
        limit = mem_total
    _put(memory, "limit", limit)
    pids = _pids(path)
    service: list[dict] = []
    for line in (_read(os.path.join(path, "io.stat")) or "").splitlines():
        dev, *fields = line.split()
        if ":" not in dev:
            continue
        major, minor = (int(x) for x in dev.split(":", 1))
        values = dict(f.split("=", 1) for f in fields if "=" in f)
        for key, op in (("rbytes", "read"), ("wbytes", "write")):
            if key in values:
                service.append({"major": major, "minor": minor, "op": op, "value": int(values[key])})
    blkio = {k: None for k in BLKIO_LISTS}
    blkio["io_service_bytes_recursive"] = service
    return cpu, memory, pids, blkio


# ---------------------------------------------------------------- the stats object


def read_sample(info: CgroupInfo, dirs: dict[str, str], pid: int | None, networks: bool,
                mem_total: int | None = None) -> Sample:
    """One reading of everything; FileNotFoundError when the container is gone."""
    total = machine_memory() if mem_total is None else mem_total
    if info.is_v2:
        cpu, memory, pids, blkio = read_v2(dirs.get("unified", ""), total)
    else:
        cpu, memory, pids, blkio = read_v1(dirs, total)
    system = system_cpu_usage()
    if system:
        cpu["system_cpu_usage"] = system
    ncpu = online_cpus()
    if ncpu:
        cpu["online_cpus"] = ncpu
    # key order as dockerd writes it
    cpu = {k: cpu[k] for k in ("cpu_usage", "system_cpu_usage", "online_cpus", "throttling_data") if k in cpu}
    nets = net_dev(pid) if networks and pid else None
    return Sample(read_ns=time.time_ns(), cpu=cpu, memory=memory, pids=pids, blkio=blkio, networks=nets or None)


def zero_cpu() -> dict:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def stats_doc(name: str, cid: str, cur: Sample, prev: Sample | None) -> dict:
    doc = {
        "read": rfc3339nano(cur.read_ns),
        "preread": rfc3339nano(prev.read_ns) if prev else ZERO_TIME,
        "pids_stats": cur.pids,
        "blkio_stats": cur.blkio,
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cur.cpu,
        "precpu_stats": prev.cpu if prev else zero_cpu(),
        "memory_stats": cur.memory,
        "name": name,
        "id": cid,
    }
    if cur.networks:
        doc["networks"] = cur.networks
    return doc


def empty_doc(name: str, cid: str) -> dict:
    """What dockerd answers for a container that is not running: zeros, name and id."""
    return {
        "read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {},
        "blkio_stats": {k: None for k in BLKIO_LISTS}, "num_procs": 0, "storage_stats": {},
        "cpu_stats": zero_cpu(), "precpu_stats": zero_cpu(), "memory_stats": {},
        "name": name, "id": cid,
    }
