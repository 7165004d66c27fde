"""The Dockerfile parser against buildkit's conformance data
(specs/dockerfile-parser-cases) and docker's error messages."""

from __future__ import annotations

import json

import pytest

from berth.build.parser import (
    DockerfileParseError,
    Heredoc,
    expand_instruction,
    group_stages,
    onbuild_trigger,
    parse,
    parse_ast,
    parse_flags,
)
from berth.build.parser.checks import parse_duration
from berth.build.parser.goquote import go_quote
from specs import SPECS_DIR

CASES = SPECS_DIR / "dockerfile-parser-cases"
POSITIVE = sorted(p.name for p in (CASES / "testfiles").iterdir())
NEGATIVE = sorted(p.name for p in (CASES / "testfiles-negative").iterdir())


def _read(path) -> str:
    return path.read_bytes().decode("utf-8")


def test_case_counts():
    assert len(POSITIVE) == 33
    assert len(NEGATIVE) == 4


@pytest.mark.parametrize("case", POSITIVE)
def test_dump_matches_buildkit(case):
    text = _read(CASES / "testfiles" / case / "Dockerfile")
    expected = _read(CASES / "testfiles" / case / "result")
    # parser level only: some files use flags/instructions the build refuses
    df = parse_ast(text)
    assert df.dump() + "\n" == expected


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_cases_fail(case):
    text = _read(CASES / "testfiles-negative" / case / "Dockerfile")
    with pytest.raises(DockerfileParseError):
        parse(text)


def test_negative_messages():
    with pytest.raises(DockerfileParseError) as e:
        parse("")
    assert str(e.value) == "the Dockerfile (Dockerfile) cannot be empty"
    with pytest.raises(DockerfileParseError) as e:
        parse("# Hello\n# only comments\n\n")
    assert str(e.value) == "failed to parse Dockerfile: file with no instructions"
    with pytest.raises(DockerfileParseError) as e:
        parse("FROM busybox\n\nENV PATH\n")
    assert str(e.value) == "failed to parse Dockerfile: ENV must have two arguments"
    assert e.value.line == 3
    with pytest.raises(DockerfileParseError) as e:
        parse('CMD [ "echo", [ "nested json" ] ]')
    assert e.value.reason == (
        "when using JSON array syntax, arrays must be comprised of strings only"
    )


def test_line_numbers():
    spec = json.loads(_read(CASES / "testfile-line" / "expected.json"))
    df = parse(_read(CASES / "testfile-line" / spec["dockerfile"]))
    assert (df.start_line, df.end_line) == (spec["ast"]["start_line"], spec["ast"]["end_line"])
    assert len(df.instructions) == spec["ast"]["children"]
    assert [[i.start_line, i.end_line] for i in df.instructions] == spec["children_line_ranges"]


# -- errors ------------------------------------------------------------------

@pytest.mark.parametrize(
    "text,line,message",
    [
        ("FROM busybox\nRUN true\n\nRUNN echo\n", 4,
         "dockerfile parse error on line 4: unknown instruction: RUNN (did you mean RUN?)"),
        ("FROM busybox\nfrobnicate x\n", 2,
         "dockerfile parse error on line 2: unknown instruction: frobnicate"),
        ("from busybox\ncopyy a b\n", 2,
         "dockerfile parse error on line 2: unknown instruction: copyy (did you mean copy?)"),
        ("FROM a b", 1, "dockerfile parse error on line 1: FROM requires either one or three arguments"),
        ("FROM a AS 1st", 1, 'dockerfile parse error on line 1: invalid name for build stage: '
         '"1st", name can\'t start with a number or contain symbols'),
        ("FROM a\nCOPY only", 2, "dockerfile parse error on line 2: COPY requires at least two "
         "arguments, but only one was provided. Destination could not be determined."),
        ("FROM a\nCOPY /foo <<EOF\nEOF", 2,
         "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination"),
        ("FROM a\nRUN --network=bridge true", 2,
         'dockerfile parse error on line 2: invalid network mode "bridge"'),
        ("FROM a\nRUN --security=root true", 2,
         'dockerfile parse error on line 2: security "root" is not valid'),
        ("FROM a\nCOPY --nope=1 a b", 2, "dockerfile parse error on line 2: Unknown flag: nope"),
        ("FROM a\nCOPY --from a b", 2, "dockerfile parse error on line 2: Missing a value on flag: from"),
        ("FROM a\nCOPY --link=maybe a b", 2,
         "dockerfile parse error on line 2: Expecting boolean value for flag link, not: maybe"),
        ("FROM a\nSHELL sh -c", 2,
         "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"),
        ("FROM a\nONBUILD ONBUILD RUN x", 2, "dockerfile parse error on line 2: "
         "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD FROM b", 2,
         "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nHEALTHCHECK FOO x", 2,
         'dockerfile parse error on line 2: Unknown type "FOO" in HEALTHCHECK (try CMD)'),
        ("FROM a\nHEALTHCHECK NONE x", 2,
         "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK --interval=5 CMD x", 2,
         'dockerfile parse error on line 2: time: missing unit in duration "5"'),
        ("FROM a\nHEALTHCHECK --timeout=10us CMD x", 2,
         'dockerfile parse error on line 2: Interval "timeout" cannot be less than 1ms'),
        ("FROM a\nHEALTHCHECK --retries=-2 CMD x", 2,
         "dockerfile parse error on line 2: --retries cannot be negative (-2)"),
        ("FROM a\nENV =x", 2, "dockerfile parse error on line 2: ENV names can not be blank"),
        ("FROM a\nEXPOSE", 2, "dockerfile parse error on line 2: EXPOSE requires at least one argument"),
        ("FROM a\nWORKDIR", 2, "dockerfile parse error on line 2: WORKDIR requires exactly one argument"),
        ('FROM a\nVOLUME [""]', 2,
         "dockerfile parse error on line 2: VOLUME specified can not be an empty string"),
        ("FROM a\nENV a=b c", 2, "failed to parse Dockerfile: Syntax error - can't find = in \"c\". "
         "Must be of the form: name=value"),
        ("FROM a\nRUN <<EOF\necho\n", 2, "failed to parse Dockerfile: unterminated heredoc"),
        ("# escape=x\nFROM a", 0,
         "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\"),
        ("# escape=`\n# ESCAPE=\\\nFROM a", 1,
         "failed to parse Dockerfile: only one escape parser directive can be used"),
        ("  \n\t\n", 2, "failed to parse Dockerfile: file with no instructions"),
    ],
)
def test_error_messages(text, line, message):
    with pytest.raises(DockerfileParseError) as e:
        parse(text)
    assert str(e.value) == message
    assert e.value.message == message  # what the API answers
    assert e.value.line == line


def test_error_is_invalid_parameter():
    from berth.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        parse("FROM a\nBOGUS x")


def test_dockerfile_name_in_file_errors():
    with pytest.raises(DockerfileParseError) as e:
        parse("", name="build/Dockerfile.dev")
    assert str(e.value) == "the Dockerfile (build/Dockerfile.dev) cannot be empty"
    with pytest.raises(DockerfileParseError) as e:
        parse("# x\n", name="Containerfile")
    assert str(e.value) == "failed to parse Containerfile: file with no instructions"


def test_unchecked_parse_keeps_unknown_instruction():
    df = parse_ast("FROM a\nRUNN x y\n")
    assert df.instructions[1].keyword == "RUNN"
    assert df.dump() == '(from "a")\n(runn "")'


# -- grammar -------------------------------------------------------------------

def test_directives_top_only_case_insensitive():
    df = parse("# Syntax = docker/dockerfile:1.7\n#CHECK=skip=all\n# escape=`\nFROM a\n# escape=\\\n")
    assert df.directives == {"syntax": "docker/dockerfile:1.7", "check": "skip=all", "escape": "`"}
    assert df.escape == "`"
    assert df.syntax == "docker/dockerfile:1.7"
    # after an empty line, a comment or an instruction they are plain comments
    df = parse("\n# escape=`\nFROM a\nRUN x \\\n  y")
    assert df.directives == {} and df.escape == "\\"
    assert df.instructions[1].args == ["x   y"]
    df = parse("# unknown=1\n# escape=`\nFROM a")
    assert df.directives == {}
    # a BOM before the directives is ignored
    assert parse("\ufeff# escape=`\nFROM a").escape == "`"


def test_backtick_escape_and_continuations():
    df = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo ok\nCOPY c:\\src\\ c:\\dst\\\n")
    assert df.instructions[1].args == ["dir c:\\   && echo ok"]
    assert df.instructions[2].args == ["c:\\src\\", "c:\\dst\\"]
    assert df.instructions[1].original == "RUN dir c:\\   && echo ok"


def test_continuation_details():
    df = parse(
        "FROM a\n"
        "RUN one \\\n"
        "# a comment inside\n"
        "  # an indented comment\n"
        "\n"
        "  two \\\\\n"  # an escaped escape does not continue
        "RUN three \\  \t\n"
        "four\n"
    )
    run1, run2 = df.instructions[1:]
    assert run1.args == ["one   two \\\\"]
    assert (run1.start_line, run1.end_line) == (2, 6)
    assert run2.args == ["three four"]
    assert df.warnings == ["Empty continuation line found in: RUN one   two \\\\"]


def test_crlf_line_endings():
    df = parse("FROM a\r\nRUN echo \\\r\n  hi\r\nENV A=1\r\n")
    assert df.instructions[1].args == ["echo   hi"]
    assert df.instructions[2].args == ["A", "1"]


def test_json_and_shell_forms():
    df = parse(
        'FROM a\nRUN ["echo", "hi"]\nRUN echo hi\nCMD ["a"] trailing\n'
        "ENTRYPOINT ['x']\nSHELL [\"/bin/bash\", \"-c\"]\nCMD [NaN]\n"
    )
    run_json, run_shell, cmd_trailing, ep, shell, cmd_nan = df.instructions[1:]
    assert (run_json.args, run_json.json_form) == (["echo", "hi"], True)
    assert (run_shell.args, run_shell.json_form) == (["echo hi"], False)
    # buildkit decodes the first JSON value and ignores what follows it
    assert (cmd_trailing.args, cmd_trailing.json_form) == (["a"], True)
    assert (ep.args, ep.json_form) == (["['x']"], False)
    assert shell.args == ["/bin/bash", "-c"] and shell.json_form
    assert (cmd_nan.args, cmd_nan.json_form) == (["[NaN]"], False)


def test_flags_split_off():
    df = parse(
        'FROM --platform=linux/amd64 busybox AS build\n'
        'COPY --from=build --chown="1:1" --chmod=0755 -- /a /b\n'
        "RUN --mount=type=cache,target=/c --network=none echo hi\n"
    )
    frm, copy, run = df.instructions
    assert frm.flags == ["--platform=linux/amd64"] and frm.args == ["busybox", "AS", "build"]
    assert copy.flags == ["--from=build", "--chown=1:1", "--chmod=0755"]
    assert copy.args == ["/a", "/b"]
    assert run.flags == ["--mount=type=cache,target=/c", "--network=none"]
    assert run.args == ["echo hi"]
    f = parse_flags("COPY", copy.flags)
    assert f.get("from") == "build" and not f.is_true("link")
    f = parse_flags("RUN", run.flags + ["--mount=type=bind,source=x"])
    assert f.lists["mount"] == ["type=cache,target=/c", "type=bind,source=x"]
    assert f.get("network") == "none"


def test_env_label_arg_forms():
    df = parse(
        'FROM a\nENV A=1 B="two words" C=three\\ words\nENV LEGACY some value\n'
        'LABEL "com.x"="y" version=1\nARG X Y=2 Z="q q"\nMAINTAINER Jane <j@x>\n'
    )
    env, legacy, label, arg, maint = df.instructions[1:]
    assert env.args == ["A", "1", "B", '"two words"', "C", "three\\ words"]
    assert not env.kv_legacy
    assert legacy.args == ["LEGACY", "some value"] and legacy.kv_legacy
    assert label.args == ['"com.x"', '"y"', "version", "1"]
    assert arg.args == ["X", "Y=2", 'Z="q q"']
    assert maint.args == ["Jane <j@x>"]


def test_arg_before_from_and_stages():
    df = parse(
        "ARG BASE=busybox\nARG TAG\nFROM ${BASE}:${TAG} AS Build\nRUN x\n"
        "FROM --platform=$BUILDPLATFORM scratch\nCOPY --from=build /x /x\n"
    )
    meta, stages = group_stages(df)
    assert [m.args for m in meta] == [["BASE=busybox"], ["TAG"]]
    assert [(s.index, s.base, s.name, s.platform, s.ref) for s in stages] == [
        (0, "${BASE}:${TAG}", "build", "", "build"),
        (1, "scratch", "", "$BUILDPLATFORM", "1"),
    ]
    assert [i.keyword for i in stages[0].instructions] == ["RUN"]
    assert [i.keyword for i in stages[1].instructions] == ["COPY"]
    with pytest.raises(DockerfileParseError) as e:
        group_stages(parse("ENV A=1\nFROM a"))
    assert str(e.value) == "no build stage in current context"


def test_healthcheck_forms():
    df = parse(
        "FROM a\nHEALTHCHECK NONE\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f x\n"
        'HEALTHCHECK CMD ["true"]\nhealthcheck cmd exit 0\n'
    )
    none, shell, js, lower = df.instructions[1:]
    assert none.args == ["NONE"]
    assert shell.flags == ["--interval=5s", "--retries=3"]
    assert shell.args == ["CMD", "curl -f x"] and not shell.json_form
    assert js.args == ["CMD", "true"] and js.json_form
    assert lower.keyword == "HEALTHCHECK" and lower.args == ["cmd", "exit 0"]
    assert parse_duration("1m30s") == 90_000_000_000
    assert parse_duration("1.5h") == 5_400_000_000_000
    assert parse_duration("0") == 0
    with pytest.raises(ValueError):
        parse_duration("5 s")


def test_onbuild_nested():
    text = "FROM a\nONBUILD --x RUN echo hi\nONBUILD COPY --chown=1 a b\nONBUILD ADD [\"a\", \"b\"]"
    with pytest.raises(DockerfileParseError, match="Unknown flag: x"):
        parse(text)  # ONBUILD itself takes no flags
    df = parse_ast(text)
    ob1, ob2, ob3 = df.instructions[1:]
    assert ob1.flags == ["--x"] and ob1.sub.keyword == "RUN" and ob1.sub.args == ["echo hi"]
    assert ob2.sub.flags == ["--chown=1"] and ob2.sub.args == ["a", "b"]
    assert ob3.sub.json_form
    assert ob2.dump() == 'onbuild (copy ["--chown=1"] "a" "b")'
    assert onbuild_trigger(ob2) == "COPY --chown=1 a b"


def test_heredocs():
    text = (
        "FROM a\n"
        "RUN <<EOF\n"
        "echo $HOME\n"
        "EOF\n"
        "COPY <<-\"FILE1\" <<file2 /dest/\n"
        "\t\tquoted $X\n"
        "\tFILE1\n"
        "plain\n"
        "file2\n"
        "RUN 3<<'E' cat <&3 && echo done\n"
        "body\n"
        "E\n"
        "RUN [\"cat\", \"<<EOF\"]\n"
        "ONBUILD RUN <<T\n"
        "x\n"
        "T\n"
        "RUN echo '<<NOT' <<\"\"\n"
    )
    df = parse(text)
    run1, copy, run3, runjson, onbuild, run_plain = df.instructions[1:]
    assert run1.heredocs == [Heredoc("EOF", "echo $HOME\n", chomp=False, expand=True)]
    assert (run1.start_line, run1.end_line) == (2, 4)
    assert copy.heredocs == [
        Heredoc("FILE1", "\t\tquoted $X\n", chomp=True, expand=False),
        Heredoc("file2", "plain\n", chomp=False, expand=True),
    ]
    assert copy.heredocs[0].chomped() == "quoted $X\n"
    assert copy.args == ['<<-"FILE1"', "<<file2", "/dest/"]
    assert run3.heredocs == [Heredoc("E", "body\n", chomp=False, expand=False, fd=3)]
    assert runjson.heredocs == [] and runjson.args == ["cat", "<<EOF"]
    assert onbuild.heredocs == [Heredoc("T", "x\n")]
    assert onbuild_trigger(onbuild) == "RUN <<T\nx\nT"
    assert run_plain.heredocs == []
    assert (run_plain.start_line, run_plain.end_line) == (17, 17)


def test_original_and_comments():
    df = parse("FROM a\n# say hi\n  RUN   echo \\\n   hi  \n")
    run = df.instructions[1]
    assert run.original == "RUN   echo    hi  "
    assert str(run) == "RUN   echo    hi"
    assert run.comments == ["say hi"]
    assert run.raw_keyword == "RUN"


def test_expand_instruction():
    df = parse(
        "ARG V=1\nFROM img:${V} AS s\nENV A=$HOME B=\"x $HOME\"\nEXPOSE $PORTS 22/udp\n"
        "COPY --from=$STAGE --chown=${U}:0 src$V /dst/\nWORKDIR ${HOME}/w\nRUN echo $HOME\n"
        "ARG N=${HOME}x\nLABEL \"k$V\"=\"v $V\"\n"
    )
    env = {"HOME": "/root", "PORTS": "80 443", "STAGE": "s", "U": "app", "V": "2"}
    by = {i.keyword: expand_instruction(i, env) for i in df.instructions[1:]}
    assert by["FROM"].args == ["img:2", "AS", "s"]
    assert by["ENV"].args == ["A", "/root", "B", "x /root"]
    assert by["EXPOSE"].args == ["80", "443", "22/udp"]
    assert by["COPY"].flags == ["--from=s", "--chown=app:0"] and by["COPY"].args == ["src2", "/dst/"]
    assert by["WORKDIR"].args == ["/root/w"]
    assert by["RUN"].args == ["echo $HOME"]  # the container's shell expands RUN
    assert by["ARG"].args == ["N=/rootx"]
    assert by["LABEL"].args == ["k2", "v 2"]


def test_go_quote():
    assert go_quote("plain") == '"plain"'
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\t\n\x00\x7f") == '"\\t\\n\\x00\\x7f"'
    assert go_quote("♥\u200b\U0001f600") == '"♥\\u200b\U0001f600"'
    assert go_quote("\x85") == '"\\u0085"'


def test_long_line_limit():
    with pytest.raises(DockerfileParseError) as e:
        parse("FROM a\nRUN " + "x" * 70000 + "\n")
    assert str(e.value) == (
        "failed to parse Dockerfile: dockerfile line greater than max allowed size of 65535"
    )


def test_heredoc_content_expansion():
    from berth.build.parser import heredoc_content

    df = parse('FROM a\nCOPY <<-EOF <<"Q" /x\n\techo "$HOME" \\$HOME ${U:-d} \'$HOME\'\n\tEOF\n$HOME\nQ\n')
    expanded, quoted = df.instructions[1].heredocs
    env = {"HOME": "/root"}
    # quotes stay (they belong to the script), escapes apply, unset default used
    assert heredoc_content(expanded, env) == "echo \"/root\" $HOME d '/root'\n"
    # a quoted delimiter turns expansion off
    assert heredoc_content(quoted, env) == "$HOME\n"


# (instruction + body lines, expected [(name, content, chomp, expand, fd)])
HEREDOC_CASES = [
    ("USER <<NOPE\nNOPE", None),  # USER cannot take heredocs: two instructions
    ("RUN <<EMPTY\nEMPTY", [("EMPTY", "", False, True, 0)]),
    ("RUN 3<<FD\nFD", [("FD", "", False, True, 3)]),
    ('RUN "<<QUOTED"', []),
    ("RUN '<<QUOTED'", []),
    ("RUN <<INDENT\n\tfoo\n\tbar\nINDENT", [("INDENT", "\tfoo\n\tbar\n", False, True, 0)]),
    ("RUN <<-STRIP\n\tbaz\n\tSTRIP", [("STRIP", "\tbaz\n", True, True, 0)]),
    ("RUN <<-'NOEXP'\n\tdon't $X\nNOEXP", [("NOEXP", "\tdon't $X\n", True, False, 0)]),
    ("RUN <<C\n# not a comment here\necho hi # nor here\nC",
     [("C", "# not a comment here\necho hi # nor here\n", False, True, 0)]),
    ("RUN --mount=type=cache,target=/c <<M\necho\nM", [("M", "echo\n", False, True, 0)]),
    ("COPY <<X <<Y /dest\nY\nX\nX\nY", [("X", "Y\n", False, True, 0), ("Y", "X\n", False, True, 0)]),
    ("RUN <<PY python3\nprint(1)\nPY", [("PY", "print(1)\n", False, True, 0)]),
    ("COPY <<file.txt /dest\nhi\nfile.txt", [("file.txt", "hi\n", False, True, 0)]),
    ("RUN <<eo'f'\nx\neof", [("eof", "x\n", False, False, 0)]),
    ("RUN <<eo\\'f\nx\neo'f", [("eo'f", "x\n", False, True, 0)]),
    ("RUN <<'e'o\\'f\nx\neo'f", [("eo'f", "x\n", False, False, 0)]),
    ("RUN <<'one two'\nx\none two", [("one two", "x\n", False, False, 0)]),
    ("RUN <<$EOF\n$EOF", [("$EOF", "", False, True, 0)]),
    ("RUN <<  SPACED\nSPACED", [("SPACED", "", False, True, 0)]),
    ("RUN <<  SPACED  > out\nSPACED", [("SPACED", "", False, True, 0)]),
    ("RUN << -DASH\n-DASH", [("-DASH", "", False, True, 0)]),
    ('RUN ["<<EOF"]', []),
    ("RUN <<EOF\r\nwindows\r\nEOF\r", [("EOF", "windows\r\n", False, True, 0)]),
]


@pytest.mark.parametrize("snippet,expected", HEREDOC_CASES)
def test_heredoc_detection(snippet, expected):
    df = parse_ast("FROM a\n" + snippet + "\n")
    ins = df.instructions[1]
    if expected is None:
        assert ins.heredocs == [] and len(df.instructions) == 3
        return
    assert [(h.name, h.content, h.chomp, h.expand, h.fd) for h in ins.heredocs] == expected
    assert len(df.instructions) == 2  # the bodies were consumed


def test_unterminated_quoted_heredoc_word():
    # buildkit ignores a line it cannot split into words when looking for
    # heredocs: no heredoc, so the next line is an instruction of its own
    with pytest.raises(DockerfileParseError) as e:
        parse("FROM a\nRUN <<'EOF\nx\n")
    assert str(e.value) == "dockerfile parse error on line 3: unknown instruction: x"


def test_bytes_and_warnings_text():
    df = parse(b"FROM a\nRUN echo \\\n\n  ok \xff\n")
    assert df.instructions[1].dump() == 'run "echo   ok \\xff"'
    assert df.warnings_text() == (
        "[WARNING]: Empty continuation line found in: RUN echo   ok \udcff\n"
        "[WARNING]: Empty continuation lines will become errors in a future release.\n"
    )
    assert parse("FROM a").warnings_text() == ""


def test_flags_are_read_byte_by_byte_like_buildkit():
    # buildkit turns each byte of the flag words into a rune: a non-ASCII
    # value arrives as its UTF-8 bytes read as Latin-1, and the 0x85 byte of
    # "ą" (C4 85) counts as a space
    df = parse_ast("COPY --chown=ü a b\nCOPY --x=ą rest\n")
    assert df.instructions[0].flags == ["--chown=Ã¼"]
    assert df.instructions[1].flags == ["--x=Ä"] and df.instructions[1].args == ["rest"]
    assert df.dump() == '(copy ["--chown=Ã¼"] "a" "b")\n(copy ["--x=Ä"] "rest")'
    # arguments themselves are read as characters
    assert parse("FROM a\nCOPY ü /ü\n").instructions[1].args == ["ü", "/ü"]


def test_long_line_inside_a_continuation():
    with pytest.raises(DockerfileParseError) as e:
        parse("FROM a\nRUN echo \\\n" + "y" * 65536 + "\n")
    assert e.value.reason == "dockerfile line greater than max allowed size of 65535"
    # a line of exactly the limit is fine
    assert parse("FROM a\nRUN " + "z" * (65535 - 4) + "\n").instructions[1].args[0].startswith("z")


def test_run_mount_values():
    from berth.build.parser import RunMount, parse_mount

    env = {"T": "/cache", "ID": "pip"}

    def expand(v):
        from berth.build.shell_lexer import ShellLexer

        return ShellLexer().process_word(v, env)

    assert parse_mount("type=cache,target=$T,id=${ID},sharing=LOCKED,mode=0755,uid=1", expand) == \
        RunMount(type="cache", target="/cache", cache_id="pip", sharing="locked", mode=0o755, uid=1)
    # bind mounts are read-only unless told otherwise; cache/tmpfs writable
    assert parse_mount("target=/src,from=build,source=/out", expand) == \
        RunMount(type="bind", from_="build", source="/out", target="/src", readonly=True)
    assert parse_mount("type=bind,target=/x,rw", expand).readonly is False
    assert parse_mount("type=tmpfs,dst=/t", expand).readonly is False
    assert parse_mount('"type=secret","id=tok"', expand) == RunMount(type="secret", cache_id="tok", readonly=True)
    for value, message in [
        ("type=volume,target=/x", 'unsupported mount type "volume"'),
        ("type=cahce,target=/x", 'unsupported mount type "cahce" (did you mean cache?)'),
        ("type=cache,tagret=/x", "unexpected key 'tagret' in 'tagret=/x' (did you mean target?)"),
        ("type=bind,target=/x,sharing=shared", "invalid cache sharing set for bind mount"),
        ("type=bind,target=/x,mode=0700", 'mode not allowed for "bind" type mounts'),
        ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
        ("type=cache,target=/x,mode=9", "invalid value 9 for mode"),
        ("type=bind,target=/x,ro=maybe", "invalid value for ro: maybe"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=cache,required", "unexpected key 'required' for mount type 'cache'"),
        ("target", "invalid field 'target' must be a key=value pair"),
        ('type=bi"nd', 'failed to parse csv mounts: parse error on line 1, column 8: bare " in '
         'non-quoted-field'),
        ("", "failed to parse csv mounts: EOF"),
    ]:
        with pytest.raises(ValueError) as e:
            parse_mount(value, expand)
        assert str(e.value) == message, value
    # when the Dockerfile is parsed only the syntax and from= are checked
    assert parse_mount("type=nonsense,whatever=1").type == "bind"
    with pytest.raises(DockerfileParseError) as e:
        parse("FROM a\nRUN --mount=type=bind,from=$STAGE,target=/x true\n")
    assert str(e.value) == ("dockerfile parse error on line 2: 'from' doesn't support variable "
                            "expansion, define alias stage instead")
    with pytest.raises(DockerfileParseError, match="must be a key=value pair"):
        parse("FROM a\nRUN --mount=target true\n")
    parse("FROM a\nRUN --mount=type=cache,target=$T,id=${ID} true\n")
