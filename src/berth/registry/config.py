"""The registry's settings: command-line flags over a YAML file.

The file uses distribution's (the CNCF registry's) layout for the settings both
have, so an existing `config.yml` mostly carries over; `auth.acl` is Berth's
addition (per-repository pull/push). Keys Berth does not implement are refused
with a clear error instead of being silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ConfigError(Exception):
    """A setting that is missing, malformed or not supported."""


def parse_duration(text: Any, what: str) -> float:
    """Go's time.ParseDuration ("168h", "1h30m", "500ms"); a bare number is seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ConfigError(f"invalid duration for {what}: {text!r}")
    return total


@dataclass
class AclEntry:
    """`account` may be a user name, "*" (any authenticated user) or "anonymous"."""

    account: str
    name: str  # a repository name or a glob ("team/*", "*")
    actions: frozenset[str]


@dataclass
class RegistryConfig:
    addr: str = "127.0.0.1:5000"
    root: str = ""
    relative_urls: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    delete_enabled: bool = False
    read_only: bool = False
    purge_enabled: bool = True
    purge_age: float = 168 * 3600.0
    purge_interval: float = 24 * 3600.0
    htpasswd_path: str = ""
    htpasswd_realm: str = "Berth Registry"
    token_realm: str = ""
    token_service: str = "berth-registry"
    token_issuer: str = "berth-registry"
    token_expiration: float = 300.0
    token_secret_file: str = ""
    token_rootcertbundle: str = ""
    acl: list[AclEntry] = field(default_factory=list)
    log_level: str = "info"

    @property
    def auth_mode(self) -> str:
        if self.token_realm:
            return "token"
        if self.htpasswd_path:
            return "htpasswd"
        return "none"

    def validate(self) -> None:
        if not self.root:
            raise ConfigError("a storage root is required (--root or storage.filesystem.rootdirectory)")
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(f"invalid listen address {self.addr!r}: expected HOST:PORT")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("TLS needs both a certificate and a key")
        if self.token_rootcertbundle and not self.token_realm:
            raise ConfigError("auth.token.rootcertbundle needs auth.token.realm (the external token service)")
        if (self.token_realm and not self.token_rootcertbundle and not self.htpasswd_path
                and not any(e.account == "anonymous" for e in self.acl)):
            raise ConfigError("token auth needs an htpasswd file to check the token endpoint's "
                              "credentials (or an ACL entry for account \"anonymous\")")
        if self.acl and self.auth_mode == "none":
            raise ConfigError("an ACL needs an auth method (htpasswd or token)")
        if self.purge_age <= 0 or self.purge_interval <= 0:
            raise ConfigError("upload purging age and interval must be positive")


def _section(doc: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unsupported setting(s) {', '.join(unknown)} "
                          f"(supported: {', '.join(sorted(allowed))})")
    return doc


def _acl(entries: Any) -> list[AclEntry]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError("auth.acl: expected a list")
    out = []
    for i, raw in enumerate(entries):
        e = _section(raw, f"auth.acl[{i}]", {"account", "name", "actions"})
        actions = e.get("actions", [])
        if isinstance(actions, str):
            actions = [a.strip() for a in actions.split(",")]
        bad = [a for a in actions if a not in ("pull", "push", "delete", "*")]
        if bad or "account" not in e or "name" not in e:
            raise ConfigError(f"auth.acl[{i}]: needs account, name and actions from pull, push, delete, *")
        acts = {"pull", "push", "delete"} if "*" in actions else set(actions)
        out.append(AclEntry(str(e["account"]), str(e["name"]), frozenset(acts)))
    return out


def load_file(path: str, cfg: RegistryConfig) -> None:
    """Fill `cfg` from a YAML file in distribution's layout."""
    import yaml

    try:
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    top = _section(doc, "config", {"version", "log", "http", "storage", "auth"})
    log = _section(top.get("log"), "log", {"level"})
    cfg.log_level = str(log.get("level", cfg.log_level))
    http = _section(top.get("http"), "http", {"addr", "tls", "relativeurls"})
    cfg.addr = str(http.get("addr", cfg.addr))
    cfg.relative_urls = bool(http.get("relativeurls", cfg.relative_urls))
    tls = _section(http.get("tls"), "http.tls", {"certificate", "key"})
    cfg.tls_cert = str(tls.get("certificate", cfg.tls_cert))
    cfg.tls_key = str(tls.get("key", cfg.tls_key))
    storage = _section(top.get("storage"), "storage", {"filesystem", "delete", "maintenance"})
    fs = _section(storage.get("filesystem"), "storage.filesystem", {"rootdirectory"})
    cfg.root = str(fs.get("rootdirectory", cfg.root))
    delete = _section(storage.get("delete"), "storage.delete", {"enabled"})
    cfg.delete_enabled = bool(delete.get("enabled", cfg.delete_enabled))
    maint = _section(storage.get("maintenance"), "storage.maintenance", {"uploadpurging", "readonly"})
    readonly = _section(maint.get("readonly"), "storage.maintenance.readonly", {"enabled"})
    cfg.read_only = bool(readonly.get("enabled", cfg.read_only))
    purge = _section(maint.get("uploadpurging"), "storage.maintenance.uploadpurging",
                     {"enabled", "age", "interval", "dryrun"})
    if purge.get("dryrun"):
        raise ConfigError("storage.maintenance.uploadpurging.dryrun is not supported")
    cfg.purge_enabled = bool(purge.get("enabled", cfg.purge_enabled))
    if "age" in purge:
        cfg.purge_age = parse_duration(purge["age"], "uploadpurging.age")
    if "interval" in purge:
        cfg.purge_interval = parse_duration(purge["interval"], "uploadpurging.interval")
    auth = _section(top.get("auth"), "auth", {"htpasswd", "token", "acl"})
    htp = _section(auth.get("htpasswd"), "auth.htpasswd", {"realm", "path"})
    cfg.htpasswd_path = str(htp.get("path", cfg.htpasswd_path))
    cfg.htpasswd_realm = str(htp.get("realm", cfg.htpasswd_realm))
    tok = _section(auth.get("token"), "auth.token",
                   {"realm", "service", "issuer", "expiration", "secretfile", "rootcertbundle"})
    cfg.token_realm = str(tok.get("realm", cfg.token_realm))
    cfg.token_service = str(tok.get("service", cfg.token_service))
    cfg.token_issuer = str(tok.get("issuer", cfg.token_issuer))
    if "expiration" in tok:
        cfg.token_expiration = parse_duration(tok["expiration"], "auth.token.expiration")
    cfg.token_secret_file = str(tok.get("secretfile", cfg.token_secret_file))
    cfg.token_rootcertbundle = str(tok.get("rootcertbundle", cfg.token_rootcertbundle))
    cfg.acl = _acl(auth.get("acl"))
