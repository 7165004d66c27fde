"""Output the way docker's formatter package does: tables, `json`, Go templates.

* Tables go through an elastic-tabstop writer with docker's settings (minimum
  width 10, padding 3), so columns line up exactly like docker's.
* `--format json` prints one object per line with Go's JSON escaping
  (`->` appears as `-\\u003e`), which tools comparing output rely on.
* Other formats are Go templates, rendered by `berth.gotemplate` (imported only
  when a template is actually used, to keep start-up fast).
"""

from __future__ import annotations

from . import fastjson as json
from .command import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence

TABLE_MINWIDTH = 10
TABLE_PADDING = 3


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


def compile_template(text: str, missingkey: str = "default") -> Any:
    """A docker-flavoured template (json, join, table... functions) for `text`.

    Raises CliError("template parsing error: ...") as docker's inspect/version do.
    """
    gd = _gotemplate()
    from berth.gotemplate import Template, TemplateError

    try:
        return Template(gd.prepare(text), missingkey=missingkey, funcs=gd.docker_funcs())
    except TemplateError as exc:
        raise CliError(f"template parsing error: {exc}") from None


def execute_template(tmpl: Any, data: Any) -> str:
    from berth.gotemplate import ExecError

    try:
        return tmpl.execute(data)
    except ExecError as exc:
        raise CliError(f"template parsing error: {exc}") from None


def is_json(fmt: str) -> bool:
    return fmt.strip() == "json"


class Row:
    """One item of a list command, as docker's formatter "context" sees it.

    Attributes are the template fields (`{{.ID}}`); subclasses add methods such
    as `Label`. `__gojson__` makes `{{json .}}` print what `--format json` does.
    """

    __gotype__ = "*formatter.Context"

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def get(self, name: str, default: Any = "") -> Any:
        return self.__dict__.get(name, default)

    def json_fields(self) -> dict[str, Any]:
        return {k: v for k, v in sorted(self.__dict__.items()) if not k.startswith("_")}

    def __gojson__(self) -> Any:
        text = go_json(self.json_fields())
        try:
            from berth.gotemplate.gojson import _Raw  # type: ignore[attr-defined]
        except ImportError:
            return self.json_fields()
        return _Raw(text)


def write_rows(
    write: Callable[[str], None],
    fmt: str,
    rows: Sequence[Row],
    headers: dict[str, str],
    default_columns: Sequence[str],
) -> None:
    """Render `rows` for a list command (ps, images, history...).

    `fmt` is the user's --format ("" means the default table). Default tables and
    `json` are rendered here; custom templates go through berth.gotemplate with
    docker's rules (header row from the same template, tabwriter alignment).
    """
    if fmt in ("", "table"):
        text = "\t".join(headers.get(c, "") for c in default_columns) + "\n"
        text += "".join("\t".join(str(r.get(c, "")) for c in default_columns) + "\n" for r in rows)
        write(tabwrite(text))
        return
    if is_json(fmt):
        write("".join(go_json(r.json_fields()) + "\n" for r in rows))
        return
    gd = _gotemplate()
    from berth.gotemplate import ExecError, TemplateError

    try:
        tmpl = gd.parse(fmt)
    except TemplateError as exc:
        raise CliError(f"failed to parse template: {exc}") from None
    try:
        write(gd.render(fmt, rows, headers, template=tmpl))
    except ExecError as exc:
        raise CliError(f"failed to execute template: {exc}") from None
