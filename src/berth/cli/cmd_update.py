"""`berth update`: change the resource limits and restart policy of containers.

docker's CLI 28 sends the whole UpdateConfig (zero values mean "unchanged"),
prints each container it updated, then the daemon's warnings on stdout, and
joins the failures into one error (exit 1).
"""

from __future__ import annotations

from .command import Cli, CliError, Command
from .flags import FlagSet, Values
from .units import mem_bytes, mem_swap_bytes, nano_cpus

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _uint16(text: str) -> int:
    from .units import go_parse_uint

    return go_parse_uint(text, 16)


def _update_flags(fs: FlagSet) -> None:
    fs.int("blkio-weight", "", "Block IO (relative weight), between 10 and 1000, or 0 to disable",
           kind="uint16", convert=_uint16, help_default="0")
    fs.int("cpu-period", "", "Limit CPU CFS (Completely Fair Scheduler) period")
    fs.int("cpu-quota", "", "Limit CPU CFS (Completely Fair Scheduler) quota")
    fs.int("cpu-rt-period", "", "Limit the CPU real-time period in microseconds")
    fs.int("cpu-rt-runtime", "", "Limit the CPU real-time runtime in microseconds")
    fs.int("cpu-shares", "c", "CPU shares (relative weight)")
    fs.int("cpus", "", "Number of CPUs", kind="decimal", convert=nano_cpus)
    fs.string("cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
    fs.string("cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
    fs.int("kernel-memory", "", "Kernel memory limit (deprecated)", kind="bytes", convert=mem_bytes,
           hidden=True)
    fs.int("memory", "m", "Memory limit", kind="bytes", convert=mem_bytes)
    fs.int("memory-reservation", "", "Memory soft limit", kind="bytes", convert=mem_bytes)
    fs.int("memory-swap", "", "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
           kind="bytes", convert=mem_swap_bytes)
    fs.int("pids-limit", "", "Tune container pids limit (set -1 for unlimited)")
    fs.string("restart", "", "Restart policy to apply when a container exits")


def update_body(v: Values) -> dict[str, Any]:
    """The UpdateConfig document docker's CLI sends for these flags."""
    if not v.changed:
        raise CliError("you must provide one or more flags when using this command")
    from .containeropts import restart_policy
    from .optvalues import OptionError

    try:
        policy = restart_policy(v.restart) if v.restart else {"Name": "", "MaximumRetryCount": 0}
    except OptionError as e:
        raise CliError(e.message) from None  # update exits 1 where run's flag errors exit 125
    body: dict[str, Any] = {
        "CpuShares": v.cpu_shares,
        "Memory": v.memory,
        "NanoCpus": v.cpus,
        "CgroupParent": "",
        "BlkioWeight": v.blkio_weight,
        "BlkioWeightDevice": None,
        "BlkioDeviceReadBps": None,
        "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None,
        "BlkioDeviceWriteIOps": None,
        "CpuPeriod": v.cpu_period,
        "CpuQuota": v.cpu_quota,
        "CpuRealtimePeriod": v.cpu_rt_period,
        "CpuRealtimeRuntime": v.cpu_rt_runtime,
        "CpusetCpus": v.cpuset_cpus,
        "CpusetMems": v.cpuset_mems,
        "Devices": None,
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "KernelMemory": v.kernel_memory,
        "KernelMemoryTCP": 0,
        "MemoryReservation": v.memory_reservation,
        "MemorySwap": v.memory_swap,
        "MemorySwappiness": None,
        "OomKillDisable": None,
        "PidsLimit": v.pids_limit if v.was_set("pids-limit") else None,
        "Ulimits": None,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "RestartPolicy": policy,
    }
    return body


def _update(cli: Cli, v: Values, args: list[str]) -> int:
    body = update_body(v)
    client = cli.client()
    warnings: list[str] = []
    errors: list[str] = []
    for name in args:
        try:
            answer = client.post(f"/containers/{name}/update", json_body=body) or {}
        except CliError as exc:
            errors.append(exc.message or "")
            continue
        cli.out.write(name + "\n")
        warnings.extend((answer or {}).get("Warnings") or [])
    if warnings:
        cli.out.write("\n".join(warnings) + "\n")
    if errors:
        raise CliError("\n".join(errors))
    return 0


def update_command() -> Command:
    return Command("update", "[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers",
                   _update, _update_flags, ("min", 1), aliases="container update, update")
