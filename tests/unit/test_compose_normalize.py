"""Compose merge rules, profiles, YAML typing and the normalised model's short syntaxes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from berth.compose.errors import ComposeError
from berth.compose.loader.project import ProjectOptions, load_project
from berth.compose.loader.shortsyntax import duration_ns, parse_port, parse_volume, size_bytes


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text))
    return p


def load(tmp, *texts, environ=None, **kw):
    files = [write(tmp, f"f{i}.yaml", t) for i, t in enumerate(texts)]
    return load_project(ProjectOptions(files=[str(f) for f in files], environ=environ or {}, **kw))


def svc(tmp, *texts, name="web", **kw):
    return load(tmp, *texts, **kw).services[name].config


def test_yaml_12_scalars_stay_strings(tmp_path):
    c = svc(tmp_path, """
        services:
          web:
            image: busybox
            ports: [22:22]
            environment: {A: yes, B: on, C: 0755, D: true}
    """)
    assert c["ports"][0]["published"] == "22" and c["ports"][0]["target"] == 22
    # as go-yaml: a leading zero is octal (compose's `mode: 0440`)
    assert c["environment"] == {"A": "yes", "B": "on", "C": "493", "D": "true"}


def test_anchors_aliases_and_merge_keys(tmp_path):
    p = load(tmp_path, """
        x-common: &common
          image: busybox
          environment: {A: "1", B: "1"}
        services:
          a:
            <<: *common
            environment: {A: "2"}
          b: *common
    """)
    assert p.services["a"].config["environment"] == {"A": "2"}
    assert p.services["b"].config["environment"] == {"A": "1", "B": "1"}
    assert "x-common" in p.to_dict()


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    with pytest.raises(ComposeError) as exc:
        load(tmp_path, "services:\n  web:\n    image: busybox\n   bad: [\n")
    assert "f0.yaml: yaml: line 4, column 4" in str(exc.value)


def test_duplicate_key_is_an_error(tmp_path):
    with pytest.raises(ComposeError, match="line 4, column 5: mapping key 'image' already defined"):
        load(tmp_path, "services:\n  web:\n    image: a\n    image: b\n")


def test_unknown_key_names_file_service_and_key(tmp_path):
    with pytest.raises(ComposeError) as exc:
        load(tmp_path, "services:\n  web:\n    image: busybox\n    imagee: x\n")
    assert str(exc.value) == f"validating {tmp_path}/f0.yaml: services.web Additional property imagee is not allowed"


def test_wrong_type_names_the_path(tmp_path):
    with pytest.raises(ComposeError) as exc:
        load(tmp_path, "services:\n  web:\n    image: busybox\n    ports: [[1]]\n")
    assert str(exc.value).endswith("services.web.ports.0 must be a number or a string or a mapping")


def test_merge_rules_for_override_files(tmp_path):
    c = svc(tmp_path, """
        services:
          web:
            image: busybox
            command: [sleep, "10"]
            environment: [A=1, B=1]
            labels: {l1: a}
            ports: ["8080:80", "9090:90"]
            volumes: ["/a:/data", "/b:/other"]
            dns: [1.1.1.1]
            healthcheck: {test: [CMD, a], interval: 10s}
    """, """
        services:
          web:
            command: sleep 20
            environment: {B: "2", C: "3"}
            labels: [l2=b]
            ports: ["8080:80", "7070:70"]
            volumes: ["/c:/data"]
            dns: [1.1.1.1, 8.8.8.8]
            healthcheck: {test: [CMD, b]}
    """)
    assert c["command"] == ["sleep", "20"]
    assert c["environment"] == {"A": "1", "B": "2", "C": "3"}
    assert c["labels"] == {"l1": "a", "l2": "b"}
    assert [p["published"] for p in c["ports"]] == ["8080", "9090", "7070"]
    assert [(v["source"], v["target"]) for v in c["volumes"]] == [("/c", "/data"), ("/b", "/other")]
    assert c["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert c["healthcheck"] == {"test": ["CMD", "b"], "interval": "10s"}


def test_reset_and_override_tags(tmp_path):
    c = svc(tmp_path, """
        services:
          web:
            image: busybox
            ports: ["8080:80"]
            environment: {A: "1", B: "1"}
    """, """
        services:
          web:
            ports: !reset []
            environment: !override {C: "3"}
    """)
    assert "ports" not in c
    assert c["environment"] == {"C": "3"}


def test_profiles(tmp_path):
    text = """
        services:
          web: {image: busybox}
          debug: {image: busybox, profiles: [debug]}
          tools: {image: busybox, profiles: [tools, debug]}
    """
    assert list(load(tmp_path, text).services) == ["web"]
    assert list(load(tmp_path, text, profiles=["debug"]).services) == ["web", "debug", "tools"]
    assert list(load(tmp_path, text, environ={"COMPOSE_PROFILES": "tools"}).services) == ["web", "tools"]
    assert list(load(tmp_path, text, profiles=["*"]).services) == ["web", "debug", "tools"]
    # naming a service on the command line enables its profiles
    assert list(load(tmp_path, text, services=["tools"]).services) == ["web", "debug", "tools"]


def test_dependency_on_a_disabled_service(tmp_path):
    with pytest.raises(ComposeError, match='service "db" was pulled in as dependency of service "web"'):
        load(tmp_path, """
            services:
              web: {image: busybox, depends_on: [db]}
              db: {image: busybox, profiles: [x]}
        """)


def test_undefined_references(tmp_path):
    cases = [
        ("depends_on: [nope]", 'service "web" depends on undefined service "nope": invalid compose project'),
        ("networks: [nope]", 'service "web" refers to undefined network nope: invalid compose project'),
        ("volumes: ['nope:/x']", 'service "web" refers to undefined volume nope: invalid compose project'),
    ]
    for line, msg in cases:
        with pytest.raises(ComposeError) as exc:
            load(tmp_path, f"services:\n  web:\n    image: busybox\n    {line}\n")
        assert str(exc.value) == msg


def test_short_syntaxes_expand(tmp_path):
    p = load(tmp_path, """
        name: demo
        services:
          web:
            image: busybox
            ports: ["127.0.0.1:8080:80/udp", "3000-3001:4000-4001"]
            volumes: ["./data:/data:ro", "named:/named", "/anon"]
            depends_on: [db]
            environment: [A=1, FROM_ENV, NOT_SET]
            healthcheck: {test: "wget -q localhost", interval: 1m30s, retries: "3"}
            mem_limit: 512m
            deploy: {resources: {limits: {memory: 1g, cpus: "0.5"}}}
            ulimits: {nofile: {soft: 10, hard: 20}, nproc: 5}
            extra_hosts: ["a=1.2.3.4", "b:5.6.7.8"]
            command: echo "hello world"
            privileged: "true"
          db: {build: ./db}
        volumes: {named: {}}
    """, environ={"FROM_ENV": "x"})
    c = p.services["web"].config
    assert c["ports"] == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "udp"},
        {"mode": "ingress", "target": 4000, "published": "3000", "protocol": "tcp"},
        {"mode": "ingress", "target": 4001, "published": "3001", "protocol": "tcp"},
    ]
    assert c["volumes"] == [
        {"type": "bind", "source": str(tmp_path / "data"), "target": "/data", "read_only": True,
         "bind": {"create_host_path": True}},
        {"type": "volume", "source": "named", "target": "/named", "volume": {}},
        {"type": "volume", "target": "/anon"},
    ]
    assert c["depends_on"] == {"db": {"condition": "service_started", "required": True}}
    assert c["environment"] == {"A": "1", "FROM_ENV": "x", "NOT_SET": None}
    assert c["healthcheck"] == {"test": ["CMD-SHELL", "wget -q localhost"], "interval": "1m30s", "retries": 3}
    assert c["mem_limit"] == 512 * 1024 * 1024
    assert c["deploy"]["resources"]["limits"] == {"memory": 1 << 30, "cpus": 0.5}
    assert c["ulimits"] == {"nofile": {"soft": 10, "hard": 20}, "nproc": {"soft": 5, "hard": 5}}
    assert c["extra_hosts"] == ["a:1.2.3.4", "b:5.6.7.8"]
    assert c["command"] == ["echo", "hello world"]
    assert c["privileged"] is True
    assert c["networks"] == {"default": None}
    db = p.services["db"].config
    assert db["build"] == {"context": str(tmp_path / "db"), "dockerfile": "Dockerfile"}
    assert db["image"] == "demo-db"
    assert p.networks["default"].name == "demo_default"
    assert p.volumes["named"].name == "demo_named"


def test_env_file_forms(tmp_path):
    write(tmp_path, "a.env", "A=1\nB=1\n")
    write(tmp_path, "b.env", "B=2\n")
    c = svc(tmp_path, """
        services:
          web:
            image: busybox
            env_file: [a.env, {path: b.env}, {path: missing.env, required: false}]
            environment: {C: "3"}
    """)
    assert c["environment"] == {"A": "1", "B": "2", "C": "3"}
    with pytest.raises(ComposeError, match="missing.env not found"):
        load(tmp_path, "services:\n  web:\n    image: busybox\n    env_file: missing.env\n")


def test_container_name_with_replicas(tmp_path):
    with pytest.raises(ComposeError, match="container name must be unique"):
        load(tmp_path, "services:\n  web:\n    image: busybox\n    container_name: xy\n    scale: 2\n")


def test_missing_file_and_discovery(tmp_path, monkeypatch):
    with pytest.raises(ComposeError, match="no such file or directory"):
        load_project(ProjectOptions(files=[str(tmp_path / "nope.yaml")], environ={}))
    with pytest.raises(ComposeError, match="no configuration file provided: not found"):
        load_project(ProjectOptions(environ={}, cwd=str(tmp_path)))
    write(tmp_path, "docker-compose.yml", "services:\n  web: {image: busybox}\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    p = load_project(ProjectOptions(environ={}, cwd=str(sub)))
    assert p.config_files == [str(tmp_path / "docker-compose.yml")]
    assert p.working_dir == str(tmp_path)


def test_stdin_file(tmp_path):
    p = load_project(ProjectOptions(files=["-"], environ={}, cwd=str(tmp_path),
                                    stdin_text="services:\n  web: {image: busybox}\n"))
    assert list(p.services) == ["web"]


def test_project_directory_option(tmp_path):
    write(tmp_path, "proj/.env", "IMG=fromproj\n")
    f = write(tmp_path, "files/compose.yaml", "services:\n  web: {image: '${IMG}', volumes: ['./d:/d']}\n")
    p = load_project(ProjectOptions(files=[str(f)], environ={}, project_directory=str(tmp_path / "proj")))
    assert p.name == "proj"
    assert p.services["web"].image == "fromproj"
    assert p.services["web"].config["volumes"][0]["source"] == str(tmp_path / "proj/d")


@pytest.mark.parametrize("text,ns", [("1m30s", 90 * 10**9), ("500ms", 5 * 10**8), ("1h", 3600 * 10**9), (10, 10**10)])
def test_durations(text, ns):
    assert duration_ns(text, "x") == ns


def test_bad_short_syntax():
    with pytest.raises(ComposeError):
        duration_ns("10 parsecs", "x")
    with pytest.raises(ComposeError):
        size_bytes("lots", "x")
    with pytest.raises(ComposeError):
        parse_port("1:2:3:4", "x")
    with pytest.raises(ComposeError):
        parse_port("80-79", "x")
    with pytest.raises(ComposeError):
        parse_volume("/a:/b:bogus", "x")


def test_override_file_next_to_the_default_file(tmp_path):
    write(tmp_path, "compose.yaml", "services:\n  web: {image: busybox, environment: {A: '1'}}\n")
    write(tmp_path, "compose.override.yaml", "services:\n  web: {environment: {B: '2'}}\n")
    p = load_project(ProjectOptions(environ={}, cwd=str(tmp_path)))
    assert p.config_files == [str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yaml")]
    assert p.services["web"].config["environment"] == {"A": "1", "B": "2"}
    # an explicit -f leaves the override file alone
    p = load_project(ProjectOptions(files=[str(tmp_path / "compose.yaml")], environ={}))
    assert p.services["web"].config["environment"] == {"A": "1"}
