"""The daemon object: storage, engine and API wired together."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field

from berth.content.blobs import BlobStore
from berth.engine.containers import ContainerService, EngineConfig
from berth.engine.events import EventBus
from berth.engine.execs import ExecService
from berth.engine.health import HealthMonitor
from berth.engine.resources import ResourceService
from berth.errors import System
from berth.images.store import ImageStore, go_arch
from berth.snapshots.overlay import OverlaySnapshotter
from berth.store.metadata import Metadata

log = logging.getLogger("berth.daemon")

INIT_CANDIDATES = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit", "/usr/bin/tini-static",
                   "/usr/bin/docker-init")


@dataclass
class DaemonConfig:
    hosts: list[str] = field(default_factory=lambda: ["unix:///run/berth/berth.sock"])
    data_root: str = "/var/lib/berth"
    exec_root: str = "/run/berth"
    pidfile: str = ""
    default_runtime: str = "crun"
    runtimes: dict[str, str] = field(default_factory=dict)
    log_level: str = "info"
    bip: str = ""
    iptables: bool = True
    userland_proxy: bool = True
    ip_forward: bool = True
    insecure_registries: list[str] = field(default_factory=list)
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    tls: bool | None = None
    tlsverify: bool = False
    tlscacert: str = ""
    tlscert: str = ""
    tlskey: str = ""
    group: str = "berth"
    log_driver: str = "json-file"
    log_opts: dict = field(default_factory=dict)
    userns_remap: str = ""  # --userns-remap: default | user[:group] | uid[:gid]


class Daemon:
    def __init__(self, cfg: DaemonConfig) -> None:
        self.cfg = cfg
        self.arch = go_arch()
        self.warnings: list[str] = []
        self.cgroup_version = "1"
        for name in ("crun", "runc"):
            path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
            if path and name not in cfg.runtimes:
                cfg.runtimes[name] = path
        if cfg.default_runtime not in cfg.runtimes:
            raise System(f"default runtime {cfg.default_runtime!r} is not installed "
                         f"(known: {', '.join(sorted(cfg.runtimes)) or 'none'}); apt-get install crun")
        self.runtime_version = _runtime_version(cfg.runtimes[cfg.default_runtime])
        for flag, given in ():
            if given:
                # Accepted for dockerd compatibility, but said plainly: nothing uses them yet.
                msg = (f"WARNING: {flag} has no effect yet: berthd has no "
                       f"{'bridge network' if flag == '--bip' else 'registry client'} in this version")
                self.warnings.append(msg)
                log.warning("%s", msg)
        os.makedirs(cfg.data_root, mode=0o710, exist_ok=True)
        self.idmap = _remap(cfg)  # runtime/userns.py: None unless --userns-remap
        os.makedirs(cfg.exec_root, mode=0o700, exist_ok=True)
        self.daemon_id = _engine_id(cfg.data_root)
        from berth.store.reserve import SpaceReserve

        self.space_reserve = SpaceReserve(cfg.data_root)
        self.space_reserve.ensure()
        self.md = Metadata(os.path.join(cfg.data_root, "berth.db"), on_full=self.space_reserve.release)
        self.blobs = BlobStore(os.path.join(cfg.data_root, "content", "blobs"))
        self.snaps = OverlaySnapshotter(os.path.join(cfg.data_root, "overlay"))
        self.images = ImageStore(self.md, self.blobs, self.snaps)
        from berth.distribution.service import DistributionConfig, DistributionService

        self.distribution = DistributionService(self.images, cfg.data_root, DistributionConfig(
            list(cfg.insecure_registries), cfg.max_concurrent_downloads, cfg.max_concurrent_uploads))
        self.events = EventBus()
        init = next((p for p in INIT_CANDIDATES if os.path.exists(p)), None)
        self.containers = ContainerService(
            EngineConfig(cfg.data_root, cfg.exec_root, cfg.default_runtime, cfg.runtimes, init,
                         cfg.log_driver, dict(cfg.log_opts), idmap=self.idmap),
            self.md, self.images, self.snaps, self.events)
        if self.idmap is not None:  # new volumes belong to the remapped root (volumes/store.py)
            self.containers.mounts.volumes.root_owner = self.idmap.root
        self.execs = ExecService(self.containers, self.events)
        self.health = HealthMonitor(self.containers, self.execs)
        self.resources = ResourceService(self.containers, self.events, self.health)
        from berth.engine.networking import NetConfig, NetworkService  # bridge networks, ports, DNS

        self.networks = NetworkService(NetConfig(cfg.exec_root, cfg.bip, cfg.iptables, cfg.userland_proxy,
                                                 cfg.ip_forward), self.md, self.containers, self.events)

    def check_host(self) -> None:
        """The host traps of this machine kind, handled before anything runs."""
        from berth.runtime import host

        info = host.check_cgroups()
        self.cgroup_version = "2" if info.is_v2 else "1"
        if "crun" in self.cfg.runtimes:
            if info.version == "hybrid" and info.unified_controllers and not _cgroup_root_shared(host):
                # A daemon in a private mount namespace (tests, nested setups) must not
                # create mount points on the host's /sys/fs/cgroup tmpfs.
                host.privatize_cgroup_root()
            try:
                host.ensure_crun_cgroups(log)
            except Exception as e:  # crun unusable: say why, keep runc usable
                msg = getattr(e, "message", str(e))
                self.warnings.append(msg)
                log.warning("%s", msg)
                if self.cfg.default_runtime == "crun":
                    raise

    async def startup(self) -> None:
        self.blobs.clean_ingest()
        self.images.clean_orphan_layers()
        self.containers.launcher.ensure()
        await self.networks.startup()
        await self.containers.reconcile()
        await self.networks.after_reconcile()
        from berth.engine.check import startup_check  # leftovers of a crash repaired, logged

        await startup_check(self)
        self._reserve_task = asyncio.ensure_future(self._keep_space_reserve())

    async def _keep_space_reserve(self) -> None:
        """Re-make the space reserve once a full disk has room again."""
        while True:
            await asyncio.sleep(30)
            try:
                self.space_reserve.ensure()
            except OSError:
                pass

    def close(self) -> None:
        self.containers.launcher.close()
        self.md.close()


def _remap(cfg: DaemonConfig):  # type: ignore[no-untyped-def]
    """The --userns-remap mapping; the data root then lets the remapped root pass
    (0701, as dockerd makes its root) to reach rootfs, layers and /etc files."""
    if not cfg.userns_remap:
        return None
    from berth.runtime import userns

    try:
        idmap = userns.resolve(cfg.userns_remap)
    except userns.RemapError as e:
        raise System(f"can't create ID mappings: {e}") from None
    os.chmod(cfg.data_root, 0o701)
    parent = os.path.dirname(os.path.abspath(cfg.data_root))
    while parent != "/":
        if not os.stat(parent).st_mode & 0o001:
            raise System(f"--userns-remap: the remapped root ({idmap.root[0]}) cannot reach the data root "
                         f"{cfg.data_root}: {parent} is not searchable by others (chmod o+x {parent})")
        parent = os.path.dirname(parent)
    from berth.snapshots import idmap as idmapped

    overlay = os.path.join(cfg.data_root, "overlay")
    os.makedirs(overlay, exist_ok=True)
    try:
        idmapped.probe(overlay, idmap)
    except OSError as e:
        raise System(f"--userns-remap: cannot make idmapped mounts of image layers under {overlay} "
                     f"(Linux 5.12+ and a file system that supports them are needed): {e.strerror or e}") from None
    log.info("user namespaces: container root is %d:%d on the host (%s:%s)", *idmap.root, idmap.user, idmap.group)
    return idmap


def _cgroup_root_shared(host) -> bool:
    root = next((m for m in reversed(host.read_mountinfo()) if m.mount_point == host.CGROUP_ROOT), None)
    return root is None or any(o.startswith("shared:") for o in root.optional)


def _engine_id(data_root: str) -> str:
    path = os.path.join(data_root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        ident = secrets.token_hex(16)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(ident)
        os.rename(tmp, path)
        return ident


def _runtime_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = out.splitlines()[0] if out else ""
    return first.split()[-1] if first else ""


