"""berth compose with the builder: `up -d --build`, `build`, `up -d --force-recreate --build`,
a changed Dockerfile recreating its service only, and `down --rmi local`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest

from harness import SRC, api

pytestmark = pytest.mark.integration


def compose(sandbox, d: Path, *args):
    return subprocess.run([sys.executable, "-m", "berth.cli.main", "compose", "-p", "bld",
                           "-f", str(d / "compose.yaml"), *args],
                          env=dict(sandbox.env(), PYTHONPATH=SRC), capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)


def by_service(sandbox) -> dict[str, dict]:
    filters = quote(json.dumps({"label": ["com.docker.compose.project=bld"]}))
    status, rows = api(sandbox, "GET", f"/containers/json?all=1&filters={filters}")
    return {c["Labels"]["com.docker.compose.service"]: c for c in rows}


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    d = tmp_path_factory.mktemp("bld")
    (d / "app").mkdir()
    (d / "app/Dockerfile").write_text("FROM busybox\nARG WORD=plain\nRUN echo $WORD > /word\nCMD cat /word; exec sleep 1000\n")
    (d / "compose.yaml").write_text(textwrap.dedent("""
        services:
          app:
            build: {context: ./app, args: {WORD: built}}
            stop_signal: SIGKILL
          side:
            image: busybox
            command: [sleep, "1000"]
            stop_signal: SIGKILL
    """))
    return d


def test_up_build_runs_the_built_image(sandbox, proj):
    r = compose(sandbox, proj, "up", "-d", "--build")
    assert r.returncode == 0, r.stderr
    assert " Service app  Built" in r.stderr.splitlines()
    status, image = api(sandbox, "GET", "/images/bld-app/json")
    assert status == 200
    cs = by_service(sandbox)
    assert cs["app"]["Image"] == "bld-app"
    r = compose(sandbox, proj, "logs", "--no-log-prefix", "app")
    assert r.stdout == "built\n"


def test_build_alone_then_up_recreates_nothing_for_the_same_image(sandbox, proj):
    before = by_service(sandbox)
    r = compose(sandbox, proj, "build")
    assert r.returncode == 0, r.stderr
    r = compose(sandbox, proj, "up", "-d", "--dry-run")
    assert r.stdout.splitlines() == ["nothing app: up to date", "nothing side: up to date"], r.stderr
    r = compose(sandbox, proj, "up", "-d", "--force-recreate", "--build")
    assert r.returncode == 0, r.stderr
    after = by_service(sandbox)
    assert after["app"]["Id"] != before["app"]["Id"] and after["side"]["Id"] != before["side"]["Id"]


def test_changed_dockerfile_recreates_its_service_only(sandbox, proj):
    before = by_service(sandbox)
    (proj / "app/Dockerfile").write_text("FROM busybox\nRUN echo changed > /word\nCMD cat /word; exec sleep 1000\n")
    r = compose(sandbox, proj, "up", "-d", "--build")
    assert r.returncode == 0, r.stderr
    assert any(ln.startswith(" Container bld-app-1  Recreate (image bld-app changed") for ln in r.stderr.splitlines()), r.stderr
    after = by_service(sandbox)
    assert after["side"]["Id"] == before["side"]["Id"]
    assert compose(sandbox, proj, "logs", "--no-log-prefix", "app").stdout == "changed\n"


def test_seed_lifecycle_on_the_built_project(sandbox, proj):
    """The seed's list on one project: ps, logs, stop, start, rm after the builds above."""
    r = compose(sandbox, proj, "ps", "--services")
    assert r.stdout.split() == ["app", "side"], r.stderr
    assert compose(sandbox, proj, "logs", "app").stdout == "app-1  | changed\n"
    assert compose(sandbox, proj, "stop").returncode == 0
    assert compose(sandbox, proj, "ps", "-q").stdout == ""
    assert compose(sandbox, proj, "start").returncode == 0
    assert len(compose(sandbox, proj, "ps", "-q").stdout.split()) == 2
    r = compose(sandbox, proj, "rm", "-s", "-f", "side")
    assert r.returncode == 0 and " Container bld-side-1  Removed" in r.stderr.splitlines(), r.stderr
    assert set(by_service(sandbox)) == {"app"}


def test_down_rmi_local_removes_the_built_image(sandbox, proj):
    r = compose(sandbox, proj, "down", "--rmi", "local")
    assert r.returncode == 0, r.stderr
    assert api(sandbox, "GET", "/images/bld-app/json")[0] == 404
    assert api(sandbox, "GET", "/images/busybox/json")[0] == 200


@pytest.mark.skipif(__import__("shutil").which("docker-registry") is None, reason="docker-registry not installed")
def test_push_sends_built_images_to_their_registry(sandbox, tmp_path):
    import os

    from test_pull_push_util import start_registry

    root = start_registry(sandbox, 5077)
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo pushed > /p\n")
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""
        services:
          app:
            build: .
            image: 127.0.0.1:5077/compose/app:1
          plain:
            image: busybox
    """))
    r = compose(sandbox, tmp_path, "build")
    assert r.returncode == 0, r.stderr
    r = compose(sandbox, tmp_path, "push")
    assert r.returncode == 0, r.stderr
    tags = os.path.join(root, "data/docker/registry/v2/repositories/compose/app/_manifests/tags")
    assert os.listdir(tags) == ["1"]
    # busybox has no build section: compose push leaves it alone
    assert not os.path.exists(os.path.join(root, "data/docker/registry/v2/repositories/library"))
    # and pull brings the pushed image back
    assert api(sandbox, "DELETE", "/images/127.0.0.1:5077/compose/app:1")[0] == 200
    r = compose(sandbox, tmp_path, "pull", "app")
    assert r.returncode == 0, r.stderr
    assert " Image 127.0.0.1:5077/compose/app:1  Pulled" in r.stderr.splitlines()
    assert api(sandbox, "GET", "/images/127.0.0.1:5077/compose/app:1/json")[0] == 200
