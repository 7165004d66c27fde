"""A container's mounts: volumes, binds and tmpfs, from create to removal.

At create, `prepare` turns HostConfig.Binds / Mounts / Tmpfs / VolumesFrom and
Config.Volumes (the image's VOLUMEs included) into `MountSpec`s, refusing what
dockerd refuses with its words, and creates the named and anonymous volumes.
The specs live in the container's row (`_Mounts`), so the users of a volume are
derived from the container rows at any time, across daemon restarts, with no
counter to drift. At start, `oci_mounts` makes the OCI mounts (copying the
image's content into an empty volume first); at exit and removal the option
mounts are released and `rm -v` removes the container's anonymous volumes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import stat
from typing import TYPE_CHECKING

from berth.errors import BerthError, Conflict, ContainerNotFound, InvalidParameter
from berth.volumes import copyup
from berth.volumes.specs import (MountSpec, docker_mount, parse_bind, parse_mount, parse_tmpfs,
                                 parse_volumes_from)
from berth.volumes.store import ANONYMOUS_LABEL, Volume, VolumeStore

if TYPE_CHECKING:
    from berth.engine.containers import ContainerService
    from berth.engine.model import Container

log = logging.getLogger("berth.mounts")


def specs_of(c: "Container") -> list[MountSpec]:
    return [MountSpec.from_dict(d) for d in c.doc.get("_Mounts") or []]


class MountManager:
    def __init__(self, svc: "ContainerService") -> None:
        self.svc = svc
        self.events = svc.events
        self.volumes = VolumeStore(svc.cfg.data_root, svc.md)
        self._copy_locks: dict[str, asyncio.Lock] = {}
        svc.on_started.append(self._reacquire)
        svc.on_exited.append(self.release)

    # ------------------------------------------------------------------ users
    def users(self, name: str) -> list[str]:
        """Ids of the containers (running or not) whose mounts name the volume."""
        out = []
        for c in self.svc.containers.values():
            for d in c.doc.get("_Mounts") or []:
                if d.get("type") == "volume" and d.get("source") == name:
                    out.append(c.id)
                    break
        return out

    def ref_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.svc.containers.values():
            for name in {d.get("source") for d in c.doc.get("_Mounts") or [] if d.get("type") == "volume"}:
                counts[name] = counts.get(name, 0) + 1
        return counts

    # ------------------------------------------------------------------ volumes API
    def create_volume(self, name: str, driver: str, labels: dict | None, options: dict | None) -> Volume:
        vol, created = self.volumes.create(name, driver, labels, options)
        if created:
            self.events.publish("volume", "create", vol.name, {"driver": vol.driver})
        return vol

    def remove_volume(self, name: str, force: bool) -> None:
        vol = self.volumes.volumes.get(name)
        if vol is None:
            if force:
                return
            self.volumes.get(name, "get")
        users = self.users(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{' '.join(users)}]")
        self.volumes.remove(name)
        self.events.publish("volume", "destroy", name, {"driver": vol.driver})

    # ------------------------------------------------------------------ create
    def prepare(self, cid: str, config: dict, hc: dict) -> tuple[list[dict], list[dict]]:
        """(inspect Mounts, stored specs) for a new container; volumes created last,
        after every check passed, so bad input creates nothing."""
        by_target: dict[str, MountSpec] = {}
        for entry in hc.get("VolumesFrom") or []:
            ref, rw_ok = parse_volumes_from(entry)
            try:
                other = self.svc.get(ref)
            except ContainerNotFound:
                raise InvalidParameter(f"No such container: {ref}") from None  # 400, as dockerd
            for spec in specs_of(other):
                if spec.type == "tmpfs" and spec.origin == "tmpfs":
                    continue
                spec.rw = spec.rw and rw_ok
                spec.mode, spec.origin, spec.anonymous, spec.copy = "", "volumes-from", False, False
                by_target[spec.target] = spec
        from_binds: set[str] = set()
        for raw in hc.get("Binds") or []:
            spec = parse_bind(raw)
            if spec.target in from_binds:
                raise InvalidParameter(f"Duplicate mount point: {spec.target}")
            from_binds.add(spec.target)
            by_target[spec.target] = spec
        from_mounts: set[str] = set()
        for m in hc.get("Mounts") or []:
            spec = parse_mount(m)
            if spec.target in from_binds or spec.target in from_mounts:
                raise InvalidParameter(f"Duplicate mount point: {spec.target}")
            from_mounts.add(spec.target)
            by_target[spec.target] = spec
        tmpfs_specs: list[MountSpec] = []
        for target, data in (hc.get("Tmpfs") or {}).items():
            spec = parse_tmpfs(target, data)
            if spec.target in from_binds:
                raise InvalidParameter(f"Duplicate mount point: {spec.target}")
            tmpfs_specs.append(spec)  # over a --mount on the same path, as dockerd mounts it
        tmpfs_targets = {s.target for s in tmpfs_specs}
        for target in sorted(config.get("Volumes") or {}):
            clean = os.path.normpath(target) if target.startswith("/") else target
            if clean in by_target or clean in tmpfs_targets:
                continue
            spec = parse_bind(target)  # "/path": an anonymous volume, with docker's checks
            spec.origin, spec.mode = "config-volumes", ""
            by_target[spec.target] = spec
        specs = list(by_target.values()) + tmpfs_specs
        driver = hc.get("VolumeDriver") or ""
        for spec in specs:
            if spec.type == "volume" and spec.origin in ("binds", "config-volumes") and driver:
                spec.driver = driver
        for spec in specs:
            if spec.type != "volume":
                continue
            if spec.driver and spec.driver != "local":
                raise InvalidParameter(f'create {spec.source or "volume"}: error looking up volume plugin '
                                       f'{spec.driver}: plugin "{spec.driver}" not found')
            if spec.source and spec.origin != "volumes-from":
                from berth.volumes.store import validate_name, validate_options

                validate_name(spec.source)
                if spec.source not in self.volumes.volumes:
                    validate_options(spec.source, spec.volume_opts)
        for spec in specs:
            if spec.type != "volume" or spec.origin == "volumes-from":
                continue
            if spec.anonymous:
                spec.source = secrets.token_hex(32)
                labels = dict(spec.volume_labels or {})
                labels[ANONYMOUS_LABEL] = ""
                self.create_volume(spec.source, "local", labels, spec.volume_opts)
            elif spec.source not in self.volumes.volumes:
                self.create_volume(spec.source, "local", spec.volume_labels, spec.volume_opts)
            spec.driver = "local"
        shown = [docker_mount(s, self.volumes.data_dir(s.source) if s.type == "volume" else "")
                 for s in specs if s.origin != "tmpfs"]
        return shown, [s.to_dict() for s in specs]

    # ------------------------------------------------------------------ start
    async def oci_mounts(self, c: "Container", rootfs: str) -> list[dict]:
        """The OCI mounts of one start; volumes are activated (and filled) here."""
        out: list[dict] = []
        try:
            for spec in specs_of(c):
                out.append(await self._oci_mount(c, spec, rootfs))
        except BaseException:
            self.release(c, quiet=True)
            raise
        self._copied(c)
        return out

    def _copied(self, c: "Container") -> None:
        """docker copies image content into a volume once, for the container's creation:
        a volume emptied later is not filled again at the next start."""
        stored = c.doc.get("_Mounts") or []
        if any(d.get("type") == "volume" and d.get("copy") for d in stored):
            for d in stored:
                d["copy"] = False
            self.svc._save_doc(c)

    async def _copy_up(self, spec: MountSpec, vol: Volume, rootfs: str, in_place: bool) -> None:
        if not spec.copy or spec.origin == "volumes-from":
            return
        src = _path_in_rootfs(rootfs, spec.target)
        if src is None:
            return
        # one copy-up per volume at a time: two containers starting together share it
        async with self._copy_locks.setdefault(vol.name, asyncio.Lock()):
            await asyncio.to_thread(copyup.populate, src, vol.mountpoint, in_place)

    async def fill_for_archive(self, c: "Container", merged: str) -> None:
        """A cp into a container not started yet: its new volumes get the image's content
        first, as they would have at docker's create."""
        for spec in specs_of(c):
            vol = self.volumes.volumes.get(spec.source) if spec.type == "volume" else None
            if vol is None or (vol.options and not os.path.ismount(vol.mountpoint)):
                continue
            await self._copy_up(spec, vol, merged, bool(vol.active) or bool(vol.options))
        self._copied(c)

    async def _oci_mount(self, c: "Container", spec: MountSpec, rootfs: str) -> dict:
        if spec.type == "tmpfs":
            return {"destination": spec.target, "type": "tmpfs", "source": "tmpfs",
                    "options": list(spec.tmpfs_options)}
        opts = ["rbind" if spec.recursive else "bind"]
        if spec.type == "volume":
            vol = self.volumes.volumes.get(spec.source)
            if vol is None:  # its directory was deleted by hand: docker recreates it too
                vol = self.create_volume(spec.source, "local",
                                         {ANONYMOUS_LABEL: ""} if spec.anonymous else None, None)
            others_running = bool(vol.active - {c.id})
            self.volumes.activate(vol, c.id)
            await self._copy_up(spec, vol, rootfs, others_running or bool(vol.options))
            source = vol.mountpoint
            if spec.subpath:
                source = os.path.join(vol.mountpoint, spec.subpath)
                if not os.path.exists(source):
                    raise InvalidParameter(f"cannot access path {source}: lstat {source}: "
                                           "no such file or directory")
                real, base = os.path.realpath(source), os.path.realpath(vol.mountpoint)
                if real != base and not real.startswith(base + "/"):
                    raise InvalidParameter(f"cannot access path {source}: it leads out of volume {vol.name}")
                source = real  # a symlink inside the volume is followed here, never by the runtime
            _check_kind(rootfs, source, spec.target)
            opts.append("rprivate")
            self.events.publish("volume", "mount", vol.name, {
                "container": c.id, "destination": spec.target, "driver": vol.driver,
                "propagation": "", "read/write": "true" if spec.rw else "false"})
        else:
            source = spec.source
            if not os.path.lexists(source):
                if not spec.create_source:
                    raise InvalidParameter(f'invalid mount config for type "bind": '
                                           f"bind source path does not exist: {source}")
                os.makedirs(source, 0o755, exist_ok=True)
            _check_propagation(source, spec.propagation)
            _check_kind(rootfs, source, spec.target)
            opts.append(spec.propagation or "rprivate")
        if not spec.rw:
            opts.append("rro" if spec.readonly_recursive else "ro")
        return {"destination": spec.target, "type": "bind", "source": source, "options": opts}

    def mount_for_archive(self, c: "Container", merged: str) -> None:
        """A stopped container's volumes and binds, bound into its mounted rootfs for one
        cp, so files land where a later start sees them, as docker's cp does. The
        snapshotter's unmount of the rootfs takes these mounts away with it."""
        from berth.engine import rootfs_paths
        from berth.snapshots import mount as m

        for spec in sorted(specs_of(c), key=lambda s: s.target.count("/")):
            if spec.type == "tmpfs":
                continue
            if spec.type == "volume":
                vol = self.volumes.volumes.get(spec.source)
                if vol is None or (vol.options and not os.path.ismount(vol.mountpoint)):
                    continue
                source = os.path.join(vol.mountpoint, spec.subpath) if spec.subpath else vol.mountpoint
            else:
                source = spec.source
            if not os.path.exists(source):
                continue
            fd = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                parts = rootfs_paths.resolve(fd, spec.target)
                if os.path.isdir(source):
                    os.close(rootfs_paths.open_dir(fd, parts, create=True))
                else:
                    parent = rootfs_paths.open_dir(fd, parts[:-1], create=True)
                    try:
                        os.close(os.open(parts[-1], os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                         0o644, dir_fd=parent))
                    finally:
                        os.close(parent)
            except OSError as e:
                log.info("cp: %s not bound into %s: %s", source, spec.target, e)
                continue
            finally:
                os.close(fd)
            point = merged.rstrip("/") + rootfs_paths.join(parts)
            m.mount(source, point, "", 4096 | (16384 if spec.recursive else 0))  # MS_BIND (| MS_REC)
            if not spec.rw:
                m.mount("", point, "", 4096 | 32 | 1)  # MS_BIND | MS_REMOUNT | MS_RDONLY

    def adjust_spec(self, c: "Container", spec: dict) -> None:
        """docker's rule: a shared bind makes the container's root propagation shared, a
        slave one makes it slave (unless another made it shared), so the mounts propagate."""
        props = {s.propagation for s in specs_of(c) if s.type == "bind"}
        if props & {"shared", "rshared"}:
            spec.setdefault("linux", {})["rootfsPropagation"] = "shared"
        elif props & {"slave", "rslave"}:
            spec.setdefault("linux", {})["rootfsPropagation"] = "slave"

    def _reacquire(self, c: "Container") -> None:
        """A running container (after a start or a daemon restart) holds its volumes."""
        for spec in specs_of(c):
            vol = self.volumes.volumes.get(spec.source) if spec.type == "volume" else None
            if vol is not None:
                vol.active.add(c.id)

    def release(self, c: "Container", quiet: bool = False) -> None:
        """The container stopped: its volumes are unmounted where it was the last user."""
        for spec in specs_of(c):
            if spec.type != "volume":
                continue
            vol = self.volumes.volumes.get(spec.source)
            if vol is None or c.id not in vol.active:
                continue
            self.volumes.deactivate(vol, c.id)
            if not quiet:
                self.events.publish("volume", "unmount", vol.name, {"container": c.id, "driver": vol.driver})

    # ------------------------------------------------------------------ removal
    def removed(self, c: "Container", remove_volumes: bool) -> None:
        """After a container's removal: `rm -v` removes its anonymous volumes only."""
        if not remove_volumes:
            return
        for spec in specs_of(c):
            if spec.type != "volume" or not spec.anonymous or spec.origin == "volumes-from":
                continue
            try:
                self.remove_volume(spec.source, force=True)
            except BerthError as e:
                log.info("anonymous volume %s kept: %s", spec.source[:12], e.message)

    # ------------------------------------------------------------------ prune / df
    def prune(self, filters: dict[str, list[str]]) -> dict:
        from berth.volumes.filters import check_prune_filters, volume_matches

        check_prune_filters(filters)
        remove_all = (filters.get("all") or ["false"])[-1] in ("1", "true", "True")
        counts = self.ref_counts()
        deleted, reclaimed = [], 0
        for vol in sorted(self.volumes.volumes.values(), key=lambda v: v.name):
            if counts.get(vol.name):
                continue
            if not remove_all and not vol.anonymous:
                continue
            if not volume_matches(vol, filters, 0, prune=True):
                continue
            size = dir_size(vol.mountpoint)
            try:
                self.remove_volume(vol.name, force=False)
            except BerthError as e:
                log.warning("prune: volume %s kept: %s", vol.name, e.message)
                continue
            deleted.append(vol.name)
            reclaimed += size
        self.events.publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def usage(self) -> list[dict]:
        counts = self.ref_counts()
        out = []
        for vol in sorted(self.volumes.volumes.values(), key=lambda v: v.name):
            doc = vol.to_api()
            doc["UsageData"] = {"RefCount": counts.get(vol.name, 0), "Size": dir_size(vol.mountpoint)}
            out.append(doc)
        return out


def volume_filter_matches(doc: dict, values: list[str]) -> bool:
    """`ps --filter volume=X`: a mount whose volume name (a bind's source) or destination is X."""
    for m in doc.get("Mounts") or []:
        if m.get("Destination") in values or (m.get("Name") or m.get("Source")) in values:
            return True
    return False


def dir_size(path: str) -> int:
    """Bytes used by the files of a tree (hardlinks once), as docker's directory.Size."""
    total, seen = 0, set()
    stack = [path]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for e in it:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(e.path)
                        continue
                    if st.st_nlink > 1:
                        if (st.st_dev, st.st_ino) in seen:
                            continue
                        seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
        except OSError:
            continue
    return total


def _path_in_rootfs(rootfs: str, target: str) -> str | None:
    """The image's directory at `target`, with symlinks resolved inside the rootfs; None if absent."""
    from berth.engine import rootfs_paths

    fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        parts = rootfs_paths.resolve(fd, target)
        st = rootfs_paths.lstat(fd, parts)
    except OSError:
        return None
    finally:
        os.close(fd)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return None
    return rootfs.rstrip("/") + rootfs_paths.join(parts)


def _check_propagation(source: str, propagation: str) -> None:
    """docker's check: a shared (slave) propagation needs a shared (or slave) source mount."""
    if propagation not in ("shared", "rshared", "slave", "rslave"):
        return
    from berth.runtime.host import read_mountinfo

    real = os.path.realpath(source)
    best = None
    for m in read_mountinfo():
        point = m.mount_point.rstrip("/") or "/"
        if real == point or real.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best.mount_point.rstrip("/") or "/"):
                best = m
    if best is None:
        return
    shared = any(o.startswith("shared:") for o in best.optional)
    slave = any(o.startswith("master:") for o in best.optional)
    if propagation in ("shared", "rshared") and not shared:
        raise InvalidParameter(f"path {source} is mounted on {best.mount_point} but it is not a shared mount")
    if propagation in ("slave", "rslave") and not (shared or slave):
        raise InvalidParameter(f"path {source} is mounted on {best.mount_point} but it is not a shared "
                               "or slave mount")


def _check_kind(rootfs: str, source: str, target: str) -> None:
    """A directory onto a file or a file onto a directory: refused before the runtime
    fails on it, with the words docker passes on from the runtime."""
    from berth.engine import rootfs_paths

    try:
        src_dir = stat.S_ISDIR(os.stat(source).st_mode)
    except OSError:
        return
    fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        st = rootfs_paths.lstat(fd, rootfs_paths.resolve(fd, target))
    except OSError:
        st = None
    finally:
        os.close(fd)
    if st is None or stat.S_ISLNK(st.st_mode):
        return
    if src_dir != stat.S_ISDIR(st.st_mode):
        raise InvalidParameter(
            f'error mounting "{source}" to rootfs at "{target}": not a directory: '
            "Are you trying to mount a directory onto a file (or vice-versa)? "
            "Check if the specified host path exists and is the expected type")
