"""Fuzz the registry server's request handling (issue 10): random methods, paths built from
the API's own segments and hostile ones, headers (Range, Content-Range, Accept,
Authorization) and bodies, sent to a real `berth registry` app served on a unix socket
in this process. Every answer must be a spec status (never 500) and the server must live."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
from dataclasses import dataclass, field

from hypothesis import strategies as st

SEGMENTS = ["v2", "", "library", "busybox", "team", "app", "a", "A", "..", "%2e%2e", "%2F", ".", "-", "_", "__",
            "blobs", "uploads", "manifests", "tags", "list", "_catalog", "referrers", "latest", "v1.0",
            "sha256:" + "0" * 64, "sha256:" + "a" * 63, "sha512:" + "b" * 128, "sha256:xyz", "token",
            "x" * 300, "ü", "%00", "%", "?", "#"]
QUERIES = ["", "?n=1", "?n=-1", "?n=abc", "?last=zz", "?digest=sha256:" + "0" * 64, "?digest=bad",
           "?mount=sha256:" + "0" * 64 + "&from=library/busybox", "?mount=x&from=../..", "?artifactType=x",
           "?service=berth&scope=repository:a:pull", "?_state=abc"]
HEADERS = {
    "Range": ["bytes=0-0", "bytes=5-1", "bytes=-1", "bytes=0-", "bytes=abc", "0-10", "bytes=0-99999999999999999999"],
    "Content-Range": ["0-0", "5-1", "0-999999", "abc", "-1-2", "0-"],
    "Content-Type": ["application/octet-stream", "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.v2+json",
                     "application/vnd.oci.image.index.v1+json", "text/plain", ""],
    "Accept": ["*/*", "application/vnd.oci.image.index.v1+json", "garbage", ""],
    "Authorization": ["Basic Zm9vOmJhcg==", "Basic !!!", "Bearer abc.def.ghi", "Bearer", "Digest x", ""],
}
BODIES = [b"", b"{}", b"[]", b"null", b'{"schemaVersion":2}', b'{"schemaVersion":2,"mediaType":'
          b'"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:' + b"0" * 64 +
          b'","size":2,"mediaType":"application/vnd.oci.image.config.v1+json"},"layers":[]}', b"\xff\xfe", b"x" * 5000]

requests_ = st.builds(
    lambda method, segs, query, headers, body: (method, "/" + "/".join(segs) + query, headers, body),
    st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "BREW"]),
    st.lists(st.one_of(st.sampled_from(SEGMENTS), st.text(alphabet="abz09._-/%", max_size=8)), min_size=1, max_size=8),
    st.sampled_from(QUERIES),
    st.dictionaries(st.sampled_from(sorted(HEADERS)), st.text(max_size=3), max_size=3).flatmap(
        lambda d: st.fixed_dictionaries({k: st.sampled_from(HEADERS[k]) for k in d})),
    st.one_of(st.sampled_from(BODIES), st.binary(max_size=200)),
)


@dataclass
class RegistryUnderTest:
    sock_path: str
    root: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    statuses: dict[int, int] = field(default_factory=dict)

    def send(self, method: str, target: str, headers: dict[str, str], body: bytes) -> int:
        lines = [f"{method} {target} HTTP/1.1", "Host: fuzz", "Connection: close", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if v]
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        try:
            s.connect(self.sock_path)
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else -1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return status

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def start_registry() -> RegistryUnderTest:
    from aiohttp import web

    from berth.registry.app import Registry, make_app
    from berth.registry.config import RegistryConfig

    root = tempfile.mkdtemp(prefix="regfuzz-")
    sock_path = os.path.join(root, "reg.sock")
    cfg = RegistryConfig(root=os.path.join(root, "data"), delete_enabled=True, relative_urls=True)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(make_app(Registry(cfg)), access_log=None)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.UnixSite(runner, sock_path).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(20)
    return RegistryUnderTest(sock_path, root, loop, thread)
