"""Dockerfile word processing: variable expansion, quotes, escapes and word
splitting, as buildkit's `frontend/dockerfile/shell` lexer does them.

This is not a shell. It is the small language Dockerfile instructions use for
their arguments: `$VAR`, `${VAR}`, the `${VAR:-x}` family, the pattern forms
(`${VAR#pat}`, `##`, `%`, `%%`, `${VAR/pat/repl}`, `${VAR//pat/repl}`), single
and double quotes, and the escape token (`\\`, or the backtick after
`# escape=```). `process_word` returns one string (spaces kept), and
`process_words` splits the result into words after expansion, the way
`EXPOSE`/heredoc detection need it.

Which instructions docker expands is a fact of the builder, not of the lexer;
`EXPANDED_INSTRUCTIONS` records it (see `expand_instruction_args`).

The reproduction target is every row of buildkit's `envVarTest` and
`wordsTest` tables (tests/unit/test_shell_lexer.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ShellLexError",
    "ShellLexer",
    "ProcessResult",
    "EXPANDED_INSTRUCTIONS",
    "go_is_space",
]

# Go's unicode.IsSpace: Latin-1 spaces plus the Z categories. Python's
# str.isspace also accepts U+001C..U+001F, which Go does not.
_GO_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
GO_SPACE_CHARS = "".join(sorted(_GO_SPACES))


def go_is_space(ch: str) -> bool:
    return ch in _GO_SPACES


_SPECIAL_PARAMS = frozenset("@*#?-$!0")

# Instructions whose arguments docker's builder runs through this lexer
# (buildkit's instructions implementing SupportsSingleWordExpansion, and the
# legacy builder's replaceEnvAllowed list). RUN/CMD/ENTRYPOINT/SHELL/
# HEALTHCHECK are never expanded by the builder: the shell in the container
# does that. ONBUILD's trigger is expanded when it runs in the child build.
EXPANDED_INSTRUCTIONS = frozenset(
    {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER",
     "VOLUME", "WORKDIR", "ARG"}
)


class ShellLexError(ValueError):
    """A word could not be processed: unmatched quote or brace, bad
    substitution, `${VAR?message}` on an unset variable, bad pattern.
    str() is buildkit's text: `failed to process "<word>": <reason>`."""

    def __init__(self, word: str, reason: str) -> None:
        self.word = word
        self.reason = reason
        super().__init__(f"failed to process {_go_quote(word)}: {reason}")


class _Fail(Exception):
    """Internal: carries the reason up to process(), which adds the word."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _go_quote(s: str) -> str:
    # Imported lazily to keep the lexer importable on its own.
    from berth.build.parser.goquote import go_quote

    return go_quote(s)


@dataclass
class ProcessResult:
    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


class _Words:
    """Word splitting as the lexer builds it: spaces that came from the
    source or from a variable's value split words, quoted text and escaped
    characters never do."""

    __slots__ = ("word", "words", "in_word")

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch in _GO_SPACES:
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.word += ch
            self.in_word = True

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.word += s
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


_EOF = ""


class ShellLexer:
    """Processes Dockerfile words.

    escape: the escape token, `\\` or `` ` ``.
    raw_quotes: keep quote characters in the output (heredoc detection).
    raw_escapes: keep escape tokens in the output.
    skip_process_quotes: treat quotes as ordinary characters.
    skip_unset_env: leave references to unset variables as written.
    case_insensitive_env: Windows semantics for variable names.
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_process_quotes: bool = False,
        skip_unset_env: bool = False,
        case_insensitive_env: bool = False,
    ) -> None:
        if escape not in ("\\", "`"):
            raise ValueError(f"invalid escape token {escape!r}")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env
        self.case_insensitive_env = case_insensitive_env

    # -- public API ---------------------------------------------------------
    def process_word(self, word: str, env: Mapping[str, str] | None = None) -> str:
        return self.process(word, env).result

    def process_words(self, word: str, env: Mapping[str, str] | None = None) -> list[str]:
        return self.process(word, env).words

    def process(self, word: str, env: Mapping[str, str] | None = None) -> ProcessResult:
        # Fast path: nothing to expand, quote or escape.
        if (
            "$" not in word
            and "<" not in word
            and "'" not in word
            and '"' not in word
            and self.escape not in word
        ):
            return ProcessResult(word, _split_plain(word))
        run = _Run(self, word, env or {})
        try:
            result, words = run.stop_on(_EOF, self.raw_escapes)
        except _Fail as e:
            raise ShellLexError(word, e.reason) from None
        return ProcessResult(result, words, run.matched, run.unmatched)


def _split_plain(word: str) -> list[str]:
    words: list[str] = []
    cur: list[str] = []
    for ch in word:
        if ch in _GO_SPACES:
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


class _Run:
    """One processing pass over one word (buildkit's shellWord)."""

    def __init__(self, lex: ShellLexer, src: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.src = src
        self.pos = 0
        self.n = len(src)
        self.env = env
        self.esc = lex.escape
        self.raw_escapes = lex.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    # scanner primitives
    def peek(self) -> str:
        return self.src[self.pos] if self.pos < self.n else _EOF

    def next(self) -> str:
        if self.pos < self.n:
            ch = self.src[self.pos]
            self.pos += 1
            return ch
        return _EOF

    def stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        quotes = not self.lex.skip_process_quotes
        esc = self.esc
        while self.pos < self.n:
            ch = self.src[self.pos]
            if stop and ch == stop:
                self.pos += 1
                return "".join(result), words.get_words()
            if ch == "$":
                tmp = self.dollar()
                result.append(tmp)
                words.add_string(tmp)
            elif ch == "<":
                # `<<` keeps the blanks after it in its word, so `<< EOF`
                # is one word for heredoc detection
                tmp = self.possible_heredoc()
                result.append(tmp)
                words.add_raw_string(tmp)
            elif quotes and ch == "'":
                tmp = self.single_quote()
                result.append(tmp)
                words.add_raw_string(tmp)
            elif quotes and ch == '"':
                tmp = self.double_quote()
                result.append(tmp)
                words.add_raw_string(tmp)
            else:
                self.pos += 1
                if ch == esc:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise _Fail(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get_words()

    def possible_heredoc(self) -> str:
        self.pos += 1
        if self.peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self.pos < self.n and self.src[self.pos] in " \t\r\n":
            self.pos += 1
        return "<<" + self.src[start:self.pos]

    def single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.next()
            if ch == _EOF:
                raise _Fail("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        esc = self.esc
        while True:
            p = self.peek()
            if p == _EOF:
                raise _Fail("unexpected end of statement while looking for matching double-quote")
            if p == '"':
                self.pos += 1
                if self.lex.raw_quotes:
                    out.append(p)
                return "".join(out)
            if p == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self.peek()
                if nxt == _EOF:
                    continue  # an escape at the very end is dropped
                if nxt in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)

    def get_env(self, name: str) -> tuple[str, bool]:
        env = self.env
        if self.lex.case_insensitive_env:
            low = name.lower()
            for k, v in env.items():
                if k.lower() == low:
                    self.matched.add(name)
                    return v, True
        elif name in env:
            self.matched.add(name)
            return env[name], True
        self.unmatched.add(name)
        return "", False

    def name(self) -> str:
        start = self.pos
        src, n = self.src, self.n
        if start < n:
            ch = src[start]
            if ch.isdecimal():
                i = start
                while i < n and src[i].isdecimal():
                    i += 1
                self.pos = i
                return src[start:i]
            if ch in _SPECIAL_PARAMS:
                self.pos += 1
                return ch
        i = start
        while i < n:
            ch = src[i]
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            i += 1
        self.pos = i
        return src[start:i]

    def dollar(self) -> str:
        self.pos += 1  # the '$'
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value

        self.pos += 1  # the '{'
        p = self.peek()
        if p == _EOF:
            raise _Fail("syntax error: missing '}'")
        if p in "{}:":
            raise _Fail("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        chs = ch if ch != _EOF else "\ufffd"
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch if ch != _EOF else "\ufffd"
        elif ch == "/":
            return self._substitute(name)
        elif ch not in ("+", "-", "?", "#", "%"):
            raise _Fail(f"unsupported modifier ({chs}) in substitution")
        # the ${name<op>word} forms (after ':' any character lands here)
        try:
            word, _ = self.stop_on("}", ch in ("#", "%"))
        except _Fail:
            if self.peek() == _EOF:
                raise _Fail("syntax error: missing '}'") from None
            raise
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + chs + word + "}"
        if ch == "-":
            if not found or (null_is_unset and value == ""):
                return word
            return value
        if ch == "+":
            if not found or (null_is_unset and value == ""):
                return ""
            return word
        if ch == "?":
            if not found:
                raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _Fail(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("%", "#"):
            greedy = False
            if word and word[0] == ch:
                greedy = True
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise _Fail(f"unsupported modifier ({chs}) in substitution")

    def _substitute(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        try:
            pattern, _ = self.stop_on("/", True)
        except _Fail:
            if self.peek() == _EOF:
                raise _Fail("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self.stop_on("}", True)
        except _Fail:
            if self.peek() == _EOF:
                raise _Fail("syntax error: missing '}'") from None
            raise
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${%s/%s/%s}" % (name, pattern, replacement)
        rx = _pattern_regex(pattern, True, False)
        if replace_all:
            return rx.sub(lambda m: _go_expand(replacement, m), value)
        m = rx.search(value)
        if m:
            return value[: m.start()] + replacement + value[m.end():]
        return value


_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


def _pattern_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (`*`, `?`, backslash escapes; no bracket
    expressions, as buildkit) as a regular expression."""
    out: list[str] = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i, n = 0, len(pattern)
    while i < n:
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            nxt = pattern[i] if i < n else _EOF
            if nxt in ("}", "/") and nxt:
                continue
            tok = nxt
            i += 1
            if tok not in ("*", "?", "\\"):
                shown = tok if tok else "\ufffd"
                raise _Fail(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'"
                )
            out.append("\\" + tok)
            continue
        if tok in _REGEX_SPECIAL:
            out.append("\\" + tok)
        else:
            out.append(re.escape(tok) if tok in "\\#&~ \t\n\r\v\f-" else tok)
    try:
        return re.compile("".join(out))
    except re.error as e:  # pragma: no cover - every construct above is valid
        raise _Fail(f"invalid pattern ({pattern}) in substitution: {e}") from None


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _pattern_regex(pattern, greedy, True).search(value)
    if m:
        return value[m.end():]
    return value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping escapes attached: `a\\*c` -> `c\\*a`."""
    chars = list(pattern)
    out = [""] * len(chars)
    last = len(chars) - 1
    i = 0
    while i <= last:
        tok = chars[i]
        idx = last - i
        if tok == "\\" and i != last:
            out[idx - 1] = tok
            out[idx] = chars[i + 1]
            i += 2
        else:
            out[idx] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # Shortest/longest rightmost match = leftmost match on the reversed text.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


_TEMPLATE = re.compile(r"\$(\$|\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")


def _go_expand(template: str, m: re.Match[str]) -> str:
    """Go's Regexp.ReplaceAllString template: `$$` is a dollar, `$0`/`${0}`
    the match, any other `$name` an absent group (empty)."""
    if "$" not in template:
        return template

    def one(t: re.Match[str]) -> str:
        if t.group(1) == "$":
            return "$"
        name = t.group(2) if t.group(2) is not None else t.group(3)
        if name is None:
            return t.group(0)
        if name.isdigit() and int(name) == 0:
            return m.group(0)
        return ""

    return _TEMPLATE.sub(one, template)
