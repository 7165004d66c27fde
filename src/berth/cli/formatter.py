"""Output the way docker's formatter package does: tables, `json`, Go templates.

* The default tables (`--format ""` or `table`) are rendered here without the
  template engine (start-up time matters): an elastic-tabstop writer with
  docker's settings (minimum width 10, padding 3) lines the columns up exactly
  like docker's.
* `--format json` prints one object per line with the escaping docker's
  formatter.MarshalJSON gives (`->` appears as `-\\u003e`).
* Anything else is a Go template, rendered by `berth.gotemplate` (imported only
  when a template is actually used) with docker's procedure and error texts:
  `render` is formatter.Context.Write, `inspect_render` is the template
  inspector's two passes (Go structs first, then the raw JSON with
  missingkey=error), `probe` is `ps`'s validation run over an empty row.

Template output can hold strings cut inside a UTF-8 sequence (`truncate`,
`slice`, `printf "%.3s"`); docker writes those bytes as they are, so `write`
sends such text out with errors="surrogateescape".
"""

from __future__ import annotations

from . import fastjson as json
from .command import CliError, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Sequence

TABLE_MINWIDTH = 10
TABLE_PADDING = 3
TABLE_KEY = "table"
JSON_KEY = "json"
PARSE_ERROR = "template parsing error"


def go_json(obj: Any, indent: int | None = None) -> str:
    """json.Marshal-compatible text: UTF-8, no spaces, HTML characters escaped."""
    if indent is None:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(obj, ensure_ascii=False, indent=indent)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def write(out: Any, text: str) -> None:
    """Write template output; text carrying raw bytes (surrogate escapes) goes out as those bytes."""
    try:
        out.write(text)
        return
    except UnicodeEncodeError:
        pass
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        return
    out.flush()
    buffer.write(text.encode("utf-8", "surrogateescape"))
    buffer.flush()


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    import unicodedata

    w = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def tabwrite(text: str, minwidth: int = TABLE_MINWIDTH, padding: int = TABLE_PADDING) -> str:
    """Align tab-terminated cells into columns (Go's text/tabwriter, elastic tabstops).

    Cells are terminated by "\\t"; the text after a line's last tab is not part
    of any column and is never padded. A column is a run of consecutive lines
    that all have a cell in it, and each such block gets its own width.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            parts = []
            for j, cell in enumerate(cells):
                if j < len(widths):
                    parts.append(cell + " " * (widths[j] - _width(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1:
                cells = lines[this]
                if column >= len(cells) - 1:
                    break
                w = _width(cells[column]) + padding
                if w > width:
                    width = w
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out)


# --- Go templates -------------------------------------------------------------------


def _gotemplate() -> Any:
    try:
        from berth.gotemplate import docker as gd  # type: ignore[import-not-found]
    except ImportError as exc:
        raise CliError(
            f"template formatting is not available in this build (berth.gotemplate: {exc})"
        ) from None
    return gd


def parse(text: str, name: str = "", funcs: dict[str, Any] | None = None) -> Any:
    """docker's templates.Parse / templates.New(name).Parse: the text as given, with
    docker's functions. Raises gotemplate.TemplateError."""
    gd = _gotemplate()
    from berth.gotemplate import Template

    all_funcs = gd.docker_funcs()
    if funcs:
        all_funcs.update(funcs)
    return Template(text, name=name, funcs=all_funcs)


def compile_template(text: str, name: str = "", status: int = 64, funcs: dict[str, Any] | None = None) -> Any:
    """Parse for inspect/version/info: a bad template is StatusError(64, "template parsing error: ...")."""
    from berth.gotemplate import TemplateError

    try:
        return parse(text, name, funcs)
    except TemplateError as exc:
        raise StatusError(status, f"{PARSE_ERROR}: {exc}") from None


def is_table(fmt: str) -> bool:
    return fmt.startswith(TABLE_KEY)


def is_json(fmt: str) -> bool:
    """Format.IsJSON: exactly "json" (" json" is a template printing "json")."""
    return fmt == JSON_KEY


class NilPointer(int):
    """A typed nil pointer (*T(nil)): prints "<nil>", is false, marshals as null.

    None cannot stand for it: a nil interface{} prints "<no value>" in templates.
    It is an int 0 only so that the template engine's truth test calls it false.
    """

    __gotype__ = "*interface {}"

    def String(self) -> str:  # noqa: N802 - fmt's Stringer
        return "<nil>"

    def __gojson__(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"NilPointer({self.__gotype__})"


class Row:
    """One item of a list command, as docker's formatter "context" sees it.

    Attributes are the template fields (`{{.ID}}`); subclasses add methods such
    as `Label`. `__gojson__` makes `{{json .}}` print what `--format json` does:
    docker's MarshalJSON turns every field into a map entry (sorted keys) and
    escapes HTML characters.
    """

    __gotype__ = "*formatter.Context"

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def get(self, name: str, default: Any = "") -> Any:
        return self.__dict__.get(name, default)

    def json_fields(self) -> dict[str, Any]:
        return {k: None if isinstance(v, NilPointer) else v
                for k, v in sorted(self.__dict__.items()) if not k.startswith("_")}

    def __gojson__(self) -> Any:
        from berth.gotemplate.gojson import RawMessage

        return RawMessage(go_json(self.json_fields()))


def render(fmt: str, rows: Iterable[Any], headers: dict[str, str]) -> str:
    """formatter.Context.Write for a template format: the whole output, or
    CliError("template parsing error: ...") (exit 1) with nothing written."""
    gd = _gotemplate()
    from berth.gotemplate import ExecError, TemplateError

    try:
        tmpl = gd.parse(fmt)
    except TemplateError as exc:
        raise CliError(f"{PARSE_ERROR}: {exc}") from None
    try:
        return gd.render(fmt, rows, headers, template=tmpl)
    except ExecError as exc:
        raise CliError(f"{PARSE_ERROR}: {exc}") from None


def write_rows(
    out: Any,
    fmt: str,
    rows: Sequence[Row],
    headers: dict[str, str],
    default_columns: Sequence[str],
) -> None:
    """Render `rows` for a list command (ps, images, history...).

    `fmt` is the format docker's New*Format chose ("" or "table" mean the
    default table of `default_columns`). Default tables and `json` are rendered
    here; other formats go through docker's Context.Write procedure.
    """
    if fmt in ("", TABLE_KEY):
        text = "\t".join(headers.get(c, "") for c in default_columns) + "\n"
        text += "".join("\t".join(str(r.get(c, "")) for c in default_columns) + "\n" for r in rows)
        out.write(tabwrite(text))
        return
    if is_json(fmt):
        out.write("".join(go_json(r.json_fields()) + "\n" for r in rows))
        return
    write(out, render(fmt, rows, headers))


def probe(fmt: str, row: Any) -> None:
    """`ps`'s check of a --format before listing: parse the text as given and run it
    over an empty row (docker: "failed to parse/execute template: ...")."""
    from berth.gotemplate import ExecError, TemplateError

    try:
        tmpl = parse(fmt)
    except TemplateError as exc:
        raise CliError(f"failed to parse template: {exc}") from None
    try:
        tmpl.execute(row)
    except ExecError as exc:
        raise CliError(f"failed to execute template: {exc}") from None


class TemplateInspector:
    """docker's TemplateInspector: each object runs through docker's Go types first
    (`typed` builds them from the decoded JSON); if that fails, through the raw
    JSON (json.Number values) with missingkey=error.  Like docker, whose fallback
    sets that option on the shared template, every later object then runs with
    missingkey=error in both passes."""

    def __init__(self, tmpl: Any) -> None:
        self.tmpl = tmpl

    def inspect(self, raw: str, typed: Callable[[Any], Any] | None) -> str:
        """The text for one object, or CliError("template parsing error: ...")."""
        from berth.gotemplate import ExecError

        if typed is not None:
            try:
                return self.tmpl.execute(typed(json.loads(raw)))
            except ExecError:
                pass
        from berth.gotemplate.gojson import loads_numbers

        try:
            data = loads_numbers(raw)
        except ValueError as exc:
            raise CliError(f"unable to read inspect data: {exc}") from None
        if self.tmpl.missingkey != "error":
            self.tmpl = self.tmpl.with_missingkey("error")
        try:
            return self.tmpl.execute(data)
        except ExecError as exc:
            raise CliError(f"{PARSE_ERROR}: {exc}") from None
