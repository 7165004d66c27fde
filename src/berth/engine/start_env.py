"""What a container's start needs besides its OCI spec: the namespaces it joins
(--pid/--ipc/--network container:<x>), its /etc/hostname, hosts and resolv.conf
bind mounts, and where the monitor reads its OOM-kill count."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from berth.engine.model import Container
from berth.engine.rootfs_files import write_etc_files
from berth.errors import Conflict, InvalidParameter

if TYPE_CHECKING:
    from berth.engine.containers import ContainerService


def joined_namespaces(svc: ContainerService, c: Container) -> dict[str, str]:
    """--pid/--ipc container:<x>: the donor's namespaces, as docker checks them."""
    joined: dict[str, str] = {}
    for kind, key in (("pid", "PidMode"), ("ipc", "IpcMode")):
        mode = c.host_config.get(key) or ""
        if not mode.startswith("container:"):
            continue
        donor = svc.get(mode.partition(":")[2])
        if not donor.running:
            raise Conflict(f"cannot join {kind.upper()} of a non running container: {donor.id}")
        if kind == "ipc" and (donor.host_config.get("IpcMode") or "private") not in ("shareable", "host"):
            raise InvalidParameter("non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
        joined[kind] = f"/proc/{donor.state['Pid']}/ns/{kind}"
    return joined


def oom_file(svc: ContainerService, cid: str) -> str | None:
    """Where the monitor reads the container's OOM-kill count at exit (State.OOMKilled)."""
    from berth.runtime import host

    info = getattr(svc, "_cgroup_info", None)
    if info is None:
        info = svc._cgroup_info = host.check_cgroups()
    if info.is_v2:
        return os.path.join(info.unified_mount or "/sys/fs/cgroup", "berth", cid, "memory.events")
    mount = info.v1_mounts.get("memory")
    return os.path.join(mount, "berth", cid, "memory.oom_control") if mount else None


def network_and_etc_files(svc: ContainerService, c: Container) -> tuple[str | None, list[dict]]:
    """The netns to join for host/container: modes (None: a new one) and the /etc file mounts."""
    hc = c.host_config
    mode = hc.get("NetworkMode") or "bridge"
    netns: str | None = None
    if mode == "host":
        netns = "host"
    elif mode.startswith("container:"):
        other = svc.get(mode.split(":", 1)[1])
        if not other.running:
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        netns = f"/proc/{other.state['Pid']}/ns/net"
    paths = write_etc_files(svc.state_dir(c.id), c.config.get("Hostname", ""),
                            c.config.get("Domainname", ""), hc.get("ExtraHosts") or [],
                            hc.get("Dns") or [], hc.get("DnsSearch") or [], hc.get("DnsOptions") or [])
    mounts = []
    for name, dest in (("resolv.conf", "/etc/resolv.conf"), ("hostname", "/etc/hostname"),
                       ("hosts", "/etc/hosts")):
        opts = ["rbind", "rprivate"] + (["ro"] if hc.get("ReadonlyRootfs") else [])
        mounts.append({"destination": dest, "type": "bind", "source": paths[name], "options": opts})
    return netns, mounts
