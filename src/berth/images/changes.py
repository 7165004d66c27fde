"""`--change` for `docker import` and `docker commit`: Dockerfile lines applied
to an image config.

Docker joins the changes with newlines, parses them as a Dockerfile, refuses
any instruction that cannot describe image metadata, and dispatches the rest
as the builder would, with `$VAR` expansion against the config's own Env.
Users carry their Dockerfile habits over (quotes, `ENV a=1 b=2`, shell form),
so the same rules apply here.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import signal
from dataclasses import dataclass, field

from berth.errors import InvalidParameter

VALID_CHANGE_COMMANDS = frozenset(
    {"cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild", "stopsignal", "user", "volume", "workdir"}
)
DEFAULT_SHELL = ["/bin/sh", "-c"]

# --------------------------------------------------------------------------
# shell-style word processing (quotes, escapes, $VAR / ${VAR...})

_SPECIAL_PARAMS = set("@*#?-$!0")


class _WordError(Exception):
    pass


class _Words:
    """Word splitting as the shell does: unquoted spaces and unquoted
    expansions split, quoted text never does."""

    def __init__(self) -> None:
        self.word = ""
        self.in_word = False
        self.words: list[str] = []

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_expanded(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw(self, s: str) -> None:
        self.word += s
        self.in_word = True

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class Lexer:
    """Docker's ProcessWord / ProcessWords for one word against an env list."""

    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def process_word(self, word: str, env: list[str]) -> str:
        return self._run(word, env)[0]

    def process_words(self, word: str, env: list[str]) -> list[str]:
        return self._run(word, env)[1]

    def _run(self, word: str, env: list[str]) -> tuple[str, list[str]]:
        self._s = word
        self._i = 0
        self._env: dict[str, str] = {}
        for kv in env:
            k, _, v = kv.partition("=")
            self._env[k] = v
        try:
            return self._until(None)
        except _WordError as e:
            raise InvalidParameter(str(e)) from None

    def _peek(self) -> str | None:
        return self._s[self._i] if self._i < len(self._s) else None

    def _next(self) -> str | None:
        ch = self._peek()
        if ch is not None:
            self._i += 1
        return ch

    def _until(self, stop: str | None) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        while (ch := self._peek()) is not None:
            if ch == stop:
                self._i += 1
                return "".join(out), words.result()
            if ch == "$":
                text = self._dollar()
                words.add_expanded(text)
            elif ch == "'":
                text = self._single_quote()
                words.add_raw(text)
            elif ch == '"':
                text = self._double_quote()
                words.add_raw(text)
            else:
                self._i += 1
                if ch == self.escape:
                    nxt = self._next()
                    if nxt is None:
                        break
                    text = nxt
                    words.add_raw(text)
                else:
                    text = ch
                    words.add_char(ch)
            out.append(text)
        if stop is not None:
            raise _WordError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.result()

    def _single_quote(self) -> str:
        self._i += 1
        end = self._s.find("'", self._i)
        if end < 0:
            raise _WordError("unexpected end of statement while looking for matching single-quote")
        text = self._s[self._i:end]
        self._i = end + 1
        return text

    def _double_quote(self) -> str:
        self._i += 1
        out: list[str] = []
        while True:
            ch = self._peek()
            if ch is None:
                raise _WordError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self._i += 1
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            self._i += 1
            if ch == self.escape:
                nxt = self._peek()
                if nxt is None:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = nxt
                    self._i += 1
            out.append(ch)

    def _name(self) -> str:
        ch = self._peek()
        if ch is None:
            return ""
        if ch.isdigit():
            start = self._i
            while (c := self._peek()) is not None and c.isdigit():
                self._i += 1
            return self._s[start:self._i]
        if ch in _SPECIAL_PARAMS:
            self._i += 1
            return ch
        start = self._i
        while (c := self._peek()) is not None and (c.isalnum() or c == "_"):
            self._i += 1
        return self._s[start:self._i]

    def _lookup(self, name: str) -> tuple[str, bool]:
        # Positional and special parameters are never set in a Dockerfile.
        if name in self._env and not name[0].isdigit() and name not in _SPECIAL_PARAMS:
            return self._env[name], True
        return "", False

    def _dollar(self) -> str:
        self._i += 1
        if self._peek() != "{":
            name = self._name()
            return self._lookup(name)[0] if name else "$"
        self._i += 1
        name = self._name()
        ch = self._next()
        if ch is None:
            raise _WordError("syntax error: missing '}'")
        if not name:
            raise _WordError("bad substitution")
        value, is_set = self._lookup(name)
        if ch == "}":
            return value
        colon = ch == ":"
        modifier = self._next() if colon else ch
        if modifier not in ("-", "+", "?"):
            raise _WordError(f"unsupported modifier ({modifier}) in substitution")
        word, _ = self._until_brace()
        if modifier == "-":
            return word if (value == "" if colon else not is_set) else value
        if modifier == "+":
            return word if (value != "" if colon else is_set) else ""
        if not is_set:
            raise _WordError(f"{name}: {word or 'is not allowed to be unset'}")
        if colon and value == "":
            raise _WordError(f"{name}: {word or 'is not allowed to be empty'}")
        return value

    def _until_brace(self) -> tuple[str, list[str]]:
        try:
            return self._until("}")
        except _WordError:
            if self._peek() is None:
                raise _WordError("syntax error: missing '}'") from None
            raise


# --------------------------------------------------------------------------
# Dockerfile lines


@dataclass
class _Instruction:
    name: str  # lower case, as docker's parser stores it
    rest: str  # everything after the instruction name and its flags
    flags: dict[str, str | None] = field(default_factory=dict)
    original: str = ""


_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


def _logical_lines(text: str) -> tuple[list[str], str]:
    """Join continuation lines, drop comments and blanks, honour `# escape=`."""
    escape = "\\"
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _DIRECTIVE_RE.match(lines[i])
        if not m:
            break
        if m.group(1).lower() == "escape":
            if m.group(2) not in ("\\", "`"):
                raise InvalidParameter(f"invalid escape token '{m.group(2)}' does not match ` or \\")
            escape = m.group(2)
        i += 1
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[str] = []
    pending: str | None = None
    for line in lines[i:]:
        stripped = line.strip()
        if stripped.startswith("#") or (pending is not None and stripped == ""):
            continue
        if pending is None and stripped == "":
            continue
        m = continuation.search(line)
        body = line[: m.start()] if m else line
        pending = body if pending is None else pending + body
        if not m:
            out.append(pending.strip())
            pending = None
    if pending is not None and pending.strip():
        out.append(pending.strip())
    return out, escape


def _split_instruction(line: str) -> _Instruction:
    parts = line.split(None, 1)
    name = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    flags: dict[str, str | None] = {}
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        if word == "--":
            rest = tail.lstrip()
            break
        key, eq, value = word[2:].partition("=")
        flags[key.lower()] = value if eq else None
        rest = tail.lstrip()
    return _Instruction(name, rest, flags, line)


# --------------------------------------------------------------------------
# dispatch


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    """(args, is_json): a JSON string array, else the raw shell-form text."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value, True
    return ([rest] if rest else []), False


def _name_values(instr: _Instruction, what: str) -> list[tuple[str, str]]:
    """`KEY=VALUE ...` or the legacy `KEY VALUE with spaces` (docker's parseNameVal)."""
    words = _parser_words(instr.rest)
    if not words:
        raise InvalidParameter(f"{what} requires at least one argument")
    if "=" not in words[0]:
        parts = re.split(r"[ \t]+", instr.rest, maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise InvalidParameter(f"{what} must have two arguments")
        pairs = [(parts[0], parts[1])]
    else:
        pairs = []
        for word in words:
            if "=" not in word:
                raise InvalidParameter(
                    f"Syntax error - can't find = in {json.dumps(word)}. Must be of the form: name=value"
                )
            key, _, value = word.partition("=")
            pairs.append((key, value))
    for key, _ in pairs:
        if key == "":
            raise InvalidParameter(f"{what} names can not be blank")
    return pairs


def _parser_words(rest: str) -> list[str]:
    """Split on blanks outside quotes, keeping quotes and escapes (parseWords)."""
    words: list[str] = []
    word = ""
    quote: str | None = None
    escaped = False
    for ch in rest:
        if escaped:
            word += ch
            escaped = False
            continue
        if quote is None and ch.isspace():
            if word:
                words.append(word)
            word = ""
            continue
        if ch == "\\":
            escaped = True
        elif quote is None and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = None
        word += ch
    if word:
        words.append(word)
    return words


def _parse_duration_ns(value: str, flag: str) -> int:
    """Go's time.ParseDuration, which docker uses for HEALTHCHECK flags."""
    units = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    s = value
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise InvalidParameter(f'time: invalid duration "{value}"')
    total = 0.0
    for m in re.finditer(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)|(.)", s):
        if m.group(3) is not None:
            raise InvalidParameter(f'time: invalid duration "{value}"')
        total += float(m.group(1)) * units[m.group(2)]
    ns = sign * int(total)
    if ns != 0 and ns < 1_000_000:
        raise InvalidParameter(f'Interval "{flag}" cannot be less than 1ms')
    return ns


def _check_signal(sig: str) -> None:
    if sig.isdigit():
        if int(sig) != 0:
            return
        raise InvalidParameter(f"Invalid signal: {sig}")
    name = sig.upper().removeprefix("SIG")
    if name in {s.name.removeprefix("SIG") for s in signal.Signals}:
        return
    m = re.fullmatch(r"RTM(IN|AX)([+-]\d+)?", name)
    if m:
        return
    raise InvalidParameter(f"Invalid signal: {sig}")


def _expose_ports(specs: list[str]) -> list[str]:
    """The container side of each port spec, ranges expanded, as `80/tcp`."""
    out: list[str] = []
    for spec in specs:
        raw, _, proto = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
        proto = proto.lower() or "tcp"
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidParameter(f"invalid proto: {proto}")
        container = raw.rsplit(":", 1)[-1]
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", container)
        if not m:
            raise InvalidParameter(f"invalid containerPort: {container}")
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else start
        if end < start or end > 65535:
            raise InvalidParameter(f"invalid containerPort: {container}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return out


class _Dispatcher:
    def __init__(self, config: dict, lexer: Lexer) -> None:
        self.c = config
        self.lex = lexer
        self.cmd_set = False

    @property
    def env(self) -> list[str]:
        return list(self.c.get("Env") or [])

    def word(self, s: str) -> str:
        return self.lex.process_word(s, self.env)

    def _check_flags(self, instr: _Instruction, allowed: tuple[str, ...] = ()) -> None:
        for name, value in instr.flags.items():
            if name not in allowed:
                raise InvalidParameter(f"Unknown flag: {name}")
            if value is None:
                raise InvalidParameter(f"Missing a value on flag: {name}")

    def _command_line(self, instr: _Instruction) -> list[str]:
        args, is_json = _maybe_json(instr.rest)
        if not args:
            return []
        if is_json:
            return args
        return list(self.c.get("Shell") or DEFAULT_SHELL) + args

    def dispatch(self, instr: _Instruction) -> None:
        getattr(self, "do_" + instr.name)(instr)

    def do_cmd(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        self.c["Cmd"] = self._command_line(instr)
        self.cmd_set = True

    def do_entrypoint(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        self.c["Entrypoint"] = self._command_line(instr)
        if not self.cmd_set:
            # As in a Dockerfile: a new ENTRYPOINT drops the inherited CMD.
            self.c["Cmd"] = None

    def do_env(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        pairs = [(self.word(k), self.word(v)) for k, v in _name_values(instr, "ENV")]
        env = self.env
        for key, value in pairs:
            entry = f"{key}={value}"
            for i, existing in enumerate(env):
                if existing.partition("=")[0] == key:
                    env[i] = entry
                    break
            else:
                env.append(entry)
        self.c["Env"] = env

    def do_label(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        pairs = [(self.word(k), self.word(v)) for k, v in _name_values(instr, "LABEL")]
        labels = dict(self.c.get("Labels") or {})
        for key, value in pairs:
            labels[key] = value
        self.c["Labels"] = labels

    def do_expose(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        raw = instr.rest.split()
        if not raw:
            raise InvalidParameter("EXPOSE requires at least one argument")
        specs: list[str] = []
        for word in raw:
            specs.extend(self.lex.process_words(word, self.env))
        ports = dict(self.c.get("ExposedPorts") or {})
        for port in _expose_ports(specs):
            ports[port] = {}
        self.c["ExposedPorts"] = ports

    def do_onbuild(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", instr.original).strip()
        if not expression:
            raise InvalidParameter("ONBUILD requires at least one argument")
        trigger = expression.split(None, 1)[0].upper()
        if trigger == "ONBUILD":
            raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("FROM", "MAINTAINER"):
            raise InvalidParameter(f"{trigger} isn't allowed as an ONBUILD trigger")
        self.c["OnBuild"] = list(self.c.get("OnBuild") or []) + [expression]

    def do_stopsignal(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        words = instr.rest.split()
        if len(words) != 1:
            raise InvalidParameter("STOPSIGNAL requires exactly one argument")
        sig = self.word(words[0])
        _check_signal(sig)
        self.c["StopSignal"] = sig

    def do_user(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        if not instr.rest:
            raise InvalidParameter("USER requires exactly one argument")
        self.c["User"] = self.word(instr.rest)

    def do_volume(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        args, is_json = _maybe_json(instr.rest)
        paths = args if is_json else instr.rest.split()
        if not paths:
            raise InvalidParameter("VOLUME requires at least one argument")
        volumes = dict(self.c.get("Volumes") or {})
        for path in paths:
            path = self.word(path).strip()
            if not path:
                raise InvalidParameter("VOLUME specified can not be an empty string")
            volumes[path] = {}
        self.c["Volumes"] = volumes

    def do_workdir(self, instr: _Instruction) -> None:
        self._check_flags(instr)
        if not instr.rest:
            raise InvalidParameter("WORKDIR requires exactly one argument")
        requested = self.word(instr.rest)
        if not requested.startswith("/"):
            requested = posixpath.join("/", self.c.get("WorkingDir") or "/", requested)
        cleaned = posixpath.normpath(requested)
        self.c["WorkingDir"] = "/" + cleaned.lstrip("/")

    def do_healthcheck(self, instr: _Instruction) -> None:
        self._check_flags(instr, ("interval", "timeout", "start-period", "start-interval", "retries"))
        words = instr.rest.split(None, 1)
        if not words:
            raise InvalidParameter("HEALTHCHECK requires at least one argument")
        kind = words[0].upper()
        if kind == "NONE":
            if len(words) > 1 or instr.flags:
                raise InvalidParameter("HEALTHCHECK NONE takes no arguments")
            self.c["Healthcheck"] = {"Test": ["NONE"]}
            return
        if kind != "CMD":
            raise InvalidParameter(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
        rest = words[1] if len(words) > 1 else ""
        args, is_json = _maybe_json(rest)
        if not args:
            raise InvalidParameter("Missing command after HEALTHCHECK CMD")
        health: dict = {"Test": (["CMD"] + args) if is_json else ["CMD-SHELL", args[0]]}
        for flag, key in (
            ("interval", "Interval"),
            ("timeout", "Timeout"),
            ("start-period", "StartPeriod"),
            ("start-interval", "StartInterval"),
        ):
            raw = instr.flags.get(flag)
            if raw:
                ns = _parse_duration_ns(raw, flag)
                if ns:
                    health[key] = ns
        raw_retries = instr.flags.get("retries")
        if raw_retries:
            try:
                retries = int(raw_retries)
            except ValueError:
                raise InvalidParameter(f'strconv.ParseInt: parsing "{raw_retries}": invalid syntax') from None
            if retries < 0:
                raise InvalidParameter(f"--retries cannot be negative ({retries})")
            if retries:
                health["Retries"] = retries
        self.c["Healthcheck"] = health


def parse_changes(changes: list[str]) -> tuple[list[_Instruction], str]:
    """Parse and validate without applying: lets an API handler refuse early."""
    lines, escape = _logical_lines("\n".join(changes))
    instructions = [_split_instruction(line) for line in lines]
    for instr in instructions:
        if instr.name not in VALID_CHANGE_COMMANDS:
            raise InvalidParameter(f"{instr.name} is not a valid change command")
    return instructions, escape


def apply_changes(config: dict, changes: list[str]) -> dict:
    """Return a copy of the image config (`config` section shape) with the
    Dockerfile `changes` applied; the input is never modified."""
    out = copy.deepcopy(config)
    if not changes:
        return out
    instructions, escape = parse_changes(changes)
    dispatcher = _Dispatcher(out, Lexer(escape))
    for instr in instructions:
        dispatcher.dispatch(instr)
    return out
