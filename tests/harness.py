"""Run a real berthd inside private mount + network + pid namespaces.

Nothing a test does reaches the host's network or mount table: the sandbox's
init (catatonit) holds the namespaces, the daemon and its containers live
inside, and killing the init ends all of it. Clients (berth, docker CLI,
docker SDK) connect from the host through the unix socket, which is a plain
file in a directory both sides see.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")


def _die_with_parent() -> None:
    """A test run killed by a timeout takes its sandboxes with it: unshare gets
    SIGKILL when we die, and --kill-child then ends the namespace's init."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def child_pids(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


class Sandbox:
    """A namespace set with its own berthd."""

    def __init__(self, runtime: str = "crun") -> None:
        self.dir = tempfile.mkdtemp(prefix="bt-", dir="/tmp")
        self.sock = os.path.join(self.dir, "berth.sock")
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "run")
        self.runtime = runtime
        self.daemon_proc: subprocess.Popen | None = None
        self.daemon_log = os.path.join(self.dir, "berthd.log")
        self.config_file = os.path.join(self.dir, "daemon.json")
        with open(self.config_file, "w") as f:
            f.write("{}\n")
        self.init = subprocess.Popen(
            ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--propagation", "private",
             "--kill-child", "catatonit", "--", "sleep", "infinity"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent)
        self.ns_pid = self._wait_ns_pid()
        self.nsenter(["ip", "link", "set", "lo", "up"], check=True)

    def _wait_ns_pid(self) -> int:
        """The pid (host view) of catatonit, whose namespaces we enter."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for pid in child_pids(self.init.pid):
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        if f.read().strip() == "catatonit":
                            if os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid"):
                                return pid
                except OSError:
                    pass
            time.sleep(0.01)
        raise RuntimeError("sandbox did not come up")

    def nsenter_argv(self, argv: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.ns_pid), "-m", "-n", "-p", "--", *argv]

    def nsenter(self, argv: list[str], check: bool = False, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.nsenter_argv(argv), check=check, capture_output=True, text=True, **kw)

    # ------------------------------------------------------------ daemon
    def start_daemon(self, *extra: str, wait: bool = True) -> None:
        env = dict(os.environ, PYTHONPATH=SRC)
        argv = [sys.executable, "-m", "berth.daemon.main", "-H", "unix://" + self.sock,
                "--data-root", self.data_root, "--exec-root", self.exec_root,
                "--pidfile", os.path.join(self.dir, "berthd.pid"), "--config-file", self.config_file,
                "--default-runtime", self.runtime, "--log-level", "debug", *extra]
        log = open(self.daemon_log, "ab")
        self.daemon_proc = subprocess.Popen(self.nsenter_argv(argv), stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, env=env, start_new_session=True)
        log.close()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.daemon_proc is not None and self.daemon_proc.poll() is not None:
                raise RuntimeError("berthd exited:\n" + self.log_text())
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    s.close()
                    return
                s.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("berthd did not answer:\n" + self.log_text())

    def daemon_pid(self) -> int:
        """Host pid of berthd (the child of nsenter)."""
        assert self.daemon_proc is not None
        kids = child_pids(self.daemon_proc.pid)
        return kids[0] if kids else self.daemon_proc.pid

    def kill_daemon(self, sig: int = signal.SIGKILL) -> None:
        if self.daemon_proc is None:
            return
        try:
            os.kill(self.daemon_pid(), sig)
        except ProcessLookupError:
            pass
        try:
            self.daemon_proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.daemon_proc.kill()
            self.daemon_proc.wait()
        self.daemon_proc = None

    def log_text(self) -> str:
        try:
            with open(self.daemon_log, errors="replace") as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    # ------------------------------------------------------------ clients
    @property
    def host_url(self) -> str:
        return "unix://" + self.sock

    def env(self) -> dict:
        return dict(os.environ, PYTHONPATH=SRC, BERTH_HOST=self.host_url, DOCKER_HOST=self.host_url)

    def berth(self, *args: str, input: str | bytes | None = None, timeout: float = 120,
              check: bool = False) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        return subprocess.run([sys.executable, "-m", "berth.cli.main", *args], input=input, env=self.env(),
                              capture_output=True, text=text, timeout=timeout, check=check)

    def docker(self, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["/usr/local/bin/docker", *args], input=input, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def import_busybox(self, tar_path: str) -> None:
        """Import through the API directly, so fixtures do not depend on the CLI."""
        import http.client
        from urllib.parse import quote

        class UnixConnection(http.client.HTTPConnection):
            def __init__(self, path: str) -> None:
                super().__init__("localhost")
                self.path = path

            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(self.path)

        conn = UnixConnection(self.sock)
        with open(tar_path, "rb") as f:
            conn.request("POST", "/v1.45/images/create?fromSrc=-&repo=busybox&tag=latest&changes="
                         + quote('CMD ["sh"]'), body=f, headers={"Content-Type": "application/x-tar"})
            resp = conn.getresponse()
            text = resp.read().decode()
        conn.close()
        if resp.status != 200 or '"error"' in text:
            raise RuntimeError(f"import failed: {resp.status} {text}\n{self.log_text()}")

    # ------------------------------------------------------------ teardown
    def close(self) -> None:
        self.kill_daemon(signal.SIGTERM)
        ids = []
        try:
            ids = os.listdir(os.path.join(self.exec_root, "c"))
        except OSError:
            pass
        try:
            os.killpg(self.init.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.init.wait()
        _remove_cgroups(ids)
        # rm -rf, not shutil.rmtree: hostile-input tests leave 10,000-deep trees behind.
        subprocess.run(["rm", "-rf", "--one-file-system", self.dir], check=False)


def _remove_cgroups(ids: list[str]) -> None:
    """Containers killed with the namespace leave empty cgroups behind."""
    time.sleep(0.1)
    for controller in os.listdir("/sys/fs/cgroup"):
        for cid in ids:
            path = os.path.join("/sys/fs/cgroup", controller, "berth", cid)
            if os.path.isdir(path):
                try:
                    os.rmdir(path)
                except OSError:
                    pass


def raw_request(sandbox: Sandbox, method: str, path: str, body: bytes = b"",
                content_type: str = "application/json") -> tuple[int, dict, bytes]:
    """One HTTP request on a fresh connection: status, headers (lower-case names), body."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sandbox.sock)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    chunks = []
    while True:
        c = s.recv(65536)
        if not c:
            break
        chunks.append(c)
    s.close()
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        payload = _dechunk(payload)
    return int(lines[0].split()[1]), headers, payload


def api(sandbox: Sandbox, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    """A tiny raw HTTP client for assertions on the API itself: status and decoded JSON."""
    data = json.dumps(body).encode() if body is not None else b""
    status, _headers, payload = raw_request(sandbox, method, path, data)
    try:
        return status, json.loads(payload) if payload.strip() else None
    except ValueError:
        return status, payload


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


def free_mib(sandbox: Sandbox) -> int:
    """Free MiB on the data root as the sandbox sees it (a tmpfs there is invisible outside)."""
    out = sandbox.nsenter(["df", "-m", "--output=avail", sandbox.data_root], check=True).stdout.split()
    return int(out[-1])


def make_busybox_tar(workdir: str) -> str:
    """busybox's rootfs tar, made with the bootstrap code in `workdir` (or the ready one
    BERTH_TEST_BUSYBOX_TAR names): the image every test and bench imports."""
    if os.environ.get("BERTH_TEST_BUSYBOX_TAR"):
        return os.environ["BERTH_TEST_BUSYBOX_TAR"]
    from berth.images.bootstrap import write_rootfs_tar

    path = os.path.join(workdir, "busybox.tar")
    with open(path, "wb") as f:
        write_rootfs_tar("busybox", f, lambda _line: None)
    return path
