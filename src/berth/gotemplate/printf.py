"""Go's fmt package: Sprint, Sprintln, Sprintf and the %v rendering of values.

Templates print every value through fmt, and users rely on printf's verbs, flags and
its in-band error notation (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`),
so the formatting rules are reproduced, not approximated with Python's `%`.
"""

from __future__ import annotations

from typing import Any

from . import strconv
from .floatfmt import format_float
from .values import (BOOL, COMPLEX, FLOAT, FUNC, INT, MAP, NO_VALUE, SLICE,
                     STRING, STRUCT, go_type, kind, struct_fields)

NO_VALUE_TEXT = "<no value>"
_LDIGITS = "0123456789abcdefx"
_UDIGITS = "0123456789ABCDEFX"


class _Printer:
    """One fmt call's state: flags of the current verb and the output buffer."""

    __slots__ = ("buf", "plus", "minus", "sharp", "space", "zero", "plus_v", "sharp_v",
                 "wid", "prec", "wid_present", "prec_present", "erroring", "arg", "value",
                 "has_value", "deref")

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.erroring = False
        self.deref = False  # printing a template value: Go indirects pointers first
        self.clear_flags()

    def clear_flags(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid = self.prec = 0
        self.wid_present = self.prec_present = False

    # -- padding ------------------------------------------------------------------
    def write_padding(self, n: int) -> None:
        if n > 0:
            self.buf.append(("0" if self.zero else " ") * n)

    def pad(self, s: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf.append(s)
            return
        width = self.wid - len(s)
        if not self.minus:
            self.write_padding(width)
            self.buf.append(s)
        else:
            self.buf.append(s)
            self.write_padding(width)

    def pad_no_zero(self, s: str) -> None:
        old = self.zero
        self.zero = False
        self.pad(s)
        self.zero = old

    # -- errors -------------------------------------------------------------------
    def bad_verb(self, verb: str, v: Any, have: bool) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if have and v is not None and v is not NO_VALUE:
            self.buf.append(go_type(v) + "=")
            self.print_arg(v, "v", 0)
        else:
            self.buf.append("<nil>")
        self.buf.append(")")
        self.erroring = False

    # -- basic kinds ----------------------------------------------------------------
    def fmt_bool(self, v: bool, verb: str, orig: Any) -> None:
        if verb in "tv":
            self.pad("true" if v else "false")
        else:
            self.bad_verb(verb, orig, True)

    def fmt_integer(self, v: int, verb: str, orig: Any) -> None:
        if verb in "vd":
            if verb == "v" and self.sharp_v and v >= 0 and getattr(type(orig), "__unsigned__", False):
                self.fmt_int(v, 16, verb, _LDIGITS, force_sharp=True)
            else:
                self.fmt_int(v, 10, verb, _LDIGITS)
        elif verb == "b":
            self.fmt_int(v, 2, verb, _LDIGITS)
        elif verb in "oO":
            self.fmt_int(v, 8, verb, _LDIGITS)
        elif verb == "x":
            self.fmt_int(v, 16, verb, _LDIGITS)
        elif verb == "X":
            self.fmt_int(v, 16, verb, _UDIGITS)
        elif verb == "c":
            self.pad(_rune(v))
        elif verb == "q":
            cp = v if 0 <= v <= 0x10FFFF else 0xFFFD
            self.pad(strconv.quote_rune(cp, ascii_only=self.plus))
        elif verb == "U":
            self.fmt_unicode(v)
        else:
            self.bad_verb(verb, orig, True)

    def fmt_int(self, v: int, base: int, verb: str, digits: str, force_sharp: bool = False) -> None:
        negative = v < 0
        u = -v if negative else v
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and u == 0:
                old = self.zero
                self.zero = False
                self.write_padding(self.wid)
                self.zero = old
                return
        elif self.zero and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        if base == 10:
            s = str(u)
        elif base == 16:
            s = format(u, "x" if digits is _LDIGITS else "X")
        elif base == 8:
            s = format(u, "o")
        else:
            s = format(u, "b")
        if len(s) < prec:
            s = "0" * (prec - len(s)) + s
        sharp = self.sharp or force_sharp
        if sharp:
            if base == 2:
                s = "0b" + s
            elif base == 8:
                if s[0] != "0":
                    s = "0" + s
            elif base == 16:
                s = "0" + digits[16] + s
        if verb == "O":
            s = "0o" + s
        if negative:
            s = "-" + s
        elif self.plus:
            s = "+" + s
        elif self.space:
            s = " " + s
        self.pad_no_zero(s)

    def fmt_unicode(self, u: int) -> None:
        prec = 4
        if self.prec_present and self.prec > 4:
            prec = self.prec
        s = "U+" + format(u if u >= 0 else u & 0xFFFFFFFFFFFFFFFF, "X").rjust(prec, "0")
        if self.sharp and 0 <= u <= 0x10FFFF and strconv.is_print(chr(u)):
            s += " '" + chr(u) + "'"
        self.pad_no_zero(s)

    def fmt_float(self, v: float, verb: str, orig: Any) -> None:
        if verb == "v":
            self._float(v, "g", -1)
        elif verb in "gGxXb":
            self._float(v, verb, -1)
        elif verb in "fFeE":
            self._float(v, verb, 6)
        else:
            self.bad_verb(verb, orig, True)

    def _float(self, v: float, verb: str, prec: int) -> None:
        if self.prec_present:
            prec = self.prec
        num = format_float(v, verb, prec)
        if num[0] in "+-":
            pass
        else:
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad_no_zero(num)
            return
        if self.sharp and verb != "b":
            num = _sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and self.wid_present and self.wid > len(num):
                self.buf.append(num[0])
                self.write_padding(self.wid - len(num))
                self.buf.append(num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    def fmt_complex(self, v: complex, verb: str, orig: Any) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb, orig, True)
            return
        old_plus = self.plus
        self.buf.append("(")
        self.fmt_float(v.real, verb, orig)
        self.plus = True
        self.fmt_float(v.imag, verb, orig)
        self.buf.append("i)")
        self.plus = old_plus

    def fmt_string(self, s: str, verb: str, orig: Any) -> None:
        if verb == "v":
            if self.sharp_v:
                self._fmt_q(s)
            else:
                self._fmt_s(s)
        elif verb == "s":
            self._fmt_s(s)
        elif verb in "xX":
            self._fmt_sx(s.encode("utf-8", "surrogateescape"), verb)
        elif verb == "q":
            self._fmt_q(s)
        else:
            self.bad_verb(verb, orig, True)

    def _truncate(self, s: str) -> str:
        if self.prec_present and len(s) > self.prec:
            return s[:self.prec]
        return s

    def _fmt_s(self, s: str) -> None:
        self.pad(self._truncate(s))

    def _fmt_q(self, s: str) -> None:
        s = self._truncate(s)
        if self.sharp and strconv.can_backquote(s):
            self.pad("`" + s + "`")
        else:
            self.pad(strconv.quote(s, ascii_only=self.plus))

    def _fmt_sx(self, b: bytes, verb: str) -> None:
        digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
        n = len(b)
        if self.prec_present and self.prec < n:
            n = self.prec
        if n <= 0:
            self.pad("")
            return
        out = []
        for i in range(n):
            if self.space and i > 0:
                out.append(" ")
            if self.sharp and (self.space or i == 0):
                out.append("0" + verb)
            c = b[i]
            out.append(digits[c >> 4] + digits[c & 0xF])
        self.pad("".join(out))

    # -- dispatch -----------------------------------------------------------------
    def handle_methods(self, v: Any, verb: str) -> bool:
        if self.erroring:
            return False
        if verb not in "vsxXq" or self.sharp_v:
            return False
        t = type(v)
        for name in ("Error", "String"):
            m = getattr(t, name, None)
            if m is not None and callable(m) and not isinstance(v, type):
                try:
                    s = getattr(v, name)()
                except Exception as e:  # noqa: BLE001 - Go prints the panic in-band
                    self.buf.append(f"%!{verb}(PANIC={name} method: {e})")
                    return True
                self.fmt_string(str(s), verb, s)
                return True
        return False

    def print_arg(self, v: Any, verb: str, depth: int = 0) -> None:
        if v is None or v is NO_VALUE:
            if depth > 0:
                self.buf.append("<nil>" if not self.sharp_v else "interface {}(nil)")
                return
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None, False)
            return
        if verb == "T":
            self._fmt_s(go_type(v))
            return
        t = type(v)
        if t is str:
            self.fmt_string(v, verb, v)
            return
        if t is int:
            self.fmt_integer(v, verb, v)
            return
        if t is bool:
            self.fmt_bool(v, verb, v)
            return
        if t is float:
            self.fmt_float(v, verb, v)
            return
        if self.handle_methods(v, verb):
            return
        k = kind(v)
        if k == STRING:
            self.fmt_string(str.__str__(v), verb, v)
        elif k == INT:
            self.fmt_integer(int(v), verb, v)
        elif k == BOOL:
            self.fmt_bool(bool(v), verb, v)
        elif k == FLOAT:
            self.fmt_float(float(v), verb, v)
        elif k == COMPLEX:
            self.fmt_complex(v, verb, v)
        elif k == SLICE:
            self.print_slice(v, verb, depth)
        elif k == MAP:
            self.print_map(v, verb, depth)
        elif k == STRUCT:
            self.print_struct(v, verb, depth)
        elif k == FUNC:
            self.bad_verb(verb, v, True) if verb != "v" else self.pad("0x0")
        else:
            self.bad_verb(verb, v, True)

    def print_slice(self, v: Any, verb: str, depth: int) -> None:
        if isinstance(v, (bytes, bytearray)):
            if verb in "sq":
                self.fmt_string(bytes(v).decode("utf-8", "surrogateescape"), verb, v)
                return
            if verb in "xX":
                self._fmt_sx(bytes(v), verb)
                return
        if self.sharp_v:
            self.buf.append(go_type(v) + "{")
            for i, e in enumerate(v):
                if i:
                    self.buf.append(", ")
                self.print_arg(e, verb, depth + 1)
            self.buf.append("}")
            return
        self.buf.append("[")
        for i, e in enumerate(v):
            if i:
                self.buf.append(" ")
            self.print_arg(e, verb, depth + 1)
        self.buf.append("]")

    def print_map(self, v: dict, verb: str, depth: int) -> None:
        if self.sharp_v:
            self.buf.append(go_type(v) + "{")
        else:
            self.buf.append("map[")
        for i, k in enumerate(sorted_keys(v)):
            if i:
                self.buf.append(", " if self.sharp_v else " ")
            self.print_arg(k, verb, depth + 1)
            self.buf.append(":")
            self.print_arg(v[k], verb, depth + 1)
        self.buf.append("}" if self.sharp_v else "]")

    def print_struct(self, v: Any, verb: str, depth: int) -> None:
        from .gojson import Struct
        import dataclasses
        if not isinstance(v, Struct) and not dataclasses.is_dataclass(v) \
                and not hasattr(v, "__dict__") and not hasattr(type(v), "__slots__"):
            self.fmt_string(str(v), verb, v)  # an opaque Python object: its str()
            return
        if depth == 0 and not self.deref and go_type(v).startswith("*"):
            self.buf.append("&")
        if self.sharp_v:
            self.buf.append(go_type(v).lstrip("*"))
        self.buf.append("{")
        for i, (name, fv) in enumerate(struct_fields(v)):
            if i:
                self.buf.append(", " if self.sharp_v else " ")
            if self.plus_v or self.sharp_v:
                self.buf.append(name + ":")
            self.print_arg(fv, verb, depth + 1)
        self.buf.append("}")


def sorted_keys(d: dict) -> list:
    """fmtsort order: numbers numerically, strings bytewise, mixed by kind."""
    keys = list(d.keys())
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=lambda k: (type(k).__name__, str(k)))


def _rune(v: int) -> str:
    if v < 0 or v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
        return "\ufffd"
    return chr(v)


def _sharp_float(num: str, verb: str, prec: int) -> str:
    """The '#' flag on floats: always a decimal point; %g keeps its trailing zeros."""
    digits = 0
    if verb in "gGx":
        digits = 6 if prec < 0 else prec
    body = num[1:]
    mant: list[str] = []
    tail = ""
    has_point = saw_nonzero = False
    for i, c in enumerate(body):
        if c == ".":
            has_point = True
        elif c in "pP" or (c in "eE" and verb not in "xX"):
            tail = body[i:]
            break
        else:
            saw_nonzero = saw_nonzero or c != "0"
            if saw_nonzero:
                digits -= 1
        mant.append(c)
    text = "".join(mant)
    if not has_point:
        if text == "0":
            digits -= 1
        text += "."
    if digits > 0:
        text += "0" * digits
    return num[0] + text + tail


# -- public entry points -----------------------------------------------------------

def sprint(args: list[Any], deref: bool = False) -> str:
    """fmt.Sprint; `deref` prints pointers-to-struct as the struct (printableValue)."""
    p = _Printer()
    p.deref = deref
    prev_string = False
    for i, a in enumerate(args):
        is_string = a is not None and a is not NO_VALUE and kind(a) == STRING
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.print_arg(a, "v")
        prev_string = is_string
    return "".join(p.buf)


def sprintln(args: list[Any]) -> str:
    p = _Printer()
    for i, a in enumerate(args):
        if i > 0:
            p.buf.append(" ")
        p.print_arg(a, "v")
    p.buf.append("\n")
    return "".join(p.buf)


def print_value(v: Any) -> str:
    """What {{.}} writes for a single value (fmt.Fprint of one operand)."""
    t = type(v)
    if t is str:
        return v
    if t is int:
        return str(v)
    if t is bool:
        return "true" if v else "false"
    p = _Printer()
    p.deref = True
    p.print_arg(v, "v")
    return "".join(p.buf)


def _parsenum(s: str, i: int, end: int) -> tuple[int, bool, int]:
    if i >= end:
        return 0, False, end
    num = 0
    ok = False
    while i < end and "0" <= s[i] <= "9":
        if num > 1_000_000:
            return 0, False, end
        num = num * 10 + ord(s[i]) - 48
        ok = True
        i += 1
    return num, ok, i


def _int_from_arg(args: list[Any], n: int) -> tuple[int, bool, int]:
    if n < len(args):
        a = args[n]
        ok = isinstance(a, int) and not isinstance(a, bool)
        num = int(a) if ok else 0
        if ok and not (-1_000_000 <= num <= 1_000_000):
            num, ok = 0, False
        return num, ok, n + 1
    return 0, False, n


def sprintf(fmt: str, args: list[Any]) -> str:
    p = _Printer()
    buf = p.buf
    end = len(fmt)
    argn = 0
    after_index = False
    reordered = False
    i = 0
    nargs = len(args)

    def arg_number(argn: int, i: int) -> tuple[int, int, bool, bool]:
        """Returns (argn, i, found, good)."""
        nonlocal reordered
        if i >= end or fmt[i] != "[":
            return argn, i, False, True
        reordered = True
        # parseArgNumber
        if end - i < 3:
            return argn, i + 1, False, False
        for j in range(i + 1, end):
            if fmt[j] == "]":
                width, ok, newi = _parsenum(fmt, i + 1, j)
                if not ok or newi != j:
                    return argn, j + 1, False, False
                index = width - 1
                if 0 <= index < nargs:
                    return index, j + 1, True, True
                return argn, j + 1, True, False
        return argn, i + 1, False, False

    while i < end:
        good = True
        lasti = i
        while i < end and fmt[i] != "%":
            i += 1
        if i > lasti:
            buf.append(fmt[lasti:i])
        if i >= end:
            break
        i += 1
        p.clear_flags()
        simple_done = False
        while i < end:
            c = fmt[i]
            if c == "#":
                p.sharp = True
            elif c == "0":
                p.zero = not p.minus
            elif c == "+":
                p.plus = True
            elif c == "-":
                p.minus = True
                p.zero = False
            elif c == " ":
                p.space = True
            else:
                if "a" <= c <= "z" and argn < nargs:
                    if c == "v":
                        p.sharp_v, p.sharp = p.sharp, False
                        p.plus_v, p.plus = p.plus, False
                    p.print_arg(args[argn], c)
                    argn += 1
                    i += 1
                    simple_done = True
                break
            i += 1
        if simple_done:
            continue
        argn, i, after_index, g = arg_number(argn, i)
        good = good and g
        if i < end and fmt[i] == "*":
            i += 1
            p.wid, p.wid_present, argn = _int_from_arg(args, argn)
            if not p.wid_present:
                buf.append("%!(BADWIDTH)")
            if p.wid < 0:
                p.wid = -p.wid
                p.minus = True
                p.zero = False
            after_index = False
        else:
            p.wid, p.wid_present, i = _parsenum(fmt, i, end)
            if after_index and p.wid_present:
                good = False
        if i + 1 < end and fmt[i] == ".":
            i += 1
            if after_index:
                good = False
            argn, i, after_index, g = arg_number(argn, i)
            good = good and g
            if i < end and fmt[i] == "*":
                i += 1
                p.prec, p.prec_present, argn = _int_from_arg(args, argn)
                if p.prec < 0:
                    p.prec, p.prec_present = 0, False
                if not p.prec_present:
                    buf.append("%!(BADPREC)")
                after_index = False
            else:
                p.prec, p.prec_present, i = _parsenum(fmt, i, end)
                if not p.prec_present:
                    p.prec, p.prec_present = 0, True
        if not after_index:
            argn, i, after_index, g = arg_number(argn, i)
            good = good and g
        if i >= end:
            buf.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            buf.append("%")
        elif not good:
            buf.append(f"%!{verb}(BADINDEX)")
        elif argn >= nargs:
            buf.append(f"%!{verb}(MISSING)")
        else:
            if verb == "v":
                p.sharp_v, p.sharp = p.sharp, False
                p.plus_v, p.plus = p.plus, False
            if verb == "w":
                p.bad_verb(verb, args[argn], True)
            else:
                p.print_arg(args[argn], verb)
            argn += 1
    if not reordered and argn < nargs:
        p.clear_flags()
        buf.append("%!(EXTRA ")
        for j, a in enumerate(args[argn:]):
            if j:
                buf.append(", ")
            if a is None or a is NO_VALUE:
                buf.append("<nil>")
            else:
                buf.append(go_type(a) + "=")
                p.print_arg(a, "v")
        buf.append(")")
    return "".join(buf)
