"""IPAM and the rule table across parallel runs and a daemon killed with SIGKILL;
the daemon flags --iptables, --bip, --userland-proxy."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import api

pytestmark = pytest.mark.integration

HTTPD = "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www"


def ok(res) -> str:
    assert res.returncode == 0, f"rc={res.returncode}\nstdout={res.stdout}\nstderr={res.stderr}"
    return res.stdout


def run_detached(sandbox, network: str = "bridge") -> None:
    status, body = api(sandbox, "POST", "/v1.45/containers/create",
                       {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": network}})
    assert status == 201, body
    status, body = api(sandbox, "POST", f"/v1.45/containers/{body['Id']}/start")
    assert status == 204, body


def addresses(sandbox) -> dict[str, list[str]]:
    """network name -> addresses of running containers, from inspect."""
    ids = ok(sandbox.docker("ps", "-q", "--no-trunc")).split()
    out: dict[str, list[str]] = {}
    for doc in json.loads(ok(sandbox.docker("inspect", *ids))) if ids else []:
        for name, es in doc["NetworkSettings"]["Networks"].items():
            out.setdefault(name, []).append(es["IPAddress"])
    return out


def nft(sandbox) -> str:
    return sandbox.nsenter(["nft", "list", "table", "ip", "berth"]).stdout


def host_get(sandbox, url: str) -> str:
    import time

    for _ in range(50):
        res = sandbox.nsenter(["busybox", "wget", "-qO-", url], timeout=10)
        if res.returncode == 0:
            return res.stdout
        time.sleep(0.1)
    return "FAILED"


def test_parallel_runs_and_sigkill_restart_keep_addresses_unique(fresh_sandbox):
    sb = fresh_sandbox
    ok(sb.docker("network", "create", "--subnet", "10.60.0.0/24", "par"))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: run_detached(sb, "bridge" if i % 2 else "par"), range(50)))
    ok(sb.docker("run", "-d", "--name", "web", "-p", "8081:80", "busybox", "sh", "-c", HTTPD))
    before = addresses(sb)
    assert len(before["bridge"]) == 26 and len(before["par"]) == 25
    for ips in before.values():
        assert len(set(ips)) == len(ips) and "" not in ips
    assert host_get(sb, "http://127.0.0.1:8081/") == "hello\n"

    # Crash: two containers die while the daemon is down; their addresses must come back.
    victims = ok(sb.docker("ps", "-q", "--no-trunc", "--filter", "network=par")).split()[:2]
    pids = [ok(sb.docker("inspect", "-f", "{{.State.Pid}}", v)).strip() for v in victims]
    sb.kill_daemon()
    for pid in pids:
        sb.nsenter(["kill", "-9", pid])
    sb.start_daemon()
    table = nft(sb)
    assert table.count("tcp dport 8081 dnat to") == 1, table + "\n".join(l for l in open(sb.daemon_log, errors="replace").read().splitlines() if "DEBUG" not in l)
    assert table.count("masquerade") == 4 and table.count("table ip berth") == 1   # 2 bridges x (out, loopback)
    assert host_get(sb, "http://127.0.0.1:8081/") == "hello\n"
    for v in victims:
        assert ok(sb.docker("inspect", "-f", "{{.State.Running}}", v)).strip() == "false"
    for _ in range(3):
        run_detached(sb, "par")
    after = addresses(sb)
    for ips in after.values():
        assert len(set(ips)) == len(ips)
    assert len(after["par"]) == 25 + 3 - 2
    ok(sb.docker("rm", "-f", *ok(sb.docker("ps", "-aq")).split()))
    for _ in range(30):   # the kernel removes the veths with the namespaces, asynchronously
        if "veth" not in sb.nsenter(["ip", "-o", "link"]).stdout:
            break
        time.sleep(0.1)
    assert "veth" not in sb.nsenter(["ip", "-o", "link"]).stdout
    assert "dnat to" not in nft(sb)
    assert sb.nsenter(["ls", f"{sb.exec_root}/netns"]).stdout.strip() == ""


def test_iptables_false_bip_and_no_userland_proxy(fresh_sandbox):
    sb = fresh_sandbox
    assert "table ip berth" in nft(sb)
    sb.kill_daemon()
    sb.start_daemon("--iptables=false", "--bip", "10.99.0.1/24")
    assert sb.nsenter(["nft", "list", "table", "ip", "berth"]).returncode != 0
    out = ok(sb.docker("run", "--rm", "busybox", "ip", "-o", "addr", "show", "eth0"))
    assert "inet 10.99.0.2/24" in out
    bridge = json.loads(ok(sb.docker("network", "inspect", "bridge")))[0]
    assert bridge["IPAM"]["Config"] == [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1"}]
    # Without the kernel path, the proxy serves published ports on every address.
    ok(sb.docker("run", "-d", "--name", "w", "-p", "8082:80", "busybox", "sh", "-c", HTTPD))
    assert host_get(sb, "http://10.99.0.1:8082/") == "hello\n"
    ok(sb.docker("rm", "-f", "w"))
    sb.kill_daemon()
    sb.start_daemon("--userland-proxy=false")
    ok(sb.docker("run", "-d", "--name", "w2", "-p", "8083:80", "-p", "127.0.0.1:8084:80", "busybox", "sh", "-c", HTTPD))
    assert "tcp dport 8083 dnat to 172.17.0.2:80" in nft(sb)
    assert host_get(sb, "http://172.17.0.1:8083/") == "hello\n"      # DNAT (output chain)
    assert host_get(sb, "http://127.0.0.1:8084/") == "hello\n"       # loopback: DNAT + route_localnet
    # hairpin: a container of the same bridge through the host's address, without a proxy
    assert ok(sb.docker("run", "--rm", "busybox", "wget", "-qO-", "http://172.17.0.1:8083/")) == "hello\n"
    ok(sb.docker("rm", "-f", "w2"))
    sb.kill_daemon()
    with pytest.raises(RuntimeError, match="invalid --bip 'nonsense'"):
        sb.start_daemon("--bip", "nonsense")
