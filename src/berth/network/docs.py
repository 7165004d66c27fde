"""docker-shaped documents: a network's inspect body and a container's endpoint settings."""

from __future__ import annotations

from berth.timefmt import rfc3339nano

PREDEFINED = ("bridge", "host", "none")
DEFAULT_BRIDGE = "berth0"


def network_doc(net_id: str, name: str, driver: str, ipam_config: list[dict], options: dict,
                labels: dict, internal: bool = False, attachable: bool = False,
                ipam_options: dict | None = None) -> dict:
    return {
        "Name": name, "Id": net_id, "Created": rfc3339nano(), "Scope": "local", "Driver": driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": ipam_options, "Config": ipam_config},
        "Internal": internal, "Attachable": attachable, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Options": options, "Labels": labels,
    }


def default_bridge_options(bridge: str) -> dict:
    return {
        "com.docker.network.bridge.default_bridge": "true",
        "com.docker.network.bridge.enable_icc": "true",
        "com.docker.network.bridge.enable_ip_masquerade": "true",
        "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
        "com.docker.network.bridge.name": bridge,
        "com.docker.network.driver.mtu": "1500",
    }


def bridge_name(doc: dict) -> str:
    return (doc.get("Options") or {}).get("com.docker.network.bridge.name") or "br-" + doc["Id"][:12]


def empty_endpoint(net_id: str = "", ipam: dict | None = None, aliases: list[str] | None = None,
                   links: list[str] | None = None, mac: str = "", driver_opts: dict | None = None) -> dict:
    """An entry of NetworkSettings.Networks before the container runs (or after it stops)."""
    return {
        "IPAMConfig": ipam or None, "Links": links or None, "Aliases": aliases or None,
        "MacAddress": mac, "DriverOpts": driver_opts or None, "NetworkID": net_id, "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }


# What a stop clears (docker keeps SandboxID/SandboxKey of the last run).
TOP_LEVEL_CLEAR = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "",
                   "Bridge": "", "HairpinMode": False,
                   "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
                   "SecondaryIPv6Addresses": None, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                   "IPv6Gateway": ""}


def summary_ports(ns: dict) -> list[dict]:
    """The list entry's Ports: one row per binding, unpublished exposed ports without IP/PublicPort."""
    out = []
    for key, bindings in (ns.get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        if not port.isdigit():
            continue
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
            continue
        for b in bindings:
            out.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": int(port),
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return out


def _port_set(values: list[str]) -> set[str]:
    out = set()
    for v in values:
        port, _, proto = v.partition("/")
        lo, sep, hi = port.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            from berth.errors import InvalidParameter

            raise InvalidParameter(f"invalid port specification: \"{v}\"")
        for n in range(int(lo), int(hi if sep else lo) + 1):
            out.add(f"{n}/{proto or 'tcp'}")
    return out


def container_filter_matches(doc: dict, key: str, values: list[str]) -> bool:
    """docker ps's network=, publish= and expose= filters (container-side ports)."""
    ns = doc.get("NetworkSettings") or {}
    if key == "network":
        nets = ns.get("Networks") or {}
        ids = [es.get("NetworkID") or "" for es in nets.values()]
        return any(v in nets or any(i and i.startswith(v) for i in ids) for v in values)
    if key == "publish":
        published = {k for k, b in (ns.get("Ports") or {}).items() if b}
        return bool(published & _port_set(values))
    if key == "expose":
        return bool(set((doc.get("Config") or {}).get("ExposedPorts") or {}) & _port_set(values))
    return True
