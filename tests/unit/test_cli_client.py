"""The API client: negotiation, errors, uploads and the attach hijack."""

from __future__ import annotations

import io
import threading
import time

import pytest

from berth.cli.client import APIClient, encode_query, query_escape
from berth.cli.command import APIError, ConnectError
from berth.cli.main import main
from test_cli_support import FakeDaemon, Reply, error_reply, frame, json_reply


def test_query_encoding_matches_go():
    assert query_escape("a b/c:*") == "a+b%2Fc%3A%2A"
    assert encode_query({"stream": True, "stdout": True, "b": None, "changes": ["ENV A=b", "CMD [\"sh\"]"]}) == (
        "changes=ENV+A%3Db&changes=CMD+%5B%22sh%22%5D&stdout=1&stream=1"
    )


@pytest.mark.parametrize("server, used", [("1.45", "1.45"), ("1.41", "1.41"), ("1.50", "1.45"), ("", "1.24")])
def test_version_negotiation_uses_the_lower_version(server, used):
    with FakeDaemon({"GET /version": json_reply({"ok": 1})}, api_version=server) as d:
        c = APIClient(d.host)
        assert c.get("/version") == {"ok": 1}
        assert d.calls("GET", "/version")[0].target == f"/v{used}/version"
        assert d.calls("HEAD", "/_ping")


def test_get_ping_when_head_is_refused():
    with FakeDaemon() as d:
        d._route_orig = d._route

        def route(req):
            if req.method == "HEAD":
                return Reply(405, b"")
            return d._route_orig(req)

        d._route = route
        c = APIClient(d.host)
        assert c.negotiate() == "1.45"
        assert [r.method for r in d.calls(None, "_ping")] == ["HEAD", "GET"]


def test_error_messages_from_json_text_or_status():
    routes = {
        "GET /a": error_reply(404, "No such container: x"),
        "GET /b": Reply(500, "plain failure\n", content_type="text/plain"),
        "GET /c": Reply(409, b""),
    }
    with FakeDaemon(routes) as d:
        c = APIClient(d.host)
        with pytest.raises(APIError) as e:
            c.get("/a")
        assert e.value.message == "Error response from daemon: No such container: x"
        assert e.value.not_found
        with pytest.raises(APIError, match="plain failure"):
            c.get("/b")
        with pytest.raises(APIError, match="409 X"):
            c.get("/c")


def test_connection_failure_message_and_status(capsys, tmp_path):
    host = f"unix://{tmp_path}/nothing.sock"
    with pytest.raises(ConnectError) as e:
        APIClient(host).get("/version")
    assert e.value.message == f"Cannot connect to the Berth daemon at {host}. Is the berth daemon running?"
    assert main(["-H", host, "ps"]) == 1
    assert capsys.readouterr().err == f"Cannot connect to the Berth daemon at {host}. Is the berth daemon running?\n"


def test_host_from_environment(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    monkeypatch.setenv("BERTH_HOST", f"unix://{tmp_path}/berth.sock")
    assert main(["ps"]) == 1
    assert f"unix://{tmp_path}/berth.sock" in capsys.readouterr().err
    monkeypatch.delenv("BERTH_HOST")
    assert main(["ps"]) == 1
    assert f"unix://{tmp_path}/docker.sock" in capsys.readouterr().err


def test_keep_alive_reuses_one_connection():
    accepted = []
    with FakeDaemon({"GET /x": json_reply([])}) as d:
        orig = d._handle

        def handle(conn):
            accepted.append(conn)
            orig(conn)

        d._handle = handle
        c = APIClient(d.host)
        for _ in range(5):
            c.get("/x")
        assert len(accepted) == 1


def test_chunked_upload_streams_the_body():
    with FakeDaemon({"POST /images/create": json_reply({"status": "sha256:abc"})}) as d:
        c = APIClient(d.host)
        chunks = [b"a" * 100000, b"b" * 5, b"c"]
        resp = c.request("POST", "/images/create", {"fromSrc": "-"}, body=iter(chunks))
        assert list(resp.iter_json()) == [{"status": "sha256:abc"}]
        req = d.calls("POST", "images/create")[0]
        assert req.headers.get("transfer-encoding") == "chunked"
        assert req.body == b"".join(chunks)


def test_iter_json_handles_values_split_across_chunks():
    def handler(req):
        conn = req.conn
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"status":"a"}\r\n{"sta', b'tus":"b"}', b"\r\n"):
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.01)
        conn.sendall(b"0\r\n\r\n")
        return None

    with FakeDaemon({"POST /images/create": handler}) as d:
        resp = APIClient(d.host).request("POST", "/images/create")
        assert list(resp.iter_json()) == [{"status": "a"}, {"status": "b"}]


def test_hijack_keeps_bytes_that_arrive_with_the_101():
    received = {}

    def attach(req):
        req.conn.sendall(
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + frame(1, b"early\n")
        )
        data = b""
        while True:
            chunk = req.rfile.read1(65536)
            if not chunk:
                break
            data += chunk
        received["stdin"] = data
        req.conn.sendall(frame(2, b"late\n"))
        return None

    with FakeDaemon({"POST /containers/c/attach": attach}) as d:
        c = APIClient(d.host)
        hj = c.hijack("/containers/c/attach", {"stream": True, "stdin": True})
        assert hj.pending == frame(1, b"early\n")
        req = d.calls("POST", "attach")[0]
        assert req.headers["connection"] == "Upgrade" and req.headers["upgrade"] == "tcp"
        hj.sendall(b"input")
        hj.close_write()
        data = b""
        while True:
            chunk = hj.recv()
            if not chunk:
                break
            data += chunk
        hj.close()
    assert data == frame(1, b"early\n") + frame(2, b"late\n")
    assert received["stdin"] == b"input"


def test_hijack_error_status_is_an_api_error():
    with FakeDaemon({"POST /containers/c/attach": error_reply(409, "container c is not running")}) as d:
        with pytest.raises(APIError, match="container c is not running"):
            APIClient(d.host).hijack("/containers/c/attach", {"stream": True})


def test_request_early_does_not_hang_on_a_daemon_that_holds_headers_back():
    release = threading.Event()

    def slow_wait(req):
        release.wait(5)
        req.conn.sendall(json_reply({"StatusCode": 3}).encode())
        return None

    with FakeDaemon({"POST /containers/c/wait": slow_wait}) as d:
        c = APIClient(d.host)
        started = time.monotonic()
        pending = c.request_early("POST", "/containers/c/wait", header_timeout=0.2)
        assert time.monotonic() - started < 2
        release.set()
        assert pending.response().json() == {"StatusCode": 3}


def test_text_stream_adapter_for_in_process_callers():
    from berth.cli.session import binary

    text = io.StringIO()
    binary(text).write("é".encode())
    assert text.getvalue() == "é"
