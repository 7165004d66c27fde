"""Volumes across daemon restarts: references come from the container rows, and a
copy-up cut short by kill -9 is redone, never half kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.compat]


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_volume_used_by_a_stopped_container_stays_in_use_after_a_daemon_kill(fresh_sandbox):
    sb = fresh_sandbox
    ok(sb.docker("run", "--name", "holder", "-v", "kept:/d", "-v", "/anon", "busybox", "sh", "-c", "echo data > /d/f"))
    cid = json.loads(ok(sb.docker("inspect", "holder")))[0]["Id"]
    sb.kill_daemon(signal.SIGKILL)
    sb.start_daemon()
    r = sb.docker("volume", "rm", "kept")
    assert r.returncode == 1
    assert r.stderr == f"Error response from daemon: remove kept: volume is in use - [{cid}]\n"
    assert "kept" not in ok(sb.docker("volume", "prune", "-af"))
    assert ok(sb.docker("volume", "ls", "-q", "-f", "dangling=false")).split().count("kept") == 1
    assert ok(sb.docker("run", "--rm", "-v", "kept:/d", "busybox", "cat", "/d/f")) == "data\n"
    ok(sb.docker("rm", "-v", "holder"))
    assert ok(sb.docker("volume", "ls", "-q")) == "kept\n"  # the anonymous one went with rm -v
    ok(sb.docker("volume", "rm", "kept"))


def test_a_copy_up_killed_midway_is_redone_at_the_next_start(fresh_sandbox, monkeypatch):
    sb = fresh_sandbox
    ok(sb.docker("run", "--name", "mk", "busybox", "sh", "-c",
                 "mkdir /data && for i in $(seq 1 40); do echo file-$i > /data/f$i; done"))
    ok(sb.docker("commit", "-c", "VOLUME /data", "mk", "fortyfiles"))
    # A daemon that copies slowly (test hook: 50 ms per file), killed in the middle of the copy.
    sb.kill_daemon(signal.SIGTERM)
    monkeypatch.setenv("BERTH_TEST_COPYUP_DELAY", "0.05")
    sb.start_daemon()
    monkeypatch.delenv("BERTH_TEST_COPYUP_DELAY")
    ok(sb.docker("create", "--name", "cu", "-v", "slow:/data", "fortyfiles", "sh", "-c", "ls /data | wc -l; cat /data/f40"))
    starting = subprocess.Popen(["/usr/local/bin/docker", "start", "cu"], env=sb.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vol_dir = os.path.join(sb.data_root, "volumes", "slow")
    tmp = os.path.join(vol_dir, "_copyup.tmp")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.path.isdir(tmp) and len(os.listdir(tmp)) >= 5:
            break
        time.sleep(0.02)
    assert 5 <= len(os.listdir(tmp)) < 40
    sb.kill_daemon(signal.SIGKILL)
    starting.wait(timeout=20)
    assert os.listdir(os.path.join(vol_dir, "_data")) == []  # nothing half kept in the volume
    sb.start_daemon()
    assert sorted(os.listdir(vol_dir)) == ["_data"]  # the half copy is gone
    ok(sb.docker("start", "cu"))
    assert ok(sb.docker("wait", "cu")) == "0\n"
    assert ok(sb.docker("logs", "cu")) == "40\nfile-40\n"
    assert len(os.listdir(os.path.join(vol_dir, "_data"))) == 40
