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


def test_internal_network_resolves_names_but_never_forwards(sandbox):
    name = f"dnsint-{uuid.uuid4().hex[:6]}"
    _ok(sandbox.docker("network", "create", "--internal", name))
    try:
        for c in ("int1", "int2"):
            _ok(sandbox.docker("run", "-d", "--name", c, "--network", name, "busybox", "sleep", "1000"))
        assert "Name:\tint2" in _ok(_lookup(sandbox, "int1", "int2")).stdout
        r = _lookup(sandbox, "int1", "example.com")
        assert r.returncode != 0 and "SERVFAIL" in r.stdout
    finally:
        sandbox.docker("rm", "-f", "int1", "int2")
        sandbox.docker("network", "rm", name)


def test_connect_disconnect_and_restart_follow_the_names(sandbox, net):
    side = f"dnsside-{uuid.uuid4().hex[:6]}"
    _ok(sandbox.docker("network", "create", side))
    _ok(sandbox.docker("run", "-d", "--name", "late", "--network", side, "busybox", "sleep", "1000"))
    try:
        assert _lookup(sandbox, "alpha", "late").returncode != 0  # not on alpha's network yet
        _ok(sandbox.docker("network", "connect", "--alias", "latecomer", net["name"], "late"))
        assert "Name:\tlatecomer" in _ok(_lookup(sandbox, "alpha", "latecomer")).stdout
        assert "Name:\talpha" in _ok(_lookup(sandbox, "late", "alpha")).stdout
        _ok(sandbox.docker("network", "disconnect", net["name"], "late"))
        assert _lookup(sandbox, "alpha", "latecomer").returncode != 0
        assert _lookup(sandbox, "late", "alpha").returncode != 0
        _ok(sandbox.docker("restart", "-t", "0", "alpha"))
        assert f"Address: {net['ips']['beta']}" in _ok(_lookup(sandbox, "alpha", "beta")).stdout
    finally:
        sandbox.docker("rm", "-f", "late")
        sandbox.docker("network", "rm", side)


def test_a_container_may_serve_port_53_itself(sandbox, net):
    """docker's resolver leaves port 53 to the container (NAT to its own ports)."""
    _ok(sandbox.docker("run", "-d", "--name", "own53", "--network", net["name"], "busybox", "sh", "-c",
                       "mkdir /www && echo hi > /www/index.html && exec httpd -f -p 53 -h /www"))
    try:
        time.sleep(0.3)
        assert _ok(sandbox.docker("inspect", "-f", "{{.State.Running}}", "own53")).stdout.strip() == "true"
        assert _ok(sandbox.docker("exec", "own53", "wget", "-qO-", "http://127.0.0.1:53/")).stdout == "hi\n"
        assert f"Address: {net['ips']['beta']}" in _ok(_lookup(sandbox, "own53", "beta")).stdout
    finally:
        sandbox.docker("rm", "-f", "own53")


STUB = r"""
import socket, sys
from dnslib import DNSRecord, RR, A, QTYPE, RCODE
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(4096)
    q = DNSRecord.parse(data)
    r = q.reply(aa=0)
    if str(q.q.qname).rstrip(".").endswith("example.com") and q.q.qtype == QTYPE.A:
        r.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("93.184.216.34"), ttl=60))
    else:
        r.header.rcode = RCODE.NXDOMAIN
    s.sendto(r.pack(), addr)
"""


def test_container_dns_servers_are_the_upstream(sandbox, net):
    """--dns on a user network: resolv.conf keeps 127.0.0.11, unknown names go to the --dns server
    (a stub on the sandbox's loopback, reached from the daemon's namespace)."""
    import subprocess
    import sys

    stub = subprocess.Popen(sandbox.nsenter_argv([sys.executable, "-c", STUB]), stdout=subprocess.PIPE, text=True,
                            env=sandbox.env())
    try:
        assert stub.stdout.readline().strip() == "ready"
        r = _ok(sandbox.docker("run", "--rm", "--network", net["name"], "--dns", "127.0.0.1", "busybox", "sh", "-c",
                               "cat /etc/resolv.conf; nslookup www.example.com; nslookup beta"))
        assert "nameserver 127.0.0.11" in r.stdout and "Address: 93.184.216.34" in r.stdout
        assert f"Address: {net['ips']['beta']}" in r.stdout  # container names still answered locally
        r = sandbox.docker("run", "--rm", "--network", net["name"], "busybox", "nslookup", "www.example.com")
        assert "93.184.216.34" not in r.stdout  # without --dns: the host's resolvers (unreachable here)
    finally:
        stub.kill()
        stub.wait()


def test_joiner_of_a_containers_namespace_and_late_connect_use_the_embedded_dns(sandbox, net):
    r = _ok(sandbox.docker("run", "--rm", "--network", "container:alpha", "busybox", "nslookup", "beta"))
    assert f"Address: {net['ips']['beta']}" in r.stdout
    _ok(sandbox.docker("run", "-d", "--name", "fromdefault", "busybox", "sleep", "1000"))
    try:
        _ok(sandbox.docker("network", "connect", net["name"], "fromdefault"))
        assert f"Address: {net['ips']['beta']}" in _ok(_lookup(sandbox, "fromdefault", "beta")).stdout
    finally:
        sandbox.docker("rm", "-f", "fromdefault")
