"""Crash safety (issue 10), the full run: 200 random operations with berthd killed by
SIGKILL at least 30 times (most in the middle of an operation), verified after every
restart (tests/chaos.py). Prints operations checked, kills survived, objects verified,
and the lost/leaked objects found, which must be zero.

    python3 bench/chaos_bench.py [OPERATIONS=200] [KILLS=30] [SEED=7] [-v]
"""

from __future__ import annotations

import os
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "src"), os.path.join(ROOT, "tests")]

from chaos import Chaos, ChaosConfig  # noqa: E402
from harness import Sandbox  # noqa: E402


def main() -> int:
    verbose = "-v" in sys.argv
    args = [a for a in sys.argv[1:] if a != "-v"]
    ops, kills, seed = (int(a) for a in (args + ["200", "30", "7"][len(args):])[:3])
    from berth.images.bootstrap import write_rootfs_tar

    sb = Sandbox()
    started = time.monotonic()
    try:
        sb.start_daemon()
        tar = os.path.join(sb.dir, "busybox.tar")
        with open(tar, "wb") as f:
            write_rootfs_tar("busybox", f, lambda _line: None)
        sb.import_busybox(tar)
        res = Chaos(sb, ChaosConfig(seed=seed, operations=ops, kills=kills, verbose=verbose)).run()
    finally:
        sb.close()
    took = time.monotonic() - started
    print(f"chaos seed={seed}: {res.operations} operations, {res.kills} kills survived "
          f"({res.mid_operation_kills} in the middle of an operation, {res.interrupted} operations cut short), "
          f"{res.checks} post-restart verifications, {res.objects_checked} acknowledged objects verified, "
          f"{len(res.startup_repairs)} crash leftovers repaired at daemon start, "
          f"{len(res.problems)} lost/leaked/half-made objects found; {took:.0f} s")
    for line in res.startup_repairs:
        print("  start-up repair:", line)
    for line in res.problems:
        print("  PROBLEM:", line)
    return 1 if res.problems or res.kills < kills else 0


if __name__ == "__main__":
    sys.exit(main())
