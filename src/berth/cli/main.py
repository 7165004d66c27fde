"""Entry point of the `berth` command: global flags, then one lazily imported command.

Start-up time is part of the product (`berth run --rm busybox true` should feel
instant), so this module only knows command *names*; the module implementing a
command is imported when that command runs. Nothing here imports asyncio,
aiohttp or the other command modules.
"""

from __future__ import annotations

import sys
from .command import PROG, Cli, CliError, Command, execute, help_width
from .flags import FlagError, FlagSet, HelpRequested

# name -> (module, factory, short description)
_C = {
    "attach": ("cmd_attach", "attach_command", "Attach local standard input, output, and error streams to a running container"),
    "build": ("cmd_build", "build_command", "Build an image from a Dockerfile"),
    "commit": ("cmd_commit", "commit_command", "Create a new image from a container's changes"),
    "compose": ("cmd_compose", "compose_command", "Docker Compose"),
    "cp": ("cmd_cp", "cp_command", "Copy files/folders between a container and the local filesystem"),
    "create": ("cmd_run", "create_command", "Create a new container"),
    "diff": ("cmd_commit", "diff_command", "Inspect changes to files or directories on a container's filesystem"),
    "events": ("cmd_events", "events_command", "Get real time events from the server"),
    "exec": ("cmd_exec", "exec_command", "Execute a command in a running container"),
    "export": ("cmd_commit", "export_command", "Export a container's filesystem as a tar archive"),
    "history": ("cmd_images", "history_command", "Show the history of an image"),
    "images": ("cmd_images", "images_command", "List images"),
    "import": ("cmd_import", "import_command", "Import the contents from a tarball to create a filesystem image"),
    "info": ("cmd_system", "info_command", "Display system-wide information"),
    "inspect": ("cmd_inspect", "inspect_command", "Return low-level information on Berth objects"),
    "kill": ("cmd_container", "kill_command", "Kill one or more running containers"),
    "load": ("cmd_distribution", "load_command", "Load an image from a tar archive or STDIN"),
    "login": ("cmd_distribution", "login_command", "Authenticate to a registry"),
    "logout": ("cmd_distribution", "logout_command", "Log out from a registry"),
    "logs": ("cmd_logs", "logs_command", "Fetch the logs of a container"),
    "pause": ("cmd_container", "pause_command", "Pause all processes within one or more containers"),
    "port": ("cmd_network", "port_command", "List port mappings or a specific mapping for the container"),
    "ps": ("cmd_ps", "ps_command", "List containers"),
    "pull": ("cmd_distribution", "pull_command", "Download an image from a registry"),
    "push": ("cmd_distribution", "push_command", "Upload an image to a registry"),
    "rename": ("cmd_container", "rename_command", "Rename a container"),
    "restart": ("cmd_container", "restart_command", "Restart one or more containers"),
    "rm": ("cmd_container", "rm_command", "Remove one or more containers"),
    "rmi": ("cmd_images", "rmi_command", "Remove one or more images"),
    "run": ("cmd_run", "run_command", "Create and run a new container from an image"),
    "save": ("cmd_distribution", "save_command", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "start": ("cmd_container", "start_command", "Start one or more stopped containers"),
    "stats": ("cmd_stats", "stats_command", "Display a live stream of container(s) resource usage statistics"),
    "stop": ("cmd_container", "stop_command", "Stop one or more running containers"),
    "tag": ("cmd_images", "tag_command", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "top": ("cmd_container", "top_command", "Display the running processes of a container"),
    "unpause": ("cmd_container", "unpause_command", "Unpause all processes within one or more containers"),
    "update": ("cmd_update", "update_command", "Update configuration of one or more containers"),
    "version": ("cmd_system", "version_command", "Show the Berth version information"),
    "wait": ("cmd_container", "wait_command", "Block until one or more containers stop, then print their exit codes"),
}

TOP_LEVEL = {name: spec for name, spec in _C.items()}

MANAGEMENT: dict[str, tuple[str, dict[str, tuple[str, str, str]]]] = {
    "container": ("Manage containers", {
        "attach": _C["attach"],
        "commit": _C["commit"],
        "cp": _C["cp"],
        "create": _C["create"],
        "diff": _C["diff"],
        "exec": _C["exec"],
        "export": _C["export"],
        "inspect": ("cmd_inspect", "container_inspect_command", "Display detailed information on one or more containers"),
        "kill": _C["kill"],
        "logs": _C["logs"],
        "ls": ("cmd_ps", "ps_command", "List containers"),
        "pause": _C["pause"],
        "port": _C["port"],
        "prune": ("cmd_container", "prune_command", "Remove all stopped containers"),
        "rename": _C["rename"],
        "restart": _C["restart"],
        "rm": _C["rm"],
        "run": _C["run"],
        "start": _C["start"],
        "stats": _C["stats"],
        "stop": _C["stop"],
        "top": _C["top"],
        "unpause": _C["unpause"],
        "update": _C["update"],
        "wait": _C["wait"],
    }),
    "image": ("Manage images", {
        "bootstrap": ("cmd_import", "bootstrap_command", "Build a base image from local packages (busybox, debian)"),
        "build": _C["build"],
        "history": _C["history"],
        "import": _C["import"],
        "inspect": ("cmd_images", "image_inspect_command", "Display detailed information on one or more images"),
        "ls": ("cmd_images", "images_command", "List images"),
        "prune": ("cmd_images", "image_prune_command", "Remove unused images"),
        "rm": ("cmd_images", "rmi_command", "Remove one or more images"),
        "tag": _C["tag"],
        "pull": _C["pull"],
        "push": _C["push"],
        "save": _C["save"],
        "load": _C["load"],
    }),
    "context": ("Manage contexts", {
        "create": ("cmd_context", "create_command", "Create a context"),
        "inspect": ("cmd_context", "inspect_command", "Display detailed information on one or more contexts"),
        "ls": ("cmd_context", "ls_command", "List contexts"),
        "rm": ("cmd_context", "rm_command", "Remove one or more contexts"),
        "show": ("cmd_context", "show_command", "Print the name of the current context"),
        "update": ("cmd_context", "update_command", "Update a context"),
        "use": ("cmd_context", "use_command", "Set the current berth context"),
    }),
    "registry": ("Run a registry server (does not need berthd)", {
        "gc": ("cmd_registry", "gc_command", "Delete blobs that no manifest references"),
        "serve": ("cmd_registry", "serve_command", "Run an OCI Distribution / Docker Registry V2 server"),
    }),
    "volume": ("Manage volumes", {
        "create": ("cmd_volume", "create_command", "Create a volume"),
        "inspect": ("cmd_volume", "inspect_command", "Display detailed information on one or more volumes"),
        "ls": ("cmd_volume", "ls_command", "List volumes"),
        "prune": ("cmd_volume", "prune_command", "Remove unused local volumes"),
        "rm": ("cmd_volume", "rm_command", "Remove one or more volumes"),
        "update": ("cmd_volume", "update_command", "Update a volume (cluster volumes only)"),
    }),
    "network": ("Manage networks", {
        "connect": ("cmd_network", "connect_command", "Connect a container to a network"),
        "create": ("cmd_network", "create_command", "Create a network"),
        "disconnect": ("cmd_network", "disconnect_command", "Disconnect a container from a network"),
        "inspect": ("cmd_network", "inspect_command", "Display detailed information on one or more networks"),
        "ls": ("cmd_network", "ls_command", "List networks"),
        "prune": ("cmd_network", "prune_command", "Remove all unused networks"),
        "rm": ("cmd_network", "rm_command", "Remove one or more networks"),
    }),
    "builder": ("Manage builds", {
        "build": _C["build"],
        "prune": ("cmd_build", "prune_command", "Remove build cache"),
    }),
    "system": ("Manage Berth", {
        "check": ("cmd_check", "check_command", "Check the daemon's state against the host and repair leftovers"),
        "df": ("cmd_sysdf", "df_command", "Show berth disk usage"),
        "dial-stdio": ("cmd_dialstdio", "dial_stdio_command", "Proxy the stdio stream to the daemon connection. Should not be invoked manually."),
        "events": _C["events"],
        "info": _C["info"],
        "prune": ("cmd_sysdf", "prune_command", "Remove unused data"),
    }),
}

# Hidden alternative names (`container list`, `image remove`...).
SUB_ALIASES = {
    ("container", "list"): "ls",
    ("container", "ps"): "ls",
    ("container", "remove"): "rm",
    ("context", "list"): "ls",
    ("context", "remove"): "rm",
    ("image", "list"): "ls",
    ("image", "remove"): "rm",
    ("network", "list"): "ls",
    ("network", "remove"): "rm",
    ("volume", "list"): "ls",
    ("volume", "remove"): "rm",
}

# Commands that work but are left out of help, as docker hides them.
HIDDEN = {("system", "dial-stdio")}

# docker 28's root help order ("search" is docker's and Berth has none).
COMMON = ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "version", "info")

# Top-level commands that docker's root help lists under "Management Commands" (its compose plugin).
MANAGEMENT_LISTED = ("compose",)

LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")


def _global_flags() -> FlagSet:
    from .command import getenv

    # Defaults shown as docker shows its own: the config dir (BERTH_CONFIG or ~/.berth) and the
    # TLS files in the cert dir; a TLS file is only used when given or when it exists (context.py).
    config = getenv("BERTH_CONFIG") or (getenv("HOME") or "").rstrip("/") + "/.berth"
    certs = getenv("BERTH_CERT_PATH") or getenv("DOCKER_CERT_PATH") or config
    fs = FlagSet(interspersed=False)
    fs.string("config", "", "Location of client config files", default=config)
    fs.string("context", "c", "Name of the context to use to connect to the daemon (overrides BERTH_HOST env var "
              'and default context set with "berth context use")')
    fs.bool("debug", "D", "Enable debug mode")
    fs.list("host", "H", "Daemon socket to connect to")
    fs.string("log-level", "l", 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default="info")
    fs.bool("tls", "", "Use TLS; implied by --tlsverify")
    fs.string("tlscacert", "", "Trust certs signed only by this CA", default=certs + "/ca.pem")
    fs.string("tlscert", "", "Path to TLS certificate file", default=certs + "/cert.pem")
    fs.string("tlskey", "", "Path to TLS key file", default=certs + "/key.pem")
    fs.bool("tlsverify", "", "Use TLS and verify the remote")
    fs.bool("version", "v", "Print version information and quit")
    return fs


def _listing(entries: list[tuple[str, str]]) -> str:
    return "\n".join(f"  {name.ljust(11)} {short}" for name, short in entries)


def root_help(fs: FlagSet) -> str:
    common = [(n, _C[n][2]) for n in COMMON]
    mgmt = sorted([(n, MANAGEMENT[n][0]) for n in MANAGEMENT] + [(n, _C[n][2]) for n in MANAGEMENT_LISTED])
    others = [(n, _C[n][2]) for n in sorted(_C) if n not in COMMON and n not in MANAGEMENT_LISTED]
    return (
        f"Usage:  {PROG} [OPTIONS] COMMAND\n\n"
        "A self-sufficient runtime for containers\n\n"
        f"Common Commands:\n{_listing(common)}\n\n"
        f"Management Commands:\n{_listing(mgmt)}\n\n"
        f"Commands:\n{_listing(others)}\n\n"
        f"Global Options:\n{fs.usages(help_width())}\n"
        f"Run '{PROG} COMMAND --help' for more information on a command.\n"
    )


def group_help(name: str) -> str:
    short, children = MANAGEMENT[name]
    entries = [(n, spec[2]) for n, spec in sorted(children.items()) if (name, n) not in HIDDEN]
    return (
        f"Usage:  {PROG} {name} COMMAND\n\n{short}\n\n"
        f"Commands:\n{_listing(entries)}\n\n"
        f"Run '{PROG} {name} COMMAND --help' for more information on a command.\n"
    )


def load_command(spec: tuple[str, str, str]) -> Command:
    name = f"berth.cli.{spec[0]}"
    __import__(name)  # not importlib.import_module: importing importlib costs ~0.4 ms
    return getattr(sys.modules[name], spec[1])()


def _version_line() -> str:
    from berth import __version__

    return f"Berth version {__version__}, build source"


def main(argv: list[str] | None = None) -> int:
    """Run `berth` with `argv` (without the program name); return the exit status.

    Callable in-process: output goes to the current sys.stdout/sys.stderr.
    """
    console = argv is None
    if argv is None:
        argv = sys.argv[1:]
        try:
            import _signal  # `signal` would import enum (~3 ms) for nothing we need

            _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        except (AttributeError, ValueError):
            pass
    out, err = sys.stdout, sys.stderr
    gfs = _global_flags()
    try:
        gv, rest = gfs.parse(argv, stderr=err)
    except HelpRequested as req:
        if req.deprecated_h:
            out.write("Flag shorthand -h has been deprecated, use --help\n")
        out.write(root_help(gfs))
        return 0
    except FlagError as exc:
        err.write(f"{exc}\n\nUsage:  {PROG} [OPTIONS] COMMAND [ARG...]\n\nRun '{PROG} --help' for more information\n")
        return 125
    if gv.version:
        out.write(_version_line() + "\n")
        return 0
    if gv.log_level not in LOG_LEVELS:
        err.write(f"Unable to parse logging level: {gv.log_level}\n")
        return 1
    if len(gv.host) > 1:
        err.write("Specify only one -H\n")
        return 1
    if not rest:
        err.write(root_help(gfs))
        return 0

    try:
        host, tls = _endpoint(gv)
    except CliError as exc:
        err.write(exc.message.rstrip("\n") + "\n")
        return exc.status
    cli = Cli(host=host, tls=tls, debug=gv.debug)
    cli.config_dir = _config_dir(gv)
    try:
        return dispatch(cli, rest)
    except CliError as exc:
        if exc.message:
            cli.err.write(exc.message.rstrip("\n") + "\n")
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141 if console else 1
    finally:
        cli.close()
        try:
            cli.out.flush()
        except (OSError, ValueError):
            pass


def _config_dir(gv) -> str:
    if gv.was_set("config"):
        return gv.config
    from .command import getenv

    return getenv("BERTH_CONFIG") or gv.config


def _endpoint(gv) -> tuple[str | None, dict | None]:
    """The daemon address and TLS settings; contexts are read only when one may apply."""
    from .command import getenv

    tls_env = getenv("BERTH_TLS_VERIFY") or getenv("DOCKER_TLS_VERIFY")
    given = {k: getattr(gv, k) if gv.was_set(k) else "" for k in ("tlscacert", "tlscert", "tlskey")}
    tls_flags = gv.tls or gv.tlsverify or any(given.values())
    maybe_context = gv.context or getenv("BERTH_CONTEXT") or _has_current_context(_config_dir(gv))
    if not (maybe_context or tls_env or tls_flags):
        return (gv.host[0] if gv.host else None), None
    from .context import resolve_endpoint

    flags = {"tls": gv.tls, "tlsverify": gv.tlsverify, **given}
    ep = resolve_endpoint(list(gv.host), gv.context, _config_dir(gv), flags)
    return ep.host, ep.tls


def _has_current_context(config_dir: str) -> bool:
    """A cheap look at config.json (no json import) on every command's start."""
    import posix

    try:
        fd = posix.open(config_dir + "/config.json", posix.O_RDONLY)
    except OSError:
        return False
    try:
        return b'"currentContext"' in posix.read(fd, 1 << 20)
    finally:
        posix.close(fd)


def _help(cli: Cli, args: list[str]) -> int:
    """`berth help [command]`: cobra's help command as docker has it (same output as --help)."""
    try:
        _, topic = FlagSet().parse(args, stderr=cli.err)
    except HelpRequested as req:
        if req.deprecated_h:
            cli.out.write("Flag shorthand -h has been deprecated, use --help\n")
        cli.out.write(f"Usage:  {PROG} help [command]\n\nHelp about the command\n")
        return 0
    except FlagError as exc:
        cli.err.write(f"{exc}\n\nUsage:  {PROG} help [command]\n\nRun '{PROG} help --help' for more information\n")
        return 125
    if not topic:
        cli.out.write(root_help(_global_flags()))
        return 0
    group = MANAGEMENT.get(topic[0])
    known = topic[0] in TOP_LEVEL or group is not None
    if group is not None and len(topic) > 1:
        known = SUB_ALIASES.get((topic[0], topic[1]), topic[1]) in group[1]
        wanted = 3
    else:
        wanted = 2
    if not known or len(topic) >= wanted:
        bad = topic[0] if topic[0] not in TOP_LEVEL and group is None else topic[wanted - 1 if known else 1]
        cli.err.write(f"unknown help topic: {bad}\n")
        return 1
    return dispatch(cli, [*topic, "--help"])


def dispatch(cli: Cli, args: list[str]) -> int:
    name, rest = args[0], args[1:]
    if name == "help":
        return _help(cli, rest)
    if name in MANAGEMENT:
        children = MANAGEMENT[name][1]
        if not rest or rest[0] in ("--help", "-h"):
            stream = cli.out if rest else cli.err
            if rest and rest[0] == "-h":
                stream.write("Flag shorthand -h has been deprecated, use --help\n")
            stream.write(group_help(name))
            return 0
        sub = SUB_ALIASES.get((name, rest[0]), rest[0])
        if sub not in children:
            if sub.startswith("-"):
                cli.err.write(
                    f"unknown flag: {sub}\n\nUsage:  {PROG} {name} COMMAND\n\n"
                    f"Run '{PROG} {name} --help' for more information\n"
                )
                return 125
            cli.err.write(
                f"{PROG}: unknown command: {PROG} {name} {sub}\n\nUsage:  {PROG} {name}\n\n"
                f"Run '{PROG} {name} --help' for more information\n"
            )
            return 1
        cmd = load_command(children[sub])
        return execute(cli, cmd, f"{PROG} {name} {sub}", rest[1:])
    spec = TOP_LEVEL.get(name)
    if spec is None:
        cli.err.write(f"{PROG}: unknown command: {PROG} {name}\n\nRun '{PROG} --help' for more information\n")
        return 1
    cmd = load_command(spec)
    return execute(cli, cmd, f"{PROG} {name}", rest)


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
