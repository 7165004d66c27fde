"""A pull onto a full data root (issue 10, crash safety): the data root is a 160 MiB
tmpfs in the sandbox's mount namespace, the registry's storage lives outside it. The
pull fails with docker's "no space left on device", leaves no image and no half-made
layer in the snapshotter, and once space is freed the same pull succeeds and runs."""

from __future__ import annotations

import hashlib
import io
import os
import random
import subprocess
import tarfile

import pytest
from isal import igzip
from test_pull_push_util import push_gzip_layers, start_berth_registry

from tests.harness import Sandbox, free_mib

pytestmark = [pytest.mark.integration, pytest.mark.compat,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

REG = "127.0.0.1:5002"
MIB = 1 << 20


def _random_tar(name: str, size: int, seed: int) -> bytes:
    data = random.Random(seed).randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _ls(sb: Sandbox, *parts: str) -> list[str]:
    """A directory of the data root, seen from inside the sandbox (the tmpfs is mounted
    only in its mount namespace)."""
    r = sb.nsenter(["ls", "-A", os.path.join(sb.data_root, *parts)], check=True)
    return r.stdout.split()


def _half_made(sb: Sandbox) -> list[str]:
    """Layers being applied (overlay/staging) that nothing committed."""
    return _ls(sb, "overlay", "staging")


def test_pull_onto_a_full_disk_fails_clearly_and_recovers(small_disk, busybox_tar):
    sb = small_disk
    d = sb.docker
    start_berth_registry(sb, 5002, os.path.join(sb.dir, "registry"))  # outside the tmpfs
    # The image to pull: busybox's layer (already there) and a 40 MiB incompressible one
    # (its kept blob and its applied files need ~80 MiB on the data root).
    layers = []
    with open(busybox_tar, "rb") as f:
        base = f.read()
    raw = _random_tar("payload.bin", 40 * MIB, seed=7)
    for name, data in (("base", base), ("big", raw)):
        gz = os.path.join(sb.dir, f"{name}.tar.gz")
        with open(gz, "wb") as f:
            f.write(igzip.compress(data, compresslevel=1))
        layers.append((gz, "sha256:" + hashlib.sha256(data).hexdigest()))
    del raw, base
    push_gzip_layers(sb, REG, "team/big", "1", layers, config={"config": {"Cmd": ["ls", "-l", "/payload.bin"]}})

    # A filler image that leaves less than that (an import keeps its layer and its blob: ~90 MiB).
    filler = _random_tar("filler.bin", 45 * MIB, seed=8)
    res = subprocess.run(["/usr/local/bin/docker", "import", "-", "filler:1"], input=filler, env=sb.env(),
                         capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr
    del filler
    assert free_mib(sb) < 72, free_mib(sb)

    layers_before = _ls(sb, "overlay", "layers")
    res = d("pull", f"{REG}/team/big:1")
    assert res.returncode == 1, res.stdout
    # docker: "failed to register layer: write /var/lib/docker/...: no space left on device" when
    # applying, "write /var/lib/docker/tmp/GetImageBlob...: no space ..." when downloading; which
    # of the two overlapping halves of a berth pull runs out first is a race
    assert res.stderr.startswith(("failed to register layer: ", "failed to download layer: write ")), res.stderr
    assert res.stderr.rstrip().endswith(": no space left on device"), res.stderr
    assert "internal error" not in res.stderr
    assert d("image", "inspect", f"{REG}/team/big:1").returncode == 1
    assert f"{REG}/team/big" not in d("images", "--format", "{{.Repository}}").stdout
    assert _half_made(sb) == []
    assert _ls(sb, "overlay", "layers") == layers_before
    # the partial download is dropped too: kept, it would only hold on to the space that ran out
    assert _ls(sb, "distribution", "partial") == []

    # Free space the way a user does, and pull again.
    res = d("rmi", "filler:1")
    assert res.returncode == 0, res.stderr
    res = d("pull", f"{REG}/team/big:1")
    assert res.returncode == 0, res.stderr
    assert f"Downloaded newer image for {REG}/team/big:1" in res.stdout
    res = d("run", "--rm", f"{REG}/team/big:1")
    assert res.returncode == 0, res.stderr
    assert str(40 * MIB) in res.stdout
    res = d("run", "--rm", "busybox", "echo", "alive")
    assert (res.returncode, res.stdout) == (0, "alive\n"), res.stderr
    assert _half_made(sb) == []
    assert "Traceback" not in sb.log_text()
