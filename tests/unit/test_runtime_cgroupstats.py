"""Stats figures from cgroup files, in docker's shapes (fake cgroup trees)."""

from __future__ import annotations

import os

import pytest

from berth.runtime import cgroupstats
from berth.runtime.host import CgroupInfo

V1 = CgroupInfo("hybrid", {"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu",
                           "cpuacct": "/sys/fs/cgroup/cpuacct", "pids": "/sys/fs/cgroup/pids",
                           "blkio": "/sys/fs/cgroup/blkio"}, "/sys/fs/cgroup/unified", [])
V2 = CgroupInfo("v2", {}, "/sys/fs/cgroup", ["cpu", "memory", "pids", "io"])

NET_DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls"
    " carrier compressed\n"
    "    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0"
    "       0          0\n"
    "  eth0:    5338      36    1    2    0     0          0         0      648       8    3    4    0     0"
    "       0          0\n"
)


def _tree(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def test_system_cpu_usage_sums_the_first_seven_fields_in_nanoseconds():
    text = "cpu  100 1 50 1000 5 0 4 7 0 0\ncpu0 50 0 25 500 2 0 2 3 0 0\n"
    assert cgroupstats.system_cpu_usage(text) == 1160 * 10**9 // cgroupstats.CLK_TCK


def test_net_dev_leaves_out_loopback():
    assert cgroupstats.net_dev(0, NET_DEV) == {"eth0": {
        "rx_bytes": 5338, "rx_packets": 36, "rx_errors": 1, "rx_dropped": 2,
        "tx_bytes": 648, "tx_packets": 8, "tx_errors": 3, "tx_dropped": 4}}


def test_cgroup_dirs_fall_back_to_the_runtime_cgroups_path_without_a_process():
    assert cgroupstats.cgroup_dirs(V1, None, "/berth/abc")["memory"] == "/sys/fs/cgroup/memory/berth/abc"
    assert cgroupstats.cgroup_dirs(V1, None, "/berth/abc")["cpuacct"] == "/sys/fs/cgroup/cpuacct/berth/abc"
    assert cgroupstats.cgroup_dirs(V2, None, "/berth/abc") == {"unified": "/sys/fs/cgroup/berth/abc"}


def test_cgroup_dirs_follow_the_process(tmp_path):
    own = cgroupstats.cgroup_dirs(V1, os.getpid(), "/nowhere")
    with open("/proc/self/cgroup") as f:
        memory_line = next((line for line in f if ":memory:" in line), None)
    if memory_line is None:
        pytest.skip("no v1 memory hierarchy here")
    assert own["memory"] == "/sys/fs/cgroup/memory" + memory_line.strip().split(":", 2)[2].rstrip("/")


def _v1_tree(root) -> dict[str, str]:
    _tree(root, {
        "cpuacct/cpuacct.usage": "46065742\n",
        "cpuacct/cpuacct.usage_percpu": "24677913 21387829 \n",
        "cpuacct/cpuacct.stat": "user 2\nsystem 3\n",
        "cpu/cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n",
        "memory/memory.usage_in_bytes": "770048\n",
        "memory/memory.max_usage_in_bytes": "4341760\n",
        "memory/memory.failcnt": "0\n",
        "memory/memory.limit_in_bytes": "9223372036854771712\n",
        "memory/memory.stat": "cache 0\nrss 110592\nshmem 0\nswap 0\ntotal_inactive_file 4096\n"
                              "hierarchical_memory_limit 9223372036854771712\n",
        "pids/pids.current": "2\n",
        "pids/pids.max": "max\n",
        "blkio/blkio.throttle.io_service_bytes_recursive":
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n",
        "blkio/blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
    })
    return {k: os.path.join(root, k) for k in ("cpuacct", "cpu", "memory", "pids", "blkio")}


def test_v1_figures(tmp_path):
    cpu, memory, pids, blkio = cgroupstats.read_v1(_v1_tree(str(tmp_path)), mem_total=25276510208)
    tick = 10**9 // cgroupstats.CLK_TCK
    assert cpu == {"cpu_usage": {"total_usage": 46065742, "percpu_usage": [24677913, 21387829],
                                 "usage_in_kernelmode": 3 * tick, "usage_in_usermode": 2 * tick},
                   "throttling_data": {"periods": 10, "throttled_periods": 4, "throttled_time": 123456}}
    # no limit: the machine's memory; failcnt 0 is left out as dockerd's omitempty does
    assert memory["limit"] == 25276510208 and "failcnt" not in memory
    assert (memory["usage"], memory["max_usage"]) == (770048, 4341760)
    assert set(memory["stats"]) == set(cgroupstats.V1_MEMORY_KEYS_ALL)  # docker's key set, no shmem/swap
    assert (memory["stats"]["rss"], memory["stats"]["total_inactive_file"]) == (110592, 4096)
    assert pids == {"current": 2}  # "max" is no limit
    assert blkio["io_service_bytes_recursive"][:2] == [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096}, {"major": 8, "minor": 0, "op": "Write", "value": 8192}]
    assert len(blkio["io_service_bytes_recursive"]) == 6  # the closing "Total N" line is not an entry
    assert blkio["io_queue_recursive"] == [] and len(blkio) == 8


def test_v1_limit_and_pids_limit_when_set(tmp_path):
    dirs = _v1_tree(str(tmp_path))
    _tree(str(tmp_path), {"memory/memory.limit_in_bytes": "67108864\n", "pids/pids.max": "50\n"})
    _, memory, pids, _ = cgroupstats.read_v1(dirs, mem_total=25276510208)
    assert memory["limit"] == 67108864 and pids == {"current": 2, "limit": 50}


def test_v1_raises_when_the_container_is_gone(tmp_path):
    with pytest.raises(FileNotFoundError):
        cgroupstats.read_v1({"memory": str(tmp_path / "gone")}, 1)


def test_v2_figures(tmp_path):
    _tree(str(tmp_path), {
        "cpu.stat": "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 2\nnr_throttled 1\n"
                    "throttled_usec 50\n",
        "memory.current": "1048576\n", "memory.max": "max\n", "memory.stat": "anon 4096\ninactive_file 8192\n",
        "pids.current": "3\n", "pids.max": "100\n",
        "io.stat": "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n",
    })
    cpu, memory, pids, blkio = cgroupstats.read_v2(str(tmp_path), mem_total=1 << 30)
    assert cpu["cpu_usage"] == {"total_usage": 1_000_000, "usage_in_kernelmode": 400_000, "usage_in_usermode": 600_000}
    assert cpu["throttling_data"] == {"periods": 2, "throttled_periods": 1, "throttled_time": 50_000}
    assert memory == {"usage": 1048576, "stats": {"anon": 4096, "inactive_file": 8192}, "limit": 1 << 30}
    assert pids == {"current": 3, "limit": 100}
    assert blkio["io_service_bytes_recursive"] == [{"major": 8, "minor": 0, "op": "read", "value": 4096},
                                                   {"major": 8, "minor": 0, "op": "write", "value": 512}]
    assert blkio["io_serviced_recursive"] is None


def test_stats_doc_has_dockers_keys_in_dockers_order():
    cur = cgroupstats.Sample(2_000_000_000, {"cpu_usage": {"total_usage": 5}}, {"usage": 1}, {"current": 1},
                             {}, {"eth0": {"rx_bytes": 1}})
    prev = cgroupstats.Sample(1_000_000_000, {"cpu_usage": {"total_usage": 3}}, {}, {}, {}, None)
    doc = cgroupstats.stats_doc("/w", "abc", cur, prev)
    assert list(doc) == ["read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats", "cpu_stats",
                         "precpu_stats", "memory_stats", "name", "id", "networks"]
    assert (doc["read"], doc["preread"]) == ("1970-01-01T00:00:02Z", "1970-01-01T00:00:01Z")
    assert doc["precpu_stats"] == {"cpu_usage": {"total_usage": 3}}
    first = cgroupstats.stats_doc("/w", "abc", prev, None)
    assert first["preread"] == "0001-01-01T00:00:00Z" and first["precpu_stats"] == cgroupstats.zero_cpu()
    assert "networks" not in first


def test_empty_doc_is_what_dockerd_sends_for_a_stopped_container():
    doc = cgroupstats.empty_doc("/w", "abc")
    assert doc["read"] == doc["preread"] == "0001-01-01T00:00:00Z"
    assert (doc["pids_stats"], doc["memory_stats"], doc["storage_stats"], doc["num_procs"]) == ({}, {}, {}, 0)
    assert all(v is None for v in doc["blkio_stats"].values()) and len(doc["blkio_stats"]) == 8
    assert doc["cpu_stats"] == doc["precpu_stats"] == cgroupstats.zero_cpu()
    assert "networks" not in doc
