"""docker update's rules: request parsing, merge into HostConfig, the OCI resources sent live."""

from __future__ import annotations

import pytest

from berth.engine.resources import merge_update, parse_restart_policy, parse_update_request
from berth.errors import Conflict, InvalidParameter
from berth.runtime.control import update_resources

MiB = 1 << 20
CID = "c" * 64


def hc(**kw) -> dict:
    base = {"Memory": 0, "MemorySwap": 0, "MemoryReservation": 0, "NanoCpus": 0, "CpuQuota": 0, "CpuPeriod": 0,
            "CpuShares": 0, "PidsLimit": None, "BlkioWeight": 0, "CpusetCpus": "", "AutoRemove": False,
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}
    base.update(kw)
    return base


def test_request_types_are_checked_like_gos_decoder():
    with pytest.raises(InvalidParameter, match="cannot unmarshal string into Go struct field UpdateConfig.Memory "
                                               "of type int64"):
        parse_update_request({"Memory": "64m"})
    with pytest.raises(InvalidParameter, match="cannot unmarshal number 1.5 into .*NanoCpus"):
        parse_update_request({"NanoCpus": 1.5})
    with pytest.raises(InvalidParameter, match="of type uint16"):
        parse_update_request({"BlkioWeight": -1})
    with pytest.raises(InvalidParameter, match="CpusetCpus of type string"):
        parse_update_request({"CpusetCpus": 1})


def test_request_keeps_only_what_docker_applies_and_normalises_pids():
    req = parse_update_request({"Memory": 64 * MiB, "CgroupParent": "x", "Devices": None, "PidsLimit": -1,
                                "CpusetCpus": "0", "MemorySwappiness": 5})
    assert req == {"Memory": 64 * MiB, "PidsLimit": 0, "CpusetCpus": "0"}
    assert parse_update_request({"PidsLimit": None}) == {}


@pytest.mark.parametrize("policy, message", [
    ({"Name": "bogus"}, "unknown policy 'bogus'"),
    ({"Name": "always", "MaximumRetryCount": 2}, "maximum retry count can only be used with 'on-failure'$"),
    ({"Name": "no", "MaximumRetryCount": -1}, "can only be used with 'on-failure' and cannot be negative"),
    ({"Name": "on-failure", "MaximumRetryCount": -1}, "maximum retry count cannot be negative"),
])
def test_bad_restart_policies(policy, message):
    with pytest.raises(InvalidParameter, match=message):
        parse_restart_policy(policy)


def test_a_policy_without_a_name_leaves_it_alone():
    assert parse_restart_policy({"Name": "", "MaximumRetryCount": 0}) is None
    assert parse_restart_policy({"Name": "on-failure", "MaximumRetryCount": 3}) == {
        "Name": "on-failure", "MaximumRetryCount": 3}


def test_a_first_memory_limit_gets_twice_as_much_swap():
    new, swap = merge_update(CID, hc(), {"Memory": 64 * MiB}, None)
    assert (new["Memory"], new["MemorySwap"], swap) == (64 * MiB, 128 * MiB, 128 * MiB)


def test_memory_above_the_swap_limit_needs_the_swap_too():
    current = hc(Memory=32 * MiB)  # started with swap = 2 x memory
    with pytest.raises(Conflict, match=f"^Cannot update container {CID}: Memory limit should be smaller"):
        merge_update(CID, current, {"Memory": 100 * MiB}, None)
    new, swap = merge_update(CID, current, {"Memory": 64 * MiB}, None)
    assert (new["Memory"], new["MemorySwap"], swap) == (64 * MiB, 64 * MiB, None)
    new, swap = merge_update(CID, current, {"Memory": 100 * MiB, "MemorySwap": 200 * MiB}, None)
    assert (new["Memory"], new["MemorySwap"], swap) == (100 * MiB, 200 * MiB, 200 * MiB)


def test_unlimited_swap_stays_unlimited():
    new, swap = merge_update(CID, hc(Memory=32 * MiB, MemorySwap=-1), {"Memory": 1024 * MiB}, None)
    assert (new["Memory"], new["MemorySwap"], swap) == (1024 * MiB, -1, None)


def test_merged_limits_must_still_make_sense():
    with pytest.raises(InvalidParameter, match="Minimum memoryswap limit should be larger than memory limit"):
        merge_update(CID, hc(Memory=64 * MiB), {"MemorySwap": 32 * MiB}, None)
    with pytest.raises(InvalidParameter, match="You should always set the Memory limit"):
        merge_update(CID, hc(), {"MemorySwap": 32 * MiB}, None)
    with pytest.raises(InvalidParameter, match="can not be less than memory reservation"):
        merge_update(CID, hc(Memory=32 * MiB), {"MemoryReservation": 64 * MiB}, None)


@pytest.mark.parametrize("current, req, message", [
    (hc(CpuPeriod=50000), {"NanoCpus": 10**9}, "Nano CPUs cannot be updated as CPU Period has already been set"),
    (hc(CpuQuota=50000), {"NanoCpus": 10**9}, "Nano CPUs cannot be updated as CPU Quota has already been set"),
    (hc(NanoCpus=10**9), {"CpuPeriod": 50000}, "CPU Period cannot be updated as NanoCPUs has already been set"),
    (hc(NanoCpus=10**9), {"CpuQuota": 50000}, "CPU Quota cannot be updated as NanoCPUs has already been set"),
])
def test_cpu_limits_cannot_switch_between_nanocpus_and_quota(current, req, message):
    with pytest.raises(Conflict, match=message):
        merge_update(CID, current, req, None)


def test_zero_means_unchanged_and_restart_policy_respects_autoremove():
    current = hc(Memory=64 * MiB, MemorySwap=128 * MiB, CpuShares=512, PidsLimit=50, CpusetCpus="0")
    new, _ = merge_update(CID, current, {"CpuShares": 0, "CpusetCpus": ""}, None)
    assert new == current and new is not current
    new, _ = merge_update(CID, current, {"PidsLimit": 0}, {"Name": "always", "MaximumRetryCount": 0})
    assert new["PidsLimit"] == 0 and new["RestartPolicy"]["Name"] == "always"
    with pytest.raises(Conflict, match="Restart policy cannot be updated because AutoRemove is enabled"):
        merge_update(CID, hc(AutoRemove=True), {}, {"Name": "always", "MaximumRetryCount": 0})
    new, _ = merge_update(CID, hc(AutoRemove=True), {}, {"Name": "no", "MaximumRetryCount": 0})
    assert new["RestartPolicy"]["Name"] == "no"


def test_live_resources_name_only_what_changes():
    assert update_resources({}) == {}
    assert update_resources({"Memory": 64 * MiB, "NanoCpus": 500_000_000, "PidsLimit": 50}, swap=128 * MiB) == {
        "memory": {"limit": 64 * MiB, "swap": 128 * MiB},
        "cpu": {"period": 100000, "quota": 50000},
        "pids": {"limit": 50}}
    assert update_resources({"CpuQuota": 20000, "CpuShares": 1, "CpusetCpus": "0-1", "BlkioWeight": 300,
                             "MemoryReservation": 32 * MiB}) == {
        "memory": {"reservation": 32 * MiB},
        "cpu": {"shares": 2, "quota": 20000, "cpus": "0-1"},
        "blockIO": {"weight": 300}}
    assert update_resources({"PidsLimit": 0}) == {}  # lifting the limit is written directly
