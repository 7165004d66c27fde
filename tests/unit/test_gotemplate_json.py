"""gojson: Go's encoding/json output, byte for byte, as docker's {{json}} writes it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from berth.gotemplate.gojson import (Number, RawMessage, Struct, UnsupportedError, dumps,
                                    loads_numbers)


@pytest.mark.parametrize("value, text", [
    (1e6, "1000000"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"),
    (1e-6, "0.000001"), (123456789.0, "123456789"), (0.1, "0.1"), (-0.0, "-0"),
    (2.5e-10, "2.5e-10"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (5e-324, "5e-324"), (3, "3"), (9007199254740993, "9007199254740993"), (True, "true"),
    (None, "null"),
])
def test_numbers_as_go_prints_them(value: object, text: str) -> None:
    assert dumps(value) == text


def test_integers_stay_integers_and_floats_keep_their_kind() -> None:
    assert dumps([1, 1.0, 1.5]) == "[1,1,1.5]"


def test_html_characters_are_kept_as_docker_turns_escaping_off() -> None:
    assert dumps("<a href='x'>&</a>") == "\"<a href='x'>&</a>\""
    assert dumps("<&>", escape_html=True) == '"\\u003c\\u0026\\u003e"'


def test_control_characters_and_line_separators_are_escaped() -> None:
    # \b and \f short forms: docker's CLI is built with Go >= 1.22, which writes them so
    # (checked: `docker context inspect -f '{{json "\b\f\u0001"}}' default`).
    assert dumps("a\tb\nc\r\b\f\x01\x1f\x7f\u2028\u2029\"\\") == \
        '"a\\tb\\nc\\r\\b\\f\\u0001\\u001f\x7f\\u2028\\u2029\\"\\\\"'


def test_non_ascii_is_written_as_utf8() -> None:
    assert dumps("h\u00e9 \u65e5 \U0001F600") == '"h\u00e9 \u65e5 \U0001F600"'


def test_invalid_utf8_becomes_replacement_character() -> None:
    bad = b"a\xffb".decode("utf-8", "surrogateescape")
    assert dumps(bad) == '"a\ufffdb"'


def test_maps_sort_keys_and_structs_keep_declared_order() -> None:
    assert dumps({"b": 1, "a": {"d": 1, "c": 2}}) == '{"a":{"c":2,"d":1},"b":1}'
    assert dumps(Struct([("Z", 1), ("A", 2)])) == '{"Z":1,"A":2}'
    assert dumps({}) == "{}" and dumps([]) == "[]" and dumps(Struct()) == "{}"


@dataclass
class Port:
    PrivatePort: int
    Type: str
    IP: str = field(default="", metadata={"json": "IP,omitempty"})
    Hidden: str = field(default="h", metadata={"json": "-"})
    internal: int = 0
    renamed: int = field(default=7, metadata={"json": "Renamed"})


def test_dataclasses_are_structs_with_go_tags_and_unexported_fields_left_out() -> None:
    assert dumps(Port(80, "tcp")) == '{"PrivatePort":80,"Type":"tcp","Renamed":7}'
    assert dumps(Port(80, "tcp", "0.0.0.0")) == \
        '{"PrivatePort":80,"Type":"tcp","IP":"0.0.0.0","Renamed":7}'


def test_gojson_hook_plays_marshaljson() -> None:
    class Row:
        def __gojson__(self) -> dict:
            return {"Names": "web", "ID": "abc"}
    assert dumps([Row()]) == '[{"ID":"abc","Names":"web"}]'


def test_raw_message_is_written_verbatim() -> None:
    class Row:
        def __gojson__(self) -> RawMessage:
            return RawMessage('{"z":1,"a":2}')
    assert dumps({"r": Row()}) == '{"r":{"z":1,"a":2}}'


def test_json_number_is_written_verbatim() -> None:
    data = loads_numbers('{"a": 1e6, "b": 10, "c": -0.50}')
    assert isinstance(data["a"], Number)
    assert dumps(data) == '{"a":1e6,"b":10,"c":-0.50}'
    assert data["b"].Int64() == 10 and data["c"].Float64() == -0.5


def test_unsupported_values_raise_like_go() -> None:
    with pytest.raises(UnsupportedError, match="json: unsupported value: NaN"):
        dumps(float("nan"))
    with pytest.raises(UnsupportedError, match=r"json: unsupported value: \+Inf"):
        dumps([float("inf")])
    with pytest.raises(UnsupportedError, match="unsupported type"):
        dumps(1j)


def test_indent_matches_marshalindent() -> None:
    assert dumps({"a": [1, {}], "b": []}, indent="    ") == \
        '{\n    "a": [\n        1,\n        {}\n    ],\n    "b": []\n}'


def test_agrees_with_python_json_on_plain_data() -> None:
    data = {"k": [1, "two", None, True, {"x": "y"}], "a": "\u00e9"}
    assert json.loads(dumps(data)) == data
