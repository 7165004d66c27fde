"""`berth context ...` against `docker context ...`: same on-disk layout, same output.

Contexts are client-side, so both CLIs run the same script over their own
config directory and the outputs are compared after the product names are
normalised. No daemon is needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

DOCKER = "/usr/local/bin/docker"
BERTH = "/usr/local/bin/berth"

pytestmark = pytest.mark.skipif(not os.access(DOCKER, os.X_OK) or not os.access(BERTH, os.X_OK),
                                reason="needs the docker CLI and the installed berth launcher")

SCRIPT = [
    ["context", "ls"],
    ["context", "create", "foo", "--description", "my foo", "--docker", "host=tcp://10.0.0.1:2375"],
    ["context", "create", "foo", "--docker", "host=tcp://10.0.0.1:2375"],
    ["context", "create", "aa", "--docker", "foo=bar"],
    ["context", "create", "bad name"],
    ["context", "create", "x"],
    ["context", "create", "t1", "--docker", "host=tcp://10.0.0.1:2376,ca={ca},cert={cert},key={key}"],
    ["context", "create", "t2", "--from", "t1", "--description", "d2"],
    ["context", "create", "t3", "--docker", "host=tcp://h:1,skip-tls-verify=true"],
    ["context", "create", "t4", "--docker", "host=tcp://x:1,skip-tls-verify=maybe"],
    ["context", "create", "t5", "--docker", "host=tcp://x:1,ca=/nonexistent"],
    ["context", "create", "t6", "--docker", "host=tcp://x:1", "--from", "t1"],
    ["context", "create", "default"],
    ["context", "use", "foo"],
    ["context", "ls"],
    ["context", "ls", "-q"],
    ["context", "ls", "--format", "json"],
    ["context", "ls", "--format", "{{.Name}} {{.Current}} {{.DockerEndpoint}}"],
    ["context", "show"],
    ["context", "inspect"],
    ["context", "inspect", "t1", "t2"],
    ["context", "inspect", "-f", "{{.Name}} {{.Endpoints.docker.Host}} {{.Endpoints.docker.SkipTLSVerify}}", "t1", "t3"],
    ["context", "inspect", "nope"],
    ["context", "rm", "foo"],
    ["context", "rm", "nope", "default"],
    ["context", "update", "t3", "--description", "new"],
    ["context", "update", "t3", "--docker", "host=tcp://y:2"],
    ["context", "inspect", "t3"],
    ["context", "rm", "-f", "foo"],
    ["context", "show"],
    ["context", "use", "nope"],
    ["context", "show", "extra"],
    ["-c", "nope", "ps"],
    ["-H", "unix:///x", "-c", "default", "ps"],
]


def _normalise(text: str, config: str) -> str:
    text = text.replace(config, "CONFIG")
    text = re.sub(r"[0-9a-f]{64}", "HASH", text)
    text = text.replace("unix:///run/berth/berth.sock", "DEFAULT_SOCK").replace("unix:///var/run/docker.sock", "DEFAULT_SOCK")
    text = text.replace("Berth", "X").replace("berth", "x").replace("BERTH", "X")
    text = text.replace("Docker", "X").replace("docker", "x").replace("DOCKER", "X")
    # Column widths follow the longer default socket path; compare cells, not padding.
    return "\n".join(re.sub(r" {2,}", "  ", line).rstrip() for line in text.splitlines())


def _run_script(binary: str, config: str, certs: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "BERTH_HOST", "DOCKER_CONTEXT", "BERTH_CONTEXT")}
    env["DOCKER_CONFIG" if binary == DOCKER else "BERTH_CONFIG"] = config
    outputs = []
    for step in SCRIPT:
        argv = [binary] + [a.format(**certs) for a in step]
        res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
        outputs.append(f"$ {' '.join(step)}\n{res.stdout}{res.stderr}rc={res.returncode}")
    return [_normalise(o, config) for o in outputs]


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("ctx-certs")
    key, cert = str(d / "key.pem"), str(d / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-subj", "/CN=ctx", "-days", "1"], check=True, capture_output=True)
    return {"ca": cert, "cert": cert, "key": key}


def test_context_commands_match_docker(tmp_path, certs):
    ours = _run_script(BERTH, str(tmp_path / "berth"), certs)
    theirs = _run_script(DOCKER, str(tmp_path / "docker"), certs)
    for mine, ref in zip(ours, theirs):
        assert mine == ref


def test_context_store_is_dockers_layout(tmp_path, certs):
    """A context written by berth is read by docker (and the other way round)."""
    cfg = str(tmp_path / "shared")
    env = dict(os.environ, BERTH_CONFIG=cfg, DOCKER_CONFIG=cfg)
    subprocess.run([BERTH, "context", "create", "mine", "--docker",
                    f"host=tcp://10.1.2.3:2376,ca={certs['ca']},cert={certs['cert']},key={certs['key']}"],
                   check=True, capture_output=True, env=env)
    subprocess.run([DOCKER, "context", "create", "theirs", "--docker", "host=ssh://me@example"],
                   check=True, capture_output=True, env=env)
    docker_view = json.loads(subprocess.run([DOCKER, "context", "inspect", "mine"], check=True,
                                            capture_output=True, text=True, env=env).stdout)
    assert docker_view[0]["Endpoints"]["docker"]["Host"] == "tcp://10.1.2.3:2376"
    assert docker_view[0]["TLSMaterial"] == {"docker": ["ca.pem", "cert.pem", "key.pem"]}
    berth_view = json.loads(subprocess.run([BERTH, "context", "inspect", "theirs"], check=True,
                                           capture_output=True, text=True, env=env).stdout)
    assert berth_view[0]["Endpoints"]["docker"]["Host"] == "ssh://me@example"


def test_current_context_decides_the_endpoint(tmp_path):
    cfg = str(tmp_path / "cfg")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "BERTH_HOST")}
    env["BERTH_CONFIG"] = cfg
    subprocess.run([BERTH, "context", "create", "dead", "--docker", f"host=unix://{tmp_path}/none.sock"],
                   check=True, capture_output=True, env=env)
    subprocess.run([BERTH, "context", "use", "dead"], check=True, capture_output=True, env=env)
    res = subprocess.run([BERTH, "ps"], capture_output=True, text=True, env=env)
    assert res.returncode == 1
    assert f"unix://{tmp_path}/none.sock" in res.stderr
    # BERTH_HOST still wins over the current context, as DOCKER_HOST does for docker.
    res = subprocess.run([BERTH, "ps"], capture_output=True, text=True,
                         env=dict(env, BERTH_HOST=f"unix://{tmp_path}/other.sock"))
    assert f"unix://{tmp_path}/other.sock" in res.stderr
