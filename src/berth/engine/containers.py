"""Container lifecycle: create, start, stop, kill, remove, wait, rename.

Desired and observed state go to SQLite before a request is answered; the
live process state comes from each container's monitor, never from memory,
so a restarted daemon rebuilds everything with `reconcile()`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal as sig
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from berth.engine import monitor_link, names, start_env
from berth.engine import restart as restart_policy
from berth.engine import create_config
from berth.engine.events import EventBus
from berth.engine.model import Container, merge_image_config, new_state
from berth.engine.removal import RemovalMixin
from berth.engine.rootfs_files import check_command
from berth.engine.signals import parse_signal
from berth.errors import (BerthError, Conflict, ContainerNotFound, InvalidParameter, NotModified,
                          System)
from berth.images.store import ImageStore
from berth.snapshots.overlay import OverlaySnapshotter
from berth.store.metadata import Metadata, dumps
from berth.timefmt import ZERO_TIME, rfc3339nano, unix_from_iso

log = logging.getLogger("berth.engine")

@dataclass
class EngineConfig:
    data_root: str
    exec_root: str
    default_runtime: str
    runtimes: dict[str, str]        # name -> binary path
    init_binary: str | None
    log_driver: str = "json-file"   # daemon.json "log-driver" / "log-opts": defaults for containers
    log_opts: dict = field(default_factory=dict)
    idmap: object = None            # --userns-remap: runtime/userns.IdMapping for new containers


class ContainerService(RemovalMixin):
    def __init__(self, cfg: EngineConfig, md: Metadata, images: ImageStore,
                 snaps: OverlaySnapshotter, events: EventBus) -> None:
        self.cfg = cfg
        self.md = md
        self.images = images
        self.snaps = snaps
        self.events = events
        self.containers: dict[str, Container] = {}
        self.by_name: dict[str, str] = {}
        os.makedirs(os.path.join(cfg.data_root, "containers"), exist_ok=True)
        os.makedirs(os.path.join(cfg.exec_root, "c"), exist_ok=True)
        self.launcher = monitor_link.Launcher(os.path.join(cfg.exec_root, "monitors.log"))
        # Other services follow a container's runs (healthchecks): called after start / exit.
        self.on_started: list[Callable[[Container], None]] = []
        self.on_exited: list[Callable[[Container], None]] = []
        # Run after a signal is delivered (pause: a frozen container must be thawed to die).
        self.after_signal: list[Callable[[Container, int], Awaitable[None]]] = []
        from berth.engine.mounts import MountManager  # volumes, binds, tmpfs (engine/mounts.py)
        self.mounts = MountManager(self)
        self.networking = None  # engine/networking.py NetworkService, set by the daemon

    # ------------------------------------------------------------------ lookup
    def get(self, ref: str) -> Container:
        """By full id, name (with or without /), or unique id prefix, like docker."""
        c = self.containers.get(ref)
        if c is not None:
            return c
        cid = self.by_name.get(ref if ref.startswith("/") else "/" + ref)
        if cid is not None:
            return self.containers[cid]
        if ref and all(ch in "0123456789abcdef" for ch in ref):
            matches = [c for cid, c in self.containers.items() if cid.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise ContainerNotFound(ref)

    def state_dir(self, cid: str) -> str:
        return os.path.join(self.cfg.data_root, "containers", cid)

    def run_dir(self, cid: str) -> str:
        return os.path.join(self.cfg.exec_root, "c", cid)

    def monitor_socket(self, cid: str) -> str:
        return os.path.join(self.run_dir(cid), "m.sock")

    def summary(self, c: Container, now: float) -> dict:
        """The list entry, with docker's rule for the Image column: the reference the
        container was created with while it still names the same image, else its id."""
        ref = c.config.get("Image", "")
        try:
            found = self.images.lookup(ref)
        except BerthError:
            found = None
        return c.summary(now, ref if found is not None and found.id == c.doc["Image"] else None)

    def users_of_image(self, image_id: str) -> list[tuple[str, bool]]:
        return [(c.id, c.running) for c in self.containers.values() if c.doc["Image"] == image_id]

    # ------------------------------------------------------------------ create
    def create(self, body: dict, name: str | None) -> tuple[Container, list[str]]:
        warnings: list[str] = []
        if name:
            if not names.VALID_NAME.match(name):
                raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            full = "/" + name.lstrip("/")
            if full in self.by_name:
                other = self.by_name[full]
                raise Conflict(f'Conflict. The container name "{full}" is already in use by container "{other}". '
                               "You have to remove (or rename) that container to be able to reuse that name.")
        else:
            full = "/" + names.generate(self.by_name)
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidParameter("config cannot be empty in order to create a container")
        image = self.images.resolve(image_ref)
        host_config = create_config.host_config(body.get("HostConfig") or {},
                                                (self.cfg.log_driver, self.cfg.log_opts))
        if self.cfg.idmap is not None:  # --userns-remap: dockerd's refusals (privileged, host ns)
            from berth.runtime.userns import check_container
            check_container(host_config)
        warnings += create_config.validate_host_config(host_config, self.cfg.runtimes,
                                                       networks=self.networking is not None)
        config = create_config.container_config(body)
        net_settings = (self.networking.create_settings(body, config, host_config, full) if self.networking is not None
                        else create_config.network_settings(host_config.get("NetworkMode") or "bridge"))
        if config.get("StopSignal"):
            parse_signal(config["StopSignal"])
        if host_config.get("Memory") and not host_config.get("MemorySwap"):
            host_config["MemorySwap"] = 2 * host_config["Memory"]  # docker's default, shown in inspect
        config["Image"] = image_ref
        config = merge_image_config(image.config.get("config") or {}, config)
        entry = config.get("Entrypoint") or []
        cmd = config.get("Cmd") or []
        argv = [*entry, *cmd]
        if not argv:
            raise InvalidParameter("no command specified")
        cid = secrets.token_hex(32)
        mounts, mount_specs = self.mounts.prepare(cid, config, host_config)
        if not config.get("Hostname"):
            config["Hostname"] = cid[:12]
        if host_config.get("NetworkMode") in ("", None):
            host_config["NetworkMode"] = "bridge"
        created = rfc3339nano()
        state_dir = self.state_dir(cid)
        log_type = host_config["LogConfig"]["Type"]
        doc = {
            "Id": cid,
            "Created": created,
            "Path": argv[0],
            "Args": argv[1:],
            "Image": image.id,
            "ResolvConfPath": os.path.join(state_dir, "resolv.conf"),
            "HostnamePath": os.path.join(state_dir, "hostname"),
            "HostsPath": os.path.join(state_dir, "hosts"),
            "LogPath": os.path.join(state_dir, f"{cid}-json.log") if log_type == "json-file" else "",
            "Name": full,
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": None,
            "HostConfig": host_config,
            "GraphDriver": {"Name": "overlay2", "Data": self._graph_data(cid)},
            "Mounts": mounts,
            "_Mounts": mount_specs,
            "Config": config,
            "NetworkSettings": net_settings,
            "_LayerChain": self.images.layer_chain(image),
            "_ImageSize": image.size,
        }
        os.makedirs(state_dir, exist_ok=True)
        self.snaps.prepare(cid, None if host_config.get("UsernsMode") == "host" else self.cfg.idmap)
        state = new_state()
        # The row is the commit point: a crash before it leaves only directories
        # that reconcile() removes; after it, a complete container.
        self.md.execute("INSERT INTO containers(id, name, image_id, doc, state) VALUES (?,?,?,?,?)",
                        (cid, full, image.id, dumps(doc), dumps(state)))
        c = Container(doc, state)
        self.containers[cid] = c
        self.by_name[full] = cid
        self.events.publish("container", "create", cid, self._attrs(c))
        return c, warnings

    def _graph_data(self, cid: str) -> dict:
        base = self.snaps.container_dir(cid)
        return {"MergedDir": f"{base}/merged", "UpperDir": f"{base}/upper", "WorkDir": f"{base}/work"}

    def _attrs(self, c: Container, **extra: str) -> dict:
        attrs = {"image": c.config.get("Image", ""), "name": c.name.lstrip("/")}
        attrs.update({k: v for k, v in (c.config.get("Labels") or {}).items()})
        attrs.update(extra)
        return attrs

    def _save_state(self, c: Container) -> None:
        self.md.execute("UPDATE containers SET state=? WHERE id=?", (dumps(c.state), c.id))

    save_state = _save_state
    event_attrs = _attrs

    def _save_doc(self, c: Container) -> None:
        self.md.execute("UPDATE containers SET doc=?, name=? WHERE id=?", (dumps(c.doc), c.name, c.id))

    # ------------------------------------------------------------------ start
    async def start(self, ref: str) -> None:
        c = self.get(ref)
        async with c.lock:
            if c.running:
                raise NotModified("container already started")
            if c.state.get("Status") == "removing":
                raise Conflict(f"cannot start container {c.id[:12]}: container is marked for removal")
            try:
                await self._start_guarded(c)
            except BerthError as e:
                c.state["Error"] = e.message
                c.state["ExitCode"] = 127 if "not found" in e.message or "no such file" in e.message else 128
                self._save_state(c)
                self.mounts.release(c, quiet=True)
                self.snaps.unmount(c.id)
                if self.networking is not None:
                    await self.networking.detach(c)
                failed = e
            else:
                return
        # Outside the lock: attach streams waiting for this start end, and --rm
        # containers go, as docker's do when start fails.
        pending, c.pending_attach = c.pending_attach, []
        for fut in pending:
            if not fut.done():
                fut.set_exception(failed)
        if c.host_config.get("AutoRemove"):
            await self.remove(c.id, force=True, volumes=True)
        raise failed

    async def _start_guarded(self, c: Container) -> None:
        """_start_locked, with an unexpected failure turned into a System error, so the
        cleanup below runs and attach clients waiting for the start are answered."""
        try:
            await self._start_locked(c)
        except BerthError:
            raise
        except Exception as e:
            log.exception("starting container %s failed", c.id)
            raise System(f"failed to start container {c.id[:12]}: {e}") from e

    async def _start_locked(self, c: Container) -> None:
        from berth.runtime.spec import SpecRequest, build_spec  # heavy: import on first start

        image_chain = c.doc.get("_LayerChain", [])
        idmap = self.snaps.idmap(c.id)  # set at create under --userns-remap
        if idmap is None and self.cfg.idmap is not None and c.host_config.get("UsernsMode") != "host":
            raise Conflict(f"container {c.id[:12]} was created before --userns-remap was enabled and would run "
                           "as the host's root: remove and recreate it (or create it with --userns=host)")
        rootfs = self.snaps.mount(c.id, self.images.cache_ids_for_chain(image_chain), idmap)
        cfg, hc = c.config, c.host_config
        env = list(cfg.get("Env") or [])
        check_command(rootfs, c.doc["Path"], env, cfg.get("WorkingDir") or "/")
        run_dir = self.run_dir(c.id)
        os.makedirs(run_dir, exist_ok=True)
        for stale in ("exit.json", "runtime.log", "pid"):
            try:
                os.unlink(os.path.join(run_dir, stale))
            except FileNotFoundError:
                pass
        netns, extra_mounts = start_env.network_and_etc_files(self, c)
        extra_mounts = extra_mounts + await self.mounts.oci_mounts(c, rootfs)
        link_env: list[str] = []
        if self.networking is not None:  # bridge networks: netns, veths, ports, /etc files, DNS
            netns, link_env = await self.networking.attach(c, netns)
        if idmap is not None:  # hostname/hosts/resolv.conf belong to the remapped root, as under docker
            for name in ("hostname", "hosts", "resolv.conf"):
                try:
                    os.chown(os.path.join(self.state_dir(c.id), name), *idmap.root)
                except FileNotFoundError:
                    pass
        spec = build_spec(SpecRequest(
            container_id=c.id,
            rootfs=rootfs,
            args=[c.doc["Path"], *c.doc["Args"]],
            config=cfg,
            host_config=hc,
            netns=netns,
            link_env=link_env,
            extra_mounts=extra_mounts,
            cgroups_path=f"/berth/{c.id}",
            init_binary=self.cfg.init_binary,
            seccomp_profile=None,
            idmap=idmap,
            join_namespaces=start_env.joined_namespaces(self, c),
        ))
        self.mounts.adjust_spec(c, spec)  # rootfs propagation for shared/slave binds (engine/mounts.py)
        with open(os.path.join(run_dir, "config.json"), "w") as f:
            json.dump(spec, f)
        runtime_name = hc.get("Runtime") or self.cfg.default_runtime
        runtime = self.cfg.runtimes.get(runtime_name)
        if runtime is None:
            raise InvalidParameter(f"unknown or invalid runtime name: {runtime_name}")
        log_cfg = hc.get("LogConfig") or {}
        max_size, max_file = create_config.log_limits(log_cfg.get("Config") or {})
        runtime_root = os.path.join(self.cfg.exec_root, "runtime-" + runtime_name)
        if os.path.exists(os.path.join(runtime_root, c.id)):
            # Left by a monitor that died before it could clean up (host or monitor crash).
            await _run_quietly(runtime, "--root", runtime_root, "delete", "--force", c.id)
        params = {
            "id": c.id,
            "runtime": runtime,
            "runtime_root": runtime_root,
            "runtime_log": os.path.join(run_dir, "runtime.log"),
            "bundle": run_dir,
            "socket": self.monitor_socket(c.id),
            "exit_file": os.path.join(run_dir, "exit.json"),
            "pid_file": os.path.join(run_dir, "pid"),
            "tty": bool(cfg.get("Tty")),
            "stdin": bool(cfg.get("OpenStdin")),
            "log_path": c.doc["LogPath"] or None,
            "log_max_size": max_size,
            "log_max_file": max_file,
            "console_size": hc.get("ConsoleSize") if any(hc.get("ConsoleSize") or []) else None,
            "oom_file": start_env.oom_file(self, c.id),
        }
        starting = await monitor_link.spawn(self.launcher, params, os.path.join(run_dir, "monitor.log"))
        # Connect the watcher and every waiting attach stream before the first byte.
        try:
            watch = await monitor_link.connect(self.monitor_socket(c.id), {"op": "watch"})
            pending, c.pending_attach = c.pending_attach, []
            for attach in pending:
                attach.set_result(await monitor_link.connect(self.monitor_socket(c.id), attach.request))
        except BaseException:
            starting.abort()
            raise
        pid = await starting.go(1 + len(pending))
        c.stop_requested = False
        c.state["_ManuallyStopped"] = False
        c.state.update({"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                        "OOMKilled": False, "Dead": False, "Pid": pid, "ExitCode": 0, "Error": "",
                        "StartedAt": rfc3339nano(), "FinishedAt": ZERO_TIME})
        self._save_state(c)
        c.watch_task = asyncio.ensure_future(self._watch(c, watch))
        for hook in self.on_started:
            hook(c)
        self.events.publish("container", "start", c.id, self._attrs(c))

    async def _watch(self, c: Container, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = conn
        exit_info: dict | None = None
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                if "exit_code" in msg:
                    exit_info = msg
                    break
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()
        if exit_info is None:
            exit_info = self._exit_file(c.id)
        await self._on_exit(c, exit_info)

    def _exit_file(self, cid: str) -> dict:
        try:
            with open(os.path.join(self.run_dir(cid), "exit.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            # The monitor died without a record (killed, or the host went down).
            return {"exit_code": 255, "finished_at": rfc3339nano()}

    async def _on_exit(self, c: Container, exit_info: dict) -> None:
        code = int(exit_info.get("exit_code", 255))
        if c.stop_requested:
            c.state["_ManuallyStopped"] = True
        ran_for = time.time() - unix_from_iso(c.state.get("StartedAt", ZERO_TIME))
        removing = c.state.get("Status") == "removing"
        c.state.update({"Status": "removing" if removing else "exited", "Running": False, "Paused": False,
                        "Restarting": False, "Pid": 0, "ExitCode": code,
                        "OOMKilled": bool(exit_info.get("oom_killed")),
                        "FinishedAt": exit_info.get("finished_at") or rfc3339nano()})
        if exit_info.get("oom_killed"):
            self.events.publish("container", "oom", c.id, self._attrs(c))
        restart = (not removing and c.id in self.containers and
                   restart_policy.should_restart(c.host_config.get("RestartPolicy") or {}, code,
                                                 c.doc.get("RestartCount", 0),
                                                 bool(c.state.get("_ManuallyStopped"))))
        if restart:
            c.state["Restarting"] = True
            c.state["Status"] = "restarting"
        if c.id in self.containers:
            self._save_state(c)
        self.snaps.unmount(c.id)
        if self.networking is not None:
            await self.networking.detach(c)
        c.watch_task = None
        for hook in self.on_exited:
            hook(c)
        self.events.publish("container", "die", c.id, self._attrs(c, exitCode=str(code)))
        waiters, c.exit_waiters = c.exit_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(code)
        if restart:
            delay = restart_policy.next_delay(c.state.get("_RestartDelay", 0.0), ran_for)
            c.state["_RestartDelay"] = delay
            c.restart_task = asyncio.ensure_future(self._restart_later(c, delay))
            return
        if c.host_config.get("AutoRemove") and c.id in self.containers and not removing:
            try:
                await self.remove(c.id, force=True, volumes=True)
            except BerthError as e:
                log.warning("auto-remove of %s failed: %s", c.id[:12], e.message)

    async def _restart_later(self, c: Container, delay: float) -> None:
        await asyncio.sleep(delay)
        if c.id not in self.containers or not c.state.get("Restarting"):
            return
        c.doc["RestartCount"] = c.doc.get("RestartCount", 0) + 1
        self._save_doc(c)
        try:
            await self.start(c.id)
        except BerthError as e:
            log.warning("restart of %s failed: %s", c.id[:12], e.message)
            c.state.update({"Restarting": False, "Status": "exited"})
            self._save_state(c)

    def _cancel_restart(self, c: Container) -> None:
        """An explicit stop/kill/rm ends a pending restart (docker never undoes it)."""
        if c.restart_task is not None and not c.restart_task.done():
            c.restart_task.cancel()
        c.restart_task = None
        if c.state.get("Restarting"):
            c.state.update({"Restarting": False, "Status": "exited", "_ManuallyStopped": True})
            self._save_state(c)

    # ------------------------------------------------------------------ signals
    async def _signal(self, c: Container, signum: int) -> None:
        try:
            reply = await monitor_link.request(self.monitor_socket(c.id), {"op": "kill", "signal": signum})
        except monitor_link.MonitorGone:
            return
        if "error" in reply:
            raise System(f"cannot kill container: {c.id}: {reply['error']}")
        for hook in self.after_signal:
            await hook(c, signum)

    async def kill(self, ref: str, signal: str | None) -> None:
        c = self.get(ref)
        signum = parse_signal(signal, sig.SIGKILL)
        if c.state.get("Restarting") and signum in (sig.SIGKILL, sig.SIGTERM, sig.SIGINT):
            self._cancel_restart(c)
            return
        if not c.running:
            raise Conflict(f"Cannot kill container: {ref}: container {c.id} is not running")
        if signum in (sig.SIGKILL, sig.SIGTERM, sig.SIGINT):
            c.stop_requested = True
        await self._signal(c, signum)
        self.events.publish("container", "kill", c.id, self._attrs(c, signal=str(signum)))

    def _exit_future(self, c: Container) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        c.exit_waiters.append(fut)
        return fut

    async def stop(self, ref: str, timeout: int | None, signal: str | None = None) -> None:
        c = self.get(ref)
        if c.state.get("Restarting"):
            self._cancel_restart(c)
            self.events.publish("container", "stop", c.id, self._attrs(c))
            return
        if not c.running:
            raise NotModified("container already stopped")
        await self._stop(c, timeout, signal)
        self.events.publish("container", "stop", c.id, self._attrs(c))

    async def _stop(self, c: Container, timeout: int | None, signal: str | None) -> None:
        c.stop_requested = True
        if timeout is None:
            timeout = c.config.get("StopTimeout")
            if timeout is None:
                timeout = 10
        signum = parse_signal(signal or c.config.get("StopSignal") or "SIGTERM")
        done = self._exit_future(c)
        # docker sends the stop signal even with -t 0, then SIGKILL at once.
        self.events.publish("container", "kill", c.id, self._attrs(c, signal=str(signum)))
        await self._signal(c, signum)
        try:
            await asyncio.wait_for(asyncio.shield(done), None if timeout < 0 else timeout)
            return
        except asyncio.TimeoutError:
            pass
        self.events.publish("container", "kill", c.id, self._attrs(c, signal=str(int(sig.SIGKILL))))
        await self._signal(c, sig.SIGKILL)
        await done

    async def restart(self, ref: str, timeout: int | None, signal: str | None = None) -> None:
        c = self.get(ref)
        if c.running:
            await self._stop(c, timeout, signal)
        await self.start(c.id)
        self.events.publish("container", "restart", c.id, self._attrs(c))

    # ------------------------------------------------------------------ wait
    async def wait(self, ref: str, condition: str) -> int:
        c = self.get(ref)
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        if condition == "removed":
            fut = asyncio.get_running_loop().create_future()
            c.remove_waiters.append(fut)
            return await fut
        if condition in ("", "not-running") and not c.running:
            return int(c.state.get("ExitCode", 0))
        return await self._exit_future(c)

    async def wait_ready(self, ref: str, condition: str) -> asyncio.Future:
        """Register a wait now (before the container starts) and return its future."""
        c = self.get(ref)
        loop = asyncio.get_running_loop()
        if condition == "removed":
            fut = loop.create_future()
            c.remove_waiters.append(fut)
            return fut
        if condition in ("", "not-running") and not c.running:
            fut = loop.create_future()
            fut.set_result(int(c.state.get("ExitCode", 0)))
            return fut
        if condition not in ("", "not-running", "next-exit"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        return self._exit_future(c)

    # ------------------------------------------------------------------ misc verbs
    def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        if not names.VALID_NAME.match(new_name):
            raise InvalidParameter(f"Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        full = "/" + new_name.lstrip("/")
        if full == c.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        if full in self.by_name:
            raise Conflict(f'Conflict. The container name "{full}" is already in use by container '
                           f'"{self.by_name[full]}". You have to remove (or rename) that container to be able to reuse that name.')
        old = c.name
        self.by_name.pop(old, None)
        c.doc["Name"] = full
        self.by_name[full] = c.id
        self._save_doc(c)
        self.events.publish("container", "rename", c.id, self._attrs(c, oldName=old))

    async def top(self, ref: str, ps_args: str) -> dict:
        c = self.get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        pids = _cgroup_pids(c.id)
        args = ps_args.split() if ps_args else ["-ef"]
        proc = await asyncio.create_subprocess_exec("ps", *args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise System(f"Error running ps: {err.decode(errors='replace').strip()}")
        lines = out.decode(errors="replace").splitlines()
        if not lines:
            return {"Titles": [], "Processes": []}
        titles = lines[0].split()
        if "PID" not in titles:
            raise System("Couldn't find PID field in ps output")
        pid_col = titles.index("PID")
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
                processes.append(fields)
        return {"Titles": titles, "Processes": processes}

    def list(self, all_: bool, limit: int, filters: dict[str, list[str]]) -> list[Container]:
        from berth.engine.filters import check_container_filters, container_matches

        check_container_filters(filters, self)
        items = sorted(self.containers.values(), key=lambda c: c.doc["Created"], reverse=True)
        if not all_ and limit <= 0:
            items = [c for c in items if c.running]
        out = [c for c in items if container_matches(c, filters, self)]
        if limit > 0:
            out = out[:limit]
        return out

    # ------------------------------------------------------------------ restart of the daemon
    async def reconcile(self) -> None:
        """Rebuild live state from SQLite and the monitors still running."""
        self.snaps.clean_removed()
        rows = self.md.query("SELECT id, name, doc, state, removing FROM containers")
        known = set()
        for row in rows:
            cid = row["id"]
            if row["removing"]:
                log.info("finishing the removal of %s", cid[:12])
                self._finish_removal(cid)
                continue
            known.add(cid)
            c = Container(json.loads(row["doc"]), json.loads(row["state"]))
            self.containers[cid] = c
            self.by_name[c.name] = cid
            if c.running:
                try:
                    conn = await monitor_link.connect(self.monitor_socket(cid), {"op": "watch"})
                except monitor_link.MonitorGone:
                    await self._on_exit(c, self._exit_file(cid))
                    continue
                c.watch_task = asyncio.ensure_future(self._watch(c, conn))
                for hook in self.on_started:
                    hook(c)
                log.info("re-attached to running container %s", cid[:12])
            else:
                self.snaps.unmount(cid)
        for c in list(self.containers.values()):
            if c.running or c.state.get("Status") == "removing":
                continue
            if c.state.get("Restarting") or (
                    c.state.get("Status") == "exited" and
                    restart_policy.restart_at_daemon_start(c.host_config.get("RestartPolicy") or {},
                                                           bool(c.state.get("_ManuallyStopped")))):
                c.state["Restarting"] = False
                try:
                    await self.start(c.id)
                    log.info("restarted %s (restart policy)", c.id[:12])
                except BerthError as e:
                    log.warning("could not restart %s: %s", c.id[:12], e.message)
        # Directories without a row: a create that died before its commit point.
        for cid in self.snaps.container_ids():
            if cid not in known:
                log.info("removing half-created container %s", cid[:12])
                self.snaps.remove(cid)
                shutil.rmtree(self.state_dir(cid), ignore_errors=True)
                shutil.rmtree(self.run_dir(cid), ignore_errors=True)

    def register_attach(self, c: Container, request: dict) -> asyncio.Future:
        """An attach to a container that is not running yet: connected at start."""
        fut = asyncio.get_running_loop().create_future()
        fut.request = request  # type: ignore[attr-defined]
        c.pending_attach.append(fut)
        return fut

    def now(self) -> float:
        return time.time()


# ---------------------------------------------------------------------- helpers
async def _run_quietly(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    await proc.wait()


def _cgroup_pids(cid: str) -> set[int]:
    for controller in ("pids", "memory", "cpu,cpuacct", "cpu", "systemd", "unified"):
        path = f"/sys/fs/cgroup/{controller}/berth/{cid}/cgroup.procs"
        try:
            with open(path) as f:
                return {int(x) for x in f.read().split()}
        except OSError:
            continue
    return set()


