"""`volume create | inspect | ls | prune | rm`, with docker 28's flags, output and errors."""

from __future__ import annotations

from .command import (
    FORMAT_USAGE,
    FORMAT_USAGE_NO_TABLE,
    APIError,
    Cli,
    CliError,
    Command,
    confirm,
    filter_flag,
    filters_query,
)
from .flags import FlagSet, Values
from .formatter import Row, write_rows
from .optvalues import kv_map, label_value
from .units import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

VOLUME_HEADERS = {
    "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
    "Availability": "AVAILABILITY", "Status": "STATUS",
}


class VolumeRow(Row):
    __gotype__ = "*formatter.volumeContext"

    def Label(self, name: str) -> str:  # noqa: N802 - the template method's name
        return (self._labels or {}).get(name, "")


def volume_row(v: dict[str, Any]) -> VolumeRow:
    """docker's volumeContext: N/A where the daemon gave no usage data or cluster info."""
    labels = v.get("Labels") or {}
    usage = v.get("UsageData")
    return VolumeRow(
        Name=v.get("Name", ""), Driver=v.get("Driver", ""), Scope=v.get("Scope", ""),
        Mountpoint=v.get("Mountpoint", ""),
        Labels=",".join(f"{k}={val}" for k, val in sorted(labels.items())),
        Links=str(usage.get("RefCount", 0)) if usage else "N/A",
        Size=human_size(usage.get("Size", 0)) if usage else "N/A",  # docker prints -1 (unknown) as "-1B"
        Group="N/A", Availability="N/A", Status="N/A", _labels=labels,
    )


def _volume_schema() -> Any:
    from .gotypes import Schema

    # docker's api/types/volume.Volume (ClusterVolume left out: never set by this engine)
    return Schema({
        "volume.Volume": """
            CreatedAt string omitempty
            Driver string
            Labels map[string]string
            Mountpoint string
            Name string
            Options map[string]string
            Scope string
            Status map[string]any omitempty
            UsageData *volume.UsageData omitempty
        """,
        "volume.UsageData": """
            RefCount int
            Size int
        """,
    })


def typed_view(doc: Any) -> Any:
    """A volume as docker's CLI decodes it before `inspect -f` (nil maps print map[])."""
    from .gotypes import decoder

    global _decode
    if _decode is None:
        _decode = decoder(_volume_schema)
    return _decode("volume.Volume", doc)


_decode = None


# --- create -------------------------------------------------------------------------------------


def _create_flags(fs: FlagSet) -> None:
    fs.string("availability", "", 'Cluster Volume availability ("active", "pause", "drain")', default="active")
    fs.string("driver", "d", "Specify volume driver name", default="local")
    fs.string("group", "", "Cluster Volume group (cluster volumes)")
    fs.list("label", "", "Set metadata for a volume", convert=label_value)
    fs.string("limit-bytes", "", "Minimum size of the Cluster Volume in bytes", kind="bytes")
    fs.string("name", "", "Specify volume name", hidden=True)
    fs.list("opt", "o", "Set driver specific options", kind="map", help_default="map[]")
    fs.string("required-bytes", "", "Maximum size of the Cluster Volume in bytes", kind="bytes")
    fs.string("scope", "", 'Cluster Volume access scope ("single", "multi")', default="single")
    fs.list("secret", "", "Cluster Volume secrets", kind="map", help_default="map[]")
    fs.string("sharing", "", 'Cluster Volume access sharing ("none", "readonly", "onewriter", "all")',
              default="none")
    fs.list("topology-preferred", "", "A topology that the Cluster Volume would be preferred in")
    fs.list("topology-required", "", "A topology that the Cluster Volume must be accessible from")
    fs.string("type", "", 'Cluster Volume access type ("mount", "block")', default="block")


_CLUSTER_FLAGS = ("availability", "group", "limit-bytes", "required-bytes", "scope", "secret", "sharing",
                  "topology-preferred", "topology-required", "type")


def _create(cli: Cli, v: Values, args: list[str]) -> int:
    name = v.name
    if args:
        if v.name and v.name != args[0]:
            raise CliError("conflicting options: cannot specify a volume-name through both --name "
                           "and as a positional arg")
        name = args[0]
    body: dict[str, Any] = {"Driver": v.driver, "DriverOpts": kv_map(list(v.opt)),
                            "Labels": kv_map(list(v.label)), "Name": name}
    if any(v.was_set(f) for f in _CLUSTER_FLAGS):
        # docker sends a ClusterVolumeSpec; the daemon (not a swarm manager) refuses it
        body["ClusterVolumeSpec"] = {"Group": v.group, "AccessMode": {"Scope": v.scope, "Sharing": v.sharing}}
    vol = cli.client().post("/volumes/create", None, body) or {}
    cli.out.write(vol.get("Name", "") + "\n")
    return 0


def create_command() -> Command:
    return Command("create", "[OPTIONS] [VOLUME]", "Create a volume", _create, _create_flags, ("max", 1),
                   aliases="")


# --- inspect ------------------------------------------------------------------------------------


def _inspect_flags(fs: FlagSet) -> None:
    fs.string("format", "f", FORMAT_USAGE_NO_TABLE)


def _inspect(cli: Cli, v: Values, args: list[str]) -> int:
    from .cmd_inspect import inspect_objects

    def fetch(name: str) -> Any:
        return cli.client().request("GET", f"/volumes/{name}").read(), "volume"

    return inspect_objects(cli, args, fetch, v.format)


def inspect_command() -> Command:
    return Command("inspect", "[OPTIONS] VOLUME [VOLUME...]",
                   "Display detailed information on one or more volumes", _inspect, _inspect_flags, ("min", 1))


# --- ls -----------------------------------------------------------------------------------------


def _ls_flags(fs: FlagSet) -> None:
    fs.bool("cluster", "", "Display only cluster volumes, and use cluster volume list formatting")
    filter_flag(fs, "f", 'Provide filter values (e.g. "dangling=true")')
    fs.string("format", "", FORMAT_USAGE)
    fs.bool("quiet", "q", "Only display volume names")


def _natural_key(name: str) -> list[Any]:
    """docker sorts volume names with sortorder.NaturalLess: digit runs compare as numbers."""
    import re

    return [(0, int(p), p) if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", name)]


def _ls(cli: Cli, v: Values, args: list[str]) -> int:
    if v.cluster:
        raise CliError("Error: cluster volumes are not supported: this node is not a swarm manager")
    try:
        query = filters_query(list(v.filter))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    reply = cli.client().get("/volumes", {"filters": query} if query else None) or {}
    vols = sorted(reply.get("Volumes") or [], key=lambda x: _natural_key(x.get("Name", "")))
    for warning in reply.get("Warnings") or []:
        cli.err.write(warning + "\n")
    fmt = v.format
    if fmt in ("", "table") and v.quiet:  # a custom --format wins over -q, as in docker's CLI
        cli.out.write("".join(x.get("Name", "") + "\n" for x in vols))
        return 0
    write_rows(cli.out, "table" if fmt == "" else fmt, [volume_row(x) for x in vols], VOLUME_HEADERS,
               ["Driver", "Name"])
    return 0


def ls_command() -> Command:
    return Command("ls", "[OPTIONS]", "List volumes", _ls, _ls_flags, ("none",),
                   aliases="volume ls, volume list")


# --- prune --------------------------------------------------------------------------------------


def _prune_flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Remove all unused volumes, not just anonymous ones")
    filter_flag(fs, "", 'Provide filter values (e.g. "label=<label>")')
    fs.bool("force", "f", "Do not prompt for confirmation")


def _prune(cli: Cli, v: Values, args: list[str]) -> int:
    filters = list(v.filter)
    if v.all:
        if any(f.partition("=")[0].strip().lower() == "all" for f in filters):
            given = next(f for f in filters if f.partition("=")[0].strip().lower() == "all")
            raise CliError(f"conflicting options: cannot specify both --all and --filter {given}")
        filters.append("all=true")
        warning = ("WARNING! This will remove all local volumes not used by at least one container.\n"
                   "Are you sure you want to continue?")
    else:
        warning = ("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                   "Are you sure you want to continue?")
    if not v.force and not confirm(cli, warning):
        return 0
    try:
        query = filters_query(filters)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    report = cli.client().post("/volumes/prune", {"filters": query} if query else None) or {}
    out = ""
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        out = "Deleted Volumes:\n" + "".join(name + "\n" for name in deleted) + "\n"
    out += f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0)}\n"
    cli.out.write(out)
    return 0


def prune_command() -> Command:
    return Command("prune", "[OPTIONS]", "Remove unused local volumes", _prune, _prune_flags, ("none",))


# --- rm -----------------------------------------------------------------------------------------


def _rm_flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Force the removal of one or more volumes")


def _rm(cli: Cli, v: Values, args: list[str]) -> int:
    client = cli.client()
    errors: list[str] = []
    for name in args:
        try:
            client.delete(f"/volumes/{name}", {"force": True} if v.force else None)
        except APIError as exc:
            errors.append(exc.message or "")
            continue
        cli.out.write(name + "\n")
    if errors:
        raise CliError("\n".join(errors))
    return 0


def rm_command() -> Command:
    return Command("rm", "[OPTIONS] VOLUME [VOLUME...]",
                   "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
                   _rm, _rm_flags, ("min", 1), aliases="volume rm, volume remove")


# --- update -------------------------------------------------------------------------------------


def _update_flags(fs: FlagSet) -> None:
    fs.string("availability", "", 'Cluster Volume availability ("active", "pause", "drain")', default="active")


def _update(cli: Cli, v: Values, args: list[str]) -> int:
    vol = cli.client().get(f"/volumes/{args[0]}") or {}
    if not vol.get("ClusterVolume"):
        raise CliError("can only update cluster volumes")  # docker's words; no cluster volumes here
    return 0


def update_command() -> Command:
    return Command("update", "[OPTIONS] [VOLUME]", "Update a volume (cluster volumes only)", _update,
                   _update_flags, ("exact", 1))
