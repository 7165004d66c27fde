"""Published ports: HostConfig.PortBindings / -P checked and turned into mappings,
and the daemon-wide host port allocator (docker's rules and words)."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from berth.errors import Conflict, InvalidParameter

EPHEMERAL = (32768, 60999)   # docker's default range for random host ports


@dataclass
class Mapping:
    proto: str
    container_port: int
    host_ip: str            # as asked ('' = every address)
    host_port: int          # 0 until allocated
    host_range: tuple[int, int] | None = None

    def binding(self) -> dict:
        return {"HostIp": self.host_ip or "0.0.0.0", "HostPort": str(self.host_port)}

    def to_doc(self) -> dict:
        return {"proto": self.proto, "cport": self.container_port, "hip": self.host_ip, "hport": self.host_port}

    @classmethod
    def from_doc(cls, d: dict) -> "Mapping":
        return cls(d["proto"], d["cport"], d["hip"], d["hport"])


def split_port(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidParameter(f"invalid port specification: {key!r}".replace("'", '"'))
    try:
        n = int(port)
    except ValueError:
        raise InvalidParameter(f'invalid port specification: "{port}"') from None
    if not 0 < n < 65536:
        raise InvalidParameter(f'invalid port specification: "{port}"')
    return n, proto


def _host_port(text: str) -> tuple[int, tuple[int, int] | None]:
    if not text:
        return 0, None
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if sep else a
    except ValueError:
        raise InvalidParameter(f'invalid port specification: "{text}"') from None
    if not (0 <= a < 65536 and 0 <= b < 65536) or b < a:
        raise InvalidParameter(f'invalid port specification: "{text}"')
    if sep and a != b:
        return 0, (a, b)
    return a, None


def validate(host_config: dict) -> None:
    """docker's create-time checks of PortBindings."""
    for key, bindings in (host_config.get("PortBindings") or {}).items():
        split_port(key)
        for b in bindings or []:
            _host_port(str((b or {}).get("HostPort") or ""))
            hip = (b or {}).get("HostIp") or ""
            if hip:
                try:
                    ipaddress.ip_address(hip)
                except ValueError:
                    raise InvalidParameter(f"invalid IP address: {hip}") from None
                if ":" in hip:
                    raise InvalidParameter(f"invalid host IP {hip}: Berth publishes ports on IPv4 only")
            if split_port(key)[1] == "sctp":
                raise InvalidParameter("publishing sctp ports is not supported by Berth")


def mappings(config: dict, host_config: dict) -> list[Mapping]:
    out: list[Mapping] = []
    bound = host_config.get("PortBindings") or {}
    for key, bindings in bound.items():
        port, proto = split_port(key)
        for b in bindings or [{}]:
            b = b or {}
            hport, hrange = _host_port(str(b.get("HostPort") or ""))
            out.append(Mapping(proto, port, b.get("HostIp") or "", hport, hrange))
    if host_config.get("PublishAllPorts"):
        for key in sorted((config.get("ExposedPorts") or {}), key=lambda k: split_port(k)):
            if key in bound:
                continue
            port, proto = split_port(key)
            out.append(Mapping(proto, port, "", 0))
    return out


class PortAllocator:
    """Host ports in use, per protocol and address (0.0.0.0 collides with every address)."""

    def __init__(self) -> None:
        self.used: dict[tuple[str, int], set[str]] = {}

    def _free(self, proto: str, ip: str, port: int) -> bool:
        holders = self.used.get((proto, port), set())
        if not holders:
            return True
        return ip != "0.0.0.0" and "0.0.0.0" not in holders and ip not in holders

    def take(self, m: Mapping) -> None:
        ip = m.host_ip or "0.0.0.0"
        if m.host_port:
            if not self._free(m.proto, ip, m.host_port):
                raise Conflict(f"Bind for {ip}:{m.host_port} failed: port is already allocated")
        else:
            lo, hi = m.host_range or EPHEMERAL
            candidates = list(range(lo, hi + 1))
            if m.host_range is None:
                start = random.randrange(len(candidates))
                candidates = candidates[start:] + candidates[:start]
            port = next((p for p in candidates if self._free(m.proto, ip, p)), None)
            if port is None:
                raise Conflict(f"Bind for {ip}:{lo}-{hi} failed: port is already allocated"
                               if m.host_range else "all ports are allocated")
            m.host_port = port
        self.used.setdefault((m.proto, m.host_port), set()).add(ip)

    def release(self, m: Mapping) -> None:
        holders = self.used.get((m.proto, m.host_port))
        if holders is not None:
            holders.discard(m.host_ip or "0.0.0.0")
            if not holders:
                del self.used[(m.proto, m.host_port)]
