#!/usr/bin/env python3
"""Push and pull of a 200 MiB image against a local distribution registry.

Mirrors the `pushpull` workload of ../shared/bench/workloads.sh: an image of
busybox plus one layer holding 200 MiB of random data, pushed to Debian's
docker-registry (distribution 2.8) on 127.0.0.1:5000 and pulled back after
`rmi` (busybox stays, so its layer "Already exists"). Each repetition uses a
fresh berthd and a fresh registry (both inside a private network namespace),
so every push compresses and uploads and every pull downloads and extracts.
Prints medians and the ratios against docker's figures in anchors.md.

    python3 bench/transfer_bench.py [--reps 3]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from harness import Sandbox
from test_pull_push_util import start_registry

DOCKER_PUSH, DOCKER_PULL = 9.1, 2.5      # anchors.md, docker on this machine kind
TARGET_PUSH, TARGET_PULL = 4.5, 1.25
SIZE = 200 * 1024 * 1024
CACHE = "/var/tmp/berth-bench"


def _archive(path: str) -> None:
    """busybox:latest and bench/big:1 (busybox + big.bin) as a docker archive."""
    from berth.images.bootstrap import write_rootfs_tar

    os.makedirs(CACHE, exist_ok=True)
    base = os.path.join(CACHE, "busybox.tar")
    if not os.path.exists(base):
        with open(base, "wb") as f:
            write_rootfs_tar("busybox", f, lambda _l: None)
    big = os.path.join(CACHE, "big-layer.tar")
    if not os.path.exists(big) or os.path.getsize(big) < SIZE:
        with open(big, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tf:
            info = tarfile.TarInfo("big.bin")
            info.size = SIZE
            info.mode = 0o644
            info.mtime = 1700000000
            tf.addfile(info, io.BytesIO(os.urandom(SIZE)))

    def digest(p: str) -> str:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return "sha256:" + h.hexdigest()

    d_base, d_big = digest(base), digest(big)

    def config(diff_ids: list[str]) -> bytes:
        return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                           "created": "2024-01-01T00:00:00Z",
                           "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()

    c1, c2 = config([d_base]), config([d_base, d_big])
    with tarfile.open(path, "w") as tf:
        tf.add(base, "base/layer.tar")
        tf.add(big, "big/layer.tar")
        for name, data in (("c1.json", c1), ("c2.json", c2), ("manifest.json", json.dumps([
                {"Config": "c1.json", "RepoTags": ["busybox:latest"], "Layers": ["base/layer.tar"]},
                {"Config": "c2.json", "RepoTags": ["bench/big:1"],
                 "Layers": ["base/layer.tar", "big/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _timed(sb: Sandbox, *args: str) -> float:
    t0 = time.monotonic()
    r = sb.berth(*args, timeout=600)
    t = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"berth {' '.join(args)} failed: {r.stderr}\n{sb.log_text()}")
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    opts = ap.parse_args()
    archive = os.path.join(CACHE, "bench-archive.tar")
    if not os.path.exists(archive):
        _archive(archive)
    pushes, pulls = [], []
    for rep in range(opts.reps):
        sb = Sandbox()
        try:
            sb.start_daemon("--log-level", "info")
            start_registry(sb, 5000)
            r = sb.berth("load", "-i", archive, timeout=600)
            if r.returncode != 0:
                raise SystemExit(f"load failed: {r.stderr}")
            sb.berth("tag", "bench/big:1", "127.0.0.1:5000/big:1")
            pushes.append(_timed(sb, "push", "127.0.0.1:5000/big:1"))
            sb.berth("rmi", "-f", "127.0.0.1:5000/big:1")
            sb.berth("rmi", "-f", "bench/big:1")
            pulls.append(_timed(sb, "pull", "127.0.0.1:5000/big:1"))
            print(f"rep {rep + 1}: push {pushes[-1]:.2f} s, pull {pulls[-1]:.2f} s", flush=True)
        finally:
            sb.close()
    push, pull = statistics.median(pushes), statistics.median(pulls)
    print(f"push_200mb median {push:.2f} s  (docker {DOCKER_PUSH} s: ratio {push / DOCKER_PUSH:.2f}; "
          f"target <= {TARGET_PUSH} s: {'met' if push <= TARGET_PUSH else 'NOT met'})")
    print(f"pull_200mb median {pull:.2f} s  (docker {DOCKER_PULL} s: ratio {pull / DOCKER_PULL:.2f}; "
          f"target <= {TARGET_PULL} s: {'met' if pull <= TARGET_PULL else 'NOT met'})")


if __name__ == "__main__":
    main()
