from specs import SPECS_DIR

import pytest

from berth.errors import InvalidParameter
from berth.images.changes import Lexer, apply_changes, parse_changes

SPECS = SPECS_DIR / "dockerfile-shell-lexer"

BASE = {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root"],
    "Cmd": ["sh"],
    "WorkingDir": "/app",
    "Labels": {"keep": "me"},
}


def changed(changes, base=None):
    return apply_changes(base if base is not None else BASE, changes)


def test_no_changes_returns_an_equal_copy():
    out = apply_changes(BASE, [])
    assert out == BASE and out is not BASE


def test_input_config_is_never_modified():
    snapshot = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in BASE.items()}
    changed(["ENV A=1", "LABEL x=y", "EXPOSE 80", "VOLUME /v", "CMD echo"])
    assert BASE == snapshot


@pytest.mark.parametrize(
    "change, cmd",
    [
        ('CMD ["nginx", "-g", "daemon off;"]', ["nginx", "-g", "daemon off;"]),
        ("CMD echo hello world", ["/bin/sh", "-c", "echo hello world"]),
        ('CMD echo "quoted $HOME"', ["/bin/sh", "-c", 'echo "quoted $HOME"']),
        ("CMD [not json", ["/bin/sh", "-c", "[not json"]),
        ("CMD []", []),
        ('cmd ["lower"]', ["lower"]),
    ],
)
def test_cmd_json_and_shell_forms(change, cmd):
    assert changed([change])["Cmd"] == cmd


def test_shell_form_uses_the_configs_shell():
    out = changed(["CMD dir"], {**BASE, "Shell": ["/bin/bash", "-ec"]})
    assert out["Cmd"] == ["/bin/bash", "-ec", "dir"]


def test_entrypoint_resets_inherited_cmd_unless_cmd_was_changed_too():
    out = changed(['ENTRYPOINT ["/entry.sh"]'])
    assert out["Entrypoint"] == ["/entry.sh"] and out["Cmd"] is None
    out = changed(['CMD ["--help"]', 'ENTRYPOINT ["/entry.sh"]'])
    assert out["Cmd"] == ["--help"]
    out = changed(["ENTRYPOINT exec /entry.sh"])
    assert out["Entrypoint"] == ["/bin/sh", "-c", "exec /entry.sh"]


def test_env_forms_quotes_and_replacement_in_place():
    out = changed(['ENV HOME=/home/u GREETING="hello world" ESC=a\\ b'])
    assert out["Env"] == [
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=/home/u",
        "GREETING=hello world",
        "ESC=a b",
    ]
    assert changed(["ENV LEGACY some value here"])["Env"][-1] == "LEGACY=some value here"
    assert changed(['ENV LEGACY "quoted legacy"'])["Env"][-1] == "LEGACY=quoted legacy"
    assert changed(["ENV EMPTY="])["Env"][-1] == "EMPTY="


def test_env_expands_against_the_config_env_in_order():
    out = changed(["ENV A=1", "ENV B=$A-${HOME} C='$A'", "ENV A=2 D=$A"])
    env = dict(e.split("=", 1) for e in out["Env"])
    assert env["B"] == "1-/root"
    assert env["C"] == "$A"
    assert env["A"] == "2" and env["D"] == "1"  # one instruction expands before it sets


def test_labels_merge_and_take_quotes():
    out = changed(['LABEL version=1.0 "com.example.desc"="a b c"', "LABEL legacy form value"])
    assert out["Labels"] == {"keep": "me", "version": "1.0", "com.example.desc": "a b c", "legacy": "form value"}


def test_expose_ports_protocols_ranges_and_env():
    out = changed(["ENV P=9000", "EXPOSE 80 53/udp 8000-8002/tcp $P 127.0.0.1:81:81"])
    assert out["ExposedPorts"] == {
        "80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}, "9000/tcp": {}, "81/tcp": {},
    }


def test_expose_word_splits_a_variable():
    out = changed(['ENV PORTS="80 443"', "EXPOSE $PORTS"])
    assert set(out["ExposedPorts"]) == {"80/tcp", "443/tcp"}


def test_onbuild_stopsignal_user_volume_workdir():
    out = changed([
        "ONBUILD RUN echo building",
        "ONBUILD COPY . /src",
        "STOPSIGNAL SIGQUIT",
        "USER www-data:www-data",
        'VOLUME ["/data", "/logs"]',
        "VOLUME /cache /tmp/x",
        "WORKDIR sub",
        "WORKDIR ../other/./dir",
    ])
    assert out["OnBuild"] == ["RUN echo building", "COPY . /src"]
    assert out["StopSignal"] == "SIGQUIT"
    assert out["User"] == "www-data:www-data"
    assert out["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}, "/tmp/x": {}}
    assert out["WorkingDir"] == "/app/other/dir"


def test_workdir_absolute_and_expanded():
    assert changed(["ENV D=/srv", "WORKDIR $D/www"])["WorkingDir"] == "/srv/www"
    assert changed(["WORKDIR rel"], {})["WorkingDir"] == "/rel"


@pytest.mark.parametrize("sig", ["SIGKILL", "KILL", "sigterm", "9", "SIGRTMIN+3", "RTMAX"])
def test_stopsignal_accepts_names_and_numbers(sig):
    assert changed([f"STOPSIGNAL {sig}"])["StopSignal"] == sig


def test_healthcheck():
    out = changed(["HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 CMD curl -f http://x/"])
    assert out["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://x/"],
        "Interval": 30_000_000_000,
        "Timeout": 90_000_000_000,
        "StartPeriod": 500_000_000,
        "Retries": 3,
    }
    assert changed(['HEALTHCHECK CMD ["/check", "-v"]'])["Healthcheck"] == {"Test": ["CMD", "/check", "-v"]}
    assert changed(["HEALTHCHECK NONE"])["Healthcheck"] == {"Test": ["NONE"]}


def test_continuations_comments_and_blank_lines():
    out = changed(["# a comment", "", "ENV A=1 \\", "    B=2", "LABEL x=y"])
    assert out["Env"][-2:] == ["A=1", "B=2"]
    assert out["Labels"]["x"] == "y"


def test_escape_directive():
    out = changed(["# escape=`", "ENV A=c:\\dir `", "   B=2"])
    assert "A=c:\\dir" in out["Env"] and "B=2" in out["Env"]


@pytest.mark.parametrize(
    "change, message",
    [
        ("RUN apt-get update", "run is not a valid change command"),
        ("FROM busybox", "from is not a valid change command"),
        ("COPY a b", "copy is not a valid change command"),
        ("Add a b", "add is not a valid change command"),
        ("MAINTAINER me", "maintainer is not a valid change command"),
        ("BOGUS x", "bogus is not a valid change command"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV ONLYKEY", "ENV must have two arguments"),
        ("ENV =value", "ENV names can not be blank"),
        ("ENV A=1 B", 'Syntax error - can\'t find = in "B". Must be of the form: name=value'),
        ('ENV A="unterminated', "unexpected end of statement while looking for matching double-quote"),
        ("LABEL", "LABEL requires at least one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("EXPOSE 80/smtp", "invalid proto: smtp"),
        ("EXPOSE http", "invalid containerPort: http"),
        ("EXPOSE 90-80", "invalid containerPort: 90-80"),
        ("STOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE"),
        ("STOPSIGNAL 0", "Invalid signal: 0"),
        ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("USER", "USER requires exactly one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("VOLUME", "VOLUME requires at least one argument"),
        ('VOLUME [""]', "VOLUME specified can not be an empty string"),
        ("ONBUILD", "ONBUILD requires at least one argument"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("HEALTHCHECK WAT x", 'Unknown type "WAT" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK --interval=10us CMD x", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
        ("HEALTHCHECK --bogus=1 CMD x", "Unknown flag: bogus"),
        ("CMD --flag x", "Unknown flag: flag"),
        ("WORKDIR ${UNSET:?must be set}", "UNSET: must be set"),
    ],
)
def test_errors_read_like_dockers(change, message):
    with pytest.raises(InvalidParameter) as err:
        changed([change])
    assert err.value.message == message


def test_an_invalid_instruction_anywhere_refuses_the_whole_list():
    with pytest.raises(InvalidParameter):
        changed(["ENV A=1", "RUN x"])


def test_parse_changes_validates_without_applying():
    instructions, escape = parse_changes(["ENV A=1", "CMD x"])
    assert [i.name for i in instructions] == ["env", "cmd"] and escape == "\\"


def _lexer_table():
    path = SPECS / "envVarTest"
    if not path.exists():
        return []
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#"):
            continue
        line = line.lstrip(" \t")
        if not line:
            continue
        platform, source, expected = (w.strip() for w in line.split("|"))
        if platform in ("A", "U"):
            cases.append(pytest.param(source, expected, id=f"line{n}"))
    return cases


@pytest.mark.skipif(not (SPECS / "envVarTest").exists(), reason="shared/specs not present")
@pytest.mark.parametrize("source, expected", _lexer_table())
def test_process_word_matches_buildkits_table(source, expected):
    env = ["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]
    if expected == "error":
        with pytest.raises(InvalidParameter):
            Lexer().process_word(source, env)
    else:
        assert Lexer().process_word(source, env) == expected


@pytest.mark.skipif(not (SPECS / "wordsTest").exists(), reason="shared/specs not present")
def test_process_words_matches_buildkits_table():
    env: list[str] = []
    checked = 0
    for line in (SPECS / "wordsTest").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("ENV "):
            env.append(line[3:].lstrip(" "))
            continue
        source, _, expected = line.partition("|")
        want = expected.lstrip(" ").split(",")
        if want == ["error"]:
            with pytest.raises(InvalidParameter):
                Lexer().process_words(source.strip(), env)
        else:
            assert Lexer().process_words(source.strip(), env) == want, source
        checked += 1
    assert checked > 20
