"""Engine API documents seen as docker's CLI sees them: decoded into its Go types.

`docker inspect -f`, `version --format` and `info --format` run the template over
Go structs first (docker's own pass), and only when that fails over the raw JSON
as maps.  The typed view changes what users get, so Berth reproduces it:

* Go field names, not JSON names: `{{.ID}}` works on a container ("Id" in JSON);
* every declared field exists, with its zero value when the daemon left it out
  (`{{.SizeRw}}` is `<nil>`, `{{.State.Health}}` is `<nil>`, not `<no value>`);
* `{{json .Config}}` is Go's struct order with `omitempty` applied;
* typed maps give their element's zero value: `{{index .Config.Labels "x"}}` is "";
* nil slices and maps print `[]` / `map[]` and marshal as `null`;
* time.Duration and time.Time print through their String methods.

The schemas live in apitypes.py, written in a small text form (`parse_spec`).
Decoding follows encoding/json: keys match field names exactly or, failing that,
case-insensitively; unknown keys are dropped; JSON null leaves the zero value.
"""

from __future__ import annotations

from berth.gotemplate.gojson import Struct

from .formatter import NilPointer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

_MISSING = object()


# --- values ------------------------------------------------------------------------------


class GoStruct:
    """A Go struct value: its fields are attributes, in declared order.

    Embedded structs are fields named after their type (fmt prints them nested)
    whose own fields are promoted: the class carries a property for each.
    """

    __gotype__ = "struct"
    _spec: "StructSpec"

    def _json_items(self, depth: int, out: list) -> None:
        values = self.__dict__
        for f in self._spec.fields:
            value = values[f.name]
            if f.embedded:
                if isinstance(value, GoStruct):
                    value._json_items(depth + 1, out)
                continue
            if f.json is None or (f.omitempty and f.type.is_empty(value)):
                continue
            out.append((f.json, depth, value))

    def __gojson__(self) -> Any:
        items: list = []
        self._json_items(0, items)
        # Go's rule for names that embedding makes collide: the shallowest wins,
        # and a tie at the same depth hides them all.
        best: dict[str, int] = {}
        count: dict[tuple[str, int], int] = {}
        for name, depth, _ in items:
            best[name] = min(depth, best.get(name, depth))
            count[(name, depth)] = count.get((name, depth), 0) + 1
        kept = [(n, v) for n, d, v in items if d == best[n] and count[(n, d)] == 1]
        if self._spec.json_map:
            # A MarshalJSON that round-trips through map[string]any: keys sorted at every level.
            import json

            from berth.gotemplate.gojson import dumps

            return json.loads(dumps(Struct(kept)))
        return Struct(kept)

    def __repr__(self) -> str:
        return f"{self.__gotype__}{self.__dict__!r}"


def _promoted(embedded: str, name: str) -> property:
    def get(self: GoStruct) -> Any:
        inner = self.__dict__[embedded]
        return getattr(inner, name) if isinstance(inner, GoStruct) else None

    return property(get)


class TypedMap(dict):
    """A Go map with a declared element type; nil when `nil` is set."""

    __gotype__ = "map[string]interface {}"
    nil = False
    _elem: "GoType"

    def get(self, key: Any, default: Any = _MISSING) -> Any:  # noqa: D401 - dict API
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if default is _MISSING:
            return self._elem.zero()  # `index` on a missing key: the element's zero value
        return default

    def __gojson__(self) -> Any:
        return None if self.nil else dict(self)


class TypedSlice(list):
    """A Go slice; nil (JSON null, printed `[]`) when `nil` is set."""

    __gotype__ = "[]interface {}"
    nil = False

    def __gojson__(self) -> Any:
        return None if self.nil else list(self)


class GoDuration(int):
    """time.Duration: nanoseconds that print as "1m30s"."""

    __gotype__ = "time.Duration"

    def String(self) -> str:  # noqa: N802 - Go's method name
        return duration_string(int(self))

    def __gojson__(self) -> int:
        return int(self)


class GoTime:
    """time.Time decoded from RFC 3339: prints like Time.String, marshals as RFC 3339 nano."""

    __gotype__ = "time.Time"
    __slots__ = ("date", "clock", "frac", "offset")

    def __init__(self, text: str = "") -> None:
        self.date, self.clock, self.frac, self.offset = "0001-01-01", "00:00:00", "", 0
        if text:
            self._parse(text)

    def _parse(self, text: str) -> None:
        date, sep, rest = text.partition("T")
        if not sep or len(date) != 10:
            return
        zone_at = max(rest.rfind("+"), rest.rfind("-"), rest.upper().rfind("Z"))
        clock, zone = (rest[:zone_at], rest[zone_at:]) if zone_at > 0 else (rest, "Z")
        clock, _, frac = clock.partition(".")
        offset = 0
        if zone.upper() != "Z":
            try:
                offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * (1 if zone[0] == "+" else -1)
            except ValueError:
                return
        self.date, self.clock, self.frac, self.offset = date, clock, frac.rstrip("0"), offset

    def _zone(self, colon: bool) -> str:
        sign = "+" if self.offset >= 0 else "-"
        hh, mm = divmod(abs(self.offset), 60)
        return f"{sign}{hh:02d}{':' if colon else ''}{mm:02d}"

    def String(self) -> str:  # noqa: N802
        frac = f".{self.frac}" if self.frac else ""
        name = "UTC" if self.offset == 0 else self._zone(False)
        return f"{self.date} {self.clock}{frac} {self._zone(False)} {name}"

    def __gojson__(self) -> str:
        frac = f".{self.frac}" if self.frac else ""
        zone = "Z" if self.offset == 0 else self._zone(True)
        return f"{self.date}T{self.clock}{frac}{zone}"


def duration_string(ns: int) -> str:
    """time.Duration.String."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if u >= size or unit == "ns":
                whole, rem = divmod(u, size)
                frac = f"{rem:0{len(str(size)) - 1}d}".rstrip("0") if size > 1 else ""
                return f"{sign}{whole}{'.' + frac if frac else ''}{unit}"
    secs, rem = divmod(u, 1_000_000_000)
    frac = f"{rem:09d}".rstrip("0")
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    out = f"{secs}{'.' + frac if frac else ''}s"
    if hours or minutes:
        out = f"{minutes}m" + out
    if hours:
        out = f"{hours}h" + out
    return sign + out


# --- types ---------------------------------------------------------------------------------


class GoType:
    """One Go type of the schema: knows its zero value, how to decode JSON into it,
    and what omitempty counts as empty."""

    kind = "any"

    def __init__(self, text: str) -> None:
        self.text = text

    def zero(self) -> Any:
        return None

    def decode(self, raw: Any) -> Any:
        return _go_any(raw)

    def is_empty(self, v: Any) -> bool:
        return v is None


def _go_any(raw: Any) -> Any:
    """interface{} as encoding/json fills it: numbers become float64."""
    if type(raw) is int:
        return float(raw)
    if isinstance(raw, list):
        return [_go_any(x) for x in raw]
    if isinstance(raw, dict):
        return {k: _go_any(v) for k, v in raw.items()}
    return raw


class _Scalar(GoType):
    def __init__(self, text: str, kind: str) -> None:
        super().__init__(text)
        self.kind = kind

    def zero(self) -> Any:
        return {"string": "", "bool": False, "int": 0, "float": 0.0, "duration": GoDuration(0)}[self.kind]

    def decode(self, raw: Any) -> Any:
        k = self.kind
        if raw is None:
            return self.zero()
        if k == "string":
            return raw if isinstance(raw, str) else str(raw)
        if k == "bool":
            return bool(raw)
        if k == "float":
            return float(raw)
        n = int(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else 0
        return GoDuration(n) if k == "duration" else n

    def is_empty(self, v: Any) -> bool:
        return not v


class _Time(GoType):
    kind = "time"

    def zero(self) -> Any:
        return GoTime()

    def decode(self, raw: Any) -> Any:
        return GoTime(raw) if isinstance(raw, str) else GoTime()

    def is_empty(self, v: Any) -> bool:
        return False  # a struct is never empty to omitempty


class _Pointer(GoType):
    kind = "pointer"

    def __init__(self, text: str, elem: GoType) -> None:
        super().__init__(text)
        self.elem = elem
        self.cls = None
        if isinstance(elem, StructSpec):  # named "*pkg.T" in messages and %T
            self.cls = type("GoStruct", (elem.cls,), {"__gotype__": text})
        self.nil = type("NilPointer", (NilPointer,), {"__gotype__": text})(0)

    def zero(self) -> Any:
        return self.nil

    def is_empty(self, v: Any) -> bool:
        return v is None or isinstance(v, NilPointer)

    def decode(self, raw: Any) -> Any:
        if raw is None:
            return self.nil
        if self.cls is not None:
            return self.elem.decode(raw, self.cls)
        return self.elem.decode(raw)


class _Slice(GoType):
    kind = "slice"

    def __init__(self, text: str, elem: GoType, length: int = -1) -> None:
        super().__init__(text)
        self.elem = elem
        self.length = length  # >= 0 for arrays ([2]uint)
        self.cls = type("TypedSlice", (TypedSlice,), {"__gotype__": text})

    def zero(self) -> Any:
        if self.length >= 0:
            return [self.elem.zero() for _ in range(self.length)]
        s = self.cls()
        s.nil = True
        return s

    def decode(self, raw: Any) -> Any:
        if not isinstance(raw, list):
            return self.zero()
        if self.length >= 0:
            items = [self.elem.decode(x) for x in raw[: self.length]]
            return items + [self.elem.zero() for _ in range(self.length - len(items))]
        return self.cls(self.elem.decode(x) for x in raw)

    def is_empty(self, v: Any) -> bool:
        return v is None or len(v) == 0


class _Map(GoType):
    kind = "map"

    def __init__(self, text: str, elem: GoType) -> None:
        super().__init__(text)
        self.elem = elem
        self.cls = type("TypedMap", (TypedMap,), {"__gotype__": text, "_elem": elem})

    def zero(self) -> Any:
        m = self.cls()
        m.nil = True
        return m

    def decode(self, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return self.zero()
        m = self.cls()
        for k, v in raw.items():
            dict.__setitem__(m, k, self.elem.decode(v))
        return m

    def is_empty(self, v: Any) -> bool:
        return v is None or len(v) == 0


class Field:
    __slots__ = ("name", "type", "json", "omitempty", "embedded")

    def __init__(self, name: str, type_: GoType, json: str | None, omitempty: bool, embedded: bool) -> None:
        self.name = name
        self.type = type_
        self.json = json
        self.omitempty = omitempty
        self.embedded = embedded


class StructSpec(GoType):
    kind = "struct"

    def __init__(self, text: str, json_map: bool = False) -> None:
        super().__init__(text)
        self.fields: list[Field] = []
        self.embedded: list[str] = []
        self.json_map = json_map  # a MarshalJSON that writes a map (sorted keys)
        self.promoted: dict[str, str] = {}
        self.cls = type("GoStruct", (GoStruct,), {"__gotype__": text, "_spec": self})

    def zero(self) -> Any:
        s = self.cls()
        values = s.__dict__
        for f in self.fields:
            values[f.name] = f.type.zero()
        return s

    def promote(self) -> None:
        """Give the class a property for each field its embedded structs promote."""
        direct = {f.name for f in self.fields}
        for f in self.fields:
            inner = f.type.elem if isinstance(f.type, _Pointer) else f.type
            if not (f.embedded and isinstance(inner, StructSpec)):
                continue
            inner.promote()
            names = [g.name for g in inner.fields] + list(inner.promoted)
            for name in names:
                if name not in direct and name not in self.promoted:
                    self.promoted[name] = f.name
                    setattr(self.cls, name, _promoted(f.name, name))

    def decode(self, raw: Any, cls: Any = None) -> Any:
        if not isinstance(raw, dict):
            return self.zero()
        folded: dict[str, str] | None = None
        s = (cls or self.cls)()
        values = s.__dict__
        for f in self.fields:
            if f.embedded:
                values[f.name] = f.type.decode(raw)
                continue
            value = _MISSING
            if f.json is not None:
                value = raw.get(f.json, _MISSING)
                if value is _MISSING:
                    if folded is None:
                        folded = {k.lower(): k for k in reversed(list(raw))}
                    key = folded.get(f.json.lower())
                    if key is not None:
                        value = raw[key]
            values[f.name] = f.type.zero() if value is _MISSING else f.type.decode(value)
        return s

    def is_empty(self, v: Any) -> bool:
        return False


# --- the schema language ----------------------------------------------------------------------

_SCALARS = {"string": "string", "bool": "bool", "int": "int", "uint": "int", "int64": "int", "uint16": "int",
            "uint64": "int", "uint32": "int", "float": "float", "duration": "duration"}


class Schema:
    """Named struct types written as text, one field per line:

        Name GoType [json=JSONName | json=-] [omitempty] [embed]

    GoType is string/bool/int/uint16/.../float/duration/time/any, []T, [N]T,
    map[string]T, *T or the name of another struct of the schema.  A struct named
    with a trailing "!map" marshals its JSON as a map (sorted keys).
    """

    def __init__(self, specs: dict[str, str]) -> None:
        self.structs: dict[str, StructSpec] = {}
        self._cache: dict[str, GoType] = {}
        for name in specs:
            json_map = name.endswith("!map")
            clean = name[:-4] if json_map else name
            self.structs[clean] = StructSpec(clean, json_map)
        for name, body in specs.items():
            clean = name[:-4] if name.endswith("!map") else name
            self._fill(self.structs[clean], body)
        for spec in self.structs.values():
            spec.promote()

    def _fill(self, spec: StructSpec, body: str) -> None:
        for line in body.strip().splitlines():
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            name, type_text, opts = parts[0], parts[1], parts[2:]
            json_name: str | None = name
            for o in opts:
                if o.startswith("json="):
                    json_name = None if o == "json=-" else o[5:]
            embedded = "embed" in opts
            spec.fields.append(Field(name, self.type(type_text), json_name, "omitempty" in opts, embedded))
            if embedded:
                spec.embedded.append(name)

    def type(self, text: str) -> GoType:
        t = self._cache.get(text)
        if t is not None:
            return t
        if text in self.structs:
            t = self.structs[text]
        elif text in _SCALARS:
            t = _Scalar(text, _SCALARS[text])
        elif text == "time":
            t = _Time("time.Time")
        elif text == "any":
            t = GoType("interface {}")
        elif text.startswith("*"):
            t = _Pointer(text, self.type(text[1:]))
        elif text.startswith("[]"):
            t = _Slice(text, self.type(text[2:]))
        elif text.startswith("["):
            n, _, elem = text[1:].partition("]")
            t = _Slice(text, self.type(elem), int(n))
        elif text.startswith("map[string]"):
            t = _Map(text, self.type(text[len("map[string]"):]))
        else:
            raise ValueError(f"unknown Go type {text!r}")
        self._cache[text] = t
        return t

    def decode(self, type_text: str, raw: Any) -> Any:
        return self.type(type_text).decode(raw)


def decoder(schema_factory: Callable[[], Schema]) -> Callable[[str, Any], Any]:
    """A lazily built schema's decode function."""
    holder: list[Schema] = []

    def decode(type_text: str, raw: Any) -> Any:
        if not holder:
            holder.append(schema_factory())
        return holder[0].decode(type_text, raw)

    return decode
