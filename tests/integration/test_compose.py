"""berth compose against a sandboxed berthd: the lifecycle of a two-service project,
convergence (an unchanged `up` touches nothing, a changed service alone is recreated, with
its reason), and the bad inputs that must fail cleanly."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from harness import api

pytestmark = pytest.mark.integration

COMPOSE = """
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web says $$MODE; exec sleep 1000"]
    environment:
      MODE: ${MODE:-one}
    depends_on: [db]
    stop_grace_period: 1s
  db:
    image: busybox
    command: ["sh", "-c", "echo hello from db; exec sleep 1000"]
    volumes: ["data:/data"]
    stop_signal: SIGKILL
volumes:
  data: {}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = tmp_path_factory.mktemp("proj")
    (d / "compose.yaml").write_text(COMPOSE)
    return d


def compose(sandbox, project: Path, *args, env: dict | None = None, input=None):
    import subprocess
    import sys

    full_env = dict(sandbox.env(), **(env or {}))
    full_env.pop("MODE", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "berth.cli.main", "compose", "-p", "demo",
                           "-f", str(project / "compose.yaml"), *args],
                          env=full_env, capture_output=True, text=True, timeout=120, input=input)


def containers(sandbox) -> dict[str, dict]:
    filters = json.dumps({"label": ["com.docker.compose.project=demo"]})
    from urllib.parse import quote

    status, rows = api(sandbox, "GET", f"/containers/json?all=1&filters={quote(filters)}")
    assert status == 200
    out = {}
    for c in rows:
        status, info = api(sandbox, "GET", f"/containers/{c['Id']}/json")
        out[c["Labels"]["com.docker.compose.service"]] = info
    return out


def test_up_detached_creates_and_starts_in_dependency_order(sandbox, project):
    r = compose(sandbox, project, "up", "-d")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert " Container demo-db-1  Started" in lines
    assert " Container demo-web-1  Started" in lines
    assert lines.index(" Container demo-db-1  Started") < lines.index(" Container demo-web-1  Starting")
    cs = containers(sandbox)
    assert set(cs) == {"web", "db"}
    web = cs["web"]
    assert web["Name"] == "/demo-web-1"
    labels = web["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == "demo"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.depends_on"] == "db:service_started:false"
    assert labels["com.docker.compose.project.config_files"] == str(project / "compose.yaml")
    assert "MODE=one" in web["Config"]["Env"]
    assert all(c["State"]["Running"] for c in cs.values())
    # named volume <project>_<volume>, mounted into db
    mounts = cs["db"]["Mounts"]
    assert [m.get("Name") for m in mounts if m.get("Type") == "volume"] == ["demo_data"]


def test_ps_lists_the_services(sandbox, project):
    r = compose(sandbox, project, "ps")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert [ln.split()[0] for ln in lines[1:]] == ["demo-db-1", "demo-web-1"]
    assert "Up" in lines[1]
    r = compose(sandbox, project, "ps", "--services")
    assert r.stdout.split() == ["db", "web"]
    r = compose(sandbox, project, "ps", "-q")
    assert len(r.stdout.split()) == 2
    r = compose(sandbox, project, "ps", "--format", "json")
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert {row["Service"] for row in rows} == {"db", "web"} and rows[0]["State"] == "running"


def test_logs_have_prefixes(sandbox, project):
    r = compose(sandbox, project, "logs")
    assert r.returncode == 0, r.stderr
    assert "db-1   | hello from db" in r.stdout.splitlines()
    assert "web-1  | web says one" in r.stdout.splitlines()
    r = compose(sandbox, project, "logs", "--no-log-prefix", "db")
    assert r.stdout == "hello from db\n"


def test_stop_then_start(sandbox, project):
    r = compose(sandbox, project, "stop")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines.index(" Container demo-web-1  Stopped") < lines.index(" Container demo-db-1  Stopping")
    assert not any(c["State"]["Running"] for c in containers(sandbox).values())
    r = compose(sandbox, project, "ps")
    assert len(r.stdout.splitlines()) == 1
    r = compose(sandbox, project, "start")
    assert r.returncode == 0, r.stderr
    assert all(c["State"]["Running"] for c in containers(sandbox).values())


def test_unchanged_up_touches_nothing(sandbox, project):
    before = containers(sandbox)
    r = compose(sandbox, project, "up", "-d")
    assert r.returncode == 0, r.stderr
    assert " Container demo-web-1  Running" in r.stderr.splitlines()
    after = containers(sandbox)
    for svc in ("web", "db"):
        assert after[svc]["Id"] == before[svc]["Id"]
        assert after[svc]["State"]["StartedAt"] == before[svc]["State"]["StartedAt"]
    r = compose(sandbox, project, "up", "-d", "--dry-run")
    assert r.stdout.splitlines() == ["nothing db: up to date", "nothing web: up to date"]


def test_changed_environment_recreates_only_that_service(sandbox, project):
    before = containers(sandbox)
    r = compose(sandbox, project, "up", "-d", "--dry-run", env={"MODE": "two"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["nothing db: up to date", "recreate web: environment.MODE changed"]
    assert containers(sandbox)["web"]["Id"] == before["web"]["Id"]  # dry run changed nothing
    r = compose(sandbox, project, "up", "-d", env={"MODE": "two"})
    assert r.returncode == 0, r.stderr
    assert " Container demo-web-1  Recreate (environment.MODE changed)" in r.stderr.splitlines()
    after = containers(sandbox)
    assert after["db"]["Id"] == before["db"]["Id"]
    assert after["db"]["State"]["StartedAt"] == before["db"]["State"]["StartedAt"]
    assert after["web"]["Id"] != before["web"]["Id"]
    assert "MODE=two" in after["web"]["Config"]["Env"]
    assert after["web"]["Name"] == "/demo-web-1"


def test_down_removes_containers_keeps_volume_then_down_v(sandbox, project):
    r = compose(sandbox, project, "--dry-run", "down")
    assert r.returncode == 0, r.stderr
    assert "DRY-RUN MODE -  Container demo-web-1  Removed" in r.stderr.splitlines()
    assert set(containers(sandbox)) == {"web", "db"}  # a dry run removes nothing
    r = compose(sandbox, project, "down")
    assert r.returncode == 0, r.stderr
    assert containers(sandbox) == {}
    status, vol = api(sandbox, "GET", "/volumes/demo_data")
    assert status == 200, vol  # named volumes survive a plain down
    r = compose(sandbox, project, "up", "-d")
    assert r.returncode == 0, r.stderr
    r = compose(sandbox, project, "down", "-v")
    assert r.returncode == 0, r.stderr
    assert containers(sandbox) == {}
    status, _ = api(sandbox, "GET", "/volumes/demo_data")
    assert status == 404


# --- bad input: a clear message, a non-zero exit, nothing created -------------------------

BAD = {
    "missing_file": (None, "no such file or directory"),
    "yaml_error": ("services:\n  web:\n    image: busybox\n   oops: [\n", "yaml: line 4, column 4"),
    "unknown_key": ("services:\n  web:\n    image: busybox\n    imagee: x\n",
                    "services.web Additional property imagee is not allowed"),
    "cycle": ("services:\n  a: {image: busybox, depends_on: [b]}\n  b: {image: busybox, depends_on: [a]}\n",
              "dependency cycle detected: a -> b -> a"),
    "missing_variable": ("services:\n  web:\n    image: ${IMAGE:?IMAGE must be set}\n",
                         "required variable IMAGE is missing a value: IMAGE must be set"),
    "extends_loop": ("services:\n  a: {extends: b, image: busybox}\n  b: {extends: a}\n",
                     "circular reference with extends"),
    "include_loop": ("include: [compose.yaml]\nservices:\n  a: {image: busybox}\n", "include cycle detected"),
    "image_never_pulled": ("services:\n  a: {image: nosuchimage, pull_policy: never}\n",
                           "No such image: nosuchimage (service a has pull_policy: never)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_fails_cleanly(sandbox, tmp_path, case):
    text, message = BAD[case]
    if text is not None:
        (tmp_path / "compose.yaml").write_text(textwrap.dedent(text))
    r = compose(sandbox, tmp_path, "up", "-d")
    assert r.returncode == 1
    assert message in r.stderr
    assert containers(sandbox) == {}
