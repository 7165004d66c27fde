"""Build benchmark: the standard build workload against a sandboxed berthd.

Runs the `build` group of ../shared/bench/workloads.sh (a 20 MB context of
200 files; FROM busybox, COPY data/, RUN, ENV, WORKDIR, CMD: cold with
--no-cache, fully cached, one file changed) with the berth CLI and with the
real docker CLI (DOCKER_BUILDKIT=0, the legacy builder) pointed at berthd, a
few rounds each, and prints the medians with their ratio to docker's legacy
builder figures in anchors.md.

    python3 bench/build_bench.py [--rounds 3] [--clients "berth docker"]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from engine_bench import berth_wrapper, run_workloads  # noqa: E402
from harness import Sandbox, make_busybox_tar  # noqa: E402

# docker 20.10's legacy builder on this machine kind (anchors.md) and the issue's targets, seconds
DOCKER = {"build_cold": 1.39, "build_cached": 0.29, "build_one_file_changed": 1.32}
TARGET = {"build_cold": 1.4, "build_cached": 0.15, "build_one_file_changed": 1.3}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", default="berth docker")
    opts = ap.parse_args()
    work = tempfile.mkdtemp(prefix="buildbench-")
    tar = make_busybox_tar(work)
    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(tar)
        results: dict[str, dict[str, list[float]]] = {}
        for client in opts.clients.split():
            cli = berth_wrapper(sb, work) if client == "berth" else "/usr/local/bin/docker"
            os.environ["DOCKER_BUILDKIT"] = "0"
            per: dict[str, list[float]] = {k: [] for k in DOCKER}
            for _ in range(opts.rounds):
                metrics = run_workloads(cli, sb, "build")
                for name in DOCKER:
                    value = metrics.get(name, "NA").split()[0]
                    if value != "NA":
                        per[name].append(float(value))
                    else:
                        print(f"{client} {name}: {metrics.get(name)}", file=sys.stderr)
            results[client] = per
        print(f"\n{'client':8} {'metric':24} {'median s':>9} {'runs':>22} {'vs docker':>10} {'target':>8}")
        for client, per in results.items():
            for name, values in per.items():
                if not values:
                    print(f"{client:8} {name:24} {'NA':>9}")
                    continue
                med = statistics.median(values)
                runs = " ".join(f"{v:.2f}" for v in values)
                verdict = "ok" if med <= TARGET[name] else "MISSED"
                print(f"{client:8} {name:24} {med:9.3f} {runs:>22} {med / DOCKER[name]:9.2f}x {verdict:>8}")
    finally:
        sb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
