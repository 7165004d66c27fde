"""Commands, their help text, argument rules and the errors every command shares.

This module is imported on every invocation, so it stays free of heavy imports.
Help and error texts follow docker's CLI 28 word for word (with "docker"
replaced by "berth"), because scripts and users match on them.
"""

from __future__ import annotations

import posix
import sys

TYPE_CHECKING = False  # no runtime `typing` import: it costs ~10 ms at start-up

from .flags import FlagError, FlagSet, HelpRequested

if TYPE_CHECKING:
    from typing import Any, Callable, TextIO

    from .flags import Values

    Runner = Callable[["Cli", Values, list[str]], "int | None"]

PROG = "berth"
DEFAULT_HOST = "unix:///run/berth/berth.sock"


class CliError(Exception):
    """An error that ends the command with `status` after printing `message` (if any)."""

    status = 1

    def __init__(self, message: str | None = None, status: int | None = None) -> None:
        super().__init__(message or "")
        self.message = message
        if status is not None:
            self.status = status


class StatusError(CliError):
    """Exit with a given status; docker's cli.StatusError."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message, status)


class APIError(CliError):
    """The daemon answered with an error status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"Error response from daemon: {message}", 1)
        self.status_code = status_code
        self.detail = message

    @property
    def not_found(self) -> bool:
        return self.status_code == 404


class ConnectError(CliError):
    """The daemon could not be reached at all."""

    def __init__(self, host: str) -> None:
        super().__init__(
            f"Cannot connect to the Berth daemon at {host}. Is the berth daemon running?", 1
        )
        self.host = host


ArgsRule = tuple  # ("min", n) | ("exact", n) | ("max", n) | ("range", lo, hi) | ("none",) | ("any",)


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def check_args(rule: ArgsRule, args: list[str], path: str) -> tuple[str, str] | None:
    """Docker's cli.RequiresMinArgs & co: (message, "See"|"Run") or None when fine."""
    kind = rule[0]
    n = len(args)
    if kind == "any":
        return None
    if kind == "none":
        return None if n == 0 else (f"'{path}' accepts no arguments", "Run")
    if kind == "min":
        return None if n >= rule[1] else (f"'{path}' requires at least {rule[1]} {_plural(rule[1])}", "See")
    if kind == "exact":
        return None if n == rule[1] else (f"'{path}' requires {rule[1]} {_plural(rule[1])}", "Run")
    if kind == "max":
        # docker 28 really prints "SRun" here (a leftover of its old "See ..." text).
        return None if n <= rule[1] else (f"'{path}' requires at most {rule[1]} {_plural(rule[1])}", "SRun")
    if kind == "range":
        lo, hi = rule[1], rule[2]
        if lo <= n <= hi:
            return None
        return (f"'{path}' requires at least {lo} and at most {hi} {_plural(hi)}", "Run")
    raise ValueError(kind)


class Command:
    """One command: its docker-style usage, flags, argument rule and implementation.

    `use` is the usage after the command name ("[OPTIONS] IMAGE [COMMAND] [ARG...]");
    `aliases` lists its names for the help text ("container run, run").
    """

    def __init__(
        self,
        name: str,
        use: str,
        short: str,
        run: Runner,
        flags: Callable[[FlagSet], None] | None = None,
        args: ArgsRule = ("any",),
        interspersed: bool = True,
        aliases: str = "",
        extra_help: str = "",
    ) -> None:
        self.name = name
        self.use = use
        self.short = short
        self.run = run
        self.flags = flags
        self.args = args
        self.interspersed = interspersed
        self.aliases = aliases
        self.extra_help = extra_help

    def flagset(self) -> FlagSet:
        fs = FlagSet(interspersed=self.interspersed)
        if self.flags:
            self.flags(fs)
        return fs

    def usage_line(self, path: str) -> str:
        return f"{path} {self.use}".rstrip()

    def help_text(self, path: str, fs: FlagSet | None = None) -> str:
        fs = fs or self.flagset()
        parts = [f"Usage:  {self.usage_line(path)}", self.short]
        if self.aliases:
            rendered = ", ".join(f"{PROG} {a.strip()}" for a in self.aliases.split(","))
            parts.append(f"Aliases:\n  {rendered}")
        opts = fs.usages(help_width())
        if opts:
            parts.append("Options:\n" + opts.rstrip("\n"))
        if self.extra_help:
            parts.append(self.extra_help.rstrip("\n"))
        return "\n\n".join(parts) + "\n"


def getenv(name: str) -> str | None:
    """os.environ.get(name) without importing `os` (~1 ms at start-up) when nothing else has.

    Once `os` is loaded (always, in tests) its environ is the truth, so changes made
    through it are seen; before that, posix.environ is the environment we started with.
    """
    os = sys.modules.get("os")
    if os is not None:
        return os.environ.get(name)
    value = posix.environ.get(name.encode())
    return None if value is None else value.decode("utf-8", "surrogateescape")


def help_width() -> int:
    """Help is wrapped to one less than the terminal's width (80 without a terminal)."""
    try:
        return posix.get_terminal_size(sys.stdout.fileno()).columns - 1
    except (OSError, ValueError, AttributeError):
        return 79


class Cli:
    """What a command needs from its surroundings: streams, options and the API client.

    `main(argv)` builds one per invocation; tests can build their own with
    in-memory streams and a host pointing at a fake daemon.
    """

    def __init__(
        self,
        host: str | None = None,
        stdin: Any = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        tls: dict[str, Any] | None = None,
        debug: bool = False,
    ) -> None:
        self.host = host or resolve_host()
        self.stdin = stdin if stdin is not None else sys.stdin
        self.out = stdout if stdout is not None else sys.stdout
        self.err = stderr if stderr is not None else sys.stderr
        self.tls = tls
        self.debug = debug
        self.config_dir = ""  # the client config directory (--config, BERTH_CONFIG, ~/.berth)
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from .client import APIClient

            self._client = APIClient(self.host, tls=self.tls)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def print(self, *parts: Any, end: str = "\n") -> None:
        self.out.write(" ".join(str(p) for p in parts) + end)

    def eprint(self, *parts: Any, end: str = "\n") -> None:
        self.err.write(" ".join(str(p) for p in parts) + end)

    def out_binary(self) -> Any:
        """A binary stream for raw container output (logs, attach)."""
        return getattr(self.out, "buffer", self.out)

    def err_binary(self) -> Any:
        return getattr(self.err, "buffer", self.err)


def resolve_host() -> str:
    """-H is handled by main; otherwise BERTH_HOST, then DOCKER_HOST, then the default socket."""
    return getenv("BERTH_HOST") or getenv("DOCKER_HOST") or DEFAULT_HOST


def execute(cli: Cli, cmd: Command, path: str, args: list[str]) -> int:
    """Parse flags and arguments for `cmd` (invoked as `path`) and run it.

    Returns the exit status; prints docker's usage errors itself.
    """
    fs = cmd.flagset()
    try:
        values, positional = fs.parse(args, stderr=cli.err)
    except HelpRequested as req:
        if req.deprecated_h:
            cli.out.write("Flag shorthand -h has been deprecated, use --help\n")
        cli.out.write(cmd.help_text(path, fs))
        return 0
    except FlagError as exc:
        cli.err.write(
            f"{exc}\n\nUsage:  {cmd.usage_line(path)}\n\nRun '{path} --help' for more information\n"
        )
        return 125
    problem = check_args(cmd.args, positional, path)
    if problem:
        message, verb = problem
        cli.err.write(
            f"{PROG}: {message}\n\nUsage:  {cmd.usage_line(path)}\n\n"
            f"{verb} '{path} --help' for more information\n"
        )
        return 1
    values.path = path  # type: ignore[attr-defined]
    status = cmd.run(cli, values, positional)
    return status or 0


def report_run_error(cli: Cli, name: str, message: str) -> None:
    """docker 28's run/create wording: "docker: <msg>" and a pointer to --help."""
    cli.err.write(f"{PROG}: {message}\n\nRun '{PROG} {name} --help' for more information\n")


def confirm(cli: Cli, message: str) -> bool:
    """docker 28's prompt.Confirm: "<message> [y/N] " read from stdin; only "y" or "Y"
    (surrounding blanks ignored) continues, "yes" cancels as it does in docker."""
    cli.out.write(f"{message} [y/N] ")
    cli.out.flush()
    stream = cli.stdin
    try:
        line = stream.readline()
    except (OSError, ValueError):
        return False
    if isinstance(line, bytes):
        line = line.decode(errors="replace")
    return line.strip() in ("y", "Y")


FORMAT_USAGE = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
)

FORMAT_USAGE_NO_TABLE = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
)


def parse_filters(values: list[str]) -> dict[str, dict[str, bool]]:
    """docker's filter flag values "key=value" → the API's {"key": {"value": true}}."""
    out: dict[str, dict[str, bool]] = {}
    for item in values:
        key, sep, val = item.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ValueError("bad format of filter (expected name=value)")
        out.setdefault(key, {})[val.strip()] = True
    return out


def filters_query(values: list[str]) -> str | None:
    """The `filters` query parameter: docker's filters.ToJSON with sorted keys."""
    filters = parse_filters(values)
    if not filters:
        return None
    from .fastjson import dumps

    return dumps({k: dict(sorted(v.items())) for k, v in sorted(filters.items())}, separators=(",", ":"))


def filter_flag(fs: FlagSet, short: str = "f", usage: str = "Filter output based on conditions provided") -> None:
    def convert(text: str) -> str:
        if "=" not in text:
            raise ValueError("bad format of filter (expected name=value)")
        return text

    fs.list("filter", short, usage, kind="filter", convert=convert)
