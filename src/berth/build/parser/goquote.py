"""Go's strconv.Quote, for the AST dump buildkit's conformance files use.

Printable characters (Go's unicode.IsPrint, the same set as Python's
str.isprintable) are kept, `"` and `\\` are escaped, the C escapes
(`\\a \\b \\f \\n \\r \\t \\v`) are used where they exist, other control
characters become `\\xNN`, other unprintable characters `\\uNNNN` or
`\\UNNNNNNNN`. Lone surrogates from a surrogateescape decoding stand for
the invalid bytes they came from, which Go prints as `\\xNN`.
"""

from __future__ import annotations

import re

__all__ = ["go_quote", "go_quote_list"]

_PLAIN = re.compile(r'[ !#-\[\]-~]*\Z')  # printable ASCII without " and \
_C_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
    "\r": "\\r", "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\",
}


def go_quote(s: str) -> str:
    if _PLAIN.match(s):
        return '"' + s + '"'
    out = ['"']
    for ch in s:
        esc = _C_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        o = ord(ch)
        if ch == " " or (o >= 0x20 and ch.isprintable()):
            out.append(ch)
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02x" % (o - 0xDC00))
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str]) -> str:
    """fmt's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(x) for x in items) + "]"
