"""Go number literals: what `strconv.ParseInt(s, 0, 64)` and friends accept.

A template constant can be an int, a float, a rune or a complex number at once
("1" is all of int, uint and float), and execution picks the kind from context, so
all interpretations are recorded on the node.
"""

from __future__ import annotations

import re

from .nodes import NumberNode
from .strconv import MalformedChar, UnquoteError, unquote_char_literal

_INT_RE = re.compile(r"""
    [+-]?(?:
        0[xX](?:_?[0-9a-fA-F])+ |
        0[oO](?:_?[0-7])+ |
        0[bB](?:_?[01])+ |
        0(?:_?[0-7])* |
        [1-9](?:_?[0-9])*
    )$""", re.X)
_DEC_FLOAT_RE = re.compile(r"""
    [+-]?(?:
        [0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)? |
        \.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?
    )$""", re.X)
_HEX_FLOAT_RE = re.compile(r"""
    [+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.(?:[0-9a-fA-F](?:_?[0-9a-fA-F])*)?)?[pP][+-]?[0-9](?:_?[0-9])*$
    """, re.X)

INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def parse_int(text: str) -> int | None:
    """Value of a Go integer literal, or None when it is not one."""
    if not _INT_RE.match(text):
        return None
    sign = 1
    body = text
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    body = body.replace("_", "")
    if len(body) > 1 and body[0] == "0" and body[1] not in "xXoObB":
        return sign * int(body, 8)
    return sign * int(body, 0)


def parse_float(text: str) -> float | None:
    """Value of a Go float literal (strconv.ParseFloat), or None."""
    try:
        if _DEC_FLOAT_RE.match(text):
            return float(text.replace("_", ""))
        if _HEX_FLOAT_RE.match(text):
            t = text.replace("_", "")
            sign = -1.0 if t[0] == "-" else 1.0
            return sign * float.fromhex(t.lstrip("+-"))
    except (ValueError, OverflowError):
        return None
    return None


def parse_number(pos: int, text: str, is_char: bool = False, is_complex: bool = False) -> NumberNode:
    """Build a NumberNode as Go's newNumber does; raise ValueError with Go's message."""
    n = NumberNode(pos, text)
    if is_char:
        try:
            r = unquote_char_literal(text)
        except MalformedChar:
            raise
        except UnquoteError:
            raise ValueError("invalid syntax")
        n.int_value = n.uint_value = r
        n.float_value = float(r)
        n.is_int = n.is_uint = n.is_float = True
        return n
    if is_complex:
        c = _parse_complex(text)
        n.is_complex = True
        n.complex_value = c
        _simplify_complex(n)
        return n
    if text.endswith("i"):
        f = parse_float(text[:-1])
        if f is None:
            i = parse_int(text[:-1])
            f = float(i) if i is not None else None
        if f is not None:
            n.is_complex = True
            n.complex_value = complex(0, f)
            _simplify_complex(n)
            return n
    iv = parse_int(text)
    if iv is not None:
        if 0 <= iv <= UINT64_MAX and not text.startswith("-"):
            n.is_uint, n.uint_value = True, iv
        if INT64_MIN <= iv <= INT64_MAX:
            n.is_int, n.int_value = True, iv
            if iv == 0:
                n.is_uint, n.uint_value = True, 0
    if n.is_int:
        n.is_float, n.float_value = True, float(n.int_value)
    elif n.is_uint:
        n.is_float, n.float_value = True, float(n.uint_value)
    else:
        f = parse_float(text)
        if f is not None and f not in (float("inf"), float("-inf")):
            if not any(c in text for c in ".eEpP"):
                from .strconv import quote
                raise ValueError(f"integer overflow: {quote(text)}")
            n.is_float, n.float_value = True, f
            if f == int(f):
                iv = int(f)
                if INT64_MIN <= iv <= INT64_MAX:
                    n.is_int, n.int_value = True, iv
                if 0 <= iv <= UINT64_MAX:
                    n.is_uint, n.uint_value = True, iv
    if not (n.is_int or n.is_uint or n.is_float):
        from .strconv import quote
        raise ValueError(f"illegal number syntax: {quote(text)}")
    return n


def _parse_complex(text: str) -> complex:
    m = re.match(r"^([+-]?[0-9._xXa-fA-FpPoObB]+?(?:[eEpP][+-]?[0-9_]+)?)([+-][^i]*)i$", text)
    if not m:
        raise ValueError("invalid syntax")
    re_part = parse_float(m.group(1))
    im_part = parse_float(m.group(2))
    if re_part is None or im_part is None:
        raise ValueError("invalid syntax")
    return complex(re_part, im_part)


def _simplify_complex(n: NumberNode) -> None:
    c = n.complex_value
    if c.imag == 0:
        n.is_float, n.float_value = True, c.real
        if c.real == int(c.real):
            n.is_int, n.int_value = True, int(c.real)
            n.is_uint, n.uint_value = n.int_value >= 0, max(int(c.real), 0)
