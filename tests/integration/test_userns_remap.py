"""`berthd --userns-remap default` (issue 10): container root is an unprivileged host id.

The sandbox's mount namespace gets a COPY of /etc bound over /etc before the
daemon starts, so the `berthremap` user and its /etc/subuid and /etc/subgid
ranges are made in the copy only; the host's /etc is compared before and after.
Everything is checked from outside too: the host uid of the container's
process, the owners on disk of what it writes, the owners in commit/cp/export
tars (the container's ids, never the shifted ones).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

import pytest

from tests.harness import SRC, Sandbox, api

pytestmark = [pytest.mark.integration, pytest.mark.compat]

SIZE = 65536


def _host_etc() -> dict[str, bytes]:
    out = {}
    for name in ("passwd", "group", "shadow", "subuid", "subgid"):
        try:
            with open(f"/etc/{name}", "rb") as f:
                out[name] = f.read()
        except FileNotFoundError:
            out[name] = b""
    return out


@pytest.fixture(scope="module")
def remapped(busybox_tar):
    before = _host_etc()
    sb = Sandbox()
    try:
        os.chmod(sb.dir, 0o711)  # mkdtemp's 0700 would keep the remapped root out of the data root
        etc = os.path.join(sb.dir, "etc")
        subprocess.run(["cp", "-a", "/etc", etc], check=True)
        sb.nsenter(["mount", "--bind", etc, "/etc"], check=True)
        sb.start_daemon("--userns-remap", "default")
        sb.import_busybox(busybox_tar)
        sb.etc = etc
        sb.host_etc_before = before
        yield sb
    finally:
        sb.close()
    assert _host_etc() == before, "the host's /etc changed"


def _start(sb: Sandbox) -> int:
    """berthremap's first subordinate id, read from the sandbox's copy of /etc/subuid."""
    with open(os.path.join(sb.etc, "subuid")) as f:
        for line in f:
            name, start, count = line.strip().split(":")
            if name == "berthremap":
                assert int(count) == SIZE
                return int(start)
    raise AssertionError("no berthremap range in the copy of /etc/subuid")


def _ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_default_user_and_ranges_are_made_in_the_sandbox_etc_only(remapped):
    with open(os.path.join(remapped.etc, "passwd")) as f:
        assert any(line.startswith("berthremap:") for line in f)
    start = _start(remapped)
    with open(os.path.join(remapped.etc, "subgid")) as f:
        assert "berthremap:" in f.read()
    assert start >= 100000
    assert b"berthremap" not in remapped.host_etc_before["passwd"]
    assert _host_etc() == remapped.host_etc_before
    info = _ok(remapped.docker("info", "--format", "{{json .SecurityOptions}}"))
    assert "name=userns" in info


def test_container_root_is_the_first_subordinate_id(remapped):
    start = _start(remapped)
    out = _ok(remapped.docker("run", "--rm", "busybox", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g"))
    lines = [ln.split() for ln in out.strip().splitlines()]
    assert lines[0] == ["0", str(start), str(SIZE)]
    assert lines[1] == ["0", str(start), str(SIZE)]
    assert lines[2:] == [["0"], ["0"]]


def test_process_runs_as_the_host_id_and_exec_joins_the_namespace(remapped):
    start = _start(remapped)
    _ok(remapped.docker("run", "-d", "--name", "sleeper", "busybox", "sleep", "300"))
    try:
        pid = _ok(remapped.docker("inspect", "-f", "{{.State.Pid}}", "sleeper")).strip()
        owner = _ok(remapped.nsenter(["stat", "-c", "%u:%g", f"/proc/{pid}"])).strip()
        assert owner == f"{start}:{start}"
        out = _ok(remapped.docker("exec", "sleeper", "sh", "-c", "id -u; cat /proc/self/uid_map"))
        assert out.split()[:4] == ["0", "0", str(start), str(SIZE)]
    finally:
        remapped.docker("rm", "-f", "sleeper")


def test_files_on_disk_are_shifted_and_image_files_look_root_owned(remapped):
    start = _start(remapped)
    out = _ok(remapped.docker("run", "--name", "writer", "busybox", "sh", "-c",
                              "echo hi > /new && mkdir /d && chown 1000:1000 /d && rm /bin/ls && "
                              "stat -c %u:%g /bin/busybox /etc/passwd /new"))
    assert out.split() == ["0:0", "0:0", "0:0"]
    upper = _ok(remapped.docker("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "writer")).strip()
    st = os.stat(os.path.join(upper, "new"))
    assert (st.st_uid, st.st_gid) == (start, start)
    st = os.stat(os.path.join(upper, "d"))
    assert (st.st_uid, st.st_gid) == (start + 1000, start + 1000)
    # The shared image layers keep the container's ids on disk.
    layers = os.path.join(remapped.data_root, "overlay", "layers")
    owners = {os.stat(os.path.join(layers, c, "diff", "bin", "busybox")).st_uid
              for c in os.listdir(layers) if os.path.exists(os.path.join(layers, c, "diff", "bin", "busybox"))}
    assert owners == {0}
    diff = _ok(remapped.docker("diff", "writer")).split("\n")
    assert "A /new" in diff and "A /d" in diff and "D /bin/ls" in diff
    assert not any(line.endswith("/etc/hostname") for line in diff)


def test_commit_export_and_cp_out_carry_the_container_ids(remapped):
    _ok(remapped.docker("commit", "writer", "remapped-commit"))
    # In the host's user namespace a file shows its ids as stored: root-owned in the new layer.
    out = _ok(remapped.docker("run", "--rm", "--userns=host", "remapped-commit", "sh", "-c",
                              "stat -c %u:%g /new /d; test ! -e /bin/ls && echo gone"))
    assert out.split() == ["0:0", "1000:1000", "gone"]
    out = _ok(remapped.docker("run", "--rm", "remapped-commit", "stat", "-c", "%u:%g", "/new", "/d"))
    assert out.split() == ["0:0", "1000:1000"]
    with tarfile.open(fileobj=io.BytesIO(_export(remapped, "writer"))) as tf:
        owners = {m.name.rstrip("/"): (m.uid, m.gid) for m in tf.getmembers()}
    assert owners["new"] == (0, 0) and owners["d"] == (1000, 1000) and owners["bin/busybox"] == (0, 0)
    res = subprocess.run(["docker", "cp", "writer:/d", "-"], check=False, capture_output=True, env=remapped.env())
    assert res.returncode == 0, res.stderr
    with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tf:
        assert [(m.name, m.uid, m.gid) for m in tf.getmembers()] == [("d", 1000, 1000)]


def _export(sb: Sandbox, name: str) -> bytes:
    res = subprocess.run(["docker", "export", name], check=False, capture_output=True, env=sb.env())
    assert res.returncode == 0, res.stderr
    return res.stdout


def _tar(entries: list[tuple[str, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, uid in entries:
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.mode = 2, uid, uid, 0o644
            tf.addfile(info, io.BytesIO(b"x\n"))
    return buf.getvalue()


def test_cp_in_shifts_ids_up_and_refuses_ids_past_the_range(remapped):
    start = _start(remapped)
    res = subprocess.run(["docker", "cp", "-", "writer:/tmp"], input=_tar([("a0", 0), ("a1000", 1000), ("implicit/dir/f", 5)]),
                         check=False, capture_output=True, env=remapped.env())
    assert res.returncode == 0, res.stderr
    upper = _ok(remapped.docker("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "writer")).strip()
    assert [(os.stat(os.path.join(upper, "tmp", n)).st_uid) for n in ("a0", "a1000")] == [start, start + 1000]
    # Parents the tar does not list are made for the remapped root, as docker does.
    assert [os.stat(os.path.join(upper, "tmp", *p)).st_uid for p in (["implicit"], ["implicit", "dir"],
                                                                     ["implicit", "dir", "f"])] == [start, start, start + 5]
    res = subprocess.run(["docker", "cp", "-", "writer:/tmp"], input=_tar([("big", 70000)]),
                         check=False, capture_output=True, env=remapped.env())
    assert res.returncode != 0
    assert b"Container ID 70000 cannot be mapped to a host ID" in res.stderr
    assert not os.path.exists(os.path.join(upper, "tmp", "big"))
    res = subprocess.run(["docker", "cp", "writer:/tmp/a1000", "-"], check=False, capture_output=True, env=remapped.env())
    with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tf:
        assert [(m.uid, m.gid) for m in tf.getmembers()] == [(1000, 1000)]


def test_an_image_with_many_layers_runs_remapped(remapped, tmp_path):
    """70 layer paths of the idmapped view do not fit in mount(2)'s one page: overlay
    is mounted with one lowerdir+ per layer instead."""
    one = len(os.path.join(remapped.data_root, "overlay", "idmapped", "k" * 12, "c" * 12, "diff")) + 1
    assert one * 70 > 4095  # so the lowerdir+ path is the one taken
    (tmp_path / "a").write_text("x\n")
    lines = ["FROM busybox"] + [f"COPY a /a{i}" for i in range(69)]
    (tmp_path / "Dockerfile").write_text("\n".join(lines) + "\n")
    res = subprocess.run(["docker", "build", "-q", "-t", "manylayers", str(tmp_path)], check=False, capture_output=True,
                         text=True, env=dict(remapped.env(), DOCKER_BUILDKIT="0"))
    assert res.returncode == 0, res.stderr
    out = _ok(remapped.docker("run", "--rm", "manylayers", "sh", "-c", "stat -c %u /a0 /a68; cat /proc/self/uid_map"))
    assert out.split()[:3] == ["0", "0", "0"]
    assert out.split()[3] != "0"


def test_named_volume_is_writable_by_container_root_and_persists(remapped):
    start = _start(remapped)
    out = _ok(remapped.docker("run", "--rm", "-v", "remapvol:/data", "busybox", "sh", "-c",
                              "echo kept > /data/f && stat -c %u:%g /data /data/f"))
    assert out.split() == ["0:0", "0:0"]
    out = _ok(remapped.docker("run", "--rm", "-v", "remapvol:/data", "busybox", "cat", "/data/f"))
    assert out == "kept\n"
    mountpoint = _ok(remapped.docker("volume", "inspect", "-f", "{{.Mountpoint}}", "remapvol")).strip()
    st = os.stat(os.path.join(mountpoint, "f"))
    assert (st.st_uid, st.st_gid) == (start, start)


def test_userns_host_runs_without_the_mapping(remapped):
    out = _ok(remapped.docker("run", "--rm", "--userns=host", "busybox", "cat", "/proc/self/uid_map"))
    assert out.split() == ["0", "0", "4294967295"]
    out = _ok(remapped.docker("run", "--rm", "--privileged", "--userns=host", "busybox", "cat", "/proc/self/uid_map"))
    assert out.split() == ["0", "0", "4294967295"]


@pytest.mark.parametrize("flags, message", [
    (["--privileged"], ("privileged mode is incompatible with user namespaces.  You must run the container "
                       "in the host namespace when running privileged mode")),
    (["--network", "host"], "cannot share the host's network namespace when user namespaces are enabled"),
    (["--pid", "host"], "cannot share the host PID namespace when user namespaces are enabled"),
])
def test_docker_refusals_under_remap(remapped, flags, message):
    res = remapped.docker("run", "--rm", *flags, "busybox", "true")
    assert res.returncode == 125
    assert f"Error response from daemon: {message}" in res.stderr


def test_any_other_userns_mode_means_the_daemon_mapping(remapped):
    """dockerd 20.10 (checked in a private namespace) accepts any UsernsMode at create;
    only "host" leaves the mapping out."""
    start = _start(remapped)
    status, body = api(remapped, "POST", "/containers/create",
                       {"Image": "busybox", "Cmd": ["cat", "/proc/self/uid_map"],
                        "HostConfig": {"UsernsMode": "private"}})
    assert status == 201, body
    _ok(remapped.docker("start", "-a", body["Id"]))
    out = _ok(remapped.docker("logs", body["Id"]))
    assert out.split() == ["0", str(start), str(SIZE)]
    remapped.docker("rm", body["Id"])


def _berthd(sb: Sandbox, *args: str) -> subprocess.CompletedProcess:
    d = os.path.join(sb.dir, "second")
    argv = [sys.executable, "-m", "berth.daemon.main", "-H", f"unix://{d}/s.sock", "--data-root", f"{d}/data",
            "--exec-root", f"{d}/run", "--pidfile", f"{d}/pid", *args]
    if "--config-file" not in args:
        argv += ["--config-file", sb.config_file]
    return subprocess.run(sb.nsenter_argv(argv), check=False, capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, PYTHONPATH=SRC))


@pytest.mark.parametrize("spec, message", [
    ("nosuchuser", "can't create ID mappings: Error during uid lookup for 'nosuchuser'"),
    ("daemon", "can't create ID mappings: no subuid ranges found for user 'daemon' in /etc/subuid"),
    ("a:b:c", "Invalid user/group specification in --userns-remap: 'a:b:c'"),
])
def test_daemon_refuses_a_mapping_it_cannot_build(remapped, spec, message):
    res = _berthd(remapped, "--userns-remap", spec)
    assert res.returncode == 1
    assert message in res.stderr


def test_daemon_refuses_a_data_root_the_remapped_root_cannot_reach(remapped):
    closed = os.path.join(remapped.dir, "closed")
    os.makedirs(closed, mode=0o700, exist_ok=True)
    os.chmod(closed, 0o700)
    res = _berthd(remapped, "--userns-remap", "default", "--data-root", os.path.join(closed, "data"))
    assert res.returncode == 1
    assert f"{closed} is not searchable by others (chmod o+x {closed})" in res.stderr


def test_daemon_json_userns_remap_key_is_read(remapped):
    path = os.path.join(remapped.dir, "remap.json")
    with open(path, "w") as f:
        f.write('{"userns-remap": "daemon"}\n')
    res = _berthd(remapped, "--config-file", path)
    assert res.returncode == 1
    assert "no subuid ranges found for user 'daemon'" in res.stderr


def test_remapped_containers_survive_a_daemon_restart(remapped):
    """Last in the module: it restarts the daemon. The mapping is kept with each
    container, so a re-attached or restarted container keeps it."""
    import signal

    start = _start(remapped)
    _ok(remapped.docker("run", "-d", "--name", "survivor", "busybox", "sleep", "300"))
    remapped.kill_daemon(signal.SIGKILL)
    remapped.start_daemon("--userns-remap", "default")
    out = _ok(remapped.docker("exec", "survivor", "cat", "/proc/self/uid_map"))
    assert out.split() == ["0", str(start), str(SIZE)]
    _ok(remapped.docker("restart", "-t", "0", "survivor"))
    pid = _ok(remapped.docker("inspect", "-f", "{{.State.Pid}}", "survivor")).strip()
    assert _ok(remapped.nsenter(["stat", "-c", "%u", f"/proc/{pid}"])).strip() == str(start)
    cid = _ok(remapped.docker("inspect", "-f", "{{.Id}}", "survivor")).strip()
    mountinfo = _ok(remapped.nsenter(["cat", "/proc/self/mountinfo"]))
    views = [line for line in mountinfo.splitlines() if "/overlay/idmapped/" in line.split()[4]]
    assert len(views) == 1 and "idmapped" in views[0].split(" - ")[0]  # one shared layers view, kept
    assert cid in mountinfo
    _ok(remapped.docker("rm", "-f", "survivor"))
    mountinfo = _ok(remapped.nsenter(["cat", "/proc/self/mountinfo"]))
    assert cid not in mountinfo
    with open(os.path.join(remapped.etc, "subuid")) as f:
        assert f.read().count("berthremap:") == 1  # the second start found the range, added none


def test_mapping_stays_with_each_container_across_daemon_flags(remapped):
    """Last in the module. A remapped container keeps its mapping under a daemon
    without the flag; a container made without it is refused by a remapping daemon
    (it would run as the host's root), unless it was made with --userns=host."""
    import signal

    start = _start(remapped)
    _ok(remapped.docker("create", "--name", "was-remapped", "busybox", "cat", "/proc/self/uid_map"))
    remapped.kill_daemon(signal.SIGTERM)
    remapped.start_daemon()
    try:
        out = _ok(remapped.docker("start", "-a", "was-remapped"))
        assert out.split() == ["0", str(start), str(SIZE)]
        info = _ok(remapped.docker("info", "--format", "{{json .SecurityOptions}}"))
        assert "name=userns" not in info
        _ok(remapped.docker("create", "--name", "unmapped", "busybox", "true"))
        out = _ok(remapped.docker("run", "--rm", "busybox", "cat", "/proc/self/uid_map"))
        assert out.split() == ["0", "0", "4294967295"]
    finally:
        remapped.kill_daemon(signal.SIGTERM)
        remapped.start_daemon("--userns-remap", "default")
    res = remapped.docker("start", "unmapped")
    assert res.returncode != 0
    assert "was created before --userns-remap was enabled" in res.stderr
    out = _ok(remapped.docker("start", "-a", "was-remapped"))
    assert out.split() == ["0", str(start), str(SIZE)]
