"""The Dockerfile reader: lines into instructions, as buildkit's parser.Parse.

Line handling, in buildkit's order:
- parser directives (`# escape=`, `# syntax=`, `# check=`; key case-
  insensitive) are recognised only at the top, until the first line that is
  not one (an empty line, another comment, an instruction); repeating one is
  an error;
- a line whose last non-blank character is the escape token (not itself
  escaped) continues on the next line; comment lines and empty lines inside a
  continuation are skipped (empty ones give a warning);
- comments are whole lines starting with `#` (after leading spaces);
- RUN/COPY/ADD (also as ONBUILD triggers) in shell form may open heredocs
  (`<<EOF`, `<<-EOF`, `<<"EOF"`), whose bodies follow the instruction line.
"""

from __future__ import annotations

import re

from berth.build.parser.lineparse import LineError, parse_args, split_command
from berth.build.parser.model import Dockerfile, DockerfileParseError, Heredoc, Instruction
from berth.build.shell_lexer import GO_SPACE_CHARS, ShellLexer, ShellLexError

__all__ = ["parse_ast", "file_error"]

_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_VALID_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_HEREDOC_KEYWORDS = ("ADD", "COPY", "RUN")
MAX_LINE_BYTES = 65535  # bufio.Scanner's token limit, less the newline


def file_error(name: str, line: int, reason: str) -> DockerfileParseError:
    """A file-level error, worded as docker's daemon reports it."""
    return DockerfileParseError(line, reason, f"failed to parse {name}: {reason}")


class _Directives:
    def __init__(self) -> None:
        self.done = False
        self.seen: dict[str, str] = {}
        self.escape = "\\"

    def feed(self, token: str) -> bool:
        """Look at one (left-trimmed) line; True when it was a directive."""
        if self.done:
            return False
        if not token.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(token[1:].lstrip(GO_SPACE_CHARS))
        if not m:
            self.done = True
            return False
        key = m.group(1).lower()
        if key not in _VALID_DIRECTIVES:
            self.done = True
            return False
        if key in self.seen:
            raise LineError(f"only one {key} parser directive can be used")
        value = m.group(2)
        self.seen[key] = value
        if key == "escape":
            if value not in ("`", "\\"):
                raise LineError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
        return True


def _is_comment(line: str) -> bool:
    return line.lstrip(GO_SPACE_CHARS).startswith("#")


def _trim_continuation(line: str, esc: str) -> tuple[str, bool]:
    """(line without the continuation token, is_end_of_line)."""
    s = line.rstrip(" \t")
    if s.endswith(esc) and (len(s) == 1 or s[-2] != esc):
        return s[:-1], False
    return line, True


def _split_lines(text: str) -> list[str]:
    """Lines with their newline kept (heredoc bodies need them)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _heredocs_in(line: str) -> list[Heredoc]:
    if "<<" not in line:
        return []
    lexer = ShellLexer("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lexer.process_words(line)
    except ShellLexError:
        words = []
    docs: list[Heredoc] = []
    for word in words:
        doc = _heredoc_word(word)
        if doc is not None:
            docs.append(doc)
    return docs


def _heredoc_word(src: str) -> Heredoc | None:
    m = _HEREDOC.match(src)
    if not m:
        return None
    fd = int(m.group(1)) if m.group(1) else 0
    chomp = m.group(2) == "-"
    rest = m.group(3)
    if not rest:
        return None
    try:
        words = ShellLexer("\\", skip_unset_env=True).process_words(rest)
    except ShellLexError as e:
        raise LineError(str(e)) from None
    if len(words) != 1:
        return None
    try:
        raw = ShellLexer("\\", skip_unset_env=True, raw_quotes=True).process_words(rest)
    except ShellLexError as e:
        raise LineError(str(e)) from None
    if len(raw) != len(words):
        raise LineError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    word = words[0]
    quotes = word.count("'") + word.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=word, chomp=chomp, expand=quotes == raw_quotes, fd=fd)


def _instruction_from_line(line: str, esc: str, comments: list[str]) -> Instruction:
    raw_cmd, flags, rest = split_command(line)
    keyword = raw_cmd.upper()
    res = parse_args(keyword, rest, esc)
    ins = Instruction(
        keyword=keyword,
        raw_keyword=raw_cmd,
        flags=flags,
        original=line,
        json_form=res.json_form,
        kv_legacy=res.kv_legacy,
        nodes=res.nodes,
        comments=comments,
    )
    if res.sub is not None:
        # ONBUILD's trigger is an instruction of its own (its rest of line)
        ins.sub = _instruction_from_line(rest, esc, [])
    _set_args(ins)
    return ins


def _set_args(ins: Instruction) -> None:
    if ins.keyword in ("ENV", "LABEL"):
        ins.args = [v for i, v in enumerate(ins.nodes) if i % 3 != 2]
    else:
        ins.args = list(ins.nodes)


def _can_heredoc(ins: Instruction) -> bool:
    target = ins.sub if ins.keyword == "ONBUILD" and ins.sub is not None else ins
    return target.keyword in _HEREDOC_KEYWORDS and not target.json_form


def parse_ast(text: str, name: str = "Dockerfile") -> Dockerfile:
    """Parse the text into instructions (no per-instruction checks)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _split_lines(text)
    # Go's line scanner stops at the first line over its limit: what comes
    # before is parsed, then the error is reported
    too_long = False
    if len(text) > MAX_LINE_BYTES:
        for k, raw in enumerate(lines):
            if len(raw) > MAX_LINE_BYTES and len(
                    raw.rstrip("\n").encode("utf-8", "surrogateescape")) > MAX_LINE_BYTES:
                del lines[k:]
                too_long = True
                break
    d = _Directives()
    instructions: list[Instruction] = []
    warnings: list[str] = []
    comments: list[str] = []
    current = 0
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        i += 1
        if _is_comment(raw):
            comment = raw[1:].strip(GO_SPACE_CHARS)
            if comment == "":
                comments = []
            else:
                comments.append(comment)
        token = raw.rstrip("\r\n").lstrip(GO_SPACE_CHARS)
        try:
            if d.feed(token) and comments:
                comments.pop()
        except LineError as e:
            raise file_error(name, current, str(e)) from None
        if token.startswith("#"):
            token = ""
        current += 1
        start = current
        esc = d.escape
        line, eol = _trim_continuation(token, esc)
        if eol and line == "":
            continue
        buf = [line]
        has_empty_continuation = False
        while not eol and i < n:
            raw = lines[i]
            i += 1
            current += 1
            body = raw.rstrip("\r\n")
            if _is_comment(body):
                continue
            if not body.lstrip(GO_SPACE_CHARS):
                has_empty_continuation = True
                continue
            part, eol = _trim_continuation(body, esc)
            buf.append(part)
        line = "".join(buf)
        if has_empty_continuation:
            warnings.append("Empty continuation line found in: " + line)
        try:
            ins = _instruction_from_line(line, esc, comments)
        except LineError as e:
            raise file_error(name, start, str(e)) from None
        if _can_heredoc(ins) and "<<" in line:
            try:
                docs = _heredocs_in(line)
            except LineError as e:
                raise file_error(name, start, str(e)) from None
            for doc in docs:
                terminated = False
                content: list[str] = []
                while i < n:
                    raw = lines[i]
                    i += 1
                    current += 1
                    possible = raw.rstrip("\r\n")
                    if doc.chomp:
                        possible = possible.lstrip("\t")
                    if possible == doc.name:
                        terminated = True
                        break
                    content.append(raw)
                if not terminated:
                    raise file_error(name, start, "unterminated heredoc")
                doc.content = "".join(content)
                ins.heredocs.append(doc)
        ins.start_line = start
        ins.end_line = current
        if ins.sub is not None:
            ins.sub.start_line, ins.sub.end_line = start, current
        instructions.append(ins)
        comments = []
    if not instructions:
        raise file_error(name, current, "file with no instructions")
    if too_long:
        raise file_error(
            name, current,
            f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}",
        )
    return Dockerfile(
        instructions=instructions,
        directives=dict(d.seen),
        escape=d.escape,
        warnings=warnings,
        start_line=instructions[0].start_line,
        end_line=instructions[-1].end_line,
    )
