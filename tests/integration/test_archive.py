"""docker cp (the archive API), diff, export and commit through the real docker CLI.

Every path is a path inside the container: the escape tests plant a unique
marker on the host and check that neither `..` nor a symlink inside the
container reads or writes it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import tarfile
import time
import uuid

import pytest

from harness import raw_request

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

BUSYBOX_PASSWD_START = "root:x:0:0:"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return r


def _docker_bytes(sandbox, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/local/bin/docker", *args], check=False, input=input, env=sandbox.env(),
                          capture_output=True, timeout=120)


def _wait_exit(sandbox, name: str) -> None:
    _ok(sandbox.docker("wait", name))


def _raw(sandbox, method: str, path: str, body: bytes = b"") -> tuple[int, dict, bytes]:
    """One HTTP request; returns status, headers (lower-case names) and the raw body."""
    return raw_request(sandbox, method, path, body, "application/x-tar")


def _tar_of(entries: list[tuple[str, object]]) -> bytes:
    """A tar from (name, content) pairs: bytes → file, ("dir",) → directory, ("link", target) → symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = int(time.time())
            if isinstance(content, bytes):
                info.size = len(content)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(content))
            elif content[0] == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tf.addfile(info)
    return buf.getvalue()


def _tar_members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: m for m in tf.getmembers()}


def _tar_file(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        f = tf.extractfile(name)
        assert f is not None
        return f.read()


@pytest.fixture
def host_marker(tmp_path):
    """A file on the host, at a path a container could only reach by escaping."""
    d = tmp_path / f"escape-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    marker = d / "marker"
    marker.write_text("host secret\n")
    return marker


def _running(sandbox, name: str, script: str = "sleep 300") -> str:
    r = _ok(sandbox.docker("run", "-d", "--name", name, "busybox", "sh", "-c", script))
    return r.stdout.strip()


# ---------------------------------------------------------------------- docker cp
def test_cp_file_into_and_out_of_a_running_container(sandbox, tmp_path):
    name = _name("cp")
    _running(sandbox, name)
    try:
        src = tmp_path / "hello.txt"
        src.write_text("hello from the host\n")
        os.chmod(src, 0o640)
        _ok(sandbox.docker("cp", str(src), f"{name}:/tmp/"))
        _ok(sandbox.docker("cp", str(src), f"{name}:/tmp/renamed.txt"))
        out = tmp_path / "back"
        out.mkdir()
        _ok(sandbox.docker("cp", f"{name}:/tmp/hello.txt", str(out)))
        _ok(sandbox.docker("cp", f"{name}:/tmp/renamed.txt", str(out / "again.txt")))
        assert (out / "hello.txt").read_text() == "hello from the host\n"
        assert (out / "again.txt").read_text() == "hello from the host\n"
        assert stat.S_IMODE(os.stat(out / "hello.txt").st_mode) == 0o640
        # the container itself sees the file
        r = _ok(sandbox.docker("exec", name, "cat", "/tmp/hello.txt"))
        assert r.stdout == "hello from the host\n"
        # a file of the image, to stdout as a tar named after the file
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/etc/passwd", "-"))
        assert list(_tar_members(r.stdout)) == ["passwd"]
        assert _tar_file(r.stdout, "passwd").decode().startswith(BUSYBOX_PASSWD_START)
    finally:
        sandbox.docker("rm", "-f", name)


def test_cp_directory_both_ways_keeps_tree_modes_and_links(sandbox, tmp_path):
    name = _name("cpdir")
    _running(sandbox, name)
    try:
        src = tmp_path / "tree"
        (src / "sub" / "deep").mkdir(parents=True)
        (src / "a.txt").write_text("a\n")
        (src / "sub" / "deep" / "b.bin").write_bytes(os.urandom(300_000))
        os.symlink("a.txt", src / "link")
        os.chmod(src / "sub", 0o750)
        _ok(sandbox.docker("cp", str(src), f"{name}:/data"))  # /data does not exist: becomes the tree
        _ok(sandbox.docker("cp", str(src), f"{name}:/data"))  # exists now: tree copied into it
        dst = tmp_path / "out"
        _ok(sandbox.docker("cp", f"{name}:/data", str(dst)))
        assert (dst / "a.txt").read_text() == "a\n"
        assert (dst / "sub" / "deep" / "b.bin").read_bytes() == (src / "sub" / "deep" / "b.bin").read_bytes()
        assert os.readlink(dst / "link") == "a.txt"
        assert stat.S_IMODE(os.stat(dst / "sub").st_mode) == 0o750
        assert (dst / "tree" / "a.txt").read_text() == "a\n"
        # "dir/." copies the content, not the directory
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/data/.", "-"))
        names = set(_tar_members(r.stdout))
        assert {".", "./a.txt", "./sub/deep/b.bin", "./link"} <= names
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/data", "-"))
        assert {"data", "data/a.txt", "data/sub/deep/b.bin"} <= set(_tar_members(r.stdout))
    finally:
        sandbox.docker("rm", "-f", name)


def test_cp_into_a_stopped_container_then_start_sees_the_file(sandbox, tmp_path):
    name = _name("cpstopped")
    _ok(sandbox.docker("create", "--name", name, "busybox", "cat", "/etc/motd"))
    try:
        motd = tmp_path / "motd"
        motd.write_text("copied while stopped\n")
        _ok(sandbox.docker("cp", str(motd), f"{name}:/etc/motd"))
        # out of a created container too, while it has no mounted rootfs
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/etc/motd", "-"))
        assert _tar_file(r.stdout, "motd") == b"copied while stopped\n"
        r = _ok(sandbox.docker("start", "-a", name))
        assert r.stdout == "copied while stopped\n"
        # and out of an exited one
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/etc/motd", "-"))
        assert _tar_file(r.stdout, "motd") == b"copied while stopped\n"
        r = _ok(sandbox.docker("start", "-a", name))
        assert r.stdout == "copied while stopped\n"
    finally:
        sandbox.docker("rm", "-f", name)


def test_cp_of_a_missing_path_says_docker_s_message(sandbox, tmp_path):
    name = _name("w")
    _ok(sandbox.docker("create", "--name", name, "busybox", "true"))
    try:
        r = sandbox.docker("cp", f"{name}:/nosuch", str(tmp_path / "x"))
        assert r.returncode == 1
        assert f"Could not find the file /nosuch in container {name}" in r.stderr
        assert not (tmp_path / "x").exists()
        # extracting into a file is refused
        status, _h, body = _raw(sandbox, "PUT", f"/v1.45/containers/{name}/archive?path=/etc/passwd",
                                _tar_of([("x", b"1")]))
        assert status == 400 and json.loads(body)["message"] == "extraction point is not a directory"
        status, _h, body = _raw(sandbox, "PUT", f"/v1.45/containers/{name}/archive?path=/nosuch",
                                _tar_of([("x", b"1")]))
        assert status == 404 and "Could not find the file /nosuch" in json.loads(body)["message"]
        status, _h, _b = _raw(sandbox, "HEAD", f"/v1.45/containers/{name}/archive?path=/nosuch")
        assert status == 404
        status, _h, body = _raw(sandbox, "GET", f"/v1.45/containers/{name}/archive")
        assert status == 400
        r = sandbox.docker("cp", "nosuchcontainer:/etc/passwd", str(tmp_path / "y"))
        assert r.returncode == 1 and "No such container" in r.stderr
    finally:
        sandbox.docker("rm", "-f", name)


def test_cp_keeps_the_archive_owner_and_dash_a_gives_the_container_user(sandbox, tmp_path):
    name = _name("owner")
    _ok(sandbox.docker("create", "--name", name, "--user", "1234:5678", "busybox", "true"))
    try:
        src = tmp_path / "owned"
        src.write_text("x\n")
        os.chown(src, 4321, 8765)
        _ok(sandbox.docker("cp", str(src), f"{name}:/tmp/plain"))
        _ok(sandbox.docker("cp", "-a", str(src), f"{name}:/tmp/archived"))
        plain = _tar_members(_ok(_docker_bytes(sandbox, "cp", f"{name}:/tmp/plain", "-")).stdout)["plain"]
        archived = _tar_members(_ok(_docker_bytes(sandbox, "cp", f"{name}:/tmp/archived", "-")).stdout)["archived"]
        assert (plain.uid, plain.gid) == (4321, 8765)
        assert (archived.uid, archived.gid) == (1234, 5678)
    finally:
        sandbox.docker("rm", "-f", name)


def test_cp_into_a_read_only_rootfs_is_refused(sandbox, tmp_path):
    name = _name("ro")
    _ok(sandbox.docker("create", "--name", name, "--read-only", "busybox", "true"))
    try:
        src = tmp_path / "f"
        src.write_text("x\n")
        r = sandbox.docker("cp", str(src), f"{name}:/tmp/")
        assert r.returncode == 1 and "container rootfs is marked read-only" in r.stderr
        # reading still works
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/etc/passwd", "-"))
        assert _tar_file(r.stdout, "passwd").decode().startswith(BUSYBOX_PASSWD_START)
    finally:
        sandbox.docker("rm", "-f", name)


def test_head_archive_reports_docker_s_path_stat(sandbox):
    name = _name("stat")
    _running(sandbox, name, "ln -s /etc/passwd /pw; ln -s ../../../../../etc /up; sleep 300")
    try:
        time.sleep(0.3)
        status, headers, _ = _raw(sandbox, "HEAD", f"/v1.45/containers/{name}/archive?path=/etc")
        assert status == 200
        doc = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
        assert doc["name"] == "etc" and doc["mode"] & (1 << 31) and doc["linkTarget"] == ""
        assert doc["mtime"].endswith("Z")
        status, headers, _ = _raw(sandbox, "HEAD", f"/v1.45/containers/{name}/archive?path=/pw")
        doc = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
        assert doc["name"] == "pw" and doc["mode"] & (1 << 27) and doc["linkTarget"] == "/etc/passwd"
        # a relative link that climbs past the root resolves inside it
        status, headers, _ = _raw(sandbox, "HEAD", f"/v1.45/containers/{name}/archive?path=/up")
        doc = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
        assert doc["linkTarget"] == "/etc"
        # -L follows the link inside the container (to stdout the CLI does not rename the entry)
        r = _ok(_docker_bytes(sandbox, "cp", "-L", f"{name}:/pw", "-"))
        assert _tar_file(r.stdout, "passwd").decode().startswith(BUSYBOX_PASSWD_START)
        # without -L the link itself comes out
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/pw", "-"))
        m = _tar_members(r.stdout)["pw"]
        assert m.issym() and m.linkname == "/etc/passwd"
    finally:
        sandbox.docker("rm", "-f", name)


# ---------------------------------------------------------------------- escapes
def test_cp_dotdot_paths_stay_inside_the_container(sandbox, host_marker, tmp_path):
    name = _name("dotdot")
    _running(sandbox, name)
    try:
        # ../../etc/passwd is the container's /etc/passwd, never the host's
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:../../../../../etc/passwd", "-"))
        with open("/etc/passwd", "rb") as f:
            host_passwd = f.read()
        container_passwd = _tar_file(r.stdout, "passwd")
        assert container_passwd.decode().startswith(BUSYBOX_PASSWD_START)
        assert container_passwd != host_passwd
        # the host marker cannot be read by climbing
        climb = "../" * 12 + str(host_marker).lstrip("/")
        r = sandbox.docker("cp", f"{name}:{climb}", str(tmp_path / "stolen"))
        assert r.returncode == 1 and "Could not find the file" in r.stderr
        assert not (tmp_path / "stolen").exists()
        # writing by climbing lands inside the container
        payload = tmp_path / "marker"
        payload.write_text("overwritten\n")
        target_dir = "../" * 12 + str(host_marker.parent).lstrip("/")
        r = sandbox.docker("cp", str(payload), f"{name}:{target_dir}/")
        assert host_marker.read_text() == "host secret\n"
        status, _h, body = _raw(sandbox, "PUT", f"/v1.45/containers/{name}/archive?path=/tmp",
                                _tar_of([("../../../../" + str(host_marker).lstrip("/"), b"pwned\n")]))
        assert status == 400 and "is outside of" in json.loads(body)["message"]
        assert host_marker.read_text() == "host secret\n"
    finally:
        sandbox.docker("rm", "-f", name)


def test_cp_through_symlinks_pointing_outside_never_reaches_the_host(sandbox, host_marker, tmp_path):
    name = _name("links")
    host_dir = str(host_marker.parent)
    _running(sandbox, name, f"ln -s / /escape; ln -s ../../../../../../.. /rel; ln -s {host_marker} /direct; "
                            f"ln -s {host_dir} /hostdir; sleep 300")
    try:
        time.sleep(0.3)
        for path in ("/direct", f"/escape{host_marker}", f"/rel{host_marker}", "/hostdir/marker"):
            r = _docker_bytes(sandbox, "cp", "-L", f"{name}:{path}", "-")
            assert r.returncode == 1, path
            assert b"Could not find the file" in r.stderr, (path, r.stderr)
        # /escape/etc/passwd is the container's passwd
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/escape/etc/passwd", "-"))
        assert _tar_file(r.stdout, "passwd").decode().startswith(BUSYBOX_PASSWD_START)
        # copying into a link to "/" writes into the container's root
        payload = tmp_path / "planted"
        payload.write_text("inside\n")
        _ok(sandbox.docker("cp", str(payload), f"{name}:/escape/"))
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:/planted", "-"))
        assert _tar_file(r.stdout, "planted") == b"inside\n"
        assert not os.path.exists("/planted")
        # into a link to the marker's directory: lands in the container's copy of that path
        payload2 = tmp_path / "marker"
        payload2.write_text("overwritten\n")
        sandbox.docker("cp", str(payload2), f"{name}:/hostdir/")
        sandbox.docker("cp", str(payload2), f"{name}:/rel{host_dir}/")
        assert host_marker.read_text() == "host secret\n"
        # a tar that plants a symlink and then writes through it stays inside too
        evil = _tar_of([("evil", ("link", host_dir)), ("evil/pwned", b"pwned\n"),
                        ("evil2", ("link", "/")), ("evil2" + host_dir + "/pwned2", b"pwned\n")])
        status, _h, body = _raw(sandbox, "PUT", f"/v1.45/containers/{name}/archive?path=/", evil)
        assert status == 200, body
        assert sorted(os.listdir(host_dir)) == ["marker"]
        assert host_marker.read_text() == "host secret\n"
        r = _ok(_docker_bytes(sandbox, "cp", f"{name}:{host_dir}/pwned", "-"))
        assert _tar_file(r.stdout, "pwned") == b"pwned\n"
        # a relative symlink climbing out of the destination is refused, as docker refuses it
        status, _h, body = _raw(sandbox, "PUT", f"/v1.45/containers/{name}/archive?path=/tmp",
                                _tar_of([("up", ("link", "../../../etc"))]))
        assert status == 400 and "invalid symlink" in json.loads(body)["message"]
    finally:
        sandbox.docker("rm", "-f", name)


# ---------------------------------------------------------------------- diff / export
def test_diff_lists_added_changed_and_deleted_paths(sandbox):
    name = _name("diff")
    _ok(sandbox.docker("run", "--name", name, "busybox", "sh", "-c",
                       "echo new > /newfile; echo extra >> /etc/passwd; rm /etc/group; "
                       "mkdir -p /tmp/a/b; touch /tmp/a/b/c; rm -r /etc/network"))
    try:
        r = _ok(sandbox.docker("diff", name))
        lines = r.stdout.splitlines()
        assert lines == [
            "C /etc",
            "D /etc/group",
            "D /etc/network",
            "C /etc/passwd",
            "A /newfile",
            "C /tmp",
            "A /tmp/a",
            "A /tmp/a/b",
            "A /tmp/a/b/c",
        ], lines
        # a directory removed and made again hides the image's content: docker lists what it hides
        again = _name("opaque")
        _ok(sandbox.docker("run", "--name", again, "busybox", "sh", "-c",
                           "rm -r /etc/network; mkdir /etc/network; touch /etc/network/fresh"))
        assert _ok(sandbox.docker("diff", again)).stdout.splitlines() == [
            "C /etc",
            "C /etc/network",
            "A /etc/network/fresh",
            "D /etc/network/if-down.d",
            "D /etc/network/if-post-down.d",
            "D /etc/network/if-pre-up.d",
            "D /etc/network/if-up.d",
        ]
        sandbox.docker("rm", again)
        # a container that changed nothing (crun's mount targets are not changes)
        quiet = _name("quiet")
        _ok(sandbox.docker("run", "--name", quiet, "busybox", "true"))
        assert _ok(sandbox.docker("diff", quiet)).stdout == ""
        sandbox.docker("rm", quiet)
    finally:
        sandbox.docker("rm", "-f", name)


def test_export_is_a_tar_of_the_whole_rootfs(sandbox, tmp_path):
    name = _name("export")
    _ok(sandbox.docker("run", "--name", name, "busybox", "sh", "-c", "echo exported > /root/file"))
    try:
        out = subprocess.run("/usr/local/bin/docker export " + name + " | tar -t", check=False, shell=True,
                             env=sandbox.env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        listed = set(out.stdout.splitlines())
        assert {"bin/", "bin/busybox", "etc/passwd", "root/file", "tmp/"} <= listed
        assert not any(n.startswith("/") for n in listed)
        target = tmp_path / "rootfs.tar"
        _ok(sandbox.docker("export", "-o", str(target), name))
        members = _tar_members(target.read_bytes())
        # busybox's applets are hardlinks: the first name met (in Walk order) carries the data
        assert members["bin/["].isreg() and members["bin/["].size > 100_000
        assert members["bin/sh"].islnk() and members["bin/sh"].linkname == "bin/["
        assert _tar_file(target.read_bytes(), "root/file") == b"exported\n"
    finally:
        sandbox.docker("rm", "-f", name)


# ---------------------------------------------------------------------- commit
def test_commit_makes_a_layer_with_config_changes_and_whiteouts(sandbox):
    name = _name("commit")
    repo = _name("committed")
    _ok(sandbox.docker("run", "--name", name, "busybox", "sh", "-c",
                       "echo committed > /hello; rm /etc/group; rm -r /etc/network; mkdir /etc/network; "
                       "touch /etc/network/fresh"))
    try:
        r = _ok(sandbox.docker("commit", "-c", 'CMD ["cat", "/hello"]', "-c", "ENV MODE=committed",
                               "-m", "a message", "-a", "Jane Doe <jane@example.com>", name, f"{repo}:v1"))
        image_id = r.stdout.strip()
        assert image_id.startswith("sha256:") and len(image_id) == 71
        r = _ok(sandbox.docker("run", "--rm", f"{repo}:v1"))
        assert r.stdout == "committed\n"
        r = sandbox.docker("run", "--rm", f"{repo}:v1", "ls", "/etc/group")
        assert r.returncode != 0  # deleted in the container, deleted in the image
        r = _ok(sandbox.docker("run", "--rm", f"{repo}:v1", "ls", "/etc/network"))
        assert r.stdout.split() == ["fresh"]  # the opaque directory hides the image's content
        r = _ok(sandbox.docker("run", "--rm", f"{repo}:v1", "sh", "-c", "echo $MODE"))
        assert r.stdout == "committed\n"
        info = json.loads(_ok(sandbox.docker("image", "inspect", f"{repo}:v1")).stdout)[0]
        assert info["Id"] == image_id
        assert info["Comment"] == "a message"
        assert info["Author"] == "Jane Doe <jane@example.com>"
        assert info["Config"]["Cmd"] == ["cat", "/hello"]
        base = json.loads(_ok(sandbox.docker("image", "inspect", "busybox")).stdout)[0]
        assert info["Parent"] == base["Id"]  # docker records the image the commit started from
        assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
        assert len(info["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
        # the layer on disk holds overlay whiteouts for the deletions
        upper = info["GraphDriver"]["Data"]["UpperDir"]
        st = os.lstat(os.path.join(upper, "etc", "group"))
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        assert os.getxattr(os.path.join(upper, "etc", "network"), "trusted.overlay.opaque") == b"y"
        hist = _ok(sandbox.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}",
                                  f"{repo}:v1")).stdout.splitlines()
        assert hist[0].startswith("sh -c echo committed > /hello") and hist[0].endswith("|a message")
    finally:
        sandbox.docker("rm", "-f", name)
        sandbox.docker("rmi", f"{repo}:v1")


def test_commit_of_an_unchanged_container_adds_no_layer_and_emits_the_event(sandbox):
    name = _name("nochange")
    _ok(sandbox.docker("run", "--name", name, "busybox", "true"))
    try:
        since = str(int(time.time()) - 1)
        image_id = _ok(sandbox.docker("commit", name)).stdout.strip()
        info = json.loads(_ok(sandbox.docker("image", "inspect", image_id)).stdout)[0]
        base = json.loads(_ok(sandbox.docker("image", "inspect", "busybox")).stdout)[0]
        assert info["RootFS"]["Layers"] == base["RootFS"]["Layers"]
        assert info["RepoTags"] == []
        ev = _ok(sandbox.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                                "--filter", "event=commit", "--format", "{{json .}}")).stdout.splitlines()
        assert any(json.loads(e)["Actor"]["Attributes"].get("imageID") == image_id for e in ev), ev
        r = sandbox.docker("commit", "-c", "RUN echo no", name)
        assert r.returncode == 1 and "is not a valid change command" in r.stderr
        r = sandbox.docker("commit", "nosuchcontainer")
        assert r.returncode == 1 and "No such container: nosuchcontainer" in r.stderr
        sandbox.docker("rmi", image_id)
    finally:
        sandbox.docker("rm", "-f", name)


@pytest.mark.parametrize("pause", ["true", "false"])
def test_commit_of_a_running_container_while_it_writes_is_consistent(sandbox, pause):
    name = _name("busy")
    repo = _name("busyimg")
    cid = _running(sandbox, name, "mkdir /data; i=0; while true; do i=$((i+1)); echo $i > /data/tmp; "
                            "mv /data/tmp /data/current; head -c 4096 /dev/urandom > /data/blob.$((i % 50)); "
                            "rm -f /data/blob.$(((i + 25) % 50)); done")
    try:
        time.sleep(1.0)
        since = str(int(time.time()) - 1)
        r = _ok(sandbox.docker("commit", f"--pause={pause}", name, repo))
        image_id = r.stdout.strip()
        lines = _ok(sandbox.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                                   "--format", "{{.Type}} {{.Actor.ID}} {{.Action}}")).stdout.splitlines()
        actions = [line.split()[2] for line in lines if line.startswith(f"container {cid} ")]
        actions = actions[actions.index("start") + 1:] if "start" in actions else actions
        if pause == "true":
            assert actions == ["pause", "commit", "unpause"], actions  # frozen while its layer is made
        else:
            assert actions == ["commit"], actions
        assert json.loads(_ok(sandbox.docker("inspect", "-f", "{{json .State.Running}}", name)).stdout) is True
        r = _ok(sandbox.docker("run", "--rm", repo, "cat", "/data/current"))
        assert r.stdout.strip().isdigit()
        r = _ok(sandbox.docker("run", "--rm", repo, "sh", "-c", "ls /data | wc -l"))
        assert int(r.stdout.strip()) >= 2
        status = json.loads(_ok(sandbox.docker("inspect", "-f", "{{json .State}}", name)).stdout)
        assert status["Paused"] is False and status["Running"] is True
        sandbox.docker("rmi", image_id)
    finally:
        sandbox.docker("rm", "-f", name)
