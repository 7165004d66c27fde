"""Network verbs of the API: list, inspect, create, remove, prune, connect, disconnect.

A mixin of engine.networking.NetworkService (which holds the state); the checks
and words are docker's (libnetwork / daemon), so clients and scripts that
match on them keep working.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from berth.engine.filters import name_matches
from berth.errors import Conflict, Forbidden, InvalidParameter, NotFound
from berth.network import etc_files, ipam
from berth.network.docs import PREDEFINED, bridge_name, network_doc
from berth.network.resolver import LiveNetwork

LIST_FILTERS = ("driver", "id", "label", "name", "scope", "type", "dangling")
KNOWN_OPTIONS = ("com.docker.network.bridge.name", "com.docker.network.driver.mtu",
                 "com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade",
                 "com.docker.network.bridge.host_binding_ipv4", "com.docker.network.bridge.default_bridge")


def _labels_match(labels: dict, wanted: list[str]) -> bool:
    for w in wanted:
        key, sep, value = w.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _hosts_edit(state_dir: str, add: str = "", drop: str = "") -> None:
    """/etc/hosts of a running container, edited in place (it is bind-mounted), as docker does
    on connect/disconnect."""
    path = os.path.join(state_dir, "hosts")
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return
    if drop:
        lines = [line for line in lines if line.split("\t", 1)[0] != drop]
    if add:
        lines.append(add)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _check_options(options: dict[str, str]) -> None:
    """The bridge driver's options Berth implements; the others refused rather than ignored."""
    for key in ("com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade"):
        if options.get(key, "true").lower() not in ("true", "false", "1", "0"):
            raise InvalidParameter(f"invalid value for {key}: {options[key]!r}")
    if options.get("com.docker.network.bridge.enable_icc", "true").lower() in ("false", "0"):
        raise InvalidParameter("com.docker.network.bridge.enable_icc=false is not supported by Berth "
                               "(it needs br_netfilter on the host)")
    if "com.docker.network.bridge.default_bridge" in options:
        raise InvalidParameter("com.docker.network.bridge.default_bridge is reserved for the default network")
    mtu = options.get("com.docker.network.driver.mtu")
    if mtu is not None and (not mtu.isdigit() or not 68 <= int(mtu) <= 65535):
        raise InvalidParameter(f"invalid MTU number: {mtu}")
    hip = options.get("com.docker.network.bridge.host_binding_ipv4")
    if hip is not None:
        ipam.parse_ip(hip, "host binding address")


class NetworkAdmin:
    """Needs: self.nets, self.store, self.containers, self.events, self.netlink, self.lock,
    self.resolver, self.get, self.is_user_bridge, self._ensure_bridge, self._apply_rules,
    self._join, self._drop_endpoint, self._endpoint_settings, self._start_dns, self.dns."""

    # ------------------------------------------------------------------ read
    def list_networks(self, filters: dict[str, list[str]]) -> list[dict]:
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        for value in filters.get("type", []):
            if value not in ("custom", "builtin"):
                raise InvalidParameter(f"invalid filter: 'type'='{value}'")
        for value in filters.get("dangling", []):
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"invalid filter 'dangling={value}'")
        out = []
        for doc in sorted(self.nets.values(), key=lambda d: d["Created"]):
            if not self._matches(doc, filters):
                continue
            out.append(self._public(doc, containers=False))
        return out

    def _matches(self, doc: dict, f: dict[str, list[str]]) -> bool:
        builtin = doc["Name"] in PREDEFINED
        if f.get("driver") and doc["Driver"] not in f["driver"]:
            return False
        if f.get("id") and not any(doc["Id"].startswith(v) for v in f["id"]):
            return False
        if f.get("name") and not any(name_matches(v, doc["Name"]) for v in f["name"]):
            return False
        if f.get("scope") and "local" not in f["scope"]:
            return False
        if f.get("type") and ("builtin" if builtin else "custom") not in f["type"]:
            return False
        if f.get("label") and not _labels_match(doc.get("Labels") or {}, f["label"]):
            return False
        if f.get("dangling"):
            want = f["dangling"][-1].lower() in ("true", "1")
            dangling = not builtin and not self.store.endpoints(network_id=doc["Id"])
            if dangling != want:
                return False
        return True

    def _public(self, doc: dict, containers: bool = True) -> dict:
        out = {k: v for k, v in doc.items() if not k.startswith("_")}
        out["Containers"] = self.containers_of(doc["Id"]) if containers else {}
        return out

    def inspect_network(self, ref: str) -> dict:
        return self._public(self.get(ref))

    # ------------------------------------------------------------------ create
    async def create_network(self, body: dict) -> dict:
        name = body.get("Name") or ""
        if not name:
            raise InvalidParameter("network name is required")
        driver = body.get("Driver") or "bridge"
        if driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if body.get("EnableIPv6"):
            raise InvalidParameter("IPv6 networks (EnableIPv6) are not supported by Berth")
        if body.get("Ingress") or body.get("ConfigOnly") or (body.get("ConfigFrom") or {}).get("Network"):
            raise InvalidParameter("ingress and config-only networks are swarm features Berth does not have")
        ipam_req = body.get("IPAM") or {}
        if (ipam_req.get("Driver") or "default") != "default":
            raise NotFound(f'plugin "{ipam_req["Driver"]}" not found')
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        unknown = [k for k in options if k.startswith("com.docker.network.") and k not in KNOWN_OPTIONS]
        if unknown:
            raise InvalidParameter(f"unsupported network option(s): {', '.join(sorted(unknown))}")
        _check_options(options)
        configs = ipam_req.get("Config") or []
        if len(configs) > 1:
            raise InvalidParameter("Berth supports one IPv4 subnet per network")
        async with self.lock:
            if any(d["Name"] == name for d in self.nets.values()):
                raise Conflict(f"network with name {name} already exists")
            taken = [ipam.Pool.from_config(d["IPAM"]["Config"][0]).subnet
                     for d in self.nets.values() if d["Driver"] == "bridge" and d["IPAM"]["Config"]]
            if configs:
                pool = ipam.pool_from_request(configs[0])
                ipam.check_overlap(pool.subnet, taken)
            else:
                assert self.netlink is not None
                pool = ipam.default_pool(taken + await asyncio.to_thread(self.netlink.host_networks))
            net_id = secrets.token_hex(32)
            device = options.get("com.docker.network.bridge.name") or "br-" + net_id[:12]
            if len(device) > 15 or "/" in device or " " in device:
                raise InvalidParameter(f"invalid bridge name {device!r}: at most 15 characters, no '/' or space")
            if any(bridge_name(d) == device for d in self.nets.values() if d["Driver"] == "bridge"):
                raise Conflict(f"bridge name {device} is already in use by another network")
            assert self.netlink is not None
            if device in await asyncio.to_thread(self.netlink.link_names):
                raise Conflict(f"bridge name {device} is already in use by another interface")
            doc = network_doc(net_id, name, "bridge", [pool.config()], options, dict(body.get("Labels") or {}),
                              bool(body.get("Internal")), bool(body.get("Attachable")),
                              ipam_req.get("Options"))
            if configs:
                doc["_UserSubnet"] = True
            await self._ensure_bridge(doc)
            self.store.put_network(doc)
            self.nets[net_id] = doc
            self.resolver.networks[net_id] = LiveNetwork(name, True)
            try:
                await self._apply_rules()
            except Exception:
                await self._destroy(doc)
                raise
        self.events.publish("network", "create", net_id, {"name": name, "type": "bridge"})
        return {"Id": net_id, "Warning": ""}

    # ------------------------------------------------------------------ remove
    async def remove_network(self, ref: str) -> None:
        doc = self.get(ref)
        if doc["Name"] in PREDEFINED:
            raise Forbidden(f"{doc['Name']} is a pre-defined network and cannot be removed")
        async with self.lock:
            if self.store.endpoints(network_id=doc["Id"]):
                raise Forbidden(f"error while removing network: network {doc['Name']} id {doc['Id']} "
                                "has active endpoints")
            await self._destroy(doc)
        self.events.publish("network", "destroy", doc["Id"], {"name": doc["Name"], "type": doc["Driver"]})

    async def _destroy(self, doc: dict) -> None:
        assert self.netlink is not None
        # The bridge goes before the row: a daemon killed in between keeps the network,
        # and its bridge is made again at start (the other order leaked the bridge).
        await asyncio.to_thread(self.netlink.delete_link, bridge_name(doc))
        self.store.delete_network(doc["Id"])
        self.nets.pop(doc["Id"], None)
        self.resolver.networks.pop(doc["Id"], None)
        await self._apply_rules()

    async def prune_networks(self, filters: dict[str, list[str]]) -> dict:
        for key in filters:
            if key not in ("until", "label", "label!"):
                raise InvalidParameter(f"invalid filter '{key}'")
        from berth.engine.filters import _until_ok
        deleted = []
        for doc in list(self.nets.values()):
            if doc["Name"] in PREDEFINED or self.store.endpoints(network_id=doc["Id"]):
                continue
            labels = doc.get("Labels") or {}
            if filters.get("label") and not _labels_match(labels, filters["label"]):
                continue
            if filters.get("label!") and _labels_match(labels, filters["label!"]):
                continue
            if filters.get("until") and not _until_ok(doc["Created"], filters["until"]):
                continue
            try:
                await self.remove_network(doc["Id"])
            except Forbidden:
                continue
            deleted.append(doc["Name"])
        return {"NetworksDeleted": deleted or None}

    # ------------------------------------------------------------------ connect / disconnect
    async def connect(self, ref: str, body: dict) -> None:
        net = self.get(ref)
        c = self.containers.get(body.get("Container") or "")
        mode = c.host_config.get("NetworkMode") or "bridge"
        if net["Name"] in ("host", "none") or mode in ("host", "none") or mode.startswith("container:"):
            if mode == "none" or net["Name"] == "none":
                raise Forbidden("container cannot be connected to multiple networks with one of the "
                                "networks in private (none) mode")
            raise Forbidden("container cannot be disconnected from host network or connected to host network")
        nets = c.doc["NetworkSettings"]["Networks"]
        if net["Name"] in nets:
            raise Forbidden(f"endpoint with name {c.name.lstrip('/')} already exists in network {net['Name']}")
        es = self._endpoint_settings(net, body.get("EndpointConfig") or {}, c.config, c.host_config, False)
        async with c.lock:
            if c.running:
                path = os.path.join(self.netns_dir, c.id)
                used = {ep.doc.get("ifname") for ep in self.store.endpoints(container_id=c.id)}
                ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in used)
                primary = not any(e.get("Gateway") for e in nets.values())
                await self._join(c, net, es, path, ifname, primary)
                _hosts_edit(self.containers.state_dir(c.id), add=f"{es['IPAddress']}\t{c.config.get('Hostname', '')}")
                had_user = any(self.is_user_bridge(self.nets[e["NetworkID"]]) for e in nets.values()
                               if e.get("NetworkID") in self.nets)
                nets[net["Name"]] = es
                if self.is_user_bridge(net):
                    if not had_user:
                        # docker switches the container to the embedded DNS (in place: the file is bind-mounted)
                        hc = c.host_config
                        with open(os.path.join(self.containers.state_dir(c.id), "resolv.conf"), "w") as f:
                            f.write(etc_files.resolv_text(True, hc.get("Dns") or [], hc.get("DnsSearch") or [],
                                                          hc.get("DnsOptions") or []))
                    await self._start_dns(c)
            else:
                nets[net["Name"]] = es
                self.events.publish("network", "connect", net["Id"],
                                    {"container": c.id, "name": net["Name"], "type": net["Driver"]})
            self.containers._save_doc(c)

    async def disconnect(self, ref: str, body: dict) -> None:
        net = self.get(ref)
        c = self.containers.get(body.get("Container") or "")
        nets = c.doc["NetworkSettings"]["Networks"]
        if net["Name"] not in nets:
            raise Forbidden(f"container {c.id} is not connected to network {net['Name']}")
        if net["Name"] in ("host", "none"):
            raise Forbidden("container cannot be disconnected from host network or connected to host network")
        async with c.lock:
            if c.running:
                for ep in self.store.endpoints(network_id=net["Id"], container_id=c.id):
                    assert self.netlink is not None
                    await asyncio.to_thread(self.netlink.remove_endpoint_in,
                                            os.path.join(self.netns_dir, c.id), ep.doc.get("ifname", ""))
                    await self._drop_endpoint(ep, c)
                    _hosts_edit(self.containers.state_dir(c.id), drop=ep.ip)
                if net["Name"] == "bridge":
                    c.doc["NetworkSettings"].update({"EndpointID": "", "Gateway": "", "IPAddress": "",
                                                     "IPPrefixLen": 0, "MacAddress": ""})
            else:
                self.events.publish("network", "disconnect", net["Id"],
                                    {"container": c.id, "name": net["Name"], "type": net["Driver"]})
            del nets[net["Name"]]
            if c.host_config.get("NetworkMode") == net["Name"] and nets:
                c.host_config["NetworkMode"] = next(iter(nets))
            self.containers._save_doc(c)

