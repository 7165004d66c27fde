"""Compose benchmark: `up -d` of a 10-service project (image present) and a no-change
`up -d` after it, against a sandboxed berthd; wall times (medians) and API calls.

The same project is also brought up by docker-compose 1.29 (Debian's) against the same
berthd, as the reference for the same engine work (docker compose v2 is not installable
offline). The no-change `up` must make no create/start/stop call.

    python3 bench/compose_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from harness import SRC, Sandbox  # noqa: E402

SERVICES = 10


def project_text() -> str:
    lines = ["services:"]
    for i in range(SERVICES):
        lines += [f"  s{i}:", "    image: busybox", "    command: [sleep, \"100000\"]", "    stop_signal: SIGKILL",
                  f"    environment: {{INDEX: \"{i}\"}}"]
        if i:
            lines.append(f"    depends_on: [s{(i - 1) // 3}]")
    return "\n".join(lines) + "\n"


def berth_compose(sb: Sandbox, d: str, *args: str, stats: str | None = None) -> float:
    env = dict(sb.env(), PYTHONPATH=SRC)
    if stats:
        env["BERTH_COMPOSE_STATS"] = stats
    launcher = ["/usr/local/bin/berth"] if os.path.exists("/usr/local/bin/berth") else [sys.executable, "-m", "berth.cli.main"]
    t = time.perf_counter()
    r = subprocess.run(launcher + ["compose", "-p", "bench", "-f", os.path.join(d, "compose.yaml"), *args],
                       env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"berth compose {' '.join(args)} failed: {r.stderr}")
    return elapsed


def v1_compose(sb: Sandbox, d: str, *args: str) -> float:
    t = time.perf_counter()
    r = subprocess.run(["docker-compose", "-p", "benchv1", "-f", os.path.join(d, "compose.yaml"), *args],
                       env=sb.env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"docker-compose {' '.join(args)} failed: {r.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="compose-bench-")
    with open(os.path.join(work, "compose.yaml"), "w") as f:
        f.write(project_text())
    tar = os.environ.get("BERTH_TEST_BUSYBOX_TAR")
    if not tar:
        from berth.images.bootstrap import write_rootfs_tar

        tar = os.path.join(work, "busybox.tar")
        with open(tar, "wb") as f:
            write_rootfs_tar("busybox", f, lambda _l: None)
    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(tar)
        up, again, calls_up, calls_again = [], [], {}, {}
        for i in range(args.runs):
            s1, s2 = os.path.join(work, "up.json"), os.path.join(work, "again.json")
            up.append(berth_compose(sb, work, "up", "-d", stats=s1))
            again.append(berth_compose(sb, work, "up", "-d", stats=s2))
            calls_up, calls_again = json.load(open(s1)), json.load(open(s2))
            berth_compose(sb, work, "down")
        v1_up, v1_again = [], []
        if shutil.which("docker-compose"):
            for i in range(args.runs):
                v1_up.append(v1_compose(sb, work, "up", "-d"))
                v1_again.append(v1_compose(sb, work, "up", "-d"))
                v1_compose(sb, work, "down")
        touched = {k: v for k, v in calls_again.items()
                   if any(w in k for w in ("create", "start", "stop", "kill", "DELETE"))}
        print(f"services: {SERVICES}, runs: {args.runs} (medians)")
        print(f"berth compose up -d:            {statistics.median(up):6.3f} s   API calls {calls_up.get('total')}")
        print(f"berth compose up -d (no change): {statistics.median(again):6.3f} s   API calls {calls_again.get('total')}"
              f"   create/start/stop/remove calls: {sum(touched.values())}")
        if v1_up:
            print(f"docker-compose 1.29 up -d:            {statistics.median(v1_up):6.3f} s"
                  f"   (berth/v1 = {statistics.median(up) / statistics.median(v1_up):.2f})")
            print(f"docker-compose 1.29 up -d (no change): {statistics.median(v1_again):6.3f} s"
                  f"   (berth/v1 = {statistics.median(again) / statistics.median(v1_again):.2f})")
        print("calls (first up):", json.dumps(calls_up, sort_keys=True))
        print("calls (no change):", json.dumps(calls_again, sort_keys=True))
        if touched:
            raise SystemExit(f"no-change up touched containers: {touched}")
    finally:
        sb.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
