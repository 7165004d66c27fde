"""The CLI's own HTTP/1.1 client at the byte level: framing, streaming, keep-alive, upgrade.

Each handler here writes the exact bytes (and packet boundaries) a daemon could
send, so every way HTTP/1.1 can frame a response is pinned, not just aiohttp's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from berth.cli.client import APIClient, ProtocolError, path_escape
from berth.cli.command import CliError
from test_cli_support import FakeDaemon, Reply, frame, json_reply


def _raw(*pieces: bytes, pause: float = 0.005, close: bool = False):
    """A handler that answers with `pieces`, sent one by one (separate reads for the client)."""
    def handler(req):
        for piece in pieces:
            req.conn.sendall(piece)
            time.sleep(pause)
        if close:
            return None  # the fake daemon closes the connection
        return _KEEP
    return handler


class _Keep(Reply):
    """Tell the fake daemon the handler answered by itself and the connection stays open."""

    def encode(self) -> bytes:
        return b""


_KEEP = _Keep()


def _counting(d: FakeDaemon) -> list:
    accepted: list = []
    orig = d._handle

    def handle(conn):
        accepted.append(conn)
        orig(conn)

    d._handle = handle
    return accepted


def test_head_split_byte_by_byte_and_bare_newlines():
    head = b"HTTP/1.1 200 OK\nContent-Type: application/json\nX-Folded: a\n  b\nContent-Length: 8\n\n"
    pieces = [head[i:i + 1] for i in range(len(head))] + [b'{"a":', b"1}\n"]
    with FakeDaemon({"GET /x": _raw(*pieces, pause=0)}) as d:
        resp = APIClient(d.host).request("GET", "/x")
        assert resp.status == 200 and resp.reason == "OK"
        assert resp.header("Content-Type") == "application/json"
        assert resp.headers["x-folded"] == "a b"
        assert resp.json() == {"a": 1}


def test_chunked_with_extensions_trailers_and_odd_boundaries():
    body = (b"5;name=val\r\nhello\r\n"
            b"7\r\n, world\r\n"
            b"A\r\n0123456789\r\n"
            b"0\r\nX-Trailer: yes\r\n\r\n")
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    pieces = [head + body[:3]] + [body[i:i + 4] for i in range(3, len(body), 4)]
    with FakeDaemon({"GET /x": _raw(*pieces), "GET /y": json_reply([1])}) as d:
        accepted = _counting(d)
        c = APIClient(d.host)
        assert c.request("GET", "/x").read() == b"hello, world0123456789"
        assert c.get("/y") == [1]  # the connection was left at the right byte for reuse
        assert len(accepted) == 1


def test_chunked_body_is_streamed_as_it_arrives():
    more = threading.Event()

    def handler(req):
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")
        more.wait(5)
        req.conn.sendall(b"7\r\nsecond\n\r\n0\r\n\r\n")
        return _KEEP

    with FakeDaemon({"GET /logs": handler}) as d:
        chunks = APIClient(d.host).request("GET", "/logs").iter_raw()
        assert next(chunks) == b"first\n"
        assert not more.is_set()  # got the first piece while the daemon still held the rest
        more.set()
        assert b"".join(chunks) == b"second\n"


def test_large_content_length_body_in_pieces():
    payload = bytes(range(256)) * 4096  # 1 MiB
    with FakeDaemon({"GET /blob": Reply(200, payload)}) as d:
        resp = APIClient(d.host).request("GET", "/blob")
        pieces = list(resp.iter_raw())
        assert len(pieces) > 1 and b"".join(pieces) == payload


def test_body_until_close_and_connection_close_are_not_reused():
    routes = {
        "GET /eof": _raw(b"HTTP/1.1 200 OK\r\n\r\n", b"all of ", b"it", close=True),
        "GET /close": Reply(200, b"{}", {"Connection": "close"}),
        "GET /http10": _raw(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n[]", close=True),
        "GET /y": json_reply([]),
    }
    with FakeDaemon(routes) as d:
        accepted = _counting(d)
        c = APIClient(d.host)
        c.negotiate()
        assert c.request("GET", "/eof").read() == b"all of it"
        assert c.get("/y") == []
        assert c.get("/close") == {}
        assert c.get("/http10") == []
        assert c.get("/y") == []
        assert len(accepted) == 4  # ping+/eof, /y+/close, /http10, /y


def test_head_response_has_no_body_even_with_a_length():
    routes = {
        "HEAD /x": _raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nApi-Version: 1.45\r\n\r\n"),
        "GET /y": json_reply({"ok": True}),
    }
    with FakeDaemon(routes) as d:
        accepted = _counting(d)
        c = APIClient(d.host)
        resp = c.request("HEAD", "/x")
        assert resp.read() == b"" and resp.header("api-version") == "1.45"
        assert c.get("/y") == {"ok": True}
        assert len(accepted) == 1


def test_no_content_and_interim_responses():
    routes = {
        "DELETE /c": _raw(b"HTTP/1.1 204 No Content\r\n\r\n"),
        "POST /p": _raw(b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\n",
                        b'{"Id":"x"}'[:9]),
    }
    with FakeDaemon(routes) as d:
        c = APIClient(d.host)
        assert c.delete("/c") is None
        resp = c.request("POST", "/p")
        assert resp.status == 201 and resp.read() == b'{"Id":"x"'


def test_truncated_bodies_and_garbage_are_errors_not_hangs():
    routes = {
        "GET /short": _raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close=True),
        "GET /chunk": _raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", close=True),
        "GET /garbage": _raw(b"SSH-2.0-OpenSSH\r\n\r\n", close=True),
        "GET /badchunk": _raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", close=True),
    }
    with FakeDaemon(routes) as d:
        c = APIClient(d.host)
        with pytest.raises(CliError, match="unexpected EOF"):
            c.request("GET", "/short").read()
        with pytest.raises(CliError, match="unexpected EOF"):
            c.request("GET", "/chunk").read()
        with pytest.raises(ProtocolError, match="protocol error from the daemon: malformed status line"):
            c.request("GET", "/garbage")
        with pytest.raises(ProtocolError, match="bad chunk header"):
            c.request("GET", "/badchunk").read()


def test_stale_keep_alive_connection_is_retried_once():
    routes = {"GET /once": _raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", close=True),
              "GET /y": json_reply([2])}
    with FakeDaemon(routes) as d:
        accepted = _counting(d)
        c = APIClient(d.host)
        assert c.get("/once") == []  # kept idle by us, closed by the daemon
        time.sleep(0.05)
        assert c.get("/y") == [2]
        assert len(accepted) == 2


def test_hijack_with_the_head_split_and_stream_bytes_in_its_last_read():
    head = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")

    def attach(req):
        req.conn.sendall(head[:20])
        time.sleep(0.01)
        req.conn.sendall(head[20:] + frame(1, b"one\n") + frame(2, b"tw"))
        time.sleep(0.01)
        req.conn.sendall(b"o\n")
        return None

    with FakeDaemon({"POST /containers/c/attach": attach}) as d:
        hj = APIClient(d.host).hijack("/containers/c/attach", {"stream": True, "stdout": True})
        assert hj.pending.startswith(frame(1, b"one\n"))
        data = hj.pending
        hj.pending = b""
        while True:
            chunk = hj.recv()
            if not chunk:
                break
            data += chunk
        hj.close()
    assert data == frame(1, b"one\n") + frame(2, b"tw") + b"o\n"


def test_hijack_answered_without_upgrade_reads_the_body():
    with FakeDaemon({"POST /exec/e/start": Reply(200, frame(1, b"plain\n"))}) as d:
        hj = APIClient(d.host).hijack("/exec/e/start", json_body={"Detach": False})
        assert hj.sock is None
        assert hj.recv() == frame(1, b"plain\n")
        assert hj.recv() == b""


def test_iter_json_with_utf8_split_inside_a_character():
    text = '{"status":"ünïcode"}\n{"status":"done"}\n'.encode()
    cut = text.index("ü".encode()) + 1
    with FakeDaemon({"POST /images/create": _raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(text), text[:cut], text[cut:])}) as d:
        resp = APIClient(d.host).request("POST", "/images/create")
        assert list(resp.iter_json()) == [{"status": "ünïcode"}, {"status": "done"}]


def test_request_bytes_on_the_wire():
    seen = {}

    def capture(req):
        seen["req"] = req
        return json_reply({})

    with FakeDaemon({"POST /containers/create": capture}) as d:
        APIClient(d.host).post("/containers/create", {"name": "a b"}, {"Image": "é"})
    req = seen["req"]
    assert req.target == "/v1.45/containers/create?name=a+b"
    assert req.headers["host"] == "api.moby.localhost"
    assert req.headers["user-agent"].startswith("Berth-Client/")
    assert req.headers["content-type"] == "application/json"
    assert req.body == '{"Image":"é"}\n'.encode()
    assert int(req.headers["content-length"]) == len(req.body)


def test_paths_are_escaped_like_gos_url_package():
    assert path_escape("/containers/web/json") == "/containers/web/json"
    assert path_escape("/images/localhost:5000/a/b@sha256:00/json") == "/images/localhost:5000/a/b@sha256:00/json"
    assert path_escape("/containers/a b/json") == "/containers/a%20b/json"
    assert path_escape("/x/50%?#é") == "/x/50%25%3F%23%C3%A9"
    with FakeDaemon({"GET /containers/.*/json": json_reply({})}) as d:
        APIClient(d.host).get("/containers/a b/json")
        assert d.calls("GET")[-1].target == "/v1.45/containers/a%20b/json"


def test_stray_line_ends_before_a_status_line():
    with FakeDaemon({"GET /x": _raw(b"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")}) as d:
        assert APIClient(d.host).get("/x") == []


def test_writing_to_a_hung_up_daemon_is_an_error_not_sigpipe():
    code = (
        "import _signal, _socket\n"
        "_signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # as main() does for the console\n"
        "from berth.cli.client import Connection, Hijacked\n"
        "a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
        "b.close()\n"
        "for send in (Connection(a).send, Hijacked(a).sendall):\n"
        "    try:\n"
        "        send(b'x' * 100000)\n"
        "    except BrokenPipeError:\n"
        "        print('EPIPE')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert (out.returncode, out.stdout) == (0, "EPIPE\nEPIPE\n")
