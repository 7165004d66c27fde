"""Engine benchmark: the standard workloads against a sandboxed berthd.

Runs ../shared/bench/workloads.sh (the same script that measured docker and
podman, see anchors.md) with CLI=berth and with the real docker CLI pointed at
berthd, and prints each metric with its ratio to docker's anchor figure.

    python3 bench/engine_bench.py                 # run, fifty, logs
    python3 bench/engine_bench.py --only "run fifty"
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from harness import Sandbox  # noqa: E402

WORKLOADS = os.path.join(os.path.dirname(ROOT), "shared", "bench", "workloads.sh")

# docker 20.10's figures on this machine kind (anchors.md; the lower bound of each range)
DOCKER_ANCHORS = {
    "run_rm_true": 341.0,            # ms
    "start_50_detached": 14.7,       # s
    "ps_50": 27.0,                   # ms
    "exec_true": 80.0,               # ms
    "rm_50": 3.5,                    # s
    "mem_per_container_monitor_rss": 13.3 * 1024,  # kB
    "mem_per_container_monitor_pss": 2.7 * 1024,   # kB
    "logs_100mb": 18.7,              # s
}
TARGETS = {"run_rm_true": 170.0, "start_50_detached": 6.0, "ps_50": 27.0, "exec_true": 40.0,
           "rm_50": 3.0, "mem_per_container_monitor_rss": 13.3 * 1024,
           "mem_per_container_monitor_pss": 2.7 * 1024, "logs_100mb": 5.0}


def berth_wrapper(sb: Sandbox, workdir: str) -> str:
    """A `berth` executable for workloads.sh: the installed launcher (scripts/setup.sh)."""
    script = "/usr/local/bin/berth"
    path = os.path.join(workdir, "berth")
    with open(path, "w") as f:
        if os.path.exists(script):
            f.write(f"#!/bin/sh\nexec {script} \"$@\"\n")
        else:
            f.write(f"#!/bin/sh\nPYTHONPATH={ROOT}/src exec {sys.executable} -m berth.cli.main \"$@\"\n")
    os.chmod(path, stat.S_IRWXU)
    return path


def run_workloads(cli: str, sb: Sandbox, only: str) -> dict[str, str]:
    env = sb.env()
    env.update(ONLY=only, IMAGE="busybox", MONITOR_PROC=os.path.basename(os.path.realpath(sys.executable)))
    out = subprocess.run(["bash", WORKLOADS], env=dict(env, CLI=cli), capture_output=True, text=True,
                         timeout=3600)
    sys.stderr.write(out.stderr[-4000:])
    metrics = {}
    for line in out.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2:
            metrics[parts[0]] = " ".join(parts[1:])
    return metrics


def report(label: str, metrics: dict[str, str]) -> None:
    print(f"\n## {label}")
    print(f"{'metric':36} {'value':>14}  {'vs docker':>10}  {'target':>10}")
    for name, value in metrics.items():
        ratio = target = ""
        number = value.split()[0]
        if name in DOCKER_ANCHORS and number not in ("NA",):
            ratio = f"{float(number) / DOCKER_ANCHORS[name]:.2f}x"
            target = "ok" if float(number) <= TARGETS[name] else "MISSED"
        print(f"{name:36} {value:>14}  {ratio:>10}  {target:>10}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="run fifty logs")
    ap.add_argument("--clients", default="berth docker")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        sb = Sandbox()
        try:
            # 100 MB of output must stay readable for the logs workload (docker keeps
            # everything by default; Berth rotates at 20 MB x 3 unless told otherwise).
            sb.start_daemon("--log-opt", "max-size=1g", "--log-opt", "max-file=1")
            tar = os.path.join(work, "busybox.tar")
            from berth.images.bootstrap import write_rootfs_tar

            with open(tar, "wb") as f:
                write_rootfs_tar("busybox", f, lambda _l: None)
            sb.import_busybox(tar)
            for client in args.clients.split():
                cli = berth_wrapper(sb, work) if client == "berth" else "/usr/local/bin/docker"
                report(f"{client} CLI -> berthd", run_workloads(cli, sb, args.only))
        finally:
            sb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
