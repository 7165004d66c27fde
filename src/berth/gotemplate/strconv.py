"""Go's quoting rules (strconv.Quote / Unquote / QuoteRune).

Go quotes differently from Python's repr (\\u00e9 is kept literal, \\x01 not \\u0001,
lower-case hex), and these texts reach users through %q, error messages and node
printing, so they are reproduced here.  Strings that came from Go escapes such as
"\\xff" are not valid UTF-8; they are held as Python strings with surrogate escapes.
"""

from __future__ import annotations

_SIMPLE = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
           "\t": "\\t", "\v": "\\v"}


def is_print(c: str) -> bool:
    """unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    return c.isprintable()


def _escape_rune(c: str, quote: str, ascii_only: bool, out: list[str]) -> None:
    cp = ord(c)
    if c == quote or c == "\\":
        out.append("\\" + c)
        return
    if 0xDC80 <= cp <= 0xDCFF:  # a raw byte that was not UTF-8
        out.append(f"\\x{cp - 0xDC00:02x}")
        return
    if ascii_only:
        if cp < 0x80 and c.isprintable():
            out.append(c)
            return
    elif c.isprintable():
        out.append(c)
        return
    if c in _SIMPLE:
        out.append(_SIMPLE[c])
    elif cp < 0x20 or cp == 0x7F:
        out.append(f"\\x{cp:02x}")
    elif 0xD800 <= cp <= 0xDFFF:
        out.append("\\ufffd" if ascii_only else "\ufffd")
    elif cp < 0x10000:
        out.append(f"\\u{cp:04x}")
    else:
        out.append(f"\\U{cp:08x}")


def quote(s: str, ascii_only: bool = False) -> str:
    out = ['"']
    for c in s:
        if " " <= c <= "~" and c != '"' and c != "\\":
            out.append(c)
        else:
            _escape_rune(c, '"', ascii_only, out)
    out.append('"')
    return "".join(out)


def quote_rune(cp: int, ascii_only: bool = False) -> str:
    if cp < 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
        cp = 0xFFFD
    out = ["'"]
    _escape_rune(chr(cp), "'", ascii_only, out)
    out.append("'")
    return "".join(out)


def can_backquote(s: str) -> bool:
    for c in s:
        if c == "`" or c == "\ufeff":
            return False
        if c != "\t" and (ord(c) < 0x20 or ord(c) == 0x7F):
            return False
        if 0xDC80 <= ord(c) <= 0xDCFF:
            return False
    return True


class UnquoteError(ValueError):
    """strconv.ErrSyntax; Go prints it as "invalid syntax"."""

    def __init__(self) -> None:
        super().__init__("invalid syntax")


_ESC = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def _unquote_body(body: str, quote: str) -> str:
    """Decode Go escapes; \\x and octal escapes yield bytes, so build bytes."""
    buf = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == quote and quote == '"':
            raise UnquoteError
        if c != "\\":
            buf += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        i += 1
        if i >= n:
            raise UnquoteError
        e = body[i]
        i += 1
        if e in _ESC:
            buf.append(_ESC[e])
        elif e == quote:
            buf.append(ord(e))
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i:i + width]
            if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise UnquoteError
            v = int(digits, 16)
            i += width
            if e == "x":
                buf.append(v)
            else:
                if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                    raise UnquoteError
                buf += chr(v).encode()
        elif e in "01234567":
            digits = body[i - 1:i + 2]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise UnquoteError
            v = int(digits, 8)
            if v > 255:
                raise UnquoteError
            i += 2
            buf.append(v)
        else:
            raise UnquoteError
    return buf.decode("utf-8", "surrogateescape")


def unquote(s: str) -> str:
    """strconv.Unquote for "...", `...` and '...' literals."""
    if len(s) < 2 or s[0] != s[-1]:
        raise UnquoteError
    q = s[0]
    body = s[1:-1]
    if q == "`":
        if "`" in body:
            raise UnquoteError
        return body.replace("\r", "")
    if q == '"':
        if "\n" in body:
            raise UnquoteError
        return _unquote_body(body, '"')
    if q == "'":
        r = unquote_char_literal(s)
        return chr(r)
    raise UnquoteError


def unquote_char_literal(text: str) -> int:
    """Value of a Go character constant such as 'a', '\\n' or '\\u00e9'."""
    body = text[1:]
    if not body or body[0] == "'":
        raise UnquoteError
    if body[0] != "\\":
        c = body[0]
        rest = body[1:]
        if c == "\n":
            raise UnquoteError
        if rest != "'":
            raise MalformedChar(text)
        return ord(c)
    e = body[1] if len(body) > 1 else ""
    if e in _ESC:
        v, used = _ESC[e], 2
    elif e == "'":
        v, used = 39, 2
    elif e in ("x", "u", "U"):
        width = {"x": 2, "u": 4, "U": 8}[e]
        digits = body[2:2 + width]
        if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise UnquoteError
        v = int(digits, 16)
        if e != "x" and (v > 0x10FFFF or 0xD800 <= v <= 0xDFFF):
            raise UnquoteError
        used = 2 + width
    elif e and e in "01234567":
        digits = body[1:4]
        if len(digits) != 3 or any(d not in "01234567" for d in digits):
            raise UnquoteError
        v = int(digits, 8)
        if v > 255:
            raise UnquoteError
        used = 4
    else:
        raise UnquoteError
    if body[used:] != "'":
        raise MalformedChar(text)
    return v


class MalformedChar(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(f"malformed character constant: {text}")
