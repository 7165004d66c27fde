"""Docker-style (pflag) command-line flag parsing, written by hand.

argparse differs from docker's parser in ways users notice: it accepts unique
prefixes of long options, treats "-e=A=b" differently, cannot stop at the image
name for `run IMAGE CMD...`, and words its errors differently. Scripts written
for docker depend on pflag's exact behaviour, including:

* `--flag=value`, `--flag value`, `-f value`, `-fvalue`, `-f=value`;
* combined booleans (`-it`), where the first non-boolean takes the rest of the
  word as its value (`-ite A=b` sets -i, -t and -e "A=b"... as in `-teA=b`);
* booleans only take a value with "=" (`--rm=false`), never from the next word;
* `--` ends the flags; a lone `-` is a positional argument;
* optionally stopping at the first positional (`SetInterspersed(false)`), so the
  container's own command line is never parsed as our flags.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no runtime `typing` import: it costs ~10 ms at start-up

if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

    Converter = Callable[[str], Any]

__all__ = ["Flag", "FlagSet", "FlagError", "HelpRequested", "Values"]


class FlagError(Exception):
    """A usage error in the flags; docker prints it with the usage and exits 125."""


class HelpRequested(Exception):
    """`--help` (or a deprecated `-h`) was given."""

    def __init__(self, deprecated_h: bool = False) -> None:
        super().__init__("help requested")
        self.deprecated_h = deprecated_h


class Flag:
    """One flag. `kind` is the type word shown in help ("string", "list", "bytes"...),
    empty for booleans. Repeatable flags collect every value in a list."""

    __slots__ = ("long", "short", "kind", "usage", "default", "convert", "repeat", "hidden",
                 "deprecated", "help_default", "dest")

    def __init__(
        self,
        long: str,
        short: str = "",
        kind: str = "",
        usage: str = "",
        default: Any = None,
        convert: Converter | None = None,
        repeat: bool = False,
        hidden: bool = False,
        deprecated: str = "",
        help_default: str | None = None,
        dest: str = "",
    ) -> None:
        self.long = long
        self.short = short
        self.kind = kind
        self.usage = usage
        self.default = default
        self.convert = convert
        self.repeat = repeat
        self.hidden = hidden
        self.deprecated = deprecated
        self.help_default = help_default
        self.dest = dest or long.replace("-", "_")

    @property
    def is_bool(self) -> bool:
        return self.kind == ""

    @property
    def display_name(self) -> str:
        """How pflag names the flag in "invalid argument" errors."""
        if self.short:
            return f"-{self.short}, --{self.long}"
        return f"--{self.long}"


class Values:
    """Parsed flag values as attributes, plus which flags the user actually gave."""

    def __init__(self) -> None:
        self.changed: set[str] = set()

    def __getattr__(self, name: str) -> Any:  # only for names never set
        raise AttributeError(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def was_set(self, long: str) -> bool:
        return long in self.changed


def _bool(text: str) -> bool:
    """strconv.ParseBool (kept here so plain boolean flags need no other module)."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _int(text: str) -> int:
    from .units import go_parse_int

    return go_parse_int(text)


class FlagSet:
    """An ordered set of flags with pflag's parsing rules."""

    def __init__(self, flags: Iterable[Flag] = (), interspersed: bool = True) -> None:
        self.flags: list[Flag] = []
        self.interspersed = interspersed
        self._long: dict[str, Flag] = {}
        self._short: dict[str, Flag] = {}
        for f in flags:
            self.add(f)

    def _index(self, f: Flag) -> None:
        self._long[f.long] = f
        if f.short:
            self._short[f.short] = f

    def add(self, f: Flag) -> Flag:
        self.flags.append(f)
        self._index(f)
        return f

    def extend(self, flags: Iterable[Flag]) -> None:
        for f in flags:
            self.add(f)

    # -- convenience constructors -------------------------------------------------
    def bool(self, long: str, short: str = "", usage: str = "", default: bool = False, **kw: Any) -> Flag:
        return self.add(Flag(long, short, "", usage, default, _bool, **kw))

    def string(self, long: str, short: str = "", usage: str = "", default: str = "", **kw: Any) -> Flag:
        return self.add(Flag(long, short, kw.pop("kind", "string"), usage, default, kw.pop("convert", None), **kw))

    def int(self, long: str, short: str = "", usage: str = "", default: int = 0, **kw: Any) -> Flag:
        return self.add(Flag(long, short, kw.pop("kind", "int"), usage, default, kw.pop("convert", _int), **kw))

    def list(self, long: str, short: str = "", usage: str = "", **kw: Any) -> Flag:
        return self.add(
            Flag(long, short, kw.pop("kind", "list"), usage, None, kw.pop("convert", None), repeat=True, **kw)
        )

    def lookup(self, long: str) -> Flag | None:
        return self._long.get(long)

    # -- parsing ------------------------------------------------------------------
    def defaults(self) -> Values:
        values = Values()
        for f in self.flags:
            if f.repeat:
                setattr(values, f.dest, [])
            else:
                setattr(values, f.dest, f.default)
        return values

    def parse(self, args: list[str], stderr: Any = None) -> tuple[Values, list[str]]:
        """Parse `args`; return (values, positional arguments).

        Raises FlagError with pflag's message, or HelpRequested.
        """
        values = self.defaults()
        positional: list[str] = []
        help_flag = False
        deprecated_h = False
        rest = list(args)
        while rest:
            s = rest.pop(0)
            if len(s) < 2 or s[0] != "-":
                if not self.interspersed:
                    positional.append(s)
                    positional.extend(rest)
                    break
                positional.append(s)
                continue
            if s[1] == "-":
                if len(s) == 2:
                    positional.extend(rest)
                    break
                name = s[2:]
                if name[0] in "-=":
                    raise FlagError(f"bad flag syntax: {s}")
                name, eq, inline = name.partition("=")
                f = self._long.get(name)
                if f is None:
                    if name == "help":
                        help_flag = _bool(inline) if eq else True
                        continue
                    raise FlagError(f"unknown flag: --{name}")
                if eq:
                    value = inline
                elif f.is_bool:
                    value = "true"
                elif rest:
                    value = rest.pop(0)
                else:
                    raise FlagError(f"flag needs an argument: {s}")
                self._set(values, f, value, stderr)
                continue
            shorts = s[1:]
            while shorts:
                c = shorts[0]
                f = self._short.get(c)
                if f is None:
                    if c == "h":
                        help_flag = True
                        deprecated_h = True
                        shorts = shorts[1:]
                        continue
                    raise FlagError(f"unknown shorthand flag: '{c}' in -{shorts}")
                if len(shorts) > 2 and shorts[1] == "=":
                    value, shorts = shorts[2:], ""
                elif f.is_bool:
                    value, shorts = "true", shorts[1:]
                elif len(shorts) > 1:
                    value, shorts = shorts[1:], ""
                elif rest:
                    value, shorts = rest.pop(0), ""
                else:
                    raise FlagError(f"flag needs an argument: '{c}' in -{shorts}")
                self._set(values, f, value, stderr)
        if help_flag or (self._long.get("help") is not None and values.get("help")):
            raise HelpRequested(deprecated_h)
        return values, positional

    def _set(self, values: Values, f: Flag, text: str, stderr: Any) -> None:
        try:
            value = f.convert(text) if f.convert else text
        except ValueError as exc:
            raise FlagError(f'invalid argument "{text}" for "{f.display_name}" flag: {exc}') from None
        if f.repeat:
            if isinstance(value, list):
                getattr(values, f.dest).extend(value)
            else:
                getattr(values, f.dest).append(value)
        else:
            setattr(values, f.dest, value)
        values.changed.add(f.long)
        if f.deprecated and stderr is not None:
            stderr.write(f"Flag --{f.long} has been deprecated, {f.deprecated}\n")

    # -- help -----------------------------------------------------------------------
    def usages(self, width: int = 79) -> str:
        """The "Options:" block, laid out and wrapped like pflag's FlagUsagesWrapped."""
        rows: list[tuple[str, str]] = []
        for f in sorted(self.flags, key=lambda x: x.long):
            if f.hidden or f.deprecated:
                continue
            left = f"  -{f.short}, --{f.long}" if f.short else f"      --{f.long}"
            if f.kind:
                left += " " + f.kind
            usage = f.usage
            shown = f.help_default
            if shown is None:
                shown = _default_text(f)
            if shown:
                usage += f" (default {shown})"
            rows.append((left, usage))
        if not rows:
            return ""
        col = max(len(left) for left, _ in rows) + 3  # pflag: widest name + "\x00" + 2
        lines = []
        for left, usage in rows:
            lines.append(left.ljust(col) + _wrap(usage, col, width))
        return "\n".join(lines) + "\n"


def _default_text(f: Flag) -> str:
    d = f.default
    if f.repeat or d is None:
        return ""
    if f.is_bool:
        return "true" if d else ""
    if isinstance(d, str):
        return f'"{d}"' if d else ""
    if isinstance(d, (int, float)) and d != 0:
        return str(d)
    return ""


def _wrap_n(i: int, slop: int, s: str) -> tuple[str, str]:
    if i + slop > len(s):
        return s, ""
    w = max(s.rfind(" ", 0, i), s.rfind("\t", 0, i), s.rfind("\n", 0, i))
    if w <= 0:
        return s, ""
    nl = s.rfind("\n", 0, i)
    if 0 < nl < w:
        return s[:nl], s[nl + 1:]
    return s[:w], s[w + 1:]


def _wrap(text: str, indent: int, width: int) -> str:
    """pflag's wrapping: lines up to `width`, the last one may run 5 columns over."""
    wrap = width - indent
    prefix = ""
    if wrap < 24:
        indent = 16
        wrap = width - indent
        prefix = "\n" + " " * indent
    pad = "\n" + " " * indent
    if wrap < 24:
        return prefix + text.replace("\n", pad)
    slop = 5
    wrap -= slop
    line, rest = _wrap_n(wrap, slop, text)
    out = prefix + line.replace("\n", pad)
    while rest:
        line, rest = _wrap_n(wrap, slop, rest)
        out += pad + line.replace("\n", pad)
    return out
