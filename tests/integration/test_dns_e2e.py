"""Names resolve between containers on a user-defined network (real berthd, crun, busybox).

The daemon's NameResolver and EmbeddedDNS wired together: container names,
--network-alias (round robin over both holders), `name.network`, PTR, and the
daemon's answers for names it does not own from inside the sandbox, whose
namespace has no route to any upstream (SERVFAIL, quickly).
"""

from __future__ import annotations

import time
import uuid

import pytest

pytestmark = pytest.mark.integration


def _ok(r):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return r


@pytest.fixture(scope="module")
def net(sandbox):
    name = f"dns-{uuid.uuid4().hex[:6]}"
    _ok(sandbox.docker("network", "create", "--subnet", "10.55.0.0/24", name))
    ctrs = []
    for c in ("alpha", "beta", "gamma"):
        alias = ["--network-alias", "svc"] if c != "gamma" else []
        _ok(sandbox.docker("run", "-d", "--name", c, "--network", name, *alias, "busybox", "sleep", "1000"))
        ctrs.append(c)
    ips = {c: _ok(sandbox.docker("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{name}\").IPAddress}}}}",
                                 c)).stdout.strip() for c in ctrs}
    yield {"name": name, "ips": ips}
    sandbox.docker("rm", "-f", *ctrs)
    sandbox.docker("network", "rm", name)


def _lookup(sandbox, ctr: str, *args: str):
    return sandbox.docker("exec", ctr, "nslookup", *args)


def test_resolv_conf_points_at_the_embedded_dns(sandbox, net):
    conf = _ok(sandbox.docker("exec", "alpha", "cat", "/etc/resolv.conf")).stdout
    assert "nameserver 127.0.0.11" in conf.splitlines()


def test_container_name_resolves(sandbox, net):
    out = _ok(_lookup(sandbox, "alpha", "gamma")).stdout
    assert f"Address: {net['ips']['gamma']}" in out
    out = _ok(_lookup(sandbox, "alpha", f"gamma.{net['name']}")).stdout
    assert f"Address: {net['ips']['gamma']}" in out


def test_alias_resolves_to_every_holder(sandbox, net):
    out = _ok(_lookup(sandbox, "gamma", "svc")).stdout
    assert f"Address: {net['ips']['alpha']}" in out and f"Address: {net['ips']['beta']}" in out
    firsts = set()
    for _ in range(4):
        lines = [ln for ln in _ok(_lookup(sandbox, "gamma", "-type=a", "svc")).stdout.splitlines()
                 if ln.startswith("Address:") and "#" not in ln and ":53" not in ln]
        firsts.add(lines[0])
    assert len(firsts) == 2  # round robin: each holder comes first in turn


def test_ptr_of_a_container_address(sandbox, net):
    out = _ok(_lookup(sandbox, "alpha", net["ips"]["gamma"])).stdout
    assert f"gamma.{net['name']}" in out


def test_unknown_names_fail_fast_without_upstream(sandbox, net):
    start = time.monotonic()
    r = _lookup(sandbox, "alpha", "nothing.example.invalid")
    assert r.returncode != 0
    assert "SERVFAIL" in r.stdout + r.stderr or "can't find" in r.stdout + r.stderr
    assert time.monotonic() - start < 15


def test_ping_by_name(sandbox, net):
    _ok(sandbox.docker("exec", "alpha", "ping", "-c", "1", "-W", "2", "beta"))
