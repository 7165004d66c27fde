"""Exec instances: more processes in a running container (`docker exec`).

The daemon is the parent of each exec: it runs `<runtime> exec -p process.json`
in the foreground with pipes (or, for a TTY, receives the pty master over a
console socket), so the exit code comes straight from waitpid and no helper
process is needed. Exec instances live in memory only: like docker, a
restarted daemon knows none (their processes need not outlive it).

The process spec starts from the container's own (`config.json` of its bundle:
capabilities, rlimits, no-new-privileges, labels), as docker's does, and
overrides args, env, cwd, user and terminal. The runtime writes the exec's pid
into a FIFO we hold open, which tells us the moment the process has started
(and its pid) without polling; its errors go to a JSON log read only when it
fails.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field

from berth.engine.containers import ContainerService
from berth.engine.events import EventBus
from berth.engine.exec_process import START_FAILED_EXIT, ExecProcess
from berth.engine.model import Container
from berth.errors import BerthError, Conflict, ExecNotFound, InvalidParameter, System

log = logging.getLogger("berth.engine.exec")

FINISHED_KEEP_SECONDS = 300       # finished execs stay inspectable this long, as in docker
GC_INTERVAL = 60.0

# docker's detach-key names (moby/term): ctrl-@ is 0, ctrl-a..ctrl-z 1..26, then [ \ ] ^ _.
_CTRL_KEYS = {"ctrl-@": 0, **{f"ctrl-{chr(ord('a') + i)}": i + 1 for i in range(26)},
              "ctrl-[": 27, "ctrl-\\": 28, "ctrl-]": 29, "ctrl-^": 30, "ctrl-_": 31}


def parse_detach_keys(keys: str) -> bytes:
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out += key.encode()
        elif key in _CTRL_KEYS:
            out.append(_CTRL_KEYS[key])
        else:
            raise InvalidParameter(f"Invalid escape keys ({keys}) provided")
    return bytes(out)


@dataclass
class Exec:
    id: str
    container_id: str
    run: str                      # the container's StartedAt: an exec belongs to one run
    entrypoint: str
    args: list[str]
    env: list[str]
    user: str
    workdir: str
    tty: bool
    privileged: bool
    open_stdin: bool
    open_stdout: bool
    open_stderr: bool
    detach_keys: bytes
    console_size: list[int] | None
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    finished_at: float = 0.0
    process: ExecProcess | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def inspect(self) -> dict:
        pc: dict = {"tty": self.tty, "entrypoint": self.entrypoint, "arguments": self.args,
                    "privileged": self.privileged}
        if self.user:
            pc["user"] = self.user
        return {
            "ID": self.id, "Running": self.running, "ExitCode": self.exit_code, "ProcessConfig": pc,
            "OpenStdin": self.open_stdin, "OpenStderr": self.open_stderr, "OpenStdout": self.open_stdout,
            "CanRemove": False, "ContainerID": self.container_id,
            # docker marshals the parsed key bytes, which Go's JSON writes as base64
            "DetachKeys": base64.b64encode(self.detach_keys).decode(),
            "Pid": self.pid,
        }


class ExecService:
    def __init__(self, containers: ContainerService, events: EventBus) -> None:
        self.containers = containers
        self.cfg = containers.cfg
        self.events = events
        self.execs: dict[str, Exec] = {}
        self.live: dict[str, dict[str, None]] = {}      # container id -> ids not yet finished
        self._spec_cache: dict[str, tuple[str, dict, str, str]] = {}  # cid -> (run, process, runtime, root)
        self._last_gc = time.monotonic()
        # Exec instances do not survive the daemon: their scratch files neither.
        self.dir = os.path.join(self.cfg.exec_root, "execs")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)

    # ------------------------------------------------------------------ lookup
    def ids_for(self, container_id: str) -> list[str] | None:
        """Inspect's ExecIDs: the execs of the container's current run not yet finished."""
        live = self.live.get(container_id)
        c = self.containers.containers.get(container_id)
        if not live or c is None or not c.running:
            return None
        run = c.state.get("StartedAt", "")
        ids = [eid for eid in live if self.execs[eid].run == run]
        return ids or None

    def get(self, exec_id: str) -> Exec:
        ex = self.execs.get(exec_id)
        if ex is None:
            raise ExecNotFound(exec_id)
        c = self.containers.containers.get(ex.container_id)
        if c is None:
            raise ExecNotFound(exec_id)
        if ex.exit_code is None and not ex.running and not self._same_run(c, ex):
            raise ExecNotFound(exec_id)  # docker drops unstarted execs when their container stops
        if not ex.pid and ex.process is not None:
            ex.process.pid_from_file()
        return ex

    @staticmethod
    def _same_run(c: Container, ex: Exec) -> bool:
        return c.running and c.state.get("StartedAt", "") == ex.run

    @staticmethod
    def _check_active(c: Container, ref: str) -> None:
        if not c.running:
            raise Conflict(f"container {c.id} is not running")
        if c.state.get("Paused"):
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state.get("Restarting"):
            raise Conflict(f"container {c.id} is restarting, wait until the container is running")

    # ------------------------------------------------------------------ create
    def create(self, ref: str, body: dict) -> Exec:
        cmd = body.get("Cmd")
        if cmd is not None and (not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd)):
            raise InvalidParameter("json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string")
        if not cmd:
            raise InvalidParameter("No exec command specified")
        env_in = body.get("Env") or []
        if not isinstance(env_in, list) or not all(isinstance(e, str) for e in env_in):
            raise InvalidParameter("json: cannot unmarshal into Go struct field ExecConfig.Env of type []string")
        c = self.containers.get(ref)
        self._check_active(c, ref)
        keys = body.get("DetachKeys") or ""
        detach_keys = parse_detach_keys(keys) if keys else b""
        tty = bool(body.get("Tty"))
        from berth.runtime.spec import build_env

        cfg = c.config
        env = build_env({"Tty": tty, "Env": [*(cfg.get("Env") or []), *env_in]},
                        cfg.get("Hostname") or c.id[:12])
        size = body.get("ConsoleSize")
        ex = Exec(
            id=secrets.token_hex(32), container_id=c.id, run=c.state.get("StartedAt", ""),
            entrypoint=cmd[0], args=list(cmd[1:]), env=env,
            user=body.get("User") or cfg.get("User") or "",
            workdir=body.get("WorkingDir") or cfg.get("WorkingDir") or "",
            tty=tty, privileged=bool(body.get("Privileged")),
            open_stdin=bool(body.get("AttachStdin")), open_stdout=bool(body.get("AttachStdout")),
            open_stderr=bool(body.get("AttachStderr")), detach_keys=detach_keys,
            console_size=list(size) if isinstance(size, list) and len(size) == 2 and any(size) else None,
        )
        self.execs[ex.id] = ex
        self.live.setdefault(c.id, {})[ex.id] = None
        self._event(c, "exec_create: " + " ".join(cmd), ex.id)
        self._maybe_gc()
        return ex

    def _event(self, c: Container, action: str, exec_id: str, **extra: str) -> None:
        attrs = {"image": c.config.get("Image", ""), "name": c.name.lstrip("/")}
        attrs.update(c.config.get("Labels") or {})
        attrs["execID"] = exec_id
        attrs.update(extra)
        self.events.publish("container", action, c.id, attrs)

    # ------------------------------------------------------------------ start
    def for_start(self, exec_id: str) -> Exec:
        """The exec to start, if its container can run it (docker checks this before
        it hijacks the connection, so these are plain HTTP errors)."""
        ex = self.execs.get(exec_id)
        if ex is None:
            raise ExecNotFound(exec_id)
        c = self.containers.containers.get(ex.container_id)
        if c is None:
            raise ExecNotFound(exec_id)
        self._check_active(c, c.id)
        if ex.exit_code is None and not ex.running and ex.run != c.state.get("StartedAt", ""):
            raise ExecNotFound(exec_id)
        return ex

    @staticmethod
    def claim(ex: Exec) -> None:
        """Mark the exec as starting; synchronous, so two starts cannot race."""
        if ex.exit_code is not None:
            raise Conflict(f"Error: Exec command {ex.id} has already run")
        if ex.running:
            raise Conflict(f"Error: Exec command {ex.id} is already running")
        ex.running = True

    async def start(self, ex: Exec, *, attach: bool, console_size: list[int] | None = None) -> ExecProcess:
        """Run a claimed exec. With attach, its stdio are ours to relay; without, they
        go to /dev/null and this returns once the process has started.
        Raises BerthError when it cannot start (the exec then has exit code 126)."""
        c = self.containers.containers.get(ex.container_id)
        try:
            if c is None or not self._same_run(c, ex):
                raise Conflict(f"container {ex.container_id} is not running")
            size = console_size if console_size and any(console_size) else ex.console_size
            process, runtime, root = self._process_spec(c, ex, size)
            proc = ExecProcess(self, ex, runtime, root, process, attach)
            await proc.spawn()
        except BaseException as e:
            self._finish(ex, START_FAILED_EXIT)
            ex.started.set()
            if isinstance(e, BerthError) or not isinstance(e, Exception):
                raise
            log.exception("exec %s failed to start", ex.id[:12])
            raise System(f"exec failed: {e}") from None
        ex.process = proc
        ex.started.set()
        self._event(c, "exec_start: " + " ".join([ex.entrypoint, *ex.args]), ex.id)
        if not attach:
            await proc.wait_started()
        return proc

    def _process_spec(self, c: Container, ex: Exec, size: list[int] | None) -> tuple[dict, str, str]:
        run = c.state.get("StartedAt", "")
        cached = self._spec_cache.get(c.id)
        if cached is None or cached[0] != run:
            try:
                with open(os.path.join(self.containers.run_dir(c.id), "config.json"), "rb") as f:
                    base = json.loads(f.read()).get("process") or {}
            except (OSError, ValueError) as e:
                raise System(f"cannot read the container's runtime spec: {e}") from None
            runtime, root = self._runtime_for(c)
            cached = (run, base, runtime, root)
            self._spec_cache[c.id] = cached
        _, base, runtime, root = cached
        process = dict(base)
        process["args"] = [ex.entrypoint, *ex.args]
        process["env"] = ex.env
        process["cwd"] = ex.workdir or "/"
        process["terminal"] = ex.tty
        process.pop("consoleSize", None)
        if ex.tty and size:
            process["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
        if ex.user != (c.config.get("User") or ""):
            from berth.runtime.users import oci_user, resolve_user, with_home

            rootfs = c.doc.get("GraphDriver", {}).get("Data", {}).get("MergedDir", "")
            uid, gid, sgids = resolve_user(rootfs, ex.user, c.host_config.get("GroupAdd"))
            process["user"] = oci_user(uid, gid, sgids)
            process["env"] = with_home(ex.env, rootfs, uid)
        if ex.privileged:
            from berth.runtime.capabilities import available_caps

            caps = list(available_caps())
            process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
        return process, runtime, root

    def _runtime_for(self, c: Container) -> tuple[str, str]:
        """The runtime binary and state root the container's monitor was given."""
        names = [c.host_config.get("Runtime") or self.cfg.default_runtime]
        names += [n for n in self.cfg.runtimes if n not in names]
        for name in names:
            binary = self.cfg.runtimes.get(name)
            root = os.path.join(self.cfg.exec_root, "runtime-" + name)
            if binary and os.path.isdir(os.path.join(root, c.id)):
                return binary, root
        name = names[0]
        if name not in self.cfg.runtimes:
            raise InvalidParameter(f"unknown or invalid runtime name: {name}")
        return self.cfg.runtimes[name], os.path.join(self.cfg.exec_root, "runtime-" + name)

    def _finish(self, ex: Exec, code: int) -> None:
        ex.exit_code = code
        ex.running = False
        ex.finished_at = time.monotonic()
        live = self.live.get(ex.container_id)
        if live is not None:
            live.pop(ex.id, None)
            if not live:
                del self.live[ex.container_id]

    def on_exit(self, ex: Exec, code: int) -> None:
        self._finish(ex, code)
        c = self.containers.containers.get(ex.container_id)
        if c is not None:
            self._event(c, "exec_die", ex.id, exitCode=str(code))

    def detached(self, ex: Exec) -> None:
        """The client left with the detach keys; the process runs on."""
        c = self.containers.containers.get(ex.container_id)
        if c is not None:
            self._event(c, "exec_detach", ex.id)

    # ------------------------------------------------------------------ resize
    async def resize(self, exec_id: str, h: int, w: int) -> None:
        ex = self.get(exec_id)
        c = self.containers.containers.get(ex.container_id)
        if c is not None and ex.exit_code is None:
            self._check_active(c, c.id)
        if not ex.started.is_set():
            try:
                await asyncio.wait_for(ex.started.wait(), 10)
            except TimeoutError:
                raise System("timeout waiting for exec session ready") from None
        if ex.process is not None:
            ex.process.resize(h, w)

    # ------------------------------------------------------------------ cleanup
    def _maybe_gc(self) -> None:
        now = time.monotonic()
        if now - self._last_gc < GC_INTERVAL:
            return
        self._last_gc = now
        for eid, ex in list(self.execs.items()):
            c = self.containers.containers.get(ex.container_id)
            finished_long_ago = ex.exit_code is not None and now - ex.finished_at > FINISHED_KEEP_SECONDS
            orphaned = c is None or (ex.exit_code is None and not ex.running and not self._same_run(c, ex))
            if finished_long_ago or orphaned:
                del self.execs[eid]
                live = self.live.get(ex.container_id)
                if live is not None:
                    live.pop(eid, None)
                    if not live:
                        del self.live[ex.container_id]
        for cid in [cid for cid in self._spec_cache if cid not in self.containers.containers]:
            del self._spec_cache[cid]
