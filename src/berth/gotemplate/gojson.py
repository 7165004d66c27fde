"""Go's encoding/json output, byte for byte, for `{{json .}}` and `--format json`.

Differences from Python's json module that users would see: map keys are sorted,
struct fields keep their declared order, floats are printed by Go's rules (1e+21,
1e-7, 100000000 instead of 1e8), there are no spaces, U+2028/U+2029 are escaped and
control characters use \\u00XX (except \\b \\f \\n \\r \\t, as Go >= 1.22 writes them,
which is what docker's current CLI is built with).  HTML escaping (\\u003c for <) is
off by default because docker's `json` template function turns it off.

How a caller marks a JSON object as a Go struct rather than a map:

* a plain `dict` is a map: keys sorted;
* a `Struct` (an OrderedDict subclass), a dataclass, or any other object is a struct:
  fields in declared/insertion order (dataclass fields may carry
  `metadata={"json": "name,omitempty"}` like Go's struct tags);
* an object with a `__gojson__()` method is encoded as whatever that returns (Go's
  MarshalJSON); return a `RawMessage` to emit already-encoded JSON verbatim.

In templates a Struct also behaves as a Go struct: `{{.Nope}}` on it is the error
"can't evaluate field Nope in type ...", where a dict gives `<no value>`.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections import OrderedDict
from typing import Any, Optional

from .floatfmt import format_float
from .values import NO_VALUE


class Struct(OrderedDict):
    """A JSON object that stands for a Go struct: declared field order, strict fields."""

    __gotype__ = "struct"


class Number(str):
    """encoding/json's Number: the literal text of a JSON number (decoder UseNumber).

    Decode with `json.loads(s, parse_int=Number, parse_float=Number)` to get the exact
    values docker's `inspect` template fallback sees: numbers print as written and
    `eq .Pid 0` is a type error, as in docker.
    """

    __gotype__ = "json.Number"

    def String(self) -> str:
        return str.__str__(self)

    def Int64(self) -> int:
        try:
            return int(str.__str__(self))
        except ValueError:
            raise ValueError(f'strconv.ParseInt: parsing "{self}": invalid syntax') from None

    def Float64(self) -> float:
        try:
            return float(str.__str__(self))
        except ValueError:
            raise ValueError(f'strconv.ParseFloat: parsing "{self}": invalid syntax') from None


class UnsupportedError(ValueError):
    """Go's json.UnsupportedValueError / UnsupportedTypeError."""


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\b": "\\b", "\f": "\\f", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _needs_escape(c: str, escape_html: bool) -> bool:
    cp = ord(c)
    return cp < 0x20 or c in '"\\\u2028\u2029' or (escape_html and c in "<>&") \
        or 0xD800 <= cp <= 0xDFFF


def quote_string(s: str, escape_html: bool = False) -> str:
    """A JSON string literal as Go writes it."""
    if not any(_needs_escape(c, escape_html) for c in s):
        return '"' + s + '"'
    out = ['"']
    for c in s:
        cp = ord(c)
        e = _ESCAPES.get(c)
        if e is not None:
            out.append(e)
        elif cp < 0x20:
            out.append(f"\\u{cp:04x}")
        elif escape_html and c in "<>&":
            out.append(f"\\u{cp:04x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\ufffd")  # invalid UTF-8 / lone surrogate, as Go's replacement
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def format_number(f: float) -> str:
    """Go's float64 encoding: 'f' format unless tiny or huge, then 'e' with a short exponent."""
    if math.isnan(f) or math.isinf(f):
        raise UnsupportedError(f"json: unsupported value: {format_float(f, 'g', -1)}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = format_float(f, "e", -1)
        n = len(s)
        if n >= 4 and s[n - 4] == "e" and s[n - 3] == "-" and s[n - 2] == "0":
            s = s[:n - 2] + s[n - 1]
        return s
    return format_float(f, "f", -1)


def _tag(f: dataclasses.Field) -> tuple[Optional[str], bool, bool]:
    """(json name or None to skip, omitempty, string option) from field metadata.

    As in Go, fields whose name is not capitalised are unexported and left out,
    unless metadata gives them a JSON name (a Python-side escape hatch).
    """
    tag = f.metadata.get("json") if f.metadata else None
    if tag is None:
        return (f.name if f.name[:1].isupper() else None), False, False
    if tag == "-":
        return None, False, False
    name, _, opts = tag.partition(",")
    opt = opts.split(",") if opts else []
    return (name or f.name), "omitempty" in opt, "string" in opt


def _is_empty(v: Any) -> bool:
    """Go's omitempty test: false, 0, "", nil, and empty collections."""
    if v is None or v is NO_VALUE or v is False:
        return True
    if type(v) in (int, float):
        return v == 0
    return isinstance(v, (str, list, tuple, dict, bytes)) and len(v) == 0


class _Encoder:
    def __init__(self, escape_html: bool, indent: Optional[str], prefix: str) -> None:
        self.escape_html = escape_html
        self.indent = indent
        self.prefix = prefix
        self.out: list[str] = []
        self.depth = 0

    def newline(self) -> None:
        self.out.append("\n" + self.prefix + self.indent * self.depth)  # type: ignore[operator]

    def encode(self, v: Any) -> None:
        out = self.out
        t = type(v)
        if v is None or v is NO_VALUE:
            out.append("null")
        elif t is str:
            out.append(quote_string(v, self.escape_html))
        elif t is bool:
            out.append("true" if v else "false")
        elif t is int:
            out.append(str(v))
        elif t is float:
            out.append(format_number(v))
        elif isinstance(v, Number):
            s = str.__str__(v) or "0"
            out.append(s)
        elif hasattr(type(v), "__gojson__"):
            self.encode(v.__gojson__())
        elif isinstance(v, str):
            out.append(quote_string(str.__str__(v), self.escape_html))
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, int):
            out.append(str(int(v)))
        elif isinstance(v, float):
            out.append(format_number(float(v)))
        elif isinstance(v, (bytes, bytearray)):
            out.append('"' + base64.b64encode(bytes(v)).decode() + '"')
        elif isinstance(v, Struct):
            self.object(list(v.items()))
        elif isinstance(v, dict):
            items = [(k if isinstance(k, str) else _key_string(k), val) for k, val in v.items()]
            items.sort(key=lambda kv: kv[0])
            self.object(items)
        elif isinstance(v, (list, tuple)):
            self.array(v)
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            items = []
            for f in dataclasses.fields(v):
                name, omitempty, as_string = _tag(f)
                if name is None:
                    continue
                val = getattr(v, f.name)
                if omitempty and _is_empty(val):
                    continue
                if as_string and type(val) in (int, float, bool, str):
                    val = _Raw(quote_string(self._scalar(val), self.escape_html))
                items.append((name, val))
            self.object(items)
        elif isinstance(v, _Raw):
            out.append(v.text)
        elif isinstance(v, complex):
            raise UnsupportedError("json: unsupported type: complex128")
        elif callable(v):
            raise UnsupportedError("json: unsupported type: func()")
        else:
            self.object([(k, val) for k, val in vars(v).items() if k[:1].isupper()])

    def _scalar(self, v: Any) -> str:
        sub = _Encoder(self.escape_html, None, "")
        sub.encode(v)
        return "".join(sub.out)

    def object(self, items: list[tuple[str, Any]]) -> None:
        out = self.out
        if not items:
            out.append("{}")
            return
        out.append("{")
        self.depth += 1
        for i, (k, val) in enumerate(items):
            if i:
                out.append(",")
            if self.indent is not None:
                self.newline()
            out.append(quote_string(k, self.escape_html))
            out.append(": " if self.indent is not None else ":")
            self.encode(val)
        self.depth -= 1
        if self.indent is not None:
            self.newline()
        out.append("}")

    def array(self, items: Any) -> None:
        out = self.out
        if not items:
            out.append("[]")
            return
        out.append("[")
        self.depth += 1
        for i, val in enumerate(items):
            if i:
                out.append(",")
            if self.indent is not None:
                self.newline()
            self.encode(val)
        self.depth -= 1
        if self.indent is not None:
            self.newline()
        out.append("]")


class RawMessage:
    """Already-encoded JSON written as is (Go's json.RawMessage), e.g. from __gojson__."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_Raw = RawMessage  # earlier private name, kept for callers that imported it


def _key_string(k: Any) -> str:
    if isinstance(k, bool):
        raise UnsupportedError("json: unsupported type: map[bool]interface {}")
    if isinstance(k, int):
        return str(k)
    if isinstance(k, float):
        raise UnsupportedError("json: unsupported type: map[float64]interface {}")
    return str(k)


def dumps(v: Any, escape_html: bool = False, indent: Optional[str] = None,
          prefix: str = "") -> str:
    """Encode like Go's json.Marshal (or MarshalIndent when `indent` is given).

    `escape_html=False` is docker's `{{json}}` (SetEscapeHTML(false)); pass True for
    plain json.Marshal output.  Raises UnsupportedError (a ValueError) for NaN,
    infinities, complex numbers and functions, as Go refuses them.
    """
    enc = _Encoder(escape_html, indent, prefix)
    enc.encode(v)
    return "".join(enc.out)


def loads_numbers(text: str) -> Any:
    """Decode JSON keeping numbers as Number, like Go's Decoder.UseNumber()."""
    import json
    return json.loads(text, parse_int=Number, parse_float=Number)
