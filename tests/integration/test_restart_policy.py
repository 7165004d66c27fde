"""Restart policies: containers that come back by themselves, and explicit stops that stick."""

from __future__ import annotations

import json
import signal
import time

import pytest

pytestmark = pytest.mark.integration


def _state(sb, name: str) -> dict:
    doc = json.loads(sb.docker("inspect", name).stdout)[0]
    return {"RestartCount": doc["RestartCount"], **doc["State"]}


def _wait_for(cond, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_on_failure_2_stops_after_two_restarts(sandbox):
    sandbox.docker("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 5")
    try:
        _wait_for(lambda: _state(sandbox, "flaky")["RestartCount"] == 2 and not _state(sandbox, "flaky")["Running"]
                  and _state(sandbox, "flaky")["Status"] == "exited")
        time.sleep(1)
        st = _state(sandbox, "flaky")
        assert st["RestartCount"] == 2 and st["ExitCode"] == 5 and st["Status"] == "exited"
    finally:
        sandbox.docker("rm", "-f", "flaky")


def test_on_failure_does_not_restart_a_clean_exit(sandbox):
    sandbox.docker("run", "-d", "--name", "clean", "--restart", "on-failure", "busybox", "true")
    try:
        sandbox.docker("wait", "clean")
        time.sleep(0.5)
        assert _state(sandbox, "clean")["RestartCount"] == 0
    finally:
        sandbox.docker("rm", "-f", "clean")


def test_always_restarts_until_an_explicit_stop(sandbox):
    sandbox.docker("run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2")
    try:
        _wait_for(lambda: _state(sandbox, "phoenix")["RestartCount"] >= 2)
        assert sandbox.docker("stop", "-t", "1", "phoenix").returncode == 0
        count = _state(sandbox, "phoenix")["RestartCount"]
        time.sleep(1.5)
        st = _state(sandbox, "phoenix")
        assert st["Running"] is False and st["Restarting"] is False and st["RestartCount"] == count
    finally:
        sandbox.docker("rm", "-f", "phoenix")


def test_daemon_start_restarts_always_and_unless_stopped_but_not_a_stopped_one(fresh_sandbox):
    sb = fresh_sandbox
    sb.docker("run", "-d", "--name", "a", "--restart", "always", "busybox", "sleep", "600")
    sb.docker("run", "-d", "--name", "u", "--restart", "unless-stopped", "busybox", "sleep", "600")
    sb.docker("run", "-d", "--name", "us", "--restart", "unless-stopped", "busybox", "sleep", "600")
    assert sb.docker("stop", "-t", "0", "us").returncode == 0
    pids = [str(_state(sb, name)["Pid"]) for name in ("a", "u")]
    # The host goes down: every monitor and container dies with the daemon.
    sb.kill_daemon(signal.SIGKILL)
    monitors = sb.nsenter(["sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline | "
                                       "grep -q 'monitor.py --zygote' && echo ${p#/proc/}; done"]).stdout.split()
    assert monitors
    sb.nsenter(["kill", "-9", *monitors, *pids])  # one of the listed is the listing shell, gone by now
    time.sleep(0.5)
    assert all(sb.nsenter(["kill", "-0", pid]).returncode != 0 for pid in pids)
    sb.start_daemon()
    assert _state(sb, "a")["Running"] is True, sb.log_text()
    assert _state(sb, "u")["Running"] is True
    assert _state(sb, "us")["Running"] is False
