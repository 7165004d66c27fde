"""docker-compose 1.29 (Debian's, unchanged) drives berthd through DOCKER_HOST:
up -d, ps, logs, down for a two-service project, and berth compose reads the result."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from urllib.parse import quote

import pytest

from harness import SRC, api

pytestmark = [pytest.mark.compat,
              pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")]

COMPOSE = """
version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web ready; exec sleep 1000"]
    stop_signal: SIGKILL
    depends_on: [db]
  db:
    image: busybox
    command: ["sh", "-c", "echo db ready; exec sleep 1000"]
    stop_signal: SIGKILL
"""


def dc(sandbox, d, *args):
    return subprocess.run(["docker-compose", "-p", "x", "-f", str(d / "docker-compose.yml"), *args],
                          env=dict(sandbox.env(), COMPOSE_INTERACTIVE_NO_CLI="1"),
                          capture_output=True, text=True, timeout=120)


def project_containers(sandbox) -> list[dict]:
    filters = quote(json.dumps({"label": ["com.docker.compose.project=x"]}))
    status, rows = api(sandbox, "GET", f"/containers/json?all=1&filters={filters}")
    assert status == 200
    return rows


def test_docker_compose_v1_up_ps_logs_down(sandbox, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    r = dc(sandbox, tmp_path, "up", "-d")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Creating x_db_1" in r.stderr and "Creating x_web_1" in r.stderr
    rows = project_containers(sandbox)
    assert sorted(c["Names"][0] for c in rows) == ["/x_db_1", "/x_web_1"]
    assert all(c["State"] == "running" for c in rows)

    r = dc(sandbox, tmp_path, "ps")
    assert r.returncode == 0, r.stderr
    assert "x_db_1" in r.stdout and "x_web_1" in r.stdout and r.stdout.count(" Up ") == 2

    r = dc(sandbox, tmp_path, "logs", "--no-color")
    assert r.returncode == 0, r.stderr
    assert "db ready" in r.stdout and "web ready" in r.stdout

    # berth compose sees the same project through the shared labels
    b = subprocess.run([sys.executable, "-m", "berth.cli.main", "compose", "-p", "x", "-f",
                        str(tmp_path / "docker-compose.yml"), "ps", "--services"],
                       env=dict(sandbox.env(), PYTHONPATH=SRC), capture_output=True, text=True, timeout=60)
    assert b.stdout.split() == ["db", "web"], b.stderr
    # and would take it over: v1's hash is not berth's, so each container is recreated (dry run here)
    b = subprocess.run([sys.executable, "-m", "berth.cli.main", "compose", "-p", "x", "-f",
                        str(tmp_path / "docker-compose.yml"), "up", "-d", "--dry-run"],
                       env=dict(sandbox.env(), PYTHONPATH=SRC), capture_output=True, text=True, timeout=60)
    assert b.stdout.splitlines() == ["recreate db: config hash changed", "recreate web: config hash changed"], b.stderr

    r = dc(sandbox, tmp_path, "down")
    assert r.returncode == 0, r.stderr
    assert project_containers(sandbox) == []
    status, nets = api(sandbox, "GET", "/networks")
    assert "x_default" not in [n["Name"] for n in nets]
