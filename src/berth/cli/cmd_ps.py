"""`ps` (`container ls`): docker's container table, JSON lines or a Go template."""

from __future__ import annotations

import time
from typing import Any

from .command import FORMAT_USAGE, Cli, Command, filter_flag, filters_query
from .display import displayable_ports, ellipsis, go_quote, go_time_string, since, truncate_id
from .flags import FlagSet, Values
from .formatter import Row, write_rows

HEADERS = {
    "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
    "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
    "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
}
DEFAULT_COLUMNS = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]


def _image(c: dict[str, Any], trunc: bool) -> str:
    image = c.get("Image") or ""
    if not image:
        return "<no image>"
    if not trunc:
        return image
    if truncate_id(c.get("ImageID") or "") == truncate_id(image):
        return truncate_id(image)
    from .reference import ReferenceError_, parse_normalized

    try:
        ref = parse_normalized(image)
    except ReferenceError_:
        return image
    if ref.digest:
        ref = type(ref)(ref.domain, ref.path, ref.tag, "")
    return ref.familiar_string()


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


class ContainerRow(Row):
    __gotype__ = "*formatter.ContainerContext"

    def Label(self, name: str) -> str:  # noqa: N802 - the template method's name
        return (self._labels or {}).get(name, "")


def container_row(c: dict[str, Any], trunc: bool, now: float) -> Row:
    labels = c.get("Labels") or {}
    mounts = []
    for m in c.get("Mounts") or []:
        name = m.get("Name") or m.get("Source") or ""
        mounts.append(ellipsis(name, 15) if trunc else name)
    command = c.get("Command") or ""
    networks = list(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    row = ContainerRow(
        ID=truncate_id(c.get("Id", "")) if trunc else c.get("Id", ""),
        Names=_names(c.get("Names") or [], trunc),
        Image=_image(c, trunc),
        Command=go_quote(ellipsis(command, 20) if trunc else command),
        CreatedAt=go_time_string(c.get("Created") or 0),
        RunningFor=since(c.get("Created") or 0, now),
        Ports=displayable_ports(c.get("Ports") or []),
        State=c.get("State") or "",
        Status=c.get("Status") or "",
        Size=_size(c),
        Labels=",".join(sorted(f"{k}={v}" for k, v in labels.items())),
        Mounts=",".join(mounts),
        LocalVolumes=str(sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")),
        Networks=",".join(networks),
        Platform=None,
    )
    row._labels = labels
    return row


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
    size = v.size
    if not v.quiet and not size and fmt and (fmt.strip() == "json" or ".Size" in fmt):
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
    rows = [container_row(c, trunc, now) for c in containers]
    columns = DEFAULT_COLUMNS + (["Size"] if v.size else [])
    write_rows(cli.out.write, fmt, rows, HEADERS, columns)
    return 0


def ps_command() -> Command:
    return Command("ps", "[OPTIONS]", "List containers", _ps, _flags, ("none",),
                   aliases="container ls, container list, container ps, ps")
