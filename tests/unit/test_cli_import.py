"""`import`, `image bootstrap`, `logs`, `exec` and `attach` against a fake daemon."""

from __future__ import annotations

import io
import sys

import berth.images.bootstrap as bootstrap_mod
from berth.cli.main import main
from test_cli_support import FakeDaemon, Reply, frame, json_reply

IMPORT_OK = Reply(200, b'{"status":"sha256:' + b"a" * 64 + b'"}\r\n', content_type="application/json")


def berth(daemon: FakeDaemon, capsys, *args: str) -> tuple[int, str, str]:
    status = main(["-H", daemon.host, *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_import_file_streams_body_and_prints_the_id(tmp_path, capsys):
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(b"x" * 3_000_000)
    with FakeDaemon({"POST /images/create": IMPORT_OK}) as d:
        status, out, err = berth(d, capsys, "import", "-c", "ENV A=b", "-c", 'CMD ["sh"]', "-m", "msg",
                                 str(tar), "repo:tag")
        req = d.calls("POST", "images/create")[0]
    assert (status, out, err) == (0, "sha256:" + "a" * 64 + "\n", "")
    assert req.query == {"changes": ["ENV A=b", 'CMD ["sh"]'], "fromSrc": ["-"], "message": ["msg"],
                         "repo": ["repo:tag"]}
    assert req.headers["transfer-encoding"] == "chunked"
    assert req.body == b"x" * 3_000_000


def test_import_from_stdin_and_url(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"tar bytes")))
    with FakeDaemon({"POST /images/create": IMPORT_OK}) as d:
        assert berth(d, capsys, "image", "import", "-")[0] == 0
        assert berth(d, capsys, "import", "http://example.invalid/r.tar", "r")[0] == 0
        first, second = d.calls("POST", "images/create")
    assert first.body == b"tar bytes" and first.query == {"fromSrc": ["-"]}
    assert second.body == b"" and second.query == {"fromSrc": ["http://example.invalid/r.tar"], "repo": ["r"]}


def test_import_errors(tmp_path, capsys):
    with FakeDaemon({"POST /images/create": Reply(200, b'{"errorDetail":{"message":"bad tar"},"error":"bad tar"}\n')}) as d:
        f = tmp_path / "t.tar"
        f.write_bytes(b"x")
        assert berth(d, capsys, "import", str(f))[1:] == ("", "bad tar\n")
        assert berth(d, capsys, "import", str(tmp_path / "missing.tar"))[0] == 1
        assert berth(d, capsys, "import", str(f), "Bad:Ref")[2].startswith("invalid reference format")


class FakeBootstrap:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def describe(self, name):
        return bootstrap_mod.BootstrapImage("busybox", "latest", ['CMD ["sh"]'])

    def write(self, name, out, progress):
        progress("I: writing")
        for _ in range(4):
            out.write(b"t" * 700_000)
        if self.fail:
            raise RuntimeError("disk on fire")
        progress("I: done")
        return bootstrap_mod.BootstrapImage("busybox", "latest", ['CMD ["sh"]'])


def _bootstrap_daemon() -> FakeDaemon:
    return FakeDaemon({"POST /images/create": Reply(
        200, b'{"status":"Importing"}\r\n{"status":"sha256:' + b"b" * 64 + b'"}\r\n')})


def test_bootstrap_streams_through_a_pipe_when_metadata_is_known(monkeypatch, capsys):
    fake = FakeBootstrap()
    monkeypatch.setattr(bootstrap_mod, "describe", fake.describe, raising=False)
    monkeypatch.setattr(bootstrap_mod, "write_rootfs_tar", fake.write)
    with _bootstrap_daemon() as d:
        status, out, err = berth(d, capsys, "image", "bootstrap", "busybox")
        req = d.calls("POST", "images/create")[0]
    assert status == 0
    assert out == "sha256:" + "b" * 64 + "\n"
    assert "I: writing\n" in err and "Importing\n" in err
    assert req.query == {"changes": ['CMD ["sh"]'], "fromSrc": ["-"], "repo": ["busybox"], "tag": ["latest"]}
    assert req.body == b"t" * 2_800_000


def test_bootstrap_without_describe_spools_then_uploads(monkeypatch, capsys):
    fake = FakeBootstrap()
    monkeypatch.delattr(bootstrap_mod, "describe", raising=False)
    monkeypatch.setattr(bootstrap_mod, "write_rootfs_tar", fake.write)
    with _bootstrap_daemon() as d:
        status, out, _ = berth(d, capsys, "image", "bootstrap", "busybox")
        req = d.calls("POST", "images/create")[0]
    assert status == 0 and out == "sha256:" + "b" * 64 + "\n"
    assert req.query["changes"] == ['CMD ["sh"]'] and req.body == b"t" * 2_800_000


def test_bootstrap_failure_aborts_the_upload(monkeypatch, capsys):
    fake = FakeBootstrap(fail=True)
    monkeypatch.setattr(bootstrap_mod, "describe", fake.describe, raising=False)
    monkeypatch.setattr(bootstrap_mod, "write_rootfs_tar", fake.write)
    with _bootstrap_daemon() as d:
        status, out, err = berth(d, capsys, "image", "bootstrap", "busybox")
    assert status == 1 and out == ""
    assert err.endswith("Error: disk on fire\n")


# --- logs -------------------------------------------------------------------------------------


def _logs_daemon(tty: bool) -> FakeDaemon:
    cid = "c" * 64
    body = b"raw tty bytes\r\n" if tty else frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"out2\n")
    return FakeDaemon({
        "GET /containers/web/json": json_reply({"Id": cid, "Config": {"Tty": tty}}),
        f"GET /containers/{cid}/logs": Reply(200, body),
    })


def test_logs_demultiplexes_and_passes_options(capsys):
    with _logs_daemon(False) as d:
        status, out, err = berth(d, capsys, "logs", "-t", "-n", "5", "--since", "1700000000",
                                 "--until", "2024-01-01T00:00:00Z", "--details", "web")
        req = d.calls("GET", "logs")[0]
    assert (status, out, err) == (0, "out\nout2\n", "err\n")
    assert req.query == {"details": ["1"], "since": ["1700000000"], "stderr": ["1"], "stdout": ["1"],
                         "tail": ["5"], "timestamps": ["1"], "until": ["1704067200.000000000"]}


def test_logs_of_a_tty_container_are_raw(capsys):
    with _logs_daemon(True) as d:
        assert berth(d, capsys, "logs", "web")[1] == "raw tty bytes\r\n"


def test_logs_bad_since(capsys):
    with _logs_daemon(False) as d:
        assert berth(d, capsys, "logs", "--since", "bogus", "web") == (
            1, "", 'invalid value for "since": failed to parse value as time or duration: "bogus"\n')


# --- exec -------------------------------------------------------------------------------------


def _exec_daemon(exit_code: int) -> FakeDaemon:
    def start(req):
        req.conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + frame(1, b"hi\n"))
        return None

    return FakeDaemon({
        "GET /containers/c1/json": json_reply({"Id": "c1", "State": {"Running": True}}),
        "POST /containers/c1/exec": json_reply({"Id": "e1"}, 201),
        "POST /exec/e1/start": start,
        "GET /exec/e1/json": json_reply({"ExitCode": exit_code, "Running": False}),
    })


def test_exec_sends_dockers_body_and_exits_with_the_command_status(capsys):
    with _exec_daemon(7) as d:
        status, out, _ = berth(d, capsys, "exec", "-e", "A=1", "-u", "0", "-w", "/tmp", "c1", "sh", "-c", "x")
        create = d.calls("POST", "/exec$")[0]
        start = d.calls("POST", "start")[0]
    assert (status, out) == (7, "hi\n")
    assert create.body == (b'{"User":"0","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStderr":true,'
                           b'"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":["A=1"],"WorkingDir":"/tmp",'
                           b'"Cmd":["sh","-c","x"]}\n')
    assert start.json() == {"Detach": False, "Tty": False}
    assert start.headers["upgrade"] == "tcp"


def test_exec_detached(capsys):
    with FakeDaemon({
        "GET /containers/c1/json": json_reply({"Id": "c1"}),
        "POST /containers/c1/exec": json_reply({"Id": "e1"}, 201),
        "POST /exec/e1/start": Reply(200),
    }) as d:
        assert berth(d, capsys, "exec", "-d", "c1", "sleep", "1")[0] == 0
        assert d.calls("POST", "start")[0].json() == {"Detach": True, "Tty": False}


def test_exec_requires_a_command(capsys):
    with FakeDaemon() as d:
        assert berth(d, capsys, "exec", "c1")[0] == 1


# --- attach -------------------------------------------------------------------------------------


def test_attach_refuses_a_stopped_container(capsys):
    with FakeDaemon({
        "POST /containers/c1/wait": json_reply({"StatusCode": 0}),
        "GET /containers/c1/json": json_reply({"Id": "c1", "State": {"Running": False}, "Config": {}}),
    }) as d:
        assert berth(d, capsys, "attach", "c1") == (
            1, "", "You cannot attach to a stopped container, start it first\n")


def test_attach_streams_until_exit_and_returns_status(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def attach(req):
        req.conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                         + frame(1, b"attached\n"))
        return None

    with FakeDaemon({
        "POST /containers/c1/wait": json_reply({"StatusCode": 4}),
        "GET /containers/c1/json": json_reply({"Id": "c1", "State": {"Running": True},
                                               "Config": {"Tty": False, "OpenStdin": False}}),
        "POST /containers/c1/attach": attach,
    }) as d:
        status, out, _ = berth(d, capsys, "attach", "--no-stdin", "c1")
        query = d.calls("POST", "attach")[0].query
    assert (status, out) == (4, "attached\n")
    assert query == {"stderr": ["1"], "stdout": ["1"], "stream": ["1"]}
