"""berthd: the daemon's command line (dockerd's flag names) and its servers."""

from __future__ import annotations

import argparse
import asyncio
import grp
import ipaddress
import json
import logging
import os
import signal
import socket
import ssl
import sys
from urllib.parse import urlparse

from berth import __version__
from berth.daemon.daemon import Daemon, DaemonConfig
from berth.errors import BerthError

log = logging.getLogger("berth.daemon")

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berthd", description="A self-sufficient runtime for containers")
    p.add_argument("-H", "--host", action="append", default=None, help="Daemon socket(s) to connect to")
    p.add_argument("--data-root", default=None, help="Root directory of persistent state")
    p.add_argument("--exec-root", default=None, help="Root directory for execution state files")
    p.add_argument("-p", "--pidfile", default=None, help="Path to use for daemon PID file")
    p.add_argument("--config-file", default="/etc/berth/daemon.json", help="Daemon configuration file")
    p.add_argument("--default-runtime", default=None, help="Default OCI runtime for containers")
    p.add_argument("-l", "--log-level", default=None, choices=LOG_LEVELS, help="Set the logging level")
    p.add_argument("--bip", default=None, help="Specify default-bridge IP")
    p.add_argument("--iptables", type=_bool, nargs="?", const=True, default=None)
    p.add_argument("--userland-proxy", type=_bool, nargs="?", const=True, default=None)
    p.add_argument("--ip-forward", type=_bool, nargs="?", const=True, default=None)
    p.add_argument("--insecure-registry", action="append", default=None)
    p.add_argument("--max-concurrent-downloads", type=int, default=None,
                   help="Set the max concurrent downloads (default 3)")
    p.add_argument("--max-concurrent-uploads", type=int, default=None,
                   help="Set the max concurrent uploads (default 5)")
    p.add_argument("--tls", type=_bool, nargs="?", const=True, default=None)
    p.add_argument("--tlsverify", type=_bool, nargs="?", const=True, default=None)
    p.add_argument("--tlscacert", default=None)
    p.add_argument("--tlscert", default=None)
    p.add_argument("--tlskey", default=None)
    p.add_argument("-G", "--group", default=None, help="Group for the unix socket")
    p.add_argument("--log-driver", default=None, help="Default driver for container logs")
    p.add_argument("--log-opt", action="append", default=None, help="Default log driver options (key=value)")
    p.add_argument("--userns-remap", default=None, help="User/Group setting for user namespaces")
    p.add_argument("-v", "--version", action="store_true", help="Print version information and quit")
    return p


# daemon.json keys, as dockerd names them, and where they go
FILE_KEYS = {
    "hosts": "hosts", "data-root": "data_root", "exec-root": "exec_root", "pidfile": "pidfile",
    "default-runtime": "default_runtime", "log-level": "log_level", "bip": "bip",
    "iptables": "iptables", "userland-proxy": "userland_proxy", "ip-forward": "ip_forward",
    "insecure-registries": "insecure_registries", "tls": "tls", "tlsverify": "tlsverify",
    "tlscacert": "tlscacert", "tlscert": "tlscert", "tlskey": "tlskey", "group": "group",
    "runtimes": "runtimes", "log-driver": "log_driver", "log-opts": "log_opts",
    "max-concurrent-downloads": "max_concurrent_downloads", "max-concurrent-uploads": "max_concurrent_uploads",
    "userns-remap": "userns_remap",
}
FLAG_OF = {"hosts": "host", "insecure_registries": "insecure_registry", "log_opts": "log_opt"}


def load_config(args: argparse.Namespace, explicit_file: bool) -> DaemonConfig:
    cfg = DaemonConfig()
    file_doc: dict = {}
    if os.path.exists(args.config_file):
        try:
            with open(args.config_file) as f:
                file_doc = json.load(f)
        except ValueError as e:
            raise SystemExit(f"berthd: unable to configure the daemon: invalid JSON in {args.config_file}: {e}")
    elif explicit_file:
        raise SystemExit(f"berthd: unable to configure the daemon: open {args.config_file}: no such file or directory")
    unknown = [k for k in file_doc if k not in FILE_KEYS]
    if unknown:
        raise SystemExit(f"berthd: unable to configure the daemon: the following directives don't match any "
                         f"configuration option: {', '.join(sorted(unknown))}")
    conflicts = []
    for key, attr in FILE_KEYS.items():
        if key not in file_doc:
            continue
        value = file_doc[key]
        if getattr(args, FLAG_OF.get(attr, attr), None) is not None:
            conflicts.append(f"{key}: (from flag: {getattr(args, FLAG_OF.get(attr, attr))}, from file: {value})")
            continue
        if attr == "runtimes":
            value = {name: spec.get("path", name) for name, spec in value.items()}
        setattr(cfg, attr, value)
    if conflicts:
        raise SystemExit("berthd: unable to configure the daemon: the following directives are specified both "
                         "as a flag and in the configuration file: " + ", ".join(conflicts))
    for attr in ("data_root", "exec_root", "pidfile", "default_runtime", "log_level", "bip", "iptables",
                 "userland_proxy", "ip_forward", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey", "group",
                 "userns_remap"):
        value = getattr(args, attr)
        if value is not None:
            setattr(cfg, attr, value)
    if args.host:
        cfg.hosts = args.host
    if args.insecure_registry:
        cfg.insecure_registries = args.insecure_registry
    for attr in ("max_concurrent_downloads", "max_concurrent_uploads"):
        if getattr(args, attr) is not None:
            if getattr(args, attr) < 1:
                raise SystemExit(f"invalid --{attr.replace('_', '-')}: must be at least 1")
            setattr(cfg, attr, getattr(args, attr))
    if args.log_driver:
        cfg.log_driver = args.log_driver
    if args.log_opt:
        cfg.log_opts = dict(opt.split("=", 1) for opt in args.log_opt if "=" in opt)
    if not cfg.pidfile:
        cfg.pidfile = os.path.join(cfg.exec_root, "berthd.pid")
    return cfg


def claim_pidfile(path: str) -> None:
    """One daemon per pidfile: refuse to start while the recorded pid lives."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        with open(path) as f:
            old = int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        old = 0
    if old and old != os.getpid():
        try:
            os.kill(old, 0)
            with open(f"/proc/{old}/cmdline", "rb") as f:
                cmdline = f.read()
            alive = b"berthd" in cmdline or b"berth.daemon" in cmdline
        except OSError:
            alive = False
        if alive:
            raise SystemExit(f"berthd: pid file found, ensure berthd is not running or delete {path}")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(os.getpid()))
    os.rename(tmp, path)


_DATA_ROOT_LOCK: list[int] = []  # the lock's fd stays open for the daemon's life


def lock_data_root(data_root: str) -> None:
    """One daemon per data root, whatever its pidfile: two would corrupt each other's state."""
    import fcntl

    os.makedirs(data_root, exist_ok=True)
    fd = os.open(os.path.join(data_root, "berthd.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise SystemExit(f"berthd: another berthd (pid {holder}) is using the data root {data_root}; "
                         "stop it first, or give this one its own --data-root") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _DATA_ROOT_LOCK.append(fd)


async def serve(daemon: Daemon, cfg: DaemonConfig) -> None:
    from aiohttp import web

    from berth.api.app import make_app

    app = make_app(daemon)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    for host in cfg.hosts:
        url = urlparse(host if "://" in host else "unix://" + host)
        if url.scheme in ("unix", ""):
            path = url.path or "/run/berth/berth.sock"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(path)
            os.chmod(path, 0o660)
            os.chown(path, 0, _socket_group(cfg.group or "berth", explicit=bool(cfg.group) and cfg.group != "berth"))
            site = web.SockSite(runner, sock, backlog=_BACKLOG)
            await site.start()
            log.info("API listening on %s", path)
        elif url.scheme == "fd":
            for sock in _activation_sockets():
                await web.SockSite(runner, sock, backlog=_BACKLOG).start()
                log.info("API listening on systemd socket %s", sock.getsockname())
        elif url.scheme == "tcp":
            tls_ctx = _tls_context(cfg)
            hostname = url.hostname or "127.0.0.1"
            if tls_ctx is None and not _is_loopback(hostname) and cfg.tls is not False:
                raise SystemExit(f"berthd: refusing to listen on {host} without TLS: use --tlsverify with "
                                 "certificates, or --tls=false to accept an unauthenticated socket")
            if tls_ctx is None and not _is_loopback(hostname):
                msg = f"API listening on {host} without TLS: anyone who can reach it has root on this host"
                log.warning(msg)
                daemon.warnings.append("WARNING: " + msg)
            site = web.TCPSite(runner, hostname, url.port or (2376 if tls_ctx else 2375), ssl_context=tls_ctx,
                               backlog=_BACKLOG)
            await site.start()
            log.info("API listening on %s", host)
        else:
            raise SystemExit(f"berthd: invalid host {host!r}: use unix:///path or tcp://host:port")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down; containers keep running (live-restore)")
    await runner.cleanup()


def _listen_backlog() -> int:
    """The kernel's somaxconn, as Go's listeners use: bursts of hundreds of clients
    (compose, CI) must queue, not fail with EAGAIN on a full unix-socket backlog."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(128, int(f.read()))
    except (OSError, ValueError):
        return 4096


_BACKLOG = _listen_backlog()


def _socket_group(name: str, explicit: bool) -> int:
    """The gid owning the API socket: members of it may use berthd.

    The default group `berth` is created when missing (as the packages' setup
    would); a group named with -G must exist.
    """
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        pass
    if explicit:
        raise SystemExit(f"berthd: can't create unix socket: group {name} not found")
    import subprocess

    res = subprocess.run(["groupadd", "--system", name], capture_output=True, text=True)
    if res.returncode not in (0, 9):  # 9: created meanwhile by someone else
        log.warning("could not create group %s for the API socket (%s); the socket stays root-only",
                    name, res.stderr.strip())
        return 0
    log.info("created group %s: its members may use the API socket", name)
    return grp.getgrnam(name).gr_gid


def _activation_sockets() -> list[socket.socket]:
    """Sockets passed by systemd socket activation (LISTEN_FDS from fd 3 on)."""
    if os.environ.get("LISTEN_PID") not in (None, str(os.getpid())):
        return []
    count = int(os.environ.get("LISTEN_FDS", "0") or 0)
    if count == 0:
        raise SystemExit("berthd: -H fd:// given but no sockets were passed by systemd (LISTEN_FDS)")
    return [socket.socket(fileno=3 + i) for i in range(count)]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_context(cfg: DaemonConfig) -> ssl.SSLContext | None:
    if not (cfg.tlsverify or cfg.tls):
        return None
    missing = [flag for flag, value in (("--tlscert", cfg.tlscert), ("--tlskey", cfg.tlskey),
                                         ("--tlscacert", cfg.tlscacert if cfg.tlsverify else "-"))
               if not value or (value != "-" and not os.path.isfile(value))]
    if missing:
        raise SystemExit(f"berthd: TLS was asked for (--tls/--tlsverify) but {', '.join(missing)} "
                         "is missing or not a file")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg.tlscert, cfg.tlskey)
    if cfg.tlsverify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cfg.tlscacert)
    return ctx


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"Berth version {__version__}")
        return 0
    explicit = any(a == "--config-file" or a.startswith("--config-file=") for a in argv)
    cfg = load_config(args, explicit)
    level = {"warn": logging.WARNING, "fatal": logging.CRITICAL}.get(cfg.log_level,
                                                                     getattr(logging, cfg.log_level.upper(), logging.INFO))
    logging.basicConfig(level=level, stream=sys.stderr,
                        format='time="%(asctime)s" level=%(levelname)s msg="%(message)s"')
    if os.geteuid() != 0:
        print("berthd: the daemon needs to run as root", file=sys.stderr)
        return 1
    claim_pidfile(cfg.pidfile)
    lock_data_root(cfg.data_root)
    try:
        daemon = Daemon(cfg)
        daemon.check_host()
    except BerthError as e:
        print(f"berthd: {e.message}", file=sys.stderr)
        return 1

    async def run() -> None:
        await daemon.startup()
        await serve(daemon, cfg)

    try:
        asyncio.run(run())
    finally:
        daemon.close()
        try:
            os.unlink(cfg.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
