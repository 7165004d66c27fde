"""docker seccomp profile -> OCI linux.seccomp: arches, caps and kernel filters."""

from __future__ import annotations

import json

from specs import SPECS_DIR

import pytest

from berth.errors import InvalidParameter
from berth.runtime import seccomp
from berth.runtime.capabilities import DEFAULT_CAPS

SHARED_PROFILE = SPECS_DIR / "seccomp" / "default.json"


def allowed(oci: dict) -> set[str]:
    return {n for rule in oci["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]}


def unconditional(oci: dict, name: str) -> bool:
    return any(name in r["names"] and r["action"] == "SCMP_ACT_ALLOW" and "args" not in r for r in oci["syscalls"])


def convert(caps=DEFAULT_CAPS, machine="x86_64", kernel="6.1.0", profile=None):
    return seccomp.to_oci(profile or seccomp.load_default_profile(), list(caps),
                          machine=machine, kernel_release=kernel)


def test_shipped_default_profile_is_the_shared_one():
    if not SHARED_PROFILE.exists():
        pytest.skip("shared specs not available")
    assert seccomp.load_default_profile() == json.loads(SHARED_PROFILE.read_text())


def test_default_action_and_errno_are_kept():
    oci = convert()
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO"
    assert oci["defaultErrnoRet"] == 1


def test_architectures_come_from_the_archmap_entry_of_the_host():
    assert convert(machine="x86_64")["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert convert(machine="aarch64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert convert(machine="riscv64")["architectures"] == ["SCMP_ARCH_RISCV64"]
    assert "architectures" not in convert(machine="sparc64")


def test_arch_specific_rules_follow_the_host_arch():
    amd64 = allowed(convert(machine="x86_64"))
    arm64 = allowed(convert(machine="aarch64"))
    assert "arch_prctl" in amd64 and "modify_ldt" in amd64
    assert "arch_prctl" not in arm64 and "arm_fadvise64_64" in arm64
    assert "arm_fadvise64_64" not in amd64


def test_default_caps_do_not_allow_namespace_or_mount_syscalls():
    oci = convert()
    for name in ("mount", "umount2", "unshare", "setns", "bpf", "reboot", "init_module"):
        assert name not in allowed(oci), name
    assert not unconditional(oci, "clone")
    clone = [r for r in oci["syscalls"] if "clone" in r["names"]]
    assert clone and all(r.get("args") for r in clone)  # only without namespace flags
    clone3 = [r for r in oci["syscalls"] if "clone3" in r["names"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    assert "chroot" in allowed(oci)  # CAP_SYS_CHROOT is a default capability


def test_sys_admin_adds_mount_unshare_and_unfiltered_clone():
    oci = convert(caps=[*DEFAULT_CAPS, "CAP_SYS_ADMIN"])
    for name in ("mount", "umount2", "unshare", "setns", "clone", "clone3"):
        assert unconditional(oci, name), name
    assert not any(r.get("errnoRet") == 38 for r in oci["syscalls"])  # the ENOSYS clone3 rule is excluded


def test_dropping_sys_chroot_removes_chroot():
    caps = [c for c in DEFAULT_CAPS if c != "CAP_SYS_CHROOT"]
    assert "chroot" not in allowed(convert(caps=caps))


def test_min_kernel_includes_and_excludes():
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["newer"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}},
            {"names": ["older"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
        ],
    }
    assert allowed(convert(profile=profile, kernel="6.18.44-fc-v657")) == {"newer"}
    assert allowed(convert(profile=profile, kernel="5.10.0")) == {"newer"}
    assert allowed(convert(profile=profile, kernel="5.4.0-100-generic")) == {"older"}
    assert "ptrace" in allowed(convert(kernel="4.19.0"))
    assert "ptrace" not in allowed(convert(kernel="4.4.0"))
    with pytest.raises(InvalidParameter, match="invalid kernel version: banana"):
        convert(profile={"syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW",
                                       "includes": {"minKernel": "banana"}}]})


def test_args_and_errno_are_carried_over():
    oci = convert()
    personality = [r for r in oci["syscalls"] if r["names"] == ["personality"]]
    assert {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"} in [a for r in personality for a in r["args"]]


def test_single_name_and_architectures_forms():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"name": "chmod", "action": "SCMP_ACT_ERRNO"}]}
    oci = convert(profile=profile)
    assert oci["architectures"] == ["SCMP_ARCH_X86_64"]
    assert oci["syscalls"] == [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]
    with pytest.raises(InvalidParameter, match="both 'architectures' and 'archMap'"):
        convert(profile={**profile, "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})


def test_resolve_handles_privileged_unconfined_and_options(tmp_path):
    assert seccomp.resolve(None, None, True, list(DEFAULT_CAPS)) is None
    assert seccomp.resolve("unconfined", None, False, list(DEFAULT_CAPS)) is None
    assert seccomp.resolve(None, None, False, list(DEFAULT_CAPS))["defaultAction"] == "SCMP_ACT_ERRNO"
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        seccomp.resolve("{not json", None, False, [])


def test_host_arch_conversion_has_native_arch_first():
    oci = seccomp.to_oci(seccomp.load_default_profile(), list(DEFAULT_CAPS))
    native = seccomp.native_arch()
    if native == "amd64":
        assert oci["architectures"][0] == "SCMP_ARCH_X86_64"
