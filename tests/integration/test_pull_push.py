"""Pull and push through berthd against a real registry: Debian's docker-registry
(distribution 2.8) inside the sandbox's network namespace, driven by the real
docker CLI and by the berth CLI; auth with htpasswd; and the bad cases: a blob
that does not match its digest, a registry that drops the connection
mid-layer (the next pull resumes), wrong credentials, a missing tag."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from test_pull_push_util import (
    client_env,
    random_layer_tar,
    start_proxy,
    start_registry,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed"),
              pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")]

REG = "127.0.0.1:5000"
AUTH_REG = "127.0.0.1:5001"
PROXY = "127.0.0.1:5002"


@pytest.fixture(scope="module")
def env(sandbox, tmp_path_factory):
    start_registry(sandbox, 5000)
    start_registry(sandbox, 5001, htpasswd=("alice", "s3cret"))
    control, log = start_proxy(sandbox, 5002, 5000)
    home = str(tmp_path_factory.mktemp("home"))
    return {"env": client_env(sandbox, home), "home": home, "control": control, "log": log}


def docker(sb, env, *args, input=None):
    return subprocess.run(["/usr/local/bin/docker", *args], env=env["env"], input=input,
                          capture_output=True, text=True, timeout=120)


def berth(sb, env, *args, input=None):
    return subprocess.run([sys.executable, "-m", "berth.cli.main", *args], env=env["env"], input=input,
                          capture_output=True, text=True, timeout=120)


def inspect(sb, env, ref):
    r = docker(sb, env, "image", "inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def test_docker_push_pull_roundtrip_with_layer_reuse_and_mount(sandbox, env):
    sb = sandbox
    busybox_id = inspect(sb, env, "busybox")["Id"]
    assert docker(sb, env, "tag", "busybox", f"{REG}/team/app").returncode == 0
    r = docker(sb, env, "push", f"{REG}/team/app")
    assert r.returncode == 0, r.stderr
    assert f"The push refers to repository [{REG}/team/app]" in r.stdout
    assert "Pushed" in r.stdout
    digest_line = [l for l in r.stdout.splitlines() if l.startswith("latest: digest: sha256:")]
    assert digest_line and digest_line[0].endswith("size: 527"), r.stdout
    digest = digest_line[0].split()[2]
    again = docker(sb, env, "push", f"{REG}/team/app")
    assert "Layer already exists" in again.stdout and digest in again.stdout, again.stdout
    docker(sb, env, "tag", "busybox", f"{REG}/team/other")
    mounted = docker(sb, env, "push", f"{REG}/team/other")
    assert "Mounted from team/app" in mounted.stdout, mounted.stdout
    # pull it back after removing the tag: same image id, RepoDigests recorded
    assert docker(sb, env, "rmi", f"{REG}/team/app", f"{REG}/team/other").returncode == 0
    pulled = docker(sb, env, "pull", f"{REG}/team/app")
    assert pulled.returncode == 0, pulled.stderr
    assert "latest: Pulling from team/app" in pulled.stdout
    assert f"Digest: {digest}" in pulled.stdout
    assert f"Status: Downloaded newer image for {REG}/team/app:latest" in pulled.stdout
    doc = inspect(sb, env, f"{REG}/team/app")
    assert doc["Id"] == busybox_id
    assert f"{REG}/team/app@{digest}" in doc["RepoDigests"]
    up = docker(sb, env, "pull", f"{REG}/team/app")
    assert f"Status: Image is up to date for {REG}/team/app:latest" in up.stdout


def test_berth_cli_pull_by_digest_fresh_layers_and_missing_tag(sandbox, env):
    sb = sandbox
    tar = os.path.join(sb.dir, "small.tar")
    random_layer_tar(tar, 300_000, seed=7)
    r = berth(sb, env, "import", tar, f"{REG}/team/rnd:v1")
    assert r.returncode == 0, r.stderr
    local_id = inspect(sb, env, f"{REG}/team/rnd:v1")["Id"]
    r = berth(sb, env, "push", f"{REG}/team/rnd:v1")
    assert r.returncode == 0, r.stderr
    digest = [l for l in r.stdout.splitlines() if l.startswith("v1: digest:")][0].split()[2]
    assert berth(sb, env, "rmi", f"{REG}/team/rnd:v1").returncode == 0
    # every layer of this image is gone: this pull downloads, verifies and extracts it
    r = berth(sb, env, "pull", f"{REG}/team/rnd@{digest}")
    assert r.returncode == 0, r.stderr
    for word in ("Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"):
        assert word in r.stdout, r.stdout
    assert r.stdout.strip().endswith(f"{REG}/team/rnd@{digest}")
    doc = inspect(sb, env, f"{REG}/team/rnd@{digest}")
    assert doc["Id"] == local_id and doc["RepoTags"] == []
    q = berth(sb, env, "pull", "-q", f"{REG}/team/rnd:v1")
    assert q.returncode == 0 and q.stdout == f"{REG}/team/rnd:v1\n", (q.stdout, q.stderr)
    missing = berth(sb, env, "pull", f"{REG}/team/rnd:nope")
    assert missing.returncode == 1
    assert (f"Error response from daemon: manifest for {REG}/team/rnd:nope not found: "
            "manifest unknown: manifest unknown") in missing.stderr


def test_login_with_htpasswd_registry_docker_and_berth(sandbox, env):
    sb = sandbox
    docker(sb, env, "tag", "busybox", f"{AUTH_REG}/priv/app")
    anon = docker(sb, env, "push", f"{AUTH_REG}/priv/app")
    assert anon.returncode != 0
    bad = docker(sb, env, "login", "-u", "alice", "--password-stdin", AUTH_REG, input="wrong\n")
    assert bad.returncode == 1
    assert f"login attempt to http://{AUTH_REG}/v2/ failed with status: 401 Unauthorized" in bad.stderr
    good = docker(sb, env, "login", "-u", "alice", "--password-stdin", AUTH_REG, input="s3cret\n")
    assert good.returncode == 0 and "Login Succeeded" in good.stdout, good.stderr
    pushed = docker(sb, env, "push", f"{AUTH_REG}/priv/app")
    assert pushed.returncode == 0 and "latest: digest:" in pushed.stdout, pushed.stderr
    # berth keeps its own credentials in docker's format, and reads docker's file as well
    out = berth(sb, env, "pull", f"{AUTH_REG}/priv/app")
    assert out.returncode == 0, out.stderr
    r = berth(sb, env, "login", "-u", "alice", "-p", "s3cret", AUTH_REG)
    assert r.returncode == 0 and "Login Succeeded" in r.stdout
    assert "WARNING! Using --password via the CLI is insecure. Use --password-stdin." in r.stderr
    with open(os.path.join(env["home"], ".berth", "config.json")) as f:
        stored = json.load(f)
    assert stored["auths"][AUTH_REG]["auth"] == "YWxpY2U6czNjcmV0"  # base64("alice:s3cret")
    assert docker(sb, env, "logout", AUTH_REG).returncode == 0
    assert berth(sb, env, "push", f"{AUTH_REG}/priv/app").returncode == 0
    assert "Removing login credentials for" in berth(sb, env, "logout", AUTH_REG).stdout
    denied = berth(sb, env, "pull", f"{AUTH_REG}/priv/app")
    assert denied.returncode == 1
    assert (f'Error response from daemon: Head "http://{AUTH_REG}/v2/priv/app/manifests/latest": '
            "no basic auth credentials") in denied.stderr, denied.stderr
    wrong = berth(sb, env, "login", "-u", "alice", "--password-stdin", AUTH_REG, input="nope\n")
    assert wrong.returncode == 1 and "401 Unauthorized" in wrong.stderr


def _push_big(sb, env, name, seed):
    tar = os.path.join(sb.dir, f"{seed}.tar")
    random_layer_tar(tar, 3_000_000, seed=seed)
    assert berth(sb, env, "import", tar, f"{REG}/{name}").returncode == 0
    r = berth(sb, env, "push", f"{REG}/{name}")
    assert r.returncode == 0, r.stderr
    manifest_digest = [l for l in r.stdout.splitlines() if ": digest:" in l][0].split()[2]
    assert berth(sb, env, "rmi", f"{REG}/{name}").returncode == 0
    # the layer's blob digest, from the registry's manifest (through the sandbox's loopback)
    script = ("import json,urllib.request;r=urllib.request.Request('http://%s/v2/%s/manifests/%s',"
              "headers={'Accept':'application/vnd.docker.distribution.manifest.v2+json'});"
              "print(json.load(urllib.request.urlopen(r))['layers'][0]['digest'])"
              % (REG, name.split(":")[0], name.split(":")[1]))
    out = sb.nsenter([sys.executable, "-c", script])
    return manifest_digest, out.stdout.strip()


def test_corrupt_blob_is_refused_and_nothing_is_stored(sandbox, env):
    sb = sandbox
    _m, blob = _push_big(sb, env, "team/corrupt:v1", seed=11)
    with open(env["control"], "w") as f:
        json.dump({"corrupt": blob}, f)
    before = docker(sb, env, "images", "-q", "--no-trunc").stdout
    r = docker(sb, env, "pull", f"{PROXY}/team/corrupt:v1")
    assert r.returncode == 1
    assert f"filesystem layer verification failed for digest {blob}" in r.stderr, r.stderr
    assert docker(sb, env, "images", "-q", "--no-trunc").stdout == before
    assert not os.path.exists(os.path.join(sb.data_root, "content", "blobs", "sha256", blob[7:]))
    assert not os.path.exists(os.path.join(sb.data_root, "distribution", "partial", blob[7:]))
    assert os.listdir(os.path.join(sb.data_root, "overlay", "staging")) == []
    with open(env["control"], "w") as f:
        json.dump({}, f)
    ok = docker(sb, env, "pull", f"{PROXY}/team/corrupt:v1")
    assert ok.returncode == 0 and "Pull complete" in ok.stdout, ok.stderr


def test_dropped_connection_fails_clearly_then_resumes_from_stored_bytes(sandbox, env):
    sb = sandbox
    _m, blob = _push_big(sb, env, "team/cut:v1", seed=12)
    with open(env["control"], "w") as f:
        json.dump({"cut": blob, "after": 1_000_000}, f)
    open(env["log"], "w").close()
    r = berth(sb, env, "pull", f"{PROXY}/team/cut:v1")
    assert r.returncode == 1
    assert "failed to download layer" in r.stderr, r.stderr
    assert docker(sb, env, "image", "inspect", f"{PROXY}/team/cut:v1").returncode == 1
    partial = os.path.join(sb.data_root, "distribution", "partial", blob[7:])
    assert os.path.getsize(partial) == 1_000_000
    with open(env["control"], "w") as f:
        json.dump({}, f)
    ok = berth(sb, env, "pull", f"{PROXY}/team/cut:v1")
    assert ok.returncode == 0, ok.stderr
    with open(env["log"]) as f:
        entries = [json.loads(l) for l in f if blob in l]
    assert entries[0]["range"] is None and entries[0]["sent"] == 1_000_000
    assert entries[-1]["range"] == "bytes=1000000-" and entries[-1]["status"] == 206
    total = os.path.getsize(os.path.join(sb.data_root, "content", "blobs", "sha256", blob[7:]))
    assert entries[-1]["sent"] == total - 1_000_000
    assert not os.path.exists(partial)


def test_manifest_list_picks_the_host_platform_and_platform_flag(sandbox, env):
    sb = sandbox
    docker(sb, env, "tag", "busybox", f"{REG}/team/multi:amd")
    r = docker(sb, env, "push", f"{REG}/team/multi:amd")
    assert r.returncode == 0, r.stderr
    digest = [l for l in r.stdout.splitlines() if l.startswith("amd: digest:")][0].split()[2]
    size = int([l for l in r.stdout.splitlines() if l.startswith("amd: digest:")][0].split()[-1])
    entry = {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": size, "digest": digest}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
             "manifests": [{**entry, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
                           {**entry, "platform": {"architecture": "amd64", "os": "linux"}}]}
    script = ("import json,sys,urllib.request;b=sys.stdin.buffer.read();"
              f"r=urllib.request.Request('http://{REG}/v2/team/multi/manifests/list',data=b,method='PUT',"
              "headers={'Content-Type':'application/vnd.docker.distribution.manifest.list.v2+json'});"
              "print(urllib.request.urlopen(r).headers['Docker-Content-Digest'])")
    body = json.dumps(index).encode()
    put = subprocess.run(sb.nsenter_argv([sys.executable, "-c", script]), input=body, capture_output=True)
    assert put.returncode == 0, put.stderr
    list_digest = put.stdout.decode().strip()
    r = berth(sb, env, "pull", f"{REG}/team/multi:list")
    assert r.returncode == 0, r.stderr
    assert f"Digest: {list_digest}" in r.stdout
    doc = inspect(sb, env, f"{REG}/team/multi:list")
    assert f"{REG}/team/multi@{list_digest}" in doc["RepoDigests"]
    wrong = berth(sb, env, "pull", "--platform", "linux/s390x", f"{REG}/team/multi:list")
    assert wrong.returncode == 1
    assert "no matching manifest for linux/s390x in the manifest list entries" in wrong.stderr
    plain = berth(sb, env, "pull", "--platform", "linux/arm64", f"{REG}/team/multi:amd")
    assert plain.returncode == 1 and "does not match the specified platform" in plain.stderr


def test_two_concurrent_pulls_of_the_same_layers_both_succeed(sandbox, env):
    sb = sandbox
    _m, blob = _push_big(sb, env, "team/twice:v1", seed=13)
    procs = [subprocess.Popen(["/usr/local/bin/docker", "pull", f"{REG}/team/twice:v1"], env=env["env"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert os.path.exists(os.path.join(sb.data_root, "content", "blobs", "sha256", blob[7:]))
    assert docker(sb, env, "image", "inspect", f"{REG}/team/twice:v1").returncode == 0


def test_seed_workflow_build_push_rmi_pull_run(sandbox, env):
    """The issue's deployment path, end to end with the berth CLI."""
    sb = sandbox
    ctx = os.path.join(sb.dir, "seedctx")
    os.makedirs(ctx)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write('FROM busybox\nRUN mkdir /www && echo seed-ok > /www/index.html\nEXPOSE 8080\n'
                'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
    ref = f"{REG}/team/seed"
    assert berth(sb, env, "build", "-q", "-t", ref, ctx).returncode == 0
    built = inspect(sb, env, ref)["Id"]
    pushed = berth(sb, env, "push", ref)
    assert pushed.returncode == 0 and "latest: digest:" in pushed.stdout, pushed.stderr
    assert berth(sb, env, "rmi", ref).returncode == 0
    pulled = berth(sb, env, "pull", ref)
    assert pulled.returncode == 0 and "latest: Pulling from team/seed" in pulled.stdout, pulled.stderr
    assert inspect(sb, env, ref)["Id"] == built
    run = berth(sb, env, "run", "-d", "--name", "seedweb", "-p", "8080:8080", ref)
    assert run.returncode == 0, run.stderr
    try:
        got = ""
        for _ in range(50):
            got = sb.nsenter(["wget", "-qO-", "http://127.0.0.1:8080/"]).stdout
            if got:
                break
            time.sleep(0.1)
        assert got == "seed-ok\n"
    finally:
        berth(sb, env, "rm", "-f", "seedweb")


def test_docker_sdk_push_pull_login_save_load(sandbox, env):
    docker_sdk = pytest.importorskip("docker")
    sb = sandbox
    c = docker_sdk.DockerClient(base_url=sb.host_url)
    try:
        c.images.get("busybox").tag(f"{REG}/team/sdk", "v1")
        lines = list(c.api.push(f"{REG}/team/sdk", tag="v1", stream=True, decode=True))
        aux = [l["aux"] for l in lines if "aux" in l]
        assert aux and aux[0]["Tag"] == "v1" and aux[0]["Size"] == 527
        c.images.remove(f"{REG}/team/sdk:v1")
        pulled = c.images.pull(f"{REG}/team/sdk", tag="v1")
        assert f"{REG}/team/sdk@{aux[0]['Digest']}" in pulled.attrs["RepoDigests"]
        with pytest.raises(docker_sdk.errors.NotFound, match="manifest unknown"):
            c.images.pull(f"{REG}/team/sdk", tag="nope")
        assert c.login(username="alice", password="s3cret", registry=AUTH_REG)["Status"] == "Login Succeeded"
        with pytest.raises(docker_sdk.errors.APIError, match="401 Unauthorized"):
            c.login(username="alice", password="bad", registry=AUTH_REG, reauth=True)
        data = b"".join(c.images.get(f"{REG}/team/sdk:v1").save())
        c.images.remove(f"{REG}/team/sdk:v1")
        loaded = c.images.load(data)
        assert [i.id for i in loaded] == [pulled.id]
    finally:
        c.close()


def test_a_client_that_goes_away_cancels_the_pull_and_the_next_pull_resumes(sandbox, env):
    sb = sandbox
    _m, blob = _push_big(sb, env, "team/gone:v1", seed=14)
    with open(env["control"], "w") as f:
        json.dump({"slow": blob}, f)
    open(env["log"], "w").close()
    partial = os.path.join(sb.data_root, "distribution", "partial", blob[7:])
    proc = subprocess.Popen([sys.executable, "-m", "berth.cli.main", "pull", f"{PROXY}/team/gone:v1"],
                            env=env["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(partial) and os.path.getsize(partial) > 300_000:
                break
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    # the daemon notices at its next progress message and stops; the bytes so far stay
    sizes = []
    for _ in range(40):
        time.sleep(0.1)
        sizes.append(os.path.getsize(partial))
        if len(sizes) > 5 and sizes[-1] == sizes[-6]:
            break
    kept = sizes[-1]
    assert 300_000 <= kept < 3_000_000, sizes
    assert docker(sb, env, "image", "inspect", f"{PROXY}/team/gone:v1").returncode == 1
    with open(env["control"], "w") as f:
        json.dump({}, f)
    ok = berth(sb, env, "pull", f"{PROXY}/team/gone:v1")
    assert ok.returncode == 0, ok.stderr
    with open(env["log"]) as f:
        entries = [json.loads(line) for line in f if blob in line]
    assert entries[-1]["range"] == f"bytes={kept}-" and entries[-1]["status"] == 206, entries
