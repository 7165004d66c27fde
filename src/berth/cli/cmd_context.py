"""`berth context create|ls|inspect|rm|use|show|update`, as docker's context commands.

Contexts are client-side only (cli/context.py); no command here talks to a daemon.
"""

from __future__ import annotations

import os
from typing import Any

from .command import FORMAT_USAGE_NO_TABLE, PROG, Cli, CliError, Command, help_width
from .context import DEFAULT_NAME, Context, ContextStore, validate_name
from .flags import FlagSet, Values

ENDPOINT_HELP = f"""{PROG.capitalize()} endpoint config:

NAME                DESCRIPTION
from                Copy named context's {PROG.capitalize()} endpoint configuration
host                {PROG.capitalize()} endpoint on which to connect
ca                  Trust certs signed only by this CA
cert                Path to TLS certificate file
key                 Path to TLS key file
skip-tls-verify     Skip TLS certificate validation
"""

LS_FORMAT_USAGE = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
)

_KEYS = ("from", "host", "ca", "cert", "key", "skip-tls-verify")


def _store(cli: Cli) -> ContextStore:
    from .context import default_config_dir

    return ContextStore(getattr(cli, "config_dir", "") or default_config_dir())


def _parse_endpoint_flags(values: list[str]) -> dict[str, str]:
    """--docker's stringToString value: comma-separated key=value pairs (CSV quoting)."""
    import csv

    result: dict[str, str] = {}
    for value in values:
        for field in next(csv.reader([value])) if value else []:
            key, sep, val = field.partition("=")
            if not sep:
                raise CliError(f'invalid argument "{value}" for "--docker" flag: {field} must be formatted as key=value')
            result[key] = val
    return result


def _endpoint_from(store: ContextStore, opts: dict[str, str], base: Context | None) -> tuple[Context, dict[str, str] | None]:
    """An endpoint config from --docker options (docker's getDockerEndpoint)."""
    for key in opts:
        if key not in _KEYS:
            raise CliError(f"unable to create {PROG} endpoint config: unrecognized config key: {key}")
    if "from" in opts:
        src = store.get(opts["from"])
        return src, _tls_sources_of(src)
    skip = False
    if "skip-tls-verify" in opts:
        text = opts["skip-tls-verify"]
        if text not in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"):
            raise CliError(f'unable to create {PROG} endpoint config: skip-tls-verify: parsing "{text}": invalid syntax')
        skip = text in ("1", "t", "T", "TRUE", "true", "True")
    tls: dict[str, str] = {}
    for key, target in (("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")):
        if opts.get(key):
            path = os.path.expanduser(opts[key])
            if not os.path.isfile(path):
                raise CliError(f"unable to create {PROG} endpoint config: open {path}: no such file or directory")
            tls[target] = path
    if ("cert.pem" in tls) != ("key.pem" in tls):
        raise CliError(f"unable to create {PROG} endpoint config: cert and key must be given together")
    host = opts.get("host", "")
    if not host and base is not None:
        host = base.host
    return Context("", host, skip_tls_verify=skip), tls


def _tls_sources_of(ctx: Context) -> dict[str, str]:
    return {n: os.path.join(ctx.tls_path, "docker", n) for n in ctx.tls_files}


def _endpoint_flags(fs: FlagSet) -> None:
    fs.string("description", "", "Description of the context")
    fs.list("docker", "", "set the docker endpoint (default [])", kind="stringToString")


def _create_flags(fs: FlagSet) -> None:
    _endpoint_flags(fs)
    fs.string("from", "", "create context from a named context")


def _create(cli: Cli, v: Values, args: list[str]) -> int:
    name = args[0]
    validate_name(name)
    store = _store(cli)
    if store.exists(name):
        raise CliError(f'context "{name}" already exists')
    docker_opts = _parse_endpoint_flags(list(v.docker))
    if v.get("from") and docker_opts:
        raise CliError("cannot use --docker flag when --from is set")
    if v.get("from"):
        src = store.get(v.get("from"))
        endpoint, tls = src, _tls_sources_of(src)
    elif docker_opts:
        endpoint, tls = _endpoint_from(store, docker_opts, None)
    else:
        src = store.get(store.current())
        endpoint, tls = src, _tls_sources_of(src)
    ctx = Context(name, endpoint.host, v.description, endpoint.skip_tls_verify)
    store.save(ctx, tls or None)
    cli.print(name)
    cli.eprint(f'Successfully created context "{name}"')
    return 0


def _update(cli: Cli, v: Values, args: list[str]) -> int:
    name = args[0]
    store = _store(cli)
    if name == DEFAULT_NAME:
        raise CliError(f'context "{DEFAULT_NAME}" cannot be updated')
    ctx = store.get(name)
    tls: dict[str, str] | None = None
    docker_opts = _parse_endpoint_flags(list(v.docker))
    if docker_opts:
        endpoint, tls = _endpoint_from(store, docker_opts, ctx)
        ctx.host, ctx.skip_tls_verify = endpoint.host, endpoint.skip_tls_verify
        if tls is not None and not tls and "from" not in docker_opts:
            tls = {}
    if v.was_set("description"):
        ctx.description = v.description
    store.save(ctx, tls)
    cli.print(name)
    cli.eprint(f'Successfully updated context "{name}"')
    return 0


def _ls_flags(fs: FlagSet) -> None:
    fs.string("format", "", LS_FORMAT_USAGE)
    fs.bool("quiet", "q", "Only show context names")


def _ls(cli: Cli, v: Values, args: list[str]) -> int:
    from .formatter import Row, write_rows

    store = _store(cli)
    current = store.current()
    contexts = sorted(store.list(), key=lambda c: c.name)
    if v.quiet:
        for ctx in contexts:
            cli.print(ctx.name)
        return 0
    rows = []
    for ctx in contexts:
        is_current = ctx.name == current
        rows.append(Row(
            Name=ctx.name + (" *" if is_current and v.format in ("", "table") else ""),
            Current=is_current,
            Description=ctx.description,
            DockerEndpoint=ctx.host,
            Error="",
        ))
    headers = {"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT",
               "Error": "ERROR", "Current": "CURRENT"}
    write_rows(cli.out, v.format, rows, headers, ("Name", "Description", "DockerEndpoint", "Error"))
    return 0


def _inspect_flags(fs: FlagSet) -> None:
    fs.string("format", "f", FORMAT_USAGE_NO_TABLE)


def _inspect(cli: Cli, v: Values, args: list[str]) -> int:
    from .formatter import go_json

    store = _store(cli)
    names = args or [store.current()]
    docs: list[Any] = []
    failed: CliError | None = None
    for name in names:
        try:
            docs.append(store.get(name).inspect())
        except CliError as exc:
            failed = exc
    if v.format and v.format != "json":
        from .formatter import compile_template

        tmpl = compile_template(v.format, "")
        for doc in docs:
            cli.print(tmpl.execute(doc))
    else:
        cli.print(go_json(docs, indent=4) if docs else "[]")
    if failed:
        raise failed
    return 0


def _rm_flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Force the removal of a context in use")


def _rm(cli: Cli, v: Values, args: list[str]) -> int:
    store = _store(cli)
    current = store.current()
    errors = []
    for name in args:
        if name == DEFAULT_NAME:
            errors.append(f'context "{DEFAULT_NAME}" cannot be removed')
            continue
        if not store.exists(name):
            errors.append(f'context "{name}" does not exist')
            continue
        if name == current:
            if not v.force:
                errors.append(f'context "{name}" is in use, set -f flag to force remove')
                continue
            store.set_current(DEFAULT_NAME)
        store.remove(name)
        cli.print(name)
    if errors:
        raise CliError("\n".join(errors))
    return 0


def _use(cli: Cli, v: Values, args: list[str]) -> int:
    from .command import getenv

    name = args[0]
    store = _store(cli)
    if name != DEFAULT_NAME:
        store.get(name)
    store.set_current(name)
    cli.print(name)
    cli.eprint(f'Current context is now "{name}"')
    if name != DEFAULT_NAME and (getenv("BERTH_HOST") or getenv("DOCKER_HOST")):
        cli.eprint(f"Warning: {PROG.upper()}_HOST environment variable overrides the active context. "
                   f'To use "{name}", either set the global --context flag, or unset {PROG.upper()}_HOST '
                   "environment variable.")
    return 0


def _show(cli: Cli, v: Values, args: list[str]) -> int:
    cli.print(_store(cli).current())
    return 0


class _EndpointCommand(Command):
    """create/update: docker prints the endpoint table and the example before Options."""

    def help_text(self, path: str, fs: FlagSet | None = None) -> str:
        fs = fs or self.flagset()
        return (f"Usage:  {self.usage_line(path)}\n\n{self.short}\n\n{self.extra_help}\n"
                f"Options:\n{fs.usages(help_width())}")


def create_command() -> Command:
    return _EndpointCommand("create", "[OPTIONS] CONTEXT", "Create a context", _create, _create_flags,
                   args=("exact", 1), extra_help=ENDPOINT_HELP + _example("create"))


def update_command() -> Command:
    return _EndpointCommand("update", "[OPTIONS] CONTEXT", "Update a context", _update, _endpoint_flags,
                   args=("exact", 1), extra_help=ENDPOINT_HELP + _example("update"))


def _example(verb: str) -> str:
    return (f'\nExample:\n\n$ {PROG} context {verb} my-context --description "some description" '
            '--docker "host=tcp://myserver:2376,ca=~/ca-file,cert=~/cert-file,key=~/key-file"\n')


def ls_command() -> Command:
    return Command("ls", "[OPTIONS]", "List contexts", _ls, _ls_flags, args=("none",),
                   aliases="context ls, context list")


def inspect_command() -> Command:
    return Command("inspect", "[OPTIONS] [CONTEXT] [CONTEXT...]",
                   "Display detailed information on one or more contexts", _inspect, _inspect_flags)


def rm_command() -> Command:
    return Command("rm", "CONTEXT [CONTEXT...]", "Remove one or more contexts", _rm, _rm_flags,
                   args=("min", 1), aliases="context rm, context remove")


def use_command() -> Command:
    return Command("use", "CONTEXT", f"Set the current {PROG} context", _use, None, args=("exact", 1))


def show_command() -> Command:
    return Command("show", "", "Print the name of the current context", _show, None, args=("none",))
