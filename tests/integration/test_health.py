"""Healthchecks: probes, State.Health, ps status and health_status events."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.integration


def _health(sb, name: str) -> dict:
    return json.loads(sb.docker("inspect", name).stdout)[0]["State"].get("Health") or {}


def _wait_for(cond, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_passing_probe_makes_the_container_healthy(sandbox):
    since = str(int(time.time()) - 1)
    sandbox.docker("run", "-d", "--name", "hok", "--health-cmd", "echo probing; test -e /tmp/ready",
                   "--health-interval", "300ms", "--health-retries", "2", "busybox",
                   "sh", "-c", "touch /tmp/ready; sleep 600")
    try:
        _wait_for(lambda: _health(sandbox, "hok").get("Status") == "healthy")
        health = _health(sandbox, "hok")
        assert health["FailingStreak"] == 0
        assert health["Log"][-1]["ExitCode"] == 0 and health["Log"][-1]["Output"] == "probing\n"
        ps = sandbox.docker("ps", "--filter", "name=hok", "--format", "{{.Status}}").stdout
        assert ps.strip().endswith("(healthy)")
        events = sandbox.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                                "--filter", "container=hok", "--format", "{{.Action}}").stdout
        assert "health_status: healthy" in events.splitlines()
    finally:
        sandbox.docker("rm", "-f", "hok")


def test_failing_probe_turns_unhealthy_after_retries_and_keeps_five_logs(sandbox):
    sandbox.docker("run", "-d", "--name", "hbad", "--health-cmd", "exit 1", "--health-interval", "200ms",
                   "--health-retries", "3", "busybox", "sleep", "600")
    try:
        _wait_for(lambda: _health(sandbox, "hbad").get("Status") == "unhealthy")
        assert _health(sandbox, "hbad")["FailingStreak"] >= 3
        _wait_for(lambda: len(_health(sandbox, "hbad")["Log"]) == 5 and _health(sandbox, "hbad")["FailingStreak"] >= 6)
        assert len(_health(sandbox, "hbad")["Log"]) == 5
    finally:
        sandbox.docker("rm", "-f", "hbad")


def test_probe_timeout_is_reported(sandbox):
    sandbox.docker("run", "-d", "--name", "hslow", "--health-cmd", "sleep 5", "--health-interval", "200ms",
                   "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "600")
    try:
        _wait_for(lambda: _health(sandbox, "hslow").get("Status") == "unhealthy")
        entry = _health(sandbox, "hslow")["Log"][-1]
        assert entry["ExitCode"] == -1 and "Health check exceeded timeout" in entry["Output"]
    finally:
        sandbox.docker("rm", "-f", "hslow")


def test_no_healthcheck_disables_the_images_check(sandbox, busybox_tar):
    assert sandbox.docker("import", "-c", 'HEALTHCHECK --interval=1s CMD exit 1', "-c", 'CMD ["sleep", "600"]',
                          busybox_tar, "withhealth:1").returncode == 0
    sandbox.docker("run", "-d", "--name", "hnone", "--no-healthcheck", "withhealth:1")
    sandbox.docker("run", "-d", "--name", "himg", "withhealth:1")
    try:
        assert _health(sandbox, "hnone") == {}
        assert _health(sandbox, "himg")["Status"] == "starting"
    finally:
        sandbox.docker("rm", "-f", "hnone", "himg")


def test_health_on_failure_kill_stops_an_unhealthy_container(sandbox):
    """Beyond docker (podman's option): act when a container turns unhealthy."""
    r = sandbox.berth("run", "-d", "--name", "hkill", "--health-cmd", "exit 1", "--health-interval", "200ms",
                      "--health-retries", "2", "--health-on-failure", "kill", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    try:
        _wait_for(lambda: not json.loads(sandbox.docker("inspect", "hkill").stdout)[0]["State"]["Running"])
        state = json.loads(sandbox.docker("inspect", "hkill").stdout)[0]["State"]
        assert state["ExitCode"] == 137 and state["Health"]["Status"] == "unhealthy"
    finally:
        sandbox.docker("rm", "-f", "hkill")


def test_health_on_failure_refuses_an_unknown_action(sandbox):
    r = sandbox.berth("run", "-d", "--health-on-failure", "explode", "busybox", "true")
    assert r.returncode == 125
    assert "--health-on-failure" in r.stderr
