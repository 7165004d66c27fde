"""A daemon killed with SIGKILL loses nothing: containers keep running, a new
daemon re-attaches to them and records what happened while it was down."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

pytestmark = pytest.mark.integration


def _inspect(sb, name: str) -> dict:
    r = sb.docker("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def test_containers_survive_kill_9_of_the_daemon_and_are_reattached(fresh_sandbox):
    sb = fresh_sandbox
    assert sb.docker("run", "-d", "--name", "stays", "busybox", "sh", "-c",
                     "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done").returncode == 0
    assert sb.docker("run", "-d", "--name", "ends", "busybox", "sh", "-c", "sleep 1; exit 7").returncode == 0
    pid_before = _inspect(sb, "stays")["State"]["Pid"]

    sb.kill_daemon(signal.SIGKILL)
    time.sleep(2)  # "ends" exits while no daemon is there
    sb.start_daemon()

    stays = _inspect(sb, "stays")
    assert stays["State"]["Running"] is True and stays["State"]["Pid"] == pid_before
    ends = _inspect(sb, "ends")
    assert ends["State"]["Status"] == "exited" and ends["State"]["ExitCode"] == 7

    ps = sb.docker("ps", "--format", "{{.Names}}").stdout.split()
    assert ps == ["stays"]
    logs = sb.docker("logs", "--tail", "2", "stays").stdout
    assert "tick" in logs
    assert sb.docker("stop", "-t", "1", "stays").returncode == 0
    assert sb.docker("wait", "stays").stdout.strip() == "137"
    assert _inspect(sb, "stays")["State"]["Running"] is False


def test_wait_and_logs_follow_survive_a_daemon_restart(fresh_sandbox):
    sb = fresh_sandbox
    assert sb.docker("run", "-d", "--name", "later", "busybox", "sh", "-c", "sleep 2; echo done; exit 3").returncode == 0
    sb.kill_daemon(signal.SIGKILL)
    sb.start_daemon()
    r = sb.docker("wait", "later", timeout=30)
    assert r.stdout.strip() == "3"
    r = sb.docker("logs", "-f", "later", timeout=30)
    assert r.stdout == "done\n"


def test_daemon_killed_during_create_leaves_no_half_container(fresh_sandbox):
    """Directories of a create that never reached its commit point are removed at start."""
    sb = fresh_sandbox
    cid = "f" * 64
    half = os.path.join(sb.data_root, "overlay", "containers", cid)
    os.makedirs(os.path.join(half, "upper"))
    os.makedirs(os.path.join(sb.data_root, "containers", cid))
    sb.kill_daemon(signal.SIGKILL)
    sb.start_daemon()
    assert not os.path.exists(half)
    assert not os.path.exists(os.path.join(sb.data_root, "containers", cid))
    assert sb.docker("ps", "-aq").stdout == ""


def test_daemon_killed_during_remove_finishes_the_removal(fresh_sandbox):
    import sqlite3

    sb = fresh_sandbox
    cid = sb.docker("create", "--name", "doomed", "busybox", "true").stdout.strip()
    sb.kill_daemon(signal.SIGKILL)
    # The state a removal leaves when the daemon dies right after marking it.
    db = sqlite3.connect(os.path.join(sb.data_root, "berth.db"))
    db.execute("UPDATE containers SET removing=1 WHERE id=?", (cid,))
    db.commit()
    db.close()
    sb.start_daemon()
    assert sb.docker("ps", "-aq").stdout == ""
    assert not os.path.exists(os.path.join(sb.data_root, "overlay", "containers", cid))


def test_no_mounts_leak_after_a_crash_with_stopped_containers(fresh_sandbox):
    sb = fresh_sandbox
    cid = sb.docker("run", "-d", "busybox", "sleep", "600").stdout.strip()
    sb.kill_daemon(signal.SIGKILL)
    sb.start_daemon()
    assert sb.docker("rm", "-f", cid).returncode == 0
    mounts = sb.nsenter(["cat", "/proc/self/mountinfo"]).stdout
    assert cid not in mounts
