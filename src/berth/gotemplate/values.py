"""How Python data stands in for Go values.

Go's template engine is driven by reflection over static types; here the data is
JSON-like Python (from the Engine API) plus objects for list rows.  The mapping:

    None            nil interface{} (what a JSON null decodes to)
    NO_VALUE        an invalid reflect.Value: a missing map key, printed "<no value>"
    bool/int/float  bool, int, float64
    str             string;  `Number` (in gojson) is json.Number
    list, tuple     []interface {}
    dict            map[string]interface {}   (keys sorted when ranged or printed)
    gojson.Struct   a struct, fields in insertion order
    dataclass/other a struct (or pointer to one): exported = capitalised attributes,
                    zero-or-more-argument methods callable as {{.Method arg}}

A class may set `__gotype__` (e.g. "*formatter.ContainerContext") to name its Go type
in error messages and %T, as docker's own messages name its Go types.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import Any


class _NoValue:
    """The invalid reflect.Value: absent, distinct from nil."""

    _instance = None

    def __new__(cls) -> "_NoValue":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __bool__(self) -> bool:
        return False


NO_VALUE = _NoValue()


class Byte(int):
    """A uint8, as `index` returns for a string: it prints and types as Go's byte."""

    __gotype__ = "uint8"
    __unsigned__ = True

# Kinds, as far as templates care.
INVALID, NIL, BOOL, INT, FLOAT, COMPLEX, STRING, SLICE, MAP, STRUCT, FUNC = range(11)


def kind(v: Any) -> int:
    if v is NO_VALUE:
        return INVALID
    if v is None:
        return NIL
    t = type(v)
    if t is str:
        return STRING
    if t is bool:
        return BOOL
    if t is int:
        return INT
    if t is float:
        return FLOAT
    if t is list or t is tuple:
        return SLICE
    if t is dict:
        return MAP
    if isinstance(v, str):
        return STRING
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return FLOAT
    if isinstance(v, complex):
        return COMPLEX
    if isinstance(v, (list, tuple, bytes, bytearray)):
        return SLICE
    from .gojson import Struct
    if isinstance(v, Struct):
        return STRUCT
    if isinstance(v, dict):
        return MAP
    from .funcs import GoFunc
    if isinstance(v, (GoFunc,) + _FUNC_TYPES):
        return FUNC
    return STRUCT


_FUNC_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
               types.BuiltinMethodType, functools.partial)


def go_type(v: Any) -> str:
    """The Go type name used in messages ("[]interface {}", "*main.Row", ...)."""
    k = kind(v)
    if k == NIL:
        return "interface {}"
    if k == STRING:
        return getattr(type(v), "__gotype__", "string")
    if k == BOOL:
        return "bool"
    if k == INT:
        return getattr(type(v), "__gotype__", "int")
    if k == FLOAT:
        return "float64"
    if k == COMPLEX:
        return "complex128"
    if k == SLICE:
        if isinstance(v, (bytes, bytearray)):
            return "[]uint8"
        return getattr(type(v), "__gotype__", "[]interface {}")
    if k == MAP:
        return getattr(type(v), "__gotype__", "map[string]interface {}")
    if k == FUNC:
        from .funcs import GoFunc
        if isinstance(v, GoFunc):
            return v.type_string()
        return "func()"
    if k == INVALID:
        return "<invalid>"
    t = type(v)
    return getattr(t, "__gotype__", None) or getattr(v, "__gotype__", None) or t.__name__


def elem_type(v: Any) -> str:
    """go_type after following a pointer: what builtins such as len name in errors."""
    t = go_type(v)
    return t[1:] if t.startswith("*") else t


def is_exported(name: str) -> bool:
    return bool(name) and name[0].isupper()


def struct_fields(v: Any) -> list[tuple[str, Any]]:
    """Fields of a struct-like value in declared order, for printing and JSON."""
    from .gojson import Struct
    if isinstance(v, Struct):
        return list(v.items())
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [(f.name, getattr(v, f.name)) for f in dataclasses.fields(v)]
    slots = getattr(type(v), "__slots__", None)
    if slots is not None and not hasattr(v, "__dict__"):
        names = [slots] if isinstance(slots, str) else list(slots)
        return [(n, getattr(v, n)) for n in names if hasattr(v, n)]
    return [(k, val) for k, val in vars(v).items() if not k.startswith("_")]


def truth(v: Any) -> bool:
    """Go's isTrue: empty and zero values are false, structs always true."""
    if v is None or v is NO_VALUE:
        return False
    t = type(v)
    if t is bool:
        return v
    if t is str or t is list or t is dict or t is tuple:
        return len(v) > 0
    if t is int or t is float or t is complex:
        return v != 0
    k = kind(v)
    if k in (STRING, SLICE, MAP):
        return len(v) > 0
    if k in (INT, FLOAT, COMPLEX, BOOL):
        return v != 0
    return True
