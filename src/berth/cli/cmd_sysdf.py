"""`system df` and `system prune`, worded and laid out as docker 28's.

`df` reads GET /system/df once and computes every figure on the client, as
docker's formatter does (so `Reclaimable` of images counts only images whose
shared size is known, exactly like docker). `prune` calls the prune endpoints
in docker's order: containers, networks, volumes (with --volumes), images,
build cache, printing each report as it arrives.
"""

from __future__ import annotations

import re
import time

from .command import FORMAT_USAGE, Cli, CliError, Command, confirm, filter_flag, filters_query
from .flags import FlagSet, Values
from .formatter import Row, go_json, is_table, tabwrite, write, write_rows
from .units import human_size, human_size_with_precision

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUMMARY_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                   "Reclaimable": "RECLAIMABLE"}
SUMMARY_COLUMNS = ["Type", "TotalCount", "Active", "Size", "Reclaimable"]

IMAGE_COLUMNS = ["Repository", "Tag", "ID", "CreatedSince", "Size", "SharedSize", "UniqueSize", "Containers"]
CONTAINER_COLUMNS = ["ID", "Image", "Command", "LocalVolumes", "Size", "RunningFor", "Status", "Names"]
VOLUME_COLUMNS = ["Name", "Links", "Size"]
CACHE_COLUMNS = ["ID", "CacheType", "Size", "CreatedSince", "LastUsedSince", "UsageCount", "Shared"]
CACHE_HEADERS = {"ID": "CACHE ID", "Parent": "PARENT", "CacheType": "CACHE TYPE", "Size": "SIZE",
                 "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE",
                 "InUse": "IN USE", "Shared": "SHARED", "Description": "DESCRIPTION"}


class SummaryRow(Row):
    __gotype__ = "*formatter.diskUsageImagesContext"


class CacheRow(Row):
    __gotype__ = "*formatter.buildCacheContext"


def _with_share(part: int, total: int) -> str:
    """"1.2MB (50%)", or the bare size when the total is zero (docker's integer percentage)."""
    if total > 0:
        return f"{human_size(part)} ({part * 100 // total}%)"
    return human_size(part)


def _active_state(state: str) -> bool:
    return any(word in state for word in ("running", "paused", "restarting"))


def summary_rows(du: dict[str, Any]) -> list[SummaryRow]:
    """The four lines of `system df`, computed as docker's disk-usage contexts do."""
    images = du.get("Images") or []
    total = du.get("LayersSize") or 0
    used = sum(i.get("Size", 0) - i.get("SharedSize", 0) for i in images
               if i.get("Containers", 0) != 0 and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1)
    rows = [SummaryRow(Type="Images", TotalCount=str(len(images)),
                       Active=str(sum(1 for i in images if (i.get("Containers") or 0) > 0)),
                       Size=human_size(total), Reclaimable=_with_share(total - used, total))]
    containers = du.get("Containers") or []
    size = sum(c.get("SizeRw") or 0 for c in containers)
    idle = sum(c.get("SizeRw") or 0 for c in containers if not _active_state(c.get("State") or ""))
    rows.append(SummaryRow(Type="Containers", TotalCount=str(len(containers)),
                           Active=str(sum(1 for c in containers if _active_state(c.get("State") or ""))),
                           Size=human_size(size), Reclaimable=_with_share(idle, size)))
    volumes = du.get("Volumes") or []
    usage = [v.get("UsageData") or {"Size": -1, "RefCount": -1} for v in volumes]
    size = sum(u.get("Size", -1) for u in usage if u.get("Size", -1) != -1)
    idle = sum(u.get("Size", -1) for u in usage if u.get("Size", -1) != -1 and u.get("RefCount", 0) == 0)
    rows.append(SummaryRow(Type="Local Volumes", TotalCount=str(len(volumes)),
                           Active=str(sum(1 for u in usage if u.get("RefCount", 0) > 0)),
                           Size=human_size(size), Reclaimable=_with_share(idle, size)))
    cache = du.get("BuildCache") or []
    size = sum(b.get("Size") or 0 for b in cache if not b.get("Shared"))
    busy = sum(b.get("Size") or 0 for b in cache if b.get("InUse") and not b.get("Shared"))
    rows.append(SummaryRow(Type="Build Cache", TotalCount=str(len(cache)),
                           Active=str(sum(1 for b in cache if b.get("InUse"))),
                           Size=human_size(size), Reclaimable=human_size(size - busy)))
    return rows


# --- verbose ------------------------------------------------------------------------------------

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _go_time(text: str | None) -> tuple[float, str] | None:
    """An RFC 3339 time from the API: (unix time, Go's time.Time.String() of it)."""
    m = _RFC3339.match(text or "")
    if not m:
        return None
    import calendar

    year, mon, day, hh, mm, ss, frac, zone = m.groups()
    unix = calendar.timegm((int(year), int(mon), int(day), int(hh), int(mm), int(ss)))
    offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    unix -= offset
    digits = (frac or "")[:9].rstrip("0")
    shown = f"{year}-{mon}-{day} {hh}:{mm}:{ss}" + (f".{digits}" if digits else "")
    if zone == "Z":
        shown += " +0000 UTC"
    else:
        shown += f" {zone[0]}{zone[1:3]}{zone[4:6]} {zone[0]}{zone[1:3]}{zone[4:6]}"
    return unix + (float("0." + frac) if frac else 0.0), shown


def cache_row(b: dict[str, Any], trunc: bool, now: float) -> CacheRow:
    """docker's buildCacheContext: `*` marks a record in use, times are client-side."""
    from .display import since, truncate_id

    ident = b.get("ID") or ""
    ident = truncate_id(ident) if trunc else ident
    parent = b.get("Parent") or ""  # docker 28 reads only the deprecated Parent, not Parents
    created = _go_time(b.get("CreatedAt"))
    last = _go_time(b.get("LastUsedAt"))
    return CacheRow(
        ID=ident + ("*" if b.get("InUse") else ""),
        Parent=truncate_id(parent) if trunc else parent,
        CacheType=b.get("Type") or "", Description=b.get("Description") or "",
        Size=human_size_with_precision(b.get("Size") or 0, 3),
        CreatedAt=created[1] if created else "0001-01-01 00:00:00 +0000 UTC",
        CreatedSince=since(created[0], now) if created else "",
        LastUsedAt=last[1] if last else "", LastUsedSince=since(last[0], now) if last else "",
        UsageCount=str(b.get("UsageCount") or 0), InUse="true" if b.get("InUse") else "false",
        Shared="true" if b.get("Shared") else "false",
    )


def _cache_order(b: dict[str, Any]) -> tuple:
    """docker's buildCacheSort: never-used first, then by last use, ties by ID."""
    last = _go_time(b.get("LastUsedAt"))
    return (last is not None, last[0] if last else 0.0, b.get("ID") or "")


class DiskUsage:
    """The value docker's verbose templates run over (Images, Containers, Volumes, BuildCache)."""

    __gotype__ = "*formatter.diskUsageContext"

    def __init__(self, du: dict[str, Any], trunc: bool, now: float) -> None:
        from .cmd_images import ImageRow, image_rows
        from .cmd_ps import container_row
        from .cmd_volume import volume_row
        from .reference import ReferenceError_, parse_normalized

        self.Images: list[Any] = []
        for img in du.get("Images") or []:
            repo = tag = "<none>"
            tags = img.get("RepoTags") or []
            digests = img.get("RepoDigests") or []
            dangling = (not tags and not digests) or (tags == ["<none>:<none>"] and digests == ["<none>@<none>"])
            if tags and not dangling:
                try:
                    ref = parse_normalized(tags[0])
                except ReferenceError_:
                    continue
                if ref.tag:
                    repo, tag = ref.familiar_name, ref.tag
            base = image_rows(dict(img, RepoTags=[], RepoDigests=[]), trunc, False, False, now)[0]
            self.Images.append(ImageRow(**dict(base.__dict__, Repository=repo, Tag=tag, Digest="")))
        # docker hides the virtual size here
        self.Containers = [container_row(dict(c, SizeRootFs=0), trunc, now) for c in du.get("Containers") or []]
        self.Volumes = [volume_row(v) for v in du.get("Volumes") or []]
        cache = sorted(du.get("BuildCache") or [], key=_cache_order)
        self.BuildCache = [cache_row(b, trunc, now) for b in cache]

    def __gojson__(self) -> Any:
        from berth.gotemplate.gojson import RawMessage

        parts = [f'"{name}":[' + ",".join(go_json(r.json_fields()) for r in getattr(self, name)) + "]"
                 for name in ("Images", "Containers", "Volumes", "BuildCache")]
        return RawMessage("{" + ",".join(parts) + "}")


def _table(rows: list[Row], columns: list[str], headers: dict[str, str]) -> str:
    text = "\t".join(headers[c] for c in columns) + "\n"
    text += "".join("\t".join(str(r.get(c, "")) for c in columns) + "\n" for r in rows)
    return tabwrite(text)


def verbose_table(duc: DiskUsage, cache_total: int) -> str:
    from .cmd_images import IMAGE_HEADERS
    from .cmd_ps import HEADERS
    from .cmd_volume import VOLUME_HEADERS

    return (
        "Images space usage:\n\n" + _table(duc.Images, IMAGE_COLUMNS, IMAGE_HEADERS)
        + "\nContainers space usage:\n\n" + _table(duc.Containers, CONTAINER_COLUMNS, HEADERS)
        + "\nLocal Volumes space usage:\n\n" + _table(duc.Volumes, VOLUME_COLUMNS, VOLUME_HEADERS)
        + f"\nBuild cache usage: {human_size(cache_total)}\n\n" + _table(duc.BuildCache, CACHE_COLUMNS, CACHE_HEADERS)
    )


def _df_flags(fs: FlagSet) -> None:
    fs.string("format", "", FORMAT_USAGE)
    fs.bool("verbose", "v", "Show detailed information on space usage")


def _df(cli: Cli, v: Values, args: list[str]) -> int:
    fmt = v.format or "table"
    du = cli.client().get("/system/df") or {}
    if not v.verbose:
        write_rows(cli.out, "" if fmt == "table" else fmt, summary_rows(du), SUMMARY_HEADERS, SUMMARY_COLUMNS)
        return 0
    duc = DiskUsage(du, is_table(fmt), time.time())
    if fmt == "table":
        cache_total = sum(b.get("Size") or 0 for b in du.get("BuildCache") or [] if not b.get("Shared"))
        cli.out.write(verbose_table(duc, cache_total))
        return 0
    # docker runs any other format once over the whole value, with no newline added
    from .formatter import PARSE_ERROR, _gotemplate

    from berth.gotemplate import ExecError, TemplateError

    try:
        tmpl = _gotemplate().parse(fmt)  # preFormat: "json", a leading "table", \t and \n
    except TemplateError as exc:
        raise CliError(f"{PARSE_ERROR}: {exc}") from None
    try:
        text = tmpl.execute(duc)
    except ExecError as exc:
        raise CliError(str(exc)) from None
    write(cli.out, text)
    return 0


def df_command() -> Command:
    return Command("df", "[OPTIONS]", "Show berth disk usage", _df, _df_flags, ("none",))


# --- prune --------------------------------------------------------------------------------------


def _prune_flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Remove all unused images not just dangling ones")
    filter_flag(fs, "", 'Provide filter values (e.g. "label=<key>=<value>")')
    fs.bool("force", "f", "Do not prompt for confirmation")
    fs.bool("volumes", "", "Prune anonymous volumes")


def _natural_key(text: str) -> list[Any]:
    """sortorder.NaturalLess: runs of digits compare as numbers."""
    return [(0, int(part), part) if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part]


def _split(value: str) -> tuple[str, str]:
    key, _, val = value.partition("=")
    return key.strip().lower(), val.strip()


def confirmation(v: Values, filters: list[str]) -> str:
    warnings = ["all stopped containers", "all networks not used by at least one container"]
    if v.volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append("all images without at least one container associated to them" if v.all
                    else "all dangling images")
    warnings.append("all build cache" if v.all else "unused build cache")
    text = "WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in warnings)
    shown = sorted({f"{k}={val}" for k, val in map(_split, filters) if k in ("label", "label!", "until")},
                   key=_natural_key)
    if shown:
        text += "\n  Items to be pruned will be filtered with:\n" + "".join(f"  - {f}\n" for f in shown)
    return text + "\nAre you sure you want to continue?"


def _report(title: str, items: list[str]) -> str:
    return f"{title}:\n" + "".join(item + "\n" for item in items) + "\n" if items else ""


def _prune(cli: Cli, v: Values, args: list[str]) -> int:
    from .prunefilters import prune_filters

    if v.volumes and any(_split(f)[0] == "until" for f in v.filter):
        raise CliError('ERROR: The "until" filter is not supported with "--volumes"')
    # config.json's pruneFilters, merged as docker does: into one shared set, again for the
    # prompt and for each pruner (so later pruners may get more of them)
    filters = list(v.filter)
    if not v.force:
        filters = prune_filters(cli, filters)
        if not confirm(cli, confirmation(v, filters)):
            return 0
    client = cli.client()
    total = 0

    def query(extra: list[str]) -> str | None:
        nonlocal filters
        filters = prune_filters(cli, filters)
        try:
            return filters_query(filters + extra)
        except ValueError as exc:
            raise CliError(str(exc)) from None

    def step(path: str, p: Any, render: Any) -> None:
        nonlocal total
        if p is None:
            p = {"filters": query([])}
        report = client.post(path, p) or {}
        total += report.get("SpaceReclaimed") or 0
        cli.out.write(render(report))
        cli.out.flush()

    step("/containers/prune", None, lambda r: _report("Deleted Containers", r.get("ContainersDeleted") or []))
    step("/networks/prune", None, lambda r: _report("Deleted Networks", r.get("NetworksDeleted") or []))
    if v.volumes:
        step("/volumes/prune", None, lambda r: _report("Deleted Volumes", r.get("VolumesDeleted") or []))

    def images(r: dict[str, Any]) -> str:
        lines = []
        for item in r.get("ImagesDeleted") or []:
            if item.get("Untagged"):
                lines.append(f"untagged: {item['Untagged']}")
            if item.get("Deleted"):
                lines.append(f"deleted: {item['Deleted']}")
        return _report("Deleted Images", lines)

    step("/images/prune", {"filters": query(["dangling=false" if v.all else "dangling=true"])}, images)
    step("/build/prune", {"all": v.all or None, "filters": query([]) or ""},  # docker sends filters= even empty
         lambda r: _report("Deleted build cache objects", r.get("CachesDeleted") or []))
    cli.out.write(f"Total reclaimed space: {human_size(total)}\n")
    return 0


def prune_command() -> Command:
    return Command("prune", "[OPTIONS]", "Remove unused data", _prune, _prune_flags, ("none",))
