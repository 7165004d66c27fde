"""/etc/hosts and /etc/resolv.conf of a networked container, written like docker's."""

from __future__ import annotations

import os

DEFAULT_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                 "ff02::2\tip6-allrouters\n")

EMBEDDED_DNS = "127.0.0.11"


def hosts_text(ip: str, hostname: str, domainname: str, extra_hosts: list[str],
               links: list[tuple[str, list[str]]], gateway: str) -> str:
    out = DEFAULT_HOSTS
    for entry in extra_hosts:
        # docker's --add-host takes host:ip (and host=ip since 25); host-gateway is the bridge's address.
        sep = "=" if "=" in entry else ":"
        host, _, addr = entry.partition(sep)
        if addr == "host-gateway":
            addr = gateway
        out += f"{addr}\t{host}\n"
    for addr, names in links:
        out += f"{addr}\t{' '.join(names)}\n"
    if ip:
        names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
        out += f"{ip}\t{names}\n"
    return out


def host_resolvers(path: str = "/etc/resolv.conf") -> tuple[list[str], list[str], list[str]]:
    """nameservers, search domains and options of the host."""
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver":
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            options += fields[1:]
    return servers, search, options


def _is_loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr == "::1"


def resolv_text(embedded: bool, dns: list[str], search: list[str], options: list[str]) -> str:
    """Default bridge: the host's resolvers minus loopback ones (8.8.8.8/8.8.4.4 if none
    remain); user networks: the embedded DNS with ndots:0, as docker writes them."""
    host_servers, host_search, host_options = host_resolvers()
    lines: list[str] = []
    domains = search or host_search
    if domains:
        lines.append("search " + " ".join(domains))
    if embedded:
        lines.append(f"nameserver {EMBEDDED_DNS}")
        opts = list(options or host_options)
        if not any(o.startswith("ndots:") for o in opts):
            opts.append("ndots:0")
        lines.append("options " + " ".join(opts))
    else:
        servers = dns or [s for s in host_servers if not _is_loopback(s)] or ["8.8.8.8", "8.8.4.4"]
        lines += [f"nameserver {s}" for s in servers]
        opts = options or host_options
        if opts:
            lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"


def upstream_servers(dns: list[str]) -> list[str]:
    """Where the embedded DNS forwards what it does not know: --dns, else the host's."""
    return dns or host_resolvers()[0] or ["8.8.8.8", "8.8.4.4"]


def write_atomic(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)
