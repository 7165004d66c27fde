"""`--format` in the CLI: docker's procedures around the template engine, pinned without docker.

What the expected values say was checked against docker CLI 28.2.2 (see
tests/compat/test_format_golden.py and test_cli_format_live.py, which compare
byte for byte); these tests keep the behaviour without needing docker.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from berth.cli import apitypes
from berth.cli.formatter import NilPointer, write
from berth.cli.gotypes import GoTime, Schema, duration_string
from berth.cli.main import main
from berth.gotemplate import Template
from berth.gotemplate.docker import docker_funcs
from test_cli_support import FakeDaemon, Reply, json_reply

NOW = 1_700_000_000
CONTAINERS = [
    {"Id": "a" * 64, "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:" + "b" * 64, "Command": "sleep 1",
     "Created": NOW, "Ports": [], "Labels": {"x": "日本語"}, "State": "running", "Status": "Up 5 minutes",
     "HostConfig": {"NetworkMode": "default"}, "NetworkSettings": {"Networks": {"bridge": {}}}, "Mounts": []},
]
IMAGES = [{"Id": "sha256:" + "1" * 64, "ParentId": "", "RepoTags": ["busybox:latest", "busybox:v2"],
           "RepoDigests": [], "Created": NOW, "Size": 4261550, "SharedSize": -1, "Labels": None, "Containers": -1}]
HISTORY = [{"Id": "sha256:" + "1" * 64, "Created": NOW, "CreatedBy": "/bin/sh", "Tags": None, "Size": 0,
            "Comment": ""}]
CONTAINER_DOC = {"Id": "c" * 64, "Name": "/web", "State": {"Status": "running", "Pid": 7},
                 "Config": {"Labels": {"x": "1"}, "Cmd": ["sleep", "1"]}}


def _routes() -> dict:
    return {
        "GET /containers/json": json_reply(CONTAINERS),
        "GET /images/json": json_reply(IMAGES),
        "GET /images/busybox/history": json_reply(HISTORY),
        "GET /containers/(web|x)/json": Reply(200, json.dumps(CONTAINER_DOC), content_type="application/json"),
        "GET /containers/other/json": json_reply({**CONTAINER_DOC, "Name": "/other"}),
        "GET /version": json_reply({"Version": "0.1.0", "ApiVersion": "1.45", "Os": "linux", "Arch": "amd64",
                                    "Components": [{"Name": "Engine", "Version": "0.1.0"}]}),
        "GET /info": json_reply({"ServerVersion": "0.1.0", "Swarm": {"LocalNodeState": "inactive"}}),
    }


@pytest.fixture
def daemon():
    with FakeDaemon(_routes()) as d:
        yield d


def berth(daemon, capsys, *args: str) -> tuple[int, str, str]:
    status = main(["-H", daemon.host, *args])
    out = capsys.readouterr()
    return status, out.out, out.err


# --- ps: validation over an empty row, and when sizes are asked for ---------------------------


@pytest.mark.parametrize("args, size", [
    (["--format", "{{.Size}}"], True),
    (["--format", "{{json .}}"], True),
    (["--format", "json"], False),  # plain text to docker's check: no field is read
    (["--format", "table"], False),
    (["--format", "{{if false}}{{.Size}}{{end}}{{.ID}}"], False),
    (["--size=false", "--format", "{{.Size}}"], False),
    (["-q", "--format", "{{.Size}}"], False),
    (["-s", "--format", "{{.ID}}"], True),
])
def test_ps_asks_for_sizes_only_when_the_format_reads_them(daemon, capsys, args, size):
    status, _, _ = berth(daemon, capsys, "ps", *args)
    assert status == 0
    assert ("size" in daemon.calls("GET", "containers/json")[0].query) is size


@pytest.mark.parametrize("fmt, message", [
    ("{{.Foo", "failed to parse template: template: :1: unclosed action"),
    ("{{ .ID } }}", 'failed to parse template: template: :1: unexpected "}" in operand'),
    ("{{.Foo}}", 'failed to execute template: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo '
                 "in type *formatter.ContainerContext"),
    ("{{index .Names 1}}", 'failed to execute template: template: :1:2: executing "" at <index .Names 1>: '
                           "error calling index: index out of range: 1"),
])
def test_ps_checks_the_format_before_listing(daemon, capsys, fmt, message):
    assert berth(daemon, capsys, "ps", "--format", fmt) == (1, "", message + "\n")
    assert not daemon.calls("GET", "containers/json")


def test_ps_quiet_wins_over_a_custom_format_with_a_warning(daemon, capsys):
    assert berth(daemon, capsys, "ps", "-q", "--format", "{{.Names}}") == (
        0, "aaaaaaaaaaaa\n", "WARNING: Ignoring custom format, because both --format and --quiet are set.\n")


def test_ps_platform_is_a_nil_pointer(daemon, capsys):
    assert berth(daemon, capsys, "ps", "--format", "{{.Platform}}|{{printf `%T` .Platform}}") == (
        0, "<nil>|*formatter.Platform\n", "")
    assert '"Platform":null' in berth(daemon, capsys, "ps", "--format", "{{json .}}")[1]


# --- images / history: -q only replaces the default table --------------------------------------


def test_images_quiet_with_a_custom_format_prints_the_format(daemon, capsys):
    assert berth(daemon, capsys, "images", "-q", "--format", "{{.Tag}}") == (0, "latest\nv2\n", "")
    assert berth(daemon, capsys, "images", "-q", "--format", "table") == (0, "111111111111\n111111111111\n", "")


def test_history_quiet_with_a_custom_format_prints_the_format(daemon, capsys):
    assert berth(daemon, capsys, "history", "-q", "--format", "<{{.Size}}>", "busybox") == (0, "<0B>\n", "")


@pytest.mark.parametrize("args, message", [
    (["images", "--format", "{{.Foo"], "template parsing error: template: :1: unclosed action"),
    (["images", "--format", "{{.Foo}}"], 'template parsing error: template: :1:2: executing "" at <.Foo>: '
                                         "can't evaluate field Foo in type *formatter.imageContext"),
    (["history", "--format", "{{.Foo}}", "busybox"], 'template parsing error: template: :1:2: executing "" at '
                                                      "<.Foo>: can't evaluate field Foo in type *image.historyContext"),
])
def test_list_template_errors_print_nothing_else(daemon, capsys, args, message):
    assert berth(daemon, capsys, *args) == (1, "", message + "\n")


def test_table_header_of_an_empty_list_comes_from_the_header_map(daemon, capsys):
    daemon.routes["GET /images/json"] = json_reply([])
    assert berth(daemon, capsys, "images", "--format", r"table {{.Repository}}\t{{.Nope}}") == (
        0, "REPOSITORY   <no value>\n", "")


# --- inspect: docker's two passes ---------------------------------------------------------------


def test_inspect_bad_template_exits_64_before_fetching(daemon, capsys):
    assert berth(daemon, capsys, "inspect", "-f", "{{.Foo", "web") == (
        64, "", "template parsing error: template: :1: unclosed action\n")
    assert not daemon.calls("GET", "json")


def test_inspect_missing_key_uses_the_raw_pass_and_prints_an_empty_line(daemon, capsys):
    assert berth(daemon, capsys, "inspect", "-f", "{{.Foo}}", "web") == (
        1, "\n", 'template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"\n')


def test_inspect_go_names_and_zero_values_come_from_the_typed_pass(daemon, capsys):
    fmt = '{{.ID}}|{{index .Config.Labels "nope"}}|{{.SizeRw}}|{{.State.Health}}|{{.Config.Env}}'
    assert berth(daemon, capsys, "container", "inspect", "-f", fmt, "web")[1] == "c" * 64 + "||<nil>|<nil>|[]\n"
    assert berth(daemon, capsys, "container", "inspect", "-f", "{{.Id}}", "web")[1] == "c" * 64 + "\n"


def test_inspect_fallback_makes_missing_keys_errors_for_the_objects_after_it(daemon, capsys):
    # docker's fallback sets missingkey=error on the shared template, so once one object
    # needed it, a missing label is an error for every later object too.
    fmt = '{{.Config.Labels.nope}}{{if eq .Name "/other"}}{{.Nope}}{{end}}'
    assert berth(daemon, capsys, "inspect", "-f", fmt, "web") == (0, "<no value>\n", "")
    status, out, err = berth(daemon, capsys, "inspect", "-f", fmt, "other", "web")
    assert (status, out) == (1, "\n")
    assert err.splitlines() == [
        'template parsing error: template: :1:9: executing "" at <.Config.Labels.nope>: map has no entry for key "nope"',
    ] * 2


# --- version / info ---------------------------------------------------------------------------


def test_version_template_errors(daemon, capsys):
    assert berth(daemon, capsys, "version", "--format", "{{.Foo") == (
        64, "", "template parsing error: template: version:1: unclosed action\n")
    assert berth(daemon, capsys, "version", "--format", "{{.Server.Foo}}") == (
        1, "\n", 'template: version:1:9: executing "version" at <.Server.Foo>: can\'t evaluate field Foo in type '
                 "*types.Version\n")


def test_version_output_goes_through_a_tabwriter(daemon, capsys):
    assert berth(daemon, capsys, "version", "--format", "a\tb {{.Server.Version}}\tc")[1] == (
        "a                   b 0.1.0             c\n")


def test_info_writes_what_it_had_before_an_error(daemon, capsys):
    assert berth(daemon, capsys, "info", "--format", "x{{.ServerVersion}}{{.Foo}}") == (
        1, "x0.1.0\n", 'template: :1:21: executing "" at <.Foo>: can\'t evaluate field Foo in type system.dockerInfo\n')


def test_info_json_has_the_client_section(daemon, capsys):
    doc = json.loads(berth(daemon, capsys, "info", "--format", "json")[1])
    assert doc["ClientInfo"]["Plugins"] == [] and doc["ClientInfo"]["Warnings"] is None
    assert doc["OomKillDisable"] is False and doc["Swarm"]["RemoteManagers"] is None


# --- raw bytes -----------------------------------------------------------------------------------


def test_text_cut_inside_a_utf8_sequence_is_written_as_raw_bytes(daemon, capsys):
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, "utf-8", newline="")
    saved = sys.stdout
    sys.stdout = out
    try:
        assert main(["-H", daemon.host, "ps", "--format", '{{truncate (.Label "x") 4}}']) == 0
    finally:
        sys.stdout = saved
    out.flush()
    assert raw.getvalue() == "日".encode() + "本".encode()[:1] + b"\n"


def test_write_falls_back_to_replacement_without_a_byte_stream():
    out = io.StringIO()
    write(out, "a\udce6b")
    assert out.getvalue() == "a\udce6b"  # StringIO holds it as is


# --- the Go types ---------------------------------------------------------------------------------


def _run(fmt: str, data) -> str:
    return Template(fmt, funcs=docker_funcs()).execute(data)


def test_decoding_follows_encoding_json():
    c = apitypes.decode(apitypes.CONTAINER, {"id": "x", "restartcount": 2, "Unknown": 1, "State": None,
                                             "Config": {"Env": None, "Labels": {}}})
    assert _run("{{.ID}} {{.RestartCount}} {{.State}} {{.Config.Env}} {{.Config.Labels}}", c) == (
        "x 2 <nil> [] map[]")
    assert _run("{{json .Config.Env}} {{json .Config.Labels}} {{json .Config.Volumes}}", c) == "null {} null"
    assert "Unknown" not in _run("{{json .}}", c)


def test_omitempty_keeps_a_pointer_to_zero_and_drops_empty_values():
    c = apitypes.decode(apitypes.CONTAINER, {"Config": {"StopTimeout": 0, "StopSignal": "", "ArgsEscaped": False}})
    assert _run("{{json .Config}}", c) == (
        '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,'
        '"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,'
        '"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null,"StopTimeout":0}')


def test_nil_pointers_are_false_and_print_nil():
    c = apitypes.decode(apitypes.CONTAINER, {"State": {"Status": "running"}})
    assert _run("{{if .State.Health}}y{{else}}n{{end}} {{.State.Health}} {{json .SizeRw}}", c) == "n <nil> null"
    assert isinstance(c.SizeRw, NilPointer) and not c.SizeRw


def test_embedded_structs_are_promoted_and_flattened():
    c = apitypes.decode(apitypes.CONTAINER, {"NetworkSettings": {"IPAddress": "10.0.0.2", "Networks": {}}})
    assert _run("{{.NetworkSettings.IPAddress}} {{.NetworkSettings.DefaultNetworkSettings.IPAddress}}", c) == (
        "10.0.0.2 10.0.0.2")
    assert _run("{{json .NetworkSettings}}", c).startswith('{"Bridge":"","SandboxID":""')


def test_typed_maps_index_to_the_element_zero_value():
    c = apitypes.decode(apitypes.CONTAINER, {"Config": {"Labels": {"a": "1"}, "ExposedPorts": {"80/tcp": {}}},
                                             "NetworkSettings": {"Networks": {}}})
    assert _run('[{{index .Config.Labels "b"}}] {{.Config.Labels.b}} {{index .NetworkSettings.Networks "x"}}', c) == (
        "[] <no value> <nil>")
    assert _run("{{.Config.ExposedPorts}} {{printf `%T` .Config.Labels}}", c) == (
        "map[80/tcp:{}] map[string]string")


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (250_000, "250µs"), (1_500_000, "1.5ms"), (1_500_000_000, "1.5s"),
    (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"), (3723 * 10**9, "1h2m3s"), (-2 * 10**9, "-2s"),
])
def test_durations_print_like_go(ns, text):
    assert duration_string(ns) == text


def test_times_print_like_go():
    t = GoTime("2024-05-01T10:00:00.500Z")
    assert (t.String(), t.__gojson__()) == ("2024-05-01 10:00:00.5 +0000 UTC", "2024-05-01T10:00:00.5Z")
    t = GoTime("2024-05-01T12:00:01+02:00")
    assert (t.String(), t.__gojson__()) == ("2024-05-01 12:00:01 +0200 +0200", "2024-05-01T12:00:01+02:00")
    assert GoTime().String() == "0001-01-01 00:00:00 +0000 UTC"


def test_a_map_marshaller_sorts_keys_at_every_level():
    schema = Schema({"T!map": "B string\nA *U", "U": "Z int\nY int"})
    value = schema.decode("T", {"B": "b", "A": {"Z": 1, "Y": 2}})
    assert _run("{{json .}} {{.}}", value) == '{"A":{"Y":2,"Z":1},"B":"b"} {b 0x}'.replace("0x", "{1 2}")


def test_template_validation_imports_no_template_engine_for_plain_formats(tmp_path):
    code = "import sys, io; sys.stdout = io.StringIO(); from berth.cli.main import main\n"
    with FakeDaemon(_routes()) as d:
        for argv in (["ps", "--format", "json"], ["ps", "--format", "table"], ["images", "--format", "json"]):
            script = code + (f"status = main({['-H', d.host, *argv]!r})\n"
                             "print('berth.gotemplate' in sys.modules, status, file=sys.stderr)")
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
            got = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, env=env,
                                 timeout=60)
            assert got.stderr.strip().splitlines()[-1] == "False 0", (argv, got.stderr)
