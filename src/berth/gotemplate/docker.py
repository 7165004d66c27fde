"""Docker's additions on top of text/template: its functions and table output.

Docker's CLI parses every --format with eight extra functions, and renders
`table ...` formats by executing the template once per row, then once more over a
header map (with functions that leave header text alone), and aligning the lot
with its tabwriter.  `render` is that procedure (cli/command/formatter.Context.Write),
so a caller only supplies rows and the header names.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional

from . import gojson
from .errors import ExecError
from .funcs import ANY, GoFunc
from .tabwriter import tabwrite
from .template import Template

TABLE_KEY = "table"
JSON_KEY = "json"
JSON_FORMAT = "{{json .}}"


def _json(v: Any) -> str:
    try:
        return gojson.dumps(v).strip()
    except (ValueError, RecursionError):
        return ""  # docker ignores the encoder's error: nothing was written


def _split(s: str, sep: str) -> list[str]:
    if sep == "":
        return list(s)
    return s.split(sep)


def _join(elems: list[str], sep: str) -> str:
    return sep.join(elems)


def _is_separator(c: str) -> bool:
    """strings.Title's word boundary test."""
    if c <= "\x7f":
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdigit():
        return False
    return c.isspace()


def _title(s: str) -> str:
    out = []
    prev = " "
    for c in s:
        if _is_separator(prev):
            t = c.title() if len(c.title()) == 1 else c
            out.append(t)
        else:
            out.append(c)
        prev = c
    return "".join(out)


def _simple_case(s: str, upper: bool) -> str:
    """strings.ToUpper/ToLower: one rune maps to one rune (no 'ß' -> 'SS')."""
    conv = s.upper() if upper else s.lower()
    if len(conv) == len(s):
        return conv
    out = []
    for c in s:
        m = c.upper() if upper else c.lower()
        out.append(m if len(m) == 1 else c)
    return "".join(out)


def _lower(s: str) -> str:
    return _simple_case(s, False)


def _upper(s: str) -> str:
    return _simple_case(s, True)


def _pad(source: str, prefix: int, suffix: int) -> str:
    if source == "":
        return source
    return " " * prefix + source + " " * suffix


def _truncate(source: str, length: int) -> str:
    b = source.encode("utf-8", "surrogateescape")
    if len(b) < length:
        return source
    if length < 0:
        raise ValueError(f"runtime error: slice bounds out of range [:{length}]")
    return b[:length].decode("utf-8", "surrogateescape")


def docker_funcs() -> dict[str, GoFunc]:
    """The functions docker adds to every template (templates.basicFunctions)."""
    return {
        "json": GoFunc(_json, (ANY,), None, "string", "json"),
        "split": GoFunc(_split, ("string", "string"), None, "[]string", "split"),
        "join": GoFunc(_join, ("[]string", "string"), None, "string", "join"),
        "title": GoFunc(_title, ("string",), None, "string", "title"),
        "lower": GoFunc(_lower, ("string",), None, "string", "lower"),
        "upper": GoFunc(_upper, ("string",), None, "string", "upper"),
        "pad": GoFunc(_pad, ("string", "int", "int"), None, "string", "pad"),
        "truncate": GoFunc(_truncate, ("string", "int"), None, "string", "truncate"),
    }


def _same(v: str, *_: Any) -> str:
    return v


def header_funcs() -> dict[str, GoFunc]:
    """templates.HeaderFunctions: leave header text as it is (`pad` still pads)."""
    return {
        "json": GoFunc(_same, ("string",), None, "string", "json"),
        "split": GoFunc(_same, ("string", "string"), None, "string", "split"),
        "join": GoFunc(_same, ("string", "string"), None, "string", "join"),
        "title": GoFunc(_same, ("string",), None, "string", "title"),
        "lower": GoFunc(_same, ("string",), None, "string", "lower"),
        "upper": GoFunc(_same, ("string",), None, "string", "upper"),
        "truncate": GoFunc(_same, ("string", "int"), None, "string", "truncate"),
    }


class HeaderContext(dict):
    """Docker's SubHeaderContext: field name -> column title, plus `Label`.

    `{{.Label "com.example.vendor"}}` in a table header shows "vendor": the last
    dot-separated part with '-' and '_' turned into spaces.
    """

    __gotype__ = "formatter.SubHeaderContext"

    def Label(self, name: str) -> str:
        last = name.split(".")[-1]
        return last.replace("-", " ").replace("_", " ")


def is_table(fmt: str) -> bool:
    return fmt.startswith(TABLE_KEY)


def is_json(fmt: str) -> bool:
    return fmt == JSON_KEY


def prepare(fmt: str) -> str:
    """Context.preFormat: drop "table", map "json", trim spaces, expand literal \\t and \\n."""
    if is_table(fmt):
        fmt = fmt[len(TABLE_KEY):]
    elif is_json(fmt):
        fmt = JSON_FORMAT
    fmt = fmt.strip(" ")
    return _replace_escapes(fmt)


def _replace_escapes(s: str) -> str:
    """strings.NewReplacer(`\\t`, "\\t", `\\n`, "\\n"): one left-to-right pass."""
    if "\\" not in s:
        return s
    out = []
    i = 0
    n = len(s)
    while i < n:
        if s[i] == "\\" and i + 1 < n and s[i + 1] in "tn":
            out.append("\t" if s[i + 1] == "t" else "\n")
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse(fmt: str, funcs: Optional[Mapping[str, Callable[..., Any]]] = None) -> Template:
    """Parse a --format value as docker does (after `prepare`); raises TemplateError."""
    all_funcs: dict[str, Any] = docker_funcs()
    if funcs:
        all_funcs.update(funcs)
    return Template(prepare(fmt), funcs=all_funcs)


def render(fmt: str, rows: Iterable[Any], header: Optional[Mapping[str, str]] = None,
           funcs: Optional[Mapping[str, Callable[..., Any]]] = None,
           template: Optional[Template] = None) -> str:
    """Docker's formatter.Context.Write: the whole output for `rows` under `fmt`.

    Each row is rendered and followed by "\\n".  For "table ..." formats the
    template is run once more over `header` (field name -> column title, e.g.
    {"ID": "CONTAINER ID"}) with docker's header functions; its errors are ignored
    as docker ignores them, and everything is aligned with docker's tabwriter
    (minwidth 10, padding 3, spaces).  Raises TemplateError or ExecError, with
    Go's message, for a bad format; docker prints such errors prefixed with
    "template parsing error: " and outputs none of the rows.
    """
    t = template if template is not None else parse(fmt, funcs)
    execute = t.execute
    parts: list[str] = []
    for row in rows:
        parts.append(execute(row))
        parts.append("\n")
    body = "".join(parts)
    if not is_table(fmt):
        return body
    ht = t.with_funcs(header_funcs())
    hdr = header if isinstance(header, HeaderContext) else HeaderContext(header or {})
    try:
        head = ht.execute(hdr)
    except ExecError as e:
        head = e.partial
    return tabwrite(head + "\n" + body, 10, 1, 3, " ", 0)


def render_table(fmt: str, rows: Iterable[Any], header: Mapping[str, str],
                 funcs: Optional[Mapping[str, Callable[..., Any]]] = None) -> str:
    """`render` for a format that is a table (a leading "table" is added if missing)."""
    if not is_table(fmt):
        fmt = TABLE_KEY + " " + fmt
    return render(fmt, rows, header, funcs)


def inspect_execute(t: Template, typed: Any, raw: Any = None) -> str:
    """docker inspect's two passes (TemplateInspector.Inspect).

    Docker first runs the template over its Go structs; if that fails it runs it
    again, with missingkey=error, over the raw JSON decoded into maps, and reports
    that second outcome.  Pass `typed` with Go structs marked (gojson.Struct or
    objects) and `raw` as plain dicts; without `raw`, `typed`'s failure is final.
    """
    try:
        return t.execute(typed)
    except ExecError:
        if raw is None:
            raise
    return t.with_missingkey("error").execute(raw)
