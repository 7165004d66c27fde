"""pause / unpause, live stats and resource updates, with dockerd's semantics.

The container's state stays the ContainerService's: this service changes
State.Paused / State.Status and HostConfig on the same Container objects and
persists them through the service, so inspect, ps, filters and reconcile see one
truth. Changes to the live container go through its OCI runtime
(runtime/control.py); usage figures come from its cgroup files
(runtime/cgroupstats.py).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import signal as sig
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from berth.engine.signals import parse_signal
from berth.errors import BerthError, Conflict, InvalidParameter, System
from berth.runtime import cgroupstats, control, host

if TYPE_CHECKING:
    from berth.engine.containers import ContainerService
    from berth.engine.events import EventBus
    from berth.engine.model import Container

log = logging.getLogger("berth.engine")

STATS_INTERVAL = 1.0  # dockerd's collector samples every second

# The fields of an update request dockerd applies (Resources + RestartPolicy); it
# ignores the others, and so does Berth.
UPDATE_INT_FIELDS = {
    "Memory": "int64", "MemorySwap": "int64", "MemoryReservation": "int64", "NanoCpus": "int64",
    "CpuShares": "int64", "CpuQuota": "int64", "CpuPeriod": "int64", "CpuRealtimePeriod": "int64",
    "CpuRealtimeRuntime": "int64", "PidsLimit": "int64", "BlkioWeight": "uint16",
}
UPDATE_STR_FIELDS = ("CpusetCpus", "CpusetMems")


class ResourceService:
    def __init__(self, containers: ContainerService, events: EventBus, health=None) -> None:
        self.containers = containers
        self.events = events
        self.health = health
        self._cgroups: host.CgroupInfo | None = None
        # A paused container cannot act on a signal (a frozen task even ignores SIGKILL):
        # the container service calls this after each signal it delivers.
        hooks = getattr(containers, "after_signal", None)
        if isinstance(hooks, list):
            hooks.append(self.after_signal)

    # ------------------------------------------------------------------ runtime
    def _runtime(self, c: Container) -> tuple[str, str]:
        """(binary, state root) of the runtime that runs the container."""
        cfg = self.containers.cfg
        chosen = c.host_config.get("Runtime") or cfg.default_runtime
        for name in [chosen, *(n for n in cfg.runtimes if n != chosen)]:
            root = os.path.join(cfg.exec_root, "runtime-" + name)
            if name in cfg.runtimes and os.path.exists(os.path.join(root, c.id)):
                return cfg.runtimes[name], root
        if chosen not in cfg.runtimes:
            raise System(f"unknown or invalid runtime name: {chosen}")
        return cfg.runtimes[chosen], os.path.join(cfg.exec_root, "runtime-" + chosen)

    def _publish(self, c: Container, action: str) -> None:
        self.events.publish("container", action, c.id, self.containers.event_attrs(c))

    def _set_paused(self, c: Container, paused: bool) -> None:
        c.state["Paused"] = paused
        if c.state.get("Status") in ("running", "paused"):  # not over "removing"
            c.state["Status"] = "paused" if paused else "running"
        self.containers._save_state(c)
        if self.health is None:
            return
        if paused:
            self.health.forget(c)  # dockerd stops probing a paused container ...
        elif c.state.get("Health"):
            previous = c.state["Health"]
            self.health.watch(c)   # ... and resumes on unpause, keeping the status it had
            if "Health" in c.state:
                c.state["Health"] = previous

    # ------------------------------------------------------------------ pause
    async def pause(self, ref: str) -> None:
        c = self.containers.get(ref)
        async with c.lock:
            if c.state.get("Restarting"):
                raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
            if not c.running:
                raise Conflict(f"Container {c.id} is not running")
            if c.state.get("Paused"):
                raise Conflict(f"Container {c.id} is already paused")
            binary, root = self._runtime(c)
            try:
                await control.pause(binary, root, c.id)
            except control.RuntimeCallFailed as e:
                raise System(f"Cannot pause container {c.id}: {e.message}") from None
            self._set_paused(c, True)
        self._publish(c, "pause")

    async def unpause(self, ref: str) -> None:
        c = self.containers.get(ref)
        async with c.lock:
            if not c.state.get("Paused"):
                raise System(f"Container {c.id} is not paused")  # dockerd answers 500 here
            binary, root = self._runtime(c)
            try:
                await control.resume(binary, root, c.id)
            except control.RuntimeCallFailed as e:
                raise System(f"Cannot unpause container {c.id}: {e.message}") from None
            self._set_paused(c, False)
        self._publish(c, "unpause")

    async def after_signal(self, c: Container, signum: int) -> None:
        """Thaw a paused container after a signal that should end it, as dockerd does:
        SIGKILL, the container's StopSignal, or any signal when it has none."""
        if not c.state.get("Paused") or not c.running:
            return
        stop_signal = c.config.get("StopSignal")
        if stop_signal and signum != sig.SIGKILL:
            try:
                if parse_signal(stop_signal) != signum:
                    return
            except BerthError:
                return
        try:
            binary, root = self._runtime(c)
            await control.resume(binary, root, c.id)
        except (BerthError, control.RuntimeCallFailed) as e:
            log.warning("cannot unpause container %s: %s", c.id[:12], getattr(e, "message", e))
            return
        self._set_paused(c, False)
        self._publish(c, "unpause")

    # ------------------------------------------------------------------ stats
    def _cgroup_info(self) -> host.CgroupInfo:
        if self._cgroups is None:
            self._cgroups = host.check_cgroups()
        return self._cgroups

    def _cgroup_dirs(self, c: Container) -> dict[str, str]:
        pid = int(c.state.get("Pid") or 0) or None
        return cgroupstats.cgroup_dirs(self._cgroup_info(), pid, f"/berth/{c.id}")

    def _sample(self, c: Container) -> cgroupstats.Sample | None:
        if not c.running or c.state.get("Restarting"):
            return None
        pid = int(c.state.get("Pid") or 0) or None
        with_networks = (c.host_config.get("NetworkMode") or "bridge") != "host"
        try:
            return cgroupstats.read_sample(self._cgroup_info(), self._cgroup_dirs(c), pid, with_networks)
        except FileNotFoundError:
            return None  # it exited between the check and the read

    async def stats(self, ref: str, stream: bool, one_shot: bool) -> AsyncIterator[dict]:
        """docker's stats objects: one (stream=False) or one a second until the
        container is removed. precpu_stats is the previous reading; without a stream,
        a first reading is taken a second before the answer unless one_shot."""
        if stream and one_shot:
            raise InvalidParameter("cannot have stream=true and one-shot=true")
        c = self.containers.get(ref)
        name, cid = c.name, c.id
        if not stream:
            first = self._sample(c)
            if first is None:
                yield cgroupstats.empty_doc(name, cid)
                return
            if one_shot:
                yield cgroupstats.stats_doc(name, cid, first, None)
                return
            await asyncio.sleep(STATS_INTERVAL)
            second = self._sample(c)
            yield (cgroupstats.stats_doc(name, cid, second, first) if second is not None
                   else cgroupstats.empty_doc(name, cid))
            return
        prev: cgroupstats.Sample | None = None
        while cid in self.containers.containers:
            cur = self._sample(c)
            if cur is None:
                prev = None
                yield cgroupstats.empty_doc(c.name, cid)
            else:
                yield cgroupstats.stats_doc(c.name, cid, cur, prev)
                prev = cur
            await asyncio.sleep(STATS_INTERVAL)

    # ------------------------------------------------------------------ update
    async def update(self, ref: str, body: dict) -> list[str]:
        """Change resources (and the restart policy) of a container; returns docker's warnings.

        The new values are checked like dockerd checks them, merged into HostConfig,
        applied to the live cgroup when the container runs (paused included), and
        persisted only once the runtime has taken them.
        """
        req = parse_update_request(body)
        policy = parse_restart_policy(body.get("RestartPolicy"))
        warnings = validate_update(req)
        c = self.containers.get(ref)
        async with c.lock:
            if c.state.get("Status") == "removing" or c.state.get("Dead"):
                raise System(f'Cannot update container {c.id}: container is marked for removal and cannot be "update"')
            merged, swap = merge_update(c.id, c.host_config, req, policy)
            if c.running and not c.state.get("Restarting"):
                if swap and swap != -1 and not host.swap_limit_supported(self._cgroup_info()):
                    swap = None
                resources = control.update_resources(req, swap)
                try:
                    if resources:
                        binary, root = self._runtime(c)
                        await control.update(binary, root, c.id, resources, self.containers.run_dir(c.id))
                    if req.get("PidsLimit") == 0 and _n(c.host_config, "PidsLimit") > 0:
                        control.lift_pids_limit(self._cgroup_dirs(c))
                except control.RuntimeCallFailed as e:
                    raise System(f"Cannot update container {c.id}: {e.message}") from None
            c.doc["HostConfig"] = merged
            self.containers._save_doc(c)
        self._publish(c, "update")
        return warnings


# ---------------------------------------------------------------------- update rules


def _go_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, list):
        return "array"
    return "object"


def parse_update_request(body: dict) -> dict:
    """The resource fields of an update body, type-checked as Go's decoder would.

    A PidsLimit of zero or less means "no limit" (stored as 0, docker's normalisation).
    """
    req: dict = {}
    for key, go_type in UPDATE_INT_FIELDS.items():
        value = body.get(key)
        if value is None:
            continue
        if (isinstance(value, bool) or not isinstance(value, int)
                or (go_type == "uint16" and not 0 <= value <= 65535)):
            raise InvalidParameter(f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                                   f"UpdateConfig.{key} of type {go_type}")
        req[key] = value
    for key in UPDATE_STR_FIELDS:
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidParameter(f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                                   f"UpdateConfig.{key} of type string")
        req[key] = value
    if "PidsLimit" in req and req["PidsLimit"] <= 0:
        req["PidsLimit"] = 0
    return req


def parse_restart_policy(raw: object) -> dict | None:
    """The new restart policy, None when the request leaves it alone (no Name)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidParameter(f"json: cannot unmarshal {_go_kind(raw)} into Go struct field "
                               "UpdateConfig.RestartPolicy of type container.RestartPolicy")
    name = raw.get("Name") or ""
    if not name:
        return None
    count = raw.get("MaximumRetryCount") or 0
    if not isinstance(name, str) or isinstance(count, bool) or not isinstance(count, int):
        raise InvalidParameter("invalid restart policy: Name must be a string and MaximumRetryCount an integer")
    if name in ("no", "always", "unless-stopped"):
        if count != 0:
            msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            raise InvalidParameter(msg + (" and cannot be negative" if count < 0 else ""))
    elif name == "on-failure":
        if count < 0:
            raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    else:
        raise InvalidParameter(f"invalid restart policy: unknown policy '{name}'; use one of "
                               "'no', 'always', 'on-failure', or 'unless-stopped'")
    return {"Name": name, "MaximumRetryCount": count}


def validate_update(req: dict) -> list[str]:
    """dockerd's checks of the values themselves (the create-time rules, minus the
    ones that only make sense for a whole configuration); returns its warnings.

    Drops a block I/O weight the host cannot apply, with docker's warning.
    """
    from berth.runtime.spec import validate_host_config

    warnings: list[str] = []
    if req.get("BlkioWeight") and not host.blkio_weight_supported():
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not mounted. "
                        "Weight discarded.")
        del req["BlkioWeight"]
    check = dict(req)
    if not check.get("Memory"):
        check.pop("MemorySwap", None)  # checked against the merged limits instead
    warnings += validate_host_config(check)
    return warnings


def _n(doc: dict, key: str) -> int:
    value = doc.get(key)
    return int(value) if value else 0


def merge_update(cid: str, current: dict, req: dict, policy: dict | None) -> tuple[dict, int | None]:
    """(new HostConfig, memory+swap limit to apply live or None), by dockerd's rules.

    Zero means "unchanged". CPU limits set one way (NanoCpus, or CpuPeriod/CpuQuota)
    cannot be changed the other way. One deliberate difference: dockerd refuses a
    memory limit on a container that had none ("... should be smaller than already
    set memoryswap limit", moby#47874, and with unlimited swap moby#39541); Berth
    gives it docker's default swap of twice the memory, or keeps swap unlimited.
    """
    def conflict(message: str) -> Conflict:
        return Conflict(f"Cannot update container {cid}: {message}")

    nano, period, quota = _n(req, "NanoCpus"), _n(req, "CpuPeriod"), _n(req, "CpuQuota")
    if nano > 0 and _n(current, "CpuPeriod") > 0:
        raise conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
    if nano > 0 and _n(current, "CpuQuota") > 0:
        raise conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
    if period > 0 and _n(current, "NanoCpus") > 0:
        raise conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
    if quota > 0 and _n(current, "NanoCpus") > 0:
        raise conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")

    new = copy.deepcopy(current)
    for key in ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
                "CpuRealtimeRuntime", "MemoryReservation", "CpusetCpus", "CpusetMems"):
        if req.get(key):
            new[key] = req[key]

    swap_live: int | None = None
    memory, swap = _n(req, "Memory"), _n(req, "MemorySwap")
    cur_memory = _n(current, "Memory")
    # What the runtime was given at start: an unset swap limit with a memory limit is twice it.
    cur_swap = _n(current, "MemorySwap") or (2 * cur_memory if cur_memory > 0 else 0)
    if memory:
        if swap == 0:
            if cur_swap > 0 and memory > cur_swap:
                raise conflict("Memory limit should be smaller than already set memoryswap limit, "
                               "update the memoryswap at the same time")
            if cur_swap == 0:
                new["MemorySwap"] = swap_live = 2 * memory
            else:
                new["MemorySwap"] = cur_swap
        new["Memory"] = memory
    if swap:
        new["MemorySwap"] = swap_live = swap
    m, s, r = _n(new, "Memory"), _n(new, "MemorySwap"), _n(new, "MemoryReservation")
    if s > 0 and m == 0:
        raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
    if m > 0 and s > 0 and s < m:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if m > 0 and r > 0 and m < r:
        raise InvalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")
    if "PidsLimit" in req:
        new["PidsLimit"] = req["PidsLimit"]
    if policy is not None:
        if current.get("AutoRemove") and policy["Name"] != "no":
            raise conflict("Restart policy cannot be updated because AutoRemove is enabled for the container")
        new["RestartPolicy"] = policy
    return new, swap_live
