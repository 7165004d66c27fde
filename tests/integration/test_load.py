"""Concurrent runs and API bursts: no error, and the daemon's memory does not keep growing
(short version; bench/load_bench.py runs 50 runs + 500 requests per round)."""

from __future__ import annotations

import pytest

from tests.load import load_round

pytestmark = pytest.mark.integration


def test_concurrent_runs_and_request_bursts_without_errors_or_growth(sandbox):
    ids = []
    for i in range(3):
        res = sandbox.docker("run", "-d", "--name", f"load-{i}", "busybox", "sh", "-c",
                             "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; sleep 600")
        assert res.returncode == 0, res.stderr
        ids.append(res.stdout.strip())
    rounds = [load_round(sandbox, runs=16, requests=150, container_ids=ids) for _ in range(3)]
    for r in rounds:
        assert not r.runs_failed, r.runs_failed[:5]
        assert not r.requests_failed, r.requests_failed[:5]
    # Warm-up may grow the heap; after it, rounds must not keep adding memory.
    growth_kib = rounds[-1].rss_after - rounds[0].rss_after
    assert growth_kib < 20 * 1024, [(r.rss_before, r.rss_peak, r.rss_after) for r in rounds]
    leftovers = sandbox.docker("ps", "-aq", "--filter", "name=load-", "--filter", "status=exited").stdout.split()
    assert leftovers == []
