"""Pure logic of the network package (no daemon, no namespaces): IPAM, port specs and the
allocator, the nftables rendering, link variables, /etc/hosts."""

from __future__ import annotations

import ipaddress

import pytest

from berth.errors import Conflict, Forbidden, InvalidParameter
from berth.network import ipam, links, ports
from berth.network.etc_files import hosts_text
from berth.network.nat import BridgeRules, PortRule, render


def test_pick_address_lowest_free_skips_gateway_and_respects_range():
    pool = ipam.pool_from_request({"Subnet": "10.0.0.0/29", "Gateway": "10.0.0.2"})
    assert str(ipam.pick_address(pool, set())) == "10.0.0.1"
    assert str(ipam.pick_address(pool, {"10.0.0.1"})) == "10.0.0.3"
    assert ipam.pick_address(pool, {f"10.0.0.{i}" for i in (1, 3, 4, 5, 6)}) is None
    ranged = ipam.pool_from_request({"Subnet": "10.0.0.0/24", "IPRange": "10.0.0.128/25"})
    assert str(ipam.pick_address(ranged, set())) == "10.0.0.129"
    tiny = ipam.pool_from_request({"Subnet": "10.0.0.0/30"})
    assert str(ipam.pick_address(tiny, set())) == "10.0.0.2"
    assert ipam.pick_address(tiny, {"10.0.0.2"}) is None


def test_pool_requests_refused_with_docker_words():
    with pytest.raises(InvalidParameter, match="invalid CIDR address: 10.300.0.0/16"):
        ipam.pool_from_request({"Subnet": "10.300.0.0/16"})
    with pytest.raises(InvalidParameter, match="not within"):
        ipam.pool_from_request({"Subnet": "10.0.0.0/24", "IPRange": "10.1.0.0/25"})
    with pytest.raises(InvalidParameter, match="Gateway"):
        ipam.pool_from_request({"Subnet": "10.0.0.0/24", "Gateway": "10.9.0.1"})
    with pytest.raises(Forbidden, match="Pool overlaps with other one on this address space"):
        ipam.check_overlap(ipaddress.IPv4Network("10.0.5.0/24"), [ipaddress.IPv4Network("10.0.0.0/16")])
    taken = [ipaddress.IPv4Network("172.17.0.0/16"), ipaddress.IPv4Network("172.18.0.0/16")]
    assert str(ipam.default_pool(taken).subnet) == "172.19.0.0/16"
    assert ipam.mac_from_ip(ipaddress.IPv4Address("172.17.0.2")) == "02:42:ac:11:00:02"
    with pytest.raises(InvalidParameter):
        ipam.check_mac("02:42:zz:00:00:01")


def test_port_specs_and_mappings():
    with pytest.raises(InvalidParameter, match='invalid port specification: "abc"'):
        ports.validate({"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}})
    with pytest.raises(InvalidParameter, match='invalid port specification: "70000"'):
        ports.validate({"PortBindings": {"70000/tcp": [{}]}})
    ms = ports.mappings({"ExposedPorts": {"81/tcp": {}, "80/tcp": {}}},
                        {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                          "53/udp": [{"HostPort": "9000-9001"}]},
                         "PublishAllPorts": True})
    assert [(m.proto, m.container_port, m.host_ip, m.host_port, m.host_range) for m in ms] == [
        ("tcp", 80, "127.0.0.1", 8080, None), ("udp", 53, "", 0, (9000, 9001)), ("tcp", 81, "", 0, None)]


def test_port_allocator_collisions_ranges_and_random():
    alloc = ports.PortAllocator()
    alloc.take(ports.Mapping("tcp", 80, "127.0.0.1", 8080))
    alloc.take(ports.Mapping("tcp", 80, "127.0.0.2", 8080))      # another address: fine
    alloc.take(ports.Mapping("udp", 80, "", 8080))               # another protocol: fine
    with pytest.raises(Conflict, match="Bind for 0.0.0.0:8080 failed: port is already allocated"):
        alloc.take(ports.Mapping("tcp", 80, "", 8080))
    first = ports.Mapping("tcp", 80, "", 0, (9000, 9001))
    second = ports.Mapping("tcp", 80, "", 0, (9000, 9001))
    alloc.take(first)
    alloc.take(second)
    assert (first.host_port, second.host_port) == (9000, 9001)
    with pytest.raises(Conflict):
        alloc.take(ports.Mapping("tcp", 80, "", 0, (9000, 9001)))
    alloc.release(first)
    again = ports.Mapping("tcp", 80, "", 0, (9000, 9001))
    alloc.take(again)
    assert again.host_port == 9000
    rnd = ports.Mapping("tcp", 80, "", 0)
    alloc.take(rnd)
    assert ports.EPHEMERAL[0] <= rnd.host_port <= ports.EPHEMERAL[1]


def test_render_is_one_replacing_batch():
    text = render([BridgeRules("berth0", "172.17.0.0/16", False), BridgeRules("br-a", "10.1.0.0/24", True)],
                  [PortRule("tcp", "", 8080, "172.17.0.2", 80, "berth0"),
                   PortRule("udp", "127.0.0.1", 5353, "172.17.0.2", 53, "berth0")], True)
    assert text.startswith("add table ip berth\ndelete table ip berth\ntable ip berth {")
    assert 'iifname != "berth0" tcp dport 8080 dnat to 172.17.0.2:80' in text
    assert 'iifname != "berth0" ip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.2:53' in text
    assert 'ip saddr 172.17.0.0/16 oifname != "berth0" masquerade' in text
    assert "10.1.0.0/24" not in text                       # internal: never masqueraded
    assert 'iifname "br-a" oifname != "br-a" drop' in text
    assert 'iifname "berth0" oifname { "br-a" } drop' in text
    no_proxy = render([BridgeRules("berth0", "172.17.0.0/16", False)],
                      [PortRule("tcp", "", 8080, "172.17.0.2", 80, "berth0")], False)
    assert "tcp dport 8080 dnat to" in no_proxy and 'iifname != "berth0" tcp' not in no_proxy
    assert "ct status dnat masquerade" in no_proxy


def test_link_env_and_hosts():
    env = links.link_env("/me", links.parse_links(["web:my-db"])[0], "172.17.0.3",
                         {"81/tcp": {}, "80/tcp": {}}, ["PATH=/bin", "A=b=c"])
    assert env[:2] == ["MY_DB_NAME=/me/my-db", "MY_DB_PORT=tcp://172.17.0.3:80"]
    assert "MY_DB_PORT_81_TCP_ADDR=172.17.0.3" in env and "MY_DB_ENV_A=b=c" in env
    assert not any(e.startswith("MY_DB_ENV_PATH") for e in env)
    assert links.parse_links(["/web:/me/alias"])[0] == links.Link("web", "alias")
    text = hosts_text("172.17.0.4", "box", "ex.org", ["gw:host-gateway", "db=10.0.0.9"],
                      [("172.17.0.3", ["alias", "abc", "web"])], "172.17.0.1")
    assert text.splitlines()[-4:] == ["172.17.0.1\tgw", "10.0.0.9\tdb", "172.17.0.3\talias abc web",
                                      "172.17.0.4\tbox.ex.org box"]


def test_name_filters_are_regular_expressions_as_dockers():
    from berth.engine.filters import name_matches

    assert name_matches("^app$", "app") and not name_matches("^app$", "appnet")
    assert name_matches("net", "appnet")
    assert not name_matches("([", "anything")  # an invalid expression matches nothing
