"""A tiny fake Engine API daemon on a unix socket, for the CLI's unit tests.

It records every request and answers from a route table. Handlers can also
take the raw socket over (for `101 UPGRADED` streams), so tests control the
exact bytes and packet boundaries the client sees. No test lives here.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    conn: socket.socket | None = None
    rfile: Any = None

    @property
    def path(self) -> str:
        return re.sub(r"^/v[0-9.]+", "", urlsplit(self.target).path)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""

    def encode(self) -> bytes:
        body = self.body
        ctype = self.content_type
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            ctype = ctype or "application/json"
        if isinstance(body, str):
            body = body.encode()
        head = f"HTTP/1.1 {self.status} X\r\n"
        hdrs = dict(self.headers)
        if ctype:
            hdrs["Content-Type"] = ctype
        hdrs["Content-Length"] = str(len(body))
        head += "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        return head.encode() + b"\r\n" + body


def json_reply(obj: Any, status: int = 200) -> Reply:
    return Reply(status, obj)


def error_reply(status: int, message: str) -> Reply:
    return Reply(status, {"message": message})


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(data)) + data


Handler = Callable[[Request], "Reply | None"]


class FakeDaemon:
    """Serve `routes` ({"METHOD regex": handler-or-Reply}) on a temporary unix socket."""

    def __init__(self, routes: dict[str, Any] | None = None, api_version: str = "1.45") -> None:
        self.dir = tempfile.mkdtemp(prefix="berth-cli-test-")
        self.path = os.path.join(self.dir, "d.sock")
        self.host = f"unix://{self.path}"
        self.routes: dict[str, Any] = dict(routes or {})
        self.api_version = api_version
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def __enter__(self) -> "FakeDaemon":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass

    def calls(self, method: str | None = None, pattern: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r.method == method) and re.search(pattern, r.path)]

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        rfile = conn.makefile("rb")
        try:
            while True:
                line = rfile.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = rfile.readline().decode()
                    if h in ("\r\n", "\n", ""):
                        break
                    k, v = h.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = b""
                if "content-length" in headers:
                    body = rfile.read(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    while True:
                        size = int(rfile.readline().strip(), 16)
                        if size == 0:
                            rfile.readline()
                            break
                        body += rfile.read(size)
                        rfile.readline()
                req = Request(method, target, headers, body, conn, rfile)
                with self.lock:
                    self.requests.append(req)
                reply = self._route(req)
                if reply is None:  # the handler took the connection over
                    return
                conn.sendall(reply.encode())
        except (OSError, ValueError):
            return
        finally:
            try:
                rfile.close()
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass

    def _route(self, req: Request) -> Reply | None:
        if req.path == "/_ping":
            hdrs = {"Api-Version": self.api_version, "Ostype": "linux"}
            return Reply(200, b"" if req.method == "HEAD" else b"OK", hdrs)
        for key, handler in self.routes.items():
            method, pattern = key.split(" ", 1)
            if method == req.method and re.fullmatch(pattern, req.path):
                if isinstance(handler, Reply):
                    return handler
                return handler(req)
        return error_reply(404, "page not found")
