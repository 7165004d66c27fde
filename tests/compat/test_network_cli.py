"""`berth network ...` and `berth port` against the real docker CLI on the same berthd.

Read-only commands run on the same objects and must print the same bytes;
commands that change state run once per CLI on twin objects and must print
the same thing up to the objects' names and ids.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

pytestmark = [pytest.mark.compat,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _ok(r):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return r


def _same(b, d):
    assert (b.stdout, b.stderr.replace("berth", "docker").replace("Berth", "Docker"), b.returncode) == \
        (d.stdout, d.stderr, d.returncode)


def _both(sandbox, *args):
    _same(sandbox.berth(*args), sandbox.docker(*args))


@pytest.fixture(scope="module")
def world(sandbox):
    """Two user networks (one internal)."""
    net = _name("cmpnet")
    other = _name("cmpnet2")
    _ok(sandbox.docker("network", "create", "--subnet", "10.77.0.0/24", "--gateway", "10.77.0.254",
                       "--label", "tier=front", "-o", "com.docker.network.bridge.name=cmpbr0", net))
    # one label each: docker joins several in Go's random map order
    _ok(sandbox.docker("network", "create", "--internal", "--label", "x", other))
    yield {"net": net, "other": other}
    sandbox.docker("network", "rm", net, other)


@pytest.fixture(scope="module")
def ctrs(sandbox, world):
    """A container on the user network with published ports, one on the default bridge."""
    web = _name("web")
    _ok(sandbox.docker("run", "-d", "--name", web, "--network", world["net"], "-p", "127.0.0.1:18080:80",
                       "-p", "18081:81/udp", "-p", "9000", "busybox", "sleep", "1000"))
    plain = _name("plain")
    _ok(sandbox.docker("run", "-d", "--name", plain, "busybox", "sleep", "1000"))
    yield {"web": web, "plain": plain}
    sandbox.docker("rm", "-f", web, plain)


@pytest.mark.parametrize("args", [
    [], ["-q"], ["--no-trunc"], ["-q", "--no-trunc"], ["--format", "json"], ["--format", "raw"],
    ["--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.IPv4}} {{.IPv6}} {{.Internal}}"],
    ["--format", "table {{.Name}}\t{{.Labels}}\t{{.Internal}}"],
    ["-f", "driver=bridge"], ["-f", "name=cmpnet"], ["-f", "label=tier=front"], ["-f", "type=custom", "-q"],
    ["-f", "type=builtin"], ["-f", "bogus=1"], ["-f", "nofilter"], ["extra"],
])
def test_ls_same_as_docker(sandbox, world, args):
    _both(sandbox, "network", "ls", *args)


@pytest.mark.parametrize("which,args", [
    ("net", []), ("net", ["--format", "json"]), ("net", ["-f", "{{.Name}} {{json .IPAM}} {{.Internal}}"]),
    ("net", ["-f", "{{.Created}} {{.ID}}"]), ("net", ["-f", "{{json .Labels}} {{index .Labels \"tier\"}}"]),
    ("other", ["-f", "{{.Internal}} {{.Driver}} {{.IPAM.Config}}"]), ("bridge", []), ("host", ["-v"]),
    ("nope", []), ("net+nope", ["-f", "{{.Name}}"]), ("net", ["-f", "{{.Nope}}"]),
])
def test_inspect_same_as_docker(sandbox, world, which, args):
    names = [world.get(w, w) for w in which.split("+")]
    _both(sandbox, "network", "inspect", *args, *names)


@pytest.mark.parametrize("args", [
    [], ["80"], ["80/tcp"], ["81/udp"], ["81"], ["9000"], ["443"], ["abc"], ["1/sctp"],
])
def test_port_same_as_docker(sandbox, ctrs, args):
    _both(sandbox, "port", ctrs["web"], *args)
    _both(sandbox, "container", "port", ctrs["web"], *args)


def test_port_of_container_without_ports_and_missing_container(sandbox, ctrs):
    _both(sandbox, "port", ctrs["plain"])
    _both(sandbox, "port", "no-such-ctr-x")


@pytest.mark.parametrize("args", [
    ["--subnet", "10.77.0.0/25"],               # overlaps the fixture's network
    ["--subnet", "10.88.0.0/33"],               # invalid CIDR, refused by the daemon
    ["--subnet", "10.88.0.0/24", "--gateway", "10.99.0.1"],
    ["--subnet", "10.88.0.0/24", "--subnet", "10.88.0.0/25"],
    ["-d", "nosuchdriver"],
])
def test_create_errors_same_as_docker(sandbox, world, args):
    name = _name("bad")
    _both(sandbox, "network", "create", *args, name)
    assert sandbox.docker("network", "inspect", name).returncode == 1  # nothing was left behind


def test_create_duplicate_name_same_as_docker(sandbox, world):
    _both(sandbox, "network", "create", world["net"])


def test_create_gives_the_same_network_as_docker(sandbox, world):
    """The same flags through both CLIs make networks that inspect the same (but for name/id/time)."""
    flags = ["--subnet", "10.66.{n}.0/24", "--ip-range", "10.66.{n}.128/25", "--gateway", "10.66.{n}.1",
             "--aux-address", "r=10.66.{n}.5", "--label", "a=b", "--internal", "--attachable",
             "-o", "com.docker.network.bridge.enable_icc=true"]
    shapes = []
    for n, who in enumerate(("berth", "docker")):
        name = _name("twin")
        r = _ok(getattr(sandbox, who)("network", "create", *[f.format(n=n) for f in flags], name))
        assert re.fullmatch(r"[0-9a-f]{64}\n", r.stdout) and r.stderr == ""
        shape = _ok(sandbox.docker("network", "inspect", "-f",
                                   "{{.Driver}} {{.Scope}} {{json .IPAM}} {{.Internal}} {{.Attachable}} "
                                   "{{json .Labels}} {{json .Options}} {{.EnableIPv6}}", name)).stdout
        shapes.append(shape.replace(f"10.66.{n}.", "10.66.N."))
        _ok(sandbox.docker("network", "rm", name))
    assert shapes[0] == shapes[1]


def test_inspect_containers_same_as_docker(sandbox, world, ctrs):
    _both(sandbox, "network", "inspect", world["net"])
    _both(sandbox, "network", "inspect", "-f",
          "{{range $id, $c := .Containers}}{{$c.Name}} {{$c.IPv4Address}}{{end}}", world["net"])


def test_rm_in_use_same_as_docker(sandbox, world, ctrs):
    _both(sandbox, "network", "rm", world["net"])


def test_rm_same_as_docker(sandbox, world):
    outs = []
    for who in ("berth", "docker"):
        a = _name("rma")
        _ok(sandbox.docker("network", "create", a))
        run = getattr(sandbox, who)
        r1 = run("network", "rm", a, "no-such-net-x", "bridge")   # one ok, one missing, one predefined
        r2 = run("network", "rm", "-f", "no-such-net-x")
        r3 = run("network", "remove", "no-such-net-x")
        outs.append([(r.stdout.replace(a, "A"), r.stderr.replace(a, "A").replace("berth", "docker"), r.returncode)
                     for r in (r1, r2, r3)])
    assert outs[0] == outs[1]
    assert outs[0][0][2] == 1 and outs[0][1] == ("", "", 0)


def test_prune_same_as_docker(sandbox, world):
    outs = []
    for who in ("berth", "docker"):
        a = _name("prn")
        _ok(sandbox.docker("network", "create", "--label", "prunetest=1", a))
        run = getattr(sandbox, who)
        r = run("network", "prune", "-f", "--filter", "label=prunetest")
        again = run("network", "prune", "-f", "--filter", "label=prunetest")
        outs.append([(x.stdout.replace(a, "A"), x.stderr, x.returncode) for x in (r, again)])
    assert outs[0] == outs[1]
    assert outs[0][0][0] == "Deleted Networks:\nA\n\n" and outs[0][1] == ("", "", 0)
    _ok(sandbox.docker("network", "inspect", world["net"]))  # the filter kept the others


def test_connect_disconnect_same_as_docker(sandbox, world):
    outs = []
    for who in ("berth", "docker"):
        c = _name("conn")
        cid = _ok(sandbox.docker("run", "-d", "--name", c, "busybox", "sleep", "1000")).stdout.strip()
        run = getattr(sandbox, who)
        steps = [
            run("network", "connect", "--alias", "svc", "--alias", "svc2", "--ip", "10.77.0.50", world["net"], c),
            run("network", "connect", world["net"], c),              # already connected
            run("network", "connect", "no-such-net-x", c),
            run("network", "connect", world["net"], "no-such-ctr-x"),
        ]
        seen = _ok(sandbox.docker("inspect", "-f",
                                  f"{{{{(index .NetworkSettings.Networks \"{world['net']}\").IPAddress}}}} "
                                  f"{{{{(index .NetworkSettings.Networks \"{world['net']}\").Aliases}}}}", c)).stdout
        steps += [
            run("network", "disconnect", world["net"], c),
            run("network", "disconnect", world["net"], c),           # not connected any more
            run("network", "disconnect", "-f", "no-such-net-x", c),
        ]
        outs.append(([(s.stdout, s.stderr.replace(cid, "ID").replace(c, "C").replace("berth", "docker"), s.returncode)
                      for s in steps],
                     seen))
        sandbox.docker("rm", "-f", c)
    assert outs[0] == outs[1]
    assert outs[0][1].startswith("10.77.0.50 ") and "svc2" in outs[0][1]
