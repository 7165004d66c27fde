"""Small display helpers shared by list commands, each matching a docker formatter rule."""

from __future__ import annotations

import time

from berth.humanize import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def truncate_id(value: str) -> str:
    """docker's TruncateID: drop an "algo:" prefix, keep 12 characters."""
    if ":" in value:
        value = value.split(":", 1)[1]
    return value[:12]


def _rune_width(ch: str) -> int:
    if ch.isascii():
        return 1
    import unicodedata

    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def ellipsis(text: str, max_width: int) -> str:
    """Shorten to `max_width` display columns, ending with "…" when cut (docker's Ellipsis)."""
    if max_width <= 0:
        return ""
    if max_width == 1:
        return text[:1]
    if text.isascii():
        if len(text) <= max_width:
            return text
        return text[: max_width - 1] + "\u2026"
    widths = [_rune_width(c) for c in text]
    if sum(widths) <= max_width:
        return text
    out = []
    used = 0
    for ch, w in zip(text, widths):
        if used + w > max_width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "\u2026"


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """strconv.Quote: double-quoted with Go escapes (used for ps's COMMAND column)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # nothing to escape (the usual command line)
    out = ['"']
    for ch in text:
        esc = _GO_ESCAPES.get(ch)
        if esc:
            out.append(esc)
        elif ch.isascii():
            if ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\x{ord(ch):02x}")
            else:
                out.append(ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_time_string(unix: float) -> str:
    """time.Unix(x, 0).String() in local time: "2006-01-02 15:04:05 -0700 MST"."""
    t = time.localtime(int(unix))
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", t) + (time.strftime("%Z", t) or "")


def go_rfc3339(unix: float) -> str:
    """time.Unix(x, 0).Format(time.RFC3339) in local time ("Z" for UTC)."""
    t = time.localtime(int(unix))
    off = time.strftime("%z", t)
    zone = "Z" if off in ("+0000", "-0000") else f"{off[:3]}:{off[3:]}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + zone


def since(unix: float, now: float | None = None) -> str:
    """"2 hours ago" from a unix time (docker computes this on the client)."""
    if now is None:
        now = time.time()
    return human_duration(now - unix) + " ago"


def join_host_port(host: str, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """docker ps's PORTS column: consecutive ports grouped into ranges, mappings last.

    "0.0.0.0:8080->80/tcp, 443-444/tcp" — ports exposed without a host binding
    are grouped per protocol; bindings where host and container ports match are
    grouped per IP; other bindings are listed one by one at the end.
    """
    def key(p: dict[str, Any]) -> tuple:
        return (int(p.get("PrivatePort") or 0), p.get("IP") or "", int(p.get("PublicPort") or 0), p.get("Type") or "")

    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    mappings: list[str] = []
    for p in sorted(ports or [], key=key):
        current = int(p.get("PrivatePort") or 0)
        ptype = p.get("Type") or ""
        ip = p.get("IP") or ""
        public = int(p.get("PublicPort") or 0)
        port_key = ptype
        if ip:
            if public != current:
                mappings.append(f"{join_host_port(ip, public)}->{current}/{ptype}")
                continue
            port_key = f"{ip}/{ptype}"
        group = groups.get(port_key)
        if group is None:
            groups[port_key] = [current, current]
            order.append(port_key)
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_form_group(port_key, group[0], group[1]))
        groups[port_key] = [current, current]
    for k in order:
        g = groups[k]
        result.append(_form_group(k, g[0], g[1]))
    result.extend(mappings)
    return ", ".join(result)


def _form_group(key: str, first: int, last: int) -> str:
    parts = key.split("/")
    ptype = parts[0]
    ip = ""
    if len(parts) > 1:
        ip = parts[0]
        ptype = parts[1]
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{join_host_port(ip, group)}->{group}"
    return f"{group}/{ptype}"
