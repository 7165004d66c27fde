"""Host checks: cgroup layout detection, the crun hybrid-cgroup fix, limits and CPUs."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from berth.errors import System
from berth.runtime import host

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
UNIFIED = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
LEGACY = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"


def mounts(tmp_path: Path, text: str) -> list[host.MountEntry]:
    p = tmp_path / "mountinfo"
    p.write_text(text)
    return host.read_mountinfo(str(p))


def test_mountinfo_parsing_unescapes_and_keeps_optional_fields(tmp_path):
    [m] = mounts(tmp_path, "50 1 0:1 / /mnt/with\\040space rw shared:3 master:1 - ext4 /dev/sda1 rw,data=ordered\n")
    assert m.mount_point == "/mnt/with space"
    assert m.fstype == "ext4" and m.source == "/dev/sda1"
    assert m.optional == ["shared:3", "master:1"]


def test_hybrid_layout_is_detected(tmp_path):
    info = host.check_cgroups(mounts(tmp_path, HYBRID))
    assert info.version == "hybrid"
    assert info.v1_mounts["cpu"] == "/sys/fs/cgroup/cpu"
    assert info.v1_mounts["name=systemd"] == "/sys/fs/cgroup/systemd"
    assert "xattr" not in info.v1_mounts
    assert info.unified_mount == "/sys/fs/cgroup/unified"


def test_unified_and_legacy_layouts(tmp_path):
    assert host.check_cgroups(mounts(tmp_path, UNIFIED)).version == "v2"
    assert host.check_cgroups(mounts(tmp_path, UNIFIED)).is_v2
    legacy = host.check_cgroups(mounts(tmp_path, LEGACY))
    assert legacy.version == "v1"
    assert legacy.v1_mounts["cpu"] == legacy.v1_mounts["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"


def test_this_machine_layout_is_readable():
    info = host.check_cgroups()
    assert info.version in ("v1", "v2", "hybrid")


def _hybrid_with(monkeypatch, tmp_path, controllers):
    monkeypatch.setattr(host, "CGROUP_ROOT", str(tmp_path / "cgroup"))
    monkeypatch.setattr(host, "check_cgroups", lambda: host.CgroupInfo(
        "hybrid", {"cpu": "/x/cpu"}, "/sys/fs/cgroup/unified", list(controllers)))


def test_ensure_crun_cgroups_mounts_controllers_left_in_cgroup2(monkeypatch, tmp_path):
    _hybrid_with(monkeypatch, tmp_path, ["hugetlb"])
    calls, logged = [], []
    monkeypatch.setattr(host, "_libc_mount", lambda *a: calls.append(a))
    done = host.ensure_crun_cgroups(logged.append)
    target = str(tmp_path / "cgroup" / "hugetlb")
    assert done == [target]
    assert os.path.isdir(target)
    assert calls == [("cgroup", target, "cgroup", 0, "hugetlb")]
    assert len(logged) == 1 and "hugetlb" in logged[0] and "crun" in logged[0]


def test_ensure_crun_cgroups_explains_what_to_do_when_it_cannot(monkeypatch, tmp_path):
    _hybrid_with(monkeypatch, tmp_path, ["hugetlb"])

    def refuse(*_a):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(host, "_libc_mount", refuse)
    with pytest.raises(System) as err:
        host.ensure_crun_cgroups(None)
    msg = err.value.message
    assert "mount -t cgroup -o hugetlb cgroup" in msg
    assert "--default-runtime runc" in msg


def test_ensure_crun_cgroups_does_nothing_when_cgroup2_holds_no_controllers(monkeypatch, tmp_path):
    _hybrid_with(monkeypatch, tmp_path, [])
    monkeypatch.setattr(host, "_libc_mount", lambda *a: pytest.fail("must not mount"))
    assert host.ensure_crun_cgroups(None) == []


def test_privatize_refuses_a_shared_cgroup_mount(monkeypatch, tmp_path):
    entries = mounts(tmp_path, UNIFIED)
    monkeypatch.setattr(host, "read_mountinfo", lambda *a: entries)
    with pytest.raises(System, match="private mount namespace"):
        host.privatize_cgroup_root()


def test_daemon_rlimits_match_getrlimit():
    limits = host.daemon_rlimits()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert limits["nofile"] == (soft, hard)
    assert set(limits) == set(host.RLIMITS)


def test_rlimit_ceiling_is_the_daemons_hard_limit_without_cap_sys_resource(monkeypatch):
    monkeypatch.setattr(host, "has_capability", lambda n: False)
    assert host.rlimit_ceilings()["nofile"] == resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    monkeypatch.setattr(host, "has_capability", lambda n: True)
    with open("/proc/sys/fs/nr_open") as f:
        assert host.rlimit_ceilings()["nofile"] == int(f.read())
    assert host.rlimit_ceilings()["core"] == host.RLIM_INFINITY


def test_cpu_count_follows_affinity():
    assert host.cpu_count() == len(os.sched_getaffinity(0))


def test_kernel_version_parsing():
    assert host.kernel_version("6.18.44-fc-v657") == (6, 18)
    assert host.kernel_version("5.4.0-100-generic") == (5, 4)
    assert host.kernel_version("4.9") == (4, 9)
    assert host.kernel_version() >= (3, 0)


def test_device_info_and_host_devices():
    null = host.device_info("/dev/null")
    assert (null.type, null.major, null.minor) == ("c", 1, 3)
    assert any(d.path == "/dev/null" for d in host.host_devices())
    assert not any(d.path.startswith("/dev/pts/") for d in host.host_devices())
