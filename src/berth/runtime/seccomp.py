"""Docker-format seccomp profiles -> the OCI `linux.seccomp` object for this machine.

Docker's profile is conditional (rules included or excluded by capability,
architecture and kernel version) while the OCI object is flat, so the profile
has to be evaluated per container: e.g. `--cap-add SYS_ADMIN` must also allow
mount/unshare/clone with namespace flags, or the capability would be useless.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from berth.errors import InvalidParameter
from berth.runtime.host import kernel_version

DEFAULT_PROFILE_PATH = Path(__file__).with_name("seccomp_default.json")

# platform.machine() -> the "native" arch names docker's profile uses in includes/excludes.
_MACHINE_TO_NATIVE = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "x86",
    "i486": "x86",
    "i586": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "arm64": "arm64",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "ppc": "ppc",
    "s390x": "s390x",
    "s390": "s390",
    "riscv64": "riscv64",
    "mips": "mips",
    "mipsel": "mipsle",
    "mips64": "mips64",
    "mips64el": "mipsel64",
    "loongarch64": "loong64",
}

# native arch name -> libseccomp architecture constant used as archMap key.
_NATIVE_TO_SCMP = {
    "x86": "SCMP_ARCH_X86",
    "amd64": "SCMP_ARCH_X86_64",
    "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64",
    "mips": "SCMP_ARCH_MIPS",
    "mipsle": "SCMP_ARCH_MIPSEL",
    "mips64": "SCMP_ARCH_MIPS64",
    "mips64n32": "SCMP_ARCH_MIPS64N32",
    "mipsel64": "SCMP_ARCH_MIPSEL64",
    "mipsel64n32": "SCMP_ARCH_MIPSEL64N32",
    "ppc": "SCMP_ARCH_PPC",
    "ppc64": "SCMP_ARCH_PPC64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64",
    "s390": "SCMP_ARCH_S390",
    "s390x": "SCMP_ARCH_S390X",
    "loong64": "SCMP_ARCH_LOONGARCH64",
}


def native_arch(machine: str | None = None) -> str:
    machine = machine or platform.machine()
    if machine in _MACHINE_TO_NATIVE:
        return _MACHINE_TO_NATIVE[machine]
    if machine.startswith("arm"):
        return "arm"
    return machine


def load_default_profile() -> dict:
    with open(DEFAULT_PROFILE_PATH) as f:
        return json.load(f)


def load_profile_option(value: str) -> dict | None:
    """The profile named by `--security-opt seccomp=VALUE`; None means unconfined.

    docker's CLI reads the file and sends its JSON text, while other clients may
    send a path, so both are accepted.
    """
    v = value.strip()
    if v == "unconfined":
        return None
    if v in ("", "builtin", "default"):
        return load_default_profile()
    if v.startswith("{"):
        try:
            return json.loads(v)
        except ValueError as e:
            raise InvalidParameter(f"Decoding seccomp profile failed: {e}") from e
    try:
        with open(v) as f:
            text = f.read()
    except OSError as e:
        raise InvalidParameter(f"opening seccomp profile ({v}) failed: {e.strerror}") from e
    try:
        return json.loads(text)
    except ValueError as e:
        raise InvalidParameter(f"Decoding seccomp profile failed: {e}") from e


def _parse_kernel(text: str) -> tuple[int, int]:
    parts = str(text).strip().split(".")
    try:
        if len(parts) < 2 or len(parts) > 3:
            raise ValueError
        return int(parts[0]), int(parts[1])
    except ValueError:
        raise InvalidParameter(f"invalid kernel version: {text}") from None


def _as_list(value: Any) -> list:
    return list(value) if value else []


def to_oci(
    profile: dict,
    caps: list[str],
    *,
    machine: str | None = None,
    kernel_release: str | None = None,
) -> dict:
    """Evaluate `profile` for a container holding `caps` on this (or the given) host."""
    if not isinstance(profile, dict):
        raise InvalidParameter("Decoding seccomp profile failed: profile is not a JSON object")
    arch = native_arch(machine)
    kernel = kernel_version(kernel_release)
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidParameter("both 'architectures' and 'archMap' are specified in the seccomp "
                               "profile, use either 'architectures' or 'archMap'")
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction") or "SCMP_ACT_ERRNO"}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = int(profile["defaultErrnoRet"])

    arches = list(_as_list(profile.get("architectures")))
    scmp = _NATIVE_TO_SCMP.get(arch)
    for entry in _as_list(profile.get("archMap")):
        if scmp is not None and entry.get("architecture") == scmp:
            arches.append(entry["architecture"])
            arches.extend(_as_list(entry.get("subArchitectures")))
            break
    if arches:
        out["architectures"] = arches
    for key in ("flags", "listenerPath", "listenerMetadata"):
        if profile.get(key):
            out[key] = profile[key]

    capset = set(caps)
    syscalls = []
    for rule in _as_list(profile.get("syscalls")):
        names = _as_list(rule.get("names"))
        if rule.get("name"):
            if names:
                raise InvalidParameter("use either 'name' or 'names'")
            names = [rule["name"]]
        if not names:
            continue
        if not _applies(rule, arch, capset, kernel):
            continue
        call: dict[str, Any] = {"names": names, "action": rule.get("action") or out["defaultAction"]}
        if rule.get("errnoRet") is not None:
            call["errnoRet"] = int(rule["errnoRet"])
        args = []
        for a in _as_list(rule.get("args")):
            arg = {"index": int(a["index"]), "value": int(a.get("value", 0)), "op": a["op"]}
            if a.get("valueTwo"):
                arg["valueTwo"] = int(a["valueTwo"])
            args.append(arg)
        if args:
            call["args"] = args
        syscalls.append(call)
    out["syscalls"] = syscalls
    return out


def _applies(rule: dict, arch: str, caps: set[str], kernel: tuple[int, int]) -> bool:
    """docker's filter: any exclude match drops the rule; every include must match."""
    exc = rule.get("excludes") or {}
    inc = rule.get("includes") or {}
    if arch in _as_list(exc.get("arches")):
        return False
    if any(c in caps for c in _as_list(exc.get("caps"))):
        return False
    if exc.get("minKernel") and kernel >= _parse_kernel(exc["minKernel"]):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if any(c not in caps for c in _as_list(inc.get("caps"))):
        return False
    return not (inc.get("minKernel") and kernel < _parse_kernel(inc["minKernel"]))


def resolve(option: str | None, profile: dict | None, privileged: bool, caps: list[str]) -> dict | None:
    """The OCI seccomp object for a container, or None when it runs unconfined.

    `option` is the value of `--security-opt seccomp=...` (it wins when given);
    `profile` is what the engine already loaded, None meaning the built-in default.
    Privileged containers are never filtered, as in docker.
    """
    if privileged:
        return None
    chosen = profile
    if option is not None:
        chosen = load_profile_option(option)
        if chosen is None:
            return None
    return to_oci(chosen if chosen is not None else load_default_profile(), caps)


__all__ = ["DEFAULT_PROFILE_PATH", "load_default_profile", "load_profile_option", "native_arch",
           "resolve", "to_oci"]
