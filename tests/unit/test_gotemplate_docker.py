"""docker.py: docker's template functions, table rendering and inspect passes.

Expected outputs below were taken from docker's CLI 28.2.2 (Go 1.24.3) where it
differs from the Go 1.19 golden data; `docker context inspect -f T default` and
`docker context ls --format T` run templates locally, without a daemon.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from berth.gotemplate import ExecError, Template, TemplateError
from berth.gotemplate.docker import (HeaderContext, docker_funcs, inspect_execute, is_table,
                                     parse, prepare, render, render_table)
from berth.gotemplate.gojson import Struct


@dataclass
class Ctx:
    """Like docker's clientContextContext rows of `docker context ls`."""

    Name: str
    Description: str
    DockerEndpoint: str
    Current: bool = False
    Error: str = ""
    __gotype__ = "*formatter.clientContextContext"


CONTEXT_HEADER = {"Name": "NAME", "Description": "DESCRIPTION",
                  "DockerEndpoint": "DOCKER ENDPOINT", "Error": "ERROR"}
ROWS = [Ctx("default", "Current DOCKER_HOST based configuration", "unix:///var/run/docker.sock")]


def test_table_matches_docker_context_ls_byte_for_byte() -> None:
    out = render(r"table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t", ROWS,
                 CONTEXT_HEADER)
    assert out == ("NAME      DESCRIPTION                               DOCKER ENDPOINT               \n"
                   "default   Current DOCKER_HOST based configuration   unix:///var/run/docker.sock   \n")


def test_table_with_empty_column_matches_docker() -> None:
    out = render(r"table {{.Name}}\t\t{{.Error}}\tX", ROWS, CONTEXT_HEADER)
    assert out == "NAME                ERROR     X\ndefault                       X\n"


def test_json_key_renders_one_object_per_line() -> None:
    out = render("json", ROWS)
    assert out == ('{"Name":"default","Description":"Current DOCKER_HOST based configuration",'
                   '"DockerEndpoint":"unix:///var/run/docker.sock","Current":false,"Error":""}\n')


def test_unknown_field_error_names_the_row_type_like_docker() -> None:
    with pytest.raises(ExecError) as e:
        render("table {{.Nope}}", ROWS, CONTEXT_HEADER)
    assert str(e.value) == ('template: :1:2: executing "" at <.Nope>: '
                            "can't evaluate field Nope in type *formatter.clientContextContext")


def test_parse_error_is_raised_before_any_row() -> None:
    with pytest.raises(TemplateError, match="unclosed action"):
        render("{{.Name", ROWS)


def test_header_uses_header_functions_and_label() -> None:
    hdr = HeaderContext({"Names": "NAMES"})
    out = render(r'table {{upper .Names}}\t{{.Label "com.example.my-label"}}\t{{pad .Names 1 1}}',
                 [], hdr)
    assert out == "NAMES     my label    NAMES \n"


def test_header_errors_are_ignored_as_docker_ignores_them() -> None:
    # the header's partial output (up to the failing action) is still written
    out = render(r"table {{.Names}}\t{{.Names.X}}", [], {"Names": "NAMES"})
    assert out == "NAMES     \n"


def test_rows_are_newline_terminated_without_table() -> None:
    assert render("{{.Name}}", ROWS * 2) == "default\ndefault\n"
    assert render("{{.Name}}", []) == ""


def test_prepare_strips_table_and_expands_escapes() -> None:
    assert prepare(r"table {{.A}}\t{{.B}}\n") == "{{.A}}\t{{.B}}\n"
    assert prepare("  {{.A}}  ") == "{{.A}}"
    assert prepare(r"\\t") == "\\\t"
    assert prepare("json") == "{{json .}}"
    assert is_table("table") and is_table("tablex") and not is_table(" table")


def test_render_table_adds_the_table_prefix() -> None:
    assert render_table("{{.Name}}", ROWS, CONTEXT_HEADER) == "NAME\ndefault\n"


@pytest.mark.parametrize("text, out", [
    ('{{split "a,b" ","}}', "[a b]"), ('{{join (split "a,b" ",") "-"}}', "a-b"),
    ('{{title "hello wORLD"}}', "Hello WORLD"), ('{{lower "ÉA"}}', "éa"),
    ('{{upper "straße"}}', "STRAßE"), ('{{pad "x" 1 2}}|', " x  |"), ('{{pad "" 1 2}}|', "|"),
    ('{{truncate "abcdef" 3}}', "abc"), ('{{truncate "ab" 3}}', "ab"),
    ('{{json "\\b\\f\\u0001<>"}}', '"\\b\\f\\u0001<>"'),
    ("{{range 3}}{{.}}{{end}}", "012"), ("{{range $e := 3}}{{$e}}{{end}}", "012"),
    ("{{range 0}}x{{else}}none{{end}}", "none"), ("{{range -2}}x{{else}}neg{{end}}", "neg"),
    ('{{printf "%x" 3.5}}', "0x1.cp+01"), ('{{with ""}}a{{else with "b"}}{{.}}{{end}}', "b"),
    ('{{with ""}}a{{else with ""}}b{{else}}c{{end}}', "c"),
    ('{{with "x"}}{{.}}{{else with "b"}}{{.}}{{end}}', "x"),
    ('{{with $x := ""}}a{{else with $y := "q"}}{{$y}}{{end}}', "q"), ('{{printf "%05s" "ab"}}', "000ab"),
    ('{{printf "%#.3x" "abcdef"}}', "0x616263"), ('{{js "\\x7f<"}}', "\x7f\\u003C"),
])
def test_functions_and_go124_behaviour_as_docker_28_prints(text: str, out: str) -> None:
    assert Template(text, funcs=docker_funcs()).execute(None) == out


@pytest.mark.parametrize("text, message", [
    ("{{range $i, $e := 3}}{{end}}",
     'template: :1:18: executing "" at <3>: can\'t use 3 to iterate over more than one variable'),
    ("{{range 2.5}}x{{end}}", 'template: :1:8: executing "" at <2.5>: range can\'t iterate over 2.5'),
])
def test_range_errors_as_docker_28_words_them(text: str, message: str) -> None:
    with pytest.raises(ExecError) as e:
        Template(text).execute(None)
    assert str(e.value) == message


@pytest.mark.parametrize("text, message", [
    ("{{)}}", "template: :1: unexpected right paren"),
    ("{{(1))}}", "template: :1: unexpected right paren"),
    ('{{if false}}a{{else with "w"}}{{.}}{{end}}', "template: :1: unexpected <with> in input"),
    ('{{with ""}}a{{else if true}}b{{end}}', "template: :1: unexpected <if> in input"),
    ('{{range ""}}a{{else with "b"}}{{.}}{{end}}', "template: :1: unexpected <with> in input"),
])
def test_parse_errors_as_docker_28_words_them(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        Template(text)
    assert str(e.value) == message


def test_json_of_unsupported_value_prints_nothing_like_docker() -> None:
    assert Template("[{{json .}}]", funcs=docker_funcs()).execute(float("nan")) == "[]"


def test_inspect_runs_typed_pass_then_raw_pass_with_missingkey_error() -> None:
    raw = {"Config": {"Labels": {"a": "b"}}, "State": {"Pid": 7}}
    typed = Struct([("Config", Struct([("Labels", {"a": "b"})])), ("State", Struct([("Pid", 7)]))])
    t = parse("{{.Config.Labels.nope}}")
    # a missing label is a missing map key: docker's typed pass prints <no value>
    assert inspect_execute(t, typed, raw) == "<no value>"
    # a missing struct field fails the typed pass; the raw pass then reports the map error
    with pytest.raises(ExecError) as e:
        inspect_execute(parse("{{.State.Nope}}"), typed, raw)
    assert str(e.value) == ('template: :1:8: executing "" at <.State.Nope>: '
                            'map has no entry for key "Nope"')
    assert inspect_execute(parse("{{.State.Pid}}"), typed, raw) == "7"
    with pytest.raises(ExecError, match="can't evaluate field Nope in type struct"):
        inspect_execute(parse("{{.Nope}}"), typed)


def test_docker_inspect_null_health_message() -> None:
    t = parse("{{.State.Health.Status}}").with_missingkey("error")
    with pytest.raises(ExecError) as e:
        t.execute({"State": {"Health": None}})
    assert str(e.value) == ('template: :1:8: executing "" at <.State.Health.Status>: '
                            "nil pointer evaluating interface {}.Status")
