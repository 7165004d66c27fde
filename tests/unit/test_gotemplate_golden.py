"""Golden tests: Berth's gotemplate against Go's own text/template output.

The case table below is run through Go 1.19 (Debian's golang-go) by
test_gotemplate_golden.go, and Go's outputs are stored in
test_gotemplate_golden.json; the tests compare against that file and need no Go.

Regenerate after changing the table:
    python3 tests/unit/test_gotemplate_golden.py --regen
Compare random templates against Go (a development aid, not a test):
    python3 tests/unit/test_gotemplate_golden.py --fuzz SEED COUNT
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "src"))

from berth.gotemplate import ExecError, GoFunc, Template, TemplateError  # noqa: E402
from berth.gotemplate.docker import HeaderContext, docker_funcs, render  # noqa: E402
from berth.gotemplate.gojson import loads_numbers  # noqa: E402
from berth.gotemplate.tabwriter import rune_count, tabwrite  # noqa: E402

GOLDEN = HERE / "test_gotemplate_golden.json"
GO_SOURCE = HERE / "test_gotemplate_golden.go"

# -- data environments (mirrored in test_gotemplate_golden.go) ----------------------

MAIN_JSON = r"""{
 "Name": "web", "Count": 3, "Zero": 0, "Neg": -7, "Ratio": 1.5, "Big": 1e6, "Huge": 1e21,
 "Small": 1e-7, "Pi": 3.14159, "IntF": 2.0, "Tiny": 0.000012345, "Mega": 123456789.0,
 "True": true, "False": false, "Nil": null, "Empty": "",
 "List": ["a", "b", "c"], "EmptyList": [], "Nums": [3, 1, 2], "Floats": [1.5, 2.25],
 "Map": {"b": 2, "a": 1, "c": 3}, "EmptyMap": {},
 "Nested": {"Inner": {"Value": "deep", "Nil": null}, "List": [{"K": "v1"}, {"K": "v2"}]},
 "Mixed": [1, "two", 3.5, true, null, ["x"], {"k": "v"}],
 "HTML": "<a href=\"x\">Tom & 'Jerry'</a>",
 "Unicode": "h\u00e9llo w\u00f6rld \u2603 \u65e5\u672c",
 "Ctrl": "a\tb\nc\u0001\u001f\u007f\u2028\u2029",
 "Quote": "say \"hi\" \\ back",
 "lower": "lowercase key",
 "Key With Space": "spaced",
 "Labels": {"com.docker.compose.project": "demo", "maintainer": "me"},
 "Mounts": [{"Type": "bind", "Source": "/src", "Destination": "/dst", "RW": true},
            {"Type": "volume", "Source": "/var/lib/x", "Destination": "/data", "RW": false}],
 "NetworkSettings": {"IPAddress": "172.17.0.2",
   "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null},
   "Networks": {"bridge": {"IPAddress": "172.17.0.2", "Gateway": "172.17.0.1"}}},
 "State": {"Status": "running", "Running": true, "Pid": 1234, "ExitCode": 0, "Health": null},
 "Config": {"Env": ["PATH=/usr/bin", "A=b=c"], "Cmd": ["sh", "-c", "echo hi"],
            "Entrypoint": null, "Labels": {}, "Image": "busybox"},
 "Id": "0123456789abcdef0123456789abcdef",
 "Path": "a/b/c", "Csv": "a,b,,c", "Title": "hello wORLD foo_bar x-y \u00e9t\u00e9",
 "Upper": "\u00c0\u00c9\u00ce stra\u00dfe", "I64": 9007199254740993
}"""

JSON_ENVS = {
    "m": MAIN_JSON,
    "num": MAIN_JSON,  # decoded with UseNumber / gojson.Number
    "str": '"hello"',
    "int": "42",
    "list": '["x", "y", "z"]',
    "rows": r"""[
      {"ID": "abc123", "Names": "web", "Status": "Up 2 hours", "Size": "1kB"},
      {"ID": "def4567890ab", "Names": "db-primary", "Status": "Exited (0) 3 days ago", "Size": "0B"},
      {"ID": "0f", "Names": "x", "Status": "", "Size": "12MB"}]""",
    "norows": "[]",
}


@dataclass
class Port:
    IP: str
    PrivatePort: int
    PublicPort: int
    Type: str
    __gotype__ = "main.Port"


@dataclass
class Row:
    ID: str
    Names: list
    Size: int
    Ratio: float
    Up: bool
    Labels: dict
    Ports: list
    Extra: Any = None
    secret: str = ""
    __gotype__ = "*main.Row"

    def Upper(self) -> str:
        return self.ID.upper()

    def Label(self, k: str) -> str:
        v = self.Labels.get(k)
        return v if isinstance(v, str) else ""

    def Fail(self) -> str:
        raise ValueError("boom")

    def Sum(self, a: int, b: int) -> int:
        return a + b

    def Join(self, sep: str, *parts: str) -> str:
        return sep.join(parts)


def _raise(msg: str):
    def f(*_: Any) -> Any:
        raise ValueError(msg)
    return f


def build_envs() -> dict[str, Any]:
    envs: dict[str, Any] = {}
    for name, text in JSON_ENVS.items():
        envs[name] = loads_numbers(text) if name.startswith("num") else json.loads(text)
    row = Row("abc123", ["web", "frontend"], 2048, 0.25, True,
              {"com.example.vendor": "acme", "tier": "front"},
              [Port("0.0.0.0", 80, 8080, "tcp"), Port("", 53, 0, "udp")], None, "s3")
    envs["row"] = row
    envs["nil"] = None
    envs["fn"] = {
        "Add": GoFunc(lambda a, b: a + b, ("int", "int"), None, "int"),
        "Fail": GoFunc(_raise("fn failed"), (), None, "(int, error)"),
        "Greet": GoFunc(lambda n: "hello " + n, ("string",), None, "string"),
        "Var": GoFunc(lambda *xs: "+".join(xs), (), "string", "string"),
        "NotFn": 3,
    }
    envs["special"] = {
        "NaN": float("nan"), "Inf": float("inf"), "NegZero": -0.0, "Rows": [row],
        "Port": Port("127.0.0.1", 22, 2222, "tcp"),
    }
    return envs


def test_funcs() -> dict[str, Any]:
    from berth.gotemplate import printf
    f = docker_funcs()
    f.update({
        "double": GoFunc(lambda n: 2 * n, ("int",), None, "int"),
        "fail": GoFunc(_raise("failed on purpose"), (), None, "(string, error)"),
        "variadic": GoFunc(lambda s, *ns: printf.sprint([s, list(ns)]), ("string",), "int"),
        "half": GoFunc(lambda x: x / 2, ("float64",), None, "float64"),
        "yes": GoFunc(lambda b: b, ("bool",), None, "bool"),
    })
    return f


test_funcs.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

# -- the case table ---------------------------------------------------------------------
# (template, env, missingkey); env defaults to "m".

T: list[tuple[str, str, str]] = []


def add(section: str, cases: list, env: str = "m", missingkey: str = "") -> None:
    for c in cases:
        if isinstance(c, tuple):
            T.append((section, c[0], c[1] if len(c) > 1 else env, c[2] if len(c) > 2 else missingkey))
        else:
            T.append((section, c, env, missingkey))


add("lex", [
    "", "plain text", "{{.Name}}", "a{{.Name}}b{{.Count}}c", "{{", "{{.Name", "{{.Foo}",
    "{{ .Foo }", "{{.Foo}}}", "}}", "{{end}}", "{{else}}", "{{if .True}}", "{{if}}{{end}}",
    "{{range}}{{end}}", "{{with}}{{end}}", "{{if .True}}x{{else}}y{{else}}z{{end}}", "{{nope}}",
    "{{$x}}", "{{.Name | 3}}", '{{"unterminated}}', "{{`raw}}", "{{'a}}", "{{'ab'}}", "{{1x}}",
    "{{0x}}", "{{1e}}", "{{(.Name}}", "{{.Name)}}", "{{)}}", "{{/* comment */}}",
    "{{/* unclosed", "{{/* a */ .Name}}", "a {{- /* trimmed */ -}} b", "{{/* a */}}{{.Name}}",
    "{{#}}", "{{.Name ! }}", "{{@}}", "{{\u00e9t\u00e9}}", "{{.Name:}}", "{{:= 3}}",
    "{{.Name=3}}", "{{3 3}}", "{{.}}{{.}}", "{{ }}", "{{-}}", "{{- }}", "{{ -}}", "{{- -}}",
    "{{.a-b}}", "{{.Na\u00efve}}", "{{..}}", "{{.Name.}}", "{{$.}}", "{{$x.}}", "{{(.)}}",
    "{{(1)(2)}}", "{{ (.Name) }}", "{{((.Name))}}", "{{(.Name | printf \"%s\")}}", "{{()}}",
    "{{.Name \n}}", "{{\n.Name\n}}", "{{if .True}}\nx\n{{end", "line1\n{{.Foo}\nline3",
    "a\n{{end}}", "x\n\n{{if .X}}\n", "{{/*\nmulti\n*/}}ok", "{{.Name\n| printf \"%s\"}}",
    "{{\n.Name", "a\nb\n{{.Name\n\n", "{{if true}}\n{{else}}\n{{else}}{{end}}",
    "{{ .Name }}\n{{ .Missing.X }}\n{{ .Name.X }}", "{{range .List}}\n{{.X}}{{end}}",
])
add("trim", [
    "a  {{- .Name -}}  b", "a \n\t{{- .Name}}", "{{.Name -}}\n\n b", "{{-.5}}", "{{- .Name}}",
    "x {{- /* c */ -}} y", "{{\"a\" -}} {{- \"b\"}}", "{{-  .Name  -}}", "a\n{{- \"\" -}}\nb",
    "{{- 3}}", "{{3 -}}", "{{3-}}", "{{-3}}", "  {{- if .True -}}  yes  {{- end -}}  ",
    "{{.Name\t-}}x", "{{.Name -}}", "{{- .Name -}} \n {{- .Name}}", "a {{-\t.Name}}",
    "{{range .List -}}\n  {{.}}\n{{- end}}",
])
add("const", [
    "{{true}}", "{{false}}", "{{nil}}", "{{3}}", "{{-3}}", "{{+5}}", "{{0x1F}}", "{{0X1f}}",
    "{{0o17}}", "{{017}}", "{{0b101}}", "{{1_000}}", "{{0x_1F}}", "{{1__0}}", "{{1e3}}",
    "{{1.0}}", "{{.5}}", "{{-.5}}", "{{1.}}", "{{0x1p-2}}", "{{1e+2}}", "{{1E-2}}",
    "{{99999999999999999999}}", "{{18446744073709551615}}", "{{9223372036854775807}}",
    "{{-9223372036854775808}}", "{{9223372036854775808}}", "{{'a'}}", "{{'\\n'}}",
    "{{'\\u263a'}}", "{{'\\x41'}}", "{{'\\101'}}", "{{'\\''}}", "{{'\u00e9'}}", "{{''}}",
    "{{'\\z'}}", '{{"\\z"}}', '{{"\\x41\\u00e9\\U0001F600\\t|"}}', '{{"\\101"}}',
    '{{"a\\"b"}}', "{{`a\\nb`}}", "{{`multi\nline`}}", '{{"it\'s"}}', '{{"\\\'"}}',
    "{{1i}}", "{{1+2i}}", "{{printf \"%T\" 1.0}}", "{{printf \"%T\" 1}}",
    "{{printf \"%T\" 'a'}}", "{{printf \"%T\" 0x10}}", "{{printf \"%T\" 1e3}}",
    "{{printf \"%T\" 0x1p4}}", "{{printf \"%T\" true}}", "{{printf \"%T\" \"s\"}}",
    "{{printf \"%T\" nil}}", "{{1.5.Foo}}", "{{true.Foo}}", "{{nil.Foo}}", "{{\"s\".Foo}}",
    "{{(nil).Foo}}", "{{(1).Foo}}", "{{.Foo | nil}}", "{{ - }}", "{{+}}", "{{1e400}}",
    "{{0.1}}", "{{100000000.0}}", "{{1e21}}", "{{1e20}}", "{{0.0000001}}", "{{-0.0}}",
    "{{2.50}}",
])
add("field", [
    "{{.}}", "{{.Name}}", "{{.Nested.Inner.Value}}", "{{.Missing}}", "{{.Missing.Deeper}}",
    "{{.Nil}}", "{{.Nil.Foo}}", "{{.Name.Foo}}", "{{.List.Foo}}", "{{.Count.Foo}}",
    "{{.lower}}", "{{.Nested.Inner.Nil}}", "{{.Nested.Inner.Nil.X}}",
    "{{.NetworkSettings.IPAddress}}", "{{.NetworkSettings.Networks.bridge.Gateway}}",
    "{{.State.Health.Status}}", "{{.Labels}}", "{{.Map}}", "{{.Mixed}}", "{{.EmptyMap}}",
    "{{.EmptyList}}", "{{.Big}}", "{{.Huge}}", "{{.Small}}", "{{.Pi}}", "{{.IntF}}",
    "{{.Neg}}", "{{.I64}}", "{{.Floats}}", "{{.Tiny}}", "{{.Mega}}", "{{.True}}",
    "{{.Nested}}", "{{.Mounts}}", "{{.Config}}", "{{.Unicode}}", "{{.Ctrl}}", "{{.HTML}}",
    "{{.Name .Count}}", "{{.Name 1}}", "{{.Nested.Inner.Value.X}}", "{{(.Nested).Inner.Value}}",
    "{{(.Nested.Inner).Value}}", "{{(index .Mixed 6).k}}", "{{.Nested.List}}",
    "{{.Config.Entrypoint}}", "{{.NetworkSettings.Ports}}",
])
add("missingkey-zero", [
    "{{.Missing}}", "{{.Missing.Deeper}}", "{{.Nested.Nope}}", "{{.Nil}}", "{{.Nil.Foo}}",
    "{{index .Map \"zz\"}}", "{{range .Missing}}x{{else}}none{{end}}", "{{.Name}}",
], missingkey="zero")
add("missingkey-error", [
    "{{.Missing}}", "{{.Missing.Deeper}}", "{{.Nested.Nope}}", "{{.Nil}}", "{{.Nil.Foo}}",
    "{{index .Map \"zz\"}}", "{{range .Missing}}x{{else}}none{{end}}", "{{.Name}}",
    "{{.NetworkSettings.Nope}}", "{{with .Missing}}x{{end}}", "{{if .Missing}}x{{end}}",
    "ok {{.State.Status}} {{.State.Nope}}", "{{.Nested.Inner.Nil.X}}",
    "{{range .Mounts}}{{.Source}} {{.Nope}}{{end}}",
], missingkey="error")
add("nil-data", [("{{.}}", "nil"), ("{{.Foo}}", "nil"), ("{{.Foo}}", "nil", "error"),
                 ("{{.Foo.Bar}}", "nil"), ("{{if .}}a{{else}}b{{end}}", "nil"),
                 ("{{len .}}", "nil"), ("{{$}}", "nil"), ("{{json .}}", "nil"),
                 ("{{printf \"%v\" .}}", "nil"), ("{{.Foo}}", "nil", "zero")])
add("scalar-data", [("{{.}}", "str"), ("{{.Foo}}", "str"), ("{{len .}}", "str"),
                    ("{{.}}", "int"), ("{{.Foo}}", "int"), ("{{range .}}{{.}}{{end}}", "str"),
                    ("{{range .}}{{.}}{{end}}", "list"), ("{{index . 1}}", "list"),
                    ("{{.}}", "list"), ("{{$}}", "int"), ("{{slice . 1}}", "list")])
add("struct", [
    "{{.ID}}", "{{.Names}}", "{{.Size}}", "{{.Ratio}}", "{{.Up}}", "{{.Labels}}", "{{.Ports}}",
    "{{index .Ports 0}}", "{{(index .Ports 0).PublicPort}}", "{{.Extra}}", "{{.Extra.Foo}}",
    "{{.Nope}}", "{{.secret}}", "{{.Upper}}", "{{.Label \"tier\"}}", "{{.Label}}",
    "{{.Label 3}}", "{{.Label .Size}}", "{{.Fail}}", "{{.Sum 1 2}}", "{{.Sum 1}}",
    "{{.Join \"-\" \"a\" \"b\"}}", "{{.Join}}", "{{.Join \"-\"}}", "{{.ID 1}}",
    "{{\"tier\" | .Label}}", "{{.Upper | printf \"%q\"}}", "{{.}}",
    "{{printf \"%+v\" (index .Ports 0)}}", "{{printf \"%#v\" (index .Ports 1)}}",
    "{{printf \"%v\" (index .Ports 0)}}", "{{json .}}", "{{json .Ports}}",
    "{{range .Ports}}{{.Type}}/{{.PrivatePort}} {{end}}", "{{.Labels.tier}}",
    "{{index .Labels \"com.example.vendor\"}}", "{{with .Extra}}x{{else}}none{{end}}",
    "{{len .Names}}", "{{len .}}", "{{index . 0}}", "{{.ID.Foo}}", "{{$.ID}}",
    "{{if .Up}}up{{end}}", "{{eq .Size 2048}}", "{{lt .Ratio 0.5}}", "{{printf \"%T\" .}}",
    "{{printf \"%T\" (index .Ports 0)}}", "{{range .}}x{{end}}", "{{if .}}t{{end}}",
    "{{(index .Ports 1).IP}}|", "{{with index .Ports 1}}{{.Type}}{{end}}",
    "{{.Sum 1 \"x\"}}", "{{.Sum 1 2 3}}", "{{1 | .Sum 2}}", "{{.Join \",\" .ID .ID}}",
    "{{.Join \",\" .Size}}", "{{.Names | join \"/\"}}", "{{json .Labels}}",
    "{{printf \"%s\" .Names}}", "{{printf \"%q\" .Names}}", "{{printf \"%d\" .Ports}}",
    "{{printf \"%s\" (index .Ports 0)}}", "{{.Upper.X}}", "{{printf \"%v\" .}}",
    "{{printf \"%+v\" .}}", "{{printf \"%s\" .}}", "{{print .}}",
], env="row")
add("func-values", [
    "{{call .Add 1 2}}", "{{call .Add 1}}", "{{call .Add \"a\" 2}}", "{{call .Fail}}",
    "{{call .Greet \"bob\"}}", "{{call .Var \"a\" \"b\"}}", "{{call .Var}}", "{{call .NotFn}}",
    "{{call .Missing}}", "{{call nil}}", "{{.Add 1 2}}", "{{.Add}}",
    "{{call .Add 1 2 | printf \"%03d\"}}", "{{1 | call .Add 2}}", "{{call}}",
    "{{call .Add 1 .Missing}}", "{{call .Greet 3}}", "{{call .Var \"x\" 1}}",
    "{{if .Add}}set{{end}}", "{{printf \"%T\" .Add}}", "{{call .Add 1.5 2}}",
], env="fn")
add("var", [
    "{{$x := .Name}}{{$x}}", "{{$x := 1}}{{$x = 2}}{{$x}}", "{{$}}", "{{$.Name}}",
    "{{with .Nested}}{{$.Name}}{{end}}", "{{$x := .Nested}}{{$x.Inner.Value}}",
    "{{if true}}{{$x := 1}}{{end}}{{$x}}", "{{range $i, $v := .List}}{{$i}}:{{$v}} {{end}}",
    "{{range $v := .List}}{{$v}}{{end}}", "{{range $k, $v := .Map}}{{$k}}={{$v}};{{end}}",
    "{{$x := 0}}{{range .Nums}}{{$x = .}}{{end}}{{$x}}",
    "{{$x := \"a\"}}{{with $x := \"b\"}}{{$x}}{{end}}{{$x}}", "{{$x := .Missing}}{{$x}}",
    "{{$x := .Nil}}{{$x.Foo}}", "{{$x.Foo}}", "{{$x := 1}}{{$x 2}}", "{{$x := 1}}{{$x.Foo}}",
    "{{$ := 1}}{{$}}", "{{$x := 1}}{{$x := 2}}{{$x}}",
    "{{$i := 0}}{{$v := \"\"}}{{range $i, $v = .List}}{{$i}}{{$v}}{{end}}|{{$i}}{{$v}}",
    "{{$x = 1}}", "{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}",
    "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "{{$x, $y := 1}}",
    "{{range $i, $v, $w := .List}}{{end}}", "{{with $x, $y := .}}{{end}}",
    "{{range $i, 3}}{{end}}", "{{range $i, }}{{end}}", "{{range $a, $b = .List}}{{end}}",
    "{{$x := 1 | printf \"%d!\"}}{{$x}}", "{{$x := .List}}{{range $x}}{{.}}{{end}}",
    "{{$x := (len .List)}}{{$x}}", "{{$x:=3}}{{$x}}", "{{$x :=3}}{{ $x }}",
    "{{$x := $}}{{$x.Name}}", "{{define \"t\"}}{{$}}{{end}}{{$v := 1}}{{template \"t\" 7}}",
    "{{$v := 1}}{{define \"t\"}}{{$v}}{{end}}", "{{$x := 1}}{{$x = \"s\"}}{{$x}}",
    "{{$x := .Count}}{{$x | printf \"%d\"}}", "{{$x := 5}}{{. | $x}}",
])
add("pipe", [
    "{{.Name | printf \"%s!\"}}", "{{.Name | printf \"%s-%s\" \"x\"}}",
    "{{\"a\" | printf \"%s%s\" \"b\" | printf \"[%s]\"}}", "{{.Count | len}}",
    "{{.List | len}}", "{{(len .List)}}", "{{(printf \"%d\" 3) | printf \"%s!\"}}",
    "{{.Name | .Foo}}", "{{3 | printf \"%d\"}}", "{{\"x\" | 3}}", "{{. | .}}",
    "{{.Name | not}}", "{{1 | and 0}}", "{{.Name | printf \"%s\" | len}}",
    "{{\"x\" | printf \"%s\" | printf \"%q\" | printf \"%s\"}}", "{{.Name | true}}",
    "{{.Name | nil}}", "{{.Name | \"s\"}}", "{{.Name | .}}", "{{.Name | $}}",
    "{{(.Name | printf \"%s\").Foo}}", "{{(.Nested | printf \"%v\")}}", "{{.Name|len}}",
    "{{ .Name | printf \"%s\" }}", "{{.Name | printf}}", "{{| .Name}}", "{{.Name |}}",
    "{{.Name || len}}", "{{.List | index 1}}", "{{1 | index .List}}",
])
add("if", [
    "{{if .True}}yes{{end}}", "{{if .False}}yes{{else}}no{{end}}",
    "{{if .Zero}}a{{else if .Count}}b{{else}}c{{end}}",
    "{{if .Empty}}a{{else if .EmptyList}}b{{else if .EmptyMap}}c{{else if .Nil}}d{{else if .Missing}}e{{else}}f{{end}}",
    "{{if .Ratio}}t{{end}}", "{{if 0.0}}t{{else}}f{{end}}", "{{if \"0\"}}t{{end}}",
    "{{if .Map}}t{{end}}", "{{if .List}}t{{end}}", "{{if .Neg}}t{{end}}", "{{if nil}}t{{end}}",
    "{{if and .True .Count}}y{{end}}", "{{if or .Zero .Empty}}y{{else}}n{{end}}",
    "{{if not .False}}y{{end}}", "{{if .True}}{{else}}{{end}}", "{{if}}x{{end}}",
    "{{if .True}}a{{else if}}b{{end}}", "{{if .True}}a{{else with .X}}b{{end}}",
    "{{if .False}}a{{else if .False}}b{{else if .True}}c{{end}}",
    "{{if .True}}a{{end}}{{end}}", "{{if .True}}a{{else}}b", "{{if .True}}x{{else}}y{{else if .Z}}{{end}}",
    "{{if .True 1}}x{{end}}", "{{if $x := .Count}}{{$x}}{{end}}",
    "{{if eq .Name \"web\" \"db\"}}match{{end}}", "{{if .Nested.Inner}}{{.Name}}{{end}}",
    "{{if .Mixed}}{{index .Mixed 1}}{{end}}",
])
add("with", [
    "{{with .Name}}{{.}}{{end}}", "{{with .Missing}}x{{else}}y{{end}}",
    "{{with $x := .Count}}{{$x}}{{.}}{{end}}", "{{with .Nested.Inner}}{{.Value}}{{end}}",
    "{{with .EmptyList}}x{{else}}{{.Name}}{{end}}", "{{with .Nil}}x{{else}}nil{{end}}",
    "{{with .Zero}}x{{else}}zero{{end}}", "{{with .Mounts}}{{len .}}{{end}}",
    "{{with .Name}}{{with .}}{{.}}{{end}}{{end}}", "{{with .True}}x{{else if .False}}y{{end}}",
    "{{with .State}}{{.Status}} {{$.Name}}{{end}}",
])
add("range", [
    "{{range .List}}[{{.}}]{{end}}", "{{range .EmptyList}}x{{else}}empty{{end}}",
    "{{range .Missing}}x{{else}}missing{{end}}", "{{range .Nil}}x{{else}}nil{{end}}",
    "{{range .Map}}{{.}},{{end}}", "{{range $k, $v := .Labels}}{{$k}}={{$v}}\n{{end}}",
    "{{range .Mixed}}{{.}}|{{end}}", "{{range .Name}}{{.}}{{end}}",
    "{{range .Mounts}}{{.Source}} {{end}}",
    "{{range .List}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
    "{{range .List}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
    "{{range $i, $e := .Nums}}{{if $i}},{{end}}{{$e}}{{end}}",
    "{{range .Nested.List}}{{.K}}-{{$.Name}} {{end}}", "{{range .Config.Env}}{{println .}}{{end}}",
    "{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{if $conf}}{{(index $conf 0).HostPort}}{{else}}none{{end}}; {{end}}",
    "{{range .List}}{{break}}{{else}}e{{end}}", "{{range .EmptyList}}{{else}}{{break}}{{end}}",
    "{{break}}", "{{continue}}", "{{range .List}}{{break 1}}{{end}}",
    "{{range .List}}{{continue}}x{{end}}done", "{{range .EmptyMap}}x{{else}}em{{end}}",
    "{{range .List}}{{range $.Nums}}{{.}}{{end}},{{end}}",
    "{{range .List}}{{range $.Nums}}{{if eq . 1}}{{break}}{{end}}{{.}}{{end}}{{.}},{{end}}",
    "{{range $i, $v := .Map}}{{$i}}{{$v}}{{end}}", "{{range $x := .Missing}}{{end}}{{$x}}",
    "{{range .List}}{{.}}{{$y := 1}}{{end}}{{$y}}", "{{range .Count}}{{.}}{{end}}x",
    "{{range .Mixed}}{{printf \"%T \" .}}{{end}}", "{{range .Mixed}}{{if .}}t{{else}}f{{end}}{{end}}",
    "{{range $i, $v := .Mixed}}{{$i}}{{end}}", "{{range .List}}{{else if .X}}{{end}}",
    "{{range .Nested}}{{.}};{{end}}", "{{range .Floats}}{{.}} {{end}}",
    "{{range $i, $_ := .List}}{{$i}}{{end}}", "{{range .List}}{{$}}{{end}}",
    "{{range .}}{{end}}", "{{range .Mounts}}{{if .RW}}{{.Destination}}{{end}}{{end}}",
])
add("template", [
    "{{define \"T\"}}<{{.}}>{{end}}{{template \"T\" .Name}}", "{{template \"T\"}}",
    "{{define \"T\"}}{{.}}{{end}}{{template \"T\"}}", "{{block \"B\" .Name}}[{{.}}]{{end}}",
    "{{define \"a\"}}A{{template \"b\" .}}{{end}}{{define \"b\"}}B{{.Count}}{{end}}{{template \"a\" .}}",
    "{{define \"T\"}}{{.Name.X}}{{end}}x{{template \"T\" .}}",
    "{{define \"x\"}}{{$}}{{end}}{{template \"x\" 5}}",
    "{{define \"T\"}}a{{end}}{{define \"T\"}}b{{end}}",
    "{{define \"T\"}}{{end}}{{define \"T\"}}b{{end}}{{template \"T\"}}",
    "{{template \"T\" .}}{{define \"T\"}}late{{end}}", "{{define \"\"}}main{{end}}",
    "{{block \"B\" .}}{{.Name}}{{end}}{{define \"B\"}}override{{end}}",
    "{{define \"r\"}}{{if .}}{{len .}}{{template \"r\" (slice . 1)}}{{end}}{{end}}{{template \"r\" .List}}",
    "{{define}}", "{{define \"x\"}}", "{{define \"x\"}}{{else}}{{end}}", "{{define x}}{{end}}",
    "{{template}}", "{{template .Name}}", "{{block \"b\"}}x{{end}}", "{{template \"x\" 1 2}}",
    "{{define \"T\"}}{{.Missing}}{{end}}{{template \"T\" .}}", "{{if true}}{{define \"x\"}}{{end}}{{end}}",
    "{{define `raw`}}R{{end}}{{template `raw`}}", "{{define \"T\"}}\n\n{{.X.Y.Z}}{{end}}{{template \"T\" .Name}}",
    "{{define \"T\"}}{{.}}{{end}}{{template \"T\" $x := 3}}{{$x}}",
    "{{define \"T\"}}{{range .}}{{.}}{{end}}{{end}}{{template \"T\" .List}}{{template \"T\" .Nums}}",
    "{{define \"T\" 1}}{{end}}", "{{define \"\\z\"}}{{end}}", "x{{define \"T\"}}t{{end}}y",
    "{{define \"t\"}}{{break}}{{end}}",
])
add("and-or-not", [
    "{{and 1 2}}", "{{and 1 0 2}}", "{{and .Missing 1}}", "{{or 0 \"\" \"x\"}}", "{{or 0 \"\"}}",
    "{{and}}", "{{or}}", "{{or .Nope .Name}}", "{{and false (fail)}}", "{{or true (fail)}}",
    "{{and true (fail)}}", "{{0 | and 1}}", "{{1 | or 0}}", "{{not 0}}", "{{not .Name}}",
    "{{not}}", "{{not 1 2}}", "{{and .Name .Count .List}}", "{{or .Nil .Zero}}",
    "{{and nil 1}}", "{{not nil}}", "{{not .Missing}}", "{{and .True (fail) | not}}",
    "{{or .Missing}}", "{{and 1}}", "{{and .List .EmptyList}}",
])
add("len", [
    "{{len .Unicode}}", "{{len .Map}}", "{{len .Nil}}", "{{len .Missing}}", "{{len 3}}",
    "{{len .EmptyList}}", "{{len nil}}", "{{len}}", "{{len .List .List}}", "{{len \"\u00e9\"}}",
    "{{len .Nested}}", "{{len .Ratio}}", "{{len .True}}",
])
add("index", [
    "{{index .List 1}}", "{{index .List 3}}", "{{index .List 5}}", "{{index .List -1}}",
    "{{index .List \"a\"}}", "{{index .Map \"b\"}}", "{{index .Map \"zz\"}}", "{{index .Map 1}}",
    "{{index .Nested \"Inner\" \"Value\"}}", "{{index .Mixed 6 \"k\"}}", "{{index .Name 0}}",
    "{{index .Name 10}}", "{{index .Nil 0}}", "{{index .Missing 0}}", "{{index .Count 0}}",
    "{{index .List}}", "{{index .Mixed 4 0}}", "{{index .List nil}}", "{{index .List .Missing}}",
    "{{index .List 1.0}}", "{{index .Labels \"com.docker.compose.project\"}}", "{{index}}",
    "{{index .Mixed 5 0}}", "{{index .Map .Missing}}", "{{index .Nested.List 1 \"K\"}}",
    "{{index .List true}}", "{{index .Map \"zz\" \"x\"}}", "{{index .Map nil}}",
    "{{index .Nested \"Inner\" \"Nil\" \"x\"}}", "{{(index .Nested.List 0).K}}",
    "{{index .List 0x1}}", "{{index .List 'a'}}", "{{index .Name 1 1}}",
])
add("slice", [
    "{{slice .List 1}}", "{{slice .List 1 2}}", "{{slice .List 0 2 3}}", "{{slice .Name 1 3}}",
    "{{slice .Name 1 2 3}}", "{{slice .List 2 1}}", "{{slice .List 0 5}}", "{{slice .List 1 2 3 4}}",
    "{{slice .Map 1}}", "{{slice .Nil}}", "{{slice .List}}", "{{slice .Name}}", "{{slice .Name 3}}",
    "{{slice .List 3}}", "{{slice .List 0 1 0}}", "{{slice .List \"1\"}}", "{{slice .Missing}}",
    "{{slice .Unicode 0 2}}", "{{slice .Count 1}}", "{{slice}}",
])
add("print", [
    "{{print 1 2 \"a\" \"b\" 3 .Nil}}", "{{print}}", "{{println 1 \"a\" 2}}", "{{print .List .Map}}",
    "{{print 1.5 true nil}}", "{{println}}", "{{print \"a\" 1 \"b\"}}", "{{print 1 2}}",
    "{{print .Missing}}", "{{println .Missing .Nil}}", "{{print .Mixed}}", "{{print .Big .Small}}",
    "{{print .Nested}}", "{{print 'a'}}", "{{print \"x\" .List}}", "{{print .List \"x\"}}",
])
PF = [
    ("%s|%d|%v|%q", ".Name .Count .Ratio .Name"), ("%x|%X|%o|%b", ".Count .Count .Count .Count"),
    ("%e|%E|%f|%g|%G", ".Pi .Pi .Pi .Pi .Pi"), ("%t|%v", ".True .False"), ("%c|%U|%#U", "65 9731 9731"),
    ("%5d|%-5d|%05d|%+d|% d", "42 42 42 42 42"), ("%5.2f|%-8.3f|%08.3f|%+.1e|%.0f", ".Pi .Pi .Pi .Pi .Pi"),
    ("%10s|%-10s|%.2s|%q|%+q|%#q", ".Name .Name .Name .Unicode .Unicode .Name"),
    ("%x|% x|%#x|%X|% #x", ".Name .Name .Name .Name .Name"), ("%x|%X|%#x|%#o|%#b", "-255 -255 255 8 5"),
    ("%q|%+q|%c", "'x' '\u00e9' 0x1F600"), ("%v|%d|%s|%q", ".List .Nums .List .List"),
    ("%v|%+v|%#v", ".Map .Map .Map"), ("%v|%d|%s", "nil nil nil"), ("%s|%d", ".Count .Name"),
    ("%d %d", "1"), ("%d", "1 2 \"x\""), ("%!", ""), ("100%", ""), ("%z", "1"), ("%*d|%-*d", "5 1 5 2"),
    ("%.*f", "2 3.14159"), ("%[2]d %[1]d", "1 2"), ("%[3]d", "1 2"), ("%[1]d %d", "1 2"),
    ("%v %v %v %v %v %v", ".Big .Huge .Small .Mega .Tiny 100000.0"),
    ("%.3g|%.3g|%g|%g|%.10g", "1234.5678 0.00012345 1e-5 1e-4 .Pi"),
    ("%e|%.2e|%6.2f|%08.3f|%+.2f|% .2f", "0.0 1234.5678 -3.14159 -3.14159 .Pi .Pi"),
    ("%t|%5t|%-6t|", ".Count .True .False"), ("%d|%s", ".Big .Ratio"), ("%x|%s", ".List .Nested"),
    ("%v", ".Mixed"), ("%s", ".Mixed"), ("%d", ".Mixed"), ("%6.2v|%-6v|%06d", ".Pi .Name -42"),
    ("%3c|%-3c|", "65 66"), ("%q", "-1"), ("%c", "-1"), ("%U", "-1"), ("%#v|%#v|%#v|%#v", "1 \"s\" 1.5 .List"),
    ("%T %T %T %T %T", ".List .Map .Nil .Missing .Mounts"), ("%5%|%-5%", ""), ("%", ""),
    ("%.", "1"), ("%.d", "0"), ("%.0d|%5.0d|", "0 0"), ("%010.3f|%-010.3f|", ".Pi .Pi"),
    ("%+q", ".Ctrl"), ("%q", ".Ctrl"), ("%s", ".Ctrl"), ("%x", ".Unicode"), ("%.3x", ".Name"),
    ("%5.1s|%.0s|", ".Unicode .Name"), ("%w", ".Name"), ("%v|%v", "1e6 1e21"), ("%g|%G", "1e21 1e-7"),
    ("%.2f|%.1f|%.0f|%.0f", "2.675 0.25 0.5 1.5"), ("%08b", "5"), ("%o|%O", "64 64"),
    ("%+d|%+d", "-5 5"), ("% d|% d", "-5 5"), ("%[2]*[1]d", "12 5"), ("%[0]d", "1"), ("%[x]d", "1"),
    ("%d%%", "50"), ("%s", ".Map"), ("%5v|%-5v|", ".List .True"), ("%#x", ".List"), ("%010s", ".Name"),
    ("%-010d|", "42"), ("%+s", ".Name"), ("%v", ".State"), ("%+v", ".State"), ("%q", "65"),
    ("%.1f|%.2f", "0.05 1.005"), ("%e", "1e100"), ("%g", "100000"), ("%g", "1000000.0"),
    ("%.0e", "15.0"), ("%#g|%#.3g|%#e|%#.0f", "1.0 1.0 1.0 1.0"), ("%x|%X", "3.5 3.5"),
    ("%#x|%#X|%#.0x|%#g|%#G|%#.1g", "1.0 3.5 3.5 100000.0 1e-7 0.0"),
    ("%.3x|%.1X|%x|%x|%#v", "1.0 0.1 5e-324 -2.5 1e6"), ("%#.4g|%#g|%#e", "123456.0 0.0 0.0"),
]
add("printf", [f'{{{{printf "{f}" {a}}}}}' if a else f'{{{{printf "{f}"}}}}' for f, a in PF])
add("printf-misc", [
    "{{printf}}", "{{printf 3}}", "{{printf .Count}}", "{{printf .Name}}", "{{printf nil}}",
    "{{printf \"%d\" \"x\"}}", "{{printf \"%s\" 3}}", "{{printf \"%5.2f\" 3}}",
    "{{printf \"%v\" .Missing}}", "{{printf \"%d\" .Missing}}", "{{printf \"%s\" .Nil}}",
    "{{\"%d-%d\" | printf 1}}", "{{printf \"%s=%v\" \"k\" .Map | printf \"%q\"}}",
    "{{printf \"%v\" .Mounts}}", "{{printf \"%-10s|%10s|\" \"\u65e5\u672c\" \"\u00e9\"}}",
    "{{printf \"%T\" .NetworkSettings}}", "{{printf \"%v\" .Config.Entrypoint}}",
])
add("compare", [
    "{{eq 1 1}}", "{{eq 1 2 3 1}}", "{{eq \"a\" \"a\"}}", "{{eq .Name \"web\"}}", "{{eq .Count 3}}",
    "{{eq .Ratio 1.5}}", "{{eq 1 1.0}}", "{{eq .Count \"3\"}}", "{{eq .Missing \"x\"}}",
    "{{eq .Nil nil}}", "{{eq .Missing .Missing}}", "{{eq .Nil .Missing}}", "{{eq .List .List}}",
    "{{eq .Map .Map}}", "{{eq 1}}", "{{eq}}", "{{ne 1 2}}", "{{ne \"a\" \"a\"}}", "{{ne 1 \"a\"}}",
    "{{lt 1 2}}", "{{lt 2.5 1.5}}", "{{lt \"a\" \"b\"}}", "{{lt true false}}", "{{lt 1 1.5}}",
    "{{lt .List .List}}", "{{lt .Missing 1}}", "{{le 2 2}}", "{{gt 3 2}}", "{{ge 2 3}}",
    "{{gt \"b\" \"a\"}}", "{{lt 1 2 3}}", "{{eq .True true}}", "{{eq true 1}}",
    "{{eq .State.Pid 1234}}", "{{eq 0.0 .State.ExitCode}}", "{{eq .State.ExitCode 0}}",
    "{{eq 1 2 \"x\"}}", "{{eq 1 1 \"x\"}}", "{{eq \"x\" 1 2}}", "{{ne .Nil .Name}}",
    "{{eq .Nil .Name}}", "{{le 1 \"a\"}}", "{{ge \"b\" \"b\"}}", "{{gt 1.5 1.25}}",
    "{{lt \"\u00e9\" \"z\"}}", "{{lt \"B\" \"a\"}}", "{{eq .Mixed .Mixed}}", "{{lt .Nil 1}}",
    "{{eq .Name .Name .Count}}", "{{le .Count 3}}", "{{gt .Missing .Missing}}", "{{eq 'a' 97}}",
    "{{eq 0x10 16}}", "{{lt -1 0}}", "{{eq (index .Mixed 0) 1}}", "{{eq .Nested .Nested}}",
    "{{eq .I64 9007199254740993}}", "{{lt .Big .Huge}}", "{{eq 1e3 1000.0}}",
])
add("escape", [
    "{{html .HTML}}", "{{html 1 \"<\" 2}}", "{{js .HTML}}", "{{js .Ctrl}}", "{{js .Unicode}}",
    "{{urlquery .HTML}}", "{{urlquery \"a b&c=d/\u00e9~-_.!\"}}", "{{.HTML | html}}", "{{html}}",
    "{{js \"a=b\\\\c`d\"}}", "{{html .List}}", "{{urlquery .Count .Name}}", "{{js .Quote}}",
    "{{html \"\\x00\"}}", "{{js \"\\u2028\\u00a0\"}}", "{{html .Nil}}", "{{js .Missing}}",
    "{{urlquery .Missing}}", "{{html .Map}}",
])
add("json", [
    "{{json .}}", "{{json .Map}}", "{{json .Mixed}}", "{{json .HTML}}", "{{json .Ctrl}}",
    "{{json .Unicode}}", "{{json .Big}}", "{{json .Huge}}", "{{json .Small}}", "{{json .Floats}}",
    "{{json .Nil}}", "{{json .Missing}}", "{{json .EmptyList}}", "{{json .EmptyMap}}",
    "{{json .Config}}", "{{json .NetworkSettings}}", "{{json .I64}}", "{{json .Quote}}",
    "{{json 1.0}}", "{{json 0.1}}", "{{json 1e20}}", "{{json 123456789.125}}", "{{json -0.000001}}",
    "{{json 0.0000001}}", "{{json .Tiny}}", "{{json .Mega}}", "{{json .Pi}}", "{{json true}}",
    "{{json \"\\u007f\\u0000\"}}", "{{json .Mounts}}", "{{json .State}}", "{{json 1e-7}}",
    "{{json 12345678901234567890.0}}", "{{json 0.000001}}", "{{json 1e21}}", "{{json 999999999999999999999.0}}",
    "{{json .Labels}}", "{{json 'a'}}", "{{json}}", "{{json 1 2}}", "{{.Name | json}}",
    "{{json (index .Mixed 6)}}", "{{json .Nested}}", "{{json -1.5e-9}}", "{{json 5e-324}}",
    "{{json 1.7976931348623157e308}}",
])
add("json-special", ["{{json .NaN}}", "{{json .Inf}}", "{{json .NegZero}}", "{{json .Port}}",
                     "{{json .Rows}}", "{{.NaN}}", "{{.Inf}}", "{{.NegZero}}",
                     "{{printf \"%5.1f|%f|%+v|% f\" .Inf .NaN .NaN .Inf}}", "{{.Port}}",
                     "{{printf \"%08.2f\" .Inf}}", "{{eq .NaN .NaN}}", "{{lt .NegZero 0.0}}"],
    env="special")
add("docker-funcs", [
    "{{split .Csv \",\"}}", "{{split .Path \"/\"}}", "{{split \"abc\" \"\"}}", "{{split \"\" \",\"}}",
    "{{join .List \", \"}}", "{{join .Config.Cmd \" \"}}", "{{join (split .Csv \",\") \"|\"}}",
    "{{join .Mixed \",\"}}", "{{join .List}}", "{{title .Title}}", "{{lower .Upper}}",
    "{{upper .Upper}}", "{{upper .Count}}", "{{upper .Nil}}", "{{upper .Missing}}",
    "{{pad .Name 2 3}}|", "{{pad .Empty 2 3}}|", "{{pad .Name 2}}", "{{truncate .Id 12}}",
    "{{truncate .Name 10}}", "{{truncate .Name 3}}", "{{truncate .Name -1}}",
    "{{.Name | upper | printf \"%q\"}}", "{{split .Name}}", "{{double 21}}", "{{double .Count}}",
    "{{double \"x\"}}", "{{double .Name}}", "{{double 1.5}}", "{{double 2.0}}", "{{half 3}}",
    "{{half .Count}}", "{{yes true}}", "{{yes 1}}", "{{fail}}", "{{fail 1}}",
    "{{variadic \"a\" 1 2}}", "{{variadic}}", "{{3 | variadic \"a\"}}", "{{\"s\" | variadic}}",
    "{{double nil}}", "{{upper nil}}", "{{title \"\u00e9t\u00e9 hello_world a.b\"}}",
    "{{lower \"\u00c9COLE\"}}", "{{upper \"stra\u00dfe\"}}", "{{truncate .Name 0}}",
    "{{pad .Name 0 0}}|", "{{split .Csv \",\" | len}}", "{{index (split .Path \"/\") 1}}",
    "{{range split .Path \"/\"}}[{{.}}]{{end}}", "{{join .Args \",\"}}", "{{double .Ratio}}",
    "{{yes .True}}", "{{half .Ratio}}", "{{double 1e2}}", "{{double 'a'}}", "{{double 0x10}}",
    "{{half 'a'}}", "{{yes \"true\"}}", "{{upper 'a'}}", "{{truncate .Unicode 2}}",
    "{{split .Map \",\"}}", "{{join .Nums \",\"}}", "{{json (split .Csv \",\")}}",
])
add("num-env", [
    "{{eq .Count 3}}", "{{eq .Count \"3\"}}", "{{.Count}}", "{{printf \"%d\" .Count}}",
    "{{printf \"%v|%s\" .Count .Ratio}}", "{{printf \"%T\" .Count}}", "{{json .Count}}",
    "{{json .Ratio}}", "{{json .}}", "{{.Big}}", "{{.Count.Int64}}", "{{.Ratio.Float64}}",
    "{{.Name.Int64}}", "{{.Ratio.Int64}}", "{{len .Count}}", "{{lt .Count .Zero}}",
    "{{.Huge}}", "{{.Mixed}}", "{{.State.Pid}}", "{{if .Zero}}t{{else}}f{{end}}",
    "{{.Count.String}}", "{{range .Nums}}{{.}}{{end}}", "{{upper .Count}}", "{{double .Count}}",
    "{{index .Nums 0}}", "{{index .List .Zero}}", "{{.I64}}", "{{json .I64}}", "{{print .Count .Zero}}",
], env="num")

add("more", [
    "{{ /* c */ }}", "{{/* c */ .Name}}", "{{/**/}}", "{{/* c */-}}", "{{- /* c */}}",
    "\u00e9{{.Nope.X}}", "\u00e9\u00e9\n\u00e9{{.Name.X}}", "{{.Na\u00efve}}", "{{.range}}",
    "{{.if}}", "{{range .List}}{{else}}{{end}}", "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\"}}",
    "{{with .Nested}}\n  {{.Inner.Value.X}}{{end}}", "{{if .True}}\n\t{{len 3}}{{end}}",
    "{{.Name}}\n{{template \"x\"}}", "{{index .List 1 | printf \"%s!\"}}",
    "{{printf \"%v\" .Mounts}}", "{{printf \"%+v|%#v\" .Nested.List .Nested.Inner}}",
    "{{printf \"%#v\" .Mixed}}", "{{printf \"%#v|%#v|%#v\" .Nil .Big .Name}}", "{{printf \"%v\" (index .Mixed 4)}}",
    "{{.Missing | printf \"%v\"}}", "{{.Nil | printf \"%v\"}}", "{{.Missing | len}}",
    "{{\"a\" | eq \"a\"}}", "{{.Count | eq 3 4}}", "{{.Name | html | urlquery}}", "{{not .Missing | not}}",
    "{{if and .List (index .List 0)}}{{index .List 0}}{{end}}", "{{if or .Missing (eq .Name \"web\")}}y{{end}}",
    "{{range $i, $m := .Mounts}}{{if $i}}; {{end}}{{$m.Source}}:{{$m.Destination}}{{if not $m.RW}}:ro{{end}}{{end}}",
    "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}{{end}}",
    "{{with index .NetworkSettings.Ports \"80/tcp\"}}{{(index . 0).HostPort}}{{end}}",
    "{{.State.Status}} {{.State.Pid}} {{.State.ExitCode}}", "{{json .State.Health}}",
    "{{range .Config.Env}}{{if eq (index (split . \"=\") 0) \"PATH\"}}{{.}}{{end}}{{end}}",
    "{{range $e := .Config.Env}}{{$kv := split $e \"=\"}}{{index $kv 0}};{{end}}",
    "{{lower .Name | title}}", "{{.Labels | json}}", "{{range $k, $v := .Labels}}{{$k}}{{end}}",
    "{{slice .Id 0 12}}", "{{len (slice .List 1)}}", "{{index .Labels \"com.docker.compose.project\" | upper}}",
    "{{printf \"%-20s%s\" .Name .Path}}|", "{{print \"a\" \"b\" 1 2 \"c\"}}", "{{println \"a\" \"b\"}}",
    "{{.Mixed | len | printf \"%03d\"}}", "{{printf \"%s\" (print .Nil)}}", "{{$x := .Nil}}{{$x}}|{{len $x}}",
    "{{range $i, $v := .Nested}}{{$i}}:{{$v}}|{{end}}", "{{with $x := .Missing}}y{{else}}{{$x}}{{end}}",
    "{{template \"x\" .}}", "{{define \"x\"}}{{.Missing.Foo}}{{end}}{{template \"x\" .Nil}}",
    "{{eq .Nil .Nil}}", "{{eq .Nil 1}}", "{{ne .Missing .Missing}}",
])
add("more-zero", ["{{.Nope}}", "{{.Labels.nope}}", "{{.Extra}}", "{{.Labels.tier}}"], env="row",
    missingkey="zero")
add("more-error", ["{{.Nope}}", "{{.Labels.nope}}", "{{.Extra.X}}", "{{.secret}}"], env="row",
    missingkey="error")

TAB_INPUTS = [
    "a\tb\tc\naaa\tbbbb\tc\n", "x\n", "a\tb\n\nc\td\n", "no newline\tend", "\t\tx\n",
    "aaaaaaaaaaaaaaaa\tb\nc\td\te\n", "a\tb\tc\nd\n e\tf\n", "", "a\t\n\tb\n",
    "h\u00e9llo\tx\nab\ty\n", "a\tb\nc\n", "1\t2\t3\t4\n11\t22\n111\t222\t333\n",
    "CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox\tweb\n", "trailing\t\n", "\n\n", "a\tb",
    "x\ty\fz\tw\n", "a\vb\tc\n",
]
TABLES = [
    (r"table {{.ID}}\t{{.Names}}\t{{.Status}}", "rows"), ("table {{.ID}}", "rows"),
    ("{{.ID}}: {{.Names}}", "rows"), ("table", "rows"), ("json", "rows"),
    (r"table {{.ID}}\t{{.Nope}}", "rows"), (r"table {{.ID | upper}}\t{{json .Names}}", "rows"),
    (r"table {{.Size}}\t{{pad .ID 1 1}}", "rows"), (r"{{.ID}}\n", "rows"),
    (r"table {{.ID}}\t\t{{.Status}}", "rows"), (r"table {{.ID}}\t", "rows"),
    (r"table {{.ID}}\n{{.Status}}", "rows"), (r"table {{title .Names}}\t{{truncate .ID 3}}", "rows"),
    ("{{", "rows"), (r"table {{.ID}}\t{{.Missing}}", "rows"),
    (r"table {{.ID}}\t{{.Status}}", "norows"), (r"  {{.ID}}  ", "rows"),
    (r"table {{.Label \"com.example.vendor\"}}\t{{.ID}}", "norows"),
    (r"table {{.ID}}\t{{.Names | split \"-\" | len}}", "rows"),
    (r"tablex {{.ID}}", "rows"), (r"table {{.Names}} {{.Status}}\t{{.Size}}", "rows"),
    (r"table \\t{{.ID}}", "rows"), ("{{json .}}", "rows"),
]
HEADER = {"ID": "CONTAINER ID", "Names": "NAMES", "Status": "STATUS", "Size": "SIZE"}


def cases() -> list[dict[str, str]]:
    out = []
    counters: dict[str, int] = {}
    for section, tmpl, env, mk in T:
        counters[section] = counters.get(section, 0) + 1
        out.append({"id": f"{section}-{counters[section]:03d}", "kind": "tmpl", "tmpl": tmpl,
                    "env": env, "missingkey": mk, "name": "", "input": "", "header": ""})
    for i, text in enumerate(TAB_INPUTS, 1):
        out.append({"id": f"tab-{i:03d}", "kind": "tab", "tmpl": "", "env": "", "missingkey": "",
                    "name": "", "input": text, "header": ""})
    for i, (fmt, env) in enumerate(TABLES, 1):
        out.append({"id": f"table-{i:03d}", "kind": "table", "tmpl": fmt, "env": env,
                    "missingkey": "", "name": "", "input": "", "header": json.dumps(HEADER)})
    return out


# -- running a case in Python -----------------------------------------------------------

_ENVS: dict[str, Any] | None = None


def envs() -> dict[str, Any]:
    global _ENVS
    if _ENVS is None:
        _ENVS = build_envs()
    return _ENVS


def run_case(c: dict[str, str]) -> tuple[str, str | None]:
    out, err = _run_case(c)
    # Go wrote invalid UTF-8 (a string sliced mid-rune) and its JSON encoder turned
    # it into U+FFFD; Python holds such bytes as surrogate escapes.
    return out.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), err


def _run_case(c: dict[str, str]) -> tuple[str, str | None]:
    if c["kind"] == "tab":
        return tabwrite(c["input"], 10, 1, 3, " ", 0, measure=rune_count), None
    if c["kind"] == "table":
        data = envs()[c["env"]]
        try:
            extra = {k: v for k, v in test_funcs().items() if k not in docker_funcs()}
            return render(c["tmpl"], data, HeaderContext(json.loads(c["header"])), funcs=extra), None
        except (TemplateError, ExecError) as e:
            return "", str(e)
    try:
        t = Template(c["tmpl"], name=c["name"], missingkey=c["missingkey"] or "default",
                     funcs=test_funcs())
    except TemplateError as e:
        return "", str(e)
    try:
        return t.execute(envs()[c["env"]]), None
    except ExecError as e:
        return e.partial, str(e)


def _golden() -> dict[str, dict[str, Any]]:
    if not GOLDEN.exists():
        return {}
    return {r["id"]: r for r in json.loads(GOLDEN.read_text())}


# Where docker's CLI (28.2.2, built with Go 1.24.3) and Go 1.19 disagree, Berth follows
# docker, since users compare against docker.  Each entry was checked against that
# docker binary (`docker context inspect -f TEMPLATE default` runs templates locally).
DIVERGENCES: dict[str, tuple[str, str | None, str]] = {
    "{{.Name)}}": ("", "template: :1: unexpected right paren",
                   "Go >= 1.22 lexer rejects a stray ')' itself"),
    "{{)}}": ("", "template: :1: unexpected right paren",
              "Go >= 1.22 lexer rejects a stray ')' itself"),
    "{{range .Count}}{{.}}{{end}}x": ("012x", None, "Go >= 1.22 ranges over integers"),
    "{{if .True}}a{{else with .X}}b{{end}}": ("", "template: :1: unexpected <with> in input",
                                              "Go >= 1.23 parses {{else with}} (for with only)"),
    # Berth's data has no static types: a list of strings passes as []string, as
    # docker's typed structs (e.g. Config.Cmd) do in its first inspect pass.
    '{{join .List ", "}}': ("a, b, c", None, "lists of strings are accepted as []string"),
    '{{join .Config.Cmd " "}}': ("sh -c echo hi", None, "lists of strings are accepted as []string"),
}

ALL_CASES = cases()
GOLD = _golden()


@pytest.mark.parametrize("case", ALL_CASES, ids=[c["id"] for c in ALL_CASES])
def test_gotemplate_matches_go(case: dict[str, str]) -> None:
    want = GOLD.get(case["id"])
    if want is None:
        pytest.fail(f"no golden output for {case['id']}: run this file with --regen")
    assert want["tmpl"] == case["tmpl"] and want.get("input", "") == case["input"], \
        "case table changed since the golden file was generated: run with --regen"
    out, err = run_case(case)
    if case["kind"] == "tmpl" and case["tmpl"] in DIVERGENCES:
        d_out, d_err, _ = DIVERGENCES[case["tmpl"]]
        assert (want["out"], want["err"]) != (d_out, d_err), "no longer a divergence"
        assert (out, err) == (d_out, d_err)
        return
    assert (out, err) == (want["out"], want["err"]), f"template: {case['tmpl']!r}"


def test_gotemplate_golden_table_is_large_enough() -> None:
    assert len([c for c in ALL_CASES if c["kind"] == "tmpl"]) >= 200


# -- regeneration and differential fuzzing (both need Go) ------------------------------

def run_go(cs: list[dict[str, str]]) -> tuple[dict[str, dict[str, Any]], str]:
    """Go's results for a case list, and Go's version string."""
    go = shutil.which("go")
    if go is None:
        raise SystemExit("this needs Go: apt-get install golang-go")
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(GO_SOURCE, os.path.join(d, "main.go"))
        subprocess.run([go, "mod", "init", "golden"], cwd=d, check=True, capture_output=True)
        payload = json.dumps({"envs": JSON_ENVS, "cases": cs})
        env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local", GOCACHE=os.path.join(d, "cache"))
        proc = subprocess.run([go, "run", "."], cwd=d, input=payload, capture_output=True,
                              text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        results = {r["id"]: r for r in json.loads(proc.stdout)}
        version = subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()
    return results, version


def regenerate() -> None:
    cs = cases()
    results, version = run_go(cs)
    rows = []
    for c in cs:
        r = results[c["id"]]
        rows.append({"id": c["id"], "tmpl": c["tmpl"], "input": c["input"], "out": r["out"],
                     "err": r["err"]})
    GOLDEN.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} cases from {version} to {GOLDEN}")


def _ranges_over_int(err: str) -> bool:
    import re
    return re.search(r"range can't iterate over -?\d+$", err) is not None


def fuzz(seed: int, count: int) -> int:
    """Random templates (valid and broken) run by Go and by Berth; prints differences."""
    import random
    rnd = random.Random(seed)
    toks = ["{{", "}}", "{{-", "-}}", " ", "\n", ".", ".Name", ".List", ".Map", ".Nested", "$",
            "$x", ":=", "=", "|", "(", ")", ",", "if", "else", "end", "range", "with", "define",
            "template", "break", "continue", "nil", "true", "1", "-1", "2.5", "'a'", '"s"', "`r`",
            "printf", "len", "index", "eq", "and", "not", "slice", "json", "/*", "*/", "#", '"T"']
    atoms = [".Name", ".Count", ".Ratio", ".List", ".Map", ".Nil", ".Missing", ".Mixed", ".Big",
             "-3", "0", "1e6", "'x'", '"h\u00e9"', "true", "nil", "(index .List 1)", "$"]
    funcs = ["and", "or", "not", "len", "index", "slice", "print", "eq", "lt", "html", "js",
             "urlquery", "json", "split", "upper", "pad", "truncate", "double", "call"]

    def verb() -> str:
        return ("%" + "".join(rnd.sample("-+# 0", rnd.randint(0, 2)))
                + rnd.choice(["", "3", "8", "*"]) + rnd.choice(["", ".0", ".2", ".*", "."])
                + rnd.choice("vdsqxXofeEgGtcTUb%"))

    def pipe() -> str:
        if rnd.random() < 0.3:
            return rnd.choice(atoms)
        if rnd.random() < 0.3:
            return 'printf "' + "|".join(verb() for _ in range(rnd.randint(1, 3))) + '" ' + \
                " ".join(rnd.choice(atoms) for _ in range(rnd.randint(0, 3)))
        p = " ".join([rnd.choice(funcs)] + [rnd.choice(atoms) for _ in range(rnd.randint(0, 3))])
        return p + "".join(" | " + rnd.choice(funcs) for _ in range(rnd.randint(0, 2)))

    def template() -> str:
        r = rnd.random()
        if r < 0.3:
            return "".join(rnd.choice(toks) + " " * (rnd.random() < 0.4) for _ in range(rnd.randint(1, 14)))
        forms = ["{{%s}}", "{{$y := %s}}{{$y}}", "{{if %s}}A{{else}}B{{end}}", "{{with %s}}<{{.}}>{{end}}",
                 "{{range $i, $e := %s}}[{{$i}}={{$e}}]{{else}}E{{end}}"]
        return "".join(rnd.choice(forms) % pipe() for _ in range(rnd.randint(1, 3)))

    cs = [{"id": f"fuzz-{i:05d}", "kind": "tmpl", "tmpl": template(),
           "env": rnd.choice(["m", "num", "row"]), "missingkey": rnd.choice(["", "zero", "error"]),
           "name": "", "input": "", "header": ""} for i in range(count)]
    results, version = run_go(cs)
    bad = 0
    for c in cs:
        want = (results[c["id"]]["out"], results[c["id"]]["err"])
        if want[1] and ('unexpected ")"' in want[1] or _ranges_over_int(want[1])):
            continue  # intended divergences, see DIVERGENCES
        try:
            got: tuple[str, str | None] = run_case(c)
        except Exception as e:  # noqa: BLE001 - a crash is a finding
            got = ("CRASH", repr(e))
        if got != want:
            bad += 1
            print(f"== {c['tmpl']!r} env={c['env']} missingkey={c['missingkey']}\n"
                  f"   go:    {want!r}\n   berth: {got!r}")
    print(f"{count} random templates, {bad} differ from {version} "
          "(see DIVERGENCES for the intended ones)")
    return 1 if bad else 0


if __name__ == "__main__":
    if "--regen" in sys.argv:
        regenerate()
    elif "--fuzz" in sys.argv:
        i = sys.argv.index("--fuzz")
        seed = int(sys.argv[i + 1]) if len(sys.argv) > i + 1 else 1
        n = int(sys.argv[i + 2]) if len(sys.argv) > i + 2 else 2000
        sys.exit(fuzz(seed, n))
    else:
        print(__doc__)
