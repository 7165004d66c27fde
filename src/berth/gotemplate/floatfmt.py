"""strconv.FormatFloat: Go's float-to-text conversions for %e %f %g %x and JSON.

Go and Python agree on the shortest round-trip digits and on correct rounding, but
not on layout (Go's %v switches to exponent form at 1e+06, pads exponents to two
digits, writes hex floats as 0x1.cp+01), so the layout is done here from digits.
"""

from __future__ import annotations

import math


def format_float(v: float, fmt: str, prec: int) -> str:
    """strconv.FormatFloat(v, fmt, prec, 64) for fmt in e E f F g G x X b."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    neg = math.copysign(1.0, v) < 0
    a = -v if neg else v
    if fmt in "xX":
        return ("-" if neg else "") + _fmt_x(a, prec, fmt)
    if fmt == "b":
        m, e = math.frexp(a)
        mant = int(m * (1 << 53))
        return ("-" if neg else "") + f"{mant}p{e - 53:+d}" if a else ("-" if neg else "") + "0p-1074"
    shortest = prec < 0
    if fmt in "eEgG":
        if shortest:
            digits, dp = _shortest_digits(a)
        else:
            p = prec + 1 if fmt in "eE" else max(prec, 1)
            digits, dp = _rounded_digits(a, p)
    else:  # f F
        if shortest:
            digits, dp = _shortest_digits(a)
        else:
            s = f"{a:.{prec}f}"
            ip, _, fp = s.partition(".")
            digits = (ip + fp).lstrip("0")
            dp = len(ip) - (len(ip + fp) - len((ip + fp).lstrip("0")))
            if not digits:
                digits, dp = "", 0
            out = s
            return ("-" if neg else "") + out
    sign = "-" if neg else ""
    if fmt in "eE":
        p = len(digits) - 1 if shortest else prec
        return sign + _fmt_e(digits, dp, p, fmt)
    if fmt in "fF":
        p = max(len(digits) - dp, 0) if shortest else prec
        return sign + _fmt_f(digits, dp, p)
    # g G
    eprec = prec if not shortest else len(digits)
    if shortest:
        eprec = 6
    else:
        if eprec == 0:
            eprec = 1
        if eprec > len(digits) and len(digits) >= dp:
            eprec = len(digits)
    exp = dp - 1  # -1 for zero, as in Go
    if exp < -4 or exp >= eprec:
        p = len(digits) if shortest else min(prec if prec > 0 else 1, len(digits))
        return sign + _fmt_e(digits, dp, max(p - 1, 0), "e" if fmt == "g" else "E")
    p = len(digits) if shortest else (prec if prec > 0 else 1)
    if p > dp:
        p = len(digits)
    return sign + _fmt_f(digits, dp, max(p - dp, 0))


def _fmt_x(a: float, prec: int, fmt: str) -> str:
    """%x for floats: 0x1.8p+01 (mantissa normalised to 1.x, exponent at least 2 digits)."""
    if a == 0:
        mant, exp = 0, 0
    else:
        m, e = math.frexp(a)  # a = m * 2**e, 0.5 <= m < 1
        mant = int(m * (1 << 53))  # 53 significant bits
        exp = e - 1
    # mant has the leading 1 at bit 52; fraction is the low 52 bits = 13 hex digits
    frac = mant & ((1 << 52) - 1)
    lead = mant >> 52
    digits = f"{frac:013x}"
    if prec >= 0:
        if prec < 13:
            shift = (13 - prec) * 4
            full = (lead << 52) | frac
            q, r = divmod(full, 1 << shift)
            half = 1 << (shift - 1)
            if r > half or (r == half and q & 1):
                q += 1
            full = q << shift
            if full >> 53:
                full >>= 1
                exp += 1
            lead = full >> 52
            frac = full & ((1 << 52) - 1)
            digits = f"{frac:013x}"[:prec]
        else:
            digits = digits + "0" * (prec - 13)
    else:
        digits = digits.rstrip("0")
    s = "0x" + str(lead) + ("." + digits if digits else "") + "p" + f"{exp:+03d}"
    return s.upper() if fmt == "X" else s


def _shortest_digits(a: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits and decimal-point position (0.ddd x 10^dp)."""
    if a == 0:
        return "", 0
    r = repr(a)
    mant, _, ex = r.partition("e")
    e = int(ex) if ex else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = ip + fp
    dp = len(ip) + e
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    return digits, dp


def _rounded_digits(a: float, n: int) -> tuple[str, int]:
    """`n` significant digits, correctly rounded, trailing zeros removed."""
    if a == 0:
        return "", 0
    s = f"{a:.{n - 1}e}"
    mant, _, ex = s.partition("e")
    digits = mant.replace(".", "").rstrip("0")
    return digits, int(ex) + 1


def _fmt_e(digits: str, dp: int, prec: int, fmt: str) -> str:
    first = digits[0] if digits else "0"
    out = first
    if prec > 0:
        rest = digits[1:prec + 1]
        out += "." + rest + "0" * (prec - len(rest))
    exp = 0 if not digits else dp - 1
    es = "+" if exp >= 0 else "-"
    exp = abs(exp)
    return out + fmt + es + (f"{exp:02d}")


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    if dp > 0:
        ip = digits[:dp] + "0" * max(dp - len(digits), 0)
    else:
        ip = "0"
    out = ip
    if prec > 0:
        frac = []
        for i in range(prec):
            j = dp + i
            frac.append(digits[j] if 0 <= j < len(digits) else "0")
        out += "." + "".join(frac)
    return out
