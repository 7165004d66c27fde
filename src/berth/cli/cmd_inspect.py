"""`inspect` (any object), `container inspect`; shared output for `image inspect`.

The daemon's JSON is printed as received, only re-indented (docker's
json.Indent), so field order, number spelling and escapes stay the daemon's.
"""

from __future__ import annotations

from .command import FORMAT_USAGE_NO_TABLE, APIError, Cli, CliError, Command
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

INSPECT_TYPES = ("config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume")


def json_reindent(raw: str, indent: str | None = "    ") -> str:
    """Go's json.Indent (or json.Compact when indent is None), preserving tokens verbatim."""
    out: list[str] = []
    depth = 0
    i = 0
    n = len(raw)
    need_indent = False  # just opened a container; newline goes before its first value
    while i < n:
        c = raw[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == '"':
            j = i + 1
            while j < n:
                if raw[j] == "\\":
                    j += 2
                    continue
                if raw[j] == '"':
                    break
                j += 1
            token = raw[i: j + 1]
            i = j + 1
        elif c in "{[":
            if need_indent and indent is not None:
                out.append("\n" + indent * depth)
            need_indent = True
            depth += 1
            out.append(c)
            i += 1
            continue
        elif c in "}]":
            depth -= 1
            if need_indent:
                need_indent = False  # empty container stays "[]" / "{}"
            elif indent is not None:
                out.append("\n" + indent * depth)
            out.append(c)
            i += 1
            continue
        elif c == ",":
            out.append(",")
            if indent is not None:
                out.append("\n" + indent * depth)
            i += 1
            continue
        elif c == ":":
            out.append(": " if indent is not None else ":")
            i += 1
            continue
        else:
            j = i
            while j < n and raw[j] not in ' \t\r\n,:]}"[{':
                j += 1
            token = raw[i:j]
            i = j
        if need_indent and indent is not None:
            out.append("\n" + indent * depth)
        need_indent = False
        out.append(token)
    return "".join(out)


def _typed_view(kind: str | None) -> Any:
    """How docker's CLI decodes an object of `kind` before templating it."""
    if kind == "volume":
        from .cmd_volume import typed_view  # docker's volume.Volume

        return typed_view
    if kind == "network":
        from .cmd_network import typed_network  # docker's network.Inspect

        return typed_network
    if kind not in ("container", "image"):
        return None
    from . import apitypes

    go_type = apitypes.CONTAINER if kind == "container" else apitypes.IMAGE
    return lambda doc: apitypes.decode(go_type, doc)


def inspect_objects(cli: Cli, names: list[str], fetch: Callable[[str], Any], fmt: str,
                    not_found: Callable[[str, CliError], str] | None = None) -> int:
    """Fetch each object's raw JSON and print it like docker inspect.

    `fetch(name)` returns the raw JSON, or (raw JSON, kind) so that templates see
    docker's Go types for that kind. Objects that fail (not found, or a template
    that cannot execute on them) are reported on stderr after the output, in
    order, and the exit status is 1; the others are still printed.
    """
    errors: list[str] = []
    inspector = None
    if fmt and fmt != "json":
        from .formatter import TemplateInspector, compile_template

        inspector = TemplateInspector(compile_template(fmt))  # a bad one fails before any fetch
    fetched: list[tuple[str, str | None]] = []
    out: list[str] = []
    for name in names:
        try:
            data = fetch(name)
        except CliError as exc:
            errors.append(not_found(name, exc) if not_found else (exc.message or ""))
            continue
        kind = None
        if isinstance(data, tuple):
            data, kind = data
        raw = data.decode() if isinstance(data, bytes) else data
        if inspector is None:
            fetched.append((raw, kind))
            continue
        try:
            out.append(inspector.inspect(raw, _typed_view(kind)) + "\n")
        except CliError as exc:
            errors.append(exc.message or "")
    if inspector is not None:
        from .formatter import write

        write(cli.out, "".join(out) or "\n")
    elif fmt == "json":
        cli.out.write("[" + ",".join(json_reindent(r, None) for r, _ in fetched) + "]\n")
    elif fetched:
        cli.out.write(json_reindent("[" + ",".join(r for r, _ in fetched) + "]") + "\n")
    else:
        cli.out.write("[]\n")
    if errors:
        raise CliError("\n".join(errors))
    return 0


# --- container inspect ----------------------------------------------------------------------


def _container_flags(fs: FlagSet) -> None:
    fs.string("format", "f", FORMAT_USAGE_NO_TABLE)
    fs.bool("size", "s", "Display total file sizes")


def _container_inspect(cli: Cli, v: Values, args: list[str]) -> int:
    params = {"size": True} if v.size else None

    def fetch(name: str) -> Any:
        return cli.client().request("GET", f"/containers/{name}/json", params).read(), "container"

    return inspect_objects(cli, args, fetch, v.format)


def container_inspect_command() -> Command:
    return Command("inspect", "[OPTIONS] CONTAINER [CONTAINER...]",
                   "Display detailed information on one or more containers",
                   _container_inspect, _container_flags, ("min", 1))


# --- generic inspect -----------------------------------------------------------------------------


def _flags(fs: FlagSet) -> None:
    fs.string("format", "f", FORMAT_USAGE_NO_TABLE)
    fs.bool("size", "s", "Display total file sizes if the type is container")
    fs.string("type", "", "Only inspect objects of the given type")


_PATHS = {
    "container": "/containers/{}/json",
    "image": "/images/{}/json",
    "network": "/networks/{}",
    "volume": "/volumes/{}",
    "plugin": "/plugins/{}/json",
    "config": "/configs/{}",
    "secret": "/secrets/{}",
    "node": "/nodes/{}",
    "service": "/services/{}",
    "task": "/tasks/{}",
}


def _inspect(cli: Cli, v: Values, args: list[str]) -> int:
    kind = v.type
    if kind and kind not in INSPECT_TYPES:
        quoted = ", ".join(f'"{t}"' for t in INSPECT_TYPES)
        raise CliError(f'unknown type: "{kind}": must be one of {quoted}')
    client = cli.client()
    kinds = [kind] if kind else ["container", "image", "network", "volume"]

    def fetch(name: str) -> Any:
        last: CliError | None = None
        for k in kinds:
            params = {"size": True} if (k == "container" and v.size) else None
            try:
                return client.request("GET", _PATHS[k].format(name), params).read(), k
            except APIError as exc:
                if not exc.not_found or kind:
                    raise
                last = exc
        raise CliError(f"Error: No such object: {name}") from last

    return inspect_objects(cli, args, fetch, v.format)


def inspect_command() -> Command:
    return Command("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Berth objects",
                   _inspect, _flags, ("min", 1))
