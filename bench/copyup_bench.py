"""Copy-up alone: volumes/copyup.copy_tree against `cp -a` of the same 100 MB tree
(80 x 1 MB + 2,000 x 10 kB), read through an overlay mount as the daemon reads an
image, written to the same file system. Runs in a private mount namespace; each
copy starts after `sync` so one copy's writeback does not slow the next.

    python3 bench/copyup_bench.py [ROUNDS=5]

(bench/volume_bench.py measures the same end to end, through `docker run`, where
run-to-run noise on a shared machine is larger than the copy itself.)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "src"))


def main() -> int:
    if os.environ.get("BERTH_COPYUP_BENCH_INNER") != "1":
        env = dict(os.environ, BERTH_COPYUP_BENCH_INNER="1")
        return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv],
                              env=env).returncode
    from berth.volumes.copyup import copy_tree

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    base = tempfile.mkdtemp(prefix="copyup-bench-", dir="/var/tmp")
    try:
        src = os.path.join(base, "src")
        for sub in ("big", "small"):
            os.makedirs(os.path.join(src, sub))
        for i in range(80):
            with open(os.path.join(src, "big", f"f{i}"), "wb") as f:
                f.write(os.urandom(1 << 20))
        for i in range(2000):
            with open(os.path.join(src, "small", f"s{i}"), "wb") as f:
                f.write(os.urandom(10_000))
        for d in ("u", "w", "m"):
            os.makedirs(os.path.join(base, "ovl", d))
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={src},upperdir={base}/ovl/u,workdir={base}/ovl/w", f"{base}/ovl/m"], check=True)
        ours, cps = [], []
        for _ in range(rounds):
            for d in ("a", "b"):
                shutil.rmtree(os.path.join(base, d), ignore_errors=True)
            os.mkdir(os.path.join(base, "a"))
            subprocess.run(["sync"])
            t = time.perf_counter()
            copy_tree(f"{base}/ovl/m", f"{base}/a")
            ours.append(time.perf_counter() - t)
            subprocess.run(["sync"])
            t = time.perf_counter()
            subprocess.run(["cp", "-a", f"{base}/ovl/m", f"{base}/b"], check=True)
            cps.append(time.perf_counter() - t)
        a, b = statistics.median(ours), statistics.median(cps)
        print(f"copy-up {a:.3f} s, cp -a {b:.3f} s (medians of {rounds}); cp/copy-up = {b / a:.2f} (target >= 0.70)")
        subprocess.run(["umount", f"{base}/ovl/m"])
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
