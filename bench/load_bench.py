"""Load (issue 10): rounds of 50 concurrent `docker run --rm` + 500 concurrent API requests
(ps, inspect, logs) against a sandboxed berthd; the daemon's RSS before, at peak and after.

    python3 bench/load_bench.py [ROUNDS=3] [RUNS=50] [REQUESTS=500]
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "src")]

from tests.harness import Sandbox, make_busybox_tar  # noqa: E402
from tests.load import load_round  # noqa: E402


def main() -> int:
    rounds, runs, requests = (int(a) for a in (sys.argv[1:] + ["3", "50", "500"][len(sys.argv) - 1:])[:3])

    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(make_busybox_tar(sb.dir))
        ids = [sb.docker("run", "-d", "busybox", "sh", "-c", "seq 1 500; sleep 3600").stdout.strip() for _ in range(5)]
        failed = 0
        for n in range(rounds):
            r = load_round(sb, runs, requests, ids)
            failed += len(r.runs_failed) + len(r.requests_failed)
            print(f"round {n + 1}: {runs} runs in {r.run_seconds:.1f} s ({len(r.runs_failed)} failed), "
                  f"{requests} requests in {r.request_seconds:.2f} s ({len(r.requests_failed)} failed); "
                  f"RSS before/peak/after {r.rss_before / 1024:.1f}/{r.rss_peak / 1024:.1f}/{r.rss_after / 1024:.1f} MiB")
            for line in (r.runs_failed + r.requests_failed)[:5]:
                print("   ", line)
        return 1 if failed else 0
    finally:
        sb.close()


if __name__ == "__main__":
    sys.exit(main())
