"""The embedded DNS's NameResolver over the live endpoints.

A container resolves the names of every endpoint on the user-defined networks
it is itself on: container names, short ids, --network-alias aliases and the
compose service label; `name.network` works too. The DNS server rotates the
answers (round robin).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LiveEndpoint:
    container_id: str
    ip: str
    names: list[str]          # lower-case; the first is the container's name


@dataclass
class LiveNetwork:
    name: str
    embedded_dns: bool        # user-defined networks only
    endpoints: dict[str, LiveEndpoint] = field(default_factory=dict)   # endpoint id -> endpoint


class EndpointResolver:
    """Implements berth.network.dns.NameResolver; called on the event loop, so plain dict walks."""

    def __init__(self) -> None:
        self.networks: dict[str, LiveNetwork] = {}

    def _mine(self, cid: str) -> list[LiveNetwork]:
        return [n for n in self.networks.values()
                if n.embedded_dns and any(e.container_id == cid for e in n.endpoints.values())]

    def lookup(self, container_id: str, name: str, qtype: str) -> list[str] | None:
        found: list[str] = []
        for net in self._mine(container_id):
            wanted = name
            suffix = "." + net.name.lower()
            if name.endswith(suffix):
                wanted = name[: -len(suffix)]
            for ep in net.endpoints.values():
                if wanted in ep.names and ep.ip not in found:
                    found.append(ep.ip)
        if not found:
            return None
        return found if qtype == "A" else []

    def reverse(self, container_id: str, ip: str) -> str | None:
        for net in self._mine(container_id):
            for ep in net.endpoints.values():
                if ep.ip == ip and ep.names:
                    return f"{ep.names[0]}.{net.name}"
        return None
