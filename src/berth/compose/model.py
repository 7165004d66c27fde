"""The loaded project: typed records over the normalised compose model.

Each record keeps the normalised mapping (`config`) the loader produced (what `compose
config` prints and what the config hash covers) and exposes the fields the engine needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import ComposeError


@dataclass
class Service:
    name: str
    config: dict

    @property
    def image(self) -> str:
        return self.config.get("image", "")

    @property
    def build(self) -> dict | None:
        return self.config.get("build")

    @property
    def replicas(self) -> int:
        if "scale" in self.config:
            return int(self.config["scale"])
        deploy = self.config.get("deploy") or {}
        if deploy.get("replicas") is not None:
            return int(deploy["replicas"])
        return 1

    @property
    def depends_on(self) -> dict[str, dict]:
        return self.config.get("depends_on") or {}

    @property
    def networks(self) -> dict[str, Any]:
        return self.config.get("networks") or {}

    @property
    def profiles(self) -> list[str]:
        return self.config.get("profiles") or []


@dataclass
class Network:
    key: str
    name: str
    config: dict

    @property
    def external(self) -> bool:
        return bool(self.config.get("external"))


@dataclass
class Volume:
    key: str
    name: str
    config: dict

    @property
    def external(self) -> bool:
        return bool(self.config.get("external"))


@dataclass
class Secret:
    key: str
    config: dict


@dataclass
class Config:
    key: str
    config: dict


@dataclass
class Project:
    name: str
    working_dir: str
    config_files: list[str]
    environment: dict[str, str]
    services: dict[str, Service] = field(default_factory=dict)
    disabled: dict[str, Service] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    configs: dict[str, Config] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        if name in self.services:
            return self.services[name]
        if name in self.disabled:
            return self.disabled[name]
        raise ComposeError(f"no such service: {name}")

    def service_names(self) -> list[str]:
        return list(self.services)

    def with_dependencies(self, names: list[str], include_deps: bool = True) -> list[str]:
        """`names` plus (transitively) what they depend on, in dependency order."""
        wanted: list[str] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            if include_deps:
                for dep in self.service(n).depends_on:
                    if dep in self.services:
                        visit(dep)
            wanted.append(n)

        for n in names:
            self.service(n)
            visit(n)
        return wanted

    def dependency_levels(self, names: list[str]) -> Iterator[list[str]]:
        """Groups of services that can start together, dependencies first."""
        remaining = list(names)
        done: set[str] = set()
        while remaining:
            level = [n for n in remaining
                     if all(d in done or d not in remaining for d in self.service(n).depends_on)]
            if not level:
                raise ComposeError("dependency cycle among " + ", ".join(remaining))
            yield level
            done.update(level)
            remaining = [n for n in remaining if n not in level]

    def to_dict(self) -> dict:
        """The normalised model in compose v2's `config` layout."""
        out: dict[str, Any] = {"name": self.name, "services": {n: s.config for n, s in self.services.items()}}
        if self.networks:
            out["networks"] = {k: n.config for k, n in self.networks.items()}
        if self.volumes:
            out["volumes"] = {k: v.config for k, v in self.volumes.items()}
        if self.secrets:
            out["secrets"] = {k: s.config for k, s in self.secrets.items()}
        if self.configs:
            out["configs"] = {k: c.config for k, c in self.configs.items()}
        out.update(self.extras)
        return out
