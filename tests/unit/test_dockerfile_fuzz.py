"""Fuzz smoke test: random text into the parser, the shell lexer and the
.dockerignore matcher. Only their own error classes may come out."""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from berth.build.dockerignore import DockerignoreError, IgnoreMatcher, read_patterns
from berth.build.parser import DockerfileParseError, expand_instruction, group_stages, parse
from berth.build.shell_lexer import ShellLexer, ShellLexError

# Pieces that reach the interesting branches more often than plain text.
TOKENS = [
    "FROM ", "RUN ", "COPY ", "ADD ", "ENV ", "LABEL ", "ARG ", "CMD ", "ONBUILD ",
    "HEALTHCHECK ", "SHELL ", "EXPOSE ", "VOLUME ", "WORKDIR ", "USER ", "MAINTAINER ",
    "STOPSIGNAL ", "ENTRYPOINT ", "# escape=`", "# escape=\\", "# syntax=x", "\\\n", "`\n",
    "\n", "\r\n", " ", "\t", "<<EOF", "<<-'E'", "EOF\n", "E\n", "[", "]", '"', "'", ",", "=",
    "--from=", "--", "$", "${", "}", ":-", ":+", "?", "#", "%", "/", "*", "**", "!", "AS ",
    "\x00", "\ufeff", "é", "\u2028", "\x85",
]
SNIPPETS = st.lists(st.sampled_from(TOKENS) | st.text(max_size=6), max_size=40).map("".join)
# Hypothesis keeps its files out of the checkout.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "berth-hypothesis"))

# BERTH_FUZZ_EXAMPLES raises the count for a longer local run; no example
# database is written into the checkout.
SETTINGS = settings(max_examples=int(os.environ.get("BERTH_FUZZ_EXAMPLES", "300")),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(SNIPPETS)
def test_parse_only_raises_parse_errors(text):
    try:
        df = parse(text)
    except DockerfileParseError as e:
        assert str(e) and e.line >= 0
        return
    df.dump()
    try:
        group_stages(df)
    except DockerfileParseError:
        pass
    for ins in df.instructions:
        try:
            expand_instruction(ins, {"A": "1"}, df.escape)
        except ShellLexError:
            pass


@SETTINGS
@given(SNIPPETS, st.sampled_from(["\\", "`"]), st.booleans(), st.booleans())
def test_lexer_only_raises_lex_errors(word, escape, raw, skip_unset):
    lexer = ShellLexer(escape, raw_quotes=raw, raw_escapes=raw, skip_unset_env=skip_unset)
    try:
        lexer.process_word(word, {"A": "x y", "E": ""})
        lexer.process_words(word, {"A": "x y", "E": ""})
    except ShellLexError as e:
        assert str(e).startswith("failed to process ")


@SETTINGS
@given(SNIPPETS, st.text(max_size=20))
def test_dockerignore_only_raises_its_errors(text, path):
    try:
        m = IgnoreMatcher(read_patterns(text))
    except DockerignoreError:
        return
    assert m.matches(path) in (True, False)
