"""Convergence decisions and the create body, as pure functions over a loaded project."""

from __future__ import annotations

import json
import textwrap


from berth.compose import engine as L
from berth.compose.convergence import Converger, UpOptions, diff_paths
from berth.compose.create_body import config_hash, create_body, hashed_config, labels
from berth.compose.loader.project import ProjectOptions, load_project
from berth.compose.progress import Progress

IMAGE_ID = "sha256:" + "a" * 64


def project(tmp_path, text, environ=None):
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(text))
    return load_project(ProjectOptions(files=[str(tmp_path / "compose.yaml")], environ=environ or {}))


BASE = """
    name: p
    services:
      web:
        image: busybox
        environment: {MODE: "${MODE:-a}"}
        ports: ["127.0.0.1:8080:80/udp"]
        volumes: ["data:/data:ro", "./src:/src"]
        healthcheck: {test: "true", interval: 1m30s, retries: 2}
        mem_limit: 64m
        ulimits: {nofile: 1024}
        restart: on-failure:3
        depends_on: [db]
        networks: {back: {aliases: [w]}, front: {priority: 10}}
      db: {image: busybox, scale: 2}
    networks: {back: {}, front: {}}
    volumes: {data: {}}
"""


def existing(p, name, number, state="running", image=IMAGE_ID):
    svc = p.services[name]
    return {"Id": f"{name}{number}" + "0" * 60, "Names": [f"/p-{name}-{number}"], "State": state,
            "Labels": labels(p, svc, number, image, config_hash(svc))}


def conv(p):
    return Converger(p, engine=None, progress=Progress(mode="quiet"))  # type: ignore[arg-type]


def test_diff_paths():
    assert diff_paths({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}) == ["a.c changed"]
    assert diff_paths({"a": 1}, {"b": 1}) == ["a removed", "b added"]
    assert diff_paths([1], [1]) == []


def test_unchanged_running_container_needs_nothing(tmp_path):
    p = project(tmp_path, BASE)
    acts = conv(p).plan_service(p.services["web"], [existing(p, "web", 1)], UpOptions(), IMAGE_ID)
    assert [(a.kind, a.reason) for a in acts] == [("nothing", "up to date")]


def test_stopped_container_is_started(tmp_path):
    p = project(tmp_path, BASE)
    acts = conv(p).plan_service(p.services["web"], [existing(p, "web", 1, "exited")], UpOptions(), IMAGE_ID)
    assert [(a.kind, a.reason) for a in acts] == [("start", "container is exited")]


def test_changed_environment_is_the_reason(tmp_path):
    old = project(tmp_path, BASE)
    c = existing(old, "web", 1)
    new = project(tmp_path, BASE, {"MODE": "b"})
    acts = conv(new).plan_service(new.services["web"], [c], UpOptions(), IMAGE_ID)
    assert [(a.kind, a.describe()) for a in acts] == [("recreate", "recreate web: environment.MODE changed")]
    acts = conv(new).plan_service(new.services["web"], [c], UpOptions(no_recreate=True), IMAGE_ID)
    assert acts[0].kind == "nothing"


def test_new_image_and_force_recreate(tmp_path):
    p = project(tmp_path, BASE)
    c = existing(p, "web", 1)
    acts = conv(p).plan_service(p.services["web"], [c], UpOptions(), "sha256:" + "b" * 64)
    assert acts[0].kind == "recreate" and acts[0].reason == "image busybox changed (aaaaaaaaaaaa -> bbbbbbbbbbbb)"
    acts = conv(p).plan_service(p.services["web"], [c], UpOptions(force_recreate=True), IMAGE_ID)
    assert (acts[0].kind, acts[0].reason) == ("recreate", "--force-recreate")


def test_container_of_docker_compose_without_stored_config(tmp_path):
    p = project(tmp_path, BASE)
    c = existing(p, "web", 1)
    c["Labels"] = {k: v for k, v in c["Labels"].items() if k != L.BERTH_CONFIG}
    c["Labels"][L.CONFIG_HASH] = "0" * 64
    acts = conv(p).plan_service(p.services["web"], [c], UpOptions(), IMAGE_ID)
    assert (acts[0].kind, acts[0].reason) == ("recreate", "config hash changed")


def test_scale_creates_and_removes_by_number(tmp_path):
    p = project(tmp_path, BASE)
    db = p.services["db"]
    acts = conv(p).plan_service(db, [existing(p, "db", 2)], UpOptions(), IMAGE_ID)
    assert [(a.kind, a.number) for a in acts] == [("nothing", 2), ("create", 1)]
    three = [existing(p, "db", n) for n in (1, 2, 3)]
    acts = conv(p).plan_service(db, three, UpOptions(scale={"db": 1}), IMAGE_ID)
    assert [(a.kind, a.number) for a in acts] == [("nothing", 1), ("remove", 2), ("remove", 3)]


def test_replicas_and_depends_on_do_not_change_the_hash(tmp_path):
    a = project(tmp_path, BASE)
    b = project(tmp_path, BASE.replace("scale: 2", "scale: 5"))
    assert config_hash(a.services["db"]) == config_hash(b.services["db"])
    assert "depends_on" not in hashed_config(a.services["web"])


def test_create_body_maps_the_service(tmp_path):
    p = project(tmp_path, BASE)
    body = create_body(p, p.services["web"], 1, IMAGE_ID, "h")
    assert body["Image"] == "busybox"
    assert body["Env"] == ["MODE=a"]
    assert body["ExposedPorts"] == {"80/udp": {}}
    host = body["HostConfig"]
    assert host["PortBindings"] == {"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}
    assert host["Mounts"][0] == {"Type": "volume", "Target": "/data", "ReadOnly": True, "Source": "p_data"}
    assert host["Mounts"][1]["Type"] == "bind" and host["Mounts"][1]["Source"] == str(tmp_path / "src")
    assert host["Memory"] == 64 << 20
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 1024}]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90 * 10**9, "Retries": 2}
    # the highest-priority network is joined at create, the others connected after
    assert host["NetworkMode"] == "p_front"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"p_front": {"Aliases": ["web"]}}}
    lab = body["Labels"]
    assert lab[L.PROJECT] == "p" and lab[L.SERVICE] == "web" and lab[L.NUMBER] == "1"
    assert lab[L.ONEOFF] == "False" and lab[L.CONFIG_HASH] == "h" and lab[L.IMAGE] == IMAGE_ID
    assert lab[L.DEPENDS_ON] == "db:service_started:false"
    assert lab[L.WORKING_DIR] == str(tmp_path)
    assert json.loads(lab[L.BERTH_CONFIG]) == hashed_config(p.services["web"])


def test_dependency_levels(tmp_path):
    p = project(tmp_path, """
        services:
          a: {image: x, depends_on: [b, c]}
          b: {image: x, depends_on: [c]}
          c: {image: x}
          d: {image: x}
    """)
    assert list(p.dependency_levels(list(p.services))) == [["c", "d"], ["b"], ["a"]]
    assert p.with_dependencies(["a"]) == ["c", "b", "a"]
    assert p.with_dependencies(["a"], include_deps=False) == ["a"]


def test_progress_plain_lines_are_composes():
    import io

    out = io.StringIO()
    Progress(out, "plain").event("Container", "p-web-1", "Started")
    Progress(out, "plain", dry_run=True).event("Network", "p_default", "Creating")
    assert out.getvalue() == " Container p-web-1  Started\nDRY-RUN MODE -  Network p_default  Creating\n"


def test_progress_terminal_block_is_redrawn():
    import io

    out = io.StringIO()
    p = Progress(out, "tty")
    p.event("Container", "p-web-1", "Starting")
    p.event("Container", "p-web-1", "Started")
    last = out.getvalue().split("\033[2A")[-1]
    assert "[+] Running 1/1" in last and " ✔ Container p-web-1 Started" in last


def test_dependency_with_restart_true_restarts_its_dependent(tmp_path):
    text = """
        services:
          db: {image: busybox, environment: {V: "${V:-1}"}}
          app: {image: busybox, depends_on: {db: {condition: service_started, restart: true}}}
    """
    old = project(tmp_path, text)
    containers = [existing(old, "db", 1), existing(old, "app", 1)]
    new = project(tmp_path, text, {"V": "2"})

    class FakeEngine:
        def containers(self, project, all=True):
            return containers

        def image(self, ref):
            return {"Id": IMAGE_ID}

    c = Converger(new, FakeEngine(), Progress(mode="quiet"))  # type: ignore[arg-type]
    acts = c.plan(["db", "app"], UpOptions())
    assert [a.describe() for a in acts] == ["recreate db: environment.V changed", "restart app: dependency db changed"]


def test_progress_json_lines():
    import io

    out = io.StringIO()
    Progress(out, "json").event("Container", "p-web-1", "Recreate", "(image changed)")
    assert json.loads(out.getvalue()) == {"id": "Container p-web-1", "status": "Recreate", "text": "(image changed)"}


def test_rarer_keys_map_to_host_config_and_unsupported_ones_are_refused(tmp_path):
    from berth.compose.errors import ComposeError

    (tmp_path / "labels.env").write_text("from.file=yes\nshared=file\n")
    p = project(tmp_path, """
        services:
          s:
            image: busybox
            label_file: ./labels.env
            labels: {shared: inline}
            devices: ["/dev/fuse", "/dev/null:/dev/nil:r"]
            cpuset: "0"
            cpu_quota: 50000
            oom_kill_disable: true
            blkio_config: {weight: 300}
            external_links: [other:alias]
          g:
            image: busybox
            gpus: all
    """)
    assert p.services["s"].config["labels"] == {"from.file": "yes", "shared": "inline"}
    host = create_body(p, p.services["s"], 1, IMAGE_ID, "h")["HostConfig"]
    assert host["Devices"] == [
        {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"},
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/nil", "CgroupPermissions": "r"}]
    assert (host["CpusetCpus"], host["CpuQuota"], host["OomKillDisable"], host["BlkioWeight"]) == ("0", 50000, True, 300)
    assert host["Links"] == ["other:alias"]
    try:
        create_body(p, p.services["g"], 1, IMAGE_ID, "h")
    except ComposeError as exc:
        assert str(exc) == "service g: gpus: GPU device requests are not supported by berth"
    else:
        raise AssertionError("gpus accepted")


def test_deploy_restart_policy(tmp_path):
    p = project(tmp_path, """
        services:
          a: {image: x, deploy: {restart_policy: {condition: on-failure, max_attempts: 2}}}
          b: {image: x, deploy: {restart_policy: {}}}
          c: {image: x, restart: "no", deploy: {restart_policy: {condition: any}}}
    """)
    rp = {n: create_body(p, p.services[n], 1, IMAGE_ID, "h")["HostConfig"]["RestartPolicy"] for n in "abc"}
    assert rp == {"a": {"Name": "on-failure", "MaximumRetryCount": 2}, "b": {"Name": "always"}, "c": {"Name": "no"}}


def test_always_recreate_deps(tmp_path):
    text = """
        services:
          db: {image: busybox}
          app: {image: busybox, depends_on: [db], environment: {V: "${V:-1}"}}
    """
    old = project(tmp_path, text)
    containers = [existing(old, "db", 1), existing(old, "app", 1)]
    new = project(tmp_path, text, {"V": "2"})

    class FakeEngine:
        def containers(self, project, all=True):
            return containers

        def image(self, ref):
            return {"Id": IMAGE_ID}

    c = Converger(new, FakeEngine(), Progress(mode="quiet"))  # type: ignore[arg-type]
    assert [a.describe() for a in c.plan(["db", "app"], UpOptions())] == [
        "nothing db: up to date", "recreate app: environment.V changed"]
    c = Converger(new, FakeEngine(), Progress(mode="quiet"))  # type: ignore[arg-type]
    assert [a.describe() for a in c.plan(["db", "app"], UpOptions(always_recreate_deps=True))] == [
        "recreate db: --always-recreate-deps", "recreate app: environment.V changed"]


def test_service_sharing_a_replaced_containers_network_is_recreated(tmp_path):
    text = """
        services:
          net: {image: busybox, environment: {V: "${V:-1}"}}
          side: {image: busybox, network_mode: "service:net"}
    """
    old = project(tmp_path, text)
    containers = [existing(old, "net", 1), existing(old, "side", 1)]
    new = project(tmp_path, text, {"V": "2"})

    class FakeEngine:
        def containers(self, project, all=True):
            return containers

        def image(self, ref):
            return {"Id": IMAGE_ID}

    c = Converger(new, FakeEngine(), Progress(mode="quiet"))  # type: ignore[arg-type]
    assert [a.describe() for a in c.plan(["net", "side"], UpOptions())] == [
        "recreate net: environment.V changed",
        "recreate side: net is replaced and side shares its namespaces or volumes"]


def test_build_context_honours_dockerignore(tmp_path):
    import io
    import tarfile

    from berth.compose.build import context_tar

    for f in ["Dockerfile", "a.txt", "b.log", "sub/c.txt", "sub/keep.log", "node_modules/x/y.js"]:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("x")
    (tmp_path / ".dockerignore").write_text("**/*.log\nnode_modules\n!sub/keep.log\nDockerfile\n")
    data, name = context_tar(str(tmp_path), "Dockerfile", None)
    assert name == "Dockerfile"
    assert sorted(tarfile.open(fileobj=io.BytesIO(data)).getnames()) == [
        ".dockerignore", "Dockerfile", "a.txt", "sub", "sub/c.txt", "sub/keep.log"]
    data, name = context_tar(str(tmp_path), "Dockerfile", "FROM busybox\n")
    assert name == ".berth-compose.Dockerfile"
    assert ".berth-compose.Dockerfile" in tarfile.open(fileobj=io.BytesIO(data)).getnames()
