"""save / load through the real docker CLI and the berth CLI: round trips keep
tags and image IDs, archives in docker's older layout (`<id>/layer.tar`,
shared layers as symlinks) and OCI layouts with gzip layers load, and hostile
archives are refused with nothing written outside."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]


def _id(sb, ref):
    r = sb.docker("image", "inspect", "-f", "{{.Id}}", ref)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _add(tf: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            _add(tf, name, data)
    return buf.getvalue()


def _config(diff_ids: list[str], cmd: list[str]) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd},
                       "created": "2024-01-01T00:00:00Z",
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_docker_save_pipe_load_keeps_tags_and_ids(sandbox):
    sb = sandbox
    assert sb.docker("tag", "busybox", "saved/one:v1").returncode == 0
    image_id = _id(sb, "busybox")
    env = sb.env()
    save = subprocess.run("/usr/local/bin/docker save busybox saved/one:v1 > " + os.path.join(sb.dir, "s.tar"),
                          shell=True, env=env, capture_output=True, text=True)
    assert save.returncode == 0, save.stderr
    with tarfile.open(os.path.join(sb.dir, "s.tar")) as tf:
        names = tf.getnames()
        manifest = json.load(tf.extractfile("manifest.json"))
        index = json.load(tf.extractfile("index.json"))
    assert {"oci-layout", "index.json", "manifest.json", "repositories"} <= set(names)
    assert sorted(manifest[0]["RepoTags"]) == ["busybox:latest", "saved/one:v1"]
    assert manifest[0]["Config"] == "blobs/sha256/" + image_id[7:]
    assert {m["annotations"]["io.containerd.image.name"] for m in index["manifests"]} == {
        "docker.io/library/busybox:latest", "docker.io/saved/one:v1"}
    assert sb.docker("rmi", "saved/one:v1").returncode == 0
    r = subprocess.run("/usr/local/bin/docker load < " + os.path.join(sb.dir, "s.tar"), shell=True, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Loaded image: saved/one:v1" in r.stdout and "Loaded image: busybox:latest" in r.stdout
    assert _id(sb, "saved/one:v1") == image_id
    # the reloaded layer is byte-identical: saving again gives the same layer blob
    again = sb.berth("save", "-o", os.path.join(sb.dir, "s2.tar"), "saved/one:v1")
    assert again.returncode == 0, again.stderr
    with tarfile.open(os.path.join(sb.dir, "s2.tar")) as tf:
        assert json.load(tf.extractfile("manifest.json"))[0]["Layers"] == manifest[0]["Layers"]


def test_berth_load_of_docker_legacy_archive_with_shared_layer_symlinks(sandbox):
    sb = sandbox
    base = _layer({"hello.txt": b"hello from a legacy archive\n"})
    top = _layer({"top.txt": b"top\n"})
    base_id, top_id = _sha(base), _sha(top)
    c1 = _config([base_id], ["cat", "/hello.txt"])
    c2 = _config([base_id, top_id], ["cat", "/top.txt"])
    v1a, v1b, v1c = "a" * 64, "b" * 64, "c" * 64
    path = os.path.join(sb.dir, "legacy.tar")
    with tarfile.open(path, "w") as tf:
        _add(tf, f"{v1a}/", kind=tarfile.DIRTYPE)
        _add(tf, f"{v1a}/VERSION", b"1.0")
        _add(tf, f"{v1a}/layer.tar", base)
        _add(tf, f"{v1b}/", kind=tarfile.DIRTYPE)
        _add(tf, f"{v1b}/layer.tar", kind=tarfile.SYMTYPE, link=f"../{v1a}/layer.tar")
        _add(tf, f"{v1c}/layer.tar", top)
        _add(tf, _sha(c1)[7:] + ".json", c1)
        _add(tf, _sha(c2)[7:] + ".json", c2)
        _add(tf, "manifest.json", json.dumps([
            {"Config": _sha(c1)[7:] + ".json", "RepoTags": ["legacy/base:1"], "Layers": [f"{v1a}/layer.tar"]},
            {"Config": _sha(c2)[7:] + ".json", "RepoTags": ["legacy/top:1"],
             "Layers": [f"{v1b}/layer.tar", f"{v1c}/layer.tar"]}]).encode())
        _add(tf, "repositories", json.dumps({"legacy/base": {"1": v1a}}).encode())
    r = sb.berth("load", "-i", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Loaded image: legacy/base:1\nLoaded image: legacy/top:1\n"
    assert _id(sb, "legacy/base:1") == _sha(c1) and _id(sb, "legacy/top:1") == _sha(c2)
    layers = json.loads(sb.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", "legacy/top:1").stdout)
    assert layers == [base_id, top_id]


def test_docker_load_of_oci_layout_with_gzip_layer_and_untagged_image(sandbox):
    sb = sandbox
    raw = _layer({"oci.txt": b"from an oci layout\n"})
    gz = gzip.compress(raw, mtime=0)
    config = _config([_sha(raw)], ["cat", "/oci.txt"])
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": _sha(gz), "size": len(gz)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(manifest),
         "size": len(manifest), "annotations": {"io.containerd.image.name": "docker.io/oci/app:2"}}]}).encode()
    path = os.path.join(sb.dir, "oci.tar")
    with tarfile.open(path, "w") as tf:
        _add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tf, "index.json", index)
        for blob in (gz, config, manifest):
            _add(tf, "blobs/sha256/" + _sha(blob)[7:], blob)
    r = sb.docker("load", "-i", path)
    assert r.returncode == 0, r.stderr
    assert "Loaded image: oci/app:2" in r.stdout
    assert _id(sb, "oci/app:2") == _sha(config)
    # an archive of an image without a tag reports its ID
    save = sb.berth("save", "-o", os.path.join(sb.dir, "id.tar"), _sha(config))
    assert save.returncode == 0, save.stderr
    assert sb.docker("rmi", "oci/app:2").returncode == 0
    r = sb.docker("load", "-i", os.path.join(sb.dir, "id.tar"))
    assert r.returncode == 0 and f"Loaded image ID: {_sha(config)}" in r.stdout, (r.stdout, r.stderr)


@pytest.mark.parametrize("case", ["dotdot", "absolute-symlink", "absolute-name", "layer-escape"])
def test_hostile_archives_are_refused_with_nothing_written_outside(sandbox, case):
    sb = sandbox
    victim = os.path.join(sb.dir, "victim")
    os.makedirs(victim, exist_ok=True)
    images_before = sb.docker("images", "-q", "--no-trunc", "-a").stdout
    layer = _layer({"ok.txt": b"ok\n"})
    if case == "layer-escape":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            _add(tf, "link", kind=tarfile.SYMTYPE, link=victim)
            _add(tf, "link/pwned", b"pwned")
        layer = buf.getvalue()
    config = _config([_sha(layer)], ["true"])
    path = os.path.join(sb.dir, f"hostile-{case}.tar")
    with tarfile.open(path, "w") as tf:
        if case == "dotdot":
            _add(tf, "../../victim/pwned", b"pwned")
        if case == "absolute-name":
            _add(tf, os.path.join(victim, "pwned"), b"pwned")
        if case == "absolute-symlink":
            _add(tf, "layer.tar", kind=tarfile.SYMTYPE, link="/etc/passwd")
        else:
            _add(tf, "layer.tar", layer)
        _add(tf, "config.json", config)
        _add(tf, "manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["hostile:1"],
                                               "Layers": ["layer.tar"]}]).encode())
    before = set(os.listdir(sb.dir))
    r = sb.docker("load", "-i", path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "invalid" in r.stderr
    assert os.listdir(victim) == []
    assert set(os.listdir(sb.dir)) - before == set()
    assert sb.docker("images", "-q", "--no-trunc", "-a").stdout == images_before
    assert os.listdir(os.path.join(sb.data_root, "overlay", "staging")) == []


def test_save_to_a_terminal_is_refused(sandbox):
    sb = sandbox
    script = ("import os,pty,sys\n"
              "pid,fd=pty.fork()\n"
              "if pid==0:\n"
              "    os.execvp(sys.executable,[sys.executable,'-m','berth.cli.main','save','busybox'])\n"
              "out=b''\n"
              "while True:\n"
              "    try: d=os.read(fd,4096)\n"
              "    except OSError: break\n"
              "    if not d: break\n"
              "    out+=d\n"
              "_,st=os.waitpid(pid,0)\n"
              "print(os.waitstatus_to_exitcode(st)); print(out.decode())\n")
    r = subprocess.run([sys.executable, "-c", script], env=sb.env(), capture_output=True, text=True, timeout=30)
    code, _, text = r.stdout.partition("\n")
    assert code == "1"
    assert "Cowardly refusing to save to a terminal. Use the -o flag or redirect" in text


DOCKERD_SCRIPT = r'''
set -e
ip link set lo up
mount -t tmpfs tmpfs /var/run
D="$1"
# dockerd writes /etc/docker/key.json: keep the host's /etc untouched
mkdir -p "$D/etc-upper" "$D/etc-work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$D/etc-upper,workdir=$D/etc-work" /etc
dockerd --data-root "$D/data" --exec-root "$D/exec" -H "unix://$D/d.sock" --pidfile "$D/d.pid" --bridge=none \
  --iptables=false --ip-masq=false --storage-driver=vfs >"$D/dockerd.log" 2>&1 &
for i in $(seq 1 150); do [ -S "$D/d.sock" ] && break; sleep 0.1; done
export DOCKER_HOST="unix://$D/d.sock"
/usr/bin/docker load -i "$D/ours.tar"
/usr/bin/docker tag busybox:latest legacy/two:1
/usr/bin/docker save busybox:latest legacy/two:1 -o "$D/theirs.tar"
'''


@pytest.mark.skipif(not (os.path.exists("/usr/sbin/dockerd") and os.path.exists("/usr/bin/docker")),
                    reason="Debian's docker.io (dockerd 20.10) not installed")
def test_archives_round_trip_through_real_dockerd(sandbox, tmp_path):
    """berth save → dockerd 20.10 load/save (its legacy layout) → berth load: same image ID."""
    sb = sandbox
    image_id = _id(sb, "busybox")
    d = str(tmp_path)
    assert sb.berth("save", "-o", os.path.join(d, "ours.tar"), "busybox").returncode == 0
    r = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
                        "--propagation", "private", "bash", "-c", DOCKERD_SCRIPT, "dockerd-roundtrip", d],
                       capture_output=True, text=True, timeout=120)
    try:
        assert r.returncode == 0, (r.stdout, r.stderr, open(os.path.join(d, "dockerd.log")).read()[-2000:])
        assert "Loaded image: busybox:latest" in r.stdout
        with tarfile.open(os.path.join(d, "theirs.tar")) as tf:
            assert any(n.endswith("/layer.tar") for n in tf.getnames())  # docker 20.10's own layout
        loaded = sb.docker("load", "-i", os.path.join(d, "theirs.tar"))
        assert loaded.returncode == 0, loaded.stderr
        assert "Loaded image: legacy/two:1" in loaded.stdout
        assert _id(sb, "legacy/two:1") == image_id
    finally:
        subprocess.run(["rm", "-rf", os.path.join(d, "data"), os.path.join(d, "exec"), os.path.join(d, "etc-work")])


def test_load_over_an_existing_tag_says_so_and_emits_load_events(sandbox):
    sb = sandbox
    assert sb.docker("tag", "busybox", "ren:1").returncode == 0
    archive = os.path.join(sb.dir, "ren.tar")
    assert sb.docker("save", "-o", archive, "ren:1").returncode == 0
    other = os.path.join(sb.dir, "other-layer.tar")
    with open(other, "wb") as f:
        f.write(_layer({"other.txt": b"other\n"}))
    assert sb.docker("import", other, "ren:1").returncode == 0
    old_id = _id(sb, "ren:1")
    r = sb.docker("load", "-i", archive)
    assert r.returncode == 0, r.stderr
    assert (f"The image ren:1 already exists, renaming the old one with ID {old_id} to empty string\n"
            "Loaded image: ren:1\n") in r.stdout
    assert _id(sb, "ren:1") == _id(sb, "busybox")
    import time

    ev = sb.docker("events", "--since", "60s", "--until", str(int(time.time()) + 1), "--filter", "type=image",
                   "--format", "{{.Action}} {{.Actor.ID}}")
    assert f"load {_id(sb, 'ren:1')}" in ev.stdout, ev.stdout


def test_compressed_archives_load_like_dockers(sandbox):
    sb = sandbox
    image_id = _id(sb, "busybox")
    raw = subprocess.run(["/usr/local/bin/docker", "save", "busybox"], env=sb.env(), capture_output=True).stdout
    for name, data in (("gz", gzip.compress(raw, 1)), ("zst", __import__("zstandard").ZstdCompressor().compress(raw))):
        path = os.path.join(sb.dir, f"busybox.tar.{name}")
        with open(path, "wb") as f:
            f.write(data)
        r = sb.docker("load", "-i", path)
        assert r.returncode == 0 and "Loaded image: busybox:latest" in r.stdout, (name, r.stderr)
        assert _id(sb, "busybox") == image_id
    cut = os.path.join(sb.dir, "cut.tar.gz")
    with open(cut, "wb") as f:
        f.write(gzip.compress(raw, 1)[:5000])
    r = sb.docker("load", "-i", cut)
    assert r.returncode == 1 and "invalid archive" in r.stderr, r.stderr
