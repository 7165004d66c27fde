"""docker's mount specifications, parsed and checked as dockerd does on Linux.

Three inputs become one list of `MountSpec`: HostConfig.Binds (`-v` strings:
`name:/path[:mode]`, `/host:/path[:mode]`), HostConfig.Mounts (`--mount`
objects) and HostConfig.Tmpfs (`--tmpfs path:opts`). The errors are dockerd's
words (`invalid volume specification: '...': invalid mount config for type
"bind": ...`), so the docker CLI prints what it would print against docker.
Pure logic: nothing here touches the filesystem except the existence check of
a `--mount type=bind` source, which docker also makes at create.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import asdict, dataclass, field

from berth.errors import InvalidParameter

RW_MODES = ("rw", "ro")
LABEL_MODES = ("z", "Z")
PROPAGATION_MODES = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
COPY_MODES = ("nocopy",)
CONSISTENCY_MODES = ("consistent", "cached", "delegated")
DEFAULT_PROPAGATION = "rprivate"


@dataclass
class MountSpec:
    """One mount of a container, as stored in its row (`_Mounts`) and used at start."""

    type: str                      # volume | bind | tmpfs
    target: str
    source: str = ""               # bind: host path; volume: its name ("" until named)
    rw: bool = True
    mode: str = ""                 # inspect's Mode
    propagation: str = ""
    copy: bool = True              # volume: copy the image's content in when empty
    driver: str = ""
    volume_opts: dict | None = None
    volume_labels: dict | None = None
    tmpfs_options: list[str] = field(default_factory=list)
    origin: str = "binds"          # binds | mounts | volumes-from | config-volumes
    anonymous: bool = False        # created for this container (rm -v removes it)
    create_source: bool = False    # -v: a missing host directory is created
    recursive: bool = True
    readonly_recursive: bool = False
    subpath: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> "MountSpec":
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class MountConfigError(InvalidParameter):
    def __init__(self, mtype: str, detail: str) -> None:
        super().__init__(f'invalid mount config for type "{mtype}": {detail}')
        self.detail = detail


def _invalid_spec(raw: str) -> InvalidParameter:
    return InvalidParameter(f"invalid volume specification: '{raw}'")


def valid_mode(mode: str) -> bool:
    """docker's linuxValidMountMode: at most one of each kind, nothing unknown."""
    if mode == "":
        return True
    counts = {"rw": 0, "label": 0, "prop": 0, "copy": 0, "cons": 0}
    for opt in mode.split(","):
        if opt in RW_MODES:
            counts["rw"] += 1
        elif opt in LABEL_MODES:
            counts["label"] += 1
        elif opt in PROPAGATION_MODES:
            counts["prop"] += 1
        elif opt in COPY_MODES:
            counts["copy"] += 1
        elif opt in CONSISTENCY_MODES:
            counts["cons"] += 1
        else:
            return False
    return all(n <= 1 for n in counts.values())


def _check_target(mtype: str, target: str) -> None:
    if not target:
        raise MountConfigError(mtype, "field Target must not be empty")
    if target == "/":
        raise MountConfigError(mtype, "invalid specification: destination can't be '/'")
    if not target.startswith("/"):
        raise MountConfigError(mtype, f"invalid mount path: '{target}' mount path must be absolute")


def parse_bind(raw: str) -> MountSpec:
    """One HostConfig.Binds entry (docker's linux ParseMountRaw)."""
    arr = raw.split(":")
    if arr[0] == "":
        raise _invalid_spec(raw)
    mode = ""
    if len(arr) == 1:
        source, target = "", arr[0]
    elif len(arr) == 2:
        if valid_mode(arr[1]):
            raise _invalid_spec(raw)  # "/foo:rw": a destination with a mode and no source
        source, target = arr
    elif len(arr) == 3:
        source, target, mode = arr
    else:
        raise _invalid_spec(raw)
    if not valid_mode(mode):
        raise InvalidParameter(f"invalid mode: {mode}")
    opts = mode.split(",") if mode else []
    mtype = "bind" if source.startswith("/") else "volume"
    propagation = next((o for o in opts if o in PROPAGATION_MODES), "")
    nocopy = "nocopy" in opts
    try:
        _check_target(mtype, target)
        if mtype == "bind" and nocopy:
            raise MountConfigError(mtype, "field VolumeOptions must not be specified")
        if mtype == "volume" and propagation:
            raise MountConfigError(mtype, "field BindOptions must not be specified")
    except InvalidParameter as e:
        raise InvalidParameter(f"invalid volume specification: '{raw}': {e.message}") from None
    spec = MountSpec(type=mtype, target=posixpath.normpath(target), rw="ro" not in opts, mode=mode,
                     origin="binds")
    if mtype == "bind":
        spec.source = posixpath.normpath(source)
        spec.propagation = propagation or DEFAULT_PROPAGATION
        spec.create_source = True
    else:
        spec.source = source
        spec.copy = not nocopy
        spec.anonymous = source == ""
        if not spec.mode:
            spec.mode = "z"  # docker's setBindModeIfNull for local volumes
    return spec


def _tmpfs_size(size: int) -> str:
    for suffix, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % div == 0:
            return f"size={size // div}{suffix}"
    return f"size={size}"


def parse_mount(m: dict) -> MountSpec:
    """One HostConfig.Mounts object (docker's ParseMountSpec with its checks)."""
    mtype = m.get("Type") or ""
    target = m.get("Target") or ""
    source = m.get("Source") or ""
    readonly = bool(m.get("ReadOnly"))
    bind_opts, vol_opts, tmpfs_opts = m.get("BindOptions"), m.get("VolumeOptions"), m.get("TmpfsOptions")
    if mtype not in ("bind", "volume", "tmpfs"):
        if mtype in ("npipe", "cluster", "image"):
            raise MountConfigError(mtype, f"mount type {mtype!r} is not supported by this engine")
        raise MountConfigError(mtype, "mount type unknown")
    _check_target(mtype, target)
    spec = MountSpec(type=mtype, target=posixpath.normpath(target), rw=not readonly, origin="mounts")
    if mtype == "bind":
        if not source:
            raise MountConfigError(mtype, "field Source must not be empty")
        if bind_opts and bind_opts.get("Propagation") and bind_opts["Propagation"] not in PROPAGATION_MODES:
            raise MountConfigError(mtype, f"invalid propagation mode: {bind_opts['Propagation']}")
        if vol_opts is not None:
            raise MountConfigError(mtype, "field VolumeOptions must not be specified")
        if tmpfs_opts is not None:
            raise MountConfigError(mtype, "field TmpfsOptions must not be specified")
        if not source.startswith("/"):
            raise MountConfigError(mtype, f"invalid mount path: '{source}' mount path must be absolute")
        create = bool((bind_opts or {}).get("CreateMountpoint"))
        if not create and not os.path.lexists(source):
            raise MountConfigError(mtype, f"bind source path does not exist: {source}")
        spec.source = posixpath.normpath(source)
        spec.propagation = (bind_opts or {}).get("Propagation") or DEFAULT_PROPAGATION
        spec.create_source = create
        spec.recursive = not (bind_opts or {}).get("NonRecursive")
        if (bind_opts or {}).get("ReadOnlyNonRecursive") and (bind_opts or {}).get("ReadOnlyForceRecursive"):
            raise MountConfigError(mtype, "cannot set both ReadOnlyNonRecursive and ReadOnlyForceRecursive")
        if (bind_opts or {}).get("ReadOnlyForceRecursive"):
            if not readonly:
                raise MountConfigError(mtype, "option ReadOnlyForceRecursive requires ReadOnly")
            spec.readonly_recursive = True
    elif mtype == "volume":
        if bind_opts is not None:
            raise MountConfigError(mtype, "field BindOptions must not be specified")
        if tmpfs_opts is not None:
            raise MountConfigError(mtype, "field TmpfsOptions must not be specified")
        if readonly and not source:
            raise MountConfigError(mtype, "must not set ReadOnly mode when using anonymous volumes")
        vo = vol_opts or {}
        subpath = vo.get("Subpath") or ""
        if subpath:
            if subpath.startswith("/") or ".." in subpath.split("/"):
                raise MountConfigError(mtype, "subpath must be a relative path within the volume")
            spec.subpath = posixpath.normpath(subpath)
        driver_cfg = vo.get("DriverConfig") or {}
        spec.source = source
        spec.anonymous = source == ""
        spec.copy = not vo.get("NoCopy")
        spec.driver = driver_cfg.get("Name") or ""
        spec.volume_opts = driver_cfg.get("Options") or None
        spec.volume_labels = vo.get("Labels") or None
        spec.mode = "z"
    else:
        if bind_opts is not None:
            raise MountConfigError(mtype, "field BindOptions must not be specified")
        if vol_opts is not None:
            raise MountConfigError(mtype, "field VolumeOptions must not be specified")
        if source:
            raise MountConfigError(mtype, "field Source must not be specified")
        to = tmpfs_opts or {}
        opts = ["noexec", "nosuid", "nodev"]
        size = int(to.get("SizeBytes") or 0)
        if size < 0:
            raise MountConfigError(mtype, "invalid tmpfs size")
        if size:
            opts.append(_tmpfs_size(size))
        if to.get("Mode"):
            opts.append(f"mode={int(to['Mode']):o}")
        if readonly:
            opts.append("ro")
        for pair in to.get("Options") or []:
            opts.append("=".join(str(p) for p in pair))
        spec.tmpfs_options = opts
    return spec


def parse_tmpfs(target: str, data: str) -> MountSpec:
    """One HostConfig.Tmpfs entry (`--tmpfs /run:size=64m`); not listed in inspect's Mounts."""
    _check_target("tmpfs", target)
    opts = ["noexec", "nosuid", "nodev"] + [o for o in (data or "").split(",") if o]
    return MountSpec(type="tmpfs", target=posixpath.normpath(target), origin="tmpfs",
                     rw="ro" not in opts, tmpfs_options=opts)


def parse_volumes_from(spec: str) -> tuple[str, bool]:
    """`ctr[:ro|rw]` → (container, read-write allowed)."""
    name, sep, mode = spec.partition(":")
    if not sep:
        return name, True
    if not valid_mode(mode) or mode == "":
        raise InvalidParameter(f"invalid mode: {mode}")
    return name, "ro" not in mode.split(",")


def docker_mount(spec: MountSpec, mountpoint: str) -> dict:
    """The entry of a container's inspect `Mounts` (docker's MountPoint shape)."""
    if spec.type == "volume":
        return {"Type": "volume", "Name": spec.source, "Source": mountpoint, "Destination": spec.target,
                "Driver": spec.driver or "local", "Mode": spec.mode, "RW": spec.rw, "Propagation": ""}
    if spec.type == "bind":
        return {"Type": "bind", "Source": spec.source, "Destination": spec.target, "Mode": spec.mode,
                "RW": spec.rw, "Propagation": spec.propagation}
    return {"Type": "tmpfs", "Source": "", "Destination": spec.target, "Mode": "", "RW": spec.rw,
            "Propagation": ""}
