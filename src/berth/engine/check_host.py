"""What the consistency check (engine/check.py) reads from the host: mount points,
cgroup directories, this daemon's monitor processes, veths and links. Read-only."""

from __future__ import annotations

import json
import os
import re
import subprocess


# ---------------------------------------------------------------------- host readers
def read_mount_points() -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split(" ", 5)[4]
            out.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), point))
    return out


def cgroup_dirs(cid: str) -> list[str]:
    """Every cgroup directory named berth/<cid> (v1 controllers, unified, or pure v2)."""
    base = "/sys/fs/cgroup"
    found = []
    candidates = [os.path.join(base, "berth", cid)]
    try:
        for ctrl in os.listdir(base):
            candidates.append(os.path.join(base, ctrl, "berth", cid))
    except OSError:
        pass
    for path in candidates:
        if os.path.isdir(path) and path not in found:
            found.append(path)
    return found


def _is_cgroup(path: str) -> bool:
    """A real cgroup has the kernel's files (v1 `tasks`, v2 `cgroup.controllers`); a runtime
    writing into a plain directory of the tmpfs makes only what it writes."""
    return os.path.exists(os.path.join(path, "tasks")) or os.path.exists(os.path.join(path, "cgroup.controllers"))


def cgroup_procs(path: str) -> list[int]:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def monitor_processes(exec_root: str) -> tuple[dict[str, list[int]], list[int]]:
    """(container id -> monitor pids, zygote pids) of this daemon's monitor.py processes.
    Monitors are forks of the zygote (same command line): a monitor's stdout is
    <exec-root>/c/<id>/monitor.log, the zygote's is <exec-root>/monitors.log."""
    monitors: dict[str, list[int]] = {}
    zygotes: list[int] = []
    root = os.path.realpath(exec_root)
    prefix = os.path.join(root, "c") + "/"
    zygote_log = os.path.join(root, "monitors.log")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if not any(a.endswith(b"monitor.py") for a in argv):
            continue
        try:
            out = os.readlink(f"/proc/{name}/fd/1")
        except OSError:
            continue
        if out.startswith(prefix):
            monitors.setdefault(out[len(prefix):].split("/", 1)[0], []).append(int(name))
        elif out.split(" (deleted)")[0] == zygote_log:
            zygotes.append(int(name))
    return monitors, zygotes


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def veth_links() -> list[dict]:
    """Host-side veths: name and master (the bridge), from `ip -j link`."""
    try:
        out = subprocess.run(["ip", "-j", "link", "show", "type", "veth"], capture_output=True, text=True,
                             timeout=10).stdout
        return [{"name": link.get("ifname", "").split("@")[0], "master": link.get("master", "")}
                for link in json.loads(out or "[]")]
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []


def link_names() -> set[str]:
    try:
        out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, timeout=10).stdout
        return {link.get("ifname", "") for link in json.loads(out or "[]")}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return set()


_DNAT = re.compile(r"(tcp|udp) dport (\d+) dnat to ([0-9.]+):(\d+)")
_MASQ = re.compile(r'ip saddr ([0-9./]+) oifname != "([^"]+)" masquerade')
_IFNAME = re.compile(r'"([^"]+)"')
