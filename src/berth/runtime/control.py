"""Operations on a live container through its OCI runtime: freeze, thaw, resource update.

The runtime (crun or runc) owns the container's cgroup, so changes go through it rather
than through writes to cgroup files: it knows the cgroup layout it made (v1, v2,
systemd), the order v1 needs between memory and memory+swap limits, and the freezer
protocol (write FROZEN, wait until the kernel reports it).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

RUNTIME_TIMEOUT = 30.0


class RuntimeCallFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def call(binary: str, root: str, *args: str) -> None:
    """`<runtime> --root <root> <args>`; RuntimeCallFailed with its stderr when it fails."""
    proc = await asyncio.create_subprocess_exec(binary, "--root", root, *args,
                                                stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), RUNTIME_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeCallFailed(f"{os.path.basename(binary)} {args[0]} did not finish in "
                                f"{RUNTIME_TIMEOUT:.0f}s") from None
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise RuntimeCallFailed(text)


async def pause(binary: str, root: str, cid: str) -> None:
    await call(binary, root, "pause", cid)


async def resume(binary: str, root: str, cid: str) -> None:
    await call(binary, root, "resume", cid)


async def update(binary: str, root: str, cid: str, resources: dict, scratch_dir: str) -> None:
    """Apply OCI linux.resources to the running container (`update --resources FILE`)."""
    path = os.path.join(scratch_dir, "update-resources.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(resources, f)
    os.replace(tmp, path)
    try:
        await call(binary, root, "update", "--resources", path, cid)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def _num(doc: dict, key: str) -> int:
    value = doc.get(key)
    return int(value) if value else 0


def update_resources(req: dict, swap: int | None = None) -> dict:
    """OCI linux.resources for what an update request names, the way dockerd hands
    it to containerd: zero means "unchanged" and is left out (lifting a pids limit is
    `lift_pids_limit`'s job). `swap` is the memory+swap limit the engine decided on
    (None: leave it as it is)."""
    res: dict[str, Any] = {}
    memory: dict[str, int] = {}
    if _num(req, "Memory"):
        memory["limit"] = _num(req, "Memory")
    if swap:
        memory["swap"] = swap
    if _num(req, "MemoryReservation"):
        memory["reservation"] = _num(req, "MemoryReservation")
    if memory:
        res["memory"] = memory
    cpu: dict[str, Any] = {}
    if _num(req, "CpuShares"):
        cpu["shares"] = min(max(_num(req, "CpuShares"), 2), 262144)
    if _num(req, "NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = _num(req, "NanoCpus") * 100000 // 10**9
    else:
        if _num(req, "CpuQuota"):
            cpu["quota"] = _num(req, "CpuQuota")
        if _num(req, "CpuPeriod"):
            cpu["period"] = _num(req, "CpuPeriod")
    if _num(req, "CpuRealtimePeriod"):
        cpu["realtimePeriod"] = _num(req, "CpuRealtimePeriod")
    if _num(req, "CpuRealtimeRuntime"):
        cpu["realtimeRuntime"] = _num(req, "CpuRealtimeRuntime")
    if req.get("CpusetCpus"):
        cpu["cpus"] = req["CpusetCpus"]
    if req.get("CpusetMems"):
        cpu["mems"] = req["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if req.get("PidsLimit"):
        res["pids"] = {"limit": int(req["PidsLimit"])}
    if _num(req, "BlkioWeight"):
        res["blockIO"] = {"weight": _num(req, "BlkioWeight")}
    return res


def lift_pids_limit(dirs: dict[str, str]) -> None:
    """Remove the container's pids limit ("max").

    Written directly: crun 1.8 ignores a pids limit of 0 in `update` and passes -1
    to the kernel, which refuses it, so no runtime-neutral request can do this.
    """
    path = os.path.join(dirs.get("pids") or dirs.get("unified") or "", "pids.max")
    try:
        with open(path, "w") as f:
            f.write("max")
    except OSError as e:
        raise RuntimeCallFailed(f"cannot lift the pids limit ({path}): {e.strerror}") from None
