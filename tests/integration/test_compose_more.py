"""berth compose beyond the basic lifecycle: service-name DNS, foreground up with
--exit-code-from, run/exec, dependency conditions, scale, --wait failures, orphans, build."""

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


def compose(sandbox, d: Path, *args, name: str = "more", timeout: float = 120, env: dict | None = None):
    (d / "compose.yaml").exists() or pytest.fail("no compose.yaml")
    return subprocess.run([sys.executable, "-m", "berth.cli.main", "compose", "-p", name,
                           "-f", str(d / "compose.yaml"), *args],
                          env=dict(sandbox.env(), PYTHONPATH=SRC, **(env or {})), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def write(d: Path, text: str) -> Path:
    (d / "compose.yaml").write_text(textwrap.dedent(text))
    return d


def project_containers(sandbox, name: str) -> list[dict]:
    filters = quote(json.dumps({"label": [f"com.docker.compose.project={name}"]}))
    status, rows = api(sandbox, "GET", f"/containers/json?all=1&filters={filters}")
    assert status == 200
    return rows


@pytest.fixture
def down(sandbox):
    made: list[tuple[Path, str]] = []
    yield made
    for d, name in made:
        compose(sandbox, d, "down", "-v", name=name)


def test_services_reach_each_other_by_name(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          server: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
          client: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
    """)
    down.append((d, "more"))
    r = compose(sandbox, d, "up", "-d")
    assert r.returncode == 0, r.stderr
    r = compose(sandbox, d, "exec", "-T", "client", "ping", "-c", "1", "-W", "2", "server")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 packets received" in r.stdout


def test_foreground_up_exit_code_from(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          job: {image: busybox, command: ["sh", "-c", "echo job done; exit 3"]}
          srv: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
    """)
    down.append((d, "fg"))
    r = compose(sandbox, d, "up", "--exit-code-from", "job", name="fg")
    assert r.returncode == 3, r.stderr
    assert "Attaching to job-1, srv-1" in r.stdout
    assert "job-1  | job done" in r.stdout
    assert "job-1 exited with code 3" in r.stdout
    assert all(c["State"] == "exited" for c in project_containers(sandbox, "fg"))


def test_run_rm_and_exec(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          app:
            image: busybox
            command: [sleep, "1000"]
            environment: {GREETING: hello}
            stop_signal: SIGKILL
    """)
    down.append((d, "runexec"))
    r = compose(sandbox, d, "run", "--rm", "app", "sh", "-c", "echo $GREETING from run", name="runexec")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from run\n"
    assert project_containers(sandbox, "runexec") == []
    r = compose(sandbox, d, "run", "--rm", "app", "sh", "-c", "exit 7", name="runexec")
    assert r.returncode == 7
    r = compose(sandbox, d, "up", "-d", name="runexec")
    assert r.returncode == 0, r.stderr
    r = compose(sandbox, d, "exec", "-T", "-e", "X=1", "app", "sh", "-c", "echo $GREETING $X", name="runexec")
    assert (r.returncode, r.stdout) == (0, "hello 1\n"), r.stderr
    r = compose(sandbox, d, "exec", "-T", "nope", "true", name="runexec")
    assert r.returncode == 1 and "no such service: nope" in r.stderr


def test_dependency_conditions(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          init: {image: busybox, command: ["sh", "-c", "echo seeded > /shared/seed"], volumes: ["shared:/shared"]}
          db:
            image: busybox
            command: [sleep, "1000"]
            stop_signal: SIGKILL
            healthcheck: {test: ["CMD", "true"], interval: 1s, start_period: 0s, start_interval: 200ms}
          app:
            image: busybox
            command: ["sh", "-c", "cat /shared/seed; exec sleep 1000"]
            stop_signal: SIGKILL
            volumes: ["shared:/shared"]
            depends_on:
              init: {condition: service_completed_successfully}
              db: {condition: service_healthy}
        volumes: {shared: {}}
    """)
    down.append((d, "deps"))
    r = compose(sandbox, d, "up", "-d", name="deps")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert " Container deps-db-1  Healthy" in lines
    assert " Container deps-init-1  Exited" in lines
    assert lines.index(" Container deps-db-1  Healthy") < lines.index(" Container deps-app-1  Starting")
    r = compose(sandbox, d, "logs", "--no-log-prefix", "app", name="deps")
    assert r.stdout == "seeded\n"


def test_failed_dependency_stops_up(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          init: {image: busybox, command: ["sh", "-c", "exit 2"]}
          app:
            image: busybox
            command: [sleep, "1000"]
            depends_on: {init: {condition: service_completed_successfully}}
    """)
    down.append((d, "faildep"))
    r = compose(sandbox, d, "up", "-d", name="faildep")
    assert r.returncode == 1
    assert 'service "init" didn\'t complete successfully: exit 2' in r.stderr
    names = [c["Names"][0] for c in project_containers(sandbox, "faildep")]
    assert names == ["/faildep-init-1"]


def test_wait_reports_an_unhealthy_service(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          sick:
            image: busybox
            command: [sleep, "1000"]
            stop_signal: SIGKILL
            healthcheck: {test: ["CMD", "false"], interval: 200ms, retries: 1}
    """)
    down.append((d, "sick"))
    r = compose(sandbox, d, "up", "-d", "--wait", "--wait-timeout", "30", name="sick")
    assert r.returncode == 1
    assert "container sick-sick-1 is unhealthy" in r.stderr


def test_scale_up_and_down_and_orphans(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          w: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
          old: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
    """)
    down.append((d, "scale"))
    r = compose(sandbox, d, "up", "-d", "--scale", "w=3", name="scale")
    assert r.returncode == 0, r.stderr
    names = sorted(c["Names"][0] for c in project_containers(sandbox, "scale"))
    assert names == ["/scale-old-1", "/scale-w-1", "/scale-w-2", "/scale-w-3"]
    write(d, """
        services:
          w: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
    """)
    r = compose(sandbox, d, "up", "-d", name="scale")
    assert r.returncode == 0, r.stderr
    assert "Found orphan containers ([scale-old-1])" in r.stderr
    names = sorted(c["Names"][0] for c in project_containers(sandbox, "scale"))
    assert names == ["/scale-old-1", "/scale-w-1"]
    r = compose(sandbox, d, "up", "-d", "--remove-orphans", name="scale")
    assert r.returncode == 0, r.stderr
    assert sorted(c["Names"][0] for c in project_containers(sandbox, "scale")) == ["/scale-w-1"]
    r = compose(sandbox, d, "scale", "w=2", name="scale")
    assert r.returncode == 0, r.stderr
    assert sorted(c["Names"][0] for c in project_containers(sandbox, "scale")) == ["/scale-w-1", "/scale-w-2"]


def test_port_in_use_leaves_nothing_half_made(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          a: {image: busybox, command: [sleep, "1000"], ports: ["18080:80"], stop_signal: SIGKILL}
    """)
    down.append((d, "porta"))
    r = compose(sandbox, d, "up", "-d", name="porta")
    assert r.returncode == 0, r.stderr
    d2 = tmp_path / "b"
    d2.mkdir()
    write(d2, """
        services:
          b: {image: busybox, command: [sleep, "1000"], ports: ["18080:80"]}
    """)
    down.append((d2, "portb"))
    r = compose(sandbox, d2, "up", "-d", name="portb")
    assert r.returncode == 1
    assert "Error response from daemon" in r.stderr and "18080" in r.stderr
    assert project_containers(sandbox, "portb") == []
    status, nets = api(sandbox, "GET", "/networks")
    assert "portb_default" not in [n["Name"] for n in nets]  # the failed first up took its network back


def test_restart_and_rm(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          r: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
    """)
    down.append((d, "rr"))
    assert compose(sandbox, d, "up", "-d", name="rr").returncode == 0
    before = project_containers(sandbox, "rr")[0]["Id"]
    status, info = api(sandbox, "GET", f"/containers/{before}/json")
    r = compose(sandbox, d, "restart", name="rr")
    assert r.returncode == 0, r.stderr
    status, info2 = api(sandbox, "GET", f"/containers/{before}/json")
    assert info2["State"]["StartedAt"] != info["State"]["StartedAt"] and info2["State"]["Running"]
    r = compose(sandbox, d, "rm", "-f", name="rr")
    assert "No stopped containers" in r.stderr
    r = compose(sandbox, d, "rm", "-f", "-s", name="rr")
    assert r.returncode == 0, r.stderr
    assert project_containers(sandbox, "rr") == []


def test_secrets_configs_and_container_options(sandbox, tmp_path, down):
    (tmp_path / "s.txt").write_text("s3cret")
    (tmp_path / "c.txt").write_text("conf")
    d = write(tmp_path, """
        services:
          app:
            image: busybox
            read_only: true
            tmpfs: [/scratch]
            user: "1000:1000"
            working_dir: /scratch
            hostname: apphost
            init: true
            cap_drop: [ALL]
            labels: {team: core}
            secrets: [token]
            configs: [{source: settings, target: /etc/settings.txt}]
            command: ["sh", "-c", "cat /run/secrets/token /etc/settings.txt; echo; id -u; pwd; hostname; touch /x 2>/dev/null || echo ro; touch ok && echo tmpfs"]
          injected:
            image: busybox
            secrets: [{source: fromenv, target: envtoken, mode: 0400}]
            configs: [{source: inline, target: /etc/inline.txt}]
            command: ["sh", "-c", "cat /run/secrets/envtoken /etc/inline.txt; echo; stat -c %a /run/secrets/envtoken"]
        secrets: {token: {file: ./s.txt}, fromenv: {environment: SECRET_VAR}}
        configs: {settings: {file: ./c.txt}, inline: {content: "-inline"}}
    """)
    down.append((d, "opts"))
    r = compose(sandbox, d, "run", "--rm", "-T", "app", name="opts", env={"SECRET_VAR": "-env"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["s3cretconf", "1000", "/scratch", "apphost", "ro", "tmpfs"]
    r = compose(sandbox, d, "run", "--rm", "-T", "injected", name="opts", env={"SECRET_VAR": "from-env"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["from-env-inline", "400"]
    r = compose(sandbox, d, "run", "--rm", "-T", "injected", name="opts")
    assert r.returncode == 1 and 'environment variable SECRET_VAR for secret "fromenv" is not set' in r.stderr


def test_small_verbs_and_listing(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          v:
            image: busybox
            command: [sleep, "1000"]
            ports: ["127.0.0.1:18099:80"]
            stop_signal: SIGKILL
            healthcheck: {test: ["CMD", "true"], interval: 1s, start_interval: 200ms, start_period: 0s}
    """)
    down.append((d, "verbs"))
    r = compose(sandbox, d, "up", "-d", "--wait", name="verbs")
    assert r.returncode == 0, r.stderr
    assert " Container verbs-v-1  Healthy" in r.stderr.splitlines()
    assert compose(sandbox, d, "port", "v", "80", name="verbs").stdout == "127.0.0.1:18099\n"
    stats = compose(sandbox, d, "stats", "--no-stream", "--format", "{{.Name}}", name="verbs")
    assert stats.stdout == "verbs-v-1\n", stats.stderr
    top = compose(sandbox, d, "top", name="verbs").stdout
    assert top.startswith("verbs-v-1\n") and "sleep 1000" in top
    images = compose(sandbox, d, "images", name="verbs").stdout.splitlines()
    assert images[0].split()[:3] == ["CONTAINER", "REPOSITORY", "TAG"] and images[1].split()[:3] == ["verbs-v-1", "busybox", "latest"]
    ls = compose(sandbox, d, "ls", name="verbs").stdout
    assert any(ln.split()[:2] == ["verbs", "running(1)"] for ln in ls.splitlines())
    assert compose(sandbox, d, "pause", name="verbs").returncode == 0
    assert compose(sandbox, d, "ps", "--status", "paused", "-q", name="verbs").stdout.strip()
    assert compose(sandbox, d, "unpause", name="verbs").returncode == 0
    r = compose(sandbox, d, "kill", name="verbs")
    assert " Container verbs-v-1  Killed" in r.stderr.splitlines()
    assert compose(sandbox, d, "ps", "--status", "exited", "--services", name="verbs").stdout == "v\n"
    # only -p: the project is found by its labels, no compose file needed
    r = subprocess.run([sys.executable, "-m", "berth.cli.main", "compose", "-p", "verbs", "ps", "-a", "--services"],
                       env=dict(sandbox.env(), PYTHONPATH=SRC), capture_output=True, text=True, timeout=60,
                       cwd="/", stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (0, "v\n"), r.stderr
    r = subprocess.run([sys.executable, "-m", "berth.cli.main", "compose", "-p", "verbs", "down"],
                       env=dict(sandbox.env(), PYTHONPATH=SRC), capture_output=True, text=True, timeout=60,
                       cwd="/", stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert project_containers(sandbox, "verbs") == []


def test_recreate_keeps_anonymous_and_named_volume_data(sandbox, tmp_path, down):
    text = """
        services:
          keep:
            image: busybox
            command: ["sh", "-c", "echo $$V >> /anon/log; echo $$V >> /named/log; exec sleep 1000"]
            environment: {V: "%s"}
            volumes: ["/anon", "named:/named"]
            stop_signal: SIGKILL
        volumes: {named: {}}
    """
    d = write(tmp_path, text % "first")
    down.append((d, "keep"))
    assert compose(sandbox, d, "up", "-d", name="keep").returncode == 0
    write(d, text % "second")
    r = compose(sandbox, d, "up", "-d", name="keep")
    assert " Container keep-keep-1  Recreate (environment.V changed)" in r.stderr.splitlines(), r.stderr
    r = compose(sandbox, d, "exec", "-T", "keep", "cat", "/anon/log", "/named/log", name="keep")
    assert r.stdout == "first\nsecond\nfirst\nsecond\n", r.stderr
    # -V: a fresh anonymous volume on recreate (the named one keeps its data)
    write(d, text % "third")
    assert compose(sandbox, d, "up", "-d", "-V", name="keep").returncode == 0
    r = compose(sandbox, d, "exec", "-T", "keep", "cat", "/anon/log", "/named/log", name="keep")
    assert r.stdout == "third\nfirst\nsecond\nthird\n", r.stderr


def test_create_cp_wait_events(sandbox, tmp_path, down):
    import time

    d = write(tmp_path, """
        services:
          w: {image: busybox, command: ["sh", "-c", "sleep 1; cat /in.txt; exit 4"]}
    """)
    down.append((d, "cpw"))
    began = int(time.time()) - 1
    r = compose(sandbox, d, "create", name="cpw")
    assert r.returncode == 0 and " Container cpw-w-1  Created" in r.stderr.splitlines(), r.stderr
    rows = project_containers(sandbox, "cpw")
    assert [c["State"] for c in rows] == ["created"]
    (tmp_path / "in.txt").write_text("copied in\n")
    r = compose(sandbox, d, "cp", str(tmp_path / "in.txt"), "w:/in.txt", name="cpw")
    assert r.returncode == 0, r.stderr
    assert compose(sandbox, d, "start", name="cpw").returncode == 0
    r = compose(sandbox, d, "wait", "w", name="cpw")
    assert r.returncode == 4, r.stderr
    assert compose(sandbox, d, "logs", "--no-log-prefix", name="cpw").stdout == "copied in\n"
    r = compose(sandbox, d, "cp", "w:/in.txt", str(tmp_path / "out.txt"), name="cpw")
    assert r.returncode == 0 and (tmp_path / "out.txt").read_text() == "copied in\n", r.stderr
    r = compose(sandbox, d, "commit", "w", "cpw-snapshot:1", name="cpw")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    assert api(sandbox, "GET", "/images/cpw-snapshot:1/json")[0] == 200
    r = compose(sandbox, d, "export", "-o", str(tmp_path / "fs.tar"), "w", name="cpw")
    assert r.returncode == 0 and (tmp_path / "fs.tar").stat().st_size > 100000, r.stderr
    r = compose(sandbox, d, "events", "--json", "--since", str(began), "--until", str(int(time.time()) + 1), name="cpw")
    actions = [json.loads(ln)["action"] for ln in r.stdout.splitlines()]
    assert "create" in actions and "start" in actions and "die" in actions, r.stdout + r.stderr


def test_network_mode_service_shares_the_network_namespace(sandbox, tmp_path, down):
    d = write(tmp_path, """
        services:
          net: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL}
          side: {image: busybox, command: [sleep, "1000"], stop_signal: SIGKILL, network_mode: "service:net"}
    """)
    down.append((d, "nsshare"))
    r = compose(sandbox, d, "up", "-d", name="nsshare")
    assert r.returncode == 0, r.stderr
    a = compose(sandbox, d, "exec", "-T", "net", "readlink", "/proc/self/ns/net", name="nsshare").stdout
    b = compose(sandbox, d, "exec", "-T", "side", "readlink", "/proc/self/ns/net", name="nsshare").stdout
    assert a.startswith("net:[") and a == b
