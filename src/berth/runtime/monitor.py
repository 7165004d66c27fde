"""Per-container monitor: the process that holds a container's stdio.

It runs apart from berthd (its own session, stdlib only, a few MB) so that
containers outlive the daemon. It creates and starts the container with the
OCI runtime, becomes its parent (child subreaper), writes the json-file log,
records the exit status in a file, and serves a unix socket:

    request (one JSON line)                 answer
    {"op": "watch"}                         {"pid": N} now, {"exit_code": ...} at exit
    {"op": "attach", "stdin": b, "stdout": b, "stderr": b, "stdin_once": b}
                                            output frames (docker's 8-byte header, or raw
                                            bytes with a TTY); bytes sent in go to stdin;
                                            the client's EOF ends the container's stdin
                                            (StdinOnce without a TTY) or this attach
                                            (otherwise), as in docker
    {"op": "kill", "signal": N}             {"ok": true} or {"error": "..."}
    {"op": "resize", "h": H, "w": W}        {"ok": true}

Usage: python3 -S -I monitor.py <params.json> <sync-fd>
       python3 -S -I monitor.py --zygote <control-fd>   (what berthd runs; see serve_forks)
"""

from __future__ import annotations

import ctypes
import errno
from collections import deque
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from berth.logs.jsonfile import JsonFileWriter  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
F_SETPIPE_SZ = 1031
CHUNK = 1 << 18            # one read of the container's output (its pipes are enlarged to this)
HIGH_WATER = 4 << 20       # an attach client's backlog at which the output stops being read
STALL_LIMIT = 10.0         # seconds a client over HIGH_WATER may take nothing before it is dropped
STDIN_HIGH_WATER = 1 << 20 # stdin bytes queued before attach clients stop being read
MAX_IOV = 64
ATTACH_SNDBUF = 1 << 20    # socket buffer towards an attach client: fewer, larger hand-overs


# Loaded once in the zygote, so forked monitors share it instead of each loading it.
_LIBC = ctypes.CDLL(None, use_errno=True)


def set_subreaper() -> None:
    if _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def now_rfc3339() -> str:
    ns = time.time_ns()
    secs, nanos = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return (f"{base}.{nanos:09d}".rstrip("0") + "Z") if nanos else base + "Z"


def write_atomic(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class OutQueue:
    """Bytes waiting for a client socket, kept as the chunks they came in
    (frame header and payload apart), so queueing never copies them."""

    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: deque = deque()
        self.size = 0

    def __bool__(self) -> bool:
        return self.size > 0

    def push(self, data: bytes) -> None:
        if data:
            self.chunks.append(data)
            self.size += len(data)

    def send(self, sock: socket.socket) -> int:
        """One sendmsg of what is queued; raises BlockingIOError when the socket is full."""
        chunks = self.chunks
        bufs = [chunks[i] for i in range(min(len(chunks), MAX_IOV))]
        sent = sock.sendmsg(bufs)
        self.size -= sent
        n = sent
        while n:
            head = chunks[0]
            if len(head) <= n:
                n -= len(head)
                chunks.popleft()
            else:
                chunks[0] = memoryview(head)[n:]
                n = 0
        return sent


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.op: str | None = None
        self.req: dict = {}
        self.out = OutQueue()
        self.reading = True        # False once the client has sent EOF
        self.closing = False       # ended: closed as soon as its output is flushed
        self.progress = 0.0        # last time it took bytes (or its backlog began)


class Monitor:
    def __init__(self, params: dict, sync_fd: int) -> None:
        self.p = params
        self.sync = socket.socket(fileno=sync_fd)
        self.sync_buf = b""
        self.cid: str = params["id"]
        self.tty: bool = params.get("tty", False)
        self.pid = 0
        self.exit: dict | None = None
        self.clients: list[Client] = []
        self.by_sock: dict[socket.socket, Client] = {}
        self.outputs: dict[int, str] = {}     # fd -> "stdout"/"stderr"
        self.stdin_w: int | None = None
        self.stdin_buf = bytearray()          # attach clients' bytes the process has not taken yet
        self.stdin_close_pending = False
        self.master: int | None = None
        self.log = None
        if params.get("log_path"):
            self.log = JsonFileWriter(params["log_path"], params.get("log_max_size", 20 << 20),
                                      params.get("log_max_file", 3))

    def runtime(self, *args: str) -> list[str]:
        return [self.p["runtime"], "--root", self.p["runtime_root"], *args]

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        set_subreaper()
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)

        sock_path = self.p["socket"]
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(sock_path)
        self.listener.listen(16)
        self.listener.setblocking(False)

        create = self.runtime("--log", self.p["runtime_log"], "--log-format", "json",
                              "create", "--bundle", self.p["bundle"], "--pid-file", self.p["pid_file"])
        child_fds: list[int] = []
        if self.tty:
            console_path = os.path.join(os.path.dirname(sock_path), "console.sock")
            try:
                os.unlink(console_path)
            except FileNotFoundError:
                pass
            console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            console.bind(console_path)
            console.listen(1)
            create += ["--console-socket", console_path]
            devnull = os.open(os.devnull, os.O_RDWR)
            stdio = (devnull, devnull, devnull)
            child_fds.append(devnull)
        else:
            console = None
            if self.p.get("stdin"):
                in_r, self.stdin_w = os.pipe2(os.O_CLOEXEC)
            else:
                in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            for fd in (out_r, err_r):
                try:  # bigger reads: fewer trips through the loop for a chatty container
                    fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
                except OSError:
                    pass
            self.outputs = {out_r: "stdout", err_r: "stderr"}
            stdio = (in_r, out_w, err_w)
            child_fds += [in_r, out_w, err_w]
        create.append(self.cid)

        proc = subprocess.Popen(create, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                                close_fds=True)
        if console is not None:
            console.settimeout(30)
            try:
                conn, _ = console.accept()
                _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
                self.master = fds[0]
                conn.close()
            except OSError:
                pass
            console.close()
        rc = proc.wait()
        for fd in child_fds:
            os.close(fd)
        if rc != 0 or (self.tty and self.master is None):
            self.fail(self.runtime_error() or f"runtime create exited with status {rc}")
        with open(self.p["pid_file"]) as f:
            self.pid = int(f.read().strip())
        if self.master is not None:
            self.outputs = {self.master: "stdout"}
            size = self.p.get("console_size")
            if size:
                self.resize(size[0], size[1])
        self.sync_send({"created": self.pid})
        go = self.sync_recv()
        if not go.get("start"):
            self.kill_quietly(signal.SIGKILL)
            self.fail("start aborted by the daemon")
        self.accept_early(int(go.get("attachers", 0)))
        start = subprocess.run(self.runtime("--log", self.p["runtime_log"], "--log-format", "json",
                                            "start", self.cid),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        if start.returncode != 0:
            msg = self.runtime_error() or start.stderr.decode(errors="replace").strip()
            self.kill_quietly(signal.SIGKILL)
            self.fail(msg or "runtime start failed")
        self.sync_send({"started": self.pid})
        self.sync.close()
        for fd in self.outputs:
            os.set_blocking(fd, False)
        if self.stdin_w is not None:
            os.set_blocking(self.stdin_w, False)  # a process that does not read its stdin must not block us

    def sync_send(self, msg: dict) -> None:
        self.sync.sendall((json.dumps(msg) + "\n").encode())

    def sync_recv(self) -> dict:
        while b"\n" not in self.sync_buf:
            data = self.sync.recv(4096)
            if not data:
                return {}
            self.sync_buf += data
        line, self.sync_buf = self.sync_buf.split(b"\n", 1)
        return json.loads(line)

    def accept_early(self, count: int) -> None:
        """Take the clients the daemon connected before start, requests included,
        so that not one byte of output is produced before they listen."""
        self.listener.setblocking(True)
        self.listener.settimeout(10)
        for _ in range(count):
            try:
                sock, _ = self.listener.accept()
            except OSError:
                break
            sock.settimeout(10)
            client = Client(sock)
            try:
                while b"\n" not in client.buf:
                    data = sock.recv(4096)
                    if not data:
                        break
                    client.buf += data
            except OSError:
                pass
            sock.setblocking(False)
            self.add_client(client)
            if b"\n" in client.buf:
                line, client.buf = client.buf.split(b"\n", 1)
                client.req = json.loads(line)
                client.op = client.req.get("op")
                self.handle_request(client)
                if client.buf and client.op == "attach":
                    rest, client.buf = client.buf, b""
                    self.on_stdin(client, rest)
        self.listener.setblocking(False)

    def runtime_error(self) -> str:
        """The last error the runtime logged (its --log file, JSON lines)."""
        msg = ""
        try:
            with open(self.p["runtime_log"]) as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("level") in ("error", "fatal"):
                        msg = entry.get("msg", "")
        except OSError:
            pass
        return msg

    def fail(self, message: str) -> None:
        try:
            self.sync_send({"error": message})
        except OSError:
            pass
        subprocess.run(self.runtime("delete", "--force", self.cid), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        try:
            os.unlink(self.p["socket"])
        except OSError:
            pass
        os._exit(1)

    def kill_quietly(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except OSError:
            pass

    def resize(self, h: int, w: int) -> None:
        if self.master is not None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        while True:
            if self.exit is not None and not self.outputs:
                break
            # Backpressure, as docker gives it: while a client is behind, the
            # container's output waits in its pipe (and the process in write()).
            backlogged = self.backlogged()
            rlist: list = [self.wake_r, self.listener]
            if not backlogged:
                rlist += self.outputs
            wlist: list = []
            stdin_full = len(self.stdin_buf) >= STDIN_HIGH_WATER
            for c in self.clients:
                if c.reading and not (stdin_full and c.op == "attach" and c.req.get("stdin")):
                    rlist.append(c.sock)
                if c.out:
                    wlist.append(c.sock)
            target = self.stdin_target()
            if self.stdin_buf and target is not None:
                wlist.append(target)
            timeout = 1.0 if backlogged else None
            if self.exit is not None:
                timeout = 0.5  # drain what is left; orphaned writers may hold a pipe open
            try:
                readable, writable, _ = select.select(rlist, wlist, [], timeout)
            except InterruptedError:
                continue
            if not readable and not writable:
                if self.exit is not None and not backlogged:
                    break
                self.drop_stalled()
                continue
            for r in readable:
                if r is self.wake_r:
                    self.on_signal()
                elif r is self.listener:
                    self.accept()
                elif isinstance(r, int):
                    if r in self.outputs:
                        self.on_output(r)
                else:
                    self.on_client(r)
            for w in writable:
                if isinstance(w, int):
                    self.flush_stdin()
                else:
                    client = self.by_sock.get(w)
                    if client is not None:
                        self.flush_client(client)
            if backlogged:
                self.drop_stalled()
        self.finish()

    def backlogged(self) -> bool:
        return any(c.out.size > HIGH_WATER for c in self.clients if c.op == "attach")

    def drop_stalled(self) -> None:
        """A client that takes nothing for STALL_LIMIT seconds while far behind is
        let go, so one stuck reader cannot hold the container forever."""
        now = time.monotonic()
        for c in list(self.clients):
            if c.op == "attach" and c.out.size > HIGH_WATER and now - c.progress > STALL_LIMIT:
                self.drop(c)

    def on_signal(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                code = os.waitstatus_to_exitcode(status)
                self.exit = {"exit_code": code if code >= 0 else 128 - code,
                             "finished_at": now_rfc3339(), "pid": self.pid}
                if oom_kills(self.p.get("oom_file")):  # read before `crun delete` removes the cgroup
                    self.exit["oom_killed"] = True

    def on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:  # a pty master reads EIO once the slave side is closed
                raise
            data = b""
        if not data:
            del self.outputs[fd]
            if fd != self.master:
                os.close(fd)
            return
        if fd == self.master:
            data = self.more_from_pty(fd, data)
        stream = self.outputs[fd]
        if self.log is not None:
            self.log.write(stream, data)
        header = b"" if self.tty else struct.pack(">BxxxI", 1 if stream == "stdout" else 2, len(data))
        for c in tuple(self.clients):
            if c.op == "attach" and not c.closing and c.req.get(stream):
                idle = not c.out
                c.out.push(header)
                c.out.push(data)
                if idle:
                    c.progress = time.monotonic()
                    self.flush_client(c)  # most of the time it all goes at once

    def more_from_pty(self, fd: int, data: bytes) -> bytes:
        """A pty gives at most a few KiB per read: gather what is ready into one
        chunk, so the log and the clients get one write instead of dozens."""
        parts = [data]
        total = len(data)
        while total < CHUNK:
            try:
                more = os.read(fd, CHUNK - total)
            except OSError:  # EAGAIN: drained; EIO: the slave closed (seen on the next turn)
                break
            if not more:
                break
            parts.append(more)
            total += len(more)
        return data if len(parts) == 1 else b"".join(parts)

    def add_client(self, client: Client) -> None:
        self.clients.append(client)
        self.by_sock[client.sock] = client

    def accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        self.add_client(Client(sock))

    def on_client(self, sock: socket.socket) -> None:
        client = self.by_sock.get(sock)
        if client is None:
            return
        try:
            data = sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if client.op is None:
            if not data:
                self.drop(client)
                return
            client.buf += data
            if b"\n" not in client.buf:
                return
            line, rest = client.buf.split(b"\n", 1)
            client.buf = b""
            try:
                client.req = json.loads(line)
            except ValueError:
                self.drop(client)
                return
            client.op = client.req.get("op")
            self.handle_request(client)
            data = rest
            if client.op != "attach" or not data:
                return
        if client.op == "attach":
            self.on_stdin(client, data)
        elif not data:
            self.end_client(client)

    def handle_request(self, client: Client) -> None:
        op, req = client.op, client.req
        reply = client.out.push
        if op == "watch":
            reply((json.dumps({"pid": self.pid}) + "\n").encode())
            if self.exit is not None and not self.outputs:
                reply((json.dumps(self.exit) + "\n").encode())
        elif op == "kill":
            try:
                if self.exit is None:
                    os.kill(self.pid, int(req.get("signal", signal.SIGKILL)))
                reply(b'{"ok": true}\n')
            except OSError as e:
                reply((json.dumps({"error": e.strerror}) + "\n").encode())
        elif op == "resize":
            try:
                self.resize(int(req["h"]), int(req["w"]))
                reply(b'{"ok": true}\n')
            except (OSError, KeyError, ValueError) as e:
                reply((json.dumps({"error": str(e)}) + "\n").encode())
        elif op == "attach":
            try:
                client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, ATTACH_SNDBUF)
            except OSError:
                pass
        else:
            reply(b'{"error": "unknown op"}\n')

    # ------------------------------------------------------------------ stdin
    def stdin_target(self) -> int | None:
        if not self.p.get("stdin"):
            return None  # without OpenStdin nothing reaches the process (docker)
        return self.master if self.tty else self.stdin_w

    def on_stdin(self, client: Client, data: bytes) -> None:
        if not data:
            client.reading = False
            self.stdin_ended(client)
            return
        if client.req.get("stdin") and self.stdin_target() is not None:
            self.stdin_buf += data
            self.flush_stdin()

    def stdin_ended(self, client: Client) -> None:
        """The client sent EOF (or went away). As docker's attach does: with
        StdinOnce and no TTY the process's stdin is closed and the output goes
        on; otherwise an attach that had stdin ends here."""
        if not (client.req.get("stdin") and self.stdin_target() is not None):
            return  # no stdin attached: the output goes on
        client.req["stdin"] = False
        if client.req.get("stdin_once") and not self.tty:
            self.stdin_close_pending = True
            self.flush_stdin()
        else:
            self.end_client(client)

    def flush_stdin(self) -> None:
        target = self.stdin_target()
        if target is None:
            self.stdin_buf.clear()
        while self.stdin_buf:
            try:
                n = os.write(target, self.stdin_buf)  # type: ignore[arg-type]
            except BlockingIOError:
                return
            except OSError:
                self.stdin_buf.clear()  # the process closed its stdin (EPIPE) or exited
                break
            del self.stdin_buf[:n]
        if self.stdin_close_pending and self.stdin_w is not None:
            os.close(self.stdin_w)
            self.stdin_w = None
            self.stdin_close_pending = False

    # ------------------------------------------------------------------ clients
    def flush_client(self, client: Client) -> None:
        if not client.out:
            return
        try:
            client.out.send(client.sock)
        except BlockingIOError:
            return
        except OSError:
            self.drop(client)
            return
        client.progress = time.monotonic()
        if client.closing and not client.out:
            self.drop(client)

    def end_client(self, client: Client) -> None:
        """Close once what is queued for it has gone."""
        client.reading = False
        client.closing = True
        if not client.out:
            self.drop(client)

    def drop(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
            self.by_sock.pop(client.sock, None)
        try:
            client.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ exit
    def finish(self) -> None:
        for fd in list(self.outputs):
            self.on_output(fd)
        if self.log is not None:
            self.log.flush()
            self.log.close()
        assert self.exit is not None
        write_atomic(self.p["exit_file"], self.exit)
        note = (json.dumps(self.exit) + "\n").encode()
        for c in self.clients:
            if c.op == "watch":
                c.out.push(note)
        # Clients take the rest of their output (bounded by HIGH_WATER); one that
        # takes nothing for a while is given up.
        for c in self.clients:
            c.progress = time.monotonic()
        while True:
            pending = [c for c in self.clients if c.out]
            if not pending:
                break
            try:
                _, writable, _ = select.select([], [c.sock for c in pending], [], 0.5)
            except InterruptedError:
                continue
            for w in writable:
                client = self.by_sock.get(w)
                if client is not None:
                    self.flush_client(client)
            now = time.monotonic()
            for c in pending:
                if c.out and now - c.progress > 2.0:
                    self.drop(c)
        for c in list(self.clients):
            self.drop(c)
        subprocess.run(self.runtime("delete", "--force", self.cid), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        try:
            os.unlink(self.p["socket"])
        except OSError:
            pass


def oom_kills(path: str | None) -> int:
    """The `oom_kill` count of the container's memory cgroup (v1 memory.oom_control,
    v2 memory.events); 0 when unknown."""
    if not path:
        return 0
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def run_monitor(params: dict, sync_fd: int) -> None:
    mon = Monitor(params, sync_fd)
    try:
        mon.start()
    except Exception as e:  # report anything unexpected to the daemon, never hang it
        mon.fail(f"monitor: {e}")
    mon.run()


def serve_forks(control_fd: int) -> None:
    """The zygote: forks one monitor per request from the daemon.

    Forked monitors share this process's interpreter and imported modules
    copy-on-write (gc.freeze keeps the collector from dirtying them), so each
    costs a fraction of a fresh interpreter and starts without Python's start-up.
    Each request is one datagram: the JSON params, with the sync socket and the
    monitor's log file passed as descriptors. When the daemon goes away the
    control socket closes and the zygote exits; monitors live on.
    """
    import gc

    control = socket.socket(fileno=control_fd)
    gc.collect()
    gc.freeze()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(control, 1 << 20, 2)
        except InterruptedError:
            continue
        except OSError:
            return
        if not msg:
            return
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        sync_fd, log_fd = fds
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                if os.fork() > 0:
                    os._exit(0)
                os.setsid()
                os.dup2(log_fd, 1)
                os.dup2(log_fd, 2)
                os.close(log_fd)
                run_monitor(json.loads(msg), sync_fd)
            finally:
                os._exit(0)
        os.close(sync_fd)
        os.close(log_fd)
        os.waitpid(pid, 0)


def main() -> None:
    if sys.argv[1] == "--zygote":
        serve_forks(int(sys.argv[2]))
        return
    params_path, sync_fd = sys.argv[1], int(sys.argv[2])
    with open(params_path) as f:
        params = json.load(f)
    # Detach: the daemon reaps the first process at once; the second lives on.
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    run_monitor(params, sync_fd)


if __name__ == "__main__":
    main()
