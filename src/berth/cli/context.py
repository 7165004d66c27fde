"""Client contexts: named daemon endpoints kept on disk in docker's layout.

A context is `<config>/contexts/meta/<sha256(name)>/meta.json` plus optional TLS
files under `<config>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`;
the current one is `currentContext` in `<config>/config.json`. The layout is
docker's, so a context directory can be copied between `~/.docker` and
`~/.berth`. Which endpoint a command talks to is decided by `resolve_endpoint`:
-H, then --context, then BERTH_HOST/DOCKER_HOST, then BERTH_CONTEXT, then the
current context, then the default socket.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from .command import PROG, CliError, DEFAULT_HOST, getenv

DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = f"Current {PROG.upper()}_HOST based configuration"
NAME_PATTERN = "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"
_NAME_RE = re.compile(NAME_PATTERN)
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


def default_config_dir() -> str:
    return getenv("BERTH_CONFIG") or os.path.join(os.path.expanduser("~"), ".berth")


@dataclass
class Endpoint:
    """Where and how to reach a daemon: the host URL and the TLS settings (or None)."""

    host: str
    tls: dict[str, Any] | None = None


@dataclass
class Context:
    name: str
    host: str
    description: str = ""
    skip_tls_verify: bool = False
    tls_files: list[str] = field(default_factory=list)
    meta_path: str = "<IN MEMORY>"
    tls_path: str = "<IN MEMORY>"

    def endpoint(self) -> Endpoint:
        if not self.tls_files and not self.skip_tls_verify:
            return Endpoint(self.host)
        files = {n: os.path.join(self.tls_path, "docker", n) for n in self.tls_files}
        return Endpoint(self.host, {
            "verify": not self.skip_tls_verify,
            "ca": files.get("ca.pem", ""),
            "cert": files.get("cert.pem", ""),
            "key": files.get("key.pem", ""),
        })

    def inspect(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"Description": self.description} if self.description else {}
        return {
            "Name": self.name,
            "Metadata": meta,
            "Endpoints": {"docker": {"Host": self.host, "SkipTLSVerify": self.skip_tls_verify}},
            "TLSMaterial": {"docker": list(self.tls_files)} if self.tls_files else {},
            "Storage": {"MetadataPath": self.meta_path, "TLSPath": self.tls_path},
        }


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class ContextStore:
    """The contexts under one client config directory."""

    def __init__(self, config_dir: str) -> None:
        self.config_dir = config_dir
        self.meta_root = os.path.join(config_dir, "contexts", "meta")
        self.tls_root = os.path.join(config_dir, "contexts", "tls")

    # -- the current context -------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        try:
            with open(os.path.join(self.config_dir, "config.json")) as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise CliError(f"loading config file: {os.path.join(self.config_dir, 'config.json')}: {exc}") from None
        return data if isinstance(data, dict) else {}

    def current(self) -> str:
        return getenv("BERTH_CONTEXT") or self._config().get("currentContext") or DEFAULT_NAME

    def set_current(self, name: str) -> None:
        config = self._config()
        if name == DEFAULT_NAME:
            config.pop("currentContext", None)
        else:
            config["currentContext"] = name
        config.setdefault("auths", {})
        _write_atomic(os.path.join(self.config_dir, "config.json"),
                      json.dumps(config, indent="\t").encode(), 0o600)

    # -- reading -------------------------------------------------------------------
    def default(self) -> Context:
        from .command import resolve_host

        return Context(DEFAULT_NAME, resolve_host(), DEFAULT_DESCRIPTION)

    def _meta_file(self, name: str) -> str:
        return os.path.join(self.meta_root, _digest(name), "meta.json")

    def get(self, name: str) -> Context:
        if name == DEFAULT_NAME:
            return self.default()
        path = self._meta_file(name)
        try:
            with open(path) as f:
                meta = json.load(f)
        except FileNotFoundError:
            raise CliError(f'context "{name}": context not found: open {path}: no such file or directory') from None
        except ValueError as exc:
            raise CliError(f'context "{name}": parsing {path}: {exc}') from None
        return self._from_meta(meta, os.path.dirname(path))

    def _from_meta(self, meta: dict[str, Any], meta_dir: str) -> Context:
        name = str(meta.get("Name", ""))
        docker = ((meta.get("Endpoints") or {}).get("docker")) or {}
        tls_path = os.path.join(self.tls_root, _digest(name))
        tls_files = [n for n in TLS_FILES if os.path.isfile(os.path.join(tls_path, "docker", n))]
        return Context(
            name=name,
            host=str(docker.get("Host") or ""),
            description=str((meta.get("Metadata") or {}).get("Description") or ""),
            skip_tls_verify=bool(docker.get("SkipTLSVerify")),
            tls_files=tls_files,
            meta_path=meta_dir,
            tls_path=tls_path,
        )

    def list(self) -> list[Context]:
        found = [self.default()]
        try:
            entries = os.listdir(self.meta_root)
        except FileNotFoundError:
            entries = []
        named = []
        for entry in entries:
            path = os.path.join(self.meta_root, entry, "meta.json")
            try:
                with open(path) as f:
                    named.append(self._from_meta(json.load(f), os.path.dirname(path)))
            except (OSError, ValueError):
                continue
        return found + sorted(named, key=lambda c: c.name)

    def exists(self, name: str) -> bool:
        return name == DEFAULT_NAME or os.path.isfile(self._meta_file(name))

    # -- writing -------------------------------------------------------------------
    def save(self, ctx: Context, tls_sources: dict[str, str] | None = None) -> None:
        """Write the context; `tls_sources` maps ca.pem/cert.pem/key.pem to files to copy."""
        meta: dict[str, Any] = {
            "Name": ctx.name,
            "Metadata": {"Description": ctx.description} if ctx.description else {},
            "Endpoints": {"docker": {"Host": ctx.host, "SkipTLSVerify": ctx.skip_tls_verify}},
        }
        tls_dir = os.path.join(self.tls_root, _digest(ctx.name), "docker")
        if tls_sources is not None:
            shutil.rmtree(os.path.dirname(tls_dir), ignore_errors=True)
            for target, source in tls_sources.items():
                with open(source, "rb") as f:
                    data = f.read()
                _write_atomic(os.path.join(tls_dir, target), data, 0o600 if target == "key.pem" else 0o644)
        _write_atomic(self._meta_file(ctx.name), json.dumps(meta, separators=(",", ":")).encode())

    def remove(self, name: str) -> None:
        shutil.rmtree(os.path.dirname(self._meta_file(name)), ignore_errors=True)
        shutil.rmtree(os.path.join(self.tls_root, _digest(name)), ignore_errors=True)


def validate_name(name: str) -> None:
    if name == DEFAULT_NAME:
        raise CliError(f'"{DEFAULT_NAME}" is a reserved context name')
    if not _NAME_RE.match(name):
        raise CliError(f'context name "{name}" is invalid, names are validated against regexp "{NAME_PATTERN}"')


def _env_tls(flags: dict[str, Any]) -> dict[str, Any] | None:
    """TLS from the global flags, BERTH_TLS_VERIFY/DOCKER_TLS_VERIFY and *_CERT_PATH, as docker."""
    env_verify = bool(getenv("BERTH_TLS_VERIFY") or getenv("DOCKER_TLS_VERIFY"))
    verify = bool(flags.get("tlsverify")) or env_verify
    use = verify or bool(flags.get("tls")) or any(flags.get(k) for k in ("tlscacert", "tlscert", "tlskey"))
    if not use:
        return None
    cert_dir = getenv("BERTH_CERT_PATH") or getenv("DOCKER_CERT_PATH") or default_config_dir()

    def pick(key: str, filename: str) -> str:
        given = flags.get(key) or ""
        if given:
            return given
        path = os.path.join(cert_dir, filename)
        return path if os.path.isfile(path) else ""

    return {"verify": verify, "ca": pick("tlscacert", "ca.pem"),
            "cert": pick("tlscert", "cert.pem"), "key": pick("tlskey", "key.pem")}


def resolve_endpoint(hosts: list[str], context: str, config_dir: str, tls_flags: dict[str, Any]) -> Endpoint:
    """Decide the daemon endpoint for this invocation, following docker's precedence."""
    if hosts and context:
        raise CliError("conflicting options: cannot specify both --host and --context")
    tls = _env_tls(tls_flags)
    if hosts:
        return Endpoint(hosts[0], tls)
    store = ContextStore(config_dir)
    if not context:
        env_host = getenv("BERTH_HOST") or getenv("DOCKER_HOST")
        if env_host:
            return Endpoint(env_host, tls)
        context = store.current()
    if context == DEFAULT_NAME:
        return Endpoint(DEFAULT_HOST, tls)
    try:
        return store.get(context).endpoint()
    except CliError as exc:
        raise CliError(f"Failed to initialize: unable to resolve {PROG} endpoint: {exc.message}") from None
