"""The README's main job (scripts/demo.sh) end to end, in private namespaces: berthd starts,
busybox is bootstrapped offline, the example app is built and answers on a published port."""

from __future__ import annotations

import os
import subprocess

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_demo_builds_and_runs_the_example_app():
    os.makedirs("/var/lib/berth", exist_ok=True)  # berthd's default data root: a tmpfs hides it below
    script = (
        "set -e; ip link set lo up; "
        "mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /var/lib/berth; mount -t tmpfs tmpfs /var/log; "
        f"cd {ROOT}; BERTH_DEMO_SKIP_SETUP=1 ./scripts/demo.sh; "
        "kill $(cat /run/berth/berthd.pid) 2>/dev/null || true"
    )
    res = subprocess.run(
        ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--propagation", "private",
         "--kill-child", "sh", "-c", script],
        capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Hello from a container built and run by Berth." in res.stdout
    assert "demo: the app answered on http://127.0.0.1:8080/" in res.stdout
