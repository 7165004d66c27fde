"""Per-instruction argument parsing, as buildkit's line parsers do it.

Each instruction's text (continuations already joined) is split into the
keyword, the leading `--flags`, and the rest; the rest is parsed by the
instruction's rule: JSON-or-shell (RUN CMD ENTRYPOINT SHELL), JSON-or-words
(ADD COPY VOLUME), words (FROM EXPOSE), name=value pairs (ENV LABEL), words
keeping quotes (ARG), one string (MAINTAINER USER WORKDIR STOPSIGNAL), the
HEALTHCHECK type plus JSON-or-shell, and ONBUILD's nested instruction.
Values are not expanded here: the builder does that later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from berth.build.shell_lexer import GO_SPACE_CHARS, go_is_space

__all__ = ["ArgsResult", "split_command", "parse_args", "KNOWN_INSTRUCTIONS"]

_WS_SPLIT = re.compile(r"[\t\v\f\r ]+")  # buildkit's reWhitespace


class LineError(Exception):
    """An argument-level parse error (reported with the instruction's lines)."""


_NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


@dataclass
class ArgsResult:
    nodes: list[str] = field(default_factory=list)
    json_form: bool = False
    kv_legacy: bool = False
    sub: tuple[str, list[str], str] | None = None  # ONBUILD: (cmd, flags, rest)


def _go_trim(s: str) -> str:
    return s.strip(GO_SPACE_CHARS)


def split_command(line: str) -> tuple[str, list[str], str]:
    """(keyword as written, flags, rest) of one instruction line."""
    parts = _WS_SPLIT.split(_go_trim(line), maxsplit=1)
    cmd = parts[0]
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1])
    return cmd, flags, _go_trim(rest)


def _as_go_bytes(s: str) -> str:
    """The UTF-8 bytes of s, one character per byte (U+0000..U+00FF)."""
    return s.encode("utf-8", "surrogateescape").decode("latin-1")


def _from_go_bytes(s: str) -> str:
    return s.encode("latin-1").decode("utf-8", "surrogateescape")


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading `--name[=value]` words (quotes and backslashes processed),
    stopping at the first word that does not start with `--` or after a bare
    `--`. Returns (rest of the line, flags).

    buildkit walks this part byte by byte and turns each byte into a rune, so
    a non-ASCII flag value comes out as its UTF-8 bytes read as Latin-1
    (and a 0x85 or 0xA0 byte inside a character separates words); this is
    reproduced, odd as it is, because the build sees those values."""
    if not line.lstrip(GO_SPACE_CHARS).startswith("--"):
        return line, []
    if not line.isascii():
        rest, flags = _extract_flags_chars(_as_go_bytes(line))
        return _from_go_bytes(rest), flags
    return _extract_flags_chars(line)


def _extract_flags_chars(line: str) -> tuple[str, list[str]]:
    words: list[str] = []
    word: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    n = len(line)
    pos = 0
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if go_is_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = in_word
        if pos == n:  # in a word or a quote at the end
            w = "".join(word)
            if w != "--" and (blank_ok or w):
                words.append(w)
            break
        if phase == in_word:
            if go_is_space(ch):
                phase = in_spaces
                w = "".join(word)
                if w == "--":
                    return line[pos:], words
                if blank_ok or w:
                    words.append(w)
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            pos += 1
            continue
        # in a quote
        if ch == quote:
            phase = in_word
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word.append(ch)
        pos += 1
    return "", words


def parse_words(rest: str, escape: str) -> list[str]:
    """Words separated by spaces; quotes and escapes are kept in the words
    (they are processed when the value is expanded)."""
    words: list[str] = []
    word: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    n = len(rest)
    pos = 0
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if go_is_space(ch):
                pos += 1
                continue
            phase = in_word
        if pos == n:
            if blank_ok or word:
                words.append("".join(word))
            break
        if phase == in_word:
            if go_is_space(ch):
                phase = in_spaces
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue  # an escape token at the end of the line is dropped
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        # in a quote
        if ch == quote:
            phase = in_word
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            pos += 1
            word.append(ch)
            ch = rest[pos]
        word.append(ch)
        pos += 1
    return words


def _name_val(rest: str, key: str, escape: str) -> ArgsResult:
    words = parse_words(rest, escape)
    if not words:
        return ArgsResult()
    if "=" not in words[0]:
        parts = _WS_SPLIT.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LineError(f"{key} must have two arguments")
        return ArgsResult([parts[0], parts[1], ""], kv_legacy=True)
    nodes: list[str] = []
    for w in words:
        if "=" not in w:
            raise LineError(
                f"Syntax error - can't find = in {_go_q(w)}. Must be of the form: name=value"
            )
        k, v = w.split("=", 1)
        nodes += [k, v, "="]
    return ArgsResult(nodes)


def _go_q(s: str) -> str:
    from berth.build.parser.goquote import go_quote

    return go_quote(s)


class _NotJSON(Exception):
    pass


def _reject_constant(name: str) -> object:
    raise _NotJSON(name)


def _go_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJSON(text)  # Go fails to unmarshal numbers out of range
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_go_float,
                            parse_int=_go_float)


def _parse_json(rest: str) -> list[str] | None:
    """The JSON array form, or None when `rest` is not a JSON array (it then
    falls back to the shell/words form). A JSON array holding anything but
    strings is an error, as in buildkit."""
    rest = rest.lstrip(GO_SPACE_CHARS)
    if not rest.startswith("["):
        return None
    try:
        value, end = _DECODER.raw_decode(rest)
    except (ValueError, _NotJSON, RecursionError):
        return None
    # buildkit decodes the first JSON value with a json.Decoder: whatever
    # follows the closing bracket is ignored.
    if not isinstance(value, list):
        return None
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise LineError(_NOT_STRING_ARRAY)
        out.append(_fix_surrogates(item))
    return out


def _fix_surrogates(s: str) -> str:
    # Go turns lone UTF-16 surrogates from \ud800 escapes into U+FFFD.
    if any("\ud800" <= c <= "\udfff" for c in s):
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)
    return s


def _maybe_json(rest: str) -> ArgsResult:
    if rest == "":
        return ArgsResult()
    arr = _parse_json(rest)
    if arr is not None:
        return ArgsResult(arr, json_form=True)
    return ArgsResult([rest])


def _maybe_json_to_list(rest: str) -> ArgsResult:
    arr = _parse_json(rest)
    if arr is not None:
        return ArgsResult(arr, json_form=True)
    return _whitespace_list(rest)


def _whitespace_list(rest: str) -> ArgsResult:
    if rest == "":
        return ArgsResult()
    return ArgsResult(_WS_SPLIT.split(rest))


def _string(rest: str) -> ArgsResult:
    return ArgsResult([rest] if rest else [])


def _health(rest: str) -> ArgsResult:
    if not rest.isascii():
        # buildkit finds the type word byte by byte
        raw = _as_go_bytes(rest)
        sep = 0
        while sep < len(raw) and not go_is_space(raw[sep]):
            sep += 1
        nxt = sep
        while nxt < len(raw) and go_is_space(raw[nxt]):
            nxt += 1
        if sep == 0:
            return ArgsResult()
        cmd = _maybe_json(_from_go_bytes(raw[nxt:]))
        return ArgsResult([_from_go_bytes(raw[:sep])] + cmd.nodes, json_form=cmd.json_form)
    sep = 0
    n = len(rest)
    while sep < n and not go_is_space(rest[sep]):
        sep += 1
    nxt = sep
    while nxt < n and go_is_space(rest[nxt]):
        nxt += 1
    if sep == 0:
        return ArgsResult()
    cmd = _maybe_json(rest[nxt:])
    return ArgsResult([rest[:sep]] + cmd.nodes, json_form=cmd.json_form)


def parse_args(keyword: str, rest: str, escape: str) -> ArgsResult:
    """Parse `rest` by the rule of `keyword` (upper case). Unknown keywords
    keep one empty argument, like buildkit's parser (the error comes from
    the instruction check)."""
    if keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        return _maybe_json(rest)
    if keyword in ("ADD", "COPY", "VOLUME"):
        return _maybe_json_to_list(rest)
    if keyword in ("FROM", "EXPOSE"):
        return _whitespace_list(rest)
    if keyword in ("ENV", "LABEL"):
        return _name_val(rest, keyword, escape)
    if keyword == "ARG":
        return ArgsResult(parse_words(rest, escape))
    if keyword in ("MAINTAINER", "USER", "WORKDIR", "STOPSIGNAL"):
        return _string(rest)
    if keyword == "HEALTHCHECK":
        return _health(rest)
    if keyword == "ONBUILD":
        if rest == "":
            return ArgsResult()
        return ArgsResult(sub=split_command(rest))
    return ArgsResult([""])


KNOWN_INSTRUCTIONS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
    "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL",
    "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)
