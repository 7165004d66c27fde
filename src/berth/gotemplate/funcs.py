"""Go's builtin template functions, and typed Python functions (GoFunc).

Go checks every argument against the function's static parameter types and
reports mismatches in fixed words ("wrong type for value; expected string; got
int").  A GoFunc carries those parameter types so that builtins, docker's
functions and callers' own functions are checked and reported the same way.
Plain Python callables are accepted too; they take any value.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence

from . import printf
from .strconv import is_print
from .values import (BOOL, COMPLEX, FLOAT, FUNC, INT, INVALID, MAP, NO_VALUE, SLICE,
                     STRING, Byte, elem_type, go_type, kind, truth)

# Parameter type names understood by the executor.
VALUE = "reflect.Value"   # raw value, NO_VALUE included: the builtins' own parameters
ANY = "interface {}"


class GoError(Exception):
    """An error returned by a function; Go prints it after "error calling NAME: "."""


class GoFunc:
    """A Python callable with a Go signature.

    `params` are Go type names of the fixed parameters ("string", "int", "float64",
    "bool", "[]string", "interface {}", "reflect.Value"); `variadic` is the element
    type of a final `...T` parameter, if any.
    """

    __slots__ = ("fn", "params", "variadic", "result", "name")

    def __init__(self, fn: Callable[..., Any], params: Sequence[str] = (),
                 variadic: Optional[str] = None, result: str = ANY, name: str = "") -> None:
        self.fn = fn
        self.params = tuple(params)
        self.variadic = variadic
        self.result = result
        self.name = name or getattr(fn, "__name__", "")

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def type_string(self) -> str:
        ps = list(self.params)
        if self.variadic is not None:
            ps.append("..." + self.variadic)
        return f"func({', '.join(ps)}) {self.result}".rstrip()


_ANNOTATIONS = {str: "string", int: "int", float: "float64", bool: "bool",
                "str": "string", "int": "int", "float": "float64", "bool": "bool"}

_sig_cache: dict[Any, tuple[tuple[str, ...], Optional[str]]] = {}


def signature(fn: Any) -> tuple[tuple[str, ...], Optional[str]]:
    """(fixed parameter types, variadic element type or None) of any callable."""
    if isinstance(fn, GoFunc):
        return fn.params, fn.variadic
    key = getattr(fn, "__func__", fn)
    cached = _sig_cache.get(key)
    if cached is not None:
        return cached
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        result: tuple[tuple[str, ...], Optional[str]] = ((), ANY)
    else:
        params: list[str] = []
        variadic: Optional[str] = None
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                if p.default is not p.empty:
                    continue
                params.append(_ANNOTATIONS.get(p.annotation, ANY))
            elif p.kind == p.VAR_POSITIONAL:
                variadic = _ANNOTATIONS.get(p.annotation, ANY)
        result = (tuple(params), variadic)
    try:
        _sig_cache[key] = result
    except TypeError:  # unhashable callable object
        pass
    return result


def can_be_nil(typ: str) -> bool:
    return typ == ANY or typ.startswith(("[]", "map[", "*", "func", "chan"))


def zero_of(typ: str) -> Any:
    if typ.startswith("[]"):
        return []
    if typ.startswith("map["):
        return {}
    return None


def assignable(v: Any, typ: str) -> bool:
    """Whether a value of v's Go type may be passed as `typ`."""
    if typ == ANY or typ == VALUE:
        return True
    t = type(v)
    if typ == "string":
        return t is str
    if typ == "int":
        return t is int
    if typ == "float64":
        return t is float
    if typ == "bool":
        return t is bool
    if typ == "[]string":
        return (t is list or t is tuple) and all(type(e) is str for e in v)
    if typ.startswith("func"):
        return kind(v) == FUNC
    return go_type(v) == typ


def ind(v: Any) -> Any:
    """indirectInterface: a nil interface becomes the invalid value."""
    return NO_VALUE if v is None else v


# -- builtins ---------------------------------------------------------------------

def _not(arg: Any) -> bool:
    return not truth(arg)


def _len(item: Any) -> int:
    if item is NO_VALUE:
        raise GoError("reflect: call of reflect.Value.Type on zero Value")
    if item is None:
        raise GoError("len of nil pointer")
    k = kind(item)
    if k == STRING:
        return len(str(item).encode("utf-8", "surrogateescape"))
    if k in (SLICE, MAP):
        return len(item)
    raise GoError(f"len of type {elem_type(item)}")


def _index_arg(index: Any, cap: int) -> int:
    k = kind(index)
    if k == INT:
        x = int(index)
    elif k == INVALID:
        raise GoError("cannot index slice/array with nil")
    else:
        raise GoError(f"cannot index slice/array with type {go_type(index)}")
    if x < 0 or x > cap:
        raise GoError(f"index out of range: {x}")
    return x


def _index(item: Any, *indexes: Any) -> Any:
    item = ind(item)
    if item is NO_VALUE:
        raise GoError("index of untyped nil")
    for index in indexes:
        index = ind(index)
        if item is None:
            raise GoError("index of nil pointer")
        k = kind(item)
        if k in (SLICE, STRING):
            if k == STRING:
                b = str(item).encode("utf-8", "surrogateescape")
                x = _index_arg(index, len(b))
                if x == len(b):
                    raise GoError("reflect: string index out of range")
                item = Byte(b[x])
            else:
                x = _index_arg(index, len(item))
                if x == len(item):
                    raise GoError("reflect: slice index out of range")
                item = item[x]
        elif k == MAP:
            if index is NO_VALUE:
                raise GoError("value is nil; should be of type string")
            if type(index) is not str:
                raise GoError(f"value has type {go_type(index)}; should be string")
            item = item.get(index)
        else:
            raise GoError(f"can't index item of type {elem_type(item)}")
    return item


class Iface:
    """A value that reached a builtin still wrapped in interface{} (a map or slice element).

    Only `slice` sees the difference: unlike `index`, it does not unwrap its index
    arguments, so Go reports them as "type interface {}".
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _slice(item: Any, *indexes: Any) -> Any:
    item = ind(item)
    if item is NO_VALUE:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    k = kind(item)
    if k == STRING:
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        seq: Any = str(item).encode("utf-8", "surrogateescape")
    elif k == SLICE:
        seq = item
    else:
        raise GoError(f"can't slice item of type {go_type(item)}")
    cap = len(seq)
    idx = [0, len(seq), 0]
    for i, index in enumerate(indexes):
        if isinstance(index, Iface):
            raise GoError("cannot index slice/array with type interface {}")
        idx[i] = _index_arg(ind(index), cap)
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0]:idx[1]]
    if k == STRING:
        text = out.decode("utf-8", "surrogateescape")
        return text if type(item) is str else type(item)(text)  # keeps json.Number
    return list(out)


_BASIC = (BOOL, INT, FLOAT, COMPLEX, STRING)


def _basic_kind(v: Any) -> int:
    k = kind(v)
    return k if k in _BASIC else -1


def _eq(arg1: Any, *arg2: Any) -> bool:
    arg1 = ind(arg1)
    if not arg2:
        raise GoError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in arg2:
        arg = ind(arg)
        k2 = _basic_kind(arg)
        result = False
        if k1 != k2:
            if arg1 is not NO_VALUE and arg is not NO_VALUE:
                raise GoError("incompatible types for comparison")
        elif k1 == STRING:
            result = str.__str__(arg1) == str.__str__(arg)
        elif k1 != -1:
            result = arg1 == arg
        else:
            if arg1 is NO_VALUE or arg is NO_VALUE:
                result = arg1 is arg
            else:
                ka, kb = kind(arg1), kind(arg)
                if ka in (SLICE, MAP, FUNC) or kb in (SLICE, MAP, FUNC):
                    if ka != kb or go_type(arg1) != go_type(arg):
                        raise GoError(printf.sprintf("non-comparable types %s: %v, %s: %v",
                                                     [arg1, go_type(arg1), go_type(arg), arg]))
                    raise GoError(printf.sprintf("non-comparable type %s: %v", [arg, go_type(arg)]))
                result = arg1 is arg or arg1 == arg
        if result:
            return True
    return False


def _ne(arg1: Any, arg2: Any) -> bool:
    return not _eq(arg1, arg2)


def _lt(arg1: Any, arg2: Any) -> bool:
    arg1 = ind(arg1)
    k1 = _basic_kind(arg1)
    if k1 == -1 or arg1 is NO_VALUE:
        raise GoError("invalid type for comparison")
    arg2 = ind(arg2)
    k2 = _basic_kind(arg2)
    if k2 == -1 or arg2 is NO_VALUE:
        raise GoError("invalid type for comparison")
    if k1 != k2:
        raise GoError("incompatible types for comparison")
    if k1 in (BOOL, COMPLEX):
        raise GoError("invalid type for comparison")
    if k1 == STRING:
        return str.__str__(arg1).encode("utf-8", "surrogateescape") < \
            str.__str__(arg2).encode("utf-8", "surrogateescape")
    return arg1 < arg2


def _le(arg1: Any, arg2: Any) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: Any, arg2: Any) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: Any, arg2: Any) -> bool:
    return not _lt(arg1, arg2)


def _eval_args(args: tuple) -> str:
    """evalArgs: one string as is, else fmt.Sprint with nil shown as "<no value>"."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return printf.sprint([printf.NO_VALUE_TEXT if a is None or a is NO_VALUE else a
                          for a in args], deref=True)


def html_escape(s: str) -> str:
    if not any(c in s for c in "\0\"'&<>"):
        return s
    out = []
    for c in s:
        if c == "\0":
            out.append("\ufffd")
        elif c == '"':
            out.append("&#34;")
        elif c == "'":
            out.append("&#39;")
        elif c == "&":
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif c == ">":
            out.append("&gt;")
        else:
            out.append(c)
    return "".join(out)


def js_escape(s: str) -> str:
    out = []
    for c in s:
        cp = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == '"':
            out.append('\\"')
        elif c == "<":
            out.append("\\u003C")
        elif c == ">":
            out.append("\\u003E")
        elif c == "&":
            out.append("\\u0026")
        elif c == "=":
            out.append("\\u003D")
        elif cp < 0x80:
            if cp < 0x20:
                out.append(f"\\u{cp:04X}")
            else:
                out.append(c)
        elif is_print(c):
            out.append(c)
        else:
            out.append(f"\\u{cp:04X}")
    return "".join(out)


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def query_escape(s: str) -> str:
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        c = chr(b)
        if c in _URL_SAFE:
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def _html(*args: Any) -> str:
    return html_escape(_eval_args(args))


def _js(*args: Any) -> str:
    return js_escape(_eval_args(args))


def _urlquery(*args: Any) -> str:
    return query_escape(_eval_args(args))


def _print(*args: Any) -> str:
    return printf.sprint(list(args))


def _println(*args: Any) -> str:
    return printf.sprintln(list(args))


def _printf(fmt: str, *args: Any) -> str:
    return printf.sprintf(fmt, list(args))


def _prepare_arg(value: Any, typ: str) -> Any:
    if value is NO_VALUE:
        if not can_be_nil(typ):
            raise GoError(f"value is nil; should be of type {typ}")
        return zero_of(typ)
    if assignable(value, typ):
        return value
    raise GoError(f"value has type {go_type(value)}; should be {typ}")


def _call(fn: Any, *args: Any) -> Any:
    fn = ind(fn)
    if fn is NO_VALUE:
        raise GoError("call of nil")
    if kind(fn) != FUNC:
        raise GoError(f"non-function of type {go_type(fn)}")
    params, variadic = signature(fn)
    n = len(params)
    if variadic is not None:
        if len(args) < n:
            raise GoError(f"wrong number of args: got {len(args)} want at least {n}")
    elif len(args) != n:
        raise GoError(f"wrong number of args: got {len(args)} want {n}")
    argv = []
    for i, a in enumerate(args):
        a = ind(a)
        t = params[i] if i < n else (variadic or ANY)
        try:
            argv.append(_prepare_arg(a, t))
        except GoError as e:
            raise GoError(f"arg {i}: {e}") from None
    return fn(*argv)


def _and(arg0: Any, *args: Any) -> Any:  # short-circuit handled by the executor
    for a in (arg0,) + args:
        if not truth(a):
            return a
    return a


def _or(arg0: Any, *args: Any) -> Any:
    for a in (arg0,) + args:
        if truth(a):
            return a
    return a


BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc(_and, (VALUE,), VALUE, VALUE),
    "call": GoFunc(_call, (VALUE,), VALUE, VALUE),
    "html": GoFunc(_html, (), ANY, "string"),
    "index": GoFunc(_index, (VALUE,), VALUE, VALUE),
    "slice": GoFunc(_slice, (VALUE,), VALUE, VALUE),
    "js": GoFunc(_js, (), ANY, "string"),
    "len": GoFunc(_len, (VALUE,), None, "int"),
    "not": GoFunc(_not, (VALUE,), None, "bool"),
    "or": GoFunc(_or, (VALUE,), VALUE, VALUE),
    "print": GoFunc(_print, (), ANY, "string"),
    "printf": GoFunc(_printf, ("string",), ANY, "string"),
    "println": GoFunc(_println, (), ANY, "string"),
    "urlquery": GoFunc(_urlquery, (), ANY, "string"),
    "eq": GoFunc(_eq, (VALUE,), VALUE, "bool"),
    "ge": GoFunc(_ge, (VALUE, VALUE), None, "bool"),
    "gt": GoFunc(_gt, (VALUE, VALUE), None, "bool"),
    "le": GoFunc(_le, (VALUE, VALUE), None, "bool"),
    "lt": GoFunc(_lt, (VALUE, VALUE), None, "bool"),
    "ne": GoFunc(_ne, (VALUE, VALUE), None, "bool"),
}
