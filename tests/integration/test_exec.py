"""`docker exec` through the real docker CLI, the docker SDK and the raw API:
output, exit codes, user/workdir/env/privileges, detached execs, stdin with a
half-close, TTYs, refusals, and the exec's own inspect document."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time

import pytest
from harness import api

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

HEX64 = re.compile(r"^[0-9a-f]{64}$")
NOT_FOUND = ('OCI runtime exec failed: exec failed: unable to start container process: '
             'exec: "nosuch": executable file not found in $PATH: unknown')


def _wait_for(cond, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in {timeout}s")


@pytest.fixture(scope="module")
def w(sandbox) -> str:
    """A long-running container the tests exec into."""
    r = sandbox.docker("run", "-d", "--name", "w", "-e", "FROM_RUN=1", "busybox", "sleep", "100000")
    assert r.returncode == 0, r.stderr
    yield r.stdout.strip()
    sandbox.docker("rm", "-f", "w")


def _exec_create(sb, ctr: str, body: dict) -> str:
    status, doc = api(sb, "POST", f"/v1.45/containers/{ctr}/exec", body)
    assert status == 201, doc
    assert HEX64.match(doc["Id"])
    return doc["Id"]


def _start_attached(sb, exec_id: str, body: dict, send: bytes = b"", half_close: bool = True) -> bytes:
    """POST /exec/{id}/start with the upgrade headers; returns everything after the head."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sb.sock)
    data = json.dumps(body).encode()
    s.sendall(f"POST /v1.45/exec/{exec_id}/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = s.recv(65536)
        assert chunk, raw
        raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 UPGRADED"), head
    if send:
        s.sendall(send)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(20)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    s.close()
    return head + b"\r\n\r\n" + rest


# ---------------------------------------------------------------------- the docker CLI
def test_exec_prints_the_output(sandbox, w):
    r = sandbox.docker("exec", "w", "echo", "hi")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")


def test_exec_returns_the_exit_code_and_keeps_stdout_and_stderr_apart(sandbox, w):
    r = sandbox.docker("exec", "w", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert sandbox.docker("exec", "w", "sh", "-c", "kill -TERM $$").returncode == 143


def test_exec_as_another_user(sandbox, w):
    # docker (containerd) lists the primary group among the groups
    assert sandbox.docker("exec", "-u", "nobody", "w", "id").stdout == \
        "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\n"
    r = sandbox.docker("exec", "-u", "1234:5678", "w", "sh", "-c", "id -u; id -g; echo $HOME")
    assert r.stdout.split() == ["1234", "5678", "/"]
    assert sandbox.docker("exec", "w", "id", "-u").stdout == "0\n"


def test_exec_as_an_unknown_user_fails_like_docker(sandbox, w):
    r = sandbox.docker("exec", "-u", "nosuchuser", "w", "true")
    assert r.returncode == 126
    assert r.stdout == "unable to find user nosuchuser: no matching entries in passwd file\n"


def test_exec_working_dir_defaults_to_the_containers(sandbox, w):
    assert sandbox.docker("exec", "-w", "/tmp", "w", "pwd").stdout == "/tmp\n"
    assert sandbox.docker("exec", "w", "pwd").stdout == "/\n"
    assert sandbox.docker("run", "-d", "--name", "wd", "-w", "/etc", "busybox", "sleep", "600").returncode == 0
    try:
        assert sandbox.docker("exec", "wd", "pwd").stdout == "/etc\n"
    finally:
        sandbox.docker("rm", "-f", "wd")
    r = sandbox.docker("exec", "-w", "/nonexist", "w", "pwd")
    assert r.returncode == 126
    assert 'chdir to cwd ("/nonexist") set in config.json failed: no such file or directory' in r.stdout


def test_exec_environment_is_the_containers_plus_its_own(sandbox, w):
    r = sandbox.docker("exec", "-e", "FOO=bar", "-e", "FROM_RUN=2", "w", "env")
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert env["FOO"] == "bar" and env["FROM_RUN"] == "2"
    assert env["HOSTNAME"] == w[:12] and env["PATH"].startswith("/usr/local/sbin")
    assert "TERM" not in env
    env = dict(line.split("=", 1) for line in sandbox.docker("exec", "w", "env").stdout.splitlines())
    assert env["FROM_RUN"] == "1"
    assert "TERM=xterm" in sandbox.docker("exec", "-t", "w", "env").stdout.splitlines()


def _cap_eff(text: str) -> int:
    return int(next(line for line in text.splitlines() if line.startswith("CapEff:")).split()[1], 16)


def test_privileged_exec_gets_all_capabilities(sandbox, w):
    from berth.runtime.capabilities import DEFAULT_CAPS, available_caps, caps_mask

    plain = sandbox.docker("exec", "w", "cat", "/proc/self/status")
    privileged = sandbox.docker("exec", "--privileged", "w", "cat", "/proc/self/status")
    assert _cap_eff(plain.stdout) == caps_mask(list(DEFAULT_CAPS))
    assert _cap_eff(privileged.stdout) == caps_mask(list(available_caps()))
    assert _cap_eff(privileged.stdout) != _cap_eff(plain.stdout)


def test_detached_exec_returns_at_once_and_the_process_runs_on(sandbox, w):
    t0 = time.monotonic()
    r = sandbox.docker("exec", "-d", "w", "sh", "-c", "sleep 1; echo done > /tmp/detached")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert time.monotonic() - t0 < 0.5
    assert sandbox.docker("exec", "w", "cat", "/tmp/detached").returncode == 1
    _wait_for(lambda: sandbox.docker("exec", "w", "cat", "/tmp/detached").stdout == "done\n",
              what="the detached exec's file")


def test_detached_exec_of_a_missing_command_is_refused(sandbox, w):
    r = sandbox.docker("exec", "-d", "w", "nosuch")
    assert r.returncode == 1
    assert r.stderr == f"Error response from daemon: {NOT_FOUND}\n"


def test_stdin_is_forwarded_and_its_end_closes_the_process_stdin(sandbox, w):
    r = sandbox.docker("exec", "-i", "w", "cat", input="hi\n")
    assert (r.returncode, r.stdout) == (0, "hi\n")
    # output written after the client's half-close still arrives
    r = sandbox.docker("exec", "-i", "w", "sh", "-c", "cat; sleep 0.3; echo after", input="a\nb\n")
    assert (r.returncode, r.stdout) == (0, "a\nb\nafter\n")
    # without -i the process's stdin is empty
    assert sandbox.docker("exec", "w", "cat", input="ignored\n").stdout == ""


def test_tty_exec_runs_on_a_pseudo_terminal(sandbox, w):
    # (sandbox.docker reads text, which turns the terminal's \r\n into \n)
    r = sandbox.docker("exec", "-t", "w", "tty")
    assert r.returncode == 0
    assert re.fullmatch(r"/dev/pts/\d+\n", r.stdout), r.stdout
    r = sandbox.docker("exec", "-t", "w", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert (r.returncode, r.stdout, r.stderr) == (5, "out\nerr\n", "")


def test_exec_into_a_stopped_or_missing_container_fails(sandbox, w):
    cid = sandbox.docker("create", "--name", "stopped", "busybox", "true").stdout.strip()
    try:
        r = sandbox.docker("exec", "stopped", "true")
        assert r.returncode == 1
        assert r.stderr == f"Error response from daemon: container {cid} is not running\n"
        assert api(sandbox, "POST", "/v1.45/containers/stopped/exec", {"Cmd": ["true"]})[0] == 409
    finally:
        sandbox.docker("rm", "-f", "stopped")
    r = sandbox.docker("exec", "nosuchctr", "true")
    assert r.returncode == 1
    assert r.stderr == "Error response from daemon: No such container: nosuchctr\n"


def test_command_not_found_exits_126_with_dockers_message(sandbox, w):
    r = sandbox.docker("exec", "w", "nosuch")
    assert (r.returncode, r.stdout, r.stderr) == (126, NOT_FOUND + "\n", "")
    r = sandbox.docker("exec", "w", "/etc")
    assert r.returncode == 126
    assert 'exec: "/etc": permission denied: unknown' in r.stdout


def test_exec_ends_when_the_container_stops(sandbox):
    assert sandbox.docker("run", "-d", "--name", "doomed", "busybox", "sleep", "600").returncode == 0
    try:
        def kill_soon():
            time.sleep(0.5)
            sandbox.docker("kill", "doomed")

        import threading

        t = threading.Thread(target=kill_soon)
        t.start()
        started = time.monotonic()
        r = sandbox.docker("exec", "doomed", "sleep", "600", timeout=30)
        t.join()
        assert r.returncode == 137
        assert time.monotonic() - started < 10
    finally:
        sandbox.docker("rm", "-f", "doomed")


# ---------------------------------------------------------------------- the raw API
def test_exec_inspect_and_the_containers_exec_ids(sandbox, w):
    eid = _exec_create(sandbox, "w", {"Cmd": ["sh", "-c", "sleep 1; exit 4"], "User": "nobody"})
    status, doc = api(sandbox, "GET", f"/v1.45/exec/{eid}/json")
    assert status == 200
    assert doc == {"ID": eid, "Running": False, "ExitCode": None,
                   "ProcessConfig": {"tty": False, "entrypoint": "sh", "arguments": ["-c", "sleep 1; exit 4"],
                                     "privileged": False, "user": "nobody"},
                   "OpenStdin": False, "OpenStderr": False, "OpenStdout": False, "CanRemove": False,
                   "ContainerID": w, "DetachKeys": "", "Pid": 0}
    assert api(sandbox, "POST", f"/v1.45/exec/{eid}/start", {"Detach": True})[0] == 200
    status, doc = api(sandbox, "GET", f"/v1.45/exec/{eid}/json")
    assert doc["Running"] is True and doc["ExitCode"] is None and doc["Pid"] > 0
    assert eid in json.loads(sandbox.docker("inspect", "-f", "{{json .ExecIDs}}", "w").stdout)
    _wait_for(lambda: api(sandbox, "GET", f"/v1.45/exec/{eid}/json")[1]["Running"] is False, what="exit")
    doc = api(sandbox, "GET", f"/v1.45/exec/{eid}/json")[1]
    assert doc["ExitCode"] == 4
    assert eid not in (json.loads(sandbox.docker("inspect", "-f", "{{json .ExecIDs}}", "w").stdout) or [])


def test_starting_twice_is_a_conflict(sandbox, w):
    eid = _exec_create(sandbox, "w", {"Cmd": ["sleep", "0.5"]})
    assert api(sandbox, "POST", f"/v1.45/exec/{eid}/start", {"Detach": True})[0] == 200
    status, doc = api(sandbox, "POST", f"/v1.45/exec/{eid}/start", {"Detach": True})
    assert (status, doc["message"]) == (409, f"Error: Exec command {eid} is already running")
    _wait_for(lambda: api(sandbox, "GET", f"/v1.45/exec/{eid}/json")[1]["ExitCode"] == 0, what="exit")
    status, doc = api(sandbox, "POST", f"/v1.45/exec/{eid}/start", {"Detach": True})
    assert (status, doc["message"]) == (409, f"Error: Exec command {eid} has already run")
    # attached, docker reports it on the stream
    out = _start_attached(sandbox, eid, {})
    assert out.endswith(f"Error: Exec command {eid} has already run\r\n".encode())


def test_bad_exec_requests_are_refused(sandbox, w):
    status, doc = api(sandbox, "POST", "/v1.45/containers/w/exec", {"Cmd": []})
    assert (status, doc["message"]) == (400, "No exec command specified")
    status, doc = api(sandbox, "POST", "/v1.45/containers/w/exec", {})
    assert (status, doc["message"]) == (400, "No exec command specified")
    status, doc = api(sandbox, "POST", "/v1.45/containers/w/exec", {"Cmd": ["true"], "DetachKeys": "ctrl-xx"})
    assert (status, doc["message"]) == (400, "Invalid escape keys (ctrl-xx) provided")
    for method, path in (("GET", "/v1.45/exec/nope/json"), ("POST", "/v1.45/exec/nope/start"),
                         ("POST", "/v1.45/exec/nope/resize?h=1&w=1")):
        status, doc = api(sandbox, method, path, {} if method == "POST" else None)
        assert (status, doc["message"]) == (404, "No such exec instance: nope")


def test_attached_start_frames_stdout_and_stderr(sandbox, w):
    eid = _exec_create(sandbox, "w", {"Cmd": ["sh", "-c", "echo out; echo err >&2; exit 2"],
                                      "AttachStdout": True, "AttachStderr": True})
    out = _start_attached(sandbox, eid, {"Tty": False})
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Content-Type: application/vnd.docker.multiplexed-stream" in head
    assert body == b"\x01\x00\x00\x00\x00\x00\x00\x04out\n\x02\x00\x00\x00\x00\x00\x00\x04err\n"
    assert api(sandbox, "GET", f"/v1.45/exec/{eid}/json")[1]["ExitCode"] == 2


def test_tty_exec_takes_its_console_size_and_resizes(sandbox, w):
    eid = _exec_create(sandbox, "w", {"Cmd": ["stty", "size"], "Tty": True, "AttachStdout": True,
                                      "ConsoleSize": [30, 100]})
    out = _start_attached(sandbox, eid, {"Tty": True})
    assert b"Content-Type: application/vnd.docker.raw-stream" in out
    assert out.endswith(b"\r\n\r\n30 100\r\n")
    eid = _exec_create(sandbox, "w", {"Cmd": ["sh", "-c", "read x; stty size"], "Tty": True,
                                      "AttachStdin": True, "AttachStdout": True})
    s = socket.socket(socket.AF_UNIX)
    s.connect(sandbox.sock)
    body = b'{"Tty": true}'
    s.sendall(f"POST /v1.45/exec/{eid}/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    assert s.recv(65536).startswith(b"HTTP/1.1 101")
    assert api(sandbox, "POST", f"/v1.45/exec/{eid}/resize?h=40&w=120")[0] == 200
    s.sendall(b"go\n")
    s.settimeout(20)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got.endswith(b"40 120\r\n")


# ---------------------------------------------------------------------- the docker SDK
def test_sdk_exec_run_returns_exit_code_and_output(sandbox, w):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=sandbox.host_url, version="auto")
    try:
        ctr = client.containers.get("w")
        assert tuple(ctr.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])) == (4, b"out\nerr\n")
        assert tuple(ctr.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)) == (0, (b"out\n", b"err\n"))
        assert tuple(ctr.exec_run("echo hi", tty=True)) == (0, b"hi\r\n")
        code, output = ctr.exec_run(["env"], environment={"X": "y"}, user="nobody", workdir="/tmp")
        assert code == 0 and b"X=y\n" in output
        code, output = ctr.exec_run("nosuch")
        assert (code, output) == (126, (NOT_FOUND + "\r\n").encode())
        stream = ctr.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.05; done"], stream=True)
        assert b"".join(stream.output) == b"1\n2\n3\n"
    finally:
        client.close()


# ---------------------------------------------------------------------- runc
@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_exec_in_a_runc_container(sandbox):
    assert sandbox.docker("run", "-d", "--runtime", "runc", "--name", "rc", "busybox", "sleep", "600").returncode == 0
    try:
        r = sandbox.docker("exec", "rc", "sh", "-c", "echo out; echo err >&2; exit 3")
        assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
        r = sandbox.docker("exec", "-t", "rc", "tty")
        assert re.fullmatch(r"/dev/pts/\d+\n", r.stdout), r.stdout
        r = sandbox.docker("exec", "rc", "nosuch")
        assert (r.returncode, r.stdout) == (126, NOT_FOUND + "\n")
        assert sandbox.docker("exec", "-d", "rc", "sh", "-c", "echo x > /tmp/f").returncode == 0
        _wait_for(lambda: sandbox.docker("exec", "rc", "cat", "/tmp/f").stdout == "x\n", what="runc detached exec")
    finally:
        sandbox.docker("rm", "-f", "rc")
