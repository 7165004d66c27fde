"""`run`'s sequence against a fake daemon: create, attach and wait before start,
stream output, exit with the container's status; and docker's error exit codes."""

from __future__ import annotations

import io
import os
import sys
import threading

import pytest

from berth.cli.cmd_run import start_error_status
from berth.cli.main import main
from test_cli_support import FakeDaemon, Reply, error_reply, frame, json_reply

CID = "f" * 64


class Engine:
    """Just enough of a daemon for run/start/attach: one container, scripted output."""

    def __init__(self, output: list[tuple[int, bytes]], status: int = 0, tty: bool = False,
                 echo_stdin: bool = False, warnings: list[str] | None = None) -> None:
        self.output = output
        self.status = status
        self.tty = tty
        self.echo_stdin = echo_stdin
        self.warnings = warnings or []
        self.started = threading.Event()
        self.output_done = threading.Event()
        self.stdin = b""

    def routes(self) -> dict:
        return {
            "POST /containers/create": lambda r: json_reply({"Id": CID, "Warnings": self.warnings}, 201),
            f"POST /containers/{CID}/attach": self.attach,
            f"POST /containers/{CID}/wait": self.wait,
            f"POST /containers/{CID}/start": self.start,
            f"POST /containers/{CID}/kill": Reply(204),
            f"POST /containers/{CID}/resize": Reply(200),
        }

    def start(self, req):
        self.started.set()
        return Reply(204)

    def attach(self, req):
        conn = req.conn
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
                     b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        self.started.wait(5)
        if self.echo_stdin:
            data = b""
            while True:
                chunk = req.rfile.read1(65536)
                if not chunk:
                    break
                data += chunk
            self.stdin = data
            conn.sendall(frame(1, data.upper()))
        for stream, data in self.output:
            conn.sendall(data if self.tty else frame(stream, data))
        self.output_done.set()
        return None

    def wait(self, req):
        conn = req.conn
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        self.started.wait(5)
        self.output_done.wait(5)
        body = b'{"StatusCode":%d,"Error":null}\n' % self.status
        conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        return None


def run(daemon: FakeDaemon, *args: str) -> int:
    return main(["-H", daemon.host, *args])


def test_run_attaches_and_waits_before_start_and_exits_with_the_status(capsys):
    eng = Engine([(1, b"out1\n"), (2, b"err1\n"), (1, b"out2\n")], status=3, warnings=["warn one"])
    with FakeDaemon(eng.routes()) as d:
        assert run(d, "run", "--rm", "busybox", "sh", "-c", "x") == 3
        order = [(r.method, r.path) for r in d.requests if r.path != "/_ping"]
        attach = d.calls("POST", "attach")[0]
        wait = d.calls("POST", "wait")[0]
    assert order == [
        ("POST", "/containers/create"),
        ("POST", f"/containers/{CID}/attach"),
        ("POST", f"/containers/{CID}/wait"),
        ("POST", f"/containers/{CID}/start"),
    ]
    assert attach.query == {"stream": ["1"], "stdout": ["1"], "stderr": ["1"]}
    assert wait.query == {"condition": ["removed"]}
    out = capsys.readouterr()
    assert out.out == "out1\nout2\n"
    assert out.err == "WARNING: warn one\nerr1\n"


def test_run_without_rm_waits_for_next_exit(capsys):
    eng = Engine([(1, b"x\n")])
    with FakeDaemon(eng.routes()) as d:
        assert run(d, "run", "busybox") == 0
        assert d.calls("POST", "wait")[0].query == {"condition": ["next-exit"]}


def test_run_detached_prints_the_full_id_and_does_not_attach(capsys):
    eng = Engine([])
    with FakeDaemon(eng.routes()) as d:
        assert run(d, "run", "-d", "busybox") == 0
        assert not d.calls("POST", "attach") and not d.calls("POST", "wait")
        body = d.calls("POST", "create")[0].json()
    assert capsys.readouterr().out == CID + "\n"
    assert not (body["AttachStdout"] or body["AttachStderr"] or body["AttachStdin"])


def test_run_tty_output_is_raw(capsys):
    eng = Engine([(1, b"\x01\x00\x00\x00raw\r\n")], tty=True)
    with FakeDaemon(eng.routes()) as d:
        assert run(d, "run", "-t", "busybox") == 0
    assert capsys.readouterr().out == "\x01\x00\x00\x00raw\r\n"


def test_run_interactive_forwards_stdin_and_half_closes(capsys, monkeypatch):
    eng = Engine([], echo_stdin=True)
    rfd, wfd = os.pipe()
    os.write(wfd, b"hello from stdin")
    os.close(wfd)
    stdin = os.fdopen(rfd, "rb")
    monkeypatch.setattr(sys, "stdin", stdin)
    try:
        with FakeDaemon(eng.routes()) as d:
            assert run(d, "run", "-i", "busybox", "cat") == 0
            attach = d.calls("POST", "attach")[0]
    finally:
        stdin.close()
    assert attach.query["stdin"] == ["1"]
    assert eng.stdin == b"hello from stdin"
    assert capsys.readouterr().out == "HELLO FROM STDIN"


def test_run_tty_with_stdin_needs_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with FakeDaemon(Engine([]).routes()) as d:
        assert run(d, "run", "-it", "busybox") == 1
        assert not d.calls("POST", "create")
    assert capsys.readouterr().err == "the input device is not a TTY\n"


def test_missing_image_is_pulled_then_create_retried(capsys):
    eng = Engine([(1, b"hi\n")])
    routes = eng.routes()
    created = []

    def create(req):
        created.append(req)
        if len(created) == 1:
            return error_reply(404, "No such image: busybox:latest")
        return json_reply({"Id": CID, "Warnings": []}, 201)

    routes["POST /containers/create"] = create
    routes["POST /images/create"] = Reply(200, b'{"status":"Pulling from library/busybox","id":"latest"}\n'
                                               b'{"status":"Status: Downloaded newer image for busybox:latest"}\n')
    with FakeDaemon(routes) as d:
        assert run(d, "run", "busybox") == 0
        pull = d.calls("POST", "^/images/create$")[0]
    assert pull.query == {"fromImage": ["docker.io/library/busybox"], "tag": ["latest"]}
    assert len(created) == 2
    err = capsys.readouterr().err
    assert err.startswith("Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\n")


def test_pull_failure_is_reported_like_docker(capsys):
    routes = {"POST /containers/create": error_reply(404, "No such image: nope:latest"),
              "POST /images/create": error_reply(404, "pull access denied for nope")}
    with FakeDaemon(routes) as d:
        assert run(d, "run", "nope") == 125
    assert capsys.readouterr().err == (
        "Unable to find image 'nope:latest' locally\n"
        "berth: Error response from daemon: pull access denied for nope\n\n"
        "Run 'berth run --help' for more information\n"
    )


def test_pull_never_does_not_pull(capsys):
    with FakeDaemon({"POST /containers/create": error_reply(404, "No such image: x:latest")}) as d:
        assert run(d, "run", "--pull", "never", "x") == 125
        assert not d.calls("POST", "^/images/create$")


@pytest.mark.parametrize(
    "message, status",
    [
        ('failed to create task: exec: "nope": executable file not found in $PATH', 127),
        ("open /x: no such file or directory", 127),
        ("exec /etc: permission denied", 126),
        ("/x: is a directory", 126),
        ("something else broke", 125),
    ],
)
def test_start_failures_map_to_dockers_exit_codes(message, status, capsys):
    eng = Engine([])
    routes = eng.routes()
    routes[f"POST /containers/{CID}/start"] = error_reply(500, message)
    with FakeDaemon(routes) as d:
        assert run(d, "run", "busybox") == status
    assert capsys.readouterr().err == (
        f"berth: Error response from daemon: {message}\n\nRun 'berth run --help' for more information\n"
    )


def test_exit_code_mapping_function():
    assert start_error_status("Error response from daemon: executable file not found") == 127
    assert start_error_status("permission denied") == 126
    assert start_error_status("Cannot connect to the Berth daemon") == 125


def test_create_failure_in_run_is_125(capsys):
    with FakeDaemon({"POST /containers/create": error_reply(500, "boom")}) as d:
        assert run(d, "run", "busybox") == 125
    assert capsys.readouterr().err == "berth: Error response from daemon: boom\n\nRun 'berth run --help' for more information\n"


def test_create_prints_id_and_plain_errors(capsys):
    with FakeDaemon({"POST /containers/create": json_reply({"Id": CID, "Warnings": None}, 201)}) as d:
        assert run(d, "create", "--name", "web", "busybox") == 0
        assert d.calls("POST", "create")[0].query == {"name": ["web"]}
    assert capsys.readouterr().out == CID + "\n"
    with FakeDaemon({"POST /containers/create": error_reply(409, "Conflict. The container name is in use")}) as d:
        assert run(d, "create", "busybox") == 1
    assert capsys.readouterr().err == "Error response from daemon: Conflict. The container name is in use\n"


def test_cidfile_is_written_and_refused_when_present(tmp_path, capsys):
    cid = tmp_path / "cid"
    with FakeDaemon({"POST /containers/create": json_reply({"Id": CID}, 201)}) as d:
        assert run(d, "create", "--cidfile", str(cid), "busybox") == 0
        assert cid.read_text() == CID
        assert run(d, "create", "--cidfile", str(cid), "busybox") == 1
    assert "container ID file found" in capsys.readouterr().err


def test_wait_error_gives_125(capsys):
    eng = Engine([(1, b"x")])
    routes = eng.routes()
    routes[f"POST /containers/{CID}/wait"] = error_reply(404, "No such container")
    with FakeDaemon(routes) as d:
        eng.started.set()
        assert run(d, "run", "busybox") == 125
    assert "error waiting for container: No such container" in capsys.readouterr().err


def test_start_attach_streams_and_returns_status(capsys):
    eng = Engine([(1, b"again\n")], status=2)
    routes = eng.routes()
    routes["GET /containers/web/json"] = json_reply(
        {"Id": CID, "Config": {"Tty": False, "OpenStdin": False}, "HostConfig": {"AutoRemove": False}})
    with FakeDaemon(routes) as d:
        assert run(d, "start", "-a", "web") == 2
    assert capsys.readouterr().out == "again\n"


def test_signals_are_forwarded_to_the_container(tmp_path):
    """--sig-proxy (default): SIGINT/SIGTERM to berth become POST /containers/{id}/kill."""
    import signal
    import subprocess
    import time

    eng = Engine([(1, b"bye\n")])
    routes = eng.routes()
    killed = threading.Event()

    def kill(req):
        if req.query.get("signal") == ["TERM"]:
            killed.set()
        return Reply(204)

    def attach(req):
        req.conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                         + frame(1, b"ready\n"))
        killed.wait(10)
        req.conn.sendall(frame(1, b"bye\n"))
        eng.output_done.set()
        return None

    routes[f"POST /containers/{CID}/kill"] = kill
    routes[f"POST /containers/{CID}/attach"] = attach
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with FakeDaemon(routes) as d:
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from berth.cli.main import main; sys.exit(main())",
                                 "-H", d.host, "run", "busybox"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=env)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        kills = [r.query["signal"][0] for r in d.calls("POST", "kill")]
    assert proc.returncode == 0
    assert out == b"bye\n"
    assert kills == ["INT", "TERM"]
