"""One exec's process: `<runtime> exec` as a child of the daemon, and its stdio.

The runtime writes the exec's pid into a FIFO we hold open (the moment the
process started, without polling); the exit code comes from a pidfd and
waitpid; output is read in chunks and paused when a client falls behind; with a
TTY the pty master arrives over a console socket.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import stat
import struct
import subprocess
import termios
from collections import deque
from typing import TYPE_CHECKING

from berth.errors import BerthError, InvalidParameter, System

if TYPE_CHECKING:
    from berth.engine.execs import Exec, ExecService

log = logging.getLogger("berth.engine.exec")

DRAIN_IDLE_AFTER_EXIT = 0.2       # output still open after exit: a background child holds it
READ_CHUNK = 1 << 16
HIGH_WATER = 32                   # chunks buffered before the pipes are paused
START_FAILED_EXIT = 126           # docker's exit code for an exec that could not start


def _take_controlling_tty() -> None:
    """In the child, after setsid: make its stdin (our pty's slave) its terminal.
    (Runs between fork and exec: only an ioctl, nothing that takes a lock.)"""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


def _size_of(console: dict | None) -> tuple[int, int] | None:
    if not console:
        return None
    return int(console.get("height", 0)), int(console.get("width", 0))


class ExecProcess:
    """One `<runtime> exec` child of the daemon and its stdio."""

    def __init__(self, svc: ExecService, ex: Exec, runtime: str, root: str, process: dict,
                 attach: bool) -> None:
        self.svc = svc
        self.ex = ex
        self.runtime = runtime
        self.root = root
        self.process = process
        self.attach = attach
        self.loop = asyncio.get_running_loop()
        base = os.path.join(svc.dir, ex.id)
        self.spec_path = base + ".json"
        self.pid_path = base + ".pid"
        self.log_path = base + ".log"
        self.console_path = os.path.join(svc.dir, ex.id[:16] + ".sock")
        # runc takes a console socket only when it detaches (see spawn), and it writes
        # its pid file by renaming a temporary file over it, so the FIFO hears nothing.
        is_runc = os.path.basename(runtime) == "runc"
        self.console_socket = ex.tty and not is_runc
        self.popen: subprocess.Popen | None = None
        self.exited: asyncio.Future[int] = self.loop.create_future()   # the exec's exit code
        self.pid_known: asyncio.Future[int] = self.loop.create_future()
        self.error: str | None = None
        self.error_is_command = False   # the command cannot be run (docker: invalid parameter)
        self.stdin: _Writer | None = None
        self.master: int | None = None
        self._pending_size: tuple[int, int] | None = None  # a resize that came before the pty
        self._chunks: deque[tuple[int, bytes]] = deque()
        self._waiter: asyncio.Future | None = None
        self._readers: list[_Reader] = []
        self._open_outputs = 0
        self._pidfd = -1
        self._fifo = -1
        self._paused = False
        self._drain_timer: asyncio.TimerHandle | None = None
        self._stdin_fd = -1
        # Output is held until crun reports the pid: before that, what reaches the
        # pipes is its complaint about a process that never ran (runc logs it only).
        self._holding = not is_runc
        self._drop_late = False

    # ------------------------------------------------------------------ spawn
    async def spawn(self) -> None:
        """Start the runtime with the exec's stdio:
        - no TTY: pipes (or /dev/null for what is not attached);
        - TTY with crun: the pty master comes back over a console socket;
        - TTY with runc: runc takes a console socket only when it detaches (and then is
          no longer our child), so it runs in the foreground on a pty of ours as its
          controlling terminal and relays it to the container's; resizing ours reaches
          it as SIGWINCH."""
        ex = self.ex
        with open(self.spec_path, "w") as f:
            f.write(json.dumps(self.process))
        os.mkfifo(self.pid_path, 0o600)
        self._fifo = os.open(self.pid_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        argv = [self.runtime, "--root", self.root, "--log", self.log_path, "--log-format", "json",
                "exec", "-p", self.spec_path, "--pid-file", self.pid_path]
        console: socket.socket | None = None
        child_fds: list[int] = []
        ours: list[int] = []
        relay_pty = ex.tty and not self.console_socket
        try:
            devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            child_fds.append(devnull)
            stdio = [devnull, devnull, devnull]
            if self.console_socket:
                console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                try:
                    os.unlink(self.console_path)
                except FileNotFoundError:
                    pass
                console.bind(self.console_path)
                console.listen(1)
                argv += ["--console-socket", self.console_path]
            elif relay_pty:
                import tty

                master, slave = os.openpty()
                tty.setraw(slave)  # ours only relays: the container's pty echoes and translates
                self.master = master
                ours.append(master)
                child_fds.append(slave)
                stdio = [slave, slave, slave]
                size = self.process.get("consoleSize")
                if size:
                    self.resize(int(size["height"]), int(size["width"]))
            elif self.attach:
                if ex.open_stdin:
                    r, w = os.pipe2(os.O_CLOEXEC)
                    stdio[0] = r
                    child_fds.append(r)
                    ours.append(w)
                    self._stdin_fd = w
                for i, wanted in ((1, ex.open_stdout), (2, ex.open_stderr)):
                    if wanted:
                        r, w = os.pipe2(os.O_CLOEXEC)
                        stdio[i] = w
                        child_fds.append(w)
                        ours.append(r)
                        self._readers.append(_Reader(self, i, r))
            argv.append(ex.container_id)
            self.popen = subprocess.Popen(argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                                          close_fds=True, start_new_session=relay_pty,
                                          preexec_fn=_take_controlling_tty if relay_pty else None)
        except BaseException:
            for fd in ours:
                os.close(fd)
            self.master = None
            if console is not None:
                console.close()
            self._cleanup_files()
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        self._pidfd = os.pidfd_open(self.popen.pid)
        self.loop.add_reader(self._pidfd, self._on_child_exit)
        self.loop.add_reader(self._fifo, self._on_pid)
        if console is not None:
            try:
                await self._receive_master(console)
            finally:
                console.close()
                try:
                    os.unlink(self.console_path)
                except OSError:
                    pass
        if self.master is not None:
            os.set_blocking(self.master, False)
            # Detached, nobody reads the pty: as under docker, the process blocks
            # once its buffer is full. Holding the master spares it a hangup.
            if self.attach:
                self._readers.append(_Reader(self, 1, os.dup(self.master)))
                if ex.open_stdin:
                    self.stdin = _Writer(self.loop, os.dup(self.master))
        elif self.attach and ex.open_stdin:
            self.stdin = _Writer(self.loop, self._stdin_fd)
        self._open_outputs = len(self._readers)
        for reader in self._readers:
            reader.start()
        if self.exited.done():
            if self._open_outputs:
                self._arm_drain_timer()
            else:
                self._maybe_finalize()

    async def _receive_master(self, console: socket.socket) -> None:
        accept = asyncio.ensure_future(self.loop.sock_accept(console))
        done, _ = await asyncio.wait({accept, self.exited}, timeout=30,
                                     return_when=asyncio.FIRST_COMPLETED)
        if accept not in done:
            accept.cancel()
            return
        conn, _ = accept.result()
        try:
            ready = self.loop.create_future()
            self.loop.add_reader(conn.fileno(), _resolve, ready)
            try:
                await asyncio.wait({ready, self.exited}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.loop.remove_reader(conn.fileno())
            try:
                _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
            except (BlockingIOError, OSError):
                return
            if fds:
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
                # Set the size ourselves: the runtime may hand the pty over before it applied
                # the consoleSize it was given.
                size = self._pending_size or _size_of(self.process.get("consoleSize"))
                if size is not None:
                    self.resize(*size)
        finally:
            conn.close()

    def _on_pid(self) -> None:
        try:
            data = os.read(self._fifo, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self._close_fifo()
        try:
            pid = int(data.strip() or b"0")
        except ValueError:
            pid = 0
        if pid > 0:
            self.ex.pid = pid
            if not self.pid_known.done():
                self.pid_known.set_result(pid)
            self._release_output()

    def _release_output(self) -> None:
        if self._holding:
            self._holding = False
            self._wake()

    def _close_fifo(self) -> None:
        if self._fifo >= 0:
            self.loop.remove_reader(self._fifo)
            os.close(self._fifo)
            self._fifo = -1

    async def wait_started(self) -> None:
        """Until the runtime reports the pid (started) or exits (failed or already done).
        runc replaces the FIFO by renaming a file over it: look for that too."""
        while not self.pid_known.done() and not self.exited.done():
            await asyncio.wait({self.pid_known, self.exited}, timeout=0.01,
                               return_when=asyncio.FIRST_COMPLETED)
            self.pid_from_file()
        if self.exited.done() and self.error is not None:
            if self.error_is_command:
                raise InvalidParameter(self.error)
            raise System(self.error)

    def pid_from_file(self) -> None:
        if self.ex.pid:
            return
        try:
            st = os.stat(self.pid_path)
            if not stat.S_ISREG(st.st_mode):
                return
            with open(self.pid_path) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return
        if pid > 0:
            self.ex.pid = pid
            if not self.pid_known.done():
                self.pid_known.set_result(pid)
            self._release_output()

    # ------------------------------------------------------------------ exit
    def _on_child_exit(self) -> None:
        assert self.popen is not None
        rc = self.popen.poll()
        if rc is None:
            return
        self.loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        if self._fifo >= 0:
            try:  # the pid may be in the FIFO still unread
                self._on_pid()
            finally:
                self._close_fifo()
        self.pid_from_file()
        code = 128 - rc if rc < 0 else rc
        if code != 0:
            failure = self._runtime_error()
            if failure is not None:
                self.error = self._docker_message(failure)
                code = START_FAILED_EXIT
                self._chunks.clear()
                self._drop_late = True
        self._cleanup_files()
        if self.stdin is not None and self.ex.tty:
            self.stdin.close()
        self.svc.on_exit(self.ex, code)
        self.exited.set_result(code)
        self._release_output()
        if self._open_outputs:
            self._arm_drain_timer()
        else:
            self._maybe_finalize()
        self._wake()

    def _runtime_error(self) -> str | None:
        msg = None
        try:
            with open(self.log_path, "rb") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("level") in ("error", "fatal"):
                        msg = str(entry.get("msg", ""))
        except OSError:
            pass
        return msg

    def _docker_message(self, failure: str) -> str:
        """The runtime's error in the words docker (runc) uses."""
        detail = failure
        for prefix in ("exec failed: ", "unable to start container process: "):
            detail = detail.removeprefix(prefix)
        low = failure.lower()
        if "executable file" in low or "open executable" in low or "exec" in low and "permission" in low:
            detail = self._command_problem() or failure
            self.error_is_command = True
            if detail.endswith(": is a directory"):  # runc's execve says EACCES
                detail = detail[: -len("is a directory")] + "permission denied"
        elif low.startswith("chdir"):
            cwd = self.process.get("cwd", "/")
            reason = failure.rsplit(":", 1)[-1].strip().lower()
            detail = f'chdir to cwd ("{cwd}") set in config.json failed: {reason}'
        if "not a directory" in detail.lower():  # docker's hint for ENOTDIR
            detail += (": unknown: Are you trying to mount a directory onto a file (or vice-versa)? "
                       "Check if the specified host path exists and is the expected type")
            return f"OCI runtime exec failed: exec failed: unable to start container process: {detail}"
        return f"OCI runtime exec failed: exec failed: unable to start container process: {detail}: unknown"

    def _command_problem(self) -> str | None:
        from berth.engine.rootfs_files import check_command

        c = self.svc.containers.containers.get(self.ex.container_id)
        if c is None:
            return None
        rootfs = c.doc.get("GraphDriver", {}).get("Data", {}).get("MergedDir", "")
        try:
            check_command(rootfs, self.ex.entrypoint, self.ex.env, self.process.get("cwd", "/"))
        except BerthError as e:
            return e.message
        except OSError:
            return None
        return None

    def _cleanup_files(self) -> None:
        for path in (self.spec_path, self.pid_path, self.log_path):
            try:
                os.unlink(path)
            except OSError:
                pass

    async def wait(self) -> int:
        return await asyncio.shield(self.exited)

    # ------------------------------------------------------------------ output
    def _push(self, stream: int, data: bytes) -> None:
        if not self.attach or self._drop_late:
            return
        self._chunks.append((stream, data))
        if self._drain_timer is not None:
            self._arm_drain_timer()
        if len(self._chunks) >= HIGH_WATER and not self._paused:
            self._paused = True
            for r in self._readers:
                r.pause()
        self._wake()

    def _reader_done(self) -> None:
        self._open_outputs -= 1
        if self._open_outputs <= 0 and self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        self._maybe_finalize()
        self._wake()

    def _maybe_finalize(self) -> None:
        if self.exited.done() and self._open_outputs <= 0 and not self._chunks:
            self.close()

    def _arm_drain_timer(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        self._drain_timer = self.loop.call_later(DRAIN_IDLE_AFTER_EXIT, self._drain_expired)

    def _drain_expired(self) -> None:
        self._drain_timer = None
        for r in self._readers:
            r.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> tuple[int, bytes] | None:
        """The next output chunk (stream 1 or 2), None once all output has ended."""
        while True:
            if self._chunks and not self._holding:
                item = self._chunks.popleft()
                if self._paused and len(self._chunks) < HIGH_WATER // 2:
                    self._paused = False
                    for r in self._readers:
                        r.resume()
                return item
            if self._open_outputs <= 0 and not self._chunks:
                return None
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    # ------------------------------------------------------------------ input, tty
    async def write_stdin(self, data: bytes) -> None:
        if self.stdin is not None:
            await self.stdin.write(data)

    def close_stdin(self) -> None:
        """The client half-closed: end the process's stdin (a TTY has no EOF to give)."""
        if self.stdin is not None and not self.ex.tty:
            self.stdin.close()

    def resize(self, h: int, w: int) -> None:
        if self.master is None:
            self._pending_size = (h, w)
            return
        if self.exited.done():
            return
        try:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
        except OSError:
            pass

    def disconnect(self, detached: bool = False) -> None:
        """The client is gone. Its pipes are closed, so the process ends at its next write
        (SIGPIPE, as when an ssh client goes away) instead of the daemon draining it
        forever; after the detach keys the process is meant to run on, so its output is
        only left unread (a TTY at a prompt writes nothing)."""
        self.attach = False
        self._chunks.clear()
        if detached:
            self._paused = True
            for r in self._readers:
                r.pause()
            if self.stdin is not None and not self.ex.tty:
                self.stdin.close()
        else:
            for r in self._readers:
                r.close()
            if self.stdin is not None:
                self.stdin.close()
            if self.master is not None:  # a terminal that goes away hangs up its session
                os.close(self.master)
                self.master = None
        self._maybe_finalize()

    def close(self) -> None:
        """Release what we hold once the stream is over (idempotent)."""
        for r in self._readers:
            if not r.closed:
                r.close()
        if self.stdin is not None:
            self.stdin.close()
        if self.master is not None and self.exited.done():
            os.close(self.master)
            self.master = None
        if self.exited.done() and self.ex.process is self:
            self.ex.process = None


class _Reader:
    """Reads one output pipe (or a dup of the pty master) into the process's queue."""

    def __init__(self, owner: ExecProcess, stream: int, fd: int) -> None:
        self.owner = owner
        self.stream = stream
        self.fd = fd
        os.set_blocking(fd, False)
        self.active = False
        self.closed = False

    def start(self) -> None:
        self.owner.loop.add_reader(self.fd, self._ready)
        self.active = True

    def pause(self) -> None:
        if self.active:
            self.owner.loop.remove_reader(self.fd)
            self.active = False

    def resume(self) -> None:
        if not self.active and not self.closed:
            self.owner.loop.add_reader(self.fd, self._ready)
            self.active = True

    def _ready(self) -> None:
        try:
            data = os.read(self.fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:   # EIO: the pty's other side is gone
            data = b""
        if data:
            self.owner._push(self.stream, data)
        else:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.pause()
        self.closed = True
        os.close(self.fd)
        self.owner._reader_done()


class _Writer:
    """Non-blocking writes to the process's stdin (a pipe, or a dup of the pty master)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.loop = loop
        self.fd = fd
        self._ready: asyncio.Future | None = None
        os.set_blocking(fd, False)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self.fd >= 0:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                ready = self._ready = self.loop.create_future()
                self.loop.add_writer(self.fd, _resolve, ready)
                try:
                    await ready
                finally:
                    self._ready = None
                    if self.fd >= 0:
                        self.loop.remove_writer(self.fd)
                continue
            except OSError:   # EPIPE: the process no longer reads its stdin
                self.close()
                return
            view = view[n:]

    def close(self) -> None:
        if self.fd >= 0:
            self.loop.remove_writer(self.fd)
            os.close(self.fd)
            self.fd = -1
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
