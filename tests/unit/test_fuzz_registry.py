"""Short fuzz of the registry server's request handling (bench/fuzz.py registry runs 100,000)."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.registry_fuzz import requests_, start_registry


@pytest.fixture(scope="module")
def registry():
    reg = start_registry()
    yield reg
    reg.close()
    shutil.rmtree(reg.root, ignore_errors=True)


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(req=requests_)
def test_registry_never_answers_500_to_garbage(registry, req):
    method, target, headers, body = req
    status = registry.send(method, target, headers, body)
    assert status != -1, "the server closed the connection without an answer"
    assert status < 500 or status in (501, 503), (method, target, headers, body[:80], status)
