"""The bridge driver's kernel side: bridges, named network namespaces, veth pairs.

One pyroute2 IPRoute socket, opened once, serves the daemon's namespace; a
container's namespace is made by unsharing a worker thread's network namespace
and bind-mounting it on a file (like `ip netns add`, without a subprocess), and
its side is configured through a socket opened while the thread is inside it.
All methods block (netlink round trips of ~0.1 ms each): call them through
asyncio.to_thread.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import threading
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


@dataclass
class EndpointSpec:
    """One interface inside a container's namespace."""
    host_ifname: str          # veth end left in the daemon's namespace, enslaved to the bridge
    ifname: str               # eth0, eth1, ... inside the container
    address: ipaddress.IPv4Address
    prefixlen: int
    gateway: ipaddress.IPv4Address | None   # None: no default route (internal networks, eth1+)
    mac: str
    bridge: str
    mtu: int = 1500


class Netlink:
    def __init__(self) -> None:
        import logging

        from pyroute2 import IPRoute

        # pyroute2 sets its logger to level 0 at import: every netlink message would be logged.
        logging.getLogger("pyroute2").setLevel(logging.WARNING)
        self._ipr = IPRoute()
        self._lock = threading.Lock()
        self._host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        self._ipr.close()
        os.close(self._host_ns)

    # ------------------------------------------------------------ bridges
    def ensure_bridge(self, name: str, gateway: ipaddress.IPv4Address, prefixlen: int, mac: str) -> None:
        """Create (or adopt after a restart) the bridge with its gateway address, up."""
        with self._lock:
            found = self._ipr.link_lookup(ifname=name)
            if not found:
                self._ipr.link("add", ifname=name, kind="bridge")
                found = self._ipr.link_lookup(ifname=name)
                # A fixed address: else the bridge takes the lowest of its ports' and changes.
                self._ipr.link("set", index=found[0], address=mac)
            idx = found[0]
            have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in self._ipr.get_addr(index=idx, family=2)}
            for addr, plen in have:
                if (addr, plen) != (str(gateway), prefixlen):
                    self._ipr.addr("del", index=idx, address=addr, prefixlen=plen)
            if (str(gateway), prefixlen) not in have:
                self._ipr.addr("add", index=idx, address=str(gateway), prefixlen=prefixlen)
            self._ipr.link("set", index=idx, state="up")
        # Published ports bound to 127.0.0.1 are DNATed by the kernel: packets from the loopback
        # source may then leave through the bridge (masqueraded), as dockerd without its proxy.
        try:
            with open(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "w") as f:
                f.write("1\n")
        except OSError:
            pass

    def delete_link(self, name: str) -> None:
        with self._lock:
            found = self._ipr.link_lookup(ifname=name)
            if found:
                try:
                    self._ipr.link("del", index=found[0])
                except Exception as e:  # gone meanwhile (its namespace died)
                    if getattr(e, "code", None) != errno.ENODEV:
                        raise

    def host_networks(self) -> list[ipaddress.IPv4Network]:
        """Networks of the addresses and routes this namespace already has (default pools avoid them)."""
        out = []
        with self._lock:
            for a in self._ipr.get_addr(family=2):
                out.append(ipaddress.IPv4Network(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}", strict=False))
            for r in self._ipr.get_routes(family=2, table=254):
                dst = r.get_attr("RTA_DST")
                if dst and r["dst_len"] > 0:
                    out.append(ipaddress.IPv4Network(f"{dst}/{r['dst_len']}", strict=False))
        return [n for n in out if not n.is_loopback]

    def has_link(self, name: str) -> bool:
        with self._lock:
            return bool(self._ipr.link_lookup(ifname=name))

    def link_names(self) -> set[str]:
        with self._lock:
            return {link.get_attr("IFLA_IFNAME") for link in self._ipr.get_links()}

    # ------------------------------------------------------------ namespaces
    def create_netns(self, path: str, first: EndpointSpec | None = None) -> None:
        """A new network namespace pinned at `path`, with lo up (and `first` made in it)."""
        from pyroute2 import IPRoute

        with open(path, "w"):
            pass
        _check(_libc.unshare(CLONE_NEWNET), "unshare")
        try:
            _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), None, MS_BIND, None), "mount netns")
            inner = IPRoute()
            try:
                inner.link("set", index=1, state="up")
                if first is not None:
                    self._make_inside(inner, first)
            finally:
                inner.close()
        finally:
            _check(_libc.setns(self._host_ns, CLONE_NEWNET), "setns back")
        if first is not None:
            self._enslave(first)

    def _make_inside(self, inner, ep: EndpointSpec) -> None:
        """The veth pair from inside the container's namespace: ifname here, its peer in ours."""
        inner.link("add", ifname=ep.ifname, kind="veth", address=ep.mac, mtu=ep.mtu,
                   peer={"ifname": ep.host_ifname, "net_ns_fd": self._host_ns, "mtu": ep.mtu})
        idx = inner.link_lookup(ifname=ep.ifname)[0]
        inner.addr("add", index=idx, address=str(ep.address), prefixlen=ep.prefixlen)
        inner.link("set", index=idx, state="up")
        if ep.gateway is not None:
            inner.route("add", dst="0.0.0.0/0", gateway=str(ep.gateway))

    def _enslave(self, ep: EndpointSpec) -> None:
        with self._lock:
            host = self._ipr.link_lookup(ifname=ep.host_ifname)[0]
            bridge = self._ipr.link_lookup(ifname=ep.bridge)[0]
            self._ipr.link("set", index=host, master=bridge, state="up")

    @staticmethod
    def delete_netns(path: str) -> None:
        if _libc.umount2(path.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
            err = ctypes.get_errno()
            raise OSError(err, f"umount {path}: {os.strerror(err)}")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def add_endpoint(self, netns_path: str, ep: EndpointSpec) -> None:
        """veth pair: `ifname` made inside the container's namespace, its peer here on the bridge."""
        from pyroute2 import IPRoute

        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), "setns")
            try:
                inner = IPRoute()
                try:
                    self._make_inside(inner, ep)
                finally:
                    inner.close()
            finally:
                _check(_libc.setns(self._host_ns, CLONE_NEWNET), "setns back")
        finally:
            os.close(fd)
        self._enslave(ep)

    def remove_endpoint_in(self, netns_path: str, ifname: str) -> None:
        """Delete a container's interface (its veth peer goes with it), the namespace kept."""
        from pyroute2 import IPRoute

        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), "setns")
            try:
                inner = IPRoute()
                try:
                    found = inner.link_lookup(ifname=ifname)
                    if found:
                        inner.link("del", index=found[0])
                finally:
                    inner.close()
            finally:
                _check(_libc.setns(self._host_ns, CLONE_NEWNET), "setns back")
        finally:
            os.close(fd)


def set_ip_forward() -> None:
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("1\n")
