"""A full data root (a 160 MiB tmpfs in the sandbox's mount namespace): commit, build and
logging fail or degrade with docker's "no space left on device", `rm -f` still works
(it is how users free space), and afterwards everything works with nothing corrupt."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.harness import free_mib

pytestmark = [pytest.mark.integration, pytest.mark.compat]


def test_full_disk_fails_clearly_and_recovers(small_disk, tmp_path):
    sb = small_disk
    d = sb.docker
    # commit: the container's 100 MB cannot be copied into a layer.
    res = d("run", "--name", "filler", "busybox", "sh", "-c", "yes abcdefghijklmnop | head -c 100000000 > /big")
    assert res.returncode == 0, res.stderr
    res = d("commit", "filler", "big:1")
    assert res.returncode == 1
    assert "no space left on device" in res.stderr.lower()
    assert "internal error" not in res.stderr

    # build: a RUN that writes more than is left.
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN yes abcdefghijklmnop | head -c 35000000 > /more\n")
    env = dict(sb.env(), DOCKER_BUILDKIT="0")
    res = subprocess.run(["docker", "build", "-t", "big:2", str(ctx)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode != 0
    assert "no space left on device" in (res.stdout + res.stderr).lower()

    # logging: a chatty container fills what is left and keeps running.
    res = d("run", "-d", "--name", "chatty", "busybox", "sh", "-c",
            "while true; do echo 0123456789012345678901234567890123456789012345678901234567890123456789; done")
    assert res.returncode == 0, res.stderr
    deadline = time.monotonic() + 60
    while free_mib(sb) > 1:
        assert time.monotonic() < deadline, "the disk never filled"
        time.sleep(0.5)
    assert d("inspect", "-f", "{{.State.Running}}", "chatty").stdout.strip() == "true"

    # The way out: removing things works on a full disk.
    res = d("rm", "-f", "chatty", "filler")
    assert res.returncode == 0, res.stderr
    assert free_mib(sb) > 100

    # Nothing corrupt: the image still runs, new containers, commits and logs work.
    res = d("run", "--rm", "busybox", "echo", "alive")
    assert (res.returncode, res.stdout) == (0, "alive\n"), res.stderr
    assert d("run", "--name", "small", "busybox", "sh", "-c", "echo hi > /f").returncode == 0
    res = d("commit", "small", "small:1")
    assert res.returncode == 0, res.stderr
    assert d("run", "--rm", "small:1", "cat", "/f").stdout == "hi\n"
    assert d("logs", "small").returncode == 0
    images = d("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "busybox:latest" in images and "small:1" in images
    assert "Traceback" not in sb.log_text()
