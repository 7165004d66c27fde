"""Networks and container endpoints: the daemon's side of docker's bridge networking.

ContainerService calls four hooks: `create_settings` (NetworkSettings at
create), `attach` (before the runtime starts: namespace, veths, addresses,
ports, /etc files, embedded DNS), `detach` (at exit) and `forget` (at
removal). Addresses are allocated under one asyncio lock inside the store's
UNIQUE index; the nftables table is re-rendered from state in one batch.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass

from berth.engine.create_config import network_settings
from berth.engine.events import EventBus
from berth.errors import BerthError, Conflict, InvalidParameter, NotFound, System
from berth.network import etc_files, ipam, links as links_mod, ports as ports_mod
from berth.network.admin import NetworkAdmin
from berth.network.docs import (DEFAULT_BRIDGE, TOP_LEVEL_CLEAR, bridge_name,
                                default_bridge_options, empty_endpoint, network_doc)
from berth.network.nat import BridgeRules, Nft, PortRule, render, render_delete
from berth.network.netlink import EndpointSpec, Netlink, set_ip_forward
from berth.network.proxy import PortProxy
from berth.network.resolver import EndpointResolver, LiveEndpoint, LiveNetwork
from berth.network.store import Endpoint, NetworkStore

log = logging.getLogger("berth.network")


@dataclass
class NetConfig:
    exec_root: str
    bip: str = ""
    iptables: bool = True
    userland_proxy: bool = True
    ip_forward: bool = True


@dataclass
class Published:
    mapping: ports_mod.Mapping
    rule: PortRule
    proxy: PortProxy | None


class NetworkService(NetworkAdmin):
    def __init__(self, cfg: NetConfig, md, containers, events: EventBus) -> None:
        self.cfg = cfg
        self.store = NetworkStore(md)
        self.containers = containers
        self.events = events
        self.netlink: Netlink | None = None
        self.nft = Nft() if cfg.iptables else None
        self.lock = asyncio.Lock()
        self.allocator = ports_mod.PortAllocator()
        self.published: dict[str, list[Published]] = {}
        self.nets: dict[str, dict] = {}
        self.resolver = EndpointResolver()
        self.dns = None
        self.netns_dir = os.path.join(cfg.exec_root, "netns")
        self._reaping: set[asyncio.Task] = set()
        try:
            self.bip = ipaddress.IPv4Interface(cfg.bip or "172.17.0.1/16")
        except ValueError:
            raise System(f"invalid --bip {cfg.bip!r}: give the bridge's address with a prefix, "
                         "e.g. 172.17.0.1/16") from None
        containers.networking = self

    # ------------------------------------------------------------------ lookup
    def get(self, ref: str) -> dict:
        """By full id, name, or unique id prefix, as docker's."""
        if ref in self.nets:
            return self.nets[ref]
        for doc in self.nets.values():
            if doc["Name"] == ref:
                return doc
        matches = [d for i, d in self.nets.items() if ref and i.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"network {ref} not found")

    def is_user_bridge(self, doc: dict) -> bool:
        return doc["Driver"] == "bridge" and doc["Name"] != "bridge"

    # ------------------------------------------------------------------ daemon start
    async def startup(self) -> None:
        """Before containers reconcile: predefined networks, bridges, the rule table."""
        os.makedirs(self.netns_dir, exist_ok=True)
        self.netlink = await asyncio.to_thread(Netlink)
        self.nets = {d["Id"]: d for d in self.store.networks()}
        self._ensure_predefined()
        if self.cfg.ip_forward:
            try:
                set_ip_forward()
            except OSError as e:
                log.warning("could not enable IPv4 forwarding: %s", e)
        for doc in self.nets.values():
            if doc["Driver"] == "bridge":
                await self._ensure_bridge(doc)
            self.resolver.networks[doc["Id"]] = LiveNetwork(doc["Name"], self.is_user_bridge(doc))
        if self.nft is None:
            # --iptables=false: Berth's rules are off, including those of an earlier run.
            try:
                await asyncio.to_thread(Nft().run, render_delete())
            except BerthError:
                pass
        await self._apply_rules()
        try:
            from berth.network.dns import EmbeddedDNS

            self.dns = EmbeddedDNS(self.resolver, lambda: etc_files.upstream_servers([]))
        except ImportError:
            log.warning("embedded DNS unavailable")

    async def after_reconcile(self) -> None:
        """Reclaim endpoints of containers that died while the daemon was down; serve the
        ports and names of the ones that still run."""
        for ep in self.store.endpoints():
            c = self.containers.containers.get(ep.container_id)
            if c is None or not c.running:
                await self._drop_endpoint(ep)
                continue
            net = self.nets.get(ep.network_id)
            if net is not None:
                self._live_add(net, ep)
        for c in list(self.containers.containers.values()):
            path = os.path.join(self.netns_dir, c.id)
            if not c.running:
                if os.path.exists(path):
                    await asyncio.to_thread(Netlink.delete_netns, path)
                continue
            if c.id in self.published or not self.store.endpoints(container_id=c.id):
                continue
            await self._publish(c, [ports_mod.Mapping.from_doc(d)
                                    for d in c.doc.get("_Published", [])], restore=True)
            await self._start_dns(c)
        for name in os.listdir(self.netns_dir):
            if name not in self.containers.containers:
                await asyncio.to_thread(Netlink.delete_netns, os.path.join(self.netns_dir, name))
        await self._apply_rules()

    def _ensure_predefined(self) -> None:
        by_name = {d["Name"]: d for d in self.nets.values()}
        iface = self.bip
        subnet = iface.network
        want = [{"Subnet": str(subnet), "Gateway": str(iface.ip)}]
        bridge = by_name.get("bridge")
        if bridge is None or bridge["IPAM"]["Config"] != want:
            doc = network_doc(bridge["Id"] if bridge else secrets.token_hex(32), "bridge", "bridge", want,
                              default_bridge_options(DEFAULT_BRIDGE), {})
            self.store.put_network(doc)
            self.nets[doc["Id"]] = doc
        for name, driver in (("host", "host"), ("none", "null")):
            if name not in by_name:
                doc = network_doc(secrets.token_hex(32), name, driver, [], {}, {})
                self.store.put_network(doc)
                self.nets[doc["Id"]] = doc

    async def _ensure_bridge(self, doc: dict) -> None:
        pool = ipam.Pool.from_config(doc["IPAM"]["Config"][0])
        mac = ipam.mac_from_ip(pool.gateway)
        assert self.netlink is not None
        await asyncio.to_thread(self.netlink.ensure_bridge, bridge_name(doc), pool.gateway,
                                pool.subnet.prefixlen, mac)

    async def _apply_rules(self) -> None:
        if self.nft is None:
            return
        bridges = []
        for doc in self.nets.values():
            if doc["Driver"] != "bridge":
                continue
            pool = ipam.Pool.from_config(doc["IPAM"]["Config"][0])
            masq = (doc.get("Options") or {}).get("com.docker.network.bridge.enable_ip_masquerade", "true")
            bridges.append(BridgeRules(bridge_name(doc), str(pool.subnet), bool(doc.get("Internal")),
                                       masq.lower() not in ("false", "0")))
        rules = [p.rule for pubs in self.published.values() for p in pubs]
        await asyncio.to_thread(self.nft.run, render(bridges, rules, self.cfg.userland_proxy))

    async def close(self) -> None:
        for pubs in self.published.values():
            for p in pubs:
                if p.proxy is not None:
                    p.proxy.close()
        if self.dns is not None:
            await self.dns.close()

    # ------------------------------------------------------------------ create
    def create_settings(self, body: dict, config: dict, hc: dict, name: str = "") -> dict:
        """NetworkSettings of a new container; refuses what docker refuses at create."""
        asked = hc.get("NetworkMode") or "default"
        mode = "bridge" if asked == "default" else asked
        ports_mod.validate(hc)
        if mode.startswith("container:"):
            if hc.get("PortBindings") or hc.get("PublishAllPorts"):
                raise InvalidParameter("conflicting options: port publishing and the container type network mode")
            return network_settings(mode)
        given = ((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
        normalized = []
        for link in links_mod.parse_links(hc.get("Links") or []):
            try:
                other = self.containers.get(link.name)
            except BerthError:
                raise InvalidParameter(f"could not get container for {link.name}: "
                                       f"No such container: {link.name}") from None
            normalized.append(f"{other.name}:{name or '/'}/{link.alias}".replace("//", "/"))
        if normalized:
            hc["Links"] = normalized   # docker's stored form: /web:/me/alias
        primary = self.get(mode)
        if mode == primary["Id"]:
            hc["NetworkMode"] = primary["Name"]
        if primary["Name"] in ("host", "none"):
            ns = network_settings(primary["Name"])
            ns["Networks"][primary["Name"]]["NetworkID"] = primary["Id"]
            return ns
        ns = network_settings("none")
        ns["Networks"] = {}
        order = [primary] + [self.get(k) for k in given if k != asked and self._ref_differs(k, primary)]
        for net in order:
            es = (given.get(net["Name"]) or given.get(net["Id"]) or
                  (given.get(asked) or given.get(mode) if net is primary else None) or {})
            ns["Networks"][net["Name"]] = self._endpoint_settings(net, es, config, hc, net is primary)
        return ns

    def _ref_differs(self, ref: str, net: dict) -> bool:
        return ref not in (net["Name"], net["Id"]) and not net["Id"].startswith(ref)

    def _endpoint_settings(self, net: dict, es: dict, config: dict, hc: dict, primary: bool) -> dict:
        ipam_cfg = es.get("IPAMConfig") or None
        aliases = list(es.get("Aliases") or [])
        user = self.is_user_bridge(net)
        if net["Name"] in ("host", "none"):
            if not primary:
                raise InvalidParameter("container cannot be disconnected from host network or connected to host network")
            return empty_endpoint(net["Id"])
        if ipam_cfg and (ipam_cfg.get("IPv4Address") or ipam_cfg.get("IPv6Address")):
            if not user:
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if not net.get("_UserSubnet"):
                raise InvalidParameter("user specified IP address is supported only when connecting to "
                                       "networks with user configured subnets")
            if ipam_cfg.get("IPv6Address"):
                raise InvalidParameter("Berth does not support IPv6 addresses on its networks")
            ipam.check_static(ipam.Pool.from_config(net["IPAM"]["Config"][0]), ipam_cfg["IPv4Address"])
        if aliases and not user:
            raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
        mac = es.get("MacAddress") or (config.get("MacAddress") if primary else "") or ""
        if mac:
            mac = ipam.check_mac(mac)
        return empty_endpoint(net["Id"], ipam_cfg, aliases, es.get("Links"), mac, es.get("DriverOpts"))

    # ------------------------------------------------------------------ start / exit
    async def attach(self, c, netns: str | None) -> tuple[str | None, list[str]]:
        """Give a starting container its namespace and endpoints; returns (netns path, link env)."""
        mode = c.host_config.get("NetworkMode") or "bridge"
        if mode.startswith("container:"):
            self._share_etc(c, mode.split(":", 1)[1])
        if mode in ("host", "none") or mode.startswith("container:"):
            return netns, []
        assert self.netlink is not None
        await self._drop_container_endpoints(c.id)
        path = os.path.join(self.netns_dir, c.id)
        if os.path.exists(path):
            await asyncio.to_thread(Netlink.delete_netns, path)
        ns = c.doc["NetworkSettings"]
        try:
            names = list(ns["Networks"])
            # The first endpoint is made by the thread that makes the namespace (one hop, one socket).
            first = None
            if names:
                net0 = self._net_of(names[0], ns["Networks"][names[0]])
                first = await self._allocate(c, net0, ns["Networks"][names[0]], "eth0", True)
            try:
                await asyncio.to_thread(self.netlink.create_netns, path, first[1] if first else None)
            except Exception as e:
                raise System(f"failed to set up container networking: {e}") from None
            if first:
                self._joined(c, net0, ns["Networks"][names[0]], *first)
            for i, name in enumerate(names[1:], 1):
                net = self._net_of(name, ns["Networks"][name])
                await self._join(c, net, ns["Networks"][name], path, f"eth{i}", False)
            link_env, link_hosts = self._links(c)
            ns.update({"SandboxID": secrets.token_hex(32), "SandboxKey": path})
            await self._publish(c, ports_mod.mappings(c.config, c.host_config))
            self._write_etc(c, link_hosts)
            await self._start_dns(c)
            self.containers._save_doc(c)
        except BaseException:
            await self.detach(c)
            raise
        return path, link_env

    def _net_of(self, name: str, es: dict) -> dict:
        try:
            return self.get(es.get("NetworkID") or name)
        except NotFound:
            raise NotFound(f"network {name} not found") from None

    async def _join(self, c, net: dict, es: dict, path: str, ifname: str, primary: bool) -> None:
        assert self.netlink is not None
        ep, spec = await self._allocate(c, net, es, ifname, primary)
        try:
            await asyncio.to_thread(self.netlink.add_endpoint, path, spec)
        except Exception as e:
            self.store.delete_endpoint(ep.id)
            await asyncio.to_thread(self.netlink.delete_link, ep.doc["veth"])
            raise System(f"failed to set up container networking: {e}") from None
        self._joined(c, net, es, ep, spec)

    async def _allocate(self, c, net: dict, es: dict, ifname: str, primary: bool) -> tuple[Endpoint, EndpointSpec]:
        """An address and the endpoint row (the commit point), under the IPAM lock."""
        pool = ipam.Pool.from_config(net["IPAM"]["Config"][0])
        static = (es.get("IPAMConfig") or {}).get("IPv4Address")
        async with self.lock:
            used = self.store.used_ips(net["Id"])
            if static:
                addr = ipam.check_static(pool, static)
                if str(addr) in used:
                    raise Conflict("Address already in use")
            else:
                addr = ipam.pick_address(pool, used)
                if addr is None:
                    raise System(f"no available IPv4 addresses on this network's address pools: "
                                 f"{net['Name']} ({net['Id']})")
            if es.get("MacAddress"):
                c.doc.setdefault("_UserMacs", {})[net["Name"]] = es["MacAddress"]
            mac = (c.doc.get("_UserMacs") or {}).get(net["Name"]) or ipam.mac_from_ip(addr)
            ep_id = secrets.token_hex(32)
            names = self._dns_names(c, es) if self.is_user_bridge(net) else []
            ep = Endpoint(ep_id, net["Id"], c.id, str(addr),
                          {"ifname": ifname, "veth": "veth" + ep_id[:7], "mac": mac, "names": names})
            if not self.store.add_endpoint(ep):
                raise Conflict(f"endpoint with name {c.name.lstrip('/')} already exists in network {net['Name']}")
        gateway = None if (net.get("Internal") or not primary) else pool.gateway
        return ep, EndpointSpec(ep.doc["veth"], ifname, addr, pool.subnet.prefixlen, gateway, mac, bridge_name(net),
                                int((net.get("Options") or {}).get("com.docker.network.driver.mtu") or 1500))

    def _joined(self, c, net: dict, es: dict, ep: Endpoint, spec: EndpointSpec) -> None:
        """The endpoint exists in the kernel: settings, resolver, event."""
        pool = ipam.Pool.from_config(net["IPAM"]["Config"][0])
        addr, mac, names = ep.ip, spec.mac, ep.doc.get("names") or []
        es.update({"NetworkID": net["Id"], "EndpointID": ep.id, "Gateway": str(pool.gateway),
                   "IPAddress": str(addr), "IPPrefixLen": pool.subnet.prefixlen, "MacAddress": mac,
                   "DNSNames": names or None})
        if net["Name"] == "bridge":
            c.doc["NetworkSettings"].update({"EndpointID": ep.id, "Gateway": str(pool.gateway),
                                             "IPAddress": str(addr), "IPPrefixLen": pool.subnet.prefixlen,
                                             "MacAddress": mac})
        self._live_add(net, ep)
        self.events.publish("network", "connect", net["Id"],
                            {"container": c.id, "name": net["Name"], "type": net["Driver"]})

    def _dns_names(self, c, es: dict) -> list[str]:
        names = [c.name.lstrip("/"), c.id[:12], *(es.get("Aliases") or [])]
        hostname = c.config.get("Hostname")
        if hostname and hostname not in names and hostname != c.id[:12]:
            names.append(hostname)
        return names

    def _live_add(self, net: dict, ep: Endpoint) -> None:
        live = self.resolver.networks.setdefault(net["Id"], LiveNetwork(net["Name"], self.is_user_bridge(net)))
        names = [n.lower() for n in ep.doc.get("names") or []]
        c = self.containers.containers.get(ep.container_id)
        service = ((c.config.get("Labels") or {}).get("com.docker.compose.service") if c else None)
        if service and service.lower() not in names:
            names.append(service.lower())
        live.endpoints[ep.id] = LiveEndpoint(ep.container_id, ep.ip, names)

    def _links(self, c) -> tuple[list[str], list[tuple[str, list[str]]]]:
        env: list[str] = []
        hosts: list[tuple[str, list[str]]] = []
        for link in links_mod.parse_links(c.host_config.get("Links") or []):
            try:
                other = self.containers.get(link.name)
            except BerthError:
                raise InvalidParameter(f"could not get container for {link.name}") from None
            if not other.running:
                raise Conflict(f"Cannot link to a non running container: /{link.name} AS {c.name}/{link.alias}")
            ip = ""
            for es in (other.doc.get("NetworkSettings") or {}).get("Networks", {}).values():
                if es.get("IPAddress"):
                    ip = es["IPAddress"]
                    break
            if not ip:
                raise Conflict(f"Cannot link to /{link.name}, as it does not belong to the default network")
            hosts.append((ip, [link.alias, other.id[:12], other.name.lstrip("/")]))
            env += links_mod.link_env(c.name, link, ip, other.config.get("ExposedPorts"), other.config.get("Env"))
        return env, hosts

    def _write_etc(self, c, link_hosts: list[tuple[str, list[str]]]) -> None:
        cfg, hc = c.config, c.host_config
        nets = c.doc["NetworkSettings"]["Networks"]
        first = next(iter(nets.values()), {})
        embedded = any(self.is_user_bridge(self.nets[es["NetworkID"]]) for es in nets.values()
                       if es.get("NetworkID") in self.nets)
        state_dir = self.containers.state_dir(c.id)
        etc_files.write_atomic(os.path.join(state_dir, "hosts"), etc_files.hosts_text(
            first.get("IPAddress", ""), cfg.get("Hostname", ""), cfg.get("Domainname", ""),
            hc.get("ExtraHosts") or [], link_hosts, self._default_gateway()))   # host-gateway: docker0's address
        etc_files.write_atomic(os.path.join(state_dir, "resolv.conf"), etc_files.resolv_text(
            embedded, hc.get("Dns") or [], hc.get("DnsSearch") or [], hc.get("DnsOptions") or []))

    def _share_etc(self, c, ref: str) -> None:
        """A container in another's namespace sees that one's hosts and resolv.conf (docker's
        joiner gets 127.0.0.11 when the other is on a user network)."""
        try:
            other = self.containers.get(ref)
        except BerthError:
            return
        if not other.doc["NetworkSettings"].get("SandboxKey"):
            return
        for name in ("hosts", "resolv.conf"):
            try:
                with open(os.path.join(self.containers.state_dir(other.id), name)) as f:
                    text = f.read()
            except OSError:
                continue
            etc_files.write_atomic(os.path.join(self.containers.state_dir(c.id), name), text)

    def _default_gateway(self) -> str:
        bridge = self.get("bridge")
        return str(ipam.Pool.from_config(bridge["IPAM"]["Config"][0]).gateway)

    async def _start_dns(self, c) -> None:
        if self.dns is None:
            return
        nets = [self.nets.get(es.get("NetworkID", "")) for es in c.doc["NetworkSettings"]["Networks"].values()]
        user = [n for n in nets if n is not None and self.is_user_bridge(n)]
        if user:
            hc = c.host_config
            await self.dns.start(c.id, os.path.join(self.netns_dir, c.id),
                                 forward=not all(n.get("Internal") for n in user),
                                 upstreams=hc.get("Dns") or None,
                                 ndots_set=any(o.startswith("ndots:") for o in hc.get("DnsOptions") or []))

    async def _publish(self, c, mappings: list[ports_mod.Mapping], restore: bool = False) -> None:
        if not mappings:
            return
        es = next(iter(c.doc["NetworkSettings"]["Networks"].values()))
        net = self.nets[es["NetworkID"]]
        ip, bridge = es["IPAddress"], bridge_name(net)
        pubs: list[Published] = []
        self.published[c.id] = pubs
        try:
            default_ip = (net.get("Options") or {}).get("com.docker.network.bridge.host_binding_ipv4", "")
            for m in mappings:
                if not m.host_ip and default_ip not in ("", "0.0.0.0"):
                    m.host_ip = default_ip
                try:
                    self.allocator.take(m)
                except Conflict as e:
                    raise Conflict(f"driver failed programming external connectivity on endpoint "
                                   f"{c.name.lstrip('/')} ({es['EndpointID']}): {e.message}") from None
                pubs.append(Published(m, PortRule(m.proto, m.host_ip, m.host_port, ip, m.container_port, bridge),
                                      None))
                loopback = m.host_ip.startswith("127.")
                proxy = PortProxy(m.proto, m.host_ip, m.host_port)
                pubs[-1].proxy = proxy
                if self.cfg.userland_proxy or loopback or self.nft is None:
                    await proxy.serve((ip, m.container_port))
            await self._apply_rules()
        except BaseException:
            await self._unpublish(c.id)
            raise
        ports = {}
        for key in (c.config.get("ExposedPorts") or {}):
            port, proto = ports_mod.split_port(key)
            ports[f"{port}/{proto}"] = None
        for p in pubs:
            ports.setdefault(f"{p.mapping.container_port}/{p.mapping.proto}", None)
            key = f"{p.mapping.container_port}/{p.mapping.proto}"
            ports[key] = (ports[key] or []) + [p.mapping.binding()]
        c.doc["NetworkSettings"]["Ports"] = ports
        c.doc["_Published"] = [p.mapping.to_doc() for p in pubs]
        if restore:
            self.containers._save_doc(c)

    async def _unpublish(self, cid: str) -> bool:
        pubs = self.published.pop(cid, None)
        if not pubs:
            return False
        for p in pubs:
            if p.proxy is not None:
                p.proxy.close()
            if p.mapping.host_port:
                self.allocator.release(p.mapping)
        return True

    async def detach(self, c) -> None:
        """At exit (or a failed start): everything attach made goes, the settings are cleared."""
        had_ports = await self._unpublish(c.id)
        if self.dns is not None:
            await self.dns.stop(c.id)
        await self._drop_container_endpoints(c.id, c)
        path = os.path.join(self.netns_dir, c.id)
        if os.path.exists(path):
            await asyncio.to_thread(Netlink.delete_netns, path)
        if had_ports:
            await self._apply_rules()
        ns = c.doc.get("NetworkSettings") or {}
        if any(es.get("EndpointID") for es in (ns.get("Networks") or {}).values()) or had_ports:
            ns.update(TOP_LEVEL_CLEAR)
            ns["Ports"] = {}
            user_macs = c.doc.get("_UserMacs") or {}
            for name, es in (ns.get("Networks") or {}).items():
                es.update({"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                           "DNSNames": None, "MacAddress": user_macs.get(name, "")})
            c.doc.pop("_Published", None)
            if c.id in self.containers.containers:
                self.containers._save_doc(c)

    async def _drop_container_endpoints(self, cid: str, c=None) -> None:
        for ep in self.store.endpoints(container_id=cid):
            await self._drop_endpoint(ep, c)

    async def _drop_endpoint(self, ep: Endpoint, c=None) -> None:
        self.store.delete_endpoint(ep.id)
        live = self.resolver.networks.get(ep.network_id)
        if live is not None:
            live.endpoints.pop(ep.id, None)
        if self.netlink is not None and ep.doc.get("veth"):
            # Deleting a veth waits for an RCU grace period (15-35 ms): the kernel removes the
            # pair with the container's namespace anyway, so only a straggler is deleted, later.
            self._reap_later(ep.doc["veth"])
        net = self.nets.get(ep.network_id)
        if net is not None and c is not None:
            self.events.publish("network", "disconnect", net["Id"],
                                {"container": ep.container_id, "name": net["Name"], "type": net["Driver"]})

    def _reap_later(self, veth: str) -> None:
        async def reap() -> None:
            await asyncio.sleep(1.0)
            assert self.netlink is not None
            if await asyncio.to_thread(self.netlink.has_link, veth):
                await asyncio.to_thread(self.netlink.delete_link, veth)

        task = asyncio.ensure_future(reap())
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    def forget(self, cid: str) -> None:
        """At removal: nothing of the container may stay behind (it is stopped by now)."""
        for ep in self.store.endpoints(container_id=cid):
            self.store.delete_endpoint(ep.id)
            live = self.resolver.networks.get(ep.network_id)
            if live is not None:
                live.endpoints.pop(ep.id, None)

    # ------------------------------------------------------------------ inspect helpers
    def containers_of(self, net_id: str) -> dict:
        out = {}
        for ep in self.store.endpoints(network_id=net_id):
            c = self.containers.containers.get(ep.container_id)
            net = self.nets.get(net_id)
            plen = ipam.Pool.from_config(net["IPAM"]["Config"][0]).subnet.prefixlen if net and net["IPAM"]["Config"] else 0
            out[ep.container_id] = {
                "Name": c.name.lstrip("/") if c else "", "EndpointID": ep.id,
                "MacAddress": ep.doc.get("mac", ""),
                "IPv4Address": f"{ep.ip}/{plen}" if ep.ip else "", "IPv6Address": "",
            }
        return out
