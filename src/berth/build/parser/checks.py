"""Instruction checks and stages, as buildkit's `instructions` package does
them before a build starts (docker's legacy builder uses the same code).

Every error is reported as `dockerfile parse error on line N: <reason>`,
with N the instruction's first line, and an unknown instruction gets
buildkit's "(did you mean RUN?)" suggestion.

`parse_flags` validates an instruction's `--flags` against the ones the
instruction accepts; `group_stages` splits a checked Dockerfile into the meta
ARGs (before the first FROM) and the stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from berth.build.parser.lineparse import KNOWN_INSTRUCTIONS
from berth.build.parser.model import Dockerfile, DockerfileParseError, Instruction

__all__ = [
    "check_instruction",
    "parse_flags",
    "ParsedFlags",
    "Stage",
    "group_stages",
    "parse_duration",
    "instruction_error",
    "FLAG_SPECS",
    "onbuild_trigger",
]

# flag name -> kind: "string", "bool" or "strings" (repeatable)
FLAG_SPECS: dict[str, dict[str, str]] = {
    "ADD": {"chown": "string", "chmod": "string", "link": "bool", "keep-git-dir": "bool",
            "checksum": "string", "exclude": "strings", "unpack": "bool"},
    "COPY": {"chown": "string", "chmod": "string", "from": "string", "link": "bool",
             "parents": "bool", "exclude": "strings"},
    "FROM": {"platform": "string"},
    "RUN": {"mount": "strings", "network": "string", "security": "string",
            "device": "strings"},
    "HEALTHCHECK": {"interval": "string", "timeout": "string", "start-period": "string",
                    "start-interval": "string", "retries": "string"},
}
# instructions whose flags buildkit never looks at
_FLAGS_IGNORED = ("ARG", "STOPSIGNAL")

_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")


def instruction_error(ins: Instruction, reason: str) -> DockerfileParseError:
    return DockerfileParseError(
        ins.start_line, reason, f"dockerfile parse error on line {ins.start_line}: {reason}"
    )


@dataclass
class ParsedFlags:
    """Validated flags. `values` holds string flags and bool flags ("true"/
    "false"), `lists` the repeatable ones; `used` the names given."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def is_true(self, name: str) -> bool:
        return self.values.get(name) == "true"


def parse_flags(keyword: str, flags: list[str]) -> ParsedFlags:
    """Check `flags` against what `keyword` accepts; ValueError(reason)
    with buildkit's wording on a bad one."""
    spec = FLAG_SPECS.get(keyword, {})
    out = ParsedFlags()
    for kind_name, kind in spec.items():
        if kind == "bool":
            out.values[kind_name] = "false"
        elif kind == "strings":
            out.lists[kind_name] = []
    for arg in flags:
        if not arg.startswith("--"):
            raise ValueError(f"Arg should start with -- : {arg}")
        if arg == "--":
            break
        body = arg[2:]
        name, eq, value = body.partition("=")
        kind = spec.get(name)
        if kind is None:
            raise ValueError(f"Unknown flag: {name}")
        if name in out.used and kind != "strings":
            raise ValueError(f"Duplicate flag specified: {name}")
        out.used.append(name)
        if kind == "bool":
            if eq and value == "":
                raise ValueError(f"Missing a value on flag: {name}")
            low = value.lower()
            if low == "":
                out.values[name] = "true"
            elif low in ("true", "false"):
                out.values[name] = low
            else:
                raise ValueError(f"Expecting boolean value for flag {name}, not: {value}")
        elif kind == "string":
            if not eq:
                raise ValueError(f"Missing a value on flag: {name}")
            out.values[name] = value
        else:
            if not eq:
                raise ValueError(f"Missing a value on flag: {name}")
            out.lists[name].append(value)
    return out


_DURATION_UNITS = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


def parse_duration(s: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (ValueError with Go's text)."""
    orig = s
    bad = ValueError(f'time: invalid duration "{orig}"')
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise bad
    total = 0.0
    while s:
        m = _DURATION_PART.match(s)
        num, unit = m.group(1), m.group(2)
        if num in ("", ".") or not m.group(0):
            raise bad
        if unit == "":
            raise ValueError(f'time: missing unit in duration "{orig}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{orig}"')
        total += float(num) * _DURATION_UNITS[unit]
        s = s[m.end():]
    if total > 2**63 - 1:
        raise bad
    return -int(total) if neg else int(total)


def _opt_interval(flags: ParsedFlags, name: str) -> int:
    s = flags.get(name)
    if s == "":
        return 0
    d = parse_duration(s)
    if d == 0:
        return 0
    if d < 1_000_000:
        raise ValueError(f'Interval "{name}" cannot be less than 1ms')
    return d


def _suggest(word: str) -> str:
    """buildkit's suggest.WrapError for instruction names: the closest name
    at Levenshtein distance < 3, in the case the user wrote."""
    low = word.lower()
    best, best_dist = "", 3
    for opt in KNOWN_INSTRUCTIONS:
        o = opt.lower()
        if o == low:
            return ""
        d = _levenshtein(low, o)
        if d < best_dist:
            best, best_dist = o, d
    if not best:
        return ""
    if word == word.lower():
        return best
    if word == word.upper():
        return best.upper()
    return best


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _go_q(s: str) -> str:
    from berth.build.parser.goquote import go_quote

    return go_quote(s)


def _is_heredoc_word(word: str) -> bool:
    from berth.build.parser.core import _heredoc_word
    from berth.build.parser.lineparse import LineError

    try:
        return _heredoc_word(word) is not None
    except LineError:
        return False


def _kvps(ins: Instruction) -> None:
    if not ins.args:
        raise ValueError(f"{ins.keyword} requires at least one argument")
    for k in ins.args[0::2]:
        if k == "":
            raise ValueError(f"{ins.keyword} names can not be blank")


def _exactly_one(ins: Instruction) -> None:
    if len(ins.args) != 1:
        raise ValueError(f"{ins.keyword} requires exactly one argument")


def _at_least_one(ins: Instruction) -> None:
    if not ins.args:
        raise ValueError(f"{ins.keyword} requires at least one argument")


def _check(ins: Instruction) -> None:
    kw = ins.keyword
    if kw not in KNOWN_INSTRUCTIONS:
        written = ins.raw_keyword or kw
        reason = f"unknown instruction: {written}"
        hint = _suggest(written)
        if hint:
            reason += f" (did you mean {hint}?)"
        raise ValueError(reason)
    if kw in ("ENV", "LABEL"):
        _kvps(ins)
    elif kw in ("MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"):
        _exactly_one(ins)
    elif kw in ("ADD", "COPY"):
        if len(ins.args) < 2:
            raise ValueError(
                f"{kw} requires at least two arguments, but only one was provided. "
                "Destination could not be determined."
            )
        if _is_heredoc_word(ins.args[-1]):
            raise ValueError(f"{kw} cannot accept a heredoc as a destination")
    elif kw == "FROM":
        stage_name_of(ins)
    elif kw == "ONBUILD":
        if ins.sub is None:
            raise ValueError("ONBUILD requires at least one argument")
        trigger = ins.sub.keyword
        if trigger == "ONBUILD":
            raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise ValueError(f"{trigger} isn't allowed as an ONBUILD trigger")
    elif kw == "HEALTHCHECK":
        _check_health(ins)
        return
    elif kw in ("EXPOSE", "VOLUME"):
        _at_least_one(ins)
        if kw == "VOLUME" and any(v.strip() == "" for v in ins.args):
            raise ValueError("VOLUME specified can not be an empty string")
    elif kw == "ARG":
        _at_least_one(ins)
        for a in ins.args:
            if a.startswith("="):
                raise ValueError("ARG names can not be blank")
    elif kw == "SHELL":
        if not ins.args:
            raise ValueError("SHELL requires at least one argument")
        if not ins.json_form:
            raise ValueError("SHELL requires the arguments to be in JSON form")
    if kw not in _FLAGS_IGNORED:
        flags = parse_flags(kw, ins.flags)
        if kw == "RUN":
            network = flags.get("network", "default")
            if network not in ("default", "none", "host"):
                raise ValueError(f"invalid network mode {_go_q(network)}")
            security = flags.get("security", "sandbox")
            if security not in ("sandbox", "insecure"):
                raise ValueError(f"security {_go_q(security)} is not valid")
            from berth.build.parser.runmount import parse_mount

            for value in flags.lists.get("mount", []):
                parse_mount(value)  # the parse-time pass: syntax and from=


def _check_health(ins: Instruction) -> None:
    if not ins.args:
        raise ValueError("HEALTHCHECK requires at least one argument")
    typ = ins.args[0].upper()
    rest = ins.args[1:]
    if typ == "NONE":
        if rest:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        return
    flags = parse_flags("HEALTHCHECK", ins.flags)
    if typ != "CMD":
        raise ValueError(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)')
    if not rest or (not ins.json_form and rest == [""]):
        raise ValueError("Missing command after HEALTHCHECK CMD")
    for name in ("interval", "timeout", "start-period", "start-interval"):
        _opt_interval(flags, name)
    retries = flags.get("retries")
    if retries:
        try:
            n = int(retries, 10)
        except ValueError:
            raise ValueError(
                f'strconv.ParseInt: parsing "{retries}": invalid syntax'
            ) from None
        if n < 0:
            raise ValueError(f"--retries cannot be negative ({n})")


def check_instruction(ins: Instruction) -> None:
    """Raise DockerfileParseError if buildkit would refuse the instruction."""
    try:
        _check(ins)
    except ValueError as e:
        raise instruction_error(ins, str(e)) from None


def stage_name_of(ins: Instruction) -> str:
    """The `AS name` of a FROM (lower case), "" without one."""
    args = ins.args
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise ValueError(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a number '
                "or contain symbols"
            )
        return name
    if len(args) != 1:
        raise ValueError("FROM requires either one or three arguments")
    return ""


@dataclass
class Stage:
    """One build stage: `FROM base [AS name]` and what follows it."""

    index: int
    base: str  # as written, not expanded ("${BASE}" stays)
    name: str  # lower case, "" when unnamed
    platform: str  # --platform value, "" when absent
    from_instruction: Instruction
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """How other stages may refer to it: its name, else its index."""
        return self.name or str(self.index)


def group_stages(df: Dockerfile) -> tuple[list[Instruction], list[Stage]]:
    """(meta ARGs before the first FROM, stages). Anything but ARG before
    the first FROM is docker's "no build stage in current context" error."""
    meta: list[Instruction] = []
    stages: list[Stage] = []
    for ins in df.instructions:
        if ins.keyword == "FROM":
            try:
                name = stage_name_of(ins)
                flags = parse_flags("FROM", ins.flags)
            except ValueError as e:
                raise instruction_error(ins, str(e)) from None
            stages.append(Stage(len(stages), ins.args[0], name, flags.get("platform"), ins))
        elif not stages:
            if ins.keyword == "ARG":
                meta.append(ins)
            else:
                raise DockerfileParseError(
                    ins.start_line,
                    "no build stage in current context",
                    "no build stage in current context",
                )
        else:
            stages[-1].instructions.append(ins)
    return meta, stages


def onbuild_trigger(ins: Instruction) -> str:
    """The ONBUILD trigger as docker stores it in the image config
    (`OnBuild`): the instruction text without `ONBUILD`, heredoc bodies
    and terminators appended on their own lines."""
    text = re.sub(r"(?i)^\s*ONBUILD\s*", "", ins.original, count=1)
    for doc in ins.heredocs:
        text += "\n" + doc.content + doc.name
    return text
