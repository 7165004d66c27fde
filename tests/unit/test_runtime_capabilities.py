"""Capability arithmetic with docker's --cap-add/--cap-drop/--privileged semantics."""

from __future__ import annotations

import pytest

from berth.errors import InvalidParameter
from berth.runtime import capabilities
from berth.runtime.capabilities import DEFAULT_CAPS, KNOWN_CAPS, caps_mask, effective_caps

# A host like this machine: kernel knows 0..40, the daemon lacks CAP_SYS_RESOURCE.
HOST = tuple(c for c in KNOWN_CAPS if c != "CAP_SYS_RESOURCE")


def caps(add=None, drop=None, privileged=False):
    return effective_caps(add, drop, privileged, available=HOST)


def test_default_set_is_dockers_fourteen():
    assert caps() == list(DEFAULT_CAPS)
    assert len(DEFAULT_CAPS) == 14
    assert caps_mask(list(DEFAULT_CAPS)) == 0xA80425FB  # CapBnd of a default docker container


def test_known_caps_are_numbered_like_the_kernel():
    assert capabilities.cap_number("CAP_CHOWN") == 0
    assert capabilities.cap_number("CAP_SYS_ADMIN") == 21
    assert capabilities.cap_number("CAP_CHECKPOINT_RESTORE") == 40


def test_add_and_drop_accept_any_case_with_or_without_prefix():
    result = caps(add=["net_admin", "CAP_sys_ptrace"], drop=["Chown", "cap_kill"])
    assert "CAP_NET_ADMIN" in result and "CAP_SYS_PTRACE" in result
    assert "CAP_CHOWN" not in result and "CAP_KILL" not in result
    assert result[: len(DEFAULT_CAPS) - 2] == [c for c in DEFAULT_CAPS if c not in ("CAP_CHOWN", "CAP_KILL")]


def test_adding_a_default_capability_does_not_duplicate_it():
    assert caps(add=["CHOWN"]) == list(DEFAULT_CAPS)


def test_add_all_gives_everything_available_minus_drops():
    result = caps(add=["ALL"], drop=["NET_RAW"])
    assert "CAP_NET_RAW" not in result
    assert set(result) == set(HOST) - {"CAP_NET_RAW"}


def test_drop_all_keeps_only_the_added():
    assert caps(add=["NET_BIND_SERVICE"], drop=["all"]) == ["CAP_NET_BIND_SERVICE"]
    assert caps(drop=["ALL"]) == []


def test_privileged_gets_every_available_capability_ignoring_add_drop():
    assert caps(add=["NET_ADMIN"], drop=["ALL"], privileged=True) == list(HOST)


def test_unknown_capability_is_rejected_with_dockers_wording():
    with pytest.raises(InvalidParameter) as err:
        caps(add=["CAP_FOO"])
    assert err.value.message == 'invalid CapAdd: unknown capability: "CAP_FOO"'
    with pytest.raises(InvalidParameter, match='^invalid CapDrop: unknown capability: "CAP_BAR"$'):
        caps(drop=["bar"])


def test_adding_a_capability_the_daemon_lacks_is_rejected_but_dropping_it_is_fine():
    with pytest.raises(InvalidParameter) as err:
        caps(add=["SYS_RESOURCE"])
    assert err.value.message == (
        'invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"')
    assert caps(drop=["SYS_RESOURCE"]) == list(DEFAULT_CAPS)


def test_available_caps_respect_cap_last_cap_and_the_bounding_set(monkeypatch):
    monkeypatch.setattr(capabilities, "_read_cap_last_cap", lambda: 37)
    monkeypatch.setattr(capabilities, "_read_bounding_set", lambda: (1 << 38) - 1 - (1 << 24))
    capabilities.available_caps.cache_clear()
    try:
        avail = capabilities.available_caps()
        assert avail[-1] == "CAP_AUDIT_READ"
        assert "CAP_SYS_RESOURCE" not in avail and "CAP_PERFMON" not in avail
    finally:
        capabilities.available_caps.cache_clear()


def test_available_caps_on_this_host_match_proc():
    avail = capabilities.available_caps()
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    assert caps_mask(list(avail)) == bnd
