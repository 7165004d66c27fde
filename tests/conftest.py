"""Shared fixtures: a busybox rootfs tar made once, and sandboxed daemons."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Sandbox, make_busybox_tar  # noqa: E402


def _can_sandbox() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("crun", "unshare", "nsenter", "catatonit"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/bin/{tool}"):
            return f"{tool} is not installed"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _can_sandbox()
    if reason is None:
        return
    for item in items:
        if "integration" in item.keywords or "compat" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> str:
    """Made once per run with the bootstrap code (BERTH_TEST_BUSYBOX_TAR names a ready one)."""
    return make_busybox_tar(str(tmp_path_factory.mktemp("bootstrap")))


@pytest.fixture(scope="module")
def sandbox(busybox_tar):
    """One daemon per test module, with busybox:latest imported."""
    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(busybox_tar)
        yield sb
    finally:
        sb.close()


@pytest.fixture
def fresh_sandbox(busybox_tar):
    """A daemon of the test's own, for tests that kill or restart it."""
    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(busybox_tar)
        yield sb
    finally:
        sb.close()


@pytest.fixture(scope="module")
def small_disk(busybox_tar):
    """A daemon whose data root is a 160 MiB tmpfs (mounted in the sandbox's own mount
    namespace), with busybox imported: for the disk-full tests."""
    sb = Sandbox()
    try:
        os.makedirs(sb.data_root, exist_ok=True)
        sb.nsenter(["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", sb.data_root], check=True)
        sb.start_daemon()
        sb.import_busybox(busybox_tar)
        yield sb
    finally:
        sb.close()
