"""Bad input gets docker's clear error, and nothing is lost or left half-done.

Each test feeds one kind of bad input and then checks the state: no container or
image was made, the ones that existed are untouched, no file landed outside a
layer, no staging directory was left behind.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import tarfile
import time

import pytest
from harness import api

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]


def _inspect(sb, name: str) -> dict:
    r = sb.docker("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def _all_containers(sb) -> list[str]:
    return sorted(sb.docker("ps", "-aq", "--no-trunc").stdout.split())


def _all_images(sb) -> list[str]:
    return sorted(sb.docker("images", "-aq", "--no-trunc").stdout.split())


def _layer_dirs(sb) -> list[str]:
    return sorted(os.listdir(os.path.join(sb.data_root, "overlay", "layers")))


def _staging_left(sb) -> list[str]:
    path = os.path.join(sb.data_root, "overlay", "staging")
    return os.listdir(path) if os.path.isdir(path) else []


@pytest.fixture
def unchanged(sandbox):
    """Asserts after the test that no container or image appeared or vanished."""
    containers, images = _all_containers(sandbox), _all_images(sandbox)
    yield
    assert _all_containers(sandbox) == containers
    assert _all_images(sandbox) == images


@pytest.fixture
def names(sandbox):
    made: list[str] = []
    yield made
    if made:
        sandbox.docker("rm", "-f", *made)


def _run_refused(sb, *args: str) -> str:
    r = sb.docker("run", "--rm", *args)
    assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
    return r.stderr


# ------------------------------------------------------------------ run / create
def test_unknown_image_is_reported_and_nothing_is_created(sandbox, unchanged):
    stderr = _run_refused(sandbox, "nosuchimage")
    assert "Unable to find image 'nosuchimage:latest' locally" in stderr
    assert "Error response from daemon:" in stderr
    stderr = _run_refused(sandbox, "busybox:nosuchtag")
    assert "Unable to find image 'busybox:nosuchtag' locally" in stderr
    r = sandbox.docker("create", "nosuchimage")
    assert r.returncode == 1 and "Error response from daemon:" in r.stderr


def test_name_conflict_keeps_the_existing_container(sandbox, names):
    names.append("keeper")
    r = sandbox.docker("run", "-d", "--name", "keeper", "busybox", "sleep", "60")
    cid = r.stdout.strip()
    before = _inspect(sandbox, "keeper")
    containers = _all_containers(sandbox)
    for verb in ("run", "create"):
        r = sandbox.docker(verb, "--name", "keeper", "busybox", "true")
        assert r.returncode == (125 if verb == "run" else 1)
        assert (f'Conflict. The container name "/keeper" is already in use by container "{cid}". '
                "You have to remove (or rename) that container to be able to reuse that name.") in r.stderr
    assert _all_containers(sandbox) == containers
    after = _inspect(sandbox, "keeper")
    assert (after["Id"], after["State"]["Running"], after["State"]["Pid"]) == (cid, True, before["State"]["Pid"])


def test_invalid_container_name_is_refused(sandbox, unchanged):
    r = sandbox.docker("create", "--name", "bad name!", "busybox")
    assert r.returncode == 1
    assert "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" in r.stderr


def test_unparsable_memory_is_refused_by_the_client(sandbox, unchanged):
    stderr = _run_refused(sandbox, "-m", "lots", "busybox", "true")
    assert 'invalid argument "lots" for "-m, --memory" flag' in stderr


def test_memory_below_the_minimum_is_refused_by_the_daemon(sandbox, unchanged):
    stderr = _run_refused(sandbox, "-m", "1k", "busybox", "true")
    assert "docker: Error response from daemon: Minimum memory limit allowed is 6MB" in stderr
    r = sandbox.docker("create", "-m", "4m", "busybox", "true")
    assert r.returncode == 1 and "Minimum memory limit allowed is 6MB" in r.stderr


@pytest.mark.parametrize("flag, field", [("--cap-add", "CapAdd"), ("--cap-drop", "CapDrop")])
def test_unknown_capability_is_refused(sandbox, unchanged, flag, field):
    stderr = _run_refused(sandbox, flag, "NOPE", "busybox", "true")
    assert f'Error response from daemon: invalid {field}: unknown capability: "CAP_NOPE"' in stderr


def test_other_bad_run_options_are_refused_with_dockers_messages(sandbox, unchanged):
    cases = [
        (["-w", "relative/dir"], "the working directory 'relative/dir' is invalid, it needs to be an absolute path"),
        (["-u", "nosuchuser"], "unable to find user nosuchuser: no matching entries in passwd file"),
        (["--runtime", "nosuch"], "unknown or invalid runtime name: nosuch"),
        (["--log-opt", "bogus=1"], "unknown log opt 'bogus' for json-file log driver"),
        (["--log-opt", "max-size=lots"], "invalid size: 'lots'"),
        (["--security-opt", "bogus"], 'Invalid --security-opt: "bogus"'),
        (["--cpus", "999"], "Range of CPUs is from 0.01 to "),
    ]
    for args, message in cases:
        stderr = _run_refused(sandbox, *args, "busybox", "true")
        assert message in stderr, (args, stderr)


def test_unknown_stop_signal_is_refused(sandbox, unchanged):
    stderr = _run_refused(sandbox, "--stop-signal", "BOGUS", "busybox", "true")
    assert "Invalid signal: BOGUS" in stderr


def test_command_not_found_exits_127_and_records_why(sandbox, names):
    names.append("notfound")
    r = sandbox.docker("run", "--name", "notfound", "busybox", "nosuch")
    assert r.returncode == 127
    assert 'Error response from daemon: exec: "nosuch": executable file not found in $PATH' in r.stderr
    state = _inspect(sandbox, "notfound")["State"]
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("created", False, 127)
    assert 'exec: "nosuch": executable file not found in $PATH' in state["Error"]
    r = sandbox.docker("start", "notfound")
    assert r.returncode == 1 and "executable file not found" in r.stderr
    # with --rm nothing is left behind
    containers = _all_containers(sandbox)
    r = sandbox.docker("run", "--rm", "busybox", "/nosuch/abs")
    assert r.returncode == 127
    assert 'exec: "/nosuch/abs": stat /nosuch/abs: no such file or directory' in r.stderr
    _wait_gone = time.monotonic() + 5
    while _all_containers(sandbox) != containers and time.monotonic() < _wait_gone:
        time.sleep(0.05)
    assert _all_containers(sandbox) == containers


def test_command_that_cannot_be_executed_exits_126(sandbox):
    r = sandbox.docker("run", "--rm", "busybox", "/etc")
    assert r.returncode == 126
    assert re.search(r'exec: "/etc": (is a directory|permission denied)', r.stderr), r.stderr
    r = sandbox.docker("run", "--rm", "busybox", "/etc/passwd")
    assert r.returncode == 126
    assert 'exec: "/etc/passwd": permission denied' in r.stderr


def test_an_image_without_a_command_needs_one(sandbox, busybox_tar, unchanged):
    r = sandbox.docker("import", busybox_tar, "nocmd:1")
    assert r.returncode == 0
    try:
        stderr = _run_refused(sandbox, "nocmd:1")
        assert "no command specified" in stderr.lower()
        stderr = _run_refused(sandbox, "--entrypoint", "", "nocmd:1")
        assert "no command specified" in stderr.lower()
        assert sandbox.docker("run", "--rm", "nocmd:1", "true").returncode == 0
    finally:
        sandbox.docker("rmi", "nocmd:1")


# ------------------------------------------------------------------ hostile and broken tars
def _tar(entries) -> bytes:
    """entries: (name, kind, payload) with kind file | symlink | hardlink | chr | blk | fifo | dir."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = int(time.time())
            data = None
            if kind == "file":
                info.size = len(payload)
                data = io.BytesIO(payload)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            elif kind in ("chr", "blk"):
                info.type = tarfile.CHRTYPE if kind == "chr" else tarfile.BLKTYPE
                info.devmajor, info.devminor = payload
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            t.addfile(info, data)
    return buf.getvalue()


def _raw(sb, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request with an arbitrary body; returns (status, de-chunked payload)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sb.sock)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        out = b""
        while payload:
            size_line, _, rest = payload.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, payload = out + rest[:size], rest[size + 2:]
        payload = out
    return int(head.split()[1]), payload


def _import_raw(sb, body: bytes, repo: str, tag: str = "x") -> tuple[int, str]:
    """POST /images/create?fromSrc=- with a raw tar body; returns (status, body text)."""
    status, payload = _raw(sb, "POST", f"/v1.45/images/create?fromSrc=-&repo={repo}&tag={tag}", body,
                           "application/x-tar")
    return status, payload.decode(errors="replace")


def _refused(status: int, text: str) -> str:
    """The error of a refused import: an HTTP error, or docker's error line in the progress stream."""
    if status != 200:
        return json.loads(text)["message"]
    for line in text.splitlines():
        msg = json.loads(line)
        if "error" in msg:
            assert msg["errorDetail"]["message"] == msg["error"]
            return msg["error"]
    raise AssertionError(f"import was not refused: {text}")


def _escape_path(target_dir: str, name: str) -> str:
    """A relative path that climbs out of any layer directory to target_dir/name."""
    return "../" * 30 + os.path.join(target_dir, name).lstrip("/")


@pytest.fixture
def outside(tmp_path):
    """A directory on the host that a contained import must never write to."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "existing").write_text("original\n")
    yield d
    assert sorted(os.listdir(d)) == ["existing"], "an import wrote outside its layer"
    assert (d / "existing").read_text() == "original\n"


@pytest.fixture
def import_state(sandbox, unchanged):
    """Nothing half-done: no new layer directory and no staging directory after the import."""
    layers = _layer_dirs(sandbox)
    yield
    assert _layer_dirs(sandbox) == layers
    assert _staging_left(sandbox) == []


def test_tar_with_dotdot_entries_is_refused_and_writes_nothing_outside(sandbox, outside, import_state):
    name = _escape_path(str(outside), "escaped")
    body = _tar([("ok.txt", "file", b"fine\n"), (name, "file", b"pwned\n"),
                 ("a/../../" + _escape_path(str(outside), "escaped2")[6:], "file", b"pwned\n")])
    status, text = _import_raw(sandbox, body, "dotdot")
    message = _refused(status, text)
    assert "escaped" in message and "outside" in message, message
    assert sandbox.docker("image", "inspect", "dotdot:x").returncode == 1


def test_tar_overwriting_an_existing_host_file_through_dotdot_is_refused(sandbox, outside, import_state):
    body = _tar([(_escape_path(str(outside), "existing"), "file", b"overwritten\n")])
    _refused(*_import_raw(sandbox, body, "dotdot2"))


def test_tar_writing_through_an_absolute_symlink_stays_contained(sandbox, outside, unchanged):
    body = _tar([("etc", "dir", None), ("link", "symlink", str(outside)), ("link/escaped", "file", b"pwned\n"),
                 ("rel", "symlink", "../" * 30 + str(outside).lstrip("/")), ("rel/escaped2", "file", b"pwned\n")])
    layers = _layer_dirs(sandbox)
    status, text = _import_raw(sandbox, body, "abslink")
    if status == 200 and '"error"' not in text:
        # docker's way: the link is resolved inside the layer root
        doc = _inspect(sandbox, "abslink:x")
        diff = doc["GraphDriver"]["Data"]["UpperDir"]
        assert os.path.isfile(os.path.join(diff, str(outside).lstrip("/"), "escaped"))
        sandbox.docker("rmi", "abslink:x")
    else:
        message = _refused(status, text)
        assert "link" in message, message
        assert sandbox.docker("image", "inspect", "abslink:x").returncode == 1
        assert _layer_dirs(sandbox) == layers
    assert _staging_left(sandbox) == []


def test_tar_hardlink_to_a_host_file_is_refused(sandbox, outside, import_state):
    body = _tar([("hl", "hardlink", _escape_path(str(outside), "existing"))])
    message = _refused(*_import_raw(sandbox, body, "hardlink"))
    assert "hl" in message, message
    assert os.stat(outside / "existing").st_nlink == 1


def test_absolute_symlinks_are_kept_and_resolve_inside_the_container(sandbox, busybox_tar, tmp_path):
    with open(busybox_tar, "rb") as f:
        base = f.read()
    # a second layer-less image: the busybox rootfs plus an absolute link, re-packed
    with tarfile.open(fileobj=io.BytesIO(base)) as src:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as dst:
            for member in src.getmembers():
                dst.addfile(member, src.extractfile(member) if member.isfile() else None)
            link = tarfile.TarInfo("hostname-link")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/hostname"
            dst.addfile(link)
    status, text = _import_raw(sandbox, buf.getvalue(), "withlink")
    assert status == 200 and '"error"' not in text, text
    try:
        r = sandbox.docker("run", "--rm", "-h", "inside", "withlink:x", "sh", "-c",
                           "readlink /hostname-link; cat /hostname-link")
        assert (r.returncode, r.stdout) == (0, "/etc/hostname\ninside\n"), r.stderr
    finally:
        sandbox.docker("rmi", "withlink:x")


def test_tar_device_nodes_are_skipped(sandbox):
    body = _tar([("ok.txt", "file", b"fine\n"), ("dev", "dir", None), ("dev/mynull", "chr", (1, 3)),
                 ("dev/myloop", "blk", (7, 0)), ("pipe", "fifo", None)])
    status, text = _import_raw(sandbox, body, "devnodes")
    assert status == 200 and '"error"' not in text, text
    try:
        diff = _inspect(sandbox, "devnodes:x")["GraphDriver"]["Data"]["UpperDir"]
        found = {}
        for root, dirs, files in os.walk(diff):
            for n in dirs + files:
                p = os.path.join(root, n)
                found[os.path.relpath(p, diff)] = os.lstat(p).st_mode
        assert "dev/mynull" not in found and "dev/myloop" not in found
        assert not any(stat.S_ISCHR(m) or stat.S_ISBLK(m) for m in found.values())
        assert stat.S_ISREG(found["ok.txt"])
        with open(os.path.join(diff, "ok.txt")) as f:
            assert f.read() == "fine\n"
    finally:
        sandbox.docker("rmi", "devnodes:x")


@pytest.mark.parametrize("kind", ["garbage", "truncated-header", "truncated-data"])
def test_broken_tar_gives_a_clear_error_and_leaves_nothing(sandbox, import_state, kind):
    whole = _tar([("small.txt", "file", b"abc"), ("big.bin", "file", b"z" * 100_000)])
    body = {"garbage": b"this is not a tar archive\n" * 50,
            "truncated-header": whole[:700],
            "truncated-data": whole[:1024 + 512 + 5000]}[kind]
    message = _refused(*_import_raw(sandbox, body, "broken"))
    assert "tar" in message.lower() or "empty" in message.lower() or "EOF" in message, message
    assert "Traceback" not in message
    assert sandbox.docker("image", "inspect", "broken:x").returncode == 1


def test_empty_tar_makes_an_empty_image_as_with_docker(sandbox):
    status, text = _import_raw(sandbox, b"", "emptytar")
    assert status == 200 and '"error"' not in text, text
    try:
        doc = _inspect(sandbox, "emptytar:x")
        assert doc["Size"] == 0 and len(doc["RootFS"]["Layers"]) == 1
    finally:
        sandbox.docker("rmi", "emptytar:x")


def test_failed_import_is_an_http_error(sandbox, busybox_tar, unchanged):
    status, _ = _import_raw(sandbox, b"this is not a tar archive\n" * 50, "broken")
    # docker says 500; Berth says 400, since the upload is what is wrong. Either way an
    # HTTP error before any stream, so clients print "Error response from daemon: ...".
    assert status in (400, 500)
    r = sandbox.docker("import", "-c", "RUN echo", busybox_tar, "badchange:1")
    assert r.returncode == 1
    assert r.stderr.startswith("Error response from daemon: run is not a valid change command")


def test_bad_change_instruction_is_refused(sandbox, busybox_tar, unchanged):
    layers = _layer_dirs(sandbox)
    for change, word in (("RUN echo", "run"), ("BOGUS x", "bogus")):
        r = sandbox.docker("import", "-c", change, busybox_tar, "badchange:1")
        assert r.returncode == 1
        assert f"{word} is not a valid change command" in r.stderr
    assert _layer_dirs(sandbox) == layers
    assert _staging_left(sandbox) == []


# ------------------------------------------------------------------ the API itself
def test_malformed_json_body_is_a_400_with_a_message(sandbox, unchanged):
    for raw in (b'{"Image": "busybox",', b"[1, 2]", b"not json"):
        status, body = _raw(sandbox, "POST", "/v1.45/containers/create", raw, "application/json")
        assert status == 400, (raw, status, body)
        message = json.loads(body)["message"]
        assert message and "Traceback" not in message, message


def test_create_without_a_config_is_a_400(sandbox, unchanged):
    status, body = api(sandbox, "POST", "/v1.45/containers/create", {})
    assert status == 400
    assert body["message"].lower() == "config cannot be empty in order to create a container"


@pytest.mark.parametrize("body", [{"Image": 5}, {"Image": "busybox", "HostConfig": {"Memory": "lots"}},
                                  {"Image": "busybox", "Cmd": "a-string-is-fine-for-cmd", "Env": "A=1"}])
def test_wrong_types_in_the_body_are_a_400(sandbox, body):
    before = _all_containers(sandbox)
    status, reply = api(sandbox, "POST", "/v1.45/containers/create", body)
    made = reply.get("Id") if isinstance(reply, dict) else None
    if made:
        sandbox.docker("rm", "-f", made)
    assert status == 400, reply
    assert "internal error" not in reply["message"]
    assert _all_containers(sandbox) == before


def test_create_with_a_non_json_content_type_is_a_400(sandbox, unchanged):
    status, data = _raw(sandbox, "POST", "/v1.45/containers/create", b'{"Image": "busybox"}', "text/plain")
    try:
        assert status == 400, data
        assert b"application/json" in data
    finally:
        m = re.search(rb'"Id": ?"([0-9a-f]{64})"', data)
        if m:
            sandbox.docker("rm", "-f", m.group(1).decode())


def test_unknown_api_paths_are_404(sandbox):
    for method, path in (("GET", "/v1.45/nonexistent"), ("GET", "/nonexistent"), ("POST", "/v1.45/containers/x/bogus"),
                         ("GET", "/v1.45/images/json/extra/parts")):
        status, body = api(sandbox, method, path)
        assert status == 404, (method, path, status, body)
        assert body["message"] == "page not found"
    status, body = api(sandbox, "GET", "/v1.45/containers/nosuch/json")
    assert (status, body["message"]) == (404, "No such container: nosuch")
    status, body = api(sandbox, "GET", "/v1.45/images/nosuch/json")
    assert (status, body["message"]) == (404, "No such image: nosuch:latest")


# ------------------------------------------------------------------ filters
BAD_PS_FILTERS = [
    ("foo=bar", "invalid filter 'foo'"),
    ("status=bogus", "invalid filter 'status=bogus'"),
    ("exited=abc", "invalid filter 'exited=abc'"),
    ("label!=x", "invalid filter 'label!'"),
    ("before=nosuch", "No such container: nosuch"),
]


@pytest.fixture
def running_and_exited(sandbox):
    running = sandbox.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    exited = sandbox.docker("run", "-d", "busybox", "true").stdout.strip()
    sandbox.docker("wait", exited)
    yield
    sandbox.docker("rm", "-f", running, exited)


@pytest.mark.parametrize("flt, message", BAD_PS_FILTERS)
def test_bad_ps_filters_are_refused(sandbox, running_and_exited, flt, message):
    r = sandbox.docker("ps", "-a", "--filter", flt)
    assert r.returncode == 1 and r.stdout == ""
    assert f"Error response from daemon: {message}" in r.stderr, r.stderr


@pytest.mark.parametrize("flt, message", BAD_PS_FILTERS)
def test_bad_ps_filters_are_refused_even_with_nothing_to_list(sandbox, flt, message):
    if sandbox.docker("ps", "-q").stdout.strip():
        pytest.skip("needs a daemon with no running container")
    r = sandbox.docker("ps", "--filter", flt)
    assert r.returncode == 1
    assert message in r.stderr


@pytest.mark.parametrize("flt, message", [
    ("bogus=1", "invalid filter 'bogus'"),
    ("dangling=maybe", "Invalid filter 'dangling=[maybe]'"),
    ("before=nosuch", "No such image: nosuch:latest"),
])
def test_bad_images_filters_are_refused(sandbox, flt, message):
    r = sandbox.docker("images", "--filter", flt)
    assert r.returncode == 1 and r.stdout == ""
    assert f"Error response from daemon: {message}" in r.stderr, r.stderr


def test_filter_without_a_value_is_refused_by_the_client(sandbox):
    r = sandbox.docker("ps", "--filter", "nofilter")
    assert r.returncode == 125
    assert "bad format of filter (expected name=value)" in r.stderr


def test_filters_that_are_not_json_are_a_400(sandbox):
    status, body = api(sandbox, "GET", "/v1.45/containers/json?filters=notjson")
    assert status == 400 and body["message"]


def test_bad_reference_pattern_is_refused(sandbox):
    r = sandbox.docker("images", "--filter", "reference=[")
    assert r.returncode == 1
    assert "syntax error in pattern" in r.stderr


def test_the_daemon_still_works_after_all_of_it(sandbox):
    r = sandbox.docker("run", "--rm", "busybox", "echo", "alive")
    assert (r.returncode, r.stdout) == (0, "alive\n")
    assert sandbox.daemon_proc is not None and sandbox.daemon_proc.poll() is None


# ------------------------------------------------------------------ our own CLI, where it is ready
@pytest.mark.parametrize("args, code, message", [
    (["-m", "lots"], 125, 'invalid argument "lots" for "-m, --memory" flag'),
    (["-m", "1k"], 125, "Error response from daemon: Minimum memory limit allowed is 6MB"),
    (["--cap-add", "NOPE"], 125, 'invalid CapAdd: unknown capability: "CAP_NOPE"'),
    (["busybox", "nosuch"], 127, 'Error response from daemon: exec: "nosuch": executable file not found in $PATH'),
    (["busybox", "/etc"], 126, 'exec: "/etc": '),
])
def test_berth_cli_reports_bad_run_input_like_docker(sandbox, unchanged, args, code, message):
    full = ["run", "--rm", *args] if args[0] == "busybox" else ["run", "--rm", *args, "busybox", "true"]
    want = sandbox.docker(*full)
    got = sandbox.berth(*full)
    assert (want.returncode, got.returncode) == (code, code), (want.stderr, got.stderr)
    assert message in want.stderr and message in got.stderr, got.stderr
    assert got.stdout == ""
