"""Files the daemon prepares for a container, and checks inside its rootfs.

The rootfs comes from an image and is treated as hostile: paths inside it
are resolved by hand so that a symlink can never lead outside of it.
"""

from __future__ import annotations

import os
import posixpath
import stat

from berth.errors import InvalidParameter

MAX_SYMLINKS = 40


def resolve_in_root(root: str, path: str) -> str:
    """Host path of `path` inside `root`, following symlinks as if root were /."""
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except OSError:
            resolved.append(part)
            resolved.extend(p for p in parts if p not in ("", "."))
            break
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise InvalidParameter(f"too many levels of symbolic links: {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _executable(host_path: str) -> bool:
    try:
        st = os.stat(host_path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)


def check_command(root: str, cmd: str, env: list[str], workdir: str) -> None:
    """Fail like docker when the command cannot be executed in the container."""
    if "/" in cmd:
        full = cmd if cmd.startswith("/") else posixpath.join(workdir or "/", cmd)
        host = resolve_in_root(root, full)
        if not os.path.lexists(host):
            raise InvalidParameter(f'exec: "{cmd}": stat {cmd}: no such file or directory')
        if os.path.isdir(host):
            raise InvalidParameter(f'exec: "{cmd}": is a directory')
        if not _executable(host):
            raise InvalidParameter(f'exec: "{cmd}": permission denied')
        return
    search = next((e[5:] for e in env if e.startswith("PATH=")),
                  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    for d in search.split(":"):
        if _executable(resolve_in_root(root, posixpath.join(d or ".", cmd))):
            return
    raise InvalidParameter(f'exec: "{cmd}": executable file not found in $PATH')


def write_etc_files(state_dir: str, hostname: str, domainname: str, extra_hosts: list[str],
                    dns: list[str], dns_search: list[str], dns_options: list[str]) -> dict[str, str]:
    """hostname, hosts and resolv.conf as docker writes them; returns name -> host path."""
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    files = {
        "hostname": fqdn + "\n",
        "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                 "ff02::2\tip6-allrouters\n",
        "resolv.conf": _resolv_conf(dns, dns_search, dns_options),
    }
    for entry in extra_hosts:
        host, _, ip = entry.partition(":")
        files["hosts"] += f"{ip}\t{host}\n"
    paths = {}
    for name, text in files.items():
        path = os.path.join(state_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
        paths[name] = path
    return paths


def _resolv_conf(dns: list[str], search: list[str], options: list[str]) -> str:
    """The host's resolv.conf, minus loopback resolvers a container cannot reach."""
    host_lines: list[str] = []
    try:
        with open("/etc/resolv.conf") as f:
            host_lines = f.read().splitlines()
    except OSError:
        pass
    out: list[str] = []
    servers = list(dns)
    if not servers:
        for line in host_lines:
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver" and not fields[1].startswith("127."):
                servers.append(fields[1])
        if not servers:
            servers = ["8.8.8.8", "8.8.4.4"]
    if search:
        out.append("search " + " ".join(search))
    else:
        out += [line for line in host_lines if line.startswith("search ")]
    out += [f"nameserver {s}" for s in servers]
    if options:
        out.append("options " + " ".join(options))
    else:
        out += [line for line in host_lines if line.startswith("options ")]
    return "\n".join(out) + "\n"
