"""The Template API as Berth's CLI uses it, and the issue's own examples."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from berth.gotemplate import NO_VALUE, Error, ExecError, GoError, GoFunc, Template, TemplateError
from berth.gotemplate.gojson import Struct

INSPECT = json.loads("""{
  "Id": "4f1c", "Name": "/web",
  "Config": {"Image": "busybox", "Cmd": ["sh"], "Labels": {"a": "b"}},
  "NetworkSettings": {"IPAddress": "172.17.0.2"},
  "Mounts": [{"Source": "/a", "Destination": "/x"}, {"Source": "/b", "Destination": "/y"}],
  "State": {"Health": null}
}""")


def test_inspect_field_chain_prints_the_value() -> None:
    assert Template("{{.NetworkSettings.IPAddress}}").execute(INSPECT) == "172.17.0.2"


def test_range_over_mounts() -> None:
    assert Template("{{range .Mounts}}{{.Source}} {{end}}").execute(INSPECT) == "/a /b "


def test_json_of_config_keeps_docker_byte_format() -> None:
    from berth.gotemplate.docker import docker_funcs
    t = Template("{{json .Config}}", funcs=docker_funcs())
    assert t.execute(INSPECT) == '{"Cmd":["sh"],"Image":"busybox","Labels":{"a":"b"}}'


def test_missing_key_prints_no_value_by_default() -> None:
    assert Template("{{.Foo}}").execute(INSPECT) == "<no value>"


def test_missing_key_is_an_error_under_missingkey_error_with_gos_words() -> None:
    with pytest.raises(ExecError) as e:
        Template("{{.Foo}}", missingkey="error").execute(INSPECT)
    assert str(e.value) == 'template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"'


def test_missing_key_zero_gives_nil_for_json_maps() -> None:
    assert Template("{{.Foo}}", missingkey="zero").execute(INSPECT) == "<no value>"
    with pytest.raises(ExecError, match=r"nil pointer evaluating interface \{\}\.Bar"):
        Template("{{.Foo.Bar}}", missingkey="zero").execute(INSPECT)


@dataclass
class PsRow:
    """A ps row shaped like docker's ContainerContext: methods give the columns."""

    id: str
    names: list = field(default_factory=list)
    __gotype__ = "*formatter.ContainerContext"

    def ID(self) -> str:
        return self.id[:12]

    def Names(self) -> str:
        return ",".join(self.names)

    def Label(self, name: str) -> str:
        return {"tier": "front"}.get(name, "")


def test_struct_methods_are_called_like_go_methods() -> None:
    row = PsRow("0123456789abcdef", ["web", "api"])
    assert Template("{{.ID}} {{.Names}} {{.Label \"tier\"}}").execute(row) == \
        "0123456789ab web,api front"


def test_missing_struct_field_is_an_error_naming_the_go_type() -> None:
    with pytest.raises(ExecError) as e:
        Template("{{.Nope}}").execute(PsRow("x"))
    assert str(e.value) == ('template: :1:2: executing "" at <.Nope>: '
                            "can't evaluate field Nope in type *formatter.ContainerContext")


def test_lowercase_attributes_are_unexported_fields() -> None:
    with pytest.raises(ExecError, match="id is an unexported field of struct type"):
        Template("{{.id}}").execute(PsRow("x"))


def test_method_arguments_are_checked_against_annotations() -> None:
    with pytest.raises(ExecError, match="wrong number of args for Label: want 1 got 0"):
        Template("{{.Label}}").execute(PsRow("x"))
    with pytest.raises(ExecError, match="expected string; found 3"):
        Template("{{.Label 3}}").execute(PsRow("x"))


@pytest.mark.parametrize("text, message", [
    ("{{", "template: :1: unclosed action"),
    ("{{ .Foo }", 'template: :1: unexpected "}" in operand'),
    ("{{.Foo}", "template: :1: bad character U+007D '}'"),
    ("{{if .X}}", "template: :1: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{nope}}", 'template: :1: function "nope" not defined'),
    ("a\n{{.X", "template: :2: unclosed action"),
    ("{{\n.X", "template: :2: unclosed action started at :1"),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
])
def test_parse_errors_carry_gos_message(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        Template(text)
    assert str(e.value) == message
    assert isinstance(e.value, Error)


def test_printf_bad_verb_is_reported_in_band() -> None:
    assert Template('{{printf "%d" "x"}}').execute(None) == "%!d(string=x)"


def test_exec_error_keeps_the_partial_output() -> None:
    with pytest.raises(ExecError) as e:
        Template("ok {{.A}} then {{.A.B.C}}").execute({"A": "x"})
    assert e.value.partial == "ok x then "


def test_template_name_appears_in_messages() -> None:
    with pytest.raises(ExecError) as e:
        Template("{{.X.Y}}", name="version").execute({"X": 1})
    assert str(e.value).startswith('template: version:1:4: executing "version" at <.X.Y>:')


def test_with_missingkey_shares_the_parse() -> None:
    t = Template("{{.Foo}}")
    strict = t.with_missingkey("error")
    assert t.execute({}) == "<no value>"
    with pytest.raises(ExecError):
        strict.execute({})
    with pytest.raises(ValueError):
        t.with_missingkey("bogus")
    with pytest.raises(ValueError):
        Template("x", missingkey="bogus")


def test_with_funcs_replaces_functions_at_execution() -> None:
    t = Template("{{shout .}}", funcs={"shout": lambda s: s.upper() + "!"})
    assert t.execute("hi") == "HI!"
    assert t.with_funcs({"shout": lambda s: s}).execute("hi") == "hi"


def test_plain_python_functions_get_arity_checks_and_error_wrapping() -> None:
    def boom() -> str:
        raise RuntimeError("disk full")
    t = Template("{{add 1 2}} {{add 1}}", funcs={"add": lambda a, b: a + b, "boom": boom})
    with pytest.raises(ExecError) as e:
        t.execute(None)
    assert str(e.value) == ('template: :1:14: executing "" at <add>: '
                            "wrong number of args for add: want 2 got 1")
    with pytest.raises(ExecError, match=r"error calling boom: disk full"):
        Template("{{boom}}", funcs={"boom": boom}).execute(None)


def test_gofunc_declares_go_parameter_types() -> None:
    t = Template("{{rep .}}", funcs={"rep": GoFunc(lambda n: "x" * n, ("int",))})
    assert t.execute(3) == "xxx"
    with pytest.raises(ExecError, match="wrong type for value; expected int; got string"):
        t.execute("3")


def test_goerror_from_a_function_is_reported_verbatim() -> None:
    def f() -> str:
        raise GoError("no such image")
    with pytest.raises(ExecError, match="error calling f: no such image$"):
        Template("{{f}}", funcs={"f": f}).execute(None)


def test_execute_template_and_lookup() -> None:
    t = Template('{{define "row"}}<{{.}}>{{end}}main')
    assert t.execute(None) == "main"
    assert t.execute_template("row", 5) == "<5>"
    assert t.lookup("nope") is None
    assert t.defined_templates() == ["", "row"]
    with pytest.raises(ExecError, match='no template "nope" associated'):
        t.execute_template("nope", None)


def test_parse_once_execute_many_is_stateless() -> None:
    t = Template("{{$x := .}}{{range .}}{{$x = .}}{{end}}{{$x}}")
    assert t.execute([1, 2]) == "2"
    assert t.execute([3]) == "3"


def test_struct_marks_a_json_object_as_a_go_struct() -> None:
    s = Struct([("B", 1), ("A", 2)])
    assert Template("{{.B}}").execute(s) == "1"
    with pytest.raises(ExecError, match="can't evaluate field C in type struct"):
        Template("{{.C}}").execute(s)
    assert Template("{{.}}").execute(s) == "{1 2}"


def test_objects_without_dataclass_work_too() -> None:
    class Obj:
        __gotype__ = "main.Obj"

        def __init__(self) -> None:
            self.Name = "n"

        @property
        def Upper(self) -> str:
            return self.Name.upper()

    assert Template("{{.Name}}{{.Upper}}{{.}}").execute(Obj()) == "nN{n}"


def test_no_value_is_exported_for_callers() -> None:
    assert Template("{{.}}").execute(NO_VALUE) == "<no value>"


def test_go_truthiness() -> None:
    t = Template("{{if .}}T{{else}}F{{end}}")
    assert [t.execute(v) for v in (0, 1, "", "0", [], [0], {}, {"a": 1}, None, 0.0, False,
                                   Struct())] == list("FTFTFTFTFFFT")


def test_deep_recursion_is_reported_not_crashing() -> None:
    t = Template('{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}')
    with pytest.raises(ExecError, match=r"exceeded maximum template depth \(100000\)"):
        t.execute(1)


def test_custom_delimiters() -> None:
    assert Template("[[.A]] {{.A}}", delims=("[[", "]]")).execute({"A": 1}) == "1 {{.A}}"
