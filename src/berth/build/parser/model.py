"""The parsed Dockerfile: instructions in order, with what buildkit's AST
keeps (flags split off, arguments as the per-instruction parser left them,
line ranges, heredocs), and the dump format of buildkit's conformance files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.build.parser.goquote import go_quote, go_quote_list
from berth.errors import InvalidParameter

__all__ = ["DockerfileParseError", "Heredoc", "Instruction", "Dockerfile"]


class DockerfileParseError(InvalidParameter):
    """A Dockerfile that cannot be parsed.

    line: the 1-based line the error is reported on (0 when none applies).
    reason: buildkit's bare message ("unknown instruction: RUNN").
    str(e) / e.message: what docker's daemon answers, e.g.
    `dockerfile parse error on line 4: unknown instruction: RUNN` for an
    instruction-level error, `failed to parse Dockerfile: file with no
    instructions` for a file-level one.
    """

    def __init__(self, line: int, message: str, text: str | None = None) -> None:
        self.line = line
        self.reason = message
        super().__init__(text if text is not None else message)


@dataclass
class Heredoc:
    """One `<<NAME` body. `content` is the raw text between the line that
    opened it and the terminator, newlines included; `chomp` (`<<-`) means
    leading tabs are to be removed (see `chomped()`), `expand` is False when
    the delimiter was quoted (no variable expansion in the body)."""

    name: str
    content: str = ""
    chomp: bool = False
    expand: bool = True
    fd: int = 0

    def chomped(self) -> str:
        """The content as the build uses it: leading tabs of every line
        removed for `<<-`."""
        if not self.chomp:
            return self.content
        return "".join(line.lstrip("\t") for line in self.content.splitlines(keepends=True))


@dataclass
class Instruction:
    """One Dockerfile instruction.

    keyword: upper case ("RUN"); raw_keyword keeps the spelling used.
    flags: the `--name=value` words before the arguments, as written.
    args: shell form: [the command string]; JSON form: the list; ENV/LABEL:
      [k1, v1, k2, v2, ...] with values still quoted/escaped as written
      (the builder runs them through the shell lexer); ARG: the words;
      HEALTHCHECK: [TYPE, command...]; ONBUILD: [] and `sub` holds the
      trigger; FROM/EXPOSE/COPY/ADD/VOLUME (non-JSON): whitespace split.
    json_form: the arguments were a JSON array.
    kv_legacy: ENV/LABEL written as `ENV key value` (one pair).
    original: the instruction as written, continuation lines joined
      (docker prints it in "Step 2/5 : ...").
    start_line/end_line: 1-based, end includes continuation and heredoc
      lines.
    """

    keyword: str
    flags: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    json_form: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    sub: Instruction | None = None
    kv_legacy: bool = False
    raw_keyword: str = ""
    comments: list[str] = field(default_factory=list)
    # arguments exactly as buildkit's AST holds them (the ENV/LABEL
    # separators included); dump() prints these
    nodes: list[str] = field(default_factory=list)

    def dump(self) -> str:
        """buildkit's Node.Dump() of this instruction (without parentheses)."""
        s = (self.raw_keyword or self.keyword).lower()
        if self.flags:
            s += " " + go_quote_list(self.flags)
        if self.sub is not None:
            s += " (" + self.sub.dump() + ")"
        for v in self.nodes:
            s += " " + go_quote(v)
        return s.strip()

    def __str__(self) -> str:
        return self.original.strip()


@dataclass
class Dockerfile:
    """A parsed Dockerfile."""

    instructions: list[Instruction]
    directives: dict[str, str]
    escape: str = "\\"
    warnings: list[str] = field(default_factory=list)
    start_line: int = 0
    end_line: int = 0

    def dump(self) -> str:
        """buildkit's AST.Dump(): one `(instruction args...)` per line."""
        return "\n".join("(" + i.dump() + ")" for i in self.instructions)

    def warnings_text(self) -> str:
        """What docker's builder prints for the parser's warnings (buildkit's
        Result.PrintWarnings), "" when there are none."""
        if not self.warnings:
            return ""
        lines = [f"[WARNING]: {w}\n" for w in self.warnings]
        lines.append("[WARNING]: Empty continuation lines will become errors in a future release.\n")
        return "".join(lines)

    @property
    def syntax(self) -> str | None:
        return self.directives.get("syntax")
