"""What keeps the CLI fast, pinned: hot commands import no heavy modules, and the
str-method parsers that replaced regular expressions accept exactly what the
regular expressions (docker's grammars) accept."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import subprocess
import sys

import pytest

from berth.cli import fastjson
from berth.cli.reference import ReferenceError_, is_image_id, parse_normalized
from berth.cli.units import UnitError, go_parse_int, go_parse_uint, parse_duration
from test_cli_run import CID, Engine
from test_cli_support import FakeDaemon, Reply, json_reply

HEAVY = ("typing", "re", "json", "enum", "dataclasses", "inspect", "socket", "signal", "selectors",
         "h11", "platform", "datetime", "importlib", "asyncio", "aiohttp", "struct")


def _imported_after(host: str, argv: list[str]) -> list[str]:
    code = ("import sys; from berth.cli.main import main\n"
            "import io; sys.stdout = io.StringIO()\n"
            f"status = main({argv!r})\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules], status, file=sys.stderr)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), BERTH_HOST=host)
    env.pop("DOCKER_API_VERSION", None)
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    return out.stderr.strip().splitlines()[-1:]


def _containers(n: int) -> list[dict]:
    return [{"Id": f"{i:064x}", "Names": [f"/c{i}"], "Image": "busybox", "ImageID": "sha256:" + "b" * 64,
             "Command": "sleep 1000", "Created": 1700000000, "Ports": [], "Labels": {"a": "b"},
             "State": "running", "Status": "Up 5 minutes", "HostConfig": {"NetworkMode": "default"},
             "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}, "Mounts": []}
            for i in range(n)]


@pytest.mark.parametrize("argv", [["ps"], ["ps", "-a", "--no-trunc"], ["images"], ["version"],
                                  ["logs", "web"], ["inspect", "web"], ["rm", "-f", "web"]])
def test_hot_commands_import_nothing_heavy(argv):
    routes = {
        "GET /containers/json": json_reply(_containers(5)),
        "GET /images/json": json_reply([{"Id": "sha256:" + "a" * 64, "RepoTags": ["busybox:latest"],
                                         "RepoDigests": [], "Created": 1700000000, "Size": 4261574,
                                         "Containers": -1}]),
        "GET /version": json_reply({"Version": "0.1.0", "ApiVersion": "1.45", "MinAPIVersion": "1.24",
                                    "BuildTime": "2024-01-05T10:20:30.000000000+00:00", "Os": "linux",
                                    "Arch": "amd64", "Components": []}),
        "GET /containers/web/json": json_reply({"Id": CID, "Config": {"Tty": False}}),
        f"GET /containers/{CID}/logs": Reply(200, b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"),
        "DELETE /containers/web": Reply(204),
    }
    with FakeDaemon(routes) as d:
        assert _imported_after(d.host, argv) == ["[] 0"]


def test_run_imports_nothing_heavy():
    engine = Engine([(1, b"hello\n")])
    with FakeDaemon(engine.routes()) as d:
        assert _imported_after(d.host, ["run", "--rm", "busybox", "echo", "hello"]) == ["[] 0"]


# --- image references: the str-method grammar against docker's regular expressions -------------

_ALNUM = r"[a-z0-9]+"
_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|[-]+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
GRAMMAR = {
    "path": re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*"),
    "domain": re.compile(_DOMAIN),
    "tag": re.compile(r"[\w][\w.-]{0,127}", re.ASCII),
    "digest": re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"),
}


def _reference_by_regex(text: str):
    """parse_normalized written with the regular expressions (the specification)."""
    if not text:
        raise ReferenceError_("invalid reference format")
    if re.fullmatch(r"[a-f0-9]{64}", text):
        raise ReferenceError_("64-byte hexadecimal strings")
    remainder, _, digest = text.partition("@")
    if digest and not GRAMMAR["digest"].fullmatch(digest):
        raise ReferenceError_("invalid reference format")
    name, tag = remainder, ""
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1:]
        if not GRAMMAR["tag"].fullmatch(tag):
            raise ReferenceError_("invalid reference format")
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, path = "docker.io", name
    else:
        domain, path = first, rest
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if not GRAMMAR["domain"].fullmatch(domain):
        raise ReferenceError_("invalid reference format")
    if not GRAMMAR["path"].fullmatch(path):
        if GRAMMAR["path"].fullmatch(path.lower()):
            raise ReferenceError_("must be lowercase")
        raise ReferenceError_("invalid reference format")
    if len(domain) + 1 + len(path) > 255:
        raise ReferenceError_("too long")
    return (domain, path, tag, digest)


def _outcome(fn, text):
    try:
        return fn(text)
    except ReferenceError_ as exc:
        return ("error", "lowercase" in str(exc), "64-byte" in str(exc))


def _samples() -> list[str]:
    fixed = [
        "busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:1.36",
        "index.docker.io/user/app", "localhost/app", "localhost:5000/a/b:v1", "[::1]:5000/app:x",
        "[fe80::1]/x", "[]/x", "[::1]:/x", "[::1]x/y", "example.com:/x", "Example.COM/app", "my-host.io/a__b/c.d-e",
        "a..b", "a._b", "a___b", "a--b", "a-.b", "-a", "a-", "_a", "a/", "/a", "a//b", "UPPER", "Upper/app",
        "host.io/Upper", "app:" + "t" * 128, "app:" + "t" * 129, "app:-tag", "app:.tag", "app:_tag", "app:ünï",
        "app@sha256:" + "a" * 64, "app@sha256:" + "a" * 31, "app@sha256+b.c_d-e:" + "F" * 40, "app@sha256:xyz",
        "app@1sha:" + "a" * 32, "app@sha--256:" + "a" * 32, "app@:" + "a" * 32, "app:v1@sha256:" + "b" * 64,
        "a" * 64, "A" * 64, "sha256:" + "a" * 64, "x" * 300, "host.io:80/" + "p" * 250, "a:b:c", "ho-st.io/x",
        "-host.io/x", "host-.io/x", "host..io/x", "1.2.3.4:5/x", "host:port/x", "host:12a/x", "é/x", "a/é",
        "a\nb", "a b", "", ":", "@", "app:", "app@",
    ]
    rng = random.Random(20240601)
    alphabet = "ab9Z._-/:@[]"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(4000)]
    return fixed + fuzz


def test_reference_grammar_matches_the_regular_expressions():
    for text in _samples():
        expected = _outcome(_reference_by_regex, text)
        got = _outcome(lambda t: (lambda r: (r.domain, r.path, r.tag, r.digest))(parse_normalized(t)), text)
        assert got == expected, text


def test_reference_value_semantics():
    a, b = parse_normalized("busybox"), parse_normalized("docker.io/library/busybox")
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert repr(a) == "Reference(domain='docker.io', path='library/busybox', tag='', digest='')"
    assert str(a.with_default_tag()) == "docker.io/library/busybox:latest"
    with pytest.raises(AttributeError):
        a.tag = "x"  # type: ignore[misc]
    assert is_image_id("sha256:" + "a" * 12) and is_image_id("a" * 64)
    assert not is_image_id("a" * 12) and not is_image_id("sha256:" + "A" * 12)


# --- Go number and duration syntax --------------------------------------------------------------

_GO_INT = re.compile(r"[+-]?(0[xX](_?[0-9a-fA-F])+|0[bB](_?[01])+|0[oO](_?[0-7])+|0(_?[0-7])*|[1-9](_?[0-9])*)")


def test_go_int_syntax_matches_the_regular_expression():
    pieces = ["", "+", "-", "0", "1", "7", "8", "9", "_", "x", "X", "b", "o", "f", "G", " ", "²"]
    for combo in itertools.product(pieces, repeat=4):
        text = "".join(combo)
        try:
            got = go_parse_int(text)
        except UnitError:
            got = None
        if _GO_INT.fullmatch(text):
            body = text.replace("_", "").lstrip("+-")
            sign = -1 if text.startswith("-") else 1
            low = body.lower()
            base = 16 if low.startswith("0x") else 2 if low.startswith("0b") else 8 if low.startswith("0o") else 0
            if base:
                expected = sign * int(body[2:], base)
            elif len(body) > 1 and body[0] == "0":
                expected = sign * int(body[1:], 8)
            else:
                expected = sign * int(body)
        else:
            expected = None
        assert got == expected, text
    assert go_parse_uint("0x10") == 16
    with pytest.raises(UnitError, match="invalid syntax"):
        go_parse_uint("-1")


@pytest.mark.parametrize("text, ns", [("1h30m", 5400 * 10**9), ("1.5s", 1_500_000_000), (".5ms", 500_000),
                                      ("2.m", 120 * 10**9), ("-3us", -3000), ("1µs", 1000), ("0", 0)])
def test_durations(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text, message", [("", "invalid duration"), ("1", "missing unit"), (".s", "invalid"),
                                           ("1x", 'unknown unit "x"'), ("1h.", "invalid duration"),
                                           ("s", "invalid duration")])
def test_duration_errors(text, message):
    with pytest.raises(UnitError, match=message):
        parse_duration(text)


# --- JSON through the C accelerator ---------------------------------------------------------------

def test_fastjson_is_json():
    values = [None, True, 0, -1, 2**70, 1.5, 1e300, float("inf"), "é\u2028<>&\"\\\x00", [], {},
              {"b": [1, {"a": None}], "a": "x", 3: "int key"}]
    for value in values:
        for ensure_ascii, sort_keys, seps in itertools.product((True, False), (True, False),
                                                               ((",", ":"), (", ", ": "))):
            kw = dict(ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=seps)
            if sort_keys and isinstance(value, dict) and 3 in value:
                continue  # mixed key types cannot be sorted by either
            assert fastjson.dumps(value, **kw) == json.dumps(value, **kw)
    assert fastjson.dumps({"a": [1]}, indent=4) == json.dumps({"a": [1]}, indent=4)
    for text in [' {"a": [1, 2.5, "x", null, true, false]} \n', "[]", '"s"', "-0", "NaN", b'{"a":1}',
                 '{"a":1}'.encode("utf-16"), b"\xef\xbb\xbf[1]"]:
        assert repr(fastjson.loads(text)) == repr(json.loads(text))
    for bad in ["", "{", "[1] 2", "nul", '{"a":1,}', b"\xff"]:
        with pytest.raises(ValueError) as got:
            fastjson.loads(bad)
        with pytest.raises(ValueError) as want:
            json.loads(bad)
        assert str(got.value) == str(want.value)
    with pytest.raises(TypeError, match="not JSON serializable"):
        fastjson.dumps({"x": object()})
    circular: list = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        fastjson.dumps(circular)
