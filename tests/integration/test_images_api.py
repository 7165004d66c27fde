"""Images through the real docker CLI: import (--change, stdin), images and its filters,
image inspect, tag, rmi, history, image prune, and docker's reference normalisation."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def _image(sb, ref: str) -> dict:
    r = sb.docker("image", "inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def _import(sb, tar: str, ref: str, *changes: str) -> str:
    args = ["import"]
    for c in changes:
        args += ["-c", c]
    r = sb.docker(*args, tar, ref)
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert ID.match(image_id), image_id
    return image_id


def _refs(sb, *args: str) -> list[str]:
    r = sb.docker("images", "--format", "{{.Repository}}:{{.Tag}}", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def _gone(sb, ref: str) -> bool:
    r = sb.docker("image", "inspect", ref)
    return r.returncode == 1 and "No such image" in r.stderr


@pytest.fixture
def cleanup(sandbox):
    refs: list[str] = []
    containers: list[str] = []
    yield refs, containers
    if containers:
        sandbox.docker("rm", "-f", *containers)
    if refs:
        sandbox.docker("rmi", "-f", *refs)


# ------------------------------------------------------------------ import
def test_import_with_changes_sets_the_image_config(sandbox, busybox_tar, cleanup):
    cleanup[0].append("changed:1")
    image_id = _import(sandbox, busybox_tar, "changed:1",
                       'CMD ["sh", "-c", "echo $FOO; pwd; id -u; echo $0"]', "ENV FOO=bar OTHER=x", "WORKDIR /srv",
                       "EXPOSE 8080 53/udp", "LABEL team=berth stage=test", "USER nobody", "STOPSIGNAL SIGUSR1")
    doc = _image(sandbox, "changed:1")
    assert doc["Id"] == image_id
    config = doc["Config"]
    assert config["Cmd"] == ["sh", "-c", "echo $FOO; pwd; id -u; echo $0"]
    assert config["Env"] == ["FOO=bar", "OTHER=x"]
    assert config["WorkingDir"] == "/srv"
    assert config["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert config["Labels"] == {"team": "berth", "stage": "test"}
    assert config["User"] == "nobody"
    assert config["StopSignal"] == "SIGUSR1"  # docker 20.10 refused STOPSIGNAL here; later versions take it
    # and a container made from it runs with them
    r = sandbox.docker("run", "--rm", "changed:1")
    assert (r.returncode, r.stdout) == (0, "bar\n/srv\n65534\nsh\n"), r.stderr
    cleanup[1].append("fromchanged")
    sandbox.docker("create", "--name", "fromchanged", "changed:1")
    cdoc = json.loads(sandbox.docker("inspect", "fromchanged").stdout)[0]
    assert cdoc["Config"]["StopSignal"] == "SIGUSR1"
    assert cdoc["Config"]["Labels"] == {"team": "berth", "stage": "test"}
    assert cdoc["Config"]["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}


def test_import_entrypoint_change(sandbox, busybox_tar, cleanup):
    cleanup[0].append("withep:1")
    _import(sandbox, busybox_tar, "withep:1", 'ENTRYPOINT ["echo", "from-ep"]', 'CMD ["arg"]')
    assert sandbox.docker("run", "--rm", "withep:1").stdout == "from-ep arg\n"
    assert sandbox.docker("run", "--rm", "withep:1", "other").stdout == "from-ep other\n"


def test_import_from_stdin_with_a_message(sandbox, busybox_tar, cleanup):
    cleanup[0].append("fromstdin:1")
    with open(busybox_tar, "rb") as f:
        r = subprocess.run(["/usr/local/bin/docker", "import", "-m", "piped in", "-", "fromstdin:1"], stdin=f,
                           env=sandbox.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert ID.match(image_id)
    doc = _image(sandbox, "fromstdin:1")
    assert doc["Id"] == image_id
    assert doc["Comment"] == "piped in"
    assert len(doc["RootFS"]["Layers"]) == 1
    assert sandbox.docker("run", "--rm", "fromstdin:1", "echo", "works").stdout == "works\n"


def test_import_without_a_reference_makes_a_dangling_image(sandbox, busybox_tar):
    r = sandbox.docker("import", busybox_tar)
    image_id = r.stdout.strip()
    assert ID.match(image_id)
    try:
        doc = _image(sandbox, image_id)
        assert doc["RepoTags"] == []
        assert image_id[7:19] in sandbox.docker("images", "-q", "--filter", "dangling=true").stdout.split()
    finally:
        sandbox.docker("rmi", image_id)
    assert _gone(sandbox, image_id)


# ------------------------------------------------------------------ images listing
@pytest.fixture(scope="module")
def listed(sandbox, busybox_tar):
    """Two labelled images (one with two tags) and a dangling one."""
    a = _import(sandbox, busybox_tar, "list-a:1", "LABEL tier=front")
    sandbox.docker("tag", "list-a:1", "list-a:2")
    b = _import(sandbox, busybox_tar, "list-b:1", "LABEL tier=back")
    old = _import(sandbox, busybox_tar, "list-dangle:1")
    new = _import(sandbox, busybox_tar, "list-dangle:1")  # takes the tag: the old one is dangling now
    yield {"a": a, "b": b, "old": old, "new": new}
    sandbox.docker("rmi", "-f", "list-a:1", "list-a:2", "list-b:1", "list-dangle:1", old)


def test_images_table_and_quiet(sandbox, listed):
    r = sandbox.docker("images")
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    row = next(x for x in rows if x.startswith("list-b "))
    cols = row.split()
    assert cols[:3] == ["list-b", "1", listed["b"][7:19]]
    assert re.search(r"\d(\.\d+)?MB$", row)
    ids = sandbox.docker("images", "-q").stdout.split()
    assert listed["b"][7:19] in ids
    assert ids.count(listed["a"][7:19]) == 2  # one line per tag
    assert listed["old"][7:19] in ids  # dangling images are listed too; -a adds only intermediate ones
    assert all(re.match(r"^[0-9a-f]{12}$", i) for i in ids)
    full = sandbox.docker("images", "-q", "--no-trunc").stdout.split()
    assert listed["b"] in full and all(ID.match(i) for i in full)
    r = sandbox.docker("images", "--no-trunc")
    assert any(line.split()[:3] == ["list-b", "1", listed["b"]] for line in r.stdout.splitlines())


def test_images_shows_dangling_images_as_none(sandbox, listed):
    rows = sandbox.docker("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").stdout.splitlines()
    assert f"{listed['old'][7:19]} <none>:<none>" in rows
    # imported images have no intermediate layers: -a lists the same images
    assert sorted(sandbox.docker("images", "-a", "-q").stdout.split()) == \
        sorted(sandbox.docker("images", "-q").stdout.split())


@pytest.mark.parametrize("flt, expected", [
    ("reference=list-a", ["list-a:1", "list-a:2"]),
    ("reference=list-*", ["list-a:1", "list-a:2", "list-b:1", "list-dangle:1"]),
    ("label=tier", ["list-a:1", "list-a:2", "list-b:1"]),
    ("label=tier=back", ["list-b:1"]),
    ("label=tier=nope", []),
])
def test_images_filters(sandbox, listed, flt, expected):
    got = sorted(r for r in _refs(sandbox, "--filter", flt) if r.startswith("list-"))
    assert got == expected


def test_images_dangling_filter(sandbox, listed):
    dangling = sandbox.docker("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout.split()
    assert listed["old"] in dangling and listed["new"] not in dangling and listed["b"] not in dangling
    tagged = sandbox.docker("images", "-q", "--no-trunc", "--filter", "dangling=false").stdout.split()
    assert listed["old"] not in tagged and listed["new"] in tagged


def test_images_positional_reference_argument(sandbox, listed):
    assert sorted(_refs(sandbox, "list-a")) == ["list-a:1", "list-a:2"]
    assert _refs(sandbox, "busybox") == ["busybox:latest"]
    assert _refs(sandbox, "nosuch") == []


@pytest.mark.parametrize("args", [("--filter", "reference=list-a:2"), ("--filter", "reference=*:2"), ("list-a:2",)])
def test_reference_filter_lists_only_the_matching_tags(sandbox, listed, args):
    assert [r for r in _refs(sandbox, *args) if r.startswith("list-")] == ["list-a:2"]


# ------------------------------------------------------------------ inspect, history
def test_image_inspect_has_dockers_shape(sandbox):
    doc = _image(sandbox, "busybox")
    for key in ("Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Author", "Config",
                "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"):
        assert key in doc, key
    assert ID.match(doc["Id"])
    assert doc["RepoTags"] == ["busybox:latest"]
    assert doc["RepoDigests"] == []
    assert (doc["Os"], doc["Architecture"]) == ("linux", "amd64")
    assert doc["Size"] > 1_000_000
    assert doc["RootFS"]["Type"] == "layers"
    assert all(re.match(r"^sha256:[0-9a-f]{64}$", layer) for layer in doc["RootFS"]["Layers"])
    assert doc["GraphDriver"]["Name"] == "overlay2"
    assert os.path.isfile(os.path.join(doc["GraphDriver"]["Data"]["UpperDir"], "bin", "busybox"))
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", doc["Created"])
    assert doc["Config"]["Cmd"] == ["sh"]
    r = sandbox.docker("image", "inspect", "-f", "{{.Os}}/{{.Architecture}} {{json .Config.Cmd}}", "busybox")
    assert r.stdout == 'linux/amd64 ["sh"]\n'
    # `docker inspect` finds images too
    assert json.loads(sandbox.docker("inspect", "--type", "image", "busybox").stdout)[0]["Id"] == doc["Id"]


def test_image_inspect_comment_of_an_import(sandbox, busybox_tar, cleanup):
    cleanup[0].append("commented:1")
    _import(sandbox, busybox_tar, "commented:1")
    assert _image(sandbox, "commented:1")["Comment"] == "Imported from -"


def test_history_of_an_imported_image(sandbox, busybox_tar, cleanup):
    cleanup[0].append("hist:1")
    r = sandbox.docker("import", "-m", "my message", busybox_tar, "hist:1")
    image_id = r.stdout.strip()
    r = sandbox.docker("history", "hist:1")
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert len(rows) == 1
    assert rows[0].startswith(image_id[7:19]) and rows[0].rstrip().endswith("my message")
    assert "1.98MB" in rows[0] or re.search(r"\d(\.\d+)?MB", rows[0])
    r = sandbox.docker("history", "--no-trunc", "-q", "hist:1")
    assert r.stdout.split() == [image_id]
    entry = json.loads(sandbox.docker("history", "--format", "{{json .}}", "hist:1").stdout)
    assert (entry["Comment"], entry["CreatedBy"], entry["ID"]) == ("my message", "", image_id[7:19])
    r = sandbox.docker("history", "busybox", "--format", "{{.Comment}}")
    assert r.stdout == "Imported from -\n"


# ------------------------------------------------------------------ tag, rmi
def test_tag_adds_references_to_the_same_image(sandbox, cleanup):
    refs = ["tagged:v1", "tagged:latest", "localhost:5000/team/tagged:v2", "docker.io/library/fulltag:x"]
    cleanup[0].extend(refs)
    for target in ("tagged:v1", "tagged", "localhost:5000/team/tagged:v2", "docker.io/library/fulltag:x"):
        r = sandbox.docker("tag", "busybox", target)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    busybox = _image(sandbox, "busybox")
    assert sorted(busybox["RepoTags"]) == sorted(["busybox:latest", "fulltag:x", "localhost:5000/team/tagged:v2",
                                                 "tagged:latest", "tagged:v1"])
    for ref in refs:
        assert _image(sandbox, ref)["Id"] == busybox["Id"]
    assert "localhost:5000/team/tagged:v2" in _refs(sandbox)
    # tagging by id, and moving a tag to another image
    sandbox.docker("tag", busybox["Id"][7:19], "tagged:byid")
    cleanup[0].append("tagged:byid")
    assert _image(sandbox, "tagged:byid")["Id"] == busybox["Id"]


def test_rmi_untags_until_the_last_reference_then_deletes(sandbox, busybox_tar, cleanup):
    image_id = _import(sandbox, busybox_tar, "twice:1")
    sandbox.docker("tag", "twice:1", "twice:2")
    cleanup[0].extend(["twice:1", "twice:2"])
    r = sandbox.docker("rmi", "twice:1")
    assert (r.returncode, r.stdout) == (0, "Untagged: twice:1\n")
    assert _image(sandbox, "twice:2")["Id"] == image_id
    r = sandbox.docker("rmi", "twice:2")
    assert (r.returncode, r.stdout) == (0, f"Untagged: twice:2\nDeleted: {image_id}\n")
    assert _gone(sandbox, image_id)
    assert image_id not in sandbox.docker("images", "-aq", "--no-trunc").stdout


def test_rmi_by_id_prefix(sandbox, busybox_tar, cleanup):
    image_id = _import(sandbox, busybox_tar, "byprefix:1")
    sandbox.docker("tag", "byprefix:1", "byprefix:2")
    cleanup[0].extend(["byprefix:1", "byprefix:2"])
    r = sandbox.docker("rmi", image_id[7:15])
    assert r.returncode == 1
    assert (f"conflict: unable to delete {image_id[7:19]} (must be forced) - image is referenced in multiple "
            "repositories") in r.stderr
    assert _image(sandbox, "byprefix:1")["Id"] == image_id
    sandbox.docker("rmi", "byprefix:2")
    r = sandbox.docker("rmi", image_id[7:15])
    assert (r.returncode, r.stdout) == (0, f"Untagged: byprefix:1\nDeleted: {image_id}\n")
    r = sandbox.docker("rmi", image_id[7:15])
    assert r.returncode == 1 and f"No such image: {image_id[7:15]}" in r.stderr


def test_rmi_f_of_an_id_with_several_tags_removes_them_all(sandbox, busybox_tar, cleanup):
    image_id = _import(sandbox, busybox_tar, "manytags:1")
    sandbox.docker("tag", "manytags:1", "manytags:2")
    cleanup[0].extend(["manytags:1", "manytags:2"])
    r = sandbox.docker("rmi", "-f", image_id[7:19])
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(["Untagged: manytags:1", "Untagged: manytags:2",
                                                    f"Deleted: {image_id}"])
    assert _gone(sandbox, "manytags:1") and _gone(sandbox, "manytags:2")


def test_rmi_refuses_an_image_in_use_and_f_untags_it(sandbox, busybox_tar, cleanup):
    image_id = _import(sandbox, busybox_tar, "used:1")
    cleanup[0].append("used:1")
    cid = sandbox.docker("create", "used:1", "true").stdout.strip()
    cleanup[1].append(cid)
    r = sandbox.docker("rmi", "used:1")
    assert r.returncode == 1
    assert (f'conflict: unable to remove repository reference "used:1" (must force) - container {cid[:12]} '
            f"is using its referenced image {image_id[7:19]}") in r.stderr
    assert _image(sandbox, "used:1")["Id"] == image_id
    r = sandbox.docker("rmi", image_id[7:19])
    assert r.returncode == 1
    assert (f"conflict: unable to delete {image_id[7:19]} (must be forced) - image is being used by stopped "
            f"container {cid[:12]}") in r.stderr
    r = sandbox.docker("rmi", "-f", "used:1")
    assert r.returncode == 0 and "Untagged: used:1" in r.stdout
    assert _gone(sandbox, "used:1")
    # the container still has its filesystem: it runs
    r = sandbox.docker("start", "-a", cid)
    assert r.returncode == 0, r.stderr


def test_rmi_f_of_an_image_used_by_a_running_container_keeps_the_image(sandbox, busybox_tar, cleanup):
    image_id = _import(sandbox, busybox_tar, "runningimg:1")
    cleanup[0].append("runningimg:1")
    cid = sandbox.docker("run", "-d", "runningimg:1", "sleep", "60").stdout.strip()
    cleanup[1].append(cid)
    r = sandbox.docker("rmi", "-f", "runningimg:1")
    assert (r.returncode, r.stdout) == (0, "Untagged: runningimg:1\n")
    assert _image(sandbox, image_id)["RepoTags"] == []
    assert json.loads(sandbox.docker("inspect", cid).stdout)[0]["State"]["Running"] is True


def test_ps_shows_the_image_id_once_the_reference_is_gone(sandbox, busybox_tar, cleanup):
    image_id = _import(sandbox, busybox_tar, "psgone:1")
    cid = sandbox.docker("create", "psgone:1", "true").stdout.strip()
    cleanup[1].append(cid)
    sandbox.docker("rmi", "-f", "psgone:1")
    r = sandbox.docker("ps", "-a", "--filter", f"id={cid}", "--format", "{{.Image}}")
    assert r.stdout.strip() == image_id[7:19]


# ------------------------------------------------------------------ prune
def test_image_prune_removes_dangling_images_and_with_a_the_unused_ones(sandbox, busybox_tar, cleanup):
    mark = "LABEL prunetest=yes"
    old = _import(sandbox, busybox_tar, "prunable:1", mark)
    new = _import(sandbox, busybox_tar, "prunable:1", mark)
    unused = _import(sandbox, busybox_tar, "prune-unused:1", mark)
    inuse = _import(sandbox, busybox_tar, "prune-inuse:1", mark)
    cleanup[0].extend(["prunable:1", "prune-unused:1", "prune-inuse:1"])
    cid = sandbox.docker("create", "prune-inuse:1", "true").stdout.strip()
    assert len(cid) == 64
    cleanup[1].append(cid)
    r = sandbox.docker("image", "prune", "-f", "--filter", "label=prunetest=yes")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Deleted Images:\n")
    assert re.findall(r"^(?:deleted|untagged): .*$", r.stdout, re.M) == [f"deleted: {old}"]
    assert "Total reclaimed space:" in r.stdout
    assert _gone(sandbox, old)
    assert _image(sandbox, "prunable:1")["Id"] == new and _image(sandbox, "prune-unused:1")["Id"] == unused

    r = sandbox.docker("image", "prune", "-af", "--filter", "label=prunetest=no")
    assert "deleted:" not in r.stdout
    r = sandbox.docker("image", "prune", "-af", "--filter", "label=prunetest=yes")
    assert sorted(re.findall(r"^(?:deleted|untagged): .*$", r.stdout, re.M)) == sorted(
        ["untagged: prunable:1", f"deleted: {new}", "untagged: prune-unused:1", f"deleted: {unused}"])
    assert _gone(sandbox, "prune-unused:1") and _gone(sandbox, "prunable:1")
    assert _image(sandbox, "prune-inuse:1")["Id"] == inuse  # a container uses it
    assert _image(sandbox, "busybox")["RepoTags"] == ["busybox:latest"]  # filtered out
    # the layers shared with the pruned images are still there
    assert sandbox.docker("run", "--rm", "prune-inuse:1", "true").returncode == 0
    assert sandbox.docker("run", "--rm", "busybox", "true").returncode == 0


def test_image_prune_reports_no_space_for_shared_layers(sandbox, busybox_tar):
    _import(sandbox, busybox_tar, "sharedlayer:1", "LABEL sharedlayer=1")
    _import(sandbox, busybox_tar, "sharedlayer:1", "LABEL sharedlayer=1")
    r = sandbox.docker("image", "prune", "-f", "--filter", "label=sharedlayer=1")
    assert "deleted: sha256:" in r.stdout
    sandbox.docker("rmi", "sharedlayer:1")
    assert "Total reclaimed space: 0B" in r.stdout


# ------------------------------------------------------------------ references
@pytest.mark.parametrize("ref", ["busybox", "busybox:latest", "library/busybox", "library/busybox:latest",
                                 "docker.io/library/busybox", "docker.io/library/busybox:latest",
                                 "index.docker.io/library/busybox:latest"])
def test_references_normalise_like_dockers(sandbox, ref):
    want = _image(sandbox, "busybox")["Id"]
    assert _image(sandbox, ref)["Id"] == want
    assert _image(sandbox, want[7:19])["Id"] == want
    assert _image(sandbox, want)["Id"] == want
    r = sandbox.docker("run", "--rm", ref, "echo", "ok")
    assert r.stdout == "ok\n"


def test_a_fully_qualified_name_is_shown_in_its_familiar_form(sandbox, busybox_tar, cleanup):
    cleanup[0].append("docker.io/library/familiar:1")
    image_id = _import(sandbox, busybox_tar, "docker.io/library/familiar:1")
    assert "familiar:1" in _refs(sandbox)
    assert _image(sandbox, "familiar:1")["RepoTags"] == ["familiar:1"]
    cid = sandbox.docker("create", "docker.io/library/familiar:1", "true").stdout.strip()
    assert len(cid) == 64
    cleanup[1].append(cid)
    r = sandbox.docker("rmi", "library/familiar:1")
    assert r.returncode == 1 and "must force" in r.stderr
    sandbox.docker("rm", cid)
    r = sandbox.docker("rmi", "library/familiar:1")
    assert (r.returncode, r.stdout) == (0, f"Untagged: familiar:1\nDeleted: {image_id}\n")


def test_reference_filter_matches_familiar_names_only(sandbox):
    assert _refs(sandbox, "--filter", "reference=docker.io/library/busybox") == []


# ------------------------------------------------------------------ our own CLI, where it is ready
def test_berth_cli_import_tag_and_rmi_like_docker(sandbox, busybox_tar, cleanup):
    cleanup[0].extend(["berthcli:1", "berthcli:2"])
    r = sandbox.berth("import", "-c", "ENV VIA=berth", "-c", 'CMD ["sh", "-c", "echo $VIA"]', busybox_tar, "berthcli:1")
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert ID.match(image_id)
    doc = _image(sandbox, "berthcli:1")
    assert (doc["Id"], doc["Config"]["Env"]) == (image_id, ["VIA=berth"])
    assert sandbox.docker("run", "--rm", "berthcli:1").stdout == "berth\n"
    assert sandbox.berth("tag", "berthcli:1", "berthcli:2").returncode == 0
    assert _image(sandbox, "berthcli:2")["Id"] == image_id
    assert sandbox.berth("images", "-q", "--no-trunc", "berthcli").stdout.split() == [image_id, image_id]
    assert sandbox.berth("rmi", "berthcli:1").stdout == "Untagged: berthcli:1\n"
    assert sandbox.berth("rmi", "berthcli:2").stdout == f"Untagged: berthcli:2\nDeleted: {image_id}\n"
    assert _gone(sandbox, image_id)
