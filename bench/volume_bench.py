"""Volume benchmark (issue 6) against a sandboxed berthd.

1. What a named volume mount adds to `run --rm busybox true`: the same
   create/start/wait/remove cycle through the Engine API with and without
   `-v benchvol:/data`, interleaved; the added time is the median of the paired
   differences (target: at most 5 ms added).
   The same through the docker CLI, for reference.
2. Copy-up of 100 MB of image content into a new volume against `cp -a` of the
   same tree: `run -d -v newvol:/data img` minus the same run with `:nocopy`,
   and `cp -a` of the image's /data (from a running container's rootfs) onto
   the same filesystem, medians of 3 (target: copy-up at least 70% of cp -a's
   speed, i.e. cp_time / copyup_time >= 0.7).

    python3 bench/volume_bench.py [--runs 60] [--copies 3] [--only mount|copy]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from harness import Sandbox, api, make_busybox_tar  # noqa: E402


def _api_cycle(sb: Sandbox, binds: list[str] | None) -> float:
    t0 = time.perf_counter()
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": binds, "AutoRemove": False}}
    status, doc = api(sb, "POST", "/v1.45/containers/create", body)
    assert status == 201, doc
    cid = doc["Id"]
    status, doc = api(sb, "POST", f"/v1.45/containers/{cid}/start")
    assert status == 204, doc
    status, doc = api(sb, "POST", f"/v1.45/containers/{cid}/wait")
    assert status == 200 and doc["StatusCode"] == 0, doc
    status, _ = api(sb, "DELETE", f"/v1.45/containers/{cid}?v=1")
    assert status == 204
    return (time.perf_counter() - t0) * 1000


def _cli_cycle(sb: Sandbox, extra: list[str]) -> float:
    t0 = time.perf_counter()
    r = sb.docker("run", "--rm", *extra, "busybox", "true")
    assert r.returncode == 0, r.stderr
    return (time.perf_counter() - t0) * 1000


def mount_overhead(sb: Sandbox, runs: int) -> dict:
    api(sb, "POST", "/v1.45/volumes/create", {"Name": "benchvol"})
    for _ in range(3):  # warm up
        _api_cycle(sb, None)
        _api_cycle(sb, ["benchvol:/data"])
    plain, vol, cli_plain, cli_vol = [], [], [], []
    for _ in range(runs):
        plain.append(_api_cycle(sb, None))
        vol.append(_api_cycle(sb, ["benchvol:/data"]))
    for _ in range(max(5, runs // 2)):
        cli_plain.append(_cli_cycle(sb, []))
        cli_vol.append(_cli_cycle(sb, ["-v", "benchvol:/data"]))
    m = statistics.median
    # The machine is shared and noisy: the added time is the median of the paired
    # differences (each volume run against the plain run just before it).
    return {"api_plain_ms": m(plain), "api_volume_ms": m(vol),
            "api_added_ms": m([b - a for a, b in zip(plain, vol)]),
            "cli_plain_ms": m(cli_plain), "cli_volume_ms": m(cli_vol),
            "cli_added_ms": m([b - a for a, b in zip(cli_plain, cli_vol)])}


def _make_image(sb: Sandbox) -> None:
    """100 MB under /data: 80 files of 1 MB, 2000 of 10 kB, a few links, in 20 directories."""
    script = ("mkdir -p /data && cd /data && for d in $(seq 1 20); do mkdir d$d; done; "
              "for i in $(seq 1 80); do head -c 1048576 /dev/urandom > d$((i % 20 + 1))/big$i; done; "
              "for i in $(seq 1 2000); do head -c 10240 /dev/urandom > d$((i % 20 + 1))/small$i; done; "
              "ln -s d1/big1 link; ln d2/big1 hard")
    r = sb.docker("run", "--name", "mkbig", "busybox", "sh", "-c", script, timeout=600)
    assert r.returncode == 0, r.stderr
    r = sb.docker("commit", "-c", "VOLUME /data", "mkbig", "bigdata", timeout=600)
    assert r.returncode == 0, r.stderr
    sb.docker("rm", "mkbig")


def _timed_run(sb: Sandbox, name: str, volume: str) -> float:
    t0 = time.perf_counter()
    r = sb.docker("run", "-d", "--name", name, "-v", volume, "bigdata", "sleep", "600", timeout=600)
    assert r.returncode == 0, r.stderr
    return time.perf_counter() - t0


def copy_up(sb: Sandbox, copies: int) -> dict:
    _make_image(sb)
    copyup_s, nocopy_s, cp_s = [], [], []
    for i in range(copies):
        nocopy_s.append(_timed_run(sb, f"nc{i}", f"ncvol{i}:/data:nocopy"))
        copyup_s.append(_timed_run(sb, f"cu{i}", f"cuvol{i}:/data"))
        [doc] = json.loads(sb.docker("inspect", f"nc{i}").stdout)
        merged = doc["GraphDriver"]["Data"]["MergedDir"]
        dest = os.path.join(sb.data_root, "volumes", f"cp{i}")
        t0 = time.perf_counter()
        r = sb.nsenter(["cp", "-a", os.path.join(merged, "data"), dest])
        cp_s.append(time.perf_counter() - t0)
        assert r.returncode == 0, r.stderr
        sb.docker("rm", "-f", f"nc{i}", f"cu{i}")
        sb.nsenter(["rm", "-rf", dest])
        sb.docker("volume", "rm", f"ncvol{i}", f"cuvol{i}")
    m = statistics.median
    copy_time = m(copyup_s) - m(nocopy_s)
    return {"copyup_run_s": m(copyup_s), "nocopy_run_s": m(nocopy_s), "copyup_s": copy_time,
            "cp_a_s": m(cp_s), "ratio_cp_over_copyup": m(cp_s) / copy_time if copy_time > 0 else float("inf")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--only", default="mount copy")
    args = ap.parse_args()
    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(make_busybox_tar(sb.dir))
        if "mount" in args.only:
            r = mount_overhead(sb, args.runs)
            print(f"run --rm true, API cycle: plain {r['api_plain_ms']:.1f} ms, with a named volume "
                  f"{r['api_volume_ms']:.1f} ms -> added {r['api_added_ms']:+.1f} ms (target <= 5 ms)")
            print(f"run --rm true, docker CLI: plain {r['cli_plain_ms']:.1f} ms, with a named volume "
                  f"{r['cli_volume_ms']:.1f} ms -> added {r['cli_added_ms']:+.1f} ms")
        if "copy" in args.only:
            r = copy_up(sb, args.copies)
            print(f"copy-up of 100 MB (80 x 1 MB + 2000 x 10 kB): run with copy-up {r['copyup_run_s']:.2f} s, "
                  f"with nocopy {r['nocopy_run_s']:.2f} s -> copy-up {r['copyup_s']:.2f} s; "
                  f"cp -a of the same tree {r['cp_a_s']:.2f} s; cp/copy-up = {r['ratio_cp_over_copyup']:.2f} "
                  "(target >= 0.70)")
    finally:
        sb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
