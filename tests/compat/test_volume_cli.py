"""`berth volume ...` prints what the docker CLI prints against the same berthd:
the same output, errors and exit status for each command line."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.compat]

CASES = [
    ["volume", "--help"],
    ["volume", "create", "--help"],
    ["volume", "ls", "--help"],
    ["volume", "inspect", "--help"],
    ["volume", "prune", "--help"],
    ["volume", "rm", "--help"],
    ["volume", "update", "--help"],
    ["volume", "ls"],
    ["volume", "list", "-q"],
    ["volume", "ls", "--format", "json"],
    # (.Labels is left out: docker's CLI joins a Go map, in random order)
    ["volume", "ls", "--format", "{{.Name}}|{{.Label \"tier\"}}|{{.Size}}|{{.Links}}|{{.Scope}}|{{.Driver}}"],
    ["volume", "ls", "--format", "table {{.Name}}\t{{.Mountpoint}}"],
    ["volume", "ls", "-f", "label=tier=web"],
    ["volume", "ls", "-f", "dangling=true", "-f", "name=cli"],
    ["volume", "ls", "-f", "bogus=1"],
    ["volume", "ls", "-f", "dangling=maybe"],
    ["volume", "ls", "-q", "--format", "{{.Driver}}"],
    ["volume", "inspect", "cli-a"],
    ["volume", "inspect", "cli-a", "nope"],
    ["volume", "inspect", "-f", "{{.Name}} {{json .Labels}} {{.Options}}", "cli-a", "cli-b"],
    ["volume", "inspect", "--format", "json", "cli-b"],
    ["volume", "create", "x"],
    ["volume", "create", "a/b"],
    ["volume", "create", "--name", "n1", "n2"],
    ["volume", "create", "-o", "bogus=1", "optbad"],
    ["volume", "create", "-d", "nodriver", "drv"],
    ["volume", "rm", "nope", "nope2"],
    ["volume", "rm", "-f", "nope"],
    ["volume", "prune", "-a", "--filter", "all=1"],
    ["volume", "update", "cli-a"],
    ["volume", "update", "nope"],
    ["volume", "create", "cli-a"],
]


@pytest.fixture(scope="module")
def volumes(sandbox):
    sb = sandbox
    # one label only: docker's CLI joins .Labels (also in --format json) in Go's random map order
    assert sb.docker("volume", "create", "--label", "tier=web", "cli-a").returncode == 0
    assert sb.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m",
                     "cli-b").returncode == 0
    assert sb.docker("create", "--name", "cliuser", "-v", "cli-b:/b", "busybox").returncode == 0
    return sb


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a) for a in CASES])
def test_berth_volume_matches_docker(volumes, args):
    b = volumes.berth(*args)
    d = volumes.docker(*args)
    norm = lambda text: text.replace("berth", "docker").replace("Berth", "Docker")  # noqa: E731
    assert (norm(b.stdout), norm(b.stderr), b.returncode) == (d.stdout, d.stderr, d.returncode)


def test_rm_and_prune_output(volumes):
    sb = volumes
    for name in ("p1", "p2"):
        assert sb.docker("volume", "create", name).returncode == 0
    r = sb.berth("volume", "rm", "p1", "cli-b")
    assert r.returncode == 1 and r.stdout == "p1\n"
    assert r.stderr.startswith("Error response from daemon: remove cli-b: volume is in use - [")
    r = sb.berth("volume", "prune", "-a", input="n\n")
    assert r.returncode == 0 and "p2" in sb.docker("volume", "ls", "-q").stdout
    assert r.stdout == ("WARNING! This will remove all local volumes not used by at least one container.\n"
                        "Are you sure you want to continue? [y/N] ")
    r = sb.berth("volume", "prune", "-af", "--filter", "label!=tier")
    assert r.returncode == 0 and r.stdout == "Deleted Volumes:\np2\n\nTotal reclaimed space: 0B\n"
