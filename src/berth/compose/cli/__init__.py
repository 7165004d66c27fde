"""`berth compose` subcommands: docker compose v2's global flags, then one subcommand.

Global flags are accepted before and after the subcommand (they are cobra persistent
flags in docker compose). Each subcommand module has `flags(fs)` and `run(ctx, v, args)`.
"""

from __future__ import annotations

from typing import Any

from ...cli.flags import FlagSet

# name -> (module, short description, usage)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "attach": ("exec_cmd", "Attach local standard input, output, and error streams to a service's running container", "[OPTIONS] SERVICE"),
    "build": ("images_cmd", "Build or rebuild services", "[OPTIONS] [SERVICE...]"),
    "commit": ("exec_cmd", "Create a new image from a service container's changes", "[OPTIONS] SERVICE [REPOSITORY[:TAG]]"),
    "config": ("config_cmd", "Parse, resolve and render compose file in canonical format", "[OPTIONS] [SERVICE...]"),
    "cp": ("exec_cmd", "Copy files/folders between a service container and the local filesystem", "[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-"),
    "create": ("up_cmd", "Creates containers for a service", "[OPTIONS] [SERVICE...]"),
    "down": ("down_cmd", "Stop and remove containers, networks", "[OPTIONS] [SERVICES]"),
    "events": ("ps_cmd", "Receive real time events from containers", "[OPTIONS] [SERVICE...]"),
    "exec": ("exec_cmd", "Execute a command in a running container", "[OPTIONS] SERVICE COMMAND [ARGS...]"),
    "export": ("exec_cmd", "Export a service container's filesystem as a tar archive", "[OPTIONS] SERVICE"),
    "images": ("ps_cmd", "List images used by the created containers", "[OPTIONS] [SERVICE...]"),
    "kill": ("verbs_cmd", "Force stop service containers", "[OPTIONS] [SERVICE...]"),
    "logs": ("logs_cmd", "View output from containers", "[OPTIONS] [SERVICE...]"),
    "ls": ("config_cmd", "List running compose projects", "[OPTIONS]"),
    "pause": ("verbs_cmd", "Pause services", "[SERVICE...]"),
    "port": ("ps_cmd", "Print the public port for a port binding", "[OPTIONS] SERVICE PRIVATE_PORT"),
    "ps": ("ps_cmd", "List containers", "[OPTIONS] [SERVICE...]"),
    "pull": ("images_cmd", "Pull service images", "[OPTIONS] [SERVICE...]"),
    "push": ("images_cmd", "Push service images", "[OPTIONS] [SERVICE...]"),
    "restart": ("verbs_cmd", "Restart service containers", "[OPTIONS] [SERVICE...]"),
    "rm": ("verbs_cmd", "Removes stopped service containers", "[OPTIONS] [SERVICE...]"),
    "run": ("exec_cmd", "Run a one-off command on a service", "[OPTIONS] SERVICE [COMMAND] [ARGS...]"),
    "scale": ("up_cmd", "Scale services", "[SERVICE=REPLICAS...]"),
    "start": ("verbs_cmd", "Start services", "[SERVICE...]"),
    "stats": ("exec_cmd", "Display a live stream of container(s) resource usage statistics", "[OPTIONS] [SERVICE]"),
    "stop": ("verbs_cmd", "Stop services", "[OPTIONS] [SERVICE...]"),
    "top": ("ps_cmd", "Display the running processes", "[SERVICES...]"),
    "unpause": ("verbs_cmd", "Unpause services", "[SERVICE...]"),
    "up": ("up_cmd", "Create and start containers", "[OPTIONS] [SERVICE...]"),
    "version": ("config_cmd", "Show the Docker Compose version information", "[OPTIONS]"),
    "wait": ("verbs_cmd", "Block until containers of all (or specified) services stop.", "SERVICE [SERVICE...] [options]"),
}


def add_persistent(fs: FlagSet) -> None:
    """The global flags, accepted after the subcommand too; a subcommand's own flag wins
    (`rm -f` is --force, not --file), as cobra's local flags shadow persistent ones."""
    from ...cli.flags import Flag

    extra = FlagSet()
    global_flags(extra, hidden=True)
    for f in extra.flags:
        if fs.lookup(f.long) is not None:
            continue
        if f.short and f.short in fs._short:
            f = Flag(f.long, "", f.kind, f.usage, f.default, f.convert, f.repeat, True)
        fs.add(f)


def global_flags(fs: FlagSet, hidden: bool = False) -> None:
    fs.string("ansi", "", 'Control when to print ANSI control characters ("never"|"always"|"auto")', default="auto", hidden=hidden)
    fs.bool("compatibility", "", "Run compose in backward compatibility mode", hidden=hidden)
    fs.bool("dry-run", "", "Execute command in dry run mode", hidden=hidden)
    fs.list("env-file", "", "Specify an alternate environment file", kind="stringArray", hidden=hidden)
    fs.list("file", "f", "Compose configuration files", kind="stringArray", hidden=hidden)
    fs.int("parallel", "", "Control max parallelism, -1 for unlimited", default=-1, hidden=hidden)
    fs.list("profile", "", "Specify a profile to enable", kind="stringArray", hidden=hidden)
    fs.string("progress", "", 'Set type of progress output (auto, tty, plain, json, quiet)', default="auto", hidden=hidden)
    fs.string("project-directory", "", "Specify an alternate working directory\n(default: the path of the, first specified, Compose file)", hidden=hidden)
    fs.string("project-name", "p", "Project name", hidden=hidden)


GLOBAL_NAMES = ("ansi", "compatibility", "dry_run", "env_file", "file", "parallel", "profile", "progress",
                "project_directory", "project_name")


def root_help() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    fs = FlagSet()
    global_flags(fs)
    lines = "\n".join(f"  {n.ljust(width)}  {spec[1]}" for n, spec in sorted(SUBCOMMANDS.items()))
    return ("Usage:  berth compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications with Berth\n\n"
            f"Options:\n{fs.usages(79).rstrip()}\n\nCommands:\n{lines}\n\n"
            "Run 'berth compose COMMAND --help' for more information on a command.\n")


def merge_globals(before: Any, after: Any) -> Any:
    """Values given after the subcommand extend/override those given before it."""
    for name in GLOBAL_NAMES:
        long = name.replace("_", "-")
        if after.was_set(long) or (long == "file" and after.was_set("file")):
            val = after.get(name)
            if isinstance(val, list):
                setattr(before, name, list(before.get(name) or []) + val)
            else:
                setattr(before, name, val)
            before.changed.add(long)
    return before
