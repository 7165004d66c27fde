"""`berth network ...` and `berth port` against docker 28's CLI on the same fake daemon.

Both CLIs talk to a FakeDaemon with the same canned answers; the requests they
send (bodies as JSON), their stdout, stderr (with "docker" read as "berth") and
exit codes must match. Without the docker binary, the golden cases below still
pin the bodies and texts captured from docker 28.2.2.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from berth.cli.netopts import natural_less, natural_sorted
from berth.cli.main import main
from test_cli_support import FakeDaemon, Reply, error_reply, json_reply

DOCKER = "/usr/local/bin/docker"
HAVE_DOCKER = os.access(DOCKER, os.X_OK)

NETS = [
    {"Name": "bridge", "Id": "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566",
     "Created": "2026-11-28T09:00:00.123456789Z", "Scope": "local", "Driver": "bridge", "EnableIPv4": True,
     "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None,
                                   "Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]},
     "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
     "Containers": {}, "Options": {"com.docker.network.bridge.default_bridge": "true"}, "Labels": {}},
    {"Name": "net10", "Id": "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
     "Created": "2026-11-28T09:10:00.5Z", "Scope": "local", "Driver": "bridge", "EnableIPv4": True,
     "EnableIPv6": True, "IPAM": {"Driver": "default", "Options": {},
                                  "Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1",
                                              "AuxiliaryAddresses": {"r": "172.18.0.9"}}]},
     "Internal": True, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
     "Containers": {"c0ffee": {"Name": "web", "EndpointID": "e1", "MacAddress": "02:42:ac:12:00:02",
                               "IPv4Address": "172.18.0.2/16", "IPv6Address": ""}},
     "Options": {}, "Labels": {"a": "b"}},
    {"Name": "net9", "Id": "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
     "Created": "2026-11-28T09:00:00Z", "Scope": "local", "Driver": "host", "EnableIPv4": True,
     "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None, "Config": None}, "Internal": False,
     "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
     "Options": {}, "Labels": {}},
]

CONTAINER = {"Id": "c0ffee" * 10 + "abcd", "Name": "/web", "NetworkSettings": {"Ports": {
    "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
    "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}], "443/tcp": None,
    "9000/tcp": [{"HostIp": "", "HostPort": "32768"}], "10000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "1"}],
    "7/tcp": []}}}


def _net(req):
    name = req.path.rsplit("/", 1)[1]
    for n in NETS:
        if name in (n["Name"], n["Id"]) or n["Id"].startswith(name):
            return json_reply(n)
    return error_reply(404, f"network {name} not found")


def _rm(req):
    name = req.path.rsplit("/", 1)[1]
    if name == "busy":
        return error_reply(403, "error while removing network: network busy has active endpoints")
    if any(name in (n["Name"], n["Id"]) for n in NETS):
        return Reply(204, b"", {})
    return error_reply(404, f"network {name} not found")


def _ctr(req):
    name = req.path.split("/")[-2]
    return json_reply(CONTAINER) if name == "web" else error_reply(404, f"No such container: {name}")


def _connect(req):
    if "/nope/" in req.path:
        return error_reply(404, "network nope not found")
    return Reply(200, b"", {})


def routes(deleted=("n1", "n2")):
    return {
        "POST /networks/create": json_reply({"Id": "abc123", "Warning": "careful"}, 201),
        "GET /networks": json_reply(NETS),
        "GET /networks/.*": _net,
        "DELETE /networks/.*": _rm,
        "POST /networks/prune": json_reply({"NetworksDeleted": list(deleted) or None}),
        "POST /networks/.*/connect": _connect,
        "POST /networks/.*/disconnect": Reply(200, b"", {}),
        "GET /containers/.*/json": _ctr,
    }


def _requests(daemon: FakeDaemon, drop_probe_gets: bool) -> list[tuple]:
    """(method, path, query, body): docker's rm first GETs each network (an ingress check) - left out."""
    out = []
    for r in daemon.requests:
        if r.path == "/_ping":
            continue
        if drop_probe_gets and r.method == "GET" and r.path.startswith("/networks/"):
            continue
        body = r.json() if r.body else None
        if isinstance(body, dict) and isinstance(body.get("IPAM"), dict):
            body["IPAM"]["Config"] = sorted(body["IPAM"]["Config"], key=lambda c: c.get("Subnet", ""))
        out.append((r.method, r.path, r.query, body))
    return out


def run_berth(args: list[str], capsys, answer: str = "y\n", deleted=("n1", "n2")) -> tuple:
    import io
    import sys

    with FakeDaemon(routes(deleted)) as d:
        old = sys.stdin
        sys.stdin = io.StringIO(answer)
        try:
            status = main(["-H", d.host, *args])
        finally:
            sys.stdin = old
        out = capsys.readouterr()
        return status, out.out, out.err, _requests(d, args[:2] in (["network", "rm"], ["network", "remove"]))


def run_docker(args: list[str], tmp_path, answer: str = "y\n", deleted=("n1", "n2")) -> tuple:
    env = dict(os.environ, DOCKER_CONFIG=str(tmp_path / "cfg"), HOME=str(tmp_path))
    env.pop("DOCKER_HOST", None)
    with FakeDaemon(routes(deleted)) as d:
        p = subprocess.run([DOCKER, "-H", d.host, *args], env=env, capture_output=True, text=True,
                           input=answer, timeout=30)
        reqs = _requests(d, args[:2] in (["network", "rm"], ["network", "remove"]))
    err = p.stderr.replace("docker", "berth").replace("Docker", "Berth")
    return p.returncode, p.stdout, err, reqs


LIVE_CASES = [
    # create: bodies and client-side IPAM checks
    ["network", "create", "n1"],
    ["network", "create", "--subnet=10.5.0.0/16", "--gateway=10.5.0.1", "--ip-range=10.5.1.0/24",
     "--aux-address=a=10.5.0.3", "--label=x=y", "--label=z", "-o", "com.docker.network.bridge.name=br9",
     "--internal", "--attachable", "--ipv6", "--ipam-opt=k=v", "n2"],
    ["network", "create", "--ipv4=false", "--scope=local", "--config-only", "--ingress", "--config-from=x",
     "-d", "macvlan", "--ipam-driver=foo", "n3"],
    ["network", "create", "--subnet", "10.5.0.0/16,10.6.0.0/16", "--gateway", "10.5.0.1,10.6.0.1", "n"],
    ["network", "create", "--subnet=10.5.0.0/16", "--subnet=fd00::/64", "--gateway=fd00::1",
     "--gateway=10.5.0.1", "--ip-range=10.5.0.128/25", "n"],
    ["network", "create", "--ipv6=false", "--internal=false", "-o", "foo", "n"],
    ["network", "create", "--subnet=bogus", "n"],
    ["network", "create", "--subnet=10.5.0.5", "n"],
    ["network", "create"],
    ["network", "create", "a", "b"],
    ["network", "create", "--gateway=10.5.0.1", "n"],
    ["network", "create", "--subnet=10.5.0.0/16", "--gateway=10.6.0.1", "n"],
    ["network", "create", "--subnet=10.5.0.0/16", "--subnet=10.5.1.0/24", "n"],
    ["network", "create", "--subnet=bogus", "--gateway=1.2.3.4", "n"],
    ["network", "create", "--subnet=10.0.0.0/8", "--subnet=bogus", "n"],
    ["network", "create", "--gateway=bogus", "--subnet=10.5.0.0/16", "n"],
    ["network", "create", "--ip-range=bogus", "--subnet=10.5.0.0/16", "n"],
    ["network", "create", "--subnet=10.5.0.0/16", "--ip-range=10.5.1.7", "n"],
    ["network", "create", "--subnet=10.5.0.0/16", "--ip-range=10.6.0.0/24", "n"],
    ["network", "create", "--subnet=10.5.0.0/16", "--aux-address=a=10.6.0.1", "n"],
    ["network", "create", "--subnet=10.5.0.0/16", "--aux-address=a", "n"],
    ["network", "create", "--label=", "n"],
    ["network", "create", "--subnet", "::ffff:10.0.0.0/120", "--gateway", "10.0.0.1", "n"],
    ["network", "create", "--subnet", "010.0.0.0/8", "--gateway", "10.0.0.1", "n"],
    ["network", "create", "--subnet", "10.0.0.0/24", "--gateway", "10.0.0.1", "--gateway", "10.0.0.2",
     "--subnet", "10.1.0.0/24", "n"],
    ["network", "create", "--subnet", "10.0.0.0/24", "--ip-range", "10.0.0.0/25", "--ip-range", "10.0.0.128/25",
     "--subnet", "10.1.0.0/24", "n"],
    ["network", "create", "--ipv4=maybe", "n"],
    ["network", "create", "--bogus", "n"],
    ["network", "create", "n", "--driver"],
    # ls
    ["network", "ls"],
    ["network", "ls", "--no-trunc"],
    ["network", "ls", "-q"],
    ["network", "list", "-q", "--no-trunc"],
    ["network", "ls", "--format", "json"],
    ["network", "ls", "--format", "raw"],
    ["network", "ls", "--format", "raw", "-q"],
    ["network", "ls", "--format", "table", "-q"],
    ["network", "ls", "--format", "{{.Name}}", "-q"],
    ["network", "ls", "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.IPv6}} {{.IPv4}} {{.Internal}} "
     "{{.Labels}} {{.CreatedAt}} {{.Label \"a\"}}"],
    ["network", "ls", "--format", "table {{.ID}}\t{{.IPv6}}\t{{.IPv4}}\t{{.Internal}}\t{{.Labels}}\t{{.CreatedAt}}"],
    ["network", "ls", "--format", "{{json .}}"],
    ["network", "ls", "--format", "{{.Bogus}}"],
    ["network", "ls", "--format", "{{.Name"],
    ["network", "ls", "-f", "driver=bridge", "-f", "name=app", "--filter", "label=a"],
    ["network", "ls", "-f", "bogus"],
    ["network", "ls", "--format", "table", "--no-trunc"],
    ["network", "ls", "-q", "--format", "json"],
    ["network", "ls", "x"],
    # inspect
    ["network", "inspect", "net10"],
    ["network", "inspect", "net10", "nope", "net9"],
    ["network", "inspect", "nope"],
    ["network", "inspect", "--format", "json", "net10", "bridge"],
    ["network", "inspect", "-v", "net10"],
    ["network", "inspect", "-f", "{{.Name}} {{.IPAM.Config}} {{index .Labels \"a\"}} {{.Created}} {{.ID}}",
     "net10", "net9"],
    ["network", "inspect", "-f", "{{.Created}} {{.Id}} {{.ID}}", "net10"],
    ["network", "inspect", "-f", "{{json .}}", "net10"],
    ["network", "inspect", "-f", "{{range $k, $v := .Containers}}{{$v.Name}} {{$v.IPv4Address}}{{end}}", "net10"],
    ["network", "inspect", "-f", "{{.Name"],
    ["network", "inspect"],
    # rm / prune
    ["network", "rm", "net10", "nope", "busy", "bridge"],
    ["network", "rm", "-f", "nope", "net10"],
    ["network", "remove", "net10"],
    ["network", "rm", "nope"],
    ["network", "rm"],
    ["network", "prune", "-f"],
    ["network", "prune", "--filter", "until=1h", "--filter", "label=a"],
    ["network", "prune", "x"],
    # connect / disconnect
    ["network", "connect", "--alias", "a", "--alias", "b,c", "--ip", "10.0.0.5", "--ip6", "fd00::5", "--link",
     "x:y", "--link-local-ip", "169.254.1.1", "--driver-opt", "k=v", "--gw-priority", "5", "net10", "web"],
    ["network", "connect", "nope", "web"],
    ["network", "connect", "net10"],
    ["network", "connect", "--driver-opt", "k", "net10", "web"],
    ["network", "connect", "--gw-priority", "x", "net10", "web"],
    ["network", "connect", "--ip", "bogus", "net10", "web"],
    ["network", "connect", "--link", "bad:a:b", "net10", "web"],
    ["network", "connect", "--link", "", "net10", "web"],
    ["network", "connect", "--link", "/a:/c1/b", "--alias", "", "net10", "web"],
    ["network", "disconnect", "-f", "net10", "web"],
    ["network", "disconnect", "net10", "web"],
    ["network", "disconnect", "net10"],
    # port
    ["port", "web"],
    ["port", "web", "80"],
    ["port", "web", "80/tcp"],
    ["port", "web", "53/udp"],
    ["port", "web", "7"],
    ["port", "web", "443"],
    ["port", "web", "1234"],
    ["port", "web", "80/bogus"],
    ["port", "web", "abc"],
    ["port", "web", "99999"],
    ["port", "nope"],
    ["port", "web", "80", "90"],
    ["port", "web", ""],
    ["port", "web", "00080"],
    ["port", "web", "80/"],
    ["port", "web", "65536"],
    ["container", "port", "web", "9000"],
    # help and usage
    ["network"],
    ["network", "--help"],
    ["network", "bogus"],
    ["network", "create", "--help"],
    ["network", "connect", "--help"],
    ["network", "disconnect", "--help"],
    ["network", "inspect", "--help"],
    ["network", "ls", "--help"],
    ["network", "prune", "--help"],
    ["network", "rm", "--help"],
    ["port", "--help"],
]


@pytest.mark.skipif(not HAVE_DOCKER, reason="docker CLI not installed")
@pytest.mark.parametrize("args", LIVE_CASES, ids=lambda a: " ".join(a)[:70])
def test_same_as_docker(args, tmp_path, capsys):
    expected = run_docker(args, tmp_path)
    got = run_berth(args, capsys)
    if "--help" in args:  # help goes to stdout; it links docs.docker.com
        out = expected[1].replace("docker", "berth").replace("docs.berth.com", "docs.docker.com")
        expected = (expected[0], out, expected[2], expected[3])
    assert got[3] == expected[3]  # requests
    assert got[1] == expected[1]  # stdout
    assert got[2] == expected[2]  # stderr
    assert got[0] == expected[0]  # exit status


@pytest.mark.skipif(not HAVE_DOCKER, reason="docker CLI not installed")
@pytest.mark.parametrize("answer,deleted", [("n\n", ("n1",)), ("y\n", ()), ("Y\n", ("a", "b")), ("", ("a",)),
                                            ("yes\n", ("a",)), (" y \n", ("a",))])
def test_prune_prompt_same_as_docker(answer, deleted, tmp_path, capsys):
    args = ["network", "prune"]
    assert run_berth(args, capsys, answer, deleted) == run_docker(args, tmp_path, answer, deleted)


# --- golden cases (docker 28.2.2), for machines without the docker binary ----------------------------


def test_create_body_golden(capsys):
    status, out, err, reqs = run_berth(
        ["network", "create", "--subnet=10.5.0.0/16", "--gateway=10.5.0.1", "--ip-range=10.5.1.0/24",
         "--aux-address=a=10.5.0.3", "--label=x=y", "--label=z", "-o", "com.docker.network.bridge.name=br9",
         "--internal", "--attachable", "--ipv6", "--ipam-opt=k=v", "n2"], capsys)
    assert (status, out, err) == (0, "abc123\n", "")
    assert reqs == [("POST", "/networks/create", {}, json.loads(
        '{"Driver":"bridge","Scope":"","EnableIPv6":true,"IPAM":{"Driver":"default","Options":{"k":"v"},'
        '"Config":[{"Subnet":"10.5.0.0/16","IPRange":"10.5.1.0/24","Gateway":"10.5.0.1","AuxiliaryAddresses":'
        '{"a":"10.5.0.3"}}]},"Internal":true,"Attachable":true,"Ingress":false,"ConfigOnly":false,"ConfigFrom":'
        'null,"Options":{"com.docker.network.bridge.name":"br9"},"Labels":{"x":"y","z":""},"Name":"n2"}'))]


@pytest.mark.parametrize("args,message", [
    (["--gateway=10.5.0.1"], "every ip-range or gateway must have a corresponding subnet"),
    (["--subnet=10.5.0.0/16", "--subnet=10.5.1.0/24"], "multiple overlapping subnet configuration is not supported"),
    (["--subnet=bogus", "--gateway=1.2.3.4"], "invalid subnet: invalid CIDR address: bogus"),
    (["--subnet=10.5.0.0/16", "--ip-range=10.5.1.7"], "invalid CIDR address: 10.5.1.7"),
    (["--subnet=10.5.0.0/16", "--gateway=10.6.0.1"], "no matching subnet for gateway 10.6.0.1"),
    (["--subnet=10.5.0.0/16", "--aux-address=a=10.6.0.1"], "no matching subnet for aux-address 10.6.0.1"),
])
def test_create_ipam_errors_golden(args, message, capsys):
    status, out, err, reqs = run_berth(["network", "create", *args, "n"], capsys)
    assert (status, out, err, reqs) == (1, "", message + "\n", [])


def test_ls_table_golden(capsys):
    status, out, _, _ = run_berth(["network", "ls"], capsys)
    assert out == ("NETWORK ID     NAME      DRIVER    SCOPE\n"
                   "f2de39df4171   bridge    bridge    local\n"
                   "9f8e7d6c5b4a   net9      host      local\n"
                   "0a1b2c3d4e5f   net10     bridge    local\n")


def test_rm_golden(capsys):
    status, out, err, reqs = run_berth(["network", "rm", "net10", "nope", "bridge"], capsys)
    assert (status, out) == (1, "net10\nbridge\n")
    assert err == "Error response from daemon: network nope not found\nexit status 1\n"
    assert [r[:2] for r in reqs] == [("DELETE", "/networks/net10"), ("DELETE", "/networks/nope"),
                                     ("DELETE", "/networks/bridge")]


def test_port_golden(capsys):
    status, out, err, _ = run_berth(["port", "web"], capsys)
    assert out == ("53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n"
                   "9000/tcp -> :32768\n10000/tcp -> 0.0.0.0:1\n")
    status, out, err, _ = run_berth(["port", "web", "abc"], capsys)
    assert (status, err) == (1, 'Error: invalid port (abc): strconv.ParseUint: parsing "abc": invalid syntax\n')


def test_natural_order():
    assert natural_less("a2", "a10") and not natural_less("a10", "a2")
    assert natural_less("1", "a") and natural_less("a", "b")
    assert natural_less("a01", "a001") and natural_less("x", "x0")
    assert natural_sorted(["net10", "bridge", "net9", "Net1"]) == ["Net1", "bridge", "net9", "net10"]
