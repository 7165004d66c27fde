"""Compose's short syntaxes expanded to their long forms: ports, volumes, durations,
sizes and the loose booleans/integers interpolation leaves behind as strings."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ComposeError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}


def duration_ns(value: Any, where: str) -> int:
    """Go's time.ParseDuration ('1m30s', '500ms'); a bare number means seconds."""
    if isinstance(value, bool):
        raise ComposeError(f"{where}: invalid duration {value!r}")
    if isinstance(value, (int, float)):
        return int(value * 1_000_000_000)
    text = str(value).strip()
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ComposeError(f'{where}: time: invalid duration "{text}"')
    return int(total)


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)?$", re.I)


def size_bytes(value: Any, where: str) -> int:
    """docker's RAMInBytes: `512m`, `1g`, `100k`, `1.5GB` (binary multiples)."""
    if isinstance(value, bool):
        raise ComposeError(f"{where}: invalid size {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    m = _SIZE.match(str(value).strip())
    if not m:
        raise ComposeError(f"{where}: invalid size: '{value}'")
    mult = 1024 ** "bkmgtpe".index(m.group(2).lower() or "b")
    return int(float(m.group(1)) * mult)


_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def to_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ComposeError(f"{where}: invalid boolean: {value}")


def to_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ComposeError(f"{where}: invalid integer {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ComposeError(f'{where}: strconv.Atoi: parsing "{value}": invalid syntax') from None


def _port_range(text: str, where: str) -> tuple[int, int]:
    lo, dash, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if dash else a
    except ValueError:
        raise ComposeError(f"{where}: invalid port {text!r}") from None
    if not (0 <= a <= 65535 and 0 <= b <= 65535) or b < a:
        raise ComposeError(f"{where}: invalid port range {text!r}")
    return a, b


def parse_port(spec: Any, where: str) -> list[dict]:
    """`[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]` or a long-form mapping → long forms."""
    if isinstance(spec, dict):
        out = {"mode": spec.get("mode", "ingress")}
        if spec.get("host_ip"):
            out["host_ip"] = spec["host_ip"]
        if spec.get("target") is None:
            raise ComposeError(f"{where}: port target is required")
        out["target"] = to_int(spec["target"], where)
        if spec.get("published") not in (None, ""):
            out["published"] = str(spec["published"])
        out["protocol"] = spec.get("protocol", "tcp")
        for k in ("name", "app_protocol"):
            if spec.get(k):
                out[k] = spec[k]
        return [out]
    text = str(spec)
    proto = "tcp"
    if "/" in text:
        text, _, proto = text.rpartition("/")
    host_ip = ""
    if text.startswith("["):
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2:]
        published, _, container = text.rpartition(":")
    else:
        parts = text.split(":")
        if len(parts) == 1:
            published, container = "", parts[0]
        elif len(parts) == 2:
            published, container = parts
        elif len(parts) == 3:
            host_ip, published, container = parts
        else:
            raise ComposeError(f"{where}: invalid port specification: {spec!r}")
    c_lo, c_hi = _port_range(container, where)
    count = c_hi - c_lo + 1
    pubs: list[str] = [""] * count
    if published:
        p_lo, p_hi = _port_range(published, where)
        if p_hi - p_lo + 1 == count:
            pubs = [str(p_lo + i) for i in range(count)]
        elif count == 1:
            pubs = [published]
        else:
            raise ComposeError(f"{where}: invalid port range: {published!r} does not match {container!r}")
    out_list = []
    for i in range(count):
        entry: dict = {"mode": "ingress"}
        if host_ip:
            entry["host_ip"] = host_ip
        entry["target"] = c_lo + i
        if pubs[i]:
            entry["published"] = pubs[i]
        entry["protocol"] = proto
        out_list.append(entry)
    return out_list


_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


def parse_volume(spec: Any, where: str) -> dict:
    """Short `SRC:DST[:MODE]` (paths already absolute when they are binds), `DST` (anonymous)
    or a long mapping → the long form."""
    if isinstance(spec, dict):
        out = dict(spec)
        if not out.get("target"):
            raise ComposeError(f"{where}: volume target is required")
        if out.get("type") == "bind":
            out.setdefault("bind", {}).setdefault("create_host_path", True)
        if out.get("type") == "volume" and out.get("source"):
            out.setdefault("volume", {})
        if "read_only" in out:
            out["read_only"] = to_bool(out["read_only"], where)
        return out
    text = str(spec)
    parts = text.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    if len(parts) > 3:
        raise ComposeError(f"{where}: invalid volume specification: '{text}'")
    src, dst = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    if not dst:
        raise ComposeError(f"{where}: invalid volume specification: '{text}': empty target")
    if src.startswith("/"):
        out = {"type": "bind", "source": src, "target": dst}
    else:
        out = {"type": "volume", "source": src, "target": dst}
    for mode in modes:
        if mode == "ro":
            out["read_only"] = True
        elif mode == "rw":
            out["read_only"] = False
        elif mode in ("z", "Z"):
            out.setdefault("bind", {})["selinux"] = mode
        elif mode == "nocopy":
            out.setdefault("volume", {})["nocopy"] = True
        elif mode in _PROPAGATION:
            out.setdefault("bind", {})["propagation"] = mode
        else:
            raise ComposeError(f"{where}: invalid volume specification: '{text}': unknown option {mode!r}")
    if out["type"] == "bind":
        out.setdefault("bind", {})["create_host_path"] = True
    else:
        out.setdefault("volume", {})
    return out
