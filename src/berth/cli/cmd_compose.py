"""`berth compose`: docker compose v2's command line over berth.compose.

This module stays small: it parses the global compose flags, finds the subcommand in
berth.compose.cli.SUBCOMMANDS and runs it; compose errors print as docker compose's do
(the message alone on stderr, exit 1).
"""

from __future__ import annotations

from .command import Cli, CliError, Command, check_args
from .flags import FlagError, FlagSet, HelpRequested, Values


def _flags(fs: FlagSet) -> None:
    from ..compose.cli import global_flags

    global_flags(fs)


def _run(cli: Cli, g: Values, args: list[str]) -> int:
    from ..compose import cli as ccli
    from ..compose.cli.context import ComposeContext
    from ..compose.errors import ComposeError

    if not args:
        cli.out.write(ccli.root_help())
        return 0
    name, rest = args[0], args[1:]
    spec = ccli.SUBCOMMANDS.get(name)
    if spec is None:
        cli.err.write(f'unknown docker command: "compose {name}"\n')
        return 1
    module = __import__(f"berth.compose.cli.{spec[0]}", fromlist=["x"])
    fs = FlagSet(interspersed=name not in ("exec", "run"))
    getattr(module, f"flags_{name}")(fs)
    ccli.add_persistent(fs)
    path = f"berth compose {name}"
    try:
        v, positional = fs.parse(rest, stderr=cli.err)
    except HelpRequested:
        usage = f"Usage:  {path} {spec[2]}\n\n{spec[1]}\n\nOptions:\n{fs.usages(79).rstrip()}\n"
        cli.out.write(usage)
        return 0
    except FlagError as exc:
        cli.err.write(f"{exc}\n")
        return 1
    g = ccli.merge_globals(g, v)
    if g.get("dry_run") and name in ("exec", "run", "cp"):
        cli.err.write(f"--dry-run is not supported by berth compose {name}\n")
        return 1
    ctx = ComposeContext(cli, g)
    try:
        ctx.check_globals()
        status = getattr(module, f"run_{name}")(ctx, v, positional)
        return status or 0
    except ComposeError as exc:
        cli.err.write(f"{exc.message}\n")
        return exc.status
    except CliError:
        raise
    except OSError as exc:  # a file or socket problem the loader or a command did not word itself
        cli.err.write(f"{exc.strerror or exc}{': ' + exc.filename if getattr(exc, 'filename', None) else ''}\n")
        return 1
    finally:
        ctx.close()


def _commands_help() -> str:
    from ..compose.cli import SUBCOMMANDS

    width = max(len(n) for n in SUBCOMMANDS)
    lines = "\n".join(f"  {n.ljust(width)}  {spec[1]}" for n, spec in sorted(SUBCOMMANDS.items()))
    return f"Commands:\n{lines}\n\nRun 'berth compose COMMAND --help' for more information on a command."


def compose_command() -> Command:
    return Command("compose", "[OPTIONS] COMMAND", "Define and run multi-container applications with Berth",
                   _run, _flags, interspersed=False, extra_help=_commands_help())


__all__ = ["compose_command", "check_args"]
