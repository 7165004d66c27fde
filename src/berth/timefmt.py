"""Time in docker's wire formats."""

from __future__ import annotations

import time
from datetime import datetime, timezone

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339nano(ts_ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds with trailing zeros trimmed."""
    if ts_ns is None:
        ts_ns = time.time_ns()
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if nanos:
        return f"{base}.{nanos:09d}".rstrip("0") + "Z"
    return base + "Z"


def parse_rfc3339(text: str) -> float:
    """Unix seconds from an RFC 3339 time with up to nanosecond precision."""
    if text.startswith("0001-01-01"):
        return 0.0
    main, frac = text, ""
    tz = "+00:00"
    if main.endswith("Z"):
        main = main[:-1]
    elif len(main) > 6 and main[-6] in "+-":
        main, tz = main[:-6], main[-6:]
    if "." in main:
        main, frac = main.split(".", 1)
    dt = datetime.fromisoformat(main + tz)
    return dt.timestamp() + (float("0." + frac) if frac else 0.0)


def unix_from_iso(text: str) -> int:
    return int(parse_rfc3339(text))


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
