"""`berth compose` commands that need no daemon: config, version, help, flag errors."""

from __future__ import annotations

import io
import json
import textwrap

import pytest
import yaml

from berth.cli.command import Cli
from berth.cli.main import dispatch


def run(*args, stdin: str = ""):
    out, err = io.StringIO(), io.StringIO()
    cli = Cli(host="unix:///nonexistent.sock", stdin=io.StringIO(stdin), stdout=out, stderr=err)
    status = dispatch(cli, ["compose", *args])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""
        name: cfg
        services:
          web:
            image: busybox
            command: echo hi
            ports: ["8080:80"]
            volumes: [data:/data]
          db:
            image: busybox
            profiles: [debug]
        volumes: {data: {}}
    """))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_config_prints_the_normalised_model(proj):
    status, out, err = run("config")
    assert status == 0, err
    doc = yaml.safe_load(out)
    assert doc["name"] == "cfg"
    assert list(doc["services"]) == ["web"]
    assert doc["services"]["web"]["command"] == ["echo", "hi"]
    assert doc["services"]["web"]["ports"] == [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}]
    assert doc["networks"] == {"default": {"name": "cfg_default"}}
    assert doc["volumes"] == {"data": {"name": "cfg_data"}}
    assert '      published: "8080"' in out  # strings that read as numbers stay quoted


def test_config_listings_and_json(proj):
    assert run("config", "--services")[1] == "web\n"
    assert run("--profile", "debug", "config", "--services")[1] == "web\ndb\n"
    assert run("config", "--volumes")[1] == "data\n"
    assert run("config", "--profiles")[1] == "debug\n"
    assert run("config", "-q") == (0, "", "")
    status, out, _ = run("config", "--format", "json")
    assert json.loads(out)["services"]["web"]["image"] == "busybox"


def test_global_flags_after_the_subcommand(proj, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("services:\n  x: {image: busybox}\n")
    assert run("config", "--services", "-f", str(other))[1] == "x\n"
    assert run("-p", "given", "config", "--format", "json")[1].count('"name": "given"') == 1


def test_config_from_stdin(proj):
    status, out, err = run("-f", "-", "config", "--services", stdin="services:\n  s: {image: busybox}\n")
    assert (status, out) == (0, "s\n"), err


def test_version():
    status, out, _ = run("version")
    assert status == 0 and out.startswith("Docker Compose version v2.")
    assert run("version", "--short")[1].count(".") == 2


def test_errors_are_printed_plainly_with_status_1(proj):
    status, out, err = run("-f", "missing.yaml", "config")
    assert status == 1 and err == f"open {proj}/missing.yaml: no such file or directory\n"
    status, _, err = run("nosuch")
    assert status == 1 and err == 'unknown docker command: "compose nosuch"\n'
    status, _, err = run("up", "--bogus")
    assert status == 1 and "unknown flag: --bogus" in err
    status, _, err = run("-p", "Bad Name", "config")
    assert status == 1 and 'invalid project name "Bad Name"' in err


def test_up_flag_conflicts_fail_before_touching_the_daemon(proj):
    assert run("up", "--build", "--no-build")[2] == "--build and --no-build are incompatible\n"
    assert run("up", "--force-recreate", "--no-recreate")[2] == "--force-recreate and --no-recreate are incompatible\n"
    assert run("up", "-d", "--abort-on-container-exit")[2] == "-d and --abort-on-container-exit are incompatible\n"
    assert run("up", "--watch")[2] == "--watch is not supported by berth compose\n"


def test_help_lists_subcommands():
    status, out, _ = run()
    assert status == 0 and "  up " in out and "Usage:  berth compose [OPTIONS] COMMAND" in out
    status, out, _ = run("up", "--help")
    assert status == 0 and "--force-recreate" in out


def test_config_escapes_dollars_so_the_output_reloads(tmp_path, monkeypatch):
    (tmp_path / "compose.yaml").write_text("services:\n  s: {image: busybox, command: echo $$HOME}\n")
    monkeypatch.chdir(tmp_path)
    out = run("config")[1]
    assert "- $$HOME" in out
    (tmp_path / "again.yaml").write_text(out)
    assert "- $$HOME" in run("-f", str(tmp_path / "again.yaml"), "config")[1]


def test_config_variables(tmp_path, monkeypatch):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  s: {image: 'busybox:${TAG:-latest}', command: '${CMD:?need} $$LIT ${ALT:+x}'}\n")
    monkeypatch.chdir(tmp_path)
    status, out, err = run("config", "--variables")
    assert status == 0, err
    assert [ln.rstrip() for ln in out.splitlines()] == [
        "NAME   REQUIRED   DEFAULT VALUE   ALTERNATE VALUE",
        "ALT    false                      x",
        "CMD    true",
        "TAG    false      latest",
    ]
    assert run("config", "--no-normalize")[2] == "--no-normalize is not supported by berth compose config\n"
    assert run("--dry-run", "exec", "s", "true")[2] == "--dry-run is not supported by berth compose exec\n"


def test_compose_env_files_variable(tmp_path, monkeypatch):
    (tmp_path / "compose.yaml").write_text("services:\n  s: {image: 'busybox:${TAG}'}\n")
    (tmp_path / "a.env").write_text("TAG=from-a\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAG", raising=False)
    monkeypatch.setenv("COMPOSE_ENV_FILES", str(tmp_path / "a.env"))
    assert run("config", "--images")[1] == "busybox:from-a\n"
