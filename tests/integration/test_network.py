"""Bridge networking with the real docker CLI against berthd, all inside the sandbox's
namespaces: "the host" is the sandbox's network namespace (sandbox.nsenter)."""

from __future__ import annotations

import json
import time

import pytest

from harness import api

pytestmark = pytest.mark.integration

HTTPD = "mkdir -p /www && echo hello-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def ok(res) -> str:
    assert res.returncode == 0, f"rc={res.returncode}\nstdout={res.stdout}\nstderr={res.stderr}"
    return res.stdout


def host_get(sandbox, url: str, timeout: float = 5.0) -> str:
    """wget from the daemon's namespace, retried while the server comes up."""
    deadline = time.monotonic() + timeout
    while True:
        res = sandbox.nsenter(["busybox", "wget", "-qO-", url], timeout=10)
        if res.returncode == 0 or time.monotonic() > deadline:
            return res.stdout if res.returncode == 0 else f"FAILED rc={res.returncode} {res.stderr}"
        time.sleep(0.1)


def nft_table(sandbox) -> str:
    return sandbox.nsenter(["nft", "list", "table", "ip", "berth"]).stdout


def links(sandbox) -> str:
    return sandbox.nsenter(["ip", "-o", "link"]).stdout


@pytest.fixture(scope="module")
def web(sandbox):
    cid = ok(sandbox.docker("run", "-d", "--name", "web", "-p", "127.0.0.1:18080:80", "-p", "8080:80",
                            "--expose", "80", "busybox", "sh", "-c", HTTPD)).strip()
    yield cid


# ---------------------------------------------------------------- the "Done when"
def test_published_loopback_port_answers(sandbox, web):
    assert host_get(sandbox, "http://127.0.0.1:18080/").startswith("hello-")
    ports = json.loads(ok(sandbox.docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", "web")))
    assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"},
                                {"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert "127.0.0.1:18080->80/tcp" in ok(sandbox.docker("ps", "--filter", "name=web"))


def test_published_port_from_host_address_and_other_containers(sandbox, web):
    # The kernel path (DNAT) from the host's bridge address, the proxy from another container.
    assert host_get(sandbox, "http://172.17.0.1:8080/").startswith("hello-")
    out = ok(sandbox.docker("run", "--rm", "busybox", "wget", "-qO-", "http://172.17.0.1:8080/"))
    assert out.startswith("hello-")


def test_exec_shows_the_address_inspect_prints(sandbox, web):
    ip = ok(sandbox.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web")).strip()
    assert ip.startswith("172.17.0.")
    out = ok(sandbox.docker("exec", "web", "ip", "addr", "show", "eth0"))
    assert f"inet {ip}/16" in out
    mac = ok(sandbox.docker("inspect", "-f", "{{.NetworkSettings.MacAddress}}", "web")).strip()
    assert mac == "02:42:ac:11:" + ":".join(f"{int(x):02x}" for x in ip.split(".")[2:])
    assert mac in out
    route = ok(sandbox.docker("exec", "web", "ip", "route"))
    assert "default via 172.17.0.1 dev eth0" in route


def test_link_alias_hosts_and_env(sandbox, web):
    ip = ok(sandbox.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web")).strip()
    out = ok(sandbox.docker("run", "--rm", "--name", "me", "--link", "web:alias", "-e", "X=1", "busybox", "sh", "-c",
                            "wget -qO- http://alias/; cat /etc/hosts; env"))
    assert out.startswith("hello-")
    assert f"{ip}\talias {web[:12]} web" in out
    ok(sandbox.docker("create", "--name", "linker", "--link", "web:al", "busybox", "true"))
    assert ok(sandbox.docker("inspect", "-f", "{{json .HostConfig.Links}}", "linker")).strip() == '["/web:/linker/al"]'
    sandbox.docker("rm", "linker")
    for line in ("ALIAS_NAME=/me/alias", f"ALIAS_PORT=tcp://{ip}:80", f"ALIAS_PORT_80_TCP=tcp://{ip}:80",
                 f"ALIAS_PORT_80_TCP_ADDR={ip}", "ALIAS_PORT_80_TCP_PORT=80", "ALIAS_PORT_80_TCP_PROTO=tcp"):
        assert line in out.splitlines()


def test_user_network_containers_reach_each_other_by_name(sandbox):
    ok(sandbox.docker("network", "create", "appnet"))
    try:
        ok(sandbox.docker("run", "-d", "--name", "srv", "--network", "appnet", "--network-alias", "api",
                          "busybox", "sh", "-c", HTTPD))
        out = ok(sandbox.docker("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
                                "cat /etc/resolv.conf; wget -qO- http://srv/; wget -qO- http://api/"))
        assert "nameserver 127.0.0.11" in out and "options ndots:0" in out
        assert out.count("hello-") == 2
        settings = json.loads(ok(sandbox.docker("inspect", "-f", "{{json .NetworkSettings}}", "srv")))
        assert settings["IPAddress"] == "" and settings["Gateway"] == ""   # only on the default bridge
        ep = settings["Networks"]["appnet"]
        assert ep["Aliases"] == ["api"] and "srv" in ep["DNSNames"]
        assert ep["IPAddress"].startswith("172.18.0.") and ep["Gateway"] == "172.18.0.1"
        assert ep["NetworkID"] == ok(sandbox.docker("network", "inspect", "-f", "{{.Id}}", "appnet")).strip()
    finally:
        sandbox.docker("rm", "-f", "srv")
        sandbox.docker("network", "rm", "appnet")


# ---------------------------------------------------------------- ports
def test_port_collision_is_docker_error_and_first_keeps_serving(sandbox, web):
    res = sandbox.docker("run", "-d", "--name", "clash", "-p", "8080:80", "busybox", "sleep", "30")
    assert res.returncode == 125
    assert "Bind for 0.0.0.0:8080 failed: port is already allocated" in res.stderr
    assert host_get(sandbox, "http://172.17.0.1:8080/").startswith("hello-")
    assert ok(sandbox.docker("inspect", "-f", "{{.State.Status}}", "clash")).strip() == "created"
    sandbox.docker("rm", "-f", "clash")


def test_invalid_port_spec_is_refused(sandbox):
    status, body = api(sandbox, "POST", "/v1.45/containers/create?name=badport", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}}})
    assert status == 400 and body["message"] == 'invalid port specification: "abc"'
    assert sandbox.docker("inspect", "badport").returncode == 1
    res = sandbox.docker("run", "--rm", "-p", "8080:99999", "busybox", "true")
    assert res.returncode != 0 and "99999" in res.stderr


def test_random_port_publish_all_udp_and_range(sandbox):
    ok(sandbox.docker("run", "-d", "--name", "many", "-p", "80", "-P", "--expose", "81", "-p", "9000-9002:7000-7002",
                      "-p", "5353:53/udp", "busybox", "sh", "-c", HTTPD))
    try:
        ports = json.loads(ok(sandbox.docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", "many")))
        random_port = int(ports["80/tcp"][0]["HostPort"])
        assert 32768 <= random_port <= 60999
        assert 32768 <= int(ports["81/tcp"][0]["HostPort"]) <= 60999
        assert [ports[f"{p}/tcp"][0]["HostPort"] for p in (7000, 7001, 7002)] == ["9000", "9001", "9002"]
        assert ports["53/udp"] == [{"HostIp": "0.0.0.0", "HostPort": "5353"}]
        assert host_get(sandbox, f"http://127.0.0.1:{random_port}/").startswith("hello-")
        port_out = ok(sandbox.docker("port", "many", "80/tcp")) if sandbox.docker("port", "--help").returncode == 0 else ""
        if port_out:
            assert f"0.0.0.0:{random_port}" in port_out
        table = nft_table(sandbox)
        assert "udp dport 5353 dnat to" in table and "tcp dport 9001 dnat to" in table
        # busybox has no UDP server: the relay itself is tested in test_network_proxy.py
        assert ":5353 " in sandbox.nsenter(["ss", "-Hnlu"]).stdout
    finally:
        sandbox.docker("rm", "-f", "many")
    assert "9001" not in nft_table(sandbox)


# ---------------------------------------------------------------- networks: bad input
def test_overlapping_subnet_refused_and_nothing_created(sandbox):
    ok(sandbox.docker("network", "create", "--subnet", "10.10.0.0/16", "net1"))
    try:
        res = sandbox.docker("network", "create", "--subnet", "10.10.5.0/24", "net2")
        assert res.returncode == 1
        assert "Pool overlaps with other one on this address space" in res.stderr
        assert sandbox.docker("network", "inspect", "net2").returncode == 1
        res = sandbox.docker("network", "create", "--subnet", "10.20.0.0/16", "net1")
        assert "network with name net1 already exists" in res.stderr
    finally:
        ok(sandbox.docker("network", "rm", "net1"))


def test_invalid_cidr_refused(sandbox):
    res = sandbox.docker("network", "create", "--subnet", "10.300.0.0/16", "badnet")
    assert res.returncode == 1 and "invalid CIDR address: 10.300.0.0/16" in res.stderr
    assert sandbox.docker("network", "inspect", "badnet").returncode == 1


def test_unknown_driver_and_predefined_and_missing(sandbox):
    res = sandbox.docker("network", "create", "-d", "overlay2x", "n")
    assert 'plugin "overlay2x" not found' in res.stderr
    res = sandbox.docker("network", "rm", "bridge")
    assert "bridge is a pre-defined network and cannot be removed" in res.stderr
    res = sandbox.docker("network", "inspect", "nope")
    assert res.returncode == 1
    # 404 as docker's (the docker CLI would then try to pull the image: ask the API directly)
    status, body = api(sandbox, "POST", "/v1.45/containers/create?name=nonet", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "nope"}})
    assert status == 404 and body["message"] == "network nope not found"
    assert sandbox.docker("inspect", "nonet").returncode == 1


def test_rm_network_with_running_container_refused(sandbox):
    net_id = ok(sandbox.docker("network", "create", "busy")).strip()
    ok(sandbox.docker("run", "-d", "--name", "inbusy", "--network", "busy", "busybox", "sleep", "60"))
    try:
        res = sandbox.docker("network", "rm", "busy")
        assert res.returncode == 1
        assert f"error while removing network: network busy id {net_id} has active endpoints" in res.stderr
        assert ok(sandbox.docker("exec", "inbusy", "ip", "-o", "addr", "show", "eth0")).count("inet ") == 1
    finally:
        sandbox.docker("rm", "-f", "inbusy")
    ok(sandbox.docker("network", "rm", "busy"))
    assert "br-" + net_id[:12] not in links(sandbox)
    assert "br-" + net_id[:12] not in nft_table(sandbox)


def test_exhausted_subnet(sandbox):
    net_id = ok(sandbox.docker("network", "create", "--subnet", "10.30.0.0/30", "tiny")).strip()
    try:
        ok(sandbox.docker("run", "-d", "--name", "t1", "--network", "tiny", "busybox", "sleep", "60"))
        res = sandbox.docker("run", "-d", "--name", "t2", "--network", "tiny", "busybox", "sleep", "60")
        assert res.returncode == 125
        assert f"no available IPv4 addresses on this network's address pools: tiny ({net_id})" in res.stderr
        assert ok(sandbox.docker("inspect", "-f", "{{.NetworkSettings.Networks.tiny.IPAddress}}", "t1")).strip() \
            == "10.30.0.2"
    finally:
        sandbox.docker("rm", "-f", "t1", "t2")
        sandbox.docker("network", "rm", "tiny")


# ---------------------------------------------------------------- networks: behaviour
def test_internal_network_has_no_route_out_and_no_nat(sandbox):
    ok(sandbox.docker("network", "create", "--internal", "--subnet", "10.40.0.0/24", "inner"))
    try:
        out = ok(sandbox.docker("run", "--rm", "--network", "inner", "busybox", "ip", "route"))
        assert "default" not in out and "10.40.0.0/24 dev eth0" in out
        table = nft_table(sandbox)
        assert "10.40.0.0/24" not in table.split("chain postrouting")[1].split("chain forward")[0]
        assert "oifname != " in table.split("chain forward")[1]
    finally:
        sandbox.docker("network", "rm", "inner")


def test_connect_and_disconnect_running_container(sandbox):
    ok(sandbox.docker("network", "create", "--subnet", "10.50.0.0/24", "side"))
    ok(sandbox.docker("run", "-d", "--name", "cd1", "busybox", "sleep", "60"))
    try:
        ok(sandbox.docker("network", "connect", "--alias", "cdalias", "--ip", "10.50.0.9", "side", "cd1"))
        out = ok(sandbox.docker("exec", "cd1", "ip", "-o", "addr"))
        assert "eth1" in out and "10.50.0.9/24" in out
        inspect = json.loads(ok(sandbox.docker("network", "inspect", "side")))[0]
        cid = ok(sandbox.docker("inspect", "-f", "{{.Id}}", "cd1")).strip()
        assert inspect["Containers"][cid]["IPv4Address"] == "10.50.0.9/24"
        nets = json.loads(ok(sandbox.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "cd1")))
        assert set(nets) == {"bridge", "side"} and nets["side"]["Aliases"] == ["cdalias"]
        assert "10.50.0.9\t" in ok(sandbox.docker("exec", "cd1", "cat", "/etc/hosts"))
        ok(sandbox.docker("network", "disconnect", "side", "cd1"))
        assert "eth1" not in ok(sandbox.docker("exec", "cd1", "ip", "-o", "addr"))
        assert "10.50.0.9" not in ok(sandbox.docker("exec", "cd1", "cat", "/etc/hosts"))
        res = sandbox.docker("network", "disconnect", "side", "cd1")
        assert res.returncode == 1 and "is not connected to network side" in res.stderr
        # stopped containers: the change applies at the next start
        ok(sandbox.docker("stop", "-t", "0", "cd1"))
        ok(sandbox.docker("network", "connect", "side", "cd1"))
        ok(sandbox.docker("start", "cd1"))
        assert "10.50.0." in ok(sandbox.docker("exec", "cd1", "ip", "-o", "addr", "show", "eth1"))
    finally:
        sandbox.docker("rm", "-f", "cd1")
        sandbox.docker("network", "rm", "side")


def test_rules_and_veths_go_with_the_container(sandbox):
    cid = ok(sandbox.docker("run", "-d", "-p", "7777:80", "busybox", "sleep", "60")).strip()
    assert "tcp dport 7777" in nft_table(sandbox)
    before = links(sandbox).count("veth")
    ok(sandbox.docker("rm", "-f", cid))
    assert "7777" not in nft_table(sandbox)
    for _ in range(30):   # the kernel removes the veth with the namespace, asynchronously
        if links(sandbox).count("veth") == before - 1:
            break
        time.sleep(0.1)
    assert links(sandbox).count("veth") == before - 1


def test_network_ls_filters_and_inspect_shape(sandbox):
    ok(sandbox.docker("network", "create", "--label", "team=a", "-o", "com.docker.network.bridge.name=brteam",
                      "--attachable", "labelled"))
    try:
        names = ok(sandbox.docker("network", "ls", "--filter", "label=team=a", "--format", "{{.Name}}")).split()
        assert names == ["labelled"]
        builtin = ok(sandbox.docker("network", "ls", "--filter", "type=builtin", "--format", "{{.Name}}")).split()
        assert sorted(builtin) == ["bridge", "host", "none"]
        dangling = ok(sandbox.docker("network", "ls", "--filter", "dangling=true", "--format", "{{.Name}}")).split()
        assert "labelled" in dangling and "bridge" not in dangling
        res = sandbox.docker("network", "ls", "--filter", "colour=red")
        assert res.returncode == 1 and "invalid filter 'colour'" in res.stderr
        doc = json.loads(ok(sandbox.docker("network", "inspect", "labelled")))[0]
        assert doc["Attachable"] is True and doc["Labels"] == {"team": "a"} and doc["Driver"] == "bridge"
        assert "brteam" in links(sandbox)
        bridge = json.loads(ok(sandbox.docker("network", "inspect", "bridge")))[0]
        assert bridge["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
        assert bridge["Options"]["com.docker.network.bridge.name"] == "berth0"
        assert ok(sandbox.docker("network", "prune", "-f", "--filter", "label=team=a")).split() == \
            ["Deleted", "Networks:", "labelled"]
    finally:
        sandbox.docker("network", "rm", "labelled")
    assert "brteam" not in links(sandbox)


def test_hosts_resolv_and_add_host_gateway(sandbox):
    out = ok(sandbox.docker("run", "--rm", "--hostname", "box", "--add-host", "gw:host-gateway",
                            "--add-host", "db:10.1.2.3", "--dns", "9.9.9.9", "--dns-search", "example.org",
                            "busybox", "sh", "-c", "cat /etc/hosts /etc/resolv.conf /etc/hostname"))
    assert "172.17.0.1\tgw" in out and "10.1.2.3\tdb" in out
    # on a user network too, host-gateway is the default bridge's address (docker0's, as docker)
    ok(sandbox.docker("network", "create", "hgnet"))
    try:
        user = ok(sandbox.docker("run", "--rm", "--network", "hgnet", "--add-host", "gw:host-gateway",
                                 "--dns-option", "attempts:2", "busybox", "sh", "-c", "cat /etc/hosts /etc/resolv.conf"))
        assert "172.17.0.1\tgw" in user and "options attempts:2 ndots:0" in user
    finally:
        sandbox.docker("network", "rm", "hgnet")
    assert "nameserver 9.9.9.9" in out and "search example.org" in out
    assert any(line.startswith("172.17.0.") and line.endswith("\tbox") for line in out.splitlines())


def test_mac_address_and_network_none(sandbox):
    out = ok(sandbox.docker("run", "--rm", "--mac-address", "02:42:de:ad:be:ef", "busybox", "ip", "link", "show", "eth0"))
    assert "02:42:de:ad:be:ef" in out
    out = ok(sandbox.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"))
    assert "eth0" not in out


def test_ps_network_and_publish_filters(sandbox, web):
    ok(sandbox.docker("network", "create", "filt"))
    try:
        ok(sandbox.docker("run", "-d", "--name", "infilt", "--network", "filt", "busybox", "sleep", "60"))
        assert ok(sandbox.docker("ps", "--filter", "network=filt", "--format", "{{.Names}}")).split() == ["infilt"]
        assert ok(sandbox.docker("ps", "--filter", "publish=80", "--format", "{{.Names}}")).split() == ["web"]
        assert ok(sandbox.docker("ps", "--filter", "expose=80/tcp", "--format", "{{.Names}}")).split() == ["web"]
    finally:
        sandbox.docker("rm", "-f", "infilt")
        sandbox.docker("network", "rm", "filt")


def test_dns_round_robin_alias_compose_service_and_ptr(sandbox):
    ok(sandbox.docker("network", "create", "--subnet", "10.70.0.0/24", "dnsnet"))
    try:
        for name in ("d1", "d2"):
            ok(sandbox.docker("run", "-d", "--name", name, "--network", "dnsnet", "--network-alias", "pool",
                              "--label", "com.docker.compose.service=svc", "busybox", "sleep", "60"))
        out = ok(sandbox.docker("run", "--rm", "--network", "dnsnet", "busybox", "sh", "-c",
                                "nslookup pool 127.0.0.11; nslookup svc 127.0.0.11; nslookup 10.70.0.2 127.0.0.11"))
        assert out.count("10.70.0.2") >= 2 and out.count("10.70.0.3") >= 2
        assert "d1.dnsnet" in out
        # a container on another network does not see these names
        res = sandbox.docker("run", "--rm", "busybox", "nslookup", "-timeout=1", "d1", "127.0.0.11")
        assert "10.70.0." not in res.stdout
    finally:
        sandbox.docker("rm", "-f", "d1", "d2")
        sandbox.docker("network", "rm", "dnsnet")


def test_static_ip_conflict_and_ip_on_default_bridge(sandbox):
    ok(sandbox.docker("network", "create", "--subnet", "10.80.0.0/24", "--gateway", "10.80.0.254",
                      "--ip-range", "10.80.0.128/25", "fixed"))
    try:
        ok(sandbox.docker("run", "-d", "--name", "f1", "--network", "fixed", "--ip", "10.80.0.5", "busybox", "sleep", "60"))
        res = sandbox.docker("run", "-d", "--name", "f2", "--network", "fixed", "--ip", "10.80.0.5", "busybox", "sleep", "60")
        assert res.returncode == 125 and "Address already in use" in res.stderr
        ok(sandbox.docker("rm", "-f", "f2"))
        # dynamic addresses come from the ip-range, the gateway is the one asked for
        out = ok(sandbox.docker("run", "--rm", "--network", "fixed", "busybox", "sh", "-c", "ip -o addr show eth0; ip route"))
        assert "inet 10.80.0.129/24" in out and "default via 10.80.0.254" in out
        res = sandbox.docker("run", "--rm", "--ip", "172.17.0.50", "busybox", "true")
        assert "user specified IP address is supported on user defined networks only" in res.stderr
        res = sandbox.docker("run", "--rm", "--link", "nosuch:x", "busybox", "true")
        assert "could not get container for nosuch" in res.stderr
    finally:
        sandbox.docker("rm", "-f", "f1", "f2")
        sandbox.docker("network", "rm", "fixed")


def test_bridge_options_mtu_masquerade_and_refused_icc(sandbox):
    ok(sandbox.docker("network", "create", "-o", "com.docker.network.driver.mtu=1400",
                      "-o", "com.docker.network.bridge.enable_ip_masquerade=false", "--subnet", "10.90.0.0/24", "opts"))
    try:
        out = ok(sandbox.docker("run", "--rm", "--network", "opts", "busybox", "ip", "link", "show", "eth0"))
        assert "mtu 1400" in out
        assert "10.90.0.0/24" not in nft_table(sandbox)
        res = sandbox.docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "noicc")
        assert res.returncode == 1 and "enable_icc=false is not supported" in res.stderr
        assert sandbox.docker("network", "inspect", "noicc").returncode == 1
    finally:
        sandbox.docker("network", "rm", "opts")


def test_docker_sdk_networks(sandbox):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=sandbox.host_url, version="1.45")
    net = client.networks.create("sdknet", driver="bridge", labels={"k": "v"},
                                 ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.95.0.0/24")]))
    try:
        c = client.containers.run("busybox", ["sleep", "60"], detach=True, name="sdk1")
        net.connect(c, aliases=["sdkalias"])
        net.reload()
        assert c.id in net.attrs["Containers"]
        c.reload()
        assert c.attrs["NetworkSettings"]["Networks"]["sdknet"]["IPAddress"] == "10.95.0.2"
        assert [n.name for n in client.networks.list(filters={"label": "k=v"})] == ["sdknet"]
        net.disconnect(c)
        c.remove(force=True)
        pruned = client.networks.prune(filters={"label": "k=v"})
        assert pruned["NetworksDeleted"] == ["sdknet"]
    finally:
        sandbox.docker("rm", "-f", "sdk1")
        sandbox.docker("network", "rm", "sdknet")
        client.close()


def test_connect_switches_to_embedded_dns_and_joiner_shares_it(sandbox):
    ok(sandbox.docker("network", "create", "--subnet", "10.71.0.0/24", "dnsnet2"))
    try:
        ok(sandbox.docker("run", "-d", "--name", "target", "--network", "dnsnet2", "busybox", "sleep", "60"))
        ok(sandbox.docker("run", "-d", "--name", "late", "busybox", "sleep", "60"))
        ok(sandbox.docker("network", "connect", "dnsnet2", "late"))
        out = ok(sandbox.docker("exec", "late", "sh", "-c", "cat /etc/resolv.conf; nslookup target"))
        assert "nameserver 127.0.0.11" in out and "10.71.0.2" in out
        out = ok(sandbox.docker("run", "--rm", "--network", "container:target", "busybox", "sh", "-c",
                                "cat /etc/resolv.conf; nslookup late"))
        assert "nameserver 127.0.0.11" in out and "10.71.0.3" in out
    finally:
        sandbox.docker("rm", "-f", "target", "late")
        sandbox.docker("network", "rm", "dnsnet2")


def test_stopped_container_settings_as_docker(sandbox):
    ok(sandbox.docker("run", "-d", "--name", "stopme", "--expose", "81", "-p", "8090:80", "busybox", "sleep", "60"))
    running = json.loads(ok(sandbox.docker("inspect", "-f", "{{json .NetworkSettings}}", "stopme")))
    assert running["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8090"}], "81/tcp": None}
    ok(sandbox.docker("stop", "-t", "0", "stopme"))
    try:
        ns = json.loads(ok(sandbox.docker("inspect", "-f", "{{json .NetworkSettings}}", "stopme")))
        assert ns["Ports"] == {} and ns["IPAddress"] == "" and ns["MacAddress"] == ""
        assert ns["SandboxKey"] == running["SandboxKey"] and ns["SandboxID"] == running["SandboxID"]
        es = ns["Networks"]["bridge"]
        assert (es["IPAddress"], es["EndpointID"], es["MacAddress"], es["Gateway"]) == ("", "", "", "")
        assert es["NetworkID"] == running["Networks"]["bridge"]["NetworkID"]
        assert "8090" not in nft_table(sandbox)
    finally:
        sandbox.docker("rm", "-f", "stopme")


def test_ipam_config_shows_what_was_asked(sandbox):
    ok(sandbox.docker("network", "create", "--subnet", "10.72.0.0/24", "asked1"))
    ok(sandbox.docker("network", "create", "--subnet", "10.73.0.0/24", "--gateway", "10.73.0.9", "asked2"))
    try:
        one = json.loads(ok(sandbox.docker("network", "inspect", "-f", "{{json .IPAM.Config}}", "asked1")))
        two = json.loads(ok(sandbox.docker("network", "inspect", "-f", "{{json .IPAM.Config}}", "asked2")))
        assert one == [{"Subnet": "10.72.0.0/24"}]
        assert two == [{"Subnet": "10.73.0.0/24", "Gateway": "10.73.0.9"}]
        out = ok(sandbox.docker("run", "--rm", "--network", "asked1", "busybox", "ip", "route"))
        assert "default via 10.72.0.1" in out
    finally:
        sandbox.docker("network", "rm", "asked1", "asked2")


def test_default_pools_skip_host_networks_and_ipv6_refused(sandbox):
    sandbox.nsenter(["ip", "link", "add", "hostdummy", "type", "veth", "peer", "name", "hostdummy2"], check=True)
    try:
        sandbox.nsenter(["ip", "addr", "add", "172.18.0.1/16", "dev", "hostdummy"], check=True)
        sandbox.nsenter(["ip", "addr", "add", "172.19.5.1/24", "dev", "hostdummy"], check=True)
        ok(sandbox.docker("network", "create", "autopool"))
        subnet = ok(sandbox.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "autopool")).strip()
        assert subnet not in ("172.18.0.0/16", "172.19.0.0/16") and subnet.startswith("172.")
        ok(sandbox.docker("network", "rm", "autopool"))
    finally:
        sandbox.nsenter(["ip", "link", "del", "hostdummy"])
    res = sandbox.docker("network", "create", "--ipv6", "--subnet", "fd00:1::/64", "v6")
    assert res.returncode == 1 and "IPv6" in res.stderr
    assert sandbox.docker("network", "inspect", "v6").returncode == 1


def test_isolation_between_bridges_but_published_ports_reachable(sandbox, web):
    ok(sandbox.docker("network", "create", "--subnet", "10.74.0.0/24", "iso"))
    try:
        web_ip = ok(sandbox.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web")).strip()
        out = sandbox.docker("run", "--rm", "--network", "iso", "busybox", "sh", "-c",
                             f"timeout 2 wget -qO- http://{web_ip}/; echo rc=$?")
        assert "hello-" not in out.stdout and "rc=0" not in out.stdout     # other bridge: dropped
        out = ok(sandbox.docker("run", "--rm", "--network", "iso", "busybox", "wget", "-qO-",
                                "http://172.17.0.1:8080/"))
        assert out.startswith("hello-")                 # but the published port answers
    finally:
        sandbox.docker("network", "rm", "iso")


def test_berth_cli_publishes_and_lists_ports(sandbox):
    res = sandbox.berth("run", "-d", "--name", "bweb", "-p", "127.0.0.1:18090:80", "busybox", "sh", "-c", HTTPD)
    assert res.returncode == 0, res.stderr
    try:
        assert host_get(sandbox, "http://127.0.0.1:18090/").startswith("hello-")
        out = sandbox.berth("ps", "--filter", "name=bweb", "--format", "{{.Ports}}")
        assert out.stdout.strip() == "127.0.0.1:18090->80/tcp"
    finally:
        sandbox.berth("rm", "-f", "bweb")
