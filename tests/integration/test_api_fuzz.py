"""The Engine API fuzzed from its own spec (short run; bench/api_fuzz.py does 2,000+)."""

from __future__ import annotations

import os

import pytest

from tests.specs import SPECS_DIR

pytestmark = pytest.mark.integration

SPEC = os.path.join(SPECS_DIR, "engine-api", "v1.45.yaml")


def test_generated_requests_never_crash_or_hang_the_daemon(fresh_sandbox):
    pytest.importorskip("schemathesis", reason="schemathesis is a test dependency (pyproject [test])")
    from tests.fuzz.api_fuzz import run

    fresh_sandbox.docker("run", "-d", "--name", "fuzz-target", "busybox", "sleep", "300")
    report = run(SPEC, fresh_sandbox.sock, total=300, seed=1)
    assert report.requests >= 250
    assert not report.failures, "\n".join(report.failures[:20])
    assert "Traceback" not in fresh_sandbox.log_text()
