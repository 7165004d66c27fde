"""build_spec: OCI schema validity and docker's translation of Config/HostConfig."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

from specs import SPECS_DIR

import pytest

from berth.errors import InvalidParameter, System
from berth.runtime import capabilities, host
from berth.runtime.spec import (
    DEFAULT_PATH,
    MASKED_PATHS,
    READONLY_PATHS,
    SpecRequest,
    build_env,
    build_spec,
    parse_security_opts,
    validate_host_config,
)

SCHEMA_DIR = SPECS_DIR / "oci-runtime"


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT4

    if not SCHEMA_DIR.is_dir():
        pytest.skip(f"OCI runtime schemas not found at {SCHEMA_DIR}")
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        contents = json.loads(path.read_text())
        resources.append((path.name, DRAFT4.create_resource(contents)))
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads((SCHEMA_DIR / "config-schema.json").read_text())
    return jsonschema.Draft4Validator(schema, registry=registry)


def assert_valid(validator, spec: dict) -> None:
    errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\nwheel:x:10:root\napp:x:1000:\n")
    return root


def request(rootfs: Path, config: dict | None = None, host_config: dict | None = None, **kw) -> SpecRequest:
    base: dict = {
        "container_id": "0123456789abcdef0123",
        "rootfs": str(rootfs),
        "args": ["/bin/echo", "hi"],
        "config": config or {},
        "host_config": host_config or {},
        "netns": None,
        "extra_mounts": [],
        "cgroups_path": "/berth/0123456789abcdef0123",
        "init_binary": None,
        "seccomp_profile": None,
    }
    base.update(kw)
    return SpecRequest(**base)


def mount_at(spec: dict, dest: str) -> dict:
    found = [m for m in spec["mounts"] if m["destination"] == dest]
    assert len(found) == 1, f"{dest}: {found}"
    return found[0]


def ns_types(spec: dict) -> list[str]:
    return [n["type"] for n in spec["linux"]["namespaces"]]


# ---------------------------------------------------------------- schema validity


def test_plain_container_spec_validates_against_oci_schema(validator, rootfs):
    spec = build_spec(request(rootfs, {"Env": ["A=1"], "Hostname": "web"}))
    assert_valid(validator, spec)
    assert spec["ociVersion"] == "1.0.2"
    assert spec["root"] == {"path": str(rootfs), "readonly": False}
    assert spec["hostname"] == "web"


def test_privileged_spec_validates_against_oci_schema(validator, rootfs):
    spec = build_spec(request(rootfs, host_config={"Privileged": True}))
    assert_valid(validator, spec)


def test_spec_with_caps_limits_readonly_init_ulimits_validates(validator, rootfs):
    hc = {
        "CapAdd": ["sys_admin", "CAP_NET_ADMIN"],
        "CapDrop": ["MKNOD"],
        "ReadonlyRootfs": True,
        "Memory": 64 << 20,
        "MemoryReservation": 32 << 20,
        "NanoCpus": 500_000_000,
        "CpuShares": 512,
        "CpusetCpus": "0",
        "PidsLimit": 100,
        "Init": True,
        "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "core", "Soft": 0, "Hard": 0}],
        "ShmSize": 128 << 20,
        "OomKillDisable": True,
        "OomScoreAdj": 500,
        "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000"},
        "SecurityOpt": ["no-new-privileges:true"],
        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}],
        "DeviceCgroupRules": ["c 10:200 rwm"],
    }
    spec = build_spec(request(rootfs, {"User": "app", "Tty": True, "WorkingDir": "/work"}, hc,
                              init_binary="/usr/bin/catatonit"))
    assert_valid(validator, spec)


# ---------------------------------------------------------------- process


def test_env_gets_path_hostname_and_term_and_container_env_overrides(rootfs):
    spec = build_spec(request(rootfs, {"Tty": True, "Hostname": "h1", "Env": ["PATH=/x", "FOO=bar"]}))
    assert spec["process"]["env"] == ["PATH=/x", "HOSTNAME=h1", "TERM=xterm", "FOO=bar"]
    assert spec["process"]["terminal"] is True


def test_env_defaults_path_when_image_has_none_and_bare_key_unsets():
    env = build_env({"Env": ["TERM", "X=1"]}, "h", [])
    assert env == [f"PATH={DEFAULT_PATH}", "HOSTNAME=h", "X=1"]
    assert build_env({"Tty": True, "Env": ["TERM"]}, "h") == [f"PATH={DEFAULT_PATH}", "HOSTNAME=h"]


def test_hostname_defaults_to_short_container_id(rootfs):
    spec = build_spec(request(rootfs))
    assert spec["hostname"] == "0123456789ab"
    assert "HOSTNAME=0123456789ab" in spec["process"]["env"]


def test_domainname_is_set_when_given(rootfs):
    spec = build_spec(request(rootfs, {"Hostname": "a", "Domainname": "example.org"}))
    assert spec["domainname"] == "example.org"


def test_cwd_defaults_to_root_and_must_be_absolute(rootfs):
    assert build_spec(request(rootfs))["process"]["cwd"] == "/"
    assert build_spec(request(rootfs, {"WorkingDir": "/srv"}))["process"]["cwd"] == "/srv"
    with pytest.raises(InvalidParameter, match="needs to be an absolute path"):
        build_spec(request(rootfs, {"WorkingDir": "srv"}))


def test_user_is_resolved_from_the_rootfs_with_the_primary_group_among_the_groups(rootfs):
    assert build_spec(request(rootfs))["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 10]}
    assert build_spec(request(rootfs, {"User": "app"}))["process"]["user"] == {
        "uid": 1000, "gid": 1000, "additionalGids": [1000]}
    spec = build_spec(request(rootfs, {"User": "app"}, {"GroupAdd": ["wheel", "42"]}))
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 42]}
    with pytest.raises(InvalidParameter, match="unable to find user nosuch: no matching entries in passwd file"):
        build_spec(request(rootfs, {"User": "nosuch"}))


def test_default_capabilities_are_dockers_and_no_inheritable_or_ambient(rootfs):
    caps = build_spec(request(rootfs))["process"]["capabilities"]
    assert set(caps) == {"bounding", "effective", "permitted"}
    for kind in caps.values():
        assert kind == list(capabilities.DEFAULT_CAPS)


def test_cap_add_and_drop_change_all_three_sets(rootfs):
    caps = build_spec(request(rootfs, host_config={"CapAdd": ["NET_ADMIN"], "CapDrop": ["chown"]}))
    bounding = caps["process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in bounding and "CAP_CHOWN" not in bounding
    assert caps["process"]["capabilities"]["effective"] == bounding


def test_no_new_privileges_forms(rootfs):
    for opt in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
        assert build_spec(request(rootfs, host_config={"SecurityOpt": [opt]}))["process"]["noNewPrivileges"]
    spec = build_spec(request(rootfs, host_config={"SecurityOpt": ["no-new-privileges=false"]}))
    assert "noNewPrivileges" not in spec["process"]


def test_unknown_security_opt_is_rejected_with_dockers_message(rootfs):
    with pytest.raises(InvalidParameter, match=r'^Invalid --security-opt: "foo=bar"$'):
        build_spec(request(rootfs, host_config={"SecurityOpt": ["foo=bar"]}))
    with pytest.raises(InvalidParameter, match=r'^Invalid --security-opt: "bogus"$'):
        parse_security_opts(["bogus"])
    with pytest.raises(InvalidParameter, match="Invalid --security-opt"):
        parse_security_opts(["no-new-privileges=maybe"])
    assert parse_security_opts(["label=disable", "apparmor=unconfined"]).seccomp is None


def test_default_nofile_is_clamped_to_the_daemons_hard_limit(rootfs):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    expect = min(1048576, host.rlimit_ceilings()["nofile"])
    spec = build_spec(request(rootfs))
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": expect, "soft": expect}]
    if not host.has_capability(host.CAP_SYS_RESOURCE):
        assert expect == min(1048576, hard)


def test_explicit_ulimit_within_the_daemons_limit_is_kept(rootfs):
    spec = build_spec(request(rootfs, host_config={"Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}]}))
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}]


def test_ulimit_above_the_daemons_hard_limit_is_a_clear_error(rootfs, monkeypatch):
    monkeypatch.setattr(host, "rlimit_ceilings", lambda: {n: 20000 for n in host.RLIMITS})
    with pytest.raises(InvalidParameter) as err:
        build_spec(request(rootfs, host_config={"Ulimits": [{"Name": "nofile", "Soft": 1048576, "Hard": 1048576}]}))
    assert "above the daemon's own hard limit (20000)" in err.value.message
    assert "CAP_SYS_RESOURCE" in err.value.message


def test_ulimit_errors(rootfs):
    with pytest.raises(InvalidParameter, match="invalid ulimit type: bogus"):
        build_spec(request(rootfs, host_config={"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}))
    with pytest.raises(InvalidParameter, match="soft limit must be less than or equal to hard limit: 20 > 10"):
        build_spec(request(rootfs, host_config={"Ulimits": [{"Name": "nproc", "Soft": 20, "Hard": 10}]}))


def test_oom_score_adj_only_when_set(rootfs):
    assert "oomScoreAdj" not in build_spec(request(rootfs))["process"]
    assert build_spec(request(rootfs, host_config={"OomScoreAdj": 300}))["process"]["oomScoreAdj"] == 300
    with pytest.raises(InvalidParameter, match=r"range for oom score adj is \[-1000, 1000\]"):
        build_spec(request(rootfs, host_config={"OomScoreAdj": 1001}))


def test_no_command_is_an_error(rootfs):
    with pytest.raises(InvalidParameter, match="No command specified"):
        build_spec(request(rootfs, args=[]))


# ---------------------------------------------------------------- mounts


def test_default_mounts_match_docker(rootfs):
    spec = build_spec(request(rootfs))
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert mount_at(spec, "/dev")["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert mount_at(spec, "/dev/pts")["options"] == [
        "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
    assert "ro" in mount_at(spec, "/sys")["options"]
    assert "ro" in mount_at(spec, "/sys/fs/cgroup")["options"]
    shm = mount_at(spec, "/dev/shm")
    assert shm["type"] == "tmpfs" and "size=67108864" in shm["options"]


def test_shm_size_is_applied(rootfs):
    spec = build_spec(request(rootfs, host_config={"ShmSize": 128 << 20}))
    assert f"size={128 << 20}" in mount_at(spec, "/dev/shm")["options"]
    with pytest.raises(InvalidParameter, match="SHM size can not be less than 0"):
        build_spec(request(rootfs, host_config={"ShmSize": -1}))


def test_privileged_gets_rw_sys_and_cgroup(rootfs):
    spec = build_spec(request(rootfs, host_config={"Privileged": True}))
    assert "rw" in mount_at(spec, "/sys")["options"]
    assert "rw" in mount_at(spec, "/sys/fs/cgroup")["options"]


def test_extra_mounts_come_after_defaults_and_replace_same_destination(rootfs):
    extra = [
        {"destination": "/etc/hosts", "type": "bind", "source": "/tmp/hosts", "options": ["rbind", "ro"]},
        {"destination": "/dev/shm", "type": "bind", "source": "/tmp/shm", "options": ["rbind"]},
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind"]},
    ]
    spec = build_spec(request(rootfs, extra_mounts=extra))
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests.count("/dev/shm") == 1
    assert mount_at(spec, "/dev/shm")["source"] == "/tmp/shm"
    assert dests.index("/etc/hosts") > dests.index("/proc")
    assert dests.index("/data") < dests.index("/etc/hosts")  # parents before deeper paths


def test_init_mounts_binary_and_prepends_it(rootfs):
    spec = build_spec(request(rootfs, host_config={"Init": True}, init_binary="/usr/bin/catatonit"))
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "/bin/echo", "hi"]
    m = mount_at(spec, "/sbin/docker-init")
    assert m["source"] == "/usr/bin/catatonit" and "ro" in m["options"] and m["type"] == "bind"
    with pytest.raises(System, match="no init binary"):
        build_spec(request(rootfs, host_config={"Init": True}))


def test_readonly_rootfs(rootfs):
    assert build_spec(request(rootfs, host_config={"ReadonlyRootfs": True}))["root"]["readonly"] is True


def test_ipc_host_binds_host_shm_and_drops_ipc_namespace(rootfs):
    spec = build_spec(request(rootfs, host_config={"IpcMode": "host"}))
    assert "ipc" not in ns_types(spec)
    assert mount_at(spec, "/dev/shm")["type"] == "bind"


# ---------------------------------------------------------------- linux


def test_namespaces_follow_netns_rules(rootfs):
    spec = build_spec(request(rootfs))
    assert sorted(ns_types(spec)) == ["ipc", "mount", "network", "pid", "uts"]
    assert "path" not in next(n for n in spec["linux"]["namespaces"] if n["type"] == "network")
    spec = build_spec(request(rootfs, netns="host"))
    assert "network" not in ns_types(spec)
    spec = build_spec(request(rootfs, netns="/run/netns/x"))
    assert {"type": "network", "path": "/run/netns/x"} in spec["linux"]["namespaces"]


def test_cgroup_namespace_follows_cgroup_version(rootfs, monkeypatch):
    spec = build_spec(request(rootfs))
    expect_private = host.check_cgroups().is_v2
    assert ("cgroup" in ns_types(spec)) == expect_private
    spec = build_spec(request(rootfs, host_config={"CgroupnsMode": "private"}))
    assert "cgroup" in ns_types(spec)


def test_pid_and_uts_host_modes(rootfs):
    spec = build_spec(request(rootfs, host_config={"PidMode": "host", "UTSMode": "host"}))
    assert "pid" not in ns_types(spec) and "uts" not in ns_types(spec)
    assert "hostname" not in spec


def test_joining_another_containers_ipc_needs_its_path(rootfs):
    spec = build_spec(request(rootfs, host_config={"IpcMode": "container:abc"},
                              join_namespaces={"ipc": "/proc/42/ns/ipc"}))
    assert {"type": "ipc", "path": "/proc/42/ns/ipc"} in spec["linux"]["namespaces"]
    with pytest.raises(InvalidParameter, match="non running container: abc"):
        build_spec(request(rootfs, host_config={"IpcMode": "container:abc"}))


def test_masked_and_readonly_paths_are_dockers_and_dropped_when_privileged(rootfs):
    linux = build_spec(request(rootfs))["linux"]
    assert linux["maskedPaths"] == MASKED_PATHS
    assert linux["readonlyPaths"] == READONLY_PATHS
    assert "/proc/kcore" in MASKED_PATHS and "/proc/sys" in READONLY_PATHS
    linux = build_spec(request(rootfs, host_config={"Privileged": True}))["linux"]
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux
    linux = build_spec(request(rootfs, host_config={"SecurityOpt": ["systempaths=unconfined"]}))["linux"]
    assert "maskedPaths" not in linux


def test_device_rules_deny_all_then_allow_standard_devices(rootfs):
    rules = build_spec(request(rootfs))["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    allowed = {(r.get("type"), r.get("major"), r.get("minor")) for r in rules if r["allow"]}
    for dev in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2)]:
        assert ("c", *dev) in allowed
    assert ("c", 136, None) in allowed
    assert {"allow": True, "type": "c", "access": "m"} in rules
    assert {"allow": True, "type": "b", "access": "m"} in rules


def test_privileged_gets_all_caps_all_devices_and_no_seccomp(rootfs):
    spec = build_spec(request(rootfs, host_config={"Privileged": True}))
    assert spec["process"]["capabilities"]["bounding"] == list(capabilities.available_caps())
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    paths = {d["path"] for d in spec["linux"]["devices"]}
    assert "/dev/null" in paths
    assert "seccomp" not in spec["linux"]


def test_custom_device_is_added_and_allowed(rootfs):
    hc = {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/foo", "CgroupPermissions": "rw"}]}
    linux = build_spec(request(rootfs, host_config=hc))["linux"]
    assert linux["devices"][0]["path"] == "/dev/foo"
    assert (linux["devices"][0]["major"], linux["devices"][0]["minor"]) == (1, 3)
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"} in linux["resources"]["devices"]
    with pytest.raises(InvalidParameter, match='adding custom device "/dev/nosuchdev"'):
        build_spec(request(rootfs, host_config={"Devices": [{"PathOnHost": "/dev/nosuchdev"}]}))
    with pytest.raises(InvalidParameter, match="invalid device cgroup format"):
        build_spec(request(rootfs, host_config={"DeviceCgroupRules": ["x 1:2 rwm"]}))


def test_memory_limits_and_default_swap_of_twice_memory(rootfs):
    mem = 64 << 20
    res = build_spec(request(rootfs, host_config={"Memory": mem, "MemoryReservation": 32 << 20}))
    memory = res["linux"]["resources"]["memory"]
    assert memory["limit"] == mem and memory["reservation"] == 32 << 20
    if host.swap_limit_supported():
        assert memory["swap"] == 2 * mem
    res = build_spec(request(rootfs, host_config={"Memory": mem, "MemorySwap": -1}))
    assert res["linux"]["resources"]["memory"]["swap"] == -1
    if host.swap_limit_supported():
        res = build_spec(request(rootfs, host_config={"Memory": mem, "MemorySwap": 3 * mem}))
        assert res["linux"]["resources"]["memory"]["swap"] == 3 * mem


def test_memory_validation_messages(rootfs):
    with pytest.raises(InvalidParameter, match="^Minimum memory limit allowed is 6MB$"):
        build_spec(request(rootfs, host_config={"Memory": 5 << 20}))
    with pytest.raises(InvalidParameter, match="Minimum memoryswap limit should be larger than memory limit"):
        validate_host_config({"Memory": 64 << 20, "MemorySwap": 32 << 20})
    with pytest.raises(InvalidParameter, match="You should always set the Memory limit when using Memoryswap"):
        validate_host_config({"MemorySwap": 64 << 20})
    with pytest.raises(InvalidParameter, match="Minimum memory reservation allowed is 6MB"):
        validate_host_config({"MemoryReservation": 1 << 20})
    with pytest.raises(InvalidParameter, match="can not be less than memory reservation"):
        validate_host_config({"Memory": 10 << 20, "MemoryReservation": 20 << 20})
    assert any("OOM killer is disabled" in w for w in validate_host_config({"OomKillDisable": True}))


def test_nano_cpus_become_quota_over_100ms_period(rootfs):
    cpu = build_spec(request(rootfs, host_config={"NanoCpus": 1_500_000_000}))["linux"]["resources"]["cpu"]
    if host.cpu_count() < 2:
        pytest.skip("needs 2 CPUs")
    assert cpu == {"period": 100000, "quota": 150000}


def test_cpu_quota_period_shares_cpuset_and_pids(rootfs):
    hc = {"CpuQuota": 50000, "CpuPeriod": 200000, "CpuShares": 256, "CpusetCpus": "0", "PidsLimit": 64}
    res = build_spec(request(rootfs, host_config=hc))["linux"]["resources"]
    assert res["cpu"] == {"shares": 256, "quota": 50000, "period": 200000, "cpus": "0"}
    assert res["pids"] == {"limit": 64}
    res = build_spec(request(rootfs, host_config={"PidsLimit": -1}))["linux"]["resources"]
    assert "pids" not in res


def test_nano_cpus_beyond_host_cpus_is_rejected(rootfs, monkeypatch):
    monkeypatch.setattr(host, "cpu_count", lambda: 2)
    with pytest.raises(InvalidParameter, match=r"^Range of CPUs is from 0\.01 to 2\.00, as there are only 2 CPUs available$"):
        build_spec(request(rootfs, host_config={"NanoCpus": 3_000_000_000}))
    with pytest.raises(InvalidParameter, match="Nano CPUs and CPU Period cannot both be set"):
        validate_host_config({"NanoCpus": 1_000_000_000, "CpuPeriod": 100000})


def test_cpuset_validation(rootfs):
    with pytest.raises(InvalidParameter, match="Invalid value x-y for cpuset cpus"):
        validate_host_config({"CpusetCpus": "x-y"})
    with pytest.raises(InvalidParameter, match="Requested CPUs are not available - requested 0-4095"):
        validate_host_config({"CpusetCpus": "0-4095"})


def test_sysctls_are_passed_and_checked(rootfs):
    spec = build_spec(request(rootfs, host_config={"Sysctls": {"net.ipv4.ip_forward": "1"}}))
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    with pytest.raises(InvalidParameter, match="not allowed in host network namespace"):
        build_spec(request(rootfs, netns="host", host_config={"Sysctls": {"net.ipv4.ip_forward": "1"}}))
    with pytest.raises(InvalidParameter, match="sysctl 'vm.swappiness' is not allowed"):
        build_spec(request(rootfs, host_config={"Sysctls": {"vm.swappiness": "1"}}))


def test_cgroups_path_is_passed_through(rootfs):
    assert build_spec(request(rootfs))["linux"]["cgroupsPath"] == "/berth/0123456789abcdef0123"


def test_seccomp_default_unconfined_and_custom_file(rootfs, tmp_path):
    linux = build_spec(request(rootfs))["linux"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    linux = build_spec(request(rootfs, host_config={"SecurityOpt": ["seccomp=unconfined"]}))["linux"]
    assert "seccomp" not in linux
    custom = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(custom))
    linux = build_spec(request(rootfs, host_config={"SecurityOpt": [f"seccomp={path}"]}))["linux"]
    assert linux["seccomp"] == {"defaultAction": "SCMP_ACT_ALLOW",
                                "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}
    # docker's CLI sends the file's JSON text instead of the path
    linux = build_spec(request(rootfs, host_config={"SecurityOpt": ["seccomp=" + json.dumps(custom)]}))["linux"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    # the engine may hand a loaded profile
    linux = build_spec(request(rootfs, seccomp_profile=custom))["linux"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    with pytest.raises(InvalidParameter, match="opening seccomp profile"):
        build_spec(request(rootfs, host_config={"SecurityOpt": ["seccomp=/nonexistent/p.json"]}))


def test_bad_capability_names_fail_spec_building(rootfs):
    with pytest.raises(InvalidParameter, match=r'^invalid CapAdd: unknown capability: "CAP_FOO"$'):
        build_spec(request(rootfs, host_config={"CapAdd": ["foo"]}))
    # validated at create time too, even for privileged containers (as dockerd does)
    with pytest.raises(InvalidParameter, match=r'^invalid CapDrop: unknown capability: "CAP_NOPE"$'):
        validate_host_config({"Privileged": True, "CapDrop": ["nope"]})


def test_blkio_weight_is_range_checked_and_dropped_with_a_warning_when_unsupported(rootfs):
    with pytest.raises(InvalidParameter, match="Range of blkio weight is from 10 to 1000"):
        validate_host_config({"BlkioWeight": 5})
    warnings = validate_host_config({"BlkioWeight": 500})
    res = build_spec(request(rootfs, host_config={"BlkioWeight": 500}))["linux"]["resources"]
    if host.blkio_weight_supported():
        assert res["blockIO"] == {"weight": 500} and not warnings
    else:
        assert "blockIO" not in res and "Weight discarded" in warnings[0]


def test_spec_is_json_serialisable(rootfs):
    json.dumps(build_spec(request(rootfs, host_config={"Privileged": True})))
    assert os.path.isabs(build_spec(request(rootfs))["root"]["path"])


def test_schema_fixture_really_rejects_a_broken_spec(validator, rootfs):
    spec = build_spec(request(rootfs))
    spec["process"]["rlimits"][0]["type"] = 7
    spec["linux"]["namespaces"].append({"type": "bogus"})
    assert len(list(validator.iter_errors(spec))) >= 2


def test_link_env_sits_before_container_env_which_overrides_it(rootfs):
    spec = build_spec(request(rootfs, {"Env": ["DB_PORT=1"]}, link_env=["DB_PORT=5432", "DB_NAME=/web/db"]))
    env = spec["process"]["env"]
    assert env[2:] == ["DB_PORT=1", "DB_NAME=/web/db"]


def test_shareable_ipc_uses_the_given_shm_directory(rootfs):
    spec = build_spec(request(rootfs, shm_path="/var/lib/berth/containers/x/shm"))
    shm = mount_at(spec, "/dev/shm")
    assert shm["type"] == "bind" and shm["source"] == "/var/lib/berth/containers/x/shm"
    spec = build_spec(request(rootfs, host_config={"IpcMode": "none"}))
    assert "/dev/shm" not in [m["destination"] for m in spec["mounts"]]
