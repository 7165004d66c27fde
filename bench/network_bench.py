"""Network benchmark (issue 5) against a sandboxed berthd.

1. What bridge networking adds to `run --rm busybox true`: the create/start/wait/remove
   cycle through the Engine API on the default bridge against `--network none`,
   interleaved; the added time is the median of the paired differences
   (target: at most 30 ms added).
2. HTTP requests per second through a published port: busybox httpd behind
   `-p 127.0.0.1:PORT:80` (as in workloads.sh: kernel DNAT with route_localnet on the bridge;
   the userland proxy holds the port and serves containers on the same bridge) and behind
   `-p PORT:80` reached at the bridge's address (the kernel's DNAT path), with
   `wrk -t2 -c32 -d10s` from the daemon's namespace (anchors.md: docker 3,253-4,033
   req/s; target at least 4,000).

wrk is not in scripts/setup.sh (CI does not run benchmarks): `apt-get install -y wrk`.

    python3 bench/network_bench.py [--runs 40] [--only run|http] [--duration 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from harness import Sandbox, api, make_busybox_tar  # noqa: E402


def _cycle(sb: Sandbox, mode: str) -> float:
    t0 = time.perf_counter()
    status, doc = api(sb, "POST", "/v1.45/containers/create",
                      {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": mode}})
    assert status == 201, doc
    cid = doc["Id"]
    status, doc = api(sb, "POST", f"/v1.45/containers/{cid}/start")
    assert status == 204, doc
    status, doc = api(sb, "POST", f"/v1.45/containers/{cid}/wait")
    assert status == 200 and doc["StatusCode"] == 0, doc
    status, _ = api(sb, "DELETE", f"/v1.45/containers/{cid}")
    assert status == 204
    return (time.perf_counter() - t0) * 1000


def bench_run(sb: Sandbox, runs: int) -> None:
    for mode in ("bridge", "none"):
        _cycle(sb, mode)  # warm up
    bridge, none, diffs = [], [], []
    for _ in range(runs):
        b = _cycle(sb, "bridge")
        n = _cycle(sb, "none")
        bridge.append(b)
        none.append(n)
        diffs.append(b - n)
    print(f"run --rm (API cycle), median of {runs}: bridge {statistics.median(bridge):.1f} ms, "
          f"--network none {statistics.median(none):.1f} ms, added by the bridge "
          f"{statistics.median(diffs):.1f} ms (target <= 30 ms)")


def _wrk(sb: Sandbox, url: str, duration: int) -> str:
    res = sb.nsenter(["wrk", "-t2", "-c32", f"-d{duration}s", url], timeout=duration + 30)
    rps = next((line.split()[1] for line in res.stdout.splitlines() if line.startswith("Requests/sec:")), "NA")
    errors = next((line.strip() for line in res.stdout.splitlines() if "Socket errors" in line), "")
    return f"{rps} req/s {errors}".strip()


def bench_http(sb: Sandbox, duration: int) -> None:
    if shutil.which("wrk") is None:
        print("http: wrk is not installed (apt-get install -y wrk)")
        return
    sb.docker("run", "-d", "--name", "h1", "-p", "127.0.0.1:18080:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    sb.docker("run", "-d", "--name", "h2", "-p", "18081:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    for url in ("http://127.0.0.1:18080/passwd", "http://172.17.0.1:18081/passwd"):
        for _ in range(50):
            if sb.nsenter(["busybox", "wget", "-qO-", url], timeout=5).returncode == 0:
                break
            time.sleep(0.1)
    print(f"http 127.0.0.1 (DNAT, route_localnet), wrk -t2 -c32 -d{duration}s: "
          f"{_wrk(sb, 'http://127.0.0.1:18080/passwd', duration)}  (docker 3,253-4,033; target >= 4,000)")
    print(f"http bridge address (DNAT), wrk -t2 -c32 -d{duration}s: "
          f"{_wrk(sb, 'http://172.17.0.1:18081/passwd', duration)}")
    sb.docker("rm", "-f", "h1", "h2")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--only", choices=("run", "http"))
    args = p.parse_args()
    sb = Sandbox()
    try:
        sb.start_daemon("--log-level", "info")
        sb.import_busybox(make_busybox_tar(sb.dir))
        if args.only in (None, "run"):
            bench_run(sb, args.runs)
        if args.only in (None, "http"):
            bench_http(sb, args.duration)
    finally:
        sb.close()


if __name__ == "__main__":
    main()
