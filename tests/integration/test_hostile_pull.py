"""The hostile-layer corpus (tests/hostile_corpus.py) PULLED by the real docker CLI from
`berth registry serve` (issue 10): the pull path (distribution/pull.py -> layer_tar) must
write nothing outside the layer, refuse what cannot be contained with a clear error, keep
the daemon healthy, and stream a decompression bomb with bounded memory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid

import pytest
from isal import igzip
from test_pull_push_util import push_gzip_layers, start_berth_registry

from tests.hostile_corpus import corpus, decompression_bomb
from tests.load import RssSampler, rss_kib

pytestmark = [pytest.mark.integration, pytest.mark.compat,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

REG = "127.0.0.1:5000"
CASE_NAMES = [c.name for c in corpus("/tmp/x/y")]


def _docker(sb, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/local/bin/docker", *args], capture_output=True, text=True, env=sb.env(),
                          timeout=timeout)


def _write_gzip(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(igzip.compress(data, compresslevel=1))


@pytest.fixture(scope="module")
def pushed(sandbox, tmp_path_factory):
    """Every case pushed as hostile/<case>:1 (one gzip'd layer each); returns the marker."""
    sb = sandbox
    target = tmp_path_factory.mktemp("hostile-pull-target")
    os.chmod(target, 0o777)
    marker = os.path.join(str(target), "pwned-" + uuid.uuid4().hex[:8])
    start_berth_registry(sb, 5000, os.path.join(sb.dir, "hostile-reg"))
    for case in corpus(marker):
        gz = os.path.join(sb.dir, f"layer-{case.name}.tar.gz")
        _write_gzip(gz, case.data)
        diff_id = "sha256:" + hashlib.sha256(case.data).hexdigest()
        push_gzip_layers(sb, REG, f"hostile/{case.name}", "1", [(gz, diff_id)])
    return marker


def _no_escape(marker: str) -> None:
    assert not os.path.lexists(marker), f"{marker} was written outside the layer"
    assert not os.path.lexists("/etc/pwned"), "wrote into the host's /etc"


def _staging_leftovers(sb) -> list[str]:
    """Staging dirs of the snapshotter that a failed pull would leave half-made."""
    out = []
    for dirpath in (os.path.join(sb.data_root, "overlay", "staging"), os.path.join(sb.data_root, "overlay", "tmp")):
        if os.path.isdir(dirpath):
            out += os.listdir(dirpath)
    return out


@pytest.mark.parametrize("name", CASE_NAMES)
def test_pull_contains_or_refuses(sandbox, pushed, name):
    sb = sandbox
    case = next(c for c in corpus(pushed) if c.name == name)
    ref = f"{REG}/hostile/{name}:1"
    res = _docker(sb, "pull", ref)
    _no_escape(pushed)
    assert "internal error" not in res.stderr
    if case.refused:
        assert res.returncode == 1, f"{name} was pulled: {res.stdout}"
        # docker prints the stream's error as it is: "failed to register layer: invalid tar entry ..."
        assert res.stderr.startswith("failed to register layer: invalid "), res.stderr
        assert _docker(sb, "image", "inspect", ref).returncode == 1, "a refused image was recorded"
        assert _staging_leftovers(sb) == []
    else:
        assert res.returncode == 0, res.stderr
        assert "Pull complete" in res.stdout and f"Downloaded newer image for {ref}" in res.stdout, res.stdout
        assert _docker(sb, "image", "inspect", ref).returncode == 0


def test_daemon_healthy_after_the_corpus(sandbox, pushed):
    sb = sandbox
    for name in CASE_NAMES:
        _docker(sb, "pull", f"{REG}/hostile/{name}:1")
    _no_escape(pushed)
    res = _docker(sb, "run", "--rm", "busybox", "echo", "alive")
    assert (res.returncode, res.stdout) == (0, "alive\n"), res.stderr
    # the contained ones are real images: they can be created and read back
    res = _docker(sb, "create", "--name", "suid-ctr", f"{REG}/hostile/setuid-file:1", "x")
    assert res.returncode == 0, res.stderr
    try:
        listing = _docker(sb, "export", "suid-ctr")
        assert listing.returncode == 0
    finally:
        _docker(sb, "rm", "-f", "suid-ctr")
    assert "Traceback" not in sb.log_text()


def test_pulled_decompression_bomb_is_streamed_with_bounded_memory(sandbox, pushed):
    sb = sandbox
    size = 1 << 30
    bomb = decompression_bomb(size)
    assert len(bomb) < 8 << 20
    gz = os.path.join(sb.dir, "bomb.tar.gz")
    with open(gz, "wb") as f:
        f.write(bomb)
    h = hashlib.sha256()
    with igzip.open(gz, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    push_gzip_layers(sb, REG, "hostile/bomb", "1", [(gz, "sha256:" + h.hexdigest())])
    pid = sb.daemon_pid()
    before = rss_kib(pid)
    with RssSampler(pid) as sampler:
        res = _docker(sb, "pull", f"{REG}/hostile/bomb:1")
    assert res.returncode == 0, res.stderr
    assert sampler.peak - before < 150 * 1024, (before, sampler.peak)
    inspected = _docker(sb, "image", "inspect", "-f", "{{.Size}}", f"{REG}/hostile/bomb:1")
    assert int(inspected.stdout.strip()) >= size
    assert _docker(sb, "rmi", f"{REG}/hostile/bomb:1").returncode == 0
