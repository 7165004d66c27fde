"""Number, size, duration and time parsing/printing the way docker's CLI does it.

Docker's CLI is written in Go, so its accepted inputs and error texts follow Go's
strconv/time packages and the go-units library. Users (and scripts) rely on both
the accepted spellings and the exact error messages, so these functions mirror
that behaviour rather than Python's more liberal parsers (float() accepts " 1",
"inf" and "nan"; Go does not in the same places).
"""

from __future__ import annotations

import time

from berth.humanize import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "UnitError",
    "go_parse_bool",
    "go_parse_int",
    "go_parse_uint",
    "go_parse_float",
    "ram_in_bytes",
    "mem_bytes",
    "mem_swap_bytes",
    "nano_cpus",
    "parse_duration",
    "format_duration",
    "human_duration",
    "human_size",
    "human_size_with_precision",
    "bytes_size",
    "get_timestamp",
]


class UnitError(ValueError):
    """A value that does not parse; str() is the Go-style message docker prints."""


# Regular expressions are compiled on first use, never at import: importing `re`
# and compiling costs milliseconds, and most commands never parse these values.
_PATTERNS = {
    "dec_float": r"[+-]?(?:(?:[0-9](?:_?[0-9])*)(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)"
                 r"(?:[eE][+-]?[0-9](?:_?[0-9])*)?",
    "hex_float": r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*)?[pP][+-]?[0-9]+",
    "rat_dec": r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?",
    "rat_frac": r"([+-]?[0-9]+)/([0-9]+)",
    "timestamp": r"(\d{4})-(\d{2})-(\d{2})"
                 r"(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?"
                 r"(Z|z|[+-]\d{2}:\d{2})?",
}
_compiled: dict = {}


def _rx(name: str) -> Any:
    rx = _compiled.get(name)
    if rx is None:
        import re

        rx = _compiled[name] = re.compile(_PATTERNS[name])
    return rx


_DIGITS = {2: frozenset("01"), 8: frozenset("01234567"), 10: frozenset("0123456789"),
           16: frozenset("0123456789abcdefABCDEF")}
_PREFIXES = {"x": 16, "X": 16, "b": 2, "B": 2, "o": 8, "O": 8}
_SPECIAL_FLOATS = {"inf": float("inf"), "+inf": float("inf"), "-inf": float("-inf"),
                   "infinity": float("inf"), "+infinity": float("inf"),
                   "-infinity": float("-inf"), "nan": float("nan"), "+nan": float("nan"),
                   "-nan": float("nan")}


def go_parse_bool(text: str) -> bool:
    """strconv.ParseBool: only the spellings Go accepts."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise UnitError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _digits_ok(body: str, base: int, need_one: bool) -> bool:
    """(_?d)+ (or (_?d)* unless `need_one`): digits of `base`, each "_" before a digit."""
    if not body:
        return not need_one
    digits = _DIGITS[base]
    prev_underscore = False
    for c in body:
        if c == "_":
            if prev_underscore:
                return False
            prev_underscore = True
        elif c in digits:
            prev_underscore = False
        else:
            return False
    return not prev_underscore


def _go_int_value(text: str) -> int | None:
    r"""Go's integer literal syntax for base 0:
    [+-]?(0[xX](_?[0-9a-fA-F])+|0[bB](_?[01])+|0[oO](_?[0-7])+|0(_?[0-7])*|[1-9](_?[0-9])*)"""
    sign = 1
    body = text
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    if body[0] == "0":
        base = _PREFIXES.get(body[1:2])
        if base is not None:
            digits = body[2:]
            if not _digits_ok(digits, base, True):
                return None
        else:
            base, digits = 8, body[1:]
            if not _digits_ok(digits, 8, False):
                return None
            if not digits:
                return 0
    elif body[0] in "123456789":
        base, digits = 10, body
        if not _digits_ok(body[1:], 10, False):
            return None
    else:
        return None
    return sign * int(digits.replace("_", ""), base)


def go_parse_int(text: str, bits: int = 64) -> int:
    """strconv.ParseInt(text, 0, bits), which pflag uses for int flags (so 0x10 is 16)."""
    value = _go_int_value(text)
    if value is None:
        raise UnitError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    limit = 1 << (bits - 1)
    if not -limit <= value < limit:
        raise UnitError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def go_parse_uint(text: str, bits: int = 64) -> int:
    """strconv.ParseUint(text, 0, bits)."""
    value = _go_int_value(text) if not text.startswith(("-", "+")) else None
    if value is None:
        raise UnitError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    if value >= 1 << bits:
        raise UnitError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def go_parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64) with Go's syntax and error texts."""
    special = _SPECIAL_FLOATS.get(text.lower())
    if special is not None:
        return special
    if _rx("dec_float").fullmatch(text) and any(c.isdigit() for c in text):
        value = float(text.replace("_", ""))
    elif _rx("hex_float").fullmatch(text):
        value = float.fromhex(text.replace("_", ""))
    else:
        raise UnitError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if value in (float("inf"), float("-inf")):
        raise UnitError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


def _go_int64(value: float) -> int:
    """Go's int64(float64) conversion on amd64: out-of-range values become MinInt64."""
    if value != value or not -(2**63) <= value < 2**63:
        return -(2**63)
    return int(value)


_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def _parse_size(text: str, unit_map: dict[str, int]) -> int:
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep == -1:
        raise UnitError(f"invalid size: '{text}'")
    if text[sep] != " ":
        num, sfx = text[: sep + 1], text[sep + 1:]
    else:
        num, sfx = text[:sep], text[sep + 1:]
    size = go_parse_float(num)
    if size < 0:
        raise UnitError(f"invalid size: '{text}'")
    if not sfx:
        return _go_int64(size)
    bad = UnitError(f"invalid suffix: '{sfx}'")
    if len(sfx) > 3:
        raise bad
    low = sfx.lower()
    if low[0] == "b":
        if len(low) > 1:
            raise bad
        return _go_int64(size)
    mul = unit_map.get(low[0])
    if mul is None:
        raise bad
    if (len(low) == 2 and low[1] != "b") or (len(low) == 3 and low[1:] != "ib"):
        raise bad
    return _go_int64(size * mul)


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: binary multiples (1k = 1024), as `-m 64m` means to docker."""
    return _parse_size(text, _BINARY)


def from_human_size(text: str) -> int:
    """go-units FromHumanSize: decimal multiples (1k = 1000)."""
    return _parse_size(text, _DECIMAL)


def mem_bytes(text: str) -> int:
    """docker's MemBytes flag type (-m, --memory-reservation, --shm-size)."""
    return ram_in_bytes(text)


def mem_swap_bytes(text: str) -> int:
    """docker's MemSwapBytes: like MemBytes but "-1" means unlimited swap."""
    if text == "-1":
        return -1
    return ram_in_bytes(text)


def nano_cpus(text: str) -> int:
    """docker's NanoCPUs flag type: a rational number of CPUs times 1e9, exactly.

    Go parses it with big.Rat, so "1.5", "3/2" and "15e-1" are all fine but
    anything that does not come out as whole nanoCPUs is "too precise".
    """
    num: int
    den: int
    m = _rx("rat_frac").fullmatch(text)
    if m:
        num, den = int(m.group(1)), int(m.group(2))
        if den == 0:
            raise UnitError(f"failed to parse {text} as a rational number")
    else:
        m = _rx("rat_dec").fullmatch(text)
        if not m or not (m.group(2) or m.group(3)):
            raise UnitError(f"failed to parse {text} as a rational number")
        sign, whole, frac, exp = m.group(1), m.group(2), m.group(3) or "", m.group(4)
        num = int((whole or "0") + frac)
        den = 10 ** len(frac)
        if exp:
            e = int(exp)
            if e >= 0:
                num *= 10**e
            else:
                den *= 10 ** (-e)
        if sign == "-":
            num = -num
    scaled = num * 1_000_000_000
    if scaled % den:
        raise UnitError("value is too precise")
    return scaled // den


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_NUMBER_CHARS = frozenset("0123456789")


def _duration_part(text: str) -> tuple[str, str, int]:
    r"""([0-9]*(?:\.[0-9]*)?)([^0-9.]*) at the start of `text`: (number, unit, end)."""
    n = len(text)
    i = 0
    while i < n and text[i] in _NUMBER_CHARS:
        i += 1
    if i < n and text[i] == ".":
        i += 1
        while i < n and text[i] in _NUMBER_CHARS:
            i += 1
    j = i
    while j < n and text[j] not in _NUMBER_CHARS and text[j] != ".":
        j += 1
    return text[:i], text[i:j], j


def parse_duration(text: str) -> int:
    """time.ParseDuration: "1h30m", "1.5s", "300ms" → nanoseconds."""
    orig = text
    if text in ("0", "+0", "-0"):
        return 0
    if not text:
        raise UnitError(f'time: invalid duration "{orig}"')
    neg = False
    if text[0] in "+-":
        neg = text[0] == "-"
        text = text[1:]
    if not text:
        raise UnitError(f'time: invalid duration "{orig}"')
    total = 0.0
    while text:
        num, unit, end = _duration_part(text)
        if not num or num == "." or not any(c.isdigit() for c in num):
            raise UnitError(f'time: invalid duration "{orig}"')
        if not unit:
            raise UnitError(f'time: missing unit in duration "{orig}"')
        # the unit runs until the next digit or dot
        if unit not in _DURATION_UNITS:
            raise UnitError(f'time: unknown unit "{unit}" in duration "{orig}"')
        total += float(num) * _DURATION_UNITS[unit]
        text = text[end:]
    if total > 2**63 - 1:
        raise UnitError(f'time: invalid duration "{orig}"')
    value = int(round(total))
    return -value if neg else value


def format_duration(ns: int) -> str:
    """time.Duration.String() for the common cases docker prints (e.g. "0s", "1m30s")."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns / 1_000)}\u00b5s"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns / 1_000_000)}ms"
    hours, rem = divmod(ns, 3600 * 1_000_000_000)
    minutes, rem = divmod(rem, 60 * 1_000_000_000)
    secs = _trim(rem / 1_000_000_000)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{secs}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


_DECIMAL_ABBRS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_ABBRS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scale(size: float, base: float, abbrs: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(abbrs) - 1:
        size /= base
        i += 1
    return size, abbrs[i]


def _go_g(value: float, precision: int) -> str:
    return f"{value:.{precision}g}"


def human_size_with_precision(size: float, precision: int) -> str:
    """go-units HumanSizeWithPrecision: decimal units, e.g. "4.26MB"."""
    value, unit = _scale(float(size), 1000.0, _DECIMAL_ABBRS)
    return _go_g(value, precision) + unit


def human_size(size: float) -> str:
    """go-units HumanSize (precision 4), e.g. "0B" in "Total reclaimed space: 0B"."""
    return human_size_with_precision(size, 4)


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, e.g. "3.725GiB" in `info`."""
    value, unit = _scale(float(size), 1024.0, _BINARY_ABBRS)
    return _go_g(value, 4) + unit


# --- timestamps for logs --since/--until and prune filters -------------------------

def get_timestamp(value: str, now: float | None = None) -> str:
    """docker's timetypes.GetTimestamp: the value the API expects for since/until.

    Accepts Go durations relative to now ("10m" → unix seconds 10 minutes ago),
    RFC 3339 dates/times (local time when no zone is given) and unix timestamps
    ("1700000000" or "1700000000.123456789"), which pass through unchanged.
    """
    if now is None:
        now = time.time()
    if value != "0":
        try:
            ns = parse_duration(value)
        except UnitError:
            pass
        else:
            return str(int((now * 1e9 - ns) // 1_000_000_000))
    m = _rx("timestamp").fullmatch(value)
    if m:
        year, month, day, hh, mm, ss, frac, zone = m.groups()
        import calendar

        fields = (int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0))
        import calendar as _cal

        for name, val, lo, hi in (("month", fields[1], 1, 12), ("hour", fields[3], 0, 23),
                                  ("minute", fields[4], 0, 59), ("second", fields[5], 0, 59)):
            if not lo <= val <= hi:
                raise UnitError(f'parsing time "{value}": {name} out of range')
        if not 1 <= fields[2] <= _cal.monthrange(fields[0], fields[1])[1]:
            raise UnitError(f'parsing time "{value}": day out of range')
        if zone is None:
            secs = int(time.mktime(fields + (0, 0, -1)))
        else:
            secs = calendar.timegm(fields + (0, 0, 0))
            if zone not in ("Z", "z"):
                off = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
                secs -= off if zone[0] == "+" else -off
        nanos = int((frac or ".0")[1:].ljust(9, "0"))
        return f"{secs}.{nanos:09d}"
    if "-" in value:
        raise UnitError(f'parsing time "{value}": cannot parse "{value}" as "2006-01-02"')
    sec, _, frac = value.partition(".")
    if not sec.isdigit() or (frac and not frac.isdigit()):
        raise UnitError(f'failed to parse value as time or duration: "{value}"')
    return value
