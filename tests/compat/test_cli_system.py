"""`berth system df` / `system prune` print what the docker CLI prints against the same berthd,
byte for byte (output, errors, exit status)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.compat,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]


def _ok(r):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return r.stdout


def _pair(sandbox, args, input=None):
    b = sandbox.berth(*args, input=input)
    d = sandbox.docker(*args, input=input)
    return ((b.returncode, b.stdout, b.stderr.replace("berth", "docker")), (d.returncode, d.stdout, d.stderr))


def _same(sandbox, args, input=None):
    """Both CLIs, run back to back; "N seconds ago" columns may tick between them, so a
    difference is retried a few times before it counts."""
    for _ in range(3):
        got, want = _pair(sandbox, args, input)
        if got == want:
            return got
        time.sleep(0.3)
    assert got == want


@pytest.fixture(scope="module")
def state(sandbox):
    tag = uuid.uuid4().hex[:6]
    _ok(sandbox.docker("run", "-d", "--name", f"up-{tag}", "busybox", "sleep", "1000"))
    _ok(sandbox.docker("run", "--name", f"anon-{tag}", "-v", "/anon", "busybox", "true"))
    _ok(sandbox.docker("volume", "create", "--label", "k=v", f"named-{tag}"))
    _ok(sandbox.docker("run", "--name", f"named-{tag}", "-v", f"named-{tag}:/v", "busybox",
                       "sh", "-c", "head -c 100000 /dev/zero > /v/f; echo x > /rw"))
    _ok(sandbox.docker("tag", "busybox", f"extra:{tag}"))
    return tag


DF_CASES = [
    [],
    ["-v"],
    ["--format", "json"],
    ["--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}"],
    ["--format", "{{json .}}"],
    ["--format", "table {{.Type}}\t{{.Reclaimable}}"],
    ["--verbose", "--format", "json"],
    ["-v", "--format", "{{range .Volumes}}{{.Name}} {{.Links}} {{.Size}} {{.Labels}}\n{{end}}"],
    ["-v", "--format", "table {{range .Containers}}{{.Names}}\t{{.LocalVolumes}}\t{{.Size}}\n{{end}}"],
    ["-v", "--format", "{{range .Images}}{{.Repository}}:{{.Tag}} {{.Containers}} {{json .}}\n{{end}}"],
    ["-v", "--format", "{{.Nope}}"],
    ["--format", "{{.Nope}}"],
    ["--format", "{{"],
    ["-v", "--format", "{{"],
    ["extra"],
    ["--bogus"],
]


@pytest.mark.parametrize("args", DF_CASES, ids=lambda a: " ".join(a) or "plain")
def test_df_is_dockers(sandbox, state, args):
    _same(sandbox, ["system", "df", *args])


PROMPT_CASES = [
    ([], "n\n"),
    (["-a"], "\n"),
    (["--volumes"], "yes\n"),
    (["-a", "--volumes", "--filter", "label=b=2", "--filter", "label=a", "--filter", "until=10m"], "N\n"),
    (["--filter", "label!=x", "--filter", "label=img10", "--filter", "label=img9"], ""),
    (["--volumes", "--filter", "until=1h"], "y\n"),
    (["--filter", "nofilter"], "y\n"),
    (["extra"], ""),
]


@pytest.mark.parametrize("args,answer", PROMPT_CASES, ids=lambda a: repr(a))
def test_prune_prompt_and_refusals_are_dockers(sandbox, state, args, answer):
    before = _ok(sandbox.docker("ps", "-aq"))
    _same(sandbox, ["system", "prune", *args], input=answer)
    assert _ok(sandbox.docker("ps", "-aq")) == before  # nothing was pruned


def _prunable(sandbox, busybox_tar, tag: str) -> dict[str, str]:
    """Things `system prune -a --volumes` removes; returns id -> placeholder for the output."""
    sandbox.import_busybox(busybox_tar)
    names = {}
    for n in ("c1", "c2"):
        cid = f"{n}-{tag}"
        _ok(sandbox.docker("run", "--name", cid, "-v", f"/{n}", "busybox", "true"))
        names[_ok(sandbox.docker("inspect", "-f", "{{.Id}}", cid)).strip()] = n.upper()
        vol = _ok(sandbox.docker("inspect", "-f", "{{(index .Mounts 0).Name}}", cid)).strip()
        names[vol] = "VOL-" + n
    _ok(sandbox.docker("network", "create", f"net-{tag}"))
    _ok(sandbox.docker("tag", "busybox", f"gone:{tag}"))
    names[_ok(sandbox.docker("image", "inspect", "-f", "{{.Id}}", "busybox")).strip()] = "IMAGE"
    names[tag] = "TAG"
    return names


def _norm(text: str, names: dict[str, str]) -> str:
    """Ids replaced by their roles; each "Deleted ...:" list sorted (the daemon's order of
    random ids is not the CLI's business)."""
    for raw, shown in names.items():
        text = text.replace(raw, shown)
    blocks = text.split("\n\n")
    for i, block in enumerate(blocks):
        lines = block.split("\n")
        if lines[0].endswith("Deleted Volumes:") or lines[0].endswith("Deleted Containers:"):
            blocks[i] = "\n".join(lines[:1] + sorted(lines[1:]))
    return "\n\n".join(blocks)


def test_prune_removes_and_reports_as_docker(sandbox, busybox_tar, state):
    _ok(sandbox.docker("rm", "-f", f"up-{state}", f"anon-{state}", f"named-{state}"))
    _ok(sandbox.docker("volume", "rm", f"named-{state}"))
    _ok(sandbox.docker("system", "prune", "-af", "--volumes"))  # start from nothing to prune
    runs = []
    for who in ("docker", "berth"):
        tag = uuid.uuid4().hex[:8]
        names = _prunable(sandbox, busybox_tar, tag)
        r = getattr(sandbox, who)("system", "prune", "--all", "--volumes", input="y\n")
        runs.append((r.returncode, _norm(r.stdout, names), r.stderr))
        assert _ok(sandbox.docker("ps", "-aq")) == "" and _ok(sandbox.docker("images", "-q")) == ""
        assert f"net-{tag}" not in _ok(sandbox.docker("network", "ls"))
    assert runs[0] == runs[1]
    assert "Deleted Containers:\n" in runs[1][1] and "Deleted Volumes:\n" in runs[1][1]
    # with nothing left, -f: no prompt, only the total
    _same(sandbox, ["system", "prune", "-f"])
    sandbox.import_busybox(busybox_tar)


INSPECT_FORMATS = ["{{.Created}}", "{{.CreatedAt}}", "{{.IPAM}}", "{{.IPAM.Config}}", "{{.Labels}}", "{{.Options}}",
                   "{{json .}}", "{{.Containers}}", "{{.UsageData}}", "{{.Nope}}", "{{.Name}} {{.Scope}} {{.Driver}}"]


@pytest.fixture(scope="module")
def inspected(sandbox):
    tag = "insp"
    _ok(sandbox.docker("network", "create", "--label", "a=b", "--subnet", "10.77.0.0/24", f"n{tag}"))
    _ok(sandbox.docker("volume", "create", "--label", "a=b", f"v{tag}"))
    return tag


@pytest.mark.parametrize("fmt", INSPECT_FORMATS)
def test_generic_inspect_of_networks_and_volumes_is_dockers(sandbox, inspected, fmt):
    """`inspect` (no --type) decodes networks and volumes into docker's Go types, as
    `network inspect` / `volume inspect` do (e.g. .Created prints as a Go time)."""
    tag = inspected
    for names in ([f"n{tag}"], [f"v{tag}"], ["bridge"], [f"v{tag}", f"n{tag}", "nope-x"]):
        _same(sandbox, ["inspect", "-f", fmt, *names])
        _same(sandbox, ["inspect", "--type", "network" if names[0][0] != "v" else "volume", "-f", fmt, names[0]])
