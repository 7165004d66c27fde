"""The `local` volume driver: directories under <data-root>/volumes plus a row each.

A volume is `<data-root>/volumes/<name>/_data` and a row in the `volumes` table
of the metadata db. The row is the commit point of a create (a directory
without a row is adopted at start, as docker's local driver discovers volumes
from its directories); a removal is marked in the row before anything is
deleted and finished at start if the daemon died in between. Nothing else ever
deletes a volume's data.

Options follow docker's local driver: `type`, `device`, `o` mount a filesystem
(tmpfs, a bind of a host directory with `o=bind`, nfs ...) on `_data` while a
container uses the volume.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field

from berth.errors import Conflict, InvalidParameter, NotFound, System
from berth.store.metadata import Metadata

log = logging.getLogger("berth.volumes")

SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    created_at TEXT NOT NULL,     -- RFC 3339, seconds, as docker's local driver shows it
    labels TEXT,                  -- JSON object or null
    options TEXT,                 -- JSON object or null (driver options: type, device, o)
    removing INTEGER NOT NULL DEFAULT 0
);
"""

VALID_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
RESTRICTED_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
VALID_OPTS = ("type", "device", "o")
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
COPY_TMP = "_copyup.tmp"
# The mount(2) flags docker's local driver takes out of `o=`; the rest is filesystem data.
_MOUNT_FLAGS = {
    "ro": (1, True), "rw": (1, False), "nosuid": (2, True), "suid": (2, False),
    "nodev": (4, True), "dev": (4, False), "noexec": (8, True), "exec": (8, False),
    "sync": (16, True), "async": (16, False), "noatime": (1024, True), "atime": (1024, False),
    "nodiratime": (2048, True), "diratime": (2048, False), "relatime": (1 << 21, True),
    "strictatime": (1 << 24, True), "bind": (4096, True), "rbind": (4096 | 16384, True),
}


class VolumeNotFound(NotFound):
    def __init__(self, name: str, verb: str = "get") -> None:
        super().__init__(f"{verb} {name}: no such volume")


@dataclass
class Volume:
    name: str
    driver: str
    created_at: str
    mountpoint: str
    labels: dict | None = None
    options: dict | None = None
    # runtime only: ids of running containers that mounted it (for option mounts)
    active: set[str] = field(default_factory=set)

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in (self.labels or {})

    def to_api(self) -> dict:
        """docker's Volume object (without UsageData, which only `system df` fills)."""
        return {"CreatedAt": self.created_at, "Driver": self.driver, "Labels": self.labels,
                "Mountpoint": self.mountpoint, "Name": self.name, "Options": self.options,
                "Scope": "local"}


def validate_name(name: str) -> None:
    if len(name) == 1:
        raise InvalidParameter(f"create {name}: volume name is too short, names should be at least "
                               "two alphanumeric characters")
    if not VALID_NAME.match(name):
        raise InvalidParameter(f'create {name}: "{name}" includes invalid characters for a local volume name, '
                               f'only "{RESTRICTED_CHARS}" are allowed. If you intended to pass a host '
                               "directory, use absolute path")


def validate_options(name: str, opts: dict | None) -> None:
    for key in opts or {}:
        if key not in VALID_OPTS:
            if key == "size":
                raise InvalidParameter(f"create {name}: quota size requested but no quota support")
            raise InvalidParameter(f'create {name}: invalid option: "{key}"')
    if opts and opts.get("type") and not opts.get("device"):
        raise InvalidParameter(f'create {name}: missing required option: "device"')
    if opts and opts.get("device") and not opts.get("type") and "bind" not in (opts.get("o") or "").split(","):
        raise InvalidParameter(f'create {name}: missing required option: "type"')


def _created_at() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class VolumeStore:
    """The local driver's volumes; every method is synchronous and quick except
    `remove` (deletes a tree) and option mounts."""

    # --userns-remap: the host uid/gid of container root, owner of each new _data (as dockerd).
    root_owner: tuple[int, int] | None = None

    def __init__(self, data_root: str, md: Metadata) -> None:
        self.root = os.path.join(data_root, "volumes")
        self.md = md
        os.makedirs(self.root, mode=0o701, exist_ok=True)
        self.md.execute(SCHEMA.strip())
        self.volumes: dict[str, Volume] = {}
        self._load()

    # ------------------------------------------------------------------ start
    def _load(self) -> None:
        for row in self.md.query("SELECT * FROM volumes"):
            if row["removing"]:
                log.info("finishing the removal of volume %s", row["name"])
                self._delete(row["name"])
                continue
            self.volumes[row["name"]] = Volume(
                row["name"], row["driver"], row["created_at"], self.data_dir(row["name"]),
                json.loads(row["labels"]) if row["labels"] else None,
                json.loads(row["options"]) if row["options"] else None)
        for name in os.listdir(self.root):
            base = os.path.join(self.root, name)
            # A copy-up that a dead daemon left half done: redone at the next mount.
            shutil.rmtree(os.path.join(base, COPY_TMP), ignore_errors=True)
            if name not in self.volumes and os.path.isdir(os.path.join(base, "_data")):
                log.info("adopting volume directory %s", name)
                self._insert(Volume(name, "local", _created_at(), self.data_dir(name)))
        # Option mounts (tmpfs, binds) of a previous daemon stay: containers still running
        # share them, and they go when their last user stops or the volume is removed.

    # ------------------------------------------------------------------ paths
    def base_dir(self, name: str) -> str:
        return os.path.join(self.root, name)

    def data_dir(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    # ------------------------------------------------------------------ create / get
    def get(self, name: str, verb: str = "get") -> Volume:
        vol = self.volumes.get(name)
        if vol is None:
            raise VolumeNotFound(name, verb)
        return vol

    def create(self, name: str, driver: str = "local", labels: dict | None = None,
               options: dict | None = None) -> tuple[Volume, bool]:
        """(volume, created): an existing volume of that name is returned as it is."""
        driver = driver or "local"
        if not name:
            name = secrets.token_hex(32)
        else:
            validate_name(name)
        existing = self.volumes.get(name)
        if existing is not None:
            if driver != existing.driver:
                raise Conflict(f"create {name}: volume name must be unique")
            return existing, False
        if driver != "local":
            raise NotFound(f'create {name}: error looking up volume plugin {driver}: plugin "{driver}" not found')
        validate_options(name, options)
        vol = Volume(name, driver, _created_at(), self.data_dir(name), labels or None,
                     dict(options) if options else None)
        os.makedirs(self.base_dir(name), mode=0o701, exist_ok=True)
        os.makedirs(vol.mountpoint, mode=0o755, exist_ok=True)
        if self.root_owner is not None:
            os.chown(vol.mountpoint, *self.root_owner)
        self._insert(vol)
        return vol, True

    def _insert(self, vol: Volume) -> None:
        self.md.execute("INSERT OR REPLACE INTO volumes(name, driver, created_at, labels, options, removing) "
                        "VALUES (?,?,?,?,?,0)",
                        (vol.name, vol.driver, vol.created_at,
                         json.dumps(vol.labels) if vol.labels is not None else None,
                         json.dumps(vol.options) if vol.options is not None else None))
        self.volumes[vol.name] = vol

    # ------------------------------------------------------------------ remove
    def remove(self, name: str) -> None:
        """Delete a volume the caller has checked is unused: marked first, then deleted."""
        vol = self.get(name, "remove")
        if vol.active:
            raise Conflict(f"remove {name}: volume is in use - [{' '.join(sorted(vol.active))}]")
        self.md.execute("UPDATE volumes SET removing=1 WHERE name=?", (name,))
        self.volumes.pop(name, None)
        if vol.options:
            self._unmount_quietly(vol)
        self._delete(name)

    def _delete(self, name: str) -> None:
        base = self.base_dir(name)
        if os.path.ismount(os.path.join(base, "_data")):
            self._unmount_quietly(Volume(name, "local", "", os.path.join(base, "_data")))
        shutil.rmtree(base, ignore_errors=True)
        if os.path.exists(base):
            raise System(f"remove {name}: could not delete {base}")
        self.md.execute("DELETE FROM volumes WHERE name=?", (name,))

    # ------------------------------------------------------------------ option mounts
    def activate(self, vol: Volume, container_id: str) -> None:
        """A container is about to use the volume: mount its filesystem (first user only)."""
        if vol.options and not vol.active and not os.path.ismount(vol.mountpoint):
            self._mount(vol)
        vol.active.add(container_id)

    def deactivate(self, vol: Volume, container_id: str) -> None:
        vol.active.discard(container_id)
        if vol.options and not vol.active:
            self._unmount_quietly(vol)

    def _mount(self, vol: Volume) -> None:
        from berth.snapshots import mount as m

        opts = vol.options or {}
        flags, data = 0, []
        for item in (opts.get("o") or "").split(","):
            if not item:
                continue
            if item in _MOUNT_FLAGS:
                bit, on = _MOUNT_FLAGS[item]
                flags = flags | bit if on else flags & ~bit
            else:
                data.append(item)
        device = opts.get("device") or ""
        fstype = opts.get("type") or "none"
        if flags & 4096:
            if not os.path.exists(device):
                raise InvalidParameter(f"error while mounting volume '{vol.mountpoint}': failed to mount local "
                                       f"volume: mount {device}:{vol.mountpoint}, flags: {hex(flags)}, "
                                       "data: : no such file or directory")
        try:
            m.mount(device, vol.mountpoint, fstype, flags, ",".join(data) or None)
        except OSError as e:
            raise System(f"error while mounting volume '{vol.mountpoint}': failed to mount local volume: "
                         f"mount {device}:{vol.mountpoint}, flags: {hex(flags)}, data: {','.join(data)}: "
                         f"{os.strerror(e.errno or 0).lower()}") from None

    def _unmount_quietly(self, vol: Volume) -> None:
        from berth.snapshots import mount as m

        try:
            m.unmount(vol.mountpoint)
        except OSError:
            try:
                m.unmount(vol.mountpoint, lazy=True)
            except OSError as e:
                log.warning("cannot unmount volume %s: %s", vol.name, e)
