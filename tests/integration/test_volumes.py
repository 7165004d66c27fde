"""Volumes, binds and tmpfs with the real docker CLI (and the docker SDK) against berthd:
issue 6's "done when" list, copy-up, nocopy, the volume commands and docker's errors."""

from __future__ import annotations

import json
import os

import pytest

from harness import api

pytestmark = [pytest.mark.integration, pytest.mark.compat]


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def _inspect(sb, *args) -> list:
    return json.loads(ok(sb.docker(*args)))


def _volumes(sb) -> set[str]:
    return set(ok(sb.docker("volume", "ls", "-q")).split())


@pytest.fixture(scope="module")
def data_image(sandbox):
    """An image with content under a VOLUME path: owner, mode, symlink, a nested file."""
    sb = sandbox
    ok(sb.docker("run", "--name", "mkdata", "busybox", "sh", "-c",
                 "mkdir -p /data/sub && echo from-image > /data/sub/f && ln -s sub/f /data/link "
                 "&& chown 12:34 /data/sub && chmod 750 /data/sub"))
    ok(sb.docker("commit", "-c", "VOLUME /data", "mkdata", "withdata"))
    ok(sb.docker("rm", "mkdata"))
    return "withdata"


def test_named_volume_written_by_one_rm_container_is_read_by_another(sandbox):
    sb = sandbox
    ok(sb.docker("run", "--rm", "-v", "shared:/data", "busybox", "sh", "-c", "echo persisted > /data/f"))
    assert ok(sb.docker("run", "--rm", "-v", "shared:/data", "busybox", "cat", "/data/f")) == "persisted\n"
    assert "shared" in _volumes(sb)
    [vol] = _inspect(sb, "volume", "inspect", "shared")
    assert vol["Name"] == "shared" and vol["Driver"] == "local" and vol["Scope"] == "local"
    assert vol["Mountpoint"] == os.path.join(sb.data_root, "volumes", "shared", "_data")
    assert vol["Labels"] is None and vol["Options"] is None and vol["CreatedAt"].endswith("Z")
    with open(os.path.join(vol["Mountpoint"], "f")) as f:
        assert f.read() == "persisted\n"
    assert ok(sb.docker("volume", "rm", "shared")) == "shared\n"
    assert "shared" not in _volumes(sb)
    assert not os.path.exists(os.path.dirname(vol["Mountpoint"]))


def test_bind_mount_of_a_host_directory_is_seen_and_written_from_inside(sandbox):
    sb = sandbox
    host = os.path.join(sb.dir, "hostdir")
    os.makedirs(host, exist_ok=True)
    with open(os.path.join(host, "in"), "w") as f:
        f.write("from-host\n")
    out = ok(sb.docker("run", "--rm", "-v", f"{host}:/h", "busybox", "sh", "-c", "cat /h/in; echo back > /h/out"))
    assert out == "from-host\n"
    with open(os.path.join(host, "out")) as f:
        assert f.read() == "back\n"
    r = sb.docker("run", "--rm", "-v", f"{host}:/h:ro", "busybox", "touch", "/h/x")
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    # -v creates a missing host directory
    missing = os.path.join(sb.dir, "made-by-v")
    ok(sb.docker("run", "--rm", "-v", f"{missing}:/m", "busybox", "true"))
    assert os.path.isdir(missing)


def test_tmpfs_mounts_leave_nothing_on_disk(sandbox):
    sb = sandbox
    out = ok(sb.docker("run", "--name", "tmpfsed", "--tmpfs", "/run:size=64m",
                       "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770", "busybox", "sh", "-c",
                       "echo $((6*7))-marker > /run/marker; echo $((6*7))-marker > /scratch/marker; "
                       "df -k /run /scratch | tail -2; stat -c %a /scratch"))
    lines = out.split("\n")
    assert lines[0].split()[1] == "65536" and lines[1].split()[1] == "1024" and lines[2] == "1770"
    found = sb.nsenter(["grep", "-rl", "42-marker", sb.data_root])
    assert found.returncode == 1 and found.stdout == ""  # the command line holds "$((6*7))", not the text
    [c] = _inspect(sb, "inspect", "tmpfsed")
    assert c["HostConfig"]["Tmpfs"] == {"/run": "size=64m"}
    assert c["Mounts"] == [{"Type": "tmpfs", "Source": "", "Destination": "/scratch", "Mode": "", "RW": True,
                            "Propagation": ""}]
    ok(sb.docker("rm", "tmpfsed"))


def test_rm_v_removes_anonymous_volumes_and_never_named_ones(sandbox):
    sb = sandbox
    before = _volumes(sb)
    ok(sb.docker("run", "--name", "anon", "-v", "/anon", "-v", "keepme:/named", "busybox", "true"))
    [c] = _inspect(sb, "inspect", "anon")
    by_dest = {m["Destination"]: m for m in c["Mounts"]}
    anon = by_dest["/anon"]["Name"]
    assert len(anon) == 64 and by_dest["/anon"]["Mode"] == "" and by_dest["/named"]["Mode"] == "z"
    [vol] = _inspect(sb, "volume", "inspect", anon)
    assert vol["Labels"] == {"com.docker.volume.anonymous": ""}
    assert _volumes(sb) == before | {anon, "keepme"}
    ok(sb.docker("rm", "-v", "anon"))
    assert _volumes(sb) == before | {"keepme"}
    # run --rm removes the anonymous volumes too
    ok(sb.docker("run", "--rm", "-v", "/anon2", "busybox", "true"))
    assert _volumes(sb) == before | {"keepme"}
    # plain rm keeps them
    ok(sb.docker("run", "--name", "anon3", "-v", "/anon3", "busybox", "true"))
    anon3 = _inspect(sb, "inspect", "anon3")[0]["Mounts"][0]["Name"]
    ok(sb.docker("rm", "anon3"))
    assert anon3 in _volumes(sb)
    ok(sb.docker("volume", "rm", anon3, "keepme"))


def test_copy_up_fills_a_new_volume_with_the_image_content(sandbox, data_image):
    sb = sandbox
    # an anonymous volume from the image's VOLUME, and a named one on the same path
    out = ok(sb.docker("run", "--rm", data_image, "sh", "-c",
                       "stat -c '%u:%g %a' /data/sub; cat /data/link; grep ' /data ' /proc/mounts | wc -l"))
    assert out.split("\n")[:3] == ["12:34 750", "from-image", "1"]
    out = ok(sb.docker("run", "--rm", "-v", "filled:/data", data_image, "sh", "-c",
                       "cat /data/sub/f; echo mine > /data/sub/f"))
    assert out == "from-image\n"
    # not empty any more: a second mount keeps the volume's own content
    assert ok(sb.docker("run", "--rm", "-v", "filled:/data", data_image, "cat", "/data/sub/f")) == "mine\n"
    # the busybox image has no /data: nothing to copy, the volume stays empty
    ok(sb.docker("run", "--rm", "-v", "filled2:/data", "busybox", "true"))
    assert os.listdir(os.path.join(sb.data_root, "volumes", "filled2", "_data")) == []
    ok(sb.docker("volume", "rm", "filled", "filled2"))


def test_nocopy_leaves_the_new_volume_empty(sandbox, data_image):
    sb = sandbox
    assert ok(sb.docker("run", "--rm", "-v", "nc1:/data:nocopy", data_image, "ls", "/data")) == ""
    assert ok(sb.docker("run", "--rm", "--mount", "type=volume,src=nc2,dst=/data,volume-nocopy",
                        data_image, "ls", "/data")) == ""
    ok(sb.docker("volume", "rm", "nc1", "nc2"))


def test_volumes_from_and_read_only_rootfs(sandbox):
    sb = sandbox
    ok(sb.docker("run", "--name", "owner", "-v", "vf:/shared", "busybox", "sh", "-c", "echo hi > /shared/f"))
    r = sb.docker("run", "--rm", "--volumes-from", "owner:ro", "busybox", "sh", "-c", "cat /shared/f; touch /shared/x")
    assert r.stdout == "hi\n" and "Read-only file system" in r.stderr
    out = ok(sb.docker("run", "--rm", "--read-only", "-v", "vf:/shared", "busybox", "sh", "-c",
                       "echo more >> /shared/f; cat /shared/f; touch /rootfile 2>&1 || true"))
    assert out.startswith("hi\nmore\n") and "Read-only file system" in out
    ok(sb.docker("create", "--name", "vfuser", "--volumes-from", "owner:ro", "busybox"))
    [c] = _inspect(sb, "inspect", "vfuser")
    assert c["HostConfig"]["VolumesFrom"] == ["owner:ro"]
    assert c["Mounts"][0] == {"Type": "volume", "Name": "vf", "Source": os.path.join(sb.data_root, "volumes", "vf", "_data"),
                              "Destination": "/shared", "Driver": "local", "Mode": "", "RW": False, "Propagation": ""}
    ok(sb.docker("rm", "vfuser", "owner"))
    ok(sb.docker("volume", "rm", "vf"))


def test_inspect_mounts_have_dockers_shape_and_config_is_kept_as_given(sandbox):
    sb = sandbox
    host = os.path.join(sb.dir, "shape")
    os.makedirs(host, exist_ok=True)
    ok(sb.docker("create", "--name", "shape", "-v", f"{host}:/b:ro,z", "--mount",
                 f"type=bind,src={host},dst=/m,bind-propagation=rslave,readonly", "busybox"))
    [c] = _inspect(sb, "inspect", "shape")
    assert c["HostConfig"]["Binds"] == [f"{host}:/b:ro,z"]
    assert c["HostConfig"]["Mounts"] == [{"Type": "bind", "Source": host, "Target": "/m", "ReadOnly": True,
                                          "BindOptions": {"Propagation": "rslave"}}]
    assert c["Mounts"] == [
        {"Type": "bind", "Source": host, "Destination": "/b", "Mode": "ro,z", "RW": False, "Propagation": "rprivate"},
        {"Type": "bind", "Source": host, "Destination": "/m", "Mode": "", "RW": False, "Propagation": "rslave"},
    ]
    ok(sb.docker("rm", "shape"))


# ---------------------------------------------------------------- bad input, one test each


def _run_fails(sb, *args) -> str:
    before_c = ok(sb.docker("ps", "-aq"))
    before_v = _volumes(sb)
    r = sb.docker("run", "--rm", *args)
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert ok(sb.docker("ps", "-aq")) == before_c
    assert _volumes(sb) == before_v  # nothing half-created
    return r.stderr


def test_invalid_volume_name_is_refused(sandbox):
    err = _run_fails(sandbox, "-v", "x/y:/data", "busybox", "true")
    assert ('docker: Error response from daemon: create x/y: "x/y" includes invalid characters for a local '
            'volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path") in err
    r = sandbox.docker("volume", "create", "bad/name")
    assert r.returncode == 1 and "create bad/name: \"bad/name\" includes invalid characters" in r.stderr


def test_relative_host_path_is_refused(sandbox):
    # the docker CLI makes ./x absolute itself; through the API it is a volume name or an error
    status, body = api(sandbox, "POST", "/v1.45/containers/create",
                       {"Image": "busybox", "HostConfig": {"Binds": ["./rel:/a"]}})
    assert status == 400 and body["message"].startswith('create ./rel: "./rel" includes invalid characters')
    status, body = api(sandbox, "POST", "/v1.45/containers/create",
                       {"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "rel", "Target": "/a"}]}})
    assert status == 400
    assert body["message"] == "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"


def test_target_root_is_refused(sandbox):
    err = _run_fails(sandbox, "-v", f"{sandbox.dir}:/", "busybox", "true")
    assert (f"invalid volume specification: '{sandbox.dir}:/': invalid mount config for type \"bind\": "
            "invalid specification: destination can't be '/'") in err


def test_duplicate_mount_point_is_refused(sandbox):
    err = _run_fails(sandbox, "-v", f"{sandbox.dir}:/a", "-v", "dupvol:/a", "busybox", "true")
    assert "Error response from daemon: Duplicate mount point: /a" in err


def test_bind_source_file_onto_a_directory_is_refused(sandbox):
    path = os.path.join(sandbox.dir, "afile")
    with open(path, "w") as f:
        f.write("x")
    r = sandbox.docker("run", "--rm", "-v", f"{path}:/etc", "busybox", "true")
    assert r.returncode == 125
    assert (f'error mounting "{path}" to rootfs at "/etc": not a directory: Are you trying to mount a directory '
            "onto a file (or vice-versa)? Check if the specified host path exists and is the expected type") in r.stderr


def test_mount_bind_with_missing_source_is_refused(sandbox):
    missing = os.path.join(sandbox.dir, "not-there")
    err = _run_fails(sandbox, "--mount", f"type=bind,src={missing},dst=/a", "busybox", "true")
    assert f'invalid mount config for type "bind": bind source path does not exist: {missing}' in err
    assert not os.path.exists(missing)


def test_rshared_on_a_private_mount_is_refused(sandbox):
    r = sandbox.docker("run", "--rm", "-v", f"{sandbox.dir}:/h:rshared", "busybox", "true")
    assert r.returncode == 125
    assert f"path {sandbox.dir} is mounted on / but it is not a shared mount" in r.stderr


def test_rm_of_a_volume_in_use_is_refused_and_keeps_its_data(sandbox):
    sb = sandbox
    ok(sb.docker("run", "--name", "user", "-v", "busy:/d", "busybox", "sh", "-c", "echo keep > /d/f"))
    cid = _inspect(sb, "inspect", "user")[0]["Id"]
    for args in (("volume", "rm", "busy"), ("volume", "rm", "-f", "busy")):
        r = sb.docker(*args)
        assert r.returncode == 1
        assert r.stderr == f"Error response from daemon: remove busy: volume is in use - [{cid}]\n"
    assert "busy" not in ok(sb.docker("volume", "prune", "-af"))
    assert ok(sb.docker("run", "--rm", "-v", "busy:/d", "busybox", "cat", "/d/f")) == "keep\n"
    ok(sb.docker("rm", "user"))
    ok(sb.docker("volume", "rm", "busy"))


def test_volume_command_errors(sandbox):
    sb = sandbox
    r = sb.docker("volume", "inspect", "nope")
    assert r.returncode == 1 and r.stdout == "[]\n" and r.stderr == "Error response from daemon: get nope: no such volume\n"
    r = sb.docker("volume", "rm", "nope")
    assert r.returncode == 1 and "get nope: no such volume" in r.stderr
    assert sb.docker("volume", "rm", "-f", "nope").returncode == 0
    r = sb.docker("volume", "create", "-o", "bogus=1", "optbad")
    assert r.returncode == 1 and 'create optbad: invalid option: "bogus"' in r.stderr
    r = sb.docker("volume", "ls", "-f", "bogus=1")
    assert r.returncode == 1 and "invalid filter 'bogus'" in r.stderr
    assert "optbad" not in _volumes(sb)


# ---------------------------------------------------------------- listing, prune, events, df


def test_ls_filters_and_prune_all_versus_anonymous(sandbox):
    sb = sandbox
    ok(sb.docker("volume", "create", "--label", "tier=web", "--label", "flag", "lab-a"))
    ok(sb.docker("volume", "create", "plain-b"))
    ok(sb.docker("create", "--name", "holder", "-v", "held-c:/x", "-v", "/anon-held", "busybox"))
    ok(sb.docker("run", "--name", "gone", "-v", "/anon-free", "busybox", "true"))
    free_anon = _inspect(sb, "inspect", "gone")[0]["Mounts"][0]["Name"]
    ok(sb.docker("rm", "gone"))
    ls = lambda *f: set(ok(sb.docker("volume", "ls", "-q", *f)).split())  # noqa: E731
    assert ls("-f", "label=tier=web") == {"lab-a"}
    assert ls("-f", "label=flag") == {"lab-a"}
    assert ls("-f", "name=plain") == {"plain-b"}
    assert ls("-f", "driver=local") == _volumes(sb)
    dangling = ls("-f", "dangling=true")
    assert {"lab-a", "plain-b", free_anon} <= dangling and "held-c" not in dangling
    assert "held-c" in ls("-f", "dangling=false")
    out = ok(sb.docker("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Label \"tier\"}}",
                       "-f", "name=lab-a"))
    name, driver, labels, tier = out.split()
    assert (name, driver, sorted(labels.split(",")), tier) == ("lab-a", "local", ["flag=", "tier=web"], "web")
    # without -a: anonymous unused volumes only
    out = ok(sb.docker("volume", "prune", "-f"))
    assert out.startswith("Deleted Volumes:\n") and f"\n{free_anon}\n" in out and "Total reclaimed space:" in out
    assert {"lab-a", "plain-b", "held-c"} <= _volumes(sb)
    # -a with a label filter: only matching unused ones
    assert ok(sb.docker("volume", "prune", "-af", "--filter", "label=tier")).startswith("Deleted Volumes:\nlab-a\n")
    assert ok(sb.docker("volume", "prune", "-af", "--filter", "label!=nothing")).startswith("Deleted Volumes:\nplain-b\n")
    assert "held-c" in _volumes(sb)
    ok(sb.docker("rm", "-v", "holder"))
    ok(sb.docker("volume", "rm", "held-c"))


def test_volume_events_and_system_df_usage(sandbox):
    sb = sandbox
    ok(sb.docker("volume", "create", "evvol"))
    ok(sb.docker("run", "--name", "dfuser", "-v", "evvol:/e", "busybox", "sh", "-c", "head -c 3000 /dev/zero > /e/z"))
    ok(sb.docker("rm", "dfuser"))
    ok(sb.docker("volume", "rm", "evvol"))
    out = ok(sb.docker("events", "--since", "0", "--until", str(int(__import__("time").time()) + 1),
                       "--filter", "type=volume", "--filter", "volume=evvol",
                       "--format", "{{.Action}} {{.Actor.Attributes.driver}} {{.Actor.Attributes.destination}}"))
    assert out.split("\n")[:4] == ["create local <no value>", "mount local /e", "unmount local <no value>",
                                   "destroy local <no value>"]
    t0 = str(int(__import__("time").time()))
    ok(sb.docker("volume", "prune", "-f"))
    out = ok(sb.docker("events", "--since", t0, "--until", str(int(__import__("time").time()) + 1),
                       "--filter", "type=volume", "--filter", "event=prune",
                       "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.reclaimed}}"))
    assert out.startswith("prune  ")
    ok(sb.docker("volume", "create", "dfvol"))
    ok(sb.docker("create", "--name", "dfholder", "-v", "dfvol:/d", "busybox"))
    with open(os.path.join(sb.data_root, "volumes", "dfvol", "_data", "blob"), "wb") as f:
        f.write(b"x" * 5000)
    status, df = api(sb, "GET", "/v1.45/system/df")
    [vol] = [v for v in df["Volumes"] if v["Name"] == "dfvol"]
    assert vol["UsageData"] == {"RefCount": 1, "Size": 5000}
    rows = [line.split() for line in ok(sb.docker("system", "df", "-v")).splitlines()]
    assert ["dfvol", "1", "5kB"] in rows
    ok(sb.docker("rm", "dfholder"))
    ok(sb.docker("volume", "rm", "dfvol"))


def test_docker_sdk_volumes(sandbox):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=sandbox.host_url, version="auto")
    try:
        vol = client.volumes.create("sdkvol", driver="local", labels={"by": "sdk"})
        assert vol.name == "sdkvol" and vol.attrs["Labels"] == {"by": "sdk"}
        assert "sdkvol" in [v.name for v in client.volumes.list(filters={"label": "by=sdk"})]
        out = client.containers.run("busybox", ["sh", "-c", "echo sdk > /v/f; cat /v/f"], remove=True,
                                    volumes={"sdkvol": {"bind": "/v", "mode": "rw"}})
        assert out == b"sdk\n"
        assert client.volumes.get("sdkvol").attrs["Mountpoint"].endswith("/volumes/sdkvol/_data")
        client.volumes.get("sdkvol").remove()
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("sdkvol")
        report = client.volumes.prune()
        assert "SpaceReclaimed" in report
    finally:
        client.close()


def test_cp_reads_and_writes_volumes_and_export_leaves_them_out(sandbox):
    sb = sandbox
    src = os.path.join(sb.dir, "cp-in.txt")
    with open(src, "w") as f:
        f.write("copied\n")
    vol_data = os.path.join(sb.data_root, "volumes", "cpvol", "_data")
    # a stopped container: the file goes into the volume, where its start will see it
    ok(sb.docker("create", "--name", "cpstopped", "-v", "cpvol:/data", "busybox", "cat", "/data/cp-in.txt"))
    ok(sb.docker("cp", src, "cpstopped:/data/"))
    assert os.listdir(vol_data) == ["cp-in.txt"]
    assert ok(sb.docker("start", "-a", "cpstopped")) == "copied\n"
    # a running one: cp sees its mounts too, both ways
    ok(sb.docker("run", "-d", "--name", "cprunning", "-v", "cpvol:/data", "busybox", "sleep", "300"))
    ok(sb.docker("exec", "cprunning", "sh", "-c", "echo from-inside > /data/inside"))
    assert ok(sb.docker("cp", "cprunning:/data/inside", "-")).count("from-inside") == 1
    ok(sb.docker("cp", src, "cprunning:/data/second"))
    assert sorted(os.listdir(vol_data)) == ["cp-in.txt", "inside", "second"]
    tar_path = os.path.join(sb.dir, "export.tar")
    ok(sb.docker("export", "-o", tar_path, "cprunning"))
    with open(tar_path, "rb") as f:
        assert b"from-inside" not in f.read()
    ok(sb.docker("rm", "-f", "cprunning", "cpstopped"))
    ok(sb.docker("volume", "rm", "cpvol"))


def test_volume_subpath_mounts_a_directory_of_the_volume_and_never_leads_out(sandbox):
    sb = sandbox
    ok(sb.docker("run", "--rm", "-v", "subv:/d", "busybox", "sh", "-c", "mkdir /d/sub && ln -s /etc /d/esc"))
    ok(sb.docker("run", "--rm", "--mount", "type=volume,src=subv,dst=/x,volume-subpath=sub", "busybox",
                 "touch", "/x/made"))
    assert os.listdir(os.path.join(sb.data_root, "volumes", "subv", "_data", "sub")) == ["made"]
    r = sb.docker("run", "--rm", "--mount", "type=volume,src=subv,dst=/x,volume-subpath=esc", "busybox", "true")
    assert r.returncode == 125 and "it leads out of volume subv" in r.stderr
    ok(sb.docker("volume", "rm", "subv"))


def test_ps_filters_by_volume_name_or_destination(sandbox):
    sb = sandbox
    ok(sb.docker("create", "--name", "psvol", "-v", "psv:/srv/data", "busybox"))
    ok(sb.docker("create", "--name", "psnovol", "busybox"))
    names = lambda f: ok(sb.docker("ps", "-a", "--format", "{{.Names}}", "--filter", f)).split()  # noqa: E731
    assert names("volume=psv") == ["psvol"]
    assert names("volume=/srv/data") == ["psvol"]
    assert names("volume=other") == []
    ok(sb.docker("rm", "psvol", "psnovol"))
    ok(sb.docker("volume", "rm", "psv"))


def test_rshared_bind_of_a_shared_mount_propagates_into_the_container(sandbox):
    sb = sandbox
    shared = os.path.join(sb.dir, "shared-src")
    os.makedirs(os.path.join(shared, "sub"), exist_ok=True)
    ok(sb.nsenter(["sh", "-c", f"mount --bind {shared} {shared} && mount --make-shared {shared}"]))
    try:
        ok(sb.docker("run", "-d", "--name", "prop", "-v", f"{shared}:/h:rshared", "busybox", "sleep", "300"))
        ok(sb.nsenter(["mount", "-t", "tmpfs", "tmpfs", os.path.join(shared, "sub")]))
        seen = ok(sb.docker("exec", "prop", "sh", "-c", "grep ' /h/sub ' /proc/self/mountinfo"))
        assert " - tmpfs " in seen
    finally:
        sb.docker("rm", "-f", "prop")
        sb.nsenter(["umount", "-R", shared])


def test_copy_up_happens_once_and_an_emptied_volume_is_not_refilled(sandbox, data_image):
    sb = sandbox
    ok(sb.docker("run", "--name", "once", "-v", "oncevol:/data", data_image, "sh", "-c",
                 "ls /data; rm -rf /data/*"))
    assert ok(sb.docker("logs", "once")) == "link\nsub\n"
    ok(sb.docker("start", "-a", "once"))
    assert os.listdir(os.path.join(sb.data_root, "volumes", "oncevol", "_data")) == []
    ok(sb.docker("rm", "once"))
    ok(sb.docker("volume", "rm", "oncevol"))


def test_cp_into_a_created_container_keeps_the_copy_up_as_docker_does(sandbox, data_image):
    sb = sandbox
    src = os.path.join(sb.dir, "extra.txt")
    with open(src, "w") as f:
        f.write("extra\n")
    ok(sb.docker("create", "--name", "cpfirst", "-v", "cpfirstvol:/data", data_image, "ls", "/data"))
    ok(sb.docker("cp", src, "cpfirst:/data/"))
    assert ok(sb.docker("start", "-a", "cpfirst")) == "extra.txt\nlink\nsub\n"
    ok(sb.docker("rm", "cpfirst"))
    ok(sb.docker("volume", "rm", "cpfirstvol"))
