"""The daemon's pull/push client against `berth registry serve`: the real docker
CLI without auth, with a bearer-token service (`docker login`, the token dance
with pull/push scopes), and `berth pull --all-tags`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from test_pull_push_util import client_env, start_berth_registry

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

OPEN = "127.0.0.1:5010"
TOKEN = "127.0.0.1:5011"


@pytest.fixture(scope="module")
def env(sandbox, tmp_path_factory):
    import bcrypt

    sb = sandbox
    start_berth_registry(sb, 5010, os.path.join(sb.dir, "open-reg"))
    htpasswd = os.path.join(sb.dir, "htpasswd")
    with open(htpasswd, "w") as f:
        f.writelines(f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n" for user, pw in (("alice", "wonder"), ("reader", "readonly")))
    cfg = os.path.join(sb.dir, "token.yml")
    with open(cfg, "w") as f:
        f.write(f"""auth:
  htpasswd: {{path: {htpasswd}}}
  token: {{realm: "http://{TOKEN}/token", service: berth-test, expiration: 60s}}
  acl:
    - {{account: alice, name: "*", actions: ["*"]}}
    - {{account: reader, name: "team/*", actions: [pull]}}
""")
    start_berth_registry(sb, 5011, os.path.join(sb.dir, "token-reg"), "--config", cfg)
    home = str(tmp_path_factory.mktemp("home"))
    return {"env": client_env(sb, home), "home": home}


def docker(env, *args, input=None):
    return subprocess.run(["/usr/local/bin/docker", *args], env=env["env"], input=input,
                          capture_output=True, text=True, timeout=120)


def berth(env, *args, input=None):
    return subprocess.run([sys.executable, "-m", "berth.cli.main", *args], env=env["env"], input=input,
                          capture_output=True, text=True, timeout=120)


def _inspect(env, ref):
    r = docker(env, "image", "inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def test_docker_push_pull_against_berth_registry(env):
    image_id = _inspect(env, "busybox")["Id"]
    docker(env, "tag", "busybox", f"{OPEN}/team/app:1")
    r = docker(env, "push", f"{OPEN}/team/app:1")
    assert r.returncode == 0 and "Pushed" in r.stdout, (r.stdout, r.stderr)
    digest = [l for l in r.stdout.splitlines() if l.startswith("1: digest:")][0].split()[2]
    assert "Layer already exists" in docker(env, "push", f"{OPEN}/team/app:1").stdout
    assert docker(env, "rmi", f"{OPEN}/team/app:1").returncode == 0
    r = docker(env, "pull", f"{OPEN}/team/app:1")
    assert r.returncode == 0 and f"Digest: {digest}" in r.stdout, (r.stdout, r.stderr)
    doc = _inspect(env, f"{OPEN}/team/app:1")
    assert doc["Id"] == image_id and f"{OPEN}/team/app@{digest}" in doc["RepoDigests"]


def test_bearer_token_login_push_and_pull(env):
    docker(env, "tag", "busybox", f"{TOKEN}/team/secure:1")
    anon = docker(env, "push", f"{TOKEN}/team/secure:1")
    assert anon.returncode == 1
    bad = docker(env, "login", "-u", "alice", "--password-stdin", TOKEN, input="wrong\n")
    assert bad.returncode == 1 and "401 Unauthorized" in bad.stderr, bad.stderr
    good = docker(env, "login", "-u", "alice", "--password-stdin", TOKEN, input="wonder\n")
    assert good.returncode == 0 and "Login Succeeded" in good.stdout, good.stderr
    r = docker(env, "push", f"{TOKEN}/team/secure:1")
    assert r.returncode == 0 and "1: digest: sha256:" in r.stdout, (r.stdout, r.stderr)
    # a mount needs a token for two repositories (push on one, pull on the other)
    docker(env, "tag", "busybox", f"{TOKEN}/team/secure2:1")
    r = docker(env, "push", f"{TOKEN}/team/secure2:1")
    assert r.returncode == 0 and "Mounted from team/secure" in r.stdout, (r.stdout, r.stderr)
    assert docker(env, "rmi", f"{TOKEN}/team/secure:1").returncode == 0
    assert docker(env, "logout", TOKEN).returncode == 0
    # a pull-only account gets a pull token for team/*: pull works, push is refused
    assert berth(env, "login", "-u", "reader", "--password-stdin", TOKEN, input="readonly\n").returncode == 0
    r = berth(env, "pull", f"{TOKEN}/team/secure:1")
    assert r.returncode == 0, r.stderr
    denied = berth(env, "push", f"{TOKEN}/team/secure:1")
    assert denied.returncode == 1 and denied.stderr.strip(), denied.stdout


def test_berth_pull_all_tags(env):
    for tag in ("a", "b"):
        assert berth(env, "tag", "busybox", f"{OPEN}/team/multi:{tag}").returncode == 0
    assert berth(env, "push", "-a", f"{OPEN}/team/multi").returncode == 0
    assert berth(env, "rmi", f"{OPEN}/team/multi:a", f"{OPEN}/team/multi:b").returncode == 0
    r = berth(env, "pull", "-a", f"{OPEN}/team/multi")
    assert r.returncode == 0, r.stderr
    assert "a: Pulling from" in r.stdout and "b: Pulling from" in r.stdout
    assert _inspect(env, f"{OPEN}/team/multi:a")["Id"] == _inspect(env, f"{OPEN}/team/multi:b")["Id"]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
def test_oci_image_pulled_and_pushed_back_as_oci(sandbox, env):
    """An image that came as OCI (skopeo --format oci) is pushed back as an OCI manifest."""
    sb = sandbox
    archive = os.path.join(sb.dir, "bb.tar")
    assert berth(env, "save", "-o", archive, "busybox").returncode == 0
    r = sb.nsenter(["skopeo", "--insecure-policy", "copy", "--format", "oci", "--dest-tls-verify=false",
                    f"docker-archive:{archive}", f"docker://{OPEN}/team/oci:1"], timeout=60)
    assert r.returncode == 0, r.stderr
    pulled = berth(env, "pull", f"{OPEN}/team/oci:1")
    assert pulled.returncode == 0, pulled.stderr
    assert berth(env, "tag", f"{OPEN}/team/oci:1", f"{OPEN}/team/oci-copy:1").returncode == 0
    pushed = berth(env, "push", f"{OPEN}/team/oci-copy:1")
    assert pushed.returncode == 0, pushed.stderr
    assert "1: digest: sha256:" in pushed.stdout
    raw = sb.nsenter(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{OPEN}/team/oci-copy:1"])
    assert json.loads(raw.stdout)["mediaType"] == "application/vnd.oci.image.manifest.v1+json"


UPLOAD_SCRIPT = r'''
import hashlib, json, sys, urllib.request
reg, repo, tag = sys.argv[1:4]
blobs = json.load(sys.stdin)
def put_blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r = urllib.request.urlopen(urllib.request.Request(f"http://{reg}/v2/{repo}/blobs/uploads/", method="POST"))
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else f"http://{reg}{loc}"
    sep = "&" if "?" in loc else "?"
    urllib.request.urlopen(urllib.request.Request(f"{loc}{sep}digest={d}", data=data, method="PUT",
                                                  headers={"Content-Type": "application/octet-stream"}))
    return d
for hexdata in blobs["blobs"]:
    put_blob(bytes.fromhex(hexdata))
m = bytes.fromhex(blobs["manifest"])
urllib.request.urlopen(urllib.request.Request(f"http://{reg}/v2/{repo}/manifests/{tag}", data=m, method="PUT",
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}))
'''


def test_zstd_oci_layer_is_pulled_and_pushed_as_oci(sandbox, env):
    import hashlib
    import io
    import tarfile

    import zstandard

    sb = sandbox
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"compressed with zstd\n"
        info = tarfile.TarInfo("zstd.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    layer = zstandard.ZstdCompressor().compress(raw)
    sha = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()  # noqa: E731
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["cat", "/zstd.txt"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(raw)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                                       "digest": sha(layer), "size": len(layer)}]},
                          separators=(",", ":")).encode()  # compact, as Go's json.Marshal (buildkit) writes it
    doc = json.dumps({"blobs": [layer.hex(), config.hex()], "manifest": manifest.hex()})
    r = subprocess.run(sb.nsenter_argv([sys.executable, "-c", UPLOAD_SCRIPT, OPEN, "team/zstd", "1"]),
                       input=doc, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    pulled = berth(env, "pull", f"{OPEN}/team/zstd:1")
    assert pulled.returncode == 0 and "Pull complete" in pulled.stdout, (pulled.stdout, pulled.stderr)
    assert _inspect(env, f"{OPEN}/team/zstd:1")["Id"] == sha(config)
    assert berth(env, "tag", f"{OPEN}/team/zstd:1", f"{OPEN}/team/zstd-copy:1").returncode == 0
    pushed = berth(env, "push", f"{OPEN}/team/zstd-copy:1")
    assert pushed.returncode == 0 and f"1: digest: {sha(manifest)}" in pushed.stdout, (pushed.stdout, pushed.stderr)
