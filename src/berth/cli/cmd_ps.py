"""`ps` (`container ls`): docker's container table, JSON lines or a Go template."""

from __future__ import annotations

import time

from .command import FORMAT_USAGE, Cli, Command, filter_flag, filters_query
from .display import displayable_ports, ellipsis, go_quote, go_time_string, since, truncate_id
from .flags import FlagSet, Values
from .formatter import NilPointer, Row, write_rows

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

HEADERS = {
    "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
    "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
    "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
}
DEFAULT_COLUMNS = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]


_IMAGE_CACHE: dict[str, str] = {}
NIL_PLATFORM = type("NilPointer", (NilPointer,), {"__gotype__": "*formatter.Platform"})(0)


def _familiar_image(image: str) -> str:
    """The image column for a reference: its familiar form without a digest (cached:
    a listing usually repeats a handful of images)."""
    shown = _IMAGE_CACHE.get(image)
    if shown is None:
        from .reference import Reference, ReferenceError_, parse_normalized

        try:
            ref = parse_normalized(image)
        except ReferenceError_:
            shown = image
        else:
            if ref.digest:
                ref = Reference(ref.domain, ref.path, ref.tag, "")
            shown = ref.familiar_string()
        _IMAGE_CACHE[image] = shown
    return shown


def _image(c: dict[str, Any], trunc: bool) -> str:
    image = c.get("Image") or ""
    if not image:
        return "<no image>"
    if not trunc:
        return image
    if truncate_id(c.get("ImageID") or "") == truncate_id(image):
        return truncate_id(image)
    return _familiar_image(image)


def _names(names: list[str], trunc: bool) -> str:
    stripped = [n[1:] if n.startswith("/") else n for n in names or []]
    if trunc:
        for n in stripped:
            if "/" not in n:
                return n
        return ""
    return ",".join(stripped)


def _size(c: dict[str, Any]) -> str:
    from .units import human_size_with_precision

    rw = human_size_with_precision(c.get("SizeRw") or 0, 3)
    root = c.get("SizeRootFs") or 0
    if root > 0:
        return f"{rw} (virtual {human_size_with_precision(root, 3)})"
    return rw


def _mounts(c: dict[str, Any], trunc: bool) -> str:
    mounts = []
    for m in c.get("Mounts") or []:
        name = m.get("Name") or m.get("Source") or ""
        mounts.append(ellipsis(name, 15) if trunc else name)
    return ",".join(mounts)


def _command(c: dict[str, Any], trunc: bool) -> str:
    command = c.get("Command") or ""
    return go_quote(ellipsis(command, 20) if trunc else command)


# How each field of docker's ContainerContext is computed: (container, trunc, now) -> value.
FIELDS = {
    "ID": lambda c, trunc, now: truncate_id(c.get("Id", "")) if trunc else c.get("Id", ""),
    "Names": lambda c, trunc, now: _names(c.get("Names") or [], trunc),
    "Image": lambda c, trunc, now: _image(c, trunc),
    "Command": lambda c, trunc, now: _command(c, trunc),
    "CreatedAt": lambda c, trunc, now: go_time_string(c.get("Created") or 0),
    "RunningFor": lambda c, trunc, now: since(c.get("Created") or 0, now),
    "Ports": lambda c, trunc, now: displayable_ports(c.get("Ports") or []),
    "State": lambda c, trunc, now: c.get("State") or "",
    "Status": lambda c, trunc, now: c.get("Status") or "",
    "Size": lambda c, trunc, now: _size(c),
    "Labels": lambda c, trunc, now: ",".join(sorted(f"{k}={v}" for k, v in (c.get("Labels") or {}).items())),
    "Mounts": lambda c, trunc, now: _mounts(c, trunc),
    "LocalVolumes": lambda c, trunc, now: str(sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")),
    "Networks": lambda c, trunc, now: ",".join(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
    "Platform": lambda c, trunc, now: NIL_PLATFORM,
}


class ContainerRow(Row):
    __gotype__ = "*formatter.ContainerContext"

    def Label(self, name: str) -> str:  # noqa: N802 - the template method's name
        return (self._labels or {}).get(name, "")


class _ProbeRow(ContainerRow):
    """The empty ContainerContext docker runs a --format over before listing: it
    catches template errors early and notes whether `.Size` is used (then the
    sizes are requested from the daemon)."""

    size_used = False

    def Size(self) -> str:  # noqa: N802
        self.size_used = True
        return "0B"

    def json_fields(self) -> dict[str, Any]:
        return {**super().json_fields(), "Size": self.Size()}


def container_row(c: dict[str, Any], trunc: bool, now: float, fields: Iterable[str] | None = None) -> Row:
    """The row templates and `--format json` see; with `fields`, only those are computed
    (the default table needs 7 of the 15, and computing the rest is most of the cost)."""
    row = ContainerRow(**{name: FIELDS[name](c, trunc, now) for name in (fields or FIELDS)})
    row._labels = c.get("Labels") or {}
    return row


def _probe(fmt: str) -> bool:
    """Validate a --format as docker does; True when it uses `.Size`."""
    if "{{" not in fmt:
        return False  # plain text ("json", "table"): nothing to check, no template engine to load
    from .formatter import probe

    row = _ProbeRow(**{name: FIELDS[name]({}, False, time.time()) for name in FIELDS if name != "Size"})
    row._labels = {}
    probe(fmt, row)
    return row.size_used


def _flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Show all containers (default shows just running)")
    filter_flag(fs)
    fs.string("format", "", FORMAT_USAGE)
    fs.int("last", "n", "Show n last created containers (includes all states)", default=-1)
    fs.bool("latest", "l", "Show the latest created container (includes all states)")
    fs.bool("no-trunc", "", "Don't truncate output")
    fs.bool("quiet", "q", "Only display container IDs")
    fs.bool("size", "s", "Display total file sizes")


def _ps(cli: Cli, v: Values, args: list[str]) -> int:
    fmt = v.format
    if fmt and v.quiet:
        cli.err.write("WARNING: Ignoring custom format, because both --format and --quiet are set.\n")
    size = v.size
    if fmt and _probe(fmt) and not v.quiet and not size and not v.was_set("size"):
        size = True
    params: dict[str, Any] = {}
    if v.all:
        params["all"] = True
    limit = v.last
    if v.latest and limit == -1:
        limit = 1
    if limit > 0:
        params["limit"] = limit
    if size:
        params["size"] = True
    filters = filters_query(list(v.filter))
    if filters:
        params["filters"] = filters
    containers = cli.client().get("/containers/json", params) or []
    trunc = not v.no_trunc
    if v.quiet:
        cli.out.write("".join((truncate_id(c.get("Id", "")) if trunc else c.get("Id", "")) + "\n"
                              for c in containers))
        return 0
    now = time.time()
    columns = DEFAULT_COLUMNS + (["Size"] if size else [])
    table_only = fmt in ("", "table")
    rows = [container_row(c, trunc, now, columns if table_only else None) for c in containers]
    write_rows(cli.out, fmt, rows, HEADERS, columns)
    return 0


def ps_command() -> Command:
    return Command("ps", "[OPTIONS]", "List containers", _ps, _flags, ("none",),
                   aliases="container ls, container list, container ps, ps")
