"""Image commands: `images` (`image ls`), `rmi` (`image rm`), `tag`, `history`,
`image inspect` and `image prune`."""

from __future__ import annotations

import time

from .command import (
    FORMAT_USAGE,
    FORMAT_USAGE_NO_TABLE,
    Cli,
    CliError,
    Command,
    confirm,
    filter_flag,
    filters_query,
)
from .display import ellipsis, go_time_string, since, truncate_id
from .flags import FlagSet, Values
from .formatter import Row, write_rows
from .units import human_size, human_size_with_precision

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


class ImageRow(Row):
    __gotype__ = "*formatter.imageContext"


def _is_dangling(img: dict[str, Any]) -> bool:
    tags = img.get("RepoTags") or []
    digests = img.get("RepoDigests") or []
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]


def _familiar(ref_text: str) -> Any:
    from .reference import ReferenceError_, parse_normalized

    try:
        return parse_normalized(ref_text)
    except ReferenceError_:
        return None


def image_rows(img: dict[str, Any], trunc: bool, show_digests: bool, need_digest: bool,
               now: float) -> list[ImageRow]:
    """docker's images expansion: one row per repository:tag (and digest when asked)."""
    if _is_dangling(img):
        pairs = [("<none>", "<none>", "<none>")]
    else:
        repo_tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for text in img.get("RepoTags") or []:
            ref = _familiar(text)
            if ref is not None and ref.tag:
                repo_tags.setdefault(ref.familiar_name, []).append(ref.tag)
        for text in img.get("RepoDigests") or []:
            ref = _familiar(text)
            if ref is not None and ref.digest:
                repo_digests.setdefault(ref.familiar_name, []).append(ref.digest)
        pairs = []
        for repo, tags in repo_tags.items():
            digests = repo_digests.pop(repo, [])
            if not need_digest:
                digests = []
            for tag in tags:
                if not digests:
                    pairs.append((repo, tag, "<none>"))
                else:
                    pairs.extend((repo, tag, d) for d in digests)
        for repo, digests in repo_digests.items():
            if show_digests:
                pairs.extend((repo, "<none>", d) for d in digests)
            else:
                pairs.append((repo, "<none>", ""))
    created = img.get("Created") or 0
    size = img.get("Size") or 0
    shared = img.get("SharedSize", -1)
    containers = img.get("Containers", -1)
    common = dict(
        ID=truncate_id(img.get("Id", "")) if trunc else img.get("Id", ""),
        CreatedSince=since(created, now),
        CreatedAt=go_time_string(created),
        Size=human_size_with_precision(size, 3),
        Containers="N/A" if containers == -1 else str(containers),
        VirtualSize=human_size(size),
        SharedSize="N/A" if shared == -1 else human_size(shared),
        UniqueSize="N/A" if size == -1 or shared == -1 else human_size(size - shared),
    )
    return [ImageRow(Repository=r, Tag=t, Digest=d, **common) for r, t, d in pairs]


def _images_flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Show all images (default hides intermediate images)")
    fs.bool("digests", "", "Show digests")
    filter_flag(fs)
    fs.string("format", "", FORMAT_USAGE)
    fs.bool("no-trunc", "", "Don't truncate output")
    fs.bool("quiet", "q", "Only show image IDs")
    fs.bool("tree", "", "List multi-platform images as a tree (EXPERIMENTAL)")


def _images(cli: Cli, v: Values, args: list[str]) -> int:
    if v.tree:
        raise CliError("--tree is not supported by berth")
    filters = list(v.filter)
    if args:
        filters.append(f"reference={args[0]}")
    params: dict[str, Any] = {}
    if v.all:
        params["all"] = True
    fq = filters_query(filters)
    if fq:
        params["filters"] = fq
    images = cli.client().get("/images/json", params) or []
    trunc = not v.no_trunc
    fmt = v.format
    need_digest = v.digests or "{{.Digest}}" in fmt
    now = time.time()
    rows: list[ImageRow] = []
    for img in images:
        rows.extend(image_rows(img, trunc, v.digests, need_digest, now))
    # NewImageFormat: -q only replaces the default table; a custom format wins over it.
    if fmt in ("", "table"):
        if v.quiet:
            cli.out.write("".join(r.ID + "\n" for r in rows))
            return 0
        fmt = "table"
    elif fmt.startswith("table") and v.digests and "{{.Digest}}" not in fmt:
        fmt += "\t{{.Digest}}"
    columns = ["Repository", "Tag"] + (["Digest"] if v.digests else []) + ["ID", "CreatedSince", "Size"]
    write_rows(cli.out, fmt, rows, IMAGE_HEADERS, columns)
    return 0


def images_command() -> Command:
    return Command("images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", _images, _images_flags,
                   ("max", 1), aliases="image ls, image list, images")


# --- rmi ----------------------------------------------------------------------------------------


def _rmi_flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Force removal of the image")
    fs.bool("no-prune", "", "Do not delete untagged parents")
    fs.list("platform", "", 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" '
            '(e.g., "linux/amd64")', kind="strings")


def _rmi(cli: Cli, v: Values, args: list[str]) -> int:
    params: dict[str, Any] = {}
    if v.force:
        params["force"] = True
    if v.no_prune:
        params["noprune"] = True
    client = cli.client()
    errors: list[str] = []
    for name in args:
        try:
            deleted = client.delete(f"/images/{name}", params or None) or []
        except CliError as exc:
            errors.append(exc.message or "")
            continue
        for item in deleted:
            if item.get("Untagged"):
                cli.out.write(f"Untagged: {item['Untagged']}\n")
            if item.get("Deleted"):
                cli.out.write(f"Deleted: {item['Deleted']}\n")
    if errors:
        raise CliError("\n".join(errors))
    return 0


def rmi_command() -> Command:
    return Command("rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", _rmi, _rmi_flags,
                   ("min", 1), aliases="image rm, image remove, rmi")


# --- tag ------------------------------------------------------------------------------------------


def _tag(cli: Cli, v: Values, args: list[str]) -> int:
    from .reference import ReferenceError_, parse_normalized

    source, target = args
    try:
        ref = parse_normalized(target)
    except ReferenceError_ as exc:
        raise CliError(f'Error parsing reference: "{target}" is not a valid repository/tag: {exc}') from None
    if ref.digest:
        raise CliError("refusing to create a tag with a digest reference")
    ref = ref.with_default_tag()
    cli.client().post(f"/images/{source}/tag", {"repo": ref.name, "tag": ref.tag})
    return 0


def tag_command() -> Command:
    return Command("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                   "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", _tag, None, ("exact", 2),
                   aliases="image tag, tag")


# --- history ---------------------------------------------------------------------------------------

HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


class HistoryRow(Row):
    __gotype__ = "*image.historyContext"


def _rfc3339_utc(unix: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(unix)))


def history_row(h: dict[str, Any], trunc: bool, human: bool, now: float) -> HistoryRow:
    created = h.get("Created") or 0
    created_by = (h.get("CreatedBy") or "").replace("\t", " ")
    size = h.get("Size") or 0
    hid = h.get("Id") or ""
    return HistoryRow(
        ID=truncate_id(hid) if trunc else hid,
        CreatedAt=_rfc3339_utc(created),
        CreatedSince=since(created, now) if human else _rfc3339_utc(created),
        CreatedBy=ellipsis(created_by, 45) if trunc else created_by,
        Size=human_size_with_precision(size, 3) if human else str(size),
        Comment=h.get("Comment") or "",
    )


def _history_flags(fs: FlagSet) -> None:
    fs.string("format", "", FORMAT_USAGE)
    fs.bool("human", "H", "Print sizes and dates in human readable format", default=True)
    fs.bool("no-trunc", "", "Don't truncate output")
    fs.string("platform", "", 'Show history for the given platform. Formatted as "os[/arch[/variant]]" '
              '(e.g., "linux/amd64")')
    fs.bool("quiet", "q", "Only show image IDs")


def _history(cli: Cli, v: Values, args: list[str]) -> int:
    params = {"platform": v.platform} if v.platform else None
    items = cli.client().get(f"/images/{args[0]}/history", params) or []
    trunc = not v.no_trunc
    now = time.time()
    rows = [history_row(h, trunc, v.human, now) for h in items]
    fmt = v.format
    if fmt in ("", "table"):
        if v.quiet:
            cli.out.write("".join(r.ID + "\n" for r in rows))
            return 0
        fmt = "table"
    columns = ["ID", "CreatedSince" if v.human else "CreatedAt", "CreatedBy", "Size", "Comment"]
    write_rows(cli.out, fmt, rows, HISTORY_HEADERS, columns)
    return 0


def history_command() -> Command:
    return Command("history", "[OPTIONS] IMAGE", "Show the history of an image", _history, _history_flags,
                   ("exact", 1), aliases="image history, history")


# --- image inspect ------------------------------------------------------------------------------------


def _image_inspect_flags(fs: FlagSet) -> None:
    fs.string("format", "f", FORMAT_USAGE_NO_TABLE)
    fs.string("platform", "", 'Inspect a specific platform of the multi-platform image.\n'
              'If the image or the server is not multi-platform capable, the command will error out '
              'if the platform does not match.\n'
              "'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")


def _image_inspect(cli: Cli, v: Values, args: list[str]) -> int:
    from .cmd_inspect import inspect_objects

    def fetch(name: str) -> Any:
        return cli.client().request("GET", f"/images/{name}/json").read(), "image"

    return inspect_objects(cli, args, fetch, v.format)


def image_inspect_command() -> Command:
    return Command("inspect", "[OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images",
                   _image_inspect, _image_inspect_flags, ("min", 1))


# --- image prune ----------------------------------------------------------------------------------------


def _prune_flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Remove all unused images, not just dangling ones")
    filter_flag(fs, "", 'Provide filter values (e.g. "until=<timestamp>")')
    fs.bool("force", "f", "Do not prompt for confirmation")


def _prune(cli: Cli, v: Values, args: list[str]) -> int:
    if v.all:
        warning = ("WARNING! This will remove all images without at least one container associated to them.\n"
                   "Are you sure you want to continue?")
    else:
        warning = "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
    if not v.force and not confirm(cli, warning):
        return 0
    from .prunefilters import prune_filters

    filters = prune_filters(cli, list(v.filter))  # config.json's pruneFilters too, as docker
    filters.append("dangling=false" if v.all else "dangling=true")
    report = cli.client().post("/images/prune", {"filters": filters_query(filters)}) or {}
    out = ""
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        out = "Deleted Images:\n"
        for item in deleted:
            if item.get("Untagged"):
                out += f"untagged: {item['Untagged']}\n"
            if item.get("Deleted"):
                out += f"deleted: {item['Deleted']}\n"
        out += "\n"
    out += f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0)}\n"
    cli.out.write(out)
    return 0


def image_prune_command() -> Command:
    return Command("prune", "[OPTIONS]", "Remove unused images", _prune, _prune_flags, ("none",))
