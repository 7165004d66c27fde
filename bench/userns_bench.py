"""What `--userns-remap` adds to a container start (issue 10).

One sandboxed berthd started with `--userns-remap default` (on a copy of /etc,
as in tests/integration/test_userns_remap.py); the baseline is the same daemon
with `--userns=host`, which skips the mapping, so the difference is exactly
the remap: a user namespace for the runtime, one idmapped mount per image
layer, the chowns. Cycles alternate and the added time is the median of the
paired differences.

1. API cycle create/start/wait/remove of `busybox true`.
2. `docker run --rm busybox true` through the docker CLI.
3. The API cycle with a 46-layer image.

    python3 bench/userns_bench.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from harness import Sandbox, api, make_busybox_tar


def _api_cycle(sb: Sandbox, userns: str, image: str = "busybox") -> float:
    t0 = time.perf_counter()
    body = {"Image": image, "Cmd": ["true"], "HostConfig": {"UsernsMode": userns}}
    status, doc = api(sb, "POST", "/v1.45/containers/create", body)
    assert status == 201, doc
    cid = doc["Id"]
    status, doc = api(sb, "POST", f"/v1.45/containers/{cid}/start")
    assert status == 204, doc
    status, doc = api(sb, "POST", f"/v1.45/containers/{cid}/wait")
    assert status == 200 and doc["StatusCode"] == 0, doc
    status, _ = api(sb, "DELETE", f"/v1.45/containers/{cid}")
    assert status == 204
    return (time.perf_counter() - t0) * 1000


def _cli_run(sb: Sandbox, userns: str) -> float:
    extra = ["--userns=host"] if userns == "host" else []
    t0 = time.perf_counter()
    res = sb.docker("run", "--rm", *extra, "busybox", "true")
    assert res.returncode == 0, res.stderr
    return (time.perf_counter() - t0) * 1000


def _many_layers(sb: Sandbox) -> None:
    """busybox + 45 COPY layers: 46 lowerdirs from the idmapped layers view."""
    ctx = os.path.join(sb.dir, "many")
    os.makedirs(ctx)
    with open(os.path.join(ctx, "a"), "w") as f:
        f.write("x\n")
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM busybox\n" + "".join(f"COPY a /a{i}\n" for i in range(45)))
    res = subprocess.run(["docker", "build", "-q", "-t", "manylayers", ctx], check=False, capture_output=True, text=True,
                         env=dict(sb.env(), DOCKER_BUILDKIT="0"))
    assert res.returncode == 0, res.stderr


def _paired(fn, sb: Sandbox, runs: int) -> tuple[float, float, float]:
    remapped, plain, diffs = [], [], []
    for _ in range(runs):
        a = fn(sb, "")
        b = fn(sb, "host")
        remapped.append(a)
        plain.append(b)
        diffs.append(a - b)
    return statistics.median(remapped), statistics.median(plain), statistics.median(diffs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    sb = Sandbox()
    try:
        os.chmod(sb.dir, 0o711)
        etc = os.path.join(sb.dir, "etc")
        subprocess.run(["cp", "-a", "/etc", etc], check=True)
        sb.nsenter(["mount", "--bind", etc, "/etc"], check=True)
        sb.start_daemon("--userns-remap", "default", "--log-level", "warn")
        sb.import_busybox(make_busybox_tar(sb.dir))
        for _ in range(3):  # warm up: the zygote, the userns fd, page cache
            _api_cycle(sb, "")
            _api_cycle(sb, "host")
        print(f"userns bench: {args.runs} paired cycles each, medians (ms)")
        _many_layers(sb)
        many = lambda sb_, userns: _api_cycle(sb_, userns, "manylayers")
        for label, fn in (("API create/start/wait/rm", _api_cycle), ("docker run --rm true", _cli_run),
                          ("API cycle, 46-layer image", many)):
            remapped, plain, added = _paired(fn, sb, args.runs)
            print(f"  {label:28s} remapped {remapped:7.1f}  --userns=host {plain:7.1f}  added {added:+6.1f}")
    finally:
        sb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
