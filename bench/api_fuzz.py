"""Fuzz the Engine API from ../shared/specs/engine-api/v1.45.yaml against a sandboxed berthd.

    python3 bench/api_fuzz.py [REQUESTS=2000] [SEED=0]

Prints the request count, the status histogram, and every failure (an
"internal error" 500, a hang on a non-streaming endpoint, the daemon dying,
a traceback in its log). The suite runs 300 requests (tests/integration/test_api_fuzz.py).
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "src")]

from tests.fuzz.api_fuzz import run  # noqa: E402
from tests.harness import Sandbox, make_busybox_tar  # noqa: E402
from tests.specs import SPECS_DIR  # noqa: E402


def main() -> int:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0

    sb = Sandbox()
    try:
        sb.start_daemon()
        sb.import_busybox(make_busybox_tar(sb.dir))
        sb.docker("run", "-d", "--name", "fuzz-target", "busybox", "sleep", "3600")
        report = run(os.path.join(SPECS_DIR, "engine-api", "v1.45.yaml"), sb.sock, total=total, seed=seed)
        tracebacks = sb.log_text().count("Traceback")
        print(f"{report.requests} requests in {report.seconds:.1f} s; statuses {dict(sorted(report.statuses.items()))}")
        print(f"internal errors: {len(report.internal_errors)}, hangs: {len(report.hangs)}, "
              f"daemon died: {report.daemon_died}, tracebacks in the daemon log: {tracebacks}, "
              f"client-side transport errors: {len(report.transport_errors)}")
        for line in report.failures[:30] + report.transport_errors[:10]:
            print("  " + line)
        return 1 if report.failures or tracebacks else 0
    finally:
        sb.close()


if __name__ == "__main__":
    sys.exit(main())
