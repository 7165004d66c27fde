"""Legacy --link on the default bridge: the hosts entry and docker's environment variables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Link:
    name: str      # linked container's name, without slash
    alias: str


def parse_links(links: list[str]) -> list[Link]:
    """HostConfig.Links entries: "web:alias", "web" or docker's stored "/web:/me/alias"."""
    out = []
    for item in links or []:
        name, _, alias = item.partition(":")
        name = name.lstrip("/")
        alias = alias.rsplit("/", 1)[-1] if alias else name
        out.append(Link(name, alias))
    return out


def _port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return (int(port) if port.isdigit() else 0, proto or "tcp")


def link_env(me: str, link: Link, ip: str, exposed: dict | None, env: list[str] | None) -> list[str]:
    """ALIAS_NAME, ALIAS_PORT*, ALIAS_ENV_* as docker's links package writes them."""
    prefix = link.alias.upper().replace("-", "_")
    out = [f"{prefix}_NAME=/{me.lstrip('/')}/{link.alias}"]
    ports = sorted((exposed or {}).keys(), key=_port_key)
    if ports:
        first_port, first_proto = _port_key(ports[0])
        out.append(f"{prefix}_PORT={first_proto}://{ip}:{first_port}")
    for key in ports:
        port, proto = _port_key(key)
        base = f"{prefix}_PORT_{port}_{proto.upper()}"
        out += [f"{base}={proto}://{ip}:{port}", f"{base}_ADDR={ip}", f"{base}_PORT={port}",
                f"{base}_PROTO={proto}"]
    for item in env or []:
        key, sep, value = item.partition("=")
        if not sep or key in ("HOME", "PATH"):
            continue
        out.append(f"{prefix}_ENV_{key}={value}")
    return out
