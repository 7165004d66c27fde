"""The Dockerfile shell lexer against buildkit's envVarTest and wordsTest
tables (specs/dockerfile-shell-lexer), plus the substitution forms and
errors the tables do not cover."""

from __future__ import annotations

import pytest

from berth.build.shell_lexer import EXPANDED_INSTRUCTIONS, ShellLexer, ShellLexError
from specs import SPECS_DIR

TABLES = SPECS_DIR / "dockerfile-shell-lexer"

# The environment buildkit's lexer test runs envVarTest with (restated from
# its test: the working directory, the shell, a non-ASCII value, and a
# variable that is set but empty).
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_rows():
    rows = []
    for n, line in enumerate(TABLES.joinpath("envVarTest").read_text("utf-8").split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        platform, word, expected = (f.strip() for f in line.split("|", 2))
        # A rows hold on both platforms; W rows only where variable names are
        # case-insensitive (Windows), U rows only where they are not.
        modes = {"A": (False, True), "U": (False,), "W": (True,)}[platform]
        for windows in modes:
            rows.append(pytest.param(word, expected, windows, id=f"L{n}-{'win' if windows else 'unix'}"))
    return rows


def _words_rows():
    rows = []
    env: dict[str, str] = {}
    for n, line in enumerate(TABLES.joinpath("wordsTest").read_text("utf-8").split("\n"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("ENV "):
            key, value = line[4:].split("=", 1)  # trailing spaces are part of the value
            env[key] = value
            continue
        word, expected = line.split("|", 1)
        rows.append(pytest.param(word.strip(), expected.lstrip(), dict(env), id=f"L{n}"))
    return rows


ENV_ROWS = _env_rows()
WORDS_ROWS = _words_rows()


def test_table_sizes():
    assert len(ENV_ROWS) == 456
    assert len(WORDS_ROWS) == 24


@pytest.mark.parametrize("word,expected,windows", ENV_ROWS)
def test_env_var_table(word, expected, windows):
    lexer = ShellLexer("\\", case_insensitive_env=windows)
    if expected == "error":
        with pytest.raises(ShellLexError):
            lexer.process_word(word, ENV_VAR_TEST_ENV)
    else:
        assert lexer.process_word(word, ENV_VAR_TEST_ENV) == expected


@pytest.mark.parametrize("word,expected,env", WORDS_ROWS)
def test_words_table(word, expected, env):
    lexer = ShellLexer("\\")
    if expected == "error":
        with pytest.raises(ShellLexError):
            lexer.process_words(word, env)
    else:
        assert lexer.process_words(word, env) == expected.split(",")


@pytest.mark.parametrize(
    "word,message",
    [
        ("he${XXX?}", 'failed to process "he${XXX?}": XXX: is not allowed to be unset'),
        ("${NULL:?}", 'failed to process "${NULL:?}": NULL: is not allowed to be empty'),
        ("${XXX:?must be set}", 'failed to process "${XXX:?must be set}": XXX: must be set'),
        ("${XXX:-a", "failed to process \"${XXX:-a\": syntax error: missing '}'"),
        ("${", "failed to process \"${\": syntax error: missing '}'"),
        # buildkit prints the end-of-input rune as U+FFFD here
        ("${XXX", 'failed to process "${XXX": unsupported modifier (\ufffd) in substitution'),
        ("${}", 'failed to process "${}": syntax error: bad substitution'),
        ("${XXX:=1}", 'failed to process "${XXX:=1}": unsupported modifier (:=) in substitution'),
        ("a'b", 'failed to process "a\'b": unexpected end of statement while looking for '
         "matching single-quote"),
        ('a"b', 'failed to process "a\\"b": unexpected end of statement while looking for '
         "matching double-quote"),
        ("${PWD/a", "failed to process \"${PWD/a\": syntax error: missing '/' in ${}"),
        ("${PWD#\\x}", 'failed to process "${PWD#\\\\x}": invalid pattern (\\x) in substitution: '
         "invalid escape '\\x'"),
    ],
)
def test_error_texts(word, message):
    with pytest.raises(ShellLexError) as e:
        ShellLexer().process_word(word, ENV_VAR_TEST_ENV)
    assert str(e.value) == message


@pytest.mark.parametrize(
    "word,expected",
    [
        ("${F#*/}", "a/b/c.tar.gz"),
        ("${F##*/}", "c.tar.gz"),
        ("${F%.*}", "/a/b/c.tar"),
        ("${F%%.*}", "/a/b/c"),
        ("${F#/a}", "/b/c.tar.gz"),
        ("${F#nomatch}", "/a/b/c.tar.gz"),
        ("${F%\\*}", "/a/b/c.tar.gz"),
        ("${S%\\*}", "x"),
        ("${S#?}", "*"),
        ("${F/b/B}", "/a/B/c.tar.gz"),
        ("${F//\\//_}", "_a_b_c.tar.gz"),
        ("${F/*./}", "gz"),
        ("${F/.*/}", "/a/b/c"),
        ("${V//o/0}", "f00 b0o"[:0] + "f00 b00"),
        ("${UNSET#x}", ""),
        ("${UNSET/x/y}", ""),
        ("${V:+set}${UNSET:-dflt}", "setdflt"),
        ("${V-x}${NULL-x}${UNSET-x}", "foo boox"),
        ("${V+y}${NULL+y}${UNSET+y}", "yy"),
    ],
)
def test_pattern_forms(word, expected):
    env = {"F": "/a/b/c.tar.gz", "V": "foo boo", "S": "x*", "NULL": ""}
    assert ShellLexer().process_word(word, env) == expected


def test_backtick_escape():
    lexer = ShellLexer("`")
    env = {"X": "1"}
    assert lexer.process_word("a`$X\\b", env) == "a$X\\b"
    assert lexer.process_word('"q`"q"', env) == 'q"q'
    assert lexer.process_words("c:\\dir` with` space x", env) == ["c:\\dir with space", "x"]


def test_words_after_expansion():
    env = {"L": "  a  b ", "E": ""}
    lexer = ShellLexer()
    assert lexer.process_words("$L", env) == ["a", "b"]
    assert lexer.process_words('"$L"', env) == ["  a  b "]
    assert lexer.process_words("x$E y", env) == ["x", "y"]
    assert lexer.process_words('""', env) == []
    assert lexer.process_word("keep  inner  spaces", env) == "keep  inner  spaces"


def test_raw_modes_used_for_heredocs():
    lexer = ShellLexer(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    assert lexer.process_words("RUN <<'EOF' \\$X $Y ${Z:-d}", {}) == [
        "RUN", "<<'EOF'", "\\$X", "$Y", "${Z:-d}"]


def test_unicode_names_and_digits():
    env = {"ÄBC": "ok", "A1": "x"}
    assert ShellLexer().process_word("$ÄBC-$A1-$1a", env) == "ok-x-a"


def test_matched_and_unmatched():
    res = ShellLexer().process("$A ${B:-x} $A", {"A": "1"})
    assert res.result == "1 x 1"
    assert res.matched == {"A"} and res.unmatched == {"B"}


def test_expanded_instruction_list():
    assert EXPANDED_INSTRUCTIONS == {
        "ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER",
        "VOLUME", "WORKDIR", "ARG"}
    assert "RUN" not in EXPANDED_INSTRUCTIONS and "ONBUILD" not in EXPANDED_INSTRUCTIONS
