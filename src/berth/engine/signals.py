"""Signal names as docker accepts them: SIGTERM, TERM, term, 15."""

from __future__ import annotations

import signal

from berth.errors import InvalidParameter


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, int):
        sig = value
    elif value.isdigit():
        sig = int(value)
    else:
        name = value.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        try:
            sig = int(signal.Signals[name])
        except KeyError:
            if name.startswith("SIGRTMIN+") and name[9:].isdigit():
                sig = int(signal.SIGRTMIN) + int(name[9:])
            else:
                raise InvalidParameter(f"Invalid signal: {value}") from None
    if sig <= 0 or sig > 64:
        raise InvalidParameter(f"Invalid signal: {value}")
    return sig
