"""IPv4 address management: pools, gateways, free-address picking, docker's words.

Pure logic: the store decides durability and uniqueness (one transaction, a
UNIQUE index); this module decides which address is next and whether a
configuration is acceptable, with the error texts docker's libnetwork uses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

from berth.errors import Conflict, Forbidden, InvalidParameter

# docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
DEFAULT_POOLS = [ipaddress.IPv4Network(f"172.{n}.0.0/16") for n in range(17, 32)] + \
                [ipaddress.IPv4Network(f"192.168.{n}.0/20") for n in range(0, 256, 16)]


@dataclass
class Pool:
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    ip_range: ipaddress.IPv4Network | None = None
    gateway_given: bool = True

    def config(self) -> dict:
        """The IPAM.Config entry inspect shows: what was asked (docker omits an unset IPRange,
        and the gateway of a user subnet given without one)."""
        out = {"Subnet": str(self.subnet)}
        if self.ip_range is not None:
            out["IPRange"] = str(self.ip_range)
        if self.gateway_given:
            out["Gateway"] = str(self.gateway)
        return out

    @classmethod
    def from_config(cls, cfg: dict) -> "Pool":
        rng = cfg.get("IPRange")
        subnet = ipaddress.IPv4Network(cfg["Subnet"])
        gateway = ipaddress.IPv4Address(cfg["Gateway"]) if cfg.get("Gateway") else subnet.network_address + 1
        return cls(subnet, gateway, ipaddress.IPv4Network(rng) if rng else None, bool(cfg.get("Gateway")))


def parse_cidr(text: str, what: str = "subnet") -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"Invalid {what} {text} : invalid CIDR address: {text}") from None
    if net.version != 4:
        raise InvalidParameter(f"invalid pool request: IPv6 subnet {text} needs EnableIPv6, "
                               "which Berth does not support")
    return net


def parse_ip(text: str, what: str = "address") -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text.split("/")[0])
    except ValueError:
        raise InvalidParameter(f"invalid {what}: {text}") from None


def pool_from_request(cfg: dict) -> Pool:
    """One IPAM.Config entry of a create request, checked as libnetwork does."""
    if not cfg.get("Subnet"):
        if cfg.get("IPRange") or cfg.get("Gateway"):
            raise InvalidParameter("invalid pool request: IPRange/Gateway given without a Subnet")
        raise InvalidParameter("invalid pool request: a Subnet is required")
    subnet = parse_cidr(cfg["Subnet"])
    if subnet.prefixlen > 30:
        raise InvalidParameter(f"invalid subnet {cfg['Subnet']}: prefix length must be at most 30")
    ip_range = None
    if cfg.get("IPRange"):
        ip_range = parse_cidr(cfg["IPRange"], "range")
        if not ip_range.subnet_of(subnet):
            raise InvalidParameter(f"invalid pool request: IPRange {cfg['IPRange']} is not within "
                                   f"Subnet {cfg['Subnet']}")
    if cfg.get("Gateway"):
        gateway = parse_ip(cfg["Gateway"], "gateway address")
        if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
            raise InvalidParameter(f"invalid pool request: Gateway {cfg['Gateway']} is not a host "
                                   f"address of Subnet {cfg['Subnet']}")
    else:
        gateway = subnet.network_address + 1
    return Pool(subnet, gateway, ip_range, bool(cfg.get("Gateway")))


def check_overlap(subnet: ipaddress.IPv4Network, taken: Iterable[ipaddress.IPv4Network]) -> None:
    for other in taken:
        if subnet.overlaps(other):
            raise Forbidden("Pool overlaps with other one on this address space")


def default_pool(taken: list[ipaddress.IPv4Network]) -> Pool:
    """The first of docker's default pools no network uses yet."""
    for net in DEFAULT_POOLS:
        if not any(net.overlaps(t) for t in taken):
            return Pool(net, net.network_address + 1)
    raise Conflict("could not find an available, non-overlapping IPv4 address pool among the "
                   "defaults to assign to the network")


def pick_address(pool: Pool, used: set[str]) -> ipaddress.IPv4Address | None:
    """The lowest free host address of the range (the gateway and `used` excluded)."""
    rng = pool.ip_range or pool.subnet
    first = int(rng.network_address)
    last = int(rng.broadcast_address)
    if rng.prefixlen < 31:
        first += 1
        last -= 1
    # The subnet's own network/broadcast addresses are never handed out either.
    first = max(first, int(pool.subnet.network_address) + 1)
    last = min(last, int(pool.subnet.broadcast_address) - 1)
    gw = int(pool.gateway)
    for n in range(first, last + 1):
        if n == gw:
            continue
        addr = ipaddress.IPv4Address(n)
        if str(addr) not in used:
            return addr
    return None


def check_static(pool: Pool, text: str) -> ipaddress.IPv4Address:
    addr = parse_ip(text, "IPv4 address")
    if addr not in pool.subnet or addr in (pool.subnet.network_address, pool.subnet.broadcast_address):
        raise InvalidParameter(f"no configured subnet or ip-range contain the IP address {text}")
    if addr == pool.gateway:
        raise Conflict(f"Address already in use: {text}")
    return addr


def mac_from_ip(addr: ipaddress.IPv4Address) -> str:
    """docker's 02:42 + the four bytes of the address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)


def check_mac(text: str) -> str:
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise InvalidParameter(f"invalid MAC address: {text}")
    return text.lower()
