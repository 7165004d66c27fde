"""The compose loader against the shared example projects and its own rule tables."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from berth.compose.errors import ComposeError
from berth.compose.loader.dotenv import parse_dotenv, read_dotenv
from berth.compose.loader.interpolate import substitute
from berth.compose.loader.project import ProjectOptions, load_project, normalize_project_name
from berth.compose.loader.validate import validate_document
from berth.compose.loader.yamlfile import parse_yaml
from specs import SPECS_DIR

EX = SPECS_DIR / "compose" / "examples"
GO = EX / "compose-go"
TD = GO / "loader/testdata"
DOTENV = GO / "dotenv/fixtures"


def load(files, environ=None, **kw):
    return load_project(ProjectOptions(files=[str(f) for f in files], environ=environ or {}, **kw))


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text))
    return p


# --- every example project: loads, or fails with the error its name promises -------------

LOADS = [
    "compose-go/cli/testdata/UNNORMALIZED PATH/compose.yaml",
    "compose-go/cli/testdata/env-file/compose-with-env-file.yaml",
    "compose-go/cli/testdata/env-file/compose-with-env-files.yaml",
    "compose-go/cli/testdata/simple/compose-name.yaml",
    "compose-go/cli/testdata/simple/compose-with-overrides.yaml",
    "compose-go/cli/testdata/simple/compose-with-paths.yaml",
    "compose-go/cli/testdata/simple/compose-with-variables.yaml",
    "compose-go/cli/testdata/simple/compose.yaml",
    "compose-go/loader/testdata/combined/compose.yaml",
    "compose-go/loader/testdata/combined/dir/extended.yaml",
    "compose-go/loader/testdata/combined/dir/included.yaml",
    "compose-go/loader/testdata/compose-include.yaml",
    "compose-go/loader/testdata/compose-test-extends-with-context-url-imported.yaml",
    "compose-go/loader/testdata/compose-test-extends-with-context-url.yaml",
    "compose-go/loader/testdata/compose-test-extends.yaml",
    "compose-go/loader/testdata/compose-test-with-version.yaml",
    "compose-go/loader/testdata/empty.yaml",
    "compose-go/loader/testdata/extends/depends_on.yaml",
    "compose-go/loader/testdata/extends/interpolated.yaml",
    "compose-go/loader/testdata/extends/nested.yaml",
    "compose-go/loader/testdata/extends/ports.yaml",
    "compose-go/loader/testdata/extends/reset.yaml",
    "compose-go/loader/testdata/extends/sibling.yaml",
    "compose-go/loader/testdata/extends/withdir/compose.yaml",
    "compose-go/loader/testdata/extends/withdir/dir/base.yaml",
    "compose-go/loader/testdata/extends/withdir/dir/compose.yaml",
    "compose-go/loader/testdata/include/compose.yaml",
    "compose-go/loader/testdata/include/included.yaml",
    "compose-go/loader/testdata/include/project-directory.yaml",
    "compose-go/loader/testdata/remote/compose.yaml",
    "compose-go/loader/testdata/remote/nested/compose-nested.yaml",
    "compose-go/loader/testdata/subdir/compose-test-extends-imported.yaml",
    "conformance-tests/tests/different_networks/compose.yaml",
    "conformance-tests/tests/scaling/compose.yaml",
    "conformance-tests/tests/simple_configfile/compose.yaml",
    "conformance-tests/tests/simple_lifecycle/compose.yaml",
    "conformance-tests/tests/simple_network/compose.yaml",
    "conformance-tests/tests/simple_secretfile/compose.yaml",
    "conformance-tests/tests/simple_volume/compose.yaml",
    "conformance-tests/tests/udp_port/compose.yaml",
]

FAILS = {
    # the fixture copy holds no profiles, so this one is a plain three-service cycle too
    "compose-go/loader/testdata/compose-depends-on-profile-no-cycle.yaml": "dependency cycle detected: service1 -> service2 -> service3 -> service1",
    "compose-go/loader/testdata/compose-depends-on-cycle.yaml": "dependency cycle detected: service1 -> service2 -> service3 -> service1",
    "compose-go/loader/testdata/compose-depends-on-self.yaml": "dependency cycle detected: service1 -> service1",
    "compose-go/loader/testdata/compose-include-cycle.yaml": "include cycle detected",
    # an extends target, not a project: services without image or build
    "compose-go/loader/testdata/extends/base.yaml": "neither an image nor a build context",
    # only loads through include/project-directory.yaml, whose project directory holds extra.env
    "compose-go/loader/testdata/include/dir/compose.yaml": "extra.env not found",
    # remote: resources need compose-go's test loader; berth has no remote loader
    "compose-go/loader/testdata/remote/cycle/compose-cycle.yaml": "remote resource remote:cycle/compose.yaml is not supported",
    "compose-go/loader/testdata/remote/cycle/compose.yaml": "remote resource remote:cycle/compose-cycle.yaml is not supported",
    "compose-go/loader/testdata/remote/nested/compose.yaml": "not supported",
    # interpolates to empty strings where booleans are needed (a schema-only fixture)
    "compose-go/schema/using-variables.yaml": "services.foo.privileged: invalid boolean",
    # conformance runner descriptions, not compose files
    "conformance-tests/commands/compose-ref.yml": "Additional properties command, down, global_opts, ps_command, up are not allowed",
    "conformance-tests/commands/docker-compose.yml": "Additional properties command, down, global_opts, ps_command, up are not allowed",
}


def test_every_example_is_classified():
    found = {str(p.relative_to(EX)) for p in EX.rglob("*.y*ml")}
    assert found == set(LOADS) | set(FAILS)


@pytest.mark.parametrize("rel", LOADS)
def test_example_loads(rel):
    project = load([EX / rel])
    assert project.name


@pytest.mark.parametrize("rel", sorted(FAILS))
def test_example_fails_as_meant(rel):
    with pytest.raises(ComposeError) as exc:
        load([EX / rel])
    assert FAILS[rel] in str(exc.value)


def test_schema_fixture_with_variables_validates_before_interpolation():
    doc = parse_yaml((GO / "schema/using-variables.yaml").read_text(), "x")
    validate_document(doc, "x")


def test_unnormalized_directory_name_becomes_project_name():
    assert load([EX / "compose-go/cli/testdata/UNNORMALIZED PATH/compose.yaml"]).name == "unnormalizedpath"
    assert normalize_project_name("My_App.v2") == "my_appv2"
    assert normalize_project_name("__x") == "x"


def test_dotenv_sets_compose_file_and_project_name(monkeypatch):
    d = GO / "cli/testdata/env-file"
    p = load_project(ProjectOptions(environ={}, cwd=str(d)))
    assert p.name == "my_project_from_dot_env"
    assert p.services["simple"].config["environment"] == {"DEFAULT_PORT": "8080"}


def test_env_file_option_overrides_dotenv():
    d = GO / "cli/testdata/env-file"
    p = load([d / "compose-with-env-files.yaml"], env_files=[str(d / "override.env")])
    assert p.services["simple"].config["ports"][0]["published"] == "9000"
    assert p.services["simple"].config["environment"] == {"DEFAULT_PORT": "9090"}
    assert p.name == "env-file"


def test_os_environment_beats_dotenv():
    d = GO / "cli/testdata/simple"
    p = load([d / "compose-with-variables.yaml"], environ={"PUBLIC_PORT": "7000"})
    assert p.services["simple"].config["ports"][0]["published"] == "7000"
    p = load([d / "compose-with-variables.yaml"])
    assert p.services["simple"].config["ports"][0]["published"] == "8000"


def test_project_name_precedence():
    f = GO / "cli/testdata/simple/compose-name.yaml"
    assert load([f], {"TEST": "a"}).name == "test-a-test"
    assert load([f], {"TEST": "a", "COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load([f], {"TEST": "a", "COMPOSE_PROJECT_NAME": "fromenv"}, project_name="flag").name == "flag"
    with pytest.raises(ComposeError, match='invalid project name "Bad Name"'):
        load([f], project_name="Bad Name")


def test_extends_resolves_paths_against_the_base_file():
    p = load([TD / "compose-test-extends.yaml"])
    svc = p.services["importer"].config
    assert svc["image"] == "nginx"
    assert svc["container_name"] == "imported"
    assert svc["env_file"][0]["path"] == str(TD / "subdir/extra.env")
    assert svc["environment"] == {"SOURCE": "extends"}


def test_extends_reset_removes_the_base_command():
    p = load([TD / "extends/reset.yaml"])
    assert "command" not in p.services["base"].config
    assert p.services["init"].config["command"] == ["sleep", "infinity"]


def test_extends_chain_through_directories():
    p = load([TD / "extends/withdir/compose.yaml"])
    assert p.services["test"].config["image"] == "hello-world"


def test_extends_implicit_dependencies_and_ulimits(tmp_path):
    p = load([TD / "extends/depends_on.yaml"])
    for name in ("with_depends_on", "with_volumes_from", "with_ipc", "with_network_mode"):
        assert p.services[name].depends_on == {"zot": {"condition": "service_started", "required": True}}
    f = write(tmp_path, "compose.yaml", """
        services:
          u:
            extends: {file: %s, service: withUlimits}
    """ % (TD / "extends/base.yaml"))
    assert load([f]).services["u"].config["ulimits"] == {
        "nproc": {"soft": 65535, "hard": 65535}, "nofile": {"soft": 20000, "hard": 40000}}


def test_extends_loop_is_an_error(tmp_path):
    f = write(tmp_path, "compose.yaml", """
        services:
          a: {extends: b, image: x}
          b: {extends: a}
    """)
    with pytest.raises(ComposeError, match="circular reference with extends: a -> b -> a"):
        load([f])


def test_extends_across_files_loop(tmp_path):
    write(tmp_path, "other.yaml", "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n")
    f = write(tmp_path, "compose.yaml", "services:\n  a:\n    extends: {file: other.yaml, service: b}\n")
    with pytest.raises(ComposeError, match="circular reference with extends"):
        load([f])


def test_extends_missing_service(tmp_path):
    f = write(tmp_path, "compose.yaml", "services:\n  a:\n    extends: nope\n")
    with pytest.raises(ComposeError, match='service "nope" not found'):
        load([f])


def test_include_with_project_directory():
    p = load([TD / "include/project-directory.yaml"])
    svc = p.services["service"].config
    assert svc["build"]["context"] == str(TD / "subdir")
    assert svc["volumes"][0]["source"] == str(TD / "subdir/compose-test-extends-imported.yaml")


def test_include_loop_between_two_files(tmp_path):
    write(tmp_path, "b.yaml", "include: [a.yaml]\nservices:\n  b: {image: b}\n")
    f = write(tmp_path, "a.yaml", "include: [b.yaml]\nservices:\n  a: {image: a}\n")
    with pytest.raises(ComposeError, match="include cycle detected: .*a.yaml -> .*b.yaml -> .*a.yaml"):
        load([f])


def test_include_conflicting_service(tmp_path):
    write(tmp_path, "sub/compose.yaml", "services:\n  a: {image: other}\n")
    f = write(tmp_path, "compose.yaml", "include: [sub/compose.yaml]\nservices:\n  a: {image: a}\n")
    with pytest.raises(ComposeError, match="defines conflicting service a"):
        load([f])


def test_include_uses_its_own_env_file(tmp_path):
    write(tmp_path, "sub/.env", "TAG=fromsub\n")
    write(tmp_path, "sub/compose.yaml", "services:\n  s: {image: 'busybox:${TAG}'}\n")
    f = write(tmp_path, "compose.yaml", "include: [sub/compose.yaml]\n")
    assert load([f]).services["s"].image == "busybox:fromsub"
    assert load([f], {"TAG": "os"}).services["s"].image == "busybox:os"


# --- interpolation ---------------------------------------------------------------------------

ENV = {"SET": "value", "EMPTY": ""}
INTERP = [
    ("${SET}", "value"), ("$SET", "value"), ("x${SET}y", "xvaluey"), ("$SET.x", "value.x"),
    ("${UNSET}", ""), ("${UNSET:-def}", "def"), ("${EMPTY:-def}", "def"), ("${EMPTY-def}", ""),
    ("${UNSET-def}", "def"), ("${SET:-def}", "value"), ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"), ("${UNSET+alt}", ""), ("$$SET", "$SET"), ("$${SET}", "${SET}"),
    ("${UNSET:-${SET}}", "value"), ("${UNSET:-${ALSO:-deep}}", "deep"), ("a $ b", "a $ b"),
    ("${UNSET:-a:b}", "a:b"), ("${SET:?err}", "value"), ("${EMPTY?err}", ""), ("100%", "100%"),
]


@pytest.mark.parametrize("text,expected", INTERP)
def test_interpolation_table(text, expected):
    assert substitute(text, ENV.get) == expected


@pytest.mark.parametrize("text,message", [
    ("${UNSET:?you must set it}", "required variable UNSET is missing a value: you must set it"),
    ("${EMPTY:?}", "required variable EMPTY is missing a value"),
    ("${UNSET?gone}", "required variable UNSET is missing a value: gone"),
    ("${", 'Invalid template: "${"'),
    ("${ SET}", 'Invalid template: "${ SET}"'),
    ("${SET:x}", 'Invalid template: "${SET:x}"'),
])
def test_interpolation_errors(text, message):
    with pytest.raises(ComposeError) as exc:
        substitute(text, ENV.get)
    assert str(exc.value) == message


def test_missing_required_variable_names_the_key(tmp_path):
    f = write(tmp_path, "compose.yaml", "services:\n  web:\n    image: ${IMG:?set IMG}\n")
    with pytest.raises(ComposeError) as exc:
        load([f])
    assert str(exc.value) == "error while interpolating services.web.image: required variable IMG is missing a value: set IMG"


def test_unset_variable_warns(tmp_path):
    f = write(tmp_path, "compose.yaml", "services:\n  web:\n    image: busybox${TAG}\n")
    p = load([f])
    assert p.services["web"].image == "busybox"
    assert p.warnings == ['The "TAG" variable is not set. Defaulting to a blank string.']


# --- dotenv fixtures -------------------------------------------------------------------------

DOTENV_EXPECT = {
    "plain.env": {"OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "3", "OPTION_D": "4", "OPTION_E": "5",
                  "456": "ABC", "OPTION_F": "", "OPTION_G": "", "OPTION_H": "my string"},
    "utf8-bom.env": {"OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "3", "OPTION_D": "4", "OPTION_E": "5",
                     "456": "ABC", "OPTION_F": "", "OPTION_G": "", "OPTION_H": "my string"},
    "quoted.env": {"OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "", "OPTION_D": "\\n", "OPTION_E": "1",
                   "OPTION_F": "2", "OPTION_G": "", "OPTION_H": "\n", "OPTION_I": "echo 'asd'",
                   "OPTION_J": "first line\nsecond line\nthird line\nand so on", "OPTION_K": "Let's go!",
                   "OPTION_Z": "last value"},
    "exported.env": {"OPTION_A": "2", "OPTION_B": "\\n"},
    "equals.env": {"OPTION_A": "postgres://localhost:5432/database?sslmode=disable"},
    "unquoted.env": {"OPTION_A": "some quoted phrase", "OPTION_B": "first one with an unquoted phrase",
                     "OPTION_C": "then another one with an unquoted phrase",
                     "OPTION_D": "then another one with an unquoted phrase special è char",
                     "OPTION_E": "then another one quoted phrase"},
    "substitutions.env": {"OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1", "OPTION_D": "1_1", "OPTION_E": ""},
    "substitutions-default.env": {"OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1", "OPTION_D": "1_1",
                                  "OPTION_E": ""},
    "special.env": {"VAR.WITH.DOTS": "dots", "VAR_WITH_UNDERSCORES": "underscores", "VAR-WITH-DASHES": "dashes"},
    "inherited-multi-var.env": {"foo": "bar", "VAR_TO_BE_LOADED_FROM_OS_ENV": "os", "bar": "baz"},
    "inherited-single-var.env": {"VAR_TO_BE_LOADED_FROM_OS_ENV": "os"},
    "inherited-not-found.env": {},
    "custom.format": {"FOO": "BAR", "ZOT": "QIX"},  # yaml-style `KEY: value` lines
}


def test_every_dotenv_fixture_is_covered():
    assert set(os.listdir(DOTENV)) == set(DOTENV_EXPECT) | {"invalid1.env"}


@pytest.mark.parametrize("name", sorted(DOTENV_EXPECT))
def test_dotenv_fixture(name):
    assert read_dotenv(str(DOTENV / name), {"VAR_TO_BE_LOADED_FROM_OS_ENV": "os"}.get) == DOTENV_EXPECT[name]


def test_dotenv_invalid_line_is_an_error_with_its_line():
    with pytest.raises(ComposeError, match="invalid1.env: line 7: key cannot contain a space"):
        read_dotenv(str(DOTENV / "invalid1.env"))


@pytest.mark.parametrize("text,expected", [
    ('FOO="bar\\n\\ b\\az"', {"FOO": "bar\n baz"}),
    ('FOO="foo\\$BAR"', {"FOO": "foo$BAR"}),
    ('FOO=test\nBAR="foo\\${FOO} ${FOO}"', {"FOO": "test", "BAR": "foo${FOO} test"}),
    ("BAR='quote $FOO'", {"BAR": "quote $FOO"}),
    ('FOO="escaped\\"bar"', {"FOO": 'escaped"bar'}),
    ("FOO='bar#baz' # comment", {"FOO": "bar#baz"}),
    ("FOO=bar # comment", {"FOO": "bar"}),
    ("OPTION_A: Foo=bar", {"OPTION_A": "Foo=bar"}),
    ("OPTION_A=1:B", {"OPTION_A": "1:B"}),
    ("export\tOPTION_A=2", {"OPTION_A": "2"}),
    ("export.FOO= 2", {"export.FOO": "2"}),
    ("A=x\nB=${A:-d}${NOPE:-e}", {"A": "x", "B": "xe"}),
])
def test_dotenv_rules(text, expected):
    assert parse_dotenv(text) == expected


@pytest.mark.parametrize("text", ["lol$wut", 'KEY="unterminated\n', "A B=1"])
def test_dotenv_bad_lines(text):
    with pytest.raises(ComposeError):
        parse_dotenv(text)


def test_remote_include_is_refused_clearly(tmp_path):
    f = write(tmp_path, "compose.yaml", "include: [oci://docker.io/x/y:1]\n")
    with pytest.raises(ComposeError, match="include oci://docker.io/x/y:1: remote resources are not supported"):
        load([f])


def test_the_packaged_schema_is_the_shared_one():
    import berth.compose.loader.validate as v

    packaged = Path(v.SCHEMA_PATHS[1]).read_bytes()
    assert packaged == (SPECS_DIR / "compose" / "compose-spec.json").read_bytes()
