"""What a legacy build leaves behind, as docker 28's daemon shows it (checked
against dockerd 20.10 in a private namespace and moby's daemon/images and
builder/dockerfile sources): intermediate images in `docker history`, `rmi`
pruning them (or refusing an image with children), `image prune` leaving
them to their top image, and config-only steps made from a container that is
removed again. Driven by the real docker CLI with DOCKER_BUILDKIT=0."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.harness import api

STEPS = 'FROM busybox\nENV A=b\nRUN echo hi > /f\nLABEL x=y\nWORKDIR /w\nCMD ["sh"]\n'


def _build(sb, ctx_dir: str, dockerfile: str, *args: str) -> subprocess.CompletedProcess:
    os.makedirs(ctx_dir, exist_ok=True)
    with open(os.path.join(ctx_dir, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    env = dict(sb.env(), DOCKER_BUILDKIT="0")
    r = subprocess.run(["/usr/local/bin/docker", "build", "--network", "none", *args, ctx_dir], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _chain(sb, name: str) -> list[str]:
    """The image and its parents, newest first (full ids)."""
    out = []
    cur = sb.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    while cur:
        out.append(cur)
        cur = sb.docker("inspect", "-f", "{{.Parent}}", cur).stdout.strip()
    return out


def _ids(sb, *args: str) -> set[str]:
    return set(sb.docker("images", "-q", "--no-trunc", *args).stdout.split())


@pytest.fixture(scope="module")
def built(sandbox, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("compat"))
    r = _build(sandbox, os.path.join(d, "app"), STEPS, "-t", "app")
    return d, r.stdout


def test_config_only_steps_come_from_a_container_that_is_removed(sandbox, built):
    _d, out = built
    steps = out.split("Successfully built")[0].split("Step ")[1:]
    assert len(steps) == 6
    for chunk in steps[1:]:  # ENV, RUN, LABEL, WORKDIR, CMD: docker 28's dispatch output
        lines = chunk.splitlines()
        assert lines[1].startswith(" ---> Running in "), chunk
        cid = lines[1].split()[-1]
        assert lines[-2] == f" ---> Removed intermediate container {cid}", chunk
        assert lines[-1].startswith(" ---> ") and len(lines[-1].split()[-1]) == 12, chunk
    assert sandbox.docker("ps", "-aq").stdout.strip() == ""  # nothing leaked
    # a cached rebuild makes no container at all
    again = _build(sandbox, os.path.join(_d, "app"), STEPS, "-t", "app")
    assert "Running in" not in again.stdout and again.stdout.count(" ---> Using cache") == 5


def test_history_shows_the_intermediate_images(sandbox, built):
    chain = _chain(sandbox, "app")
    assert len(chain) == 6  # 5 steps on busybox
    hist = sandbox.docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "app").stdout.splitlines()
    ids = [line.split("|")[0] for line in hist]
    assert ids[:6] == chain, hist  # newest first: the image, then each step's image, then busybox
    assert all(i == "<missing>" for i in ids[6:])
    assert "LABEL x=y" in hist[2] and "echo hi > /f" in hist[3]
    table = sandbox.docker("history", "app").stdout.splitlines()
    assert table[3].startswith(chain[2].split(":")[1][:12])
    status, body = api(sandbox, "GET", "/images/app/history")
    assert status == 200 and [e["Id"] for e in body[:6]] == chain
    assert body[0]["Tags"] == ["app:latest"] and body[1]["Tags"] is None
    assert body[5]["Tags"] == ["busybox:latest"]


def test_intermediate_images_are_hidden_not_dangling_and_survive_image_prune(sandbox, built):
    chain = _chain(sandbox, "app")
    intermediates = set(chain[1:-1])
    assert not intermediates & _ids(sandbox)
    assert intermediates <= _ids(sandbox, "-a")
    assert not intermediates & _ids(sandbox, "-a", "-f", "dangling=true")
    r = sandbox.docker("image", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert set(_chain(sandbox, "app")) == set(chain)


def test_rmi_refuses_an_image_with_children_and_prunes_parents(sandbox, built):
    d, _out = built
    _build(sandbox, os.path.join(d, "child"), "FROM app\nRUN echo 2 > /g\n", "-t", "child")
    app_chain = _chain(sandbox, "app")
    for name in (app_chain[1], app_chain[0][7:19]):
        for force in ([], ["-f"]):
            r = sandbox.docker("rmi", *force, name)
            assert r.returncode == 1
            assert (f"conflict: unable to delete {name[7:19] if name.startswith('sha256:') else name} "
                    "(cannot be forced) - image has dependent child images") in r.stderr, r.stderr
    r = sandbox.docker("rmi", "app")  # a child keeps it: only the tag goes
    assert r.returncode == 0 and r.stdout == "Untagged: app:latest\n", r.stdout + r.stderr
    assert set(app_chain) <= _ids(sandbox, "-a")
    child_chain = _chain(sandbox, "child")
    r = sandbox.docker("rmi", "child")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Untagged: child:latest"
    deleted = [line.split(": ")[1] for line in lines[1:]]
    images = [x for x in deleted if x in child_chain]
    assert images == child_chain[:-1]  # every step's image, top first; busybox is tagged and stays
    assert len(deleted) - len(images) == 3  # the RUN and WORKDIR layers went with their images
    assert _ids(sandbox, "-a") & set(child_chain) == {child_chain[-1]}
    import time

    ev = sandbox.docker("events", "--since", "60s", "--until", str(int(time.time()) + 1), "--filter",
                        "type=image", "--filter", "event=delete", "--format", "{{.Actor.ID}}").stdout.split()
    assert sorted(ev) == sorted(child_chain[:-1])  # one delete event per image, its own id as actor
    assert sandbox.docker("run", "--rm", "busybox", "true").returncode == 0


def test_rmi_no_prune_keeps_the_parents_for_image_prune(sandbox, built):
    d, _out = built
    _build(sandbox, os.path.join(d, "np"), "FROM busybox\nENV N=1\nLABEL np=1\n", "-t", "np")
    chain = _chain(sandbox, "np")
    r = sandbox.docker("rmi", "--no-prune", "np")
    assert r.returncode == 0 and r.stdout == f"Untagged: np:latest\nDeleted: {chain[0]}\n", r.stdout
    assert chain[1] in _ids(sandbox, "-a", "-f", "dangling=true")  # now a head: dangling
    r = sandbox.docker("image", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert f"deleted: {chain[1]}" in r.stdout and f"deleted: {chain[2]}" not in r.stdout
    assert not set(chain[1:-1]) & _ids(sandbox, "-a")  # the head and its parent went together


def test_cache_from_a_loaded_image_matches_by_history(sandbox, built):
    """A loaded (or pulled) image has no parent chain: --cache-from matches its history."""
    d, _out = built
    df = 'FROM busybox\nENV C=1\nRUN echo c > /c\nWORKDIR /cw\nCOPY Dockerfile /d\nCMD ["cat", "/c"]\n'
    _build(sandbox, os.path.join(d, "cf"), df, "-t", "cf")
    built_id = sandbox.docker("inspect", "-f", "{{.Id}}", "cf").stdout.strip()
    archive = os.path.join(d, "cf.tar")
    assert sandbox.docker("save", "-o", archive, "cf").returncode == 0
    assert sandbox.docker("rmi", "cf").returncode == 0
    assert sandbox.docker("builder", "prune", "-f").returncode == 0  # no cache keys left either
    assert sandbox.docker("load", "-i", archive).returncode == 0
    assert _chain(sandbox, "cf") == [built_id]  # loaded: no parents
    # without --cache-from every step runs
    plain = _build(sandbox, os.path.join(d, "cf"), df, "-t", "cf-plain")
    assert " ---> Using cache" not in plain.stdout
    assert sandbox.docker("rmi", "cf-plain").returncode == 0
    assert sandbox.docker("builder", "prune", "-f").returncode == 0
    r = _build(sandbox, os.path.join(d, "cf"), df, "--cache-from", "cf", "-t", "cf2")
    assert r.stdout.count(" ---> Using cache") == 5 and "Running in" not in r.stdout, r.stdout
    assert sandbox.docker("inspect", "-f", "{{.Id}}", "cf2").stdout.strip() == built_id
    chain = _chain(sandbox, "cf2")
    assert len(chain) == 6 and chain[-1] == _chain(sandbox, "busybox")[0]  # the chain is back
    assert sandbox.docker("run", "--rm", "cf2").stdout == "c\n"
    # a changed step runs, and everything after it
    changed = df.replace("echo c > /c", "echo d > /c")
    r = _build(sandbox, os.path.join(d, "cf"), changed, "--cache-from", "cf", "-t", "cf3")
    steps = r.stdout.split("Step ")[1:]
    assert " ---> Using cache" in steps[1] and all(" ---> Using cache" not in s for s in steps[2:]), r.stdout


def test_with_cache_from_the_local_cache_serves_only_the_sources_chains(sandbox, built):
    d, _out = built
    df = "FROM busybox\nENV L=1\nLABEL l=1\n"
    _build(sandbox, os.path.join(d, "lc"), df, "-t", "lc")
    assert _build(sandbox, os.path.join(d, "lc"), df, "-t", "lc").stdout.count(" ---> Using cache") == 2
    other = _build(sandbox, os.path.join(d, "lc"), df, "--cache-from", "busybox", "-t", "lc-other")
    assert " ---> Using cache" not in other.stdout, other.stdout
    own = _build(sandbox, os.path.join(d, "lc"), df, "--cache-from", "lc", "-t", "lc-own")
    assert own.stdout.count(" ---> Using cache") == 2, own.stdout
