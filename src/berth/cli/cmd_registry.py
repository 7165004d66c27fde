"""`berth registry serve` and `berth registry gc`: run a registry, collect its garbage.

These do not talk to berthd: the registry is a standalone server
(berth.registry) that any docker or OCI client can use.
"""

from __future__ import annotations

from .command import Cli, CliError, Command
from .flags import FlagSet, Values


def _serve_flags(fs: FlagSet) -> None:
    fs.string("addr", "", "Address to listen on (HOST:PORT)", default="127.0.0.1:5000")
    fs.string("root", "", "Storage root directory")
    fs.string("config", "", "YAML configuration file (distribution's layout; flags override it)")
    fs.string("htpasswd", "", "htpasswd file with bcrypt entries: require Basic auth")
    fs.string("realm", "", 'Realm of the Basic challenge (default "Berth Registry")')
    fs.string("token-realm", "", "Issue and require bearer tokens; URL of the token endpoint this server answers")
    fs.string("token-service", "", 'Service name in the bearer challenge (default "berth-registry")')
    fs.string("tls-cert", "", "TLS certificate file (PEM)")
    fs.string("tls-key", "", "TLS private key file (PEM)")
    fs.bool("delete-enabled", "", "Allow deleting manifests, tags and blobs")
    fs.bool("read-only", "", "Refuse every write (lets `berth registry gc` run while serving pulls)")
    fs.string("upload-purge-age", "", 'Purge uploads idle longer than this (default "168h")')
    fs.string("upload-purge-interval", "", 'How often to look for stale uploads (default "24h")')
    fs.string("log-level", "", 'Log level ("debug" logs every request)', default="info")


def _config(v: Values) -> object:
    from berth.registry.config import (
        ConfigError,
        RegistryConfig,
        load_file,
        parse_duration,
    )

    cfg = RegistryConfig()
    try:
        if v.config:
            load_file(v.config, cfg)
        for flag, attr in (("addr", "addr"), ("root", "root"), ("htpasswd", "htpasswd_path"),
                           ("realm", "htpasswd_realm"), ("token-realm", "token_realm"),
                           ("token-service", "token_service"), ("tls-cert", "tls_cert"),
                           ("tls-key", "tls_key"), ("log-level", "log_level")):
            if v.was_set(flag):
                setattr(cfg, attr, getattr(v, flag.replace("-", "_")))
        if v.was_set("delete-enabled"):
            cfg.delete_enabled = v.delete_enabled
        if v.was_set("read-only"):
            cfg.read_only = v.read_only
        if v.upload_purge_age:
            cfg.purge_age = parse_duration(v.upload_purge_age, "--upload-purge-age")
        if v.upload_purge_interval:
            cfg.purge_interval = parse_duration(v.upload_purge_interval, "--upload-purge-interval")
        cfg.validate()
    except ConfigError as exc:
        raise CliError(f"berth registry: {exc}") from None
    return cfg


def _serve(cli: Cli, v: Values, args: list[str]) -> int:
    import asyncio
    import logging
    import sys

    from berth.registry.app import serve

    cfg = _config(v)
    logging.basicConfig(level=logging.DEBUG if cfg.log_level == "debug" else logging.INFO,  # type: ignore[attr-defined]
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)

    def ready(url: str) -> None:
        cli.err.write(f"berth registry listening on {url} (root {cfg.root}, auth {cfg.auth_mode})\n")  # type: ignore[attr-defined]
        cli.err.flush()

    try:
        asyncio.run(serve(cfg, ready))  # type: ignore[arg-type]
    except OSError as exc:
        raise CliError(f"berth registry: listen {cfg.addr}: {exc.strerror or exc}") from None  # type: ignore[attr-defined]
    except ValueError as exc:  # an unreadable or non-bcrypt htpasswd file
        raise CliError(f"berth registry: {exc}") from None
    return 0


def _gc_flags(fs: FlagSet) -> None:
    fs.string("root", "", "Storage root directory")
    fs.string("config", "", "YAML configuration file (for its storage root)")
    fs.bool("dry-run", "d", "Only print what would be deleted")
    fs.bool("delete-untagged", "m", "Also delete manifests that no tag reaches")
    fs.bool("quiet", "q", "Print only the summary")


def _gc(cli: Cli, v: Values, args: list[str]) -> int:
    from berth.registry.config import ConfigError, RegistryConfig, load_file
    from berth.registry.gc import GcError, collect

    cfg = RegistryConfig()
    try:
        if v.config:
            load_file(v.config, cfg)
    except ConfigError as exc:
        raise CliError(f"berth registry gc: {exc}") from None
    root = v.root or cfg.root
    if not root:
        raise CliError("berth registry gc: a storage root is required (--root or --config)")
    import os

    if not os.path.isdir(root):
        raise CliError(f"berth registry gc: {root}: no such directory")

    def say(line: str) -> None:
        if not v.quiet or not line.startswith(("marking", " ")) and ": marking" not in line:
            cli.out.write(line + "\n")

    try:
        result = collect(root, dry_run=v.dry_run, delete_untagged=v.delete_untagged, say=say)
    except GcError as exc:
        raise CliError(f"berth registry gc: {exc}") from None
    verb = "would free" if v.dry_run else "freed"
    cli.out.write(f"{verb} {result.bytes_freed} bytes\n")
    return 0


_SERVE_HELP = """Configuration file (distribution's layout; auth.acl is Berth's):

  http:
    addr: 0.0.0.0:5000
    tls: {certificate: /etc/reg/cert.pem, key: /etc/reg/key.pem}
  storage:
    filesystem: {rootdirectory: /var/lib/berth-registry}
    delete: {enabled: true}
    maintenance:
      uploadpurging: {enabled: true, age: 168h, interval: 24h}
      readonly: {enabled: false}
  auth:
    htpasswd: {realm: Registry, path: /etc/reg/htpasswd}   # bcrypt (htpasswd -B)
    token:                       # bearer tokens from this server's own endpoint
      realm: https://reg.example:5000/token
      service: reg.example
      expiration: 5m
      # rootcertbundle: /etc/reg/issuer.pem  (verify an external token service instead)
    acl:
      - {account: ci, name: "team/*", actions: [pull, push]}
      - {account: "*", name: "*", actions: [pull]}         # any authenticated account
      - {account: anonymous, name: "public/*", actions: [pull]}
"""


def serve_command() -> Command:
    return Command("serve", "[OPTIONS]", "Run a registry (OCI Distribution / Docker Registry HTTP API V2)",
                   _serve, _serve_flags, args=("none",), extra_help=_SERVE_HELP)


def gc_command() -> Command:
    return Command("gc", "[OPTIONS]", "Delete blobs that no manifest references (stop the server first)",
                   _gc, _gc_flags, args=("none",))
