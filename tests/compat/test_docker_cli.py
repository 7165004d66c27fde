"""The real docker CLI (28.x) drives berthd through a container's whole life."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

pytestmark = [pytest.mark.compat,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]


def test_run_rm_echo_prints_output_and_removes_the_container(sandbox):
    r = sandbox.docker("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")
    assert sandbox.docker("ps", "-aq").stdout == ""


def test_run_separates_stdout_and_stderr_and_returns_the_exit_code(sandbox):
    r = sandbox.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"


def test_detached_container_lifecycle(sandbox):
    r = sandbox.docker("run", "-d", "--name", "w", "busybox", "sh", "-c",
                       "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    try:
        ps = sandbox.docker("ps")
        assert ps.returncode == 0
        header, *rows = ps.stdout.splitlines()
        assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
        row = next(r for r in rows if r.endswith(" w"))
        assert row.startswith(cid[:12]) and "Up " in row

        _wait_for(lambda: "started" in sandbox.docker("logs", "w").stdout)

        inspect = json.loads(sandbox.docker("inspect", "w").stdout)[0]
        assert inspect["Id"] == cid
        assert inspect["Name"] == "/w"
        assert inspect["State"]["Running"] is True and inspect["State"]["Pid"] > 0
        assert inspect["Config"]["Image"] == "busybox"
        assert inspect["HostConfig"]["LogConfig"]["Type"] == "json-file"
        assert inspect["LogPath"].endswith(f"{cid}-json.log")
        assert inspect["RestartCount"] == 0
        assert "IPAddress" in inspect["NetworkSettings"]

        r = sandbox.docker("inspect", "-f", "{{.State.Status}}", "w")
        assert r.stdout.strip() == "running"

        assert sandbox.docker("stop", "w").stdout.strip() == "w"
        state = json.loads(sandbox.docker("inspect", "w").stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 0
        assert "bye" in sandbox.docker("logs", "w").stdout

        assert sandbox.docker("start", "w").returncode == 0
        assert sandbox.docker("restart", "-t", "1", "w").returncode == 0
        assert json.loads(sandbox.docker("inspect", "w").stdout)[0]["State"]["Running"] is True

        assert sandbox.docker("kill", "w").returncode == 0
        assert sandbox.docker("wait", "w").stdout.strip() == "137"
    finally:
        r = sandbox.docker("rm", "-f", "w")
    assert r.returncode == 0 and r.stdout.strip() == "w"
    r = sandbox.docker("inspect", "w")
    assert r.returncode == 1 and "No such object: w" in r.stderr


def test_kill_with_signal_and_wait_reports_the_exit_code(sandbox):
    cid = sandbox.docker("run", "-d", "busybox", "sh", "-c",
                         "trap 'exit 42' USR1; while true; do sleep 0.1; done").stdout.strip()
    try:
        time.sleep(0.3)
        assert sandbox.docker("kill", "-s", "USR1", cid).returncode == 0
        assert sandbox.docker("wait", cid).stdout.strip() == "42"
    finally:
        sandbox.docker("rm", "-f", cid)


def test_import_images_and_rmi(sandbox, busybox_tar):
    r = sandbox.docker("import", busybox_tar, "imported:v1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sha256:")
    images = sandbox.docker("images")
    assert any(line.split()[:2] == ["imported", "v1"] for line in images.stdout.splitlines())
    r = sandbox.docker("rmi", "imported:v1")
    assert r.returncode == 0
    assert "Untagged: imported:v1" in r.stdout
    assert "imported" not in sandbox.docker("images").stdout


def test_rmi_refuses_an_image_in_use_unless_forced(sandbox, busybox_tar):
    assert sandbox.docker("import", busybox_tar, "inuse:v1").returncode == 0
    cid = sandbox.docker("create", "inuse:v1", "true").stdout.strip()
    try:
        r = sandbox.docker("rmi", "inuse:v1")
        assert r.returncode == 1
        assert "must force" in r.stderr and cid[:12] in r.stderr
        assert sandbox.docker("rmi", "-f", "inuse:v1").returncode == 0
    finally:
        sandbox.docker("rm", "-f", cid)


def test_run_of_unknown_image_fails_with_125(sandbox):
    r = sandbox.docker("run", "--rm", "nosuchimage")
    assert r.returncode == 125
    assert "Unable to find image 'nosuchimage:latest' locally" in r.stderr


def test_run_of_missing_command_fails_with_127(sandbox):
    r = sandbox.docker("run", "--rm", "busybox", "nosuch")
    assert r.returncode == 127
    assert 'exec: "nosuch": executable file not found in $PATH' in r.stderr


def test_name_conflict_is_reported(sandbox):
    sandbox.docker("create", "--name", "dup", "busybox", "true")
    try:
        r = sandbox.docker("run", "--name", "dup", "busybox", "true")
        assert r.returncode == 125
        assert 'Conflict. The container name "/dup" is already in use' in r.stderr
    finally:
        sandbox.docker("rm", "dup")


def test_bad_memory_value_is_refused_by_the_client(sandbox):
    r = sandbox.docker("run", "-m", "lots", "busybox", "true")
    assert r.returncode == 125
    assert 'invalid argument "lots" for "-m, --memory" flag' in r.stderr


def test_unknown_api_paths_and_swarm(sandbox):
    from harness import api

    status, body = api(sandbox, "GET", "/v1.45/nonexistent")
    assert status == 404
    status, body = api(sandbox, "GET", "/v1.45/services")
    assert status == 503 and "not a swarm manager" in body["message"]
    status, body = api(sandbox, "GET", "/v1.99/version")
    assert status == 400 and "too new" in body["message"]
    status, body = api(sandbox, "GET", "/v1.24/version")
    assert status == 200 and body["ApiVersion"] == "1.45" and body["MinAPIVersion"] == "1.24"


def _wait_for(cond, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_info_version_and_system_df(sandbox):
    info = sandbox.docker("info", "--format", "{{.Driver}} {{.DefaultRuntime}} {{.LiveRestoreEnabled}}")
    assert info.stdout.strip() == "overlay2 crun true"
    version = sandbox.docker("version", "--format", "{{.Server.APIVersion}}")
    assert version.stdout.strip() == "1.45"
    df = sandbox.docker("system", "df")
    assert df.returncode == 0
    assert df.stdout.splitlines()[1].split()[:2] == ["Images", "1"]


def test_tcp_listener_serves_the_same_api(fresh_sandbox):
    sb = fresh_sandbox
    sb.kill_daemon()
    sb.start_daemon("-H", "tcp://127.0.0.1:23750")
    r = subprocess.run(sb.nsenter_argv(["/usr/local/bin/docker", "-H", "tcp://127.0.0.1:23750", "ps", "-a"]),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("CONTAINER ID")
