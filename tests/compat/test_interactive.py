"""Interactive use through the real docker CLI: run -it, exec -it, attach, start -ai,
detach keys, stdin half-close, and what happens when clients misbehave.

The terminal cases run the CLI on a pseudo-terminal the test opens (24x80), type
into it and read what the CLI shows. The raw-API cases speak the hijacked
protocol on a socket, as docker's clients do.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

import pytest

from harness import api

pytestmark = [pytest.mark.compat,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

DETACH = b"\x10\x11"  # ctrl-p ctrl-q


DOCKER = ["/usr/local/bin/docker"]
BERTH = [sys.executable, "-m", "berth.cli.main"]


class Terminal:
    """A CLI (docker's by default, or berth) on a pty of its own."""

    def __init__(self, sandbox, *args: str, rows: int = 24, cols: int = 80, cli: list[str] = DOCKER) -> None:
        self.master, slave = pty.openpty()
        self.resize(rows, cols, slave)
        self.proc = subprocess.Popen([*cli, *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=sandbox.env(), start_new_session=True)
        os.close(slave)
        self.out = b""

    def resize(self, rows: int, cols: int, fd: int | None = None) -> None:
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _read(self, timeout: float) -> bool:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the CLI closed the terminal
            return False
        self.out += data
        return bool(data)

    def expect(self, text: bytes, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)):
                if text in self.out:
                    return
                raise AssertionError(f"{text!r} not seen; got {self.out!r}")

    def type(self, data: bytes) -> None:
        # key by key, as a person types: docker's escape proxy reads one key at a time
        for i in range(len(data)):
            os.write(self.master, data[i:i + 1])
            time.sleep(0.01)

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.05):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            raise AssertionError(f"docker did not exit; output {self.out!r}")
        os.close(self.master)
        return self.proc.returncode


def _wait_for(cond, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _running(sandbox, name: str) -> bool:
    r = sandbox.docker("inspect", "-f", "{{.State.Running}}", name)
    return r.stdout.strip() == "true"


def _hijack(sandbox, path: str) -> tuple[socket.socket, bytes]:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sandbox.sock)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
              "Content-Length: 0\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    status, _, rest = head.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 101 UPGRADED"), status
    return s, rest


def _read_until(s: socket.socket, got: bytes, text: bytes, timeout: float = 10) -> bytes:
    s.settimeout(timeout)
    while text not in got:
        chunk = s.recv(65536)
        assert chunk, f"stream ended before {text!r}: {got!r}"
        got += chunk
    return got


def _read_to_eof(s: socket.socket, got: bytes = b"", timeout: float = 10) -> bytes:
    s.settimeout(timeout)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return got
        got += chunk


@pytest.fixture
def tty_shell(sandbox):
    """A running `-dit` shell container named after the test."""
    name = "sh" + str(time.monotonic_ns())[-8:]
    r = sandbox.docker("run", "-dit", "--name", name, "busybox", "sh")
    assert r.returncode == 0, r.stderr
    yield name
    sandbox.docker("rm", "-f", name)


# ---------------------------------------------------------------------- run -it
def test_run_it_shell_runs_typed_commands_and_exits_with_their_status(sandbox):
    t = Terminal(sandbox, "run", "-it", "--rm", "busybox", "sh")
    t.expect(b"/ # ")
    t.type(b"echo hello-$((1+2))\r")
    t.expect(b"hello-3")
    t.type(b"stty size\r")
    t.expect(b"24 80")
    t.type(b"exit 3\r")
    assert t.wait() == 3


def test_run_it_follows_terminal_resizes(sandbox):
    t = Terminal(sandbox, "run", "-it", "--rm", "busybox", "sh")
    t.expect(b"/ # ")
    time.sleep(0.5)  # let the CLI's own first resize (24x80) land before ours
    t.resize(40, 120)
    t.proc.send_signal(signal.SIGWINCH)  # the pty is not the CLI's controlling terminal
    time.sleep(0.5)
    t.type(b"stty size\r")
    t.expect(b"40 120")
    t.type(b"exit\r")
    assert t.wait() == 0


def test_run_it_detach_keys_leave_the_container_running(sandbox):
    t = Terminal(sandbox, "run", "-it", "--name", "detachme", "busybox", "sh")
    try:
        t.expect(b"/ # ")
        t.type(b"echo before\r")
        t.expect(b"before")
        t.type(DETACH)
        assert t.wait() == 0  # docker run exits 0 when the user detaches
        assert _running(sandbox, "detachme")
        # ... and it can be attached again, with the shell still alive
        t = Terminal(sandbox, "attach", "detachme")
        t.type(b"echo again-$((2*3))\r")
        t.expect(b"again-6")
        t.type(b"exit 4\r")
        assert t.wait() == 4
    finally:
        sandbox.docker("rm", "-f", "detachme")


def test_run_it_with_custom_detach_keys(sandbox):
    t = Terminal(sandbox, "run", "-it", "--detach-keys", "ctrl-x,x", "--name", "customkeys", "busybox", "sh")
    try:
        t.expect(b"/ # ")
        t.type(b"\x10\x11echo still-here\r")  # the default keys are just input now
        t.expect(b"still-here")
        t.type(b"\x18x")
        assert t.wait() == 0
        assert _running(sandbox, "customkeys")
    finally:
        sandbox.docker("rm", "-f", "customkeys")


# ---------------------------------------------------------------------- exec -it
def test_exec_it_interactive_shell(sandbox, tty_shell):
    t = Terminal(sandbox, "exec", "-it", tty_shell, "sh")
    t.expect(b"/ # ")
    t.type(b"echo in-exec-$((5+5))\r")
    t.expect(b"in-exec-10")
    t.type(b"stty size\r")
    t.expect(b"24 80")
    t.type(b"exit 5\r")
    assert t.wait() == 5
    assert _running(sandbox, tty_shell)


# ---------------------------------------------------------------------- attach
def test_attach_to_a_running_tty_container_and_detach(sandbox, tty_shell):
    t = Terminal(sandbox, "attach", tty_shell)
    t.type(b"echo attached-$((6*7))\r")
    t.expect(b"attached-42")
    t.type(DETACH)
    # docker's CLI reports the detach as an error of its own: this text, status 1
    assert t.wait() == 1
    assert b"read escape sequence" in t.out
    assert _running(sandbox, tty_shell)
    time.sleep(1.1)  # --until 0s is now, in whole seconds
    events = sandbox.docker("events", "--since", "1m", "--until", "0s", "--filter", f"container={tty_shell}",
                            "--format", "{{.Action}}").stdout.split()
    assert "attach" in events


def test_attach_to_a_non_tty_container_shows_its_output_and_exit_code(sandbox):
    r = sandbox.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                       "trap 'echo bye; exit 7' TERM; i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    try:
        proc = subprocess.Popen(["/usr/local/bin/docker", "attach", "--no-stdin", "ticker"], env=sandbox.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)
        assert sandbox.docker("stop", "ticker").returncode == 0
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 7, err
        lines = out.decode().split()
        assert lines[-1] == "bye"
        ticks = [int(x[4:]) for x in lines if x.startswith("tick")]
        assert len(ticks) >= 3 and ticks == list(range(ticks[0], ticks[0] + len(ticks)))  # nothing lost
    finally:
        sandbox.docker("rm", "-f", "ticker")


def test_attach_with_piped_stdin_to_a_non_tty_container(sandbox):
    """With StdinOnce (create -i), the end of the piped input closes the process's
    stdin and the output goes on to the end."""
    assert sandbox.docker("create", "-i", "--name", "reader", "busybox", "sh", "-c",
                          "while read l; do echo got:$l; done; sleep 0.3; echo eof; exit 6").returncode == 0
    try:
        assert sandbox.docker("start", "reader").returncode == 0
        r = sandbox.docker("attach", "reader", input="one\ntwo\n", timeout=30)
        assert r.returncode == 6, r.stderr
        assert r.stdout == "got:one\ngot:two\neof\n"
    finally:
        sandbox.docker("rm", "-f", "reader")


def test_start_ai_with_a_tty(sandbox):
    assert sandbox.docker("create", "-it", "--name", "startai", "busybox", "sh").returncode == 0
    try:
        t = Terminal(sandbox, "start", "-ai", "startai")
        t.expect(b"/ # ")
        t.type(b"echo started-$((1+1))\r")
        t.expect(b"started-2")
        t.type(b"exit 8\r")
        assert t.wait() == 8
    finally:
        sandbox.docker("rm", "-f", "startai")


def test_start_ai_with_piped_stdin(sandbox):
    assert sandbox.docker("create", "-i", "--name", "startpipe", "busybox", "sh", "-c",
                          "read x; echo got:$x; exit 7").returncode == 0
    try:
        r = sandbox.docker("start", "-ai", "startpipe", input="hello\n")
        assert (r.returncode, r.stdout) == (7, "got:hello\n"), r.stderr
    finally:
        sandbox.docker("rm", "-f", "startpipe")


# ---------------------------------------------------------------------- stdin
def test_piped_stdin_to_run_i(sandbox):
    r = sandbox.docker("run", "-i", "--rm", "busybox", "cat", input="hi\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")


def test_output_after_stdin_is_half_closed_is_not_lost(sandbox):
    script = "read l; echo got:$l; sleep 0.5; for i in 1 2 3; do echo after$i; sleep 0.2; done; echo err >&2; exit 2"
    r = sandbox.docker("run", "-i", "--rm", "busybox", "sh", "-c", script, input="x\n")
    assert r.returncode == 2
    assert r.stdout == "got:x\nafter1\nafter2\nafter3\n"
    assert r.stderr == "err\n"


def test_large_stdin_and_output_round_trip(sandbox, tmp_path):
    data = os.urandom(8 << 20)
    path = tmp_path / "blob"
    path.write_bytes(data)
    with open(path, "rb") as f:
        r = subprocess.run(["/usr/local/bin/docker", "run", "-i", "--rm", "busybox", "cat"], stdin=f,
                           capture_output=True, env=sandbox.env(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_a_process_that_ignores_its_stdin_does_not_block_the_container(sandbox):
    """stdin the process never reads fills the pipe; output and signals still work."""
    proc = subprocess.Popen(["/usr/local/bin/docker", "run", "-i", "--name", "deaf", "busybox", "sh", "-c",
                             "echo ready; sleep 30"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=sandbox.env())
    try:
        assert proc.stdout.readline() == b"ready\n"
        try:
            proc.stdin.write(b"x" * (512 << 10))  # far more than the process's stdin pipe holds
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        assert sandbox.docker("exec", "deaf", "echo", "alive").stdout == "alive\n"
        assert sandbox.docker("kill", "deaf").returncode == 0
        proc.wait(timeout=20)
        assert proc.returncode == 137
    finally:
        proc.kill()
        sandbox.docker("rm", "-f", "deaf")


# ---------------------------------------------------------------------- the raw API
def test_daemon_detaches_a_raw_client_on_the_detach_keys(sandbox, tty_shell):
    """Clients that do not scan for the keys themselves (docker-py, scripts) get
    docker's daemon-side detach: stream ends, container runs on, event `detach`."""
    s, got = _hijack(sandbox, f"/containers/{tty_shell}/attach?stream=1&stdin=1&stdout=1&stderr=1")
    s.sendall(b"echo raw-$((3+4))\n")
    got = _read_until(s, got, b"raw-7")
    s.sendall(b"\x10")
    time.sleep(0.1)
    s.sendall(b"\x11")
    _read_to_eof(s, got)
    s.close()
    assert _running(sandbox, tty_shell)
    s, got = _hijack(sandbox, f"/containers/{tty_shell}/attach?stream=1&stdin=1&stdout=1&stderr=1"
                              "&detachKeys=ctrl-a,q")
    s.sendall(b"echo custom\n")
    got = _read_until(s, got, b"custom\r\n")
    s.sendall(b"\x01q")
    _read_to_eof(s, got)
    s.close()
    assert _running(sandbox, tty_shell)
    time.sleep(1.1)
    actions = sandbox.docker("events", "--since", "1m", "--until", "0s", "--filter", f"container={tty_shell}",
                             "--format", "{{.Action}}").stdout.split()
    assert actions.count("detach") == 2


def test_bad_detach_keys_are_refused_before_the_upgrade(sandbox, tty_shell):
    status, body = api(sandbox, "POST", f"/containers/{tty_shell}/attach?stream=1&stdin=1&detachKeys=ctrl-zz")
    assert status == 400
    assert body == {"message": "Invalid detach keys (ctrl-zz) provided"}


def test_tty_attach_ends_when_its_stdin_ends(sandbox, tty_shell):
    """docker's rule: without StdinOnce, the end of an attached stdin ends that attach."""
    s, got = _hijack(sandbox, f"/containers/{tty_shell}/attach?stream=1&stdin=1&stdout=1&stderr=1")
    s.sendall(b"echo last\n")
    got = _read_until(s, got, b"last\r\n")
    s.shutdown(socket.SHUT_WR)
    _read_to_eof(s, got)
    s.close()
    assert _running(sandbox, tty_shell)


def test_attach_to_a_removed_container(sandbox):
    assert sandbox.docker("run", "-d", "--name", "gone", "busybox", "true").returncode == 0
    assert sandbox.docker("rm", "-f", "gone").returncode == 0
    r = sandbox.docker("attach", "gone")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: No such container: gone\n")
    r = sandbox.docker("start", "-ai", "gone")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: No such container: gone\n")
    status, body = api(sandbox, "POST", "/containers/gone/attach?stream=1&stdout=1")
    assert (status, body) == (404, {"message": "No such container: gone"})


def test_client_that_disconnects_mid_stream_leaves_container_and_daemon_healthy(sandbox):
    r = sandbox.docker("run", "-d", "--name", "chatty", "busybox", "sh", "-c",
                       "i=0; while true; do i=$((i+1)); echo line$i; done")
    assert r.returncode == 0, r.stderr
    try:
        for _ in range(3):
            s, got = _hijack(sandbox, "/containers/chatty/attach?stream=1&stdout=1&stderr=1")
            while len(got) < 200_000:
                got += s.recv(65536)
            s.close()  # gone without a word, mid-frame
        assert _running(sandbox, "chatty")
        assert "chatty" in sandbox.docker("ps", "--format", "{{.Names}}").stdout.split()
        # the daemon answers, and a new attach gets fresh output in well-formed frames
        s, got = _hijack(sandbox, "/containers/chatty/attach?stream=1&stdout=1&stderr=1")
        while len(got) < 100_000:
            got += s.recv(65536)
        s.close()
        stream, size = struct.unpack(">BxxxI", got[:8])
        assert stream == 1 and 0 < size <= len(got) - 8
        assert got[8:8 + size].startswith(b"line") or b"\nline" in got[8:8 + size]
        r = sandbox.docker("logs", "--tail", "1", "chatty")
        first = int(r.stdout.strip()[4:])
        time.sleep(0.3)
        assert int(sandbox.docker("logs", "--tail", "1", "chatty").stdout.strip()[4:]) > first
    finally:
        sandbox.docker("rm", "-f", "chatty")


def test_attach_before_start_gets_all_output(sandbox):
    status, doc = api(sandbox, "POST", "/containers/create",
                      {"Image": "busybox", "Cmd": ["sh", "-c", "seq 1 20000; echo done >&2"],
                       "AttachStdout": True, "AttachStderr": True})
    assert status == 201, doc
    cid = doc["Id"]
    try:
        s, got = _hijack(sandbox, f"/containers/{cid}/attach?stream=1&stdout=1&stderr=1")
        assert api(sandbox, "POST", f"/containers/{cid}/start")[0] == 204
        got = _read_to_eof(s, got, timeout=30)
        s.close()
        out = {1: b"", 2: b""}
        while got:
            stream, size = struct.unpack(">BxxxI", got[:8])
            out[stream] += got[8:8 + size]
            got = got[8 + size:]
        assert out[1] == "".join(f"{i}\n" for i in range(1, 20001)).encode()
        assert out[2] == b"done\n"
    finally:
        api(sandbox, "DELETE", f"/containers/{cid}?force=1")


def test_resize_of_a_stopped_container_is_a_conflict(sandbox):
    assert sandbox.docker("create", "-t", "--name", "resizeme", "busybox", "true").returncode == 0
    try:
        status, body = api(sandbox, "POST", "/containers/resizeme/resize?h=10&w=20")
        assert status == 409 and "is not running" in body["message"]
        status, body = api(sandbox, "POST", "/containers/resizeme/resize?h=x&w=20")
        assert (status, body) == (400, {"message": 'strconv.Atoi: parsing "x": invalid syntax'})
    finally:
        sandbox.docker("rm", "-f", "resizeme")


def test_docker_sdk_attach_socket_reads_output(sandbox, tty_shell):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=sandbox.host_url)
    sock = client.api.attach_socket(tty_shell, params={"stdin": 1, "stream": 1, "stdout": 1, "stderr": 1})
    raw = sock._sock
    raw.sendall(b"echo sdk-ok\n")
    got = b""
    raw.settimeout(10)
    while b"sdk-ok\r\n" not in got:
        got += raw.recv(4096)
    raw.close()
    client.close()
    assert json.loads(sandbox.docker("inspect", tty_shell).stdout)[0]["State"]["Running"]


# ---------------------------------------------------------------------- the berth CLI on a terminal
def test_berth_run_it_shell_and_exit_status(sandbox):
    t = Terminal(sandbox, "run", "-it", "--rm", "busybox", "sh", cli=BERTH)
    t.expect(b"/ # ")
    t.type(b"echo berth-$((1+2))\r")
    t.expect(b"berth-3")
    t.type(b"stty size\r")
    t.expect(b"24 80")
    t.type(b"exit 3\r")
    assert t.wait() == 3


def test_berth_run_it_detach_then_berth_attach_and_detach(sandbox):
    t = Terminal(sandbox, "run", "-it", "--name", "bdetach", "busybox", "sh", cli=BERTH)
    try:
        t.expect(b"/ # ")
        t.type(DETACH)
        assert t.wait() == 0
        assert _running(sandbox, "bdetach")
        t = Terminal(sandbox, "attach", "bdetach", cli=BERTH)
        t.type(b"echo again-$((2*3))\r")
        t.expect(b"again-6")
        t.type(DETACH)
        assert t.wait() == 1 and b"read escape sequence" in t.out
        assert _running(sandbox, "bdetach")
    finally:
        sandbox.docker("rm", "-f", "bdetach")


def test_berth_exec_it_shell(sandbox, tty_shell):
    t = Terminal(sandbox, "exec", "-it", tty_shell, "sh", cli=BERTH)
    t.expect(b"/ # ")
    t.type(b"echo in-exec-$((5+5))\r")
    t.expect(b"in-exec-10")
    t.type(b"exit 5\r")
    assert t.wait() == 5
