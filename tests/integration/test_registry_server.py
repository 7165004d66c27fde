"""`berth registry serve` driven over raw HTTP (and skopeo) inside a private network namespace.

The servers run in a sandbox's namespaces (no berthd: the registry does not need
it). The test process reaches them through sockets created by a thread that
joined the sandbox's network namespace (a socket keeps the namespace it was
created in), so nothing listens on the host's network.
"""

from __future__ import annotations

import base64
import ctypes
import gzip
import hashlib
import http.client
import json
import os
import queue
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
from harness import SRC, Sandbox

pytestmark = pytest.mark.integration

CLONE_NEWNET = 0x40000000
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class NetnsDialer:
    """Creates sockets inside another network namespace (setns on one thread only)."""

    def __init__(self, ns_pid: int) -> None:
        self.requests: queue.Queue = queue.Queue()
        fd = os.open(f"/proc/{ns_pid}/ns/net", os.O_RDONLY)
        ready: queue.Queue = queue.Queue()

        def run() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            ready.put(libc.setns(fd, CLONE_NEWNET))
            while True:
                reply = self.requests.get()
                if reply is None:
                    return
                reply.put(socket.socket(socket.AF_INET, socket.SOCK_STREAM))

        threading.Thread(target=run, daemon=True).start()
        assert ready.get(timeout=5) == 0
        os.close(fd)

    def socket(self) -> socket.socket:
        reply: queue.Queue = queue.Queue()
        self.requests.put(reply)
        return reply.get(timeout=5)

    def connect(self, port: int, timeout: float = 10) -> socket.socket:
        s = self.socket()
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        return s


class Server:
    """One `berth registry serve` process in the sandbox."""

    def __init__(self, sb: Sandbox, dialer: NetnsDialer, port: int, root: str, *flags: str,
                 tls: bool = False) -> None:
        self.sb, self.dialer, self.port, self.root, self.tls = sb, dialer, port, root, tls
        self.log = os.path.join(sb.dir, f"registry-{port}.log")
        argv = [sys.executable, "-m", "berth.cli.main", "registry", "serve",
                "--addr", f"127.0.0.1:{port}", *(["--root", root] if root else []), *flags]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(sb.nsenter_argv(argv), stdout=log, stderr=log,
                                         env=dict(os.environ, PYTHONPATH=SRC), start_new_session=True)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("registry exited:\n" + self.log_text())
            try:
                self.dialer.connect(port, 1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("registry did not come up:\n" + self.log_text())
                time.sleep(0.05)

    def log_text(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()[-4000:]

    def connection(self) -> http.client.HTTPConnection:
        dialer, port, tls = self.dialer, self.port, self.tls

        class Conn(http.client.HTTPSConnection if tls else http.client.HTTPConnection):  # type: ignore[misc]
            def connect(self) -> None:
                s = dialer.connect(port)
                if tls:
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
                self.sock = s

        return Conn("127.0.0.1", port, timeout=30)

    def req(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        kids = [int(p) for p in open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read().split()] \
            if self.proc.poll() is None else []
        for pid in kids:
            os.kill(pid, 15)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error_code(body: bytes) -> str:
    return json.loads(body)["errors"][0]["code"]


def push_blob(srv: Server, name: str, data: bytes, headers: dict | None = None) -> str:
    d = digest(data)
    status, h, body = srv.req("POST", f"/v2/{name}/blobs/uploads/?digest={d}", data,
                              {"Content-Type": "application/octet-stream", **(headers or {})})
    assert status == 201, body
    return d


def image_manifest(srv: Server, name: str, media_type: str = DOCKER_MANIFEST, layer: bytes = b"layer-bytes",
                   extra: dict | None = None) -> bytes:
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
                        ).encode()
    cd, ld = push_blob(srv, name, config), push_blob(srv, name, layer)
    cfg_type = "application/vnd.docker.container.image.v1+json" if media_type == DOCKER_MANIFEST \
        else "application/vnd.oci.image.config.v1+json"
    layer_type = "application/vnd.docker.image.rootfs.diff.tar.gzip" if media_type == DOCKER_MANIFEST \
        else "application/vnd.oci.image.layer.v1.tar+gzip"
    doc = {"schemaVersion": 2, "mediaType": media_type,
           "config": {"mediaType": cfg_type, "digest": cd, "size": len(config)},
           "layers": [{"mediaType": layer_type, "digest": ld, "size": len(layer)}], **(extra or {})}
    return json.dumps(doc, indent=3).encode()


def put_manifest(srv: Server, name: str, ref: str, data: bytes, media_type: str,
                 headers: dict | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    return srv.req("PUT", f"/v2/{name}/manifests/{ref}", data, {"Content-Type": media_type, **(headers or {})})


@pytest.fixture(scope="module")
def env():
    sb = Sandbox()
    try:
        yield sb, NetnsDialer(sb.ns_pid)
    finally:
        sb.close()


@pytest.fixture(scope="module")
def srv(env):
    sb, dialer = env
    root = os.path.join(sb.dir, "reg")
    s = Server(sb, dialer, 5000, root, "--delete-enabled")
    yield s
    s.stop()


# ---------------------------------------------------------------- base, blobs
def test_base_endpoint_answers_with_the_api_version(srv):
    status, h, body = srv.req("GET", "/v2/")
    assert status == 200 and json.loads(body) == {}
    assert h["Docker-Distribution-API-Version"] == "registry/2.0"
    assert srv.req("GET", "/v2")[0] == 200


def test_monolithic_upload_then_get_head_and_range(srv):
    data = os.urandom(100_000)
    d = push_blob(srv, "mono/app", data)
    status, h, body = srv.req("HEAD", f"/v2/mono/app/blobs/{d}")
    assert status == 200 and h["Content-Length"] == "100000" and h["Docker-Content-Digest"] == d
    status, h, body = srv.req("GET", f"/v2/mono/app/blobs/{d}")
    assert status == 200 and body == data and h["Content-Type"] == "application/octet-stream"
    status, h, body = srv.req("GET", f"/v2/mono/app/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert status == 206 and body == data[10:20] and h["Content-Range"] == "bytes 10-19/100000"
    # an interrupted pull resumes with an open-ended range
    status, h, body = srv.req("GET", f"/v2/mono/app/blobs/{d}", headers={"Range": "bytes=99990-"})
    assert status == 206 and body == data[99990:] and h["Docker-Content-Digest"] == d
    assert srv.req("GET", f"/v2/mono/app/blobs/{d}", headers={"Range": "bytes=200000-"})[0] == 416
    # another repository does not see it without a mount
    status, _, body = srv.req("GET", f"/v2/other/app/blobs/{d}")
    assert status == 404 and error_code(body) == "BLOB_UNKNOWN"
    with open(os.path.join(srv.root, "blobs", "sha256", d[7:9], d[7:]), "rb") as f:
        assert f.read() == data


def test_chunked_upload_interrupted_client_resumes_from_the_reported_offset(srv):
    data = os.urandom(300_000)
    status, h, _ = srv.req("POST", "/v2/chunky/blobs/uploads/")
    assert status == 202 and h["Range"] == "0-0" and h["Docker-Upload-UUID"]
    path = h["Location"].split("127.0.0.1:5000", 1)[1]
    status, h, _ = srv.req("PATCH", path, data[:100_000], {"Content-Range": "0-99999",
                                                          "Content-Type": "application/octet-stream"})
    assert status == 202 and h["Range"] == "0-99999"
    # out of order: 416 and nothing appended
    status, h, body = srv.req("PATCH", path, data[200_000:], {"Content-Range": "200000-299999"})
    assert status == 416 and error_code(body) == "RANGE_INVALID" and h["Range"] == "0-99999"
    # a client that stops in the middle of a chunk
    s = srv.dialer.connect(srv.port)
    s.sendall(f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Length: 100000\r\n"
              "Content-Type: application/octet-stream\r\n\r\n".encode() + data[100_000:150_000])
    time.sleep(0.2)
    s.close()
    deadline = time.monotonic() + 5
    while True:
        status, h, _ = srv.req("GET", path)
        assert status == 204
        if h["Range"] == "0-149999" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert h["Range"] == "0-149999"
    offset = int(h["Range"].split("-")[1]) + 1
    status, h, _ = srv.req("PATCH", path, data[offset:], {"Content-Range": f"{offset}-{len(data) - 1}"})
    assert status == 202 and h["Range"] == f"0-{len(data) - 1}"
    d = digest(data)
    status, h, _ = srv.req("PUT", f"{path}?digest={d}")
    assert status == 201 and h["Docker-Content-Digest"] == d
    assert h["Location"].endswith(f"/v2/chunky/blobs/{d}")
    assert srv.req("GET", f"/v2/chunky/blobs/{d}")[2] == data
    assert srv.req("GET", path)[0] == 404  # the session is gone


def test_streamed_patch_without_content_range_as_docker_sends_it(srv):
    """docker's pusher streams a layer with chunked transfer coding and no Content-Range."""
    parts = [os.urandom(70_000) for _ in range(5)]
    status, h, _ = srv.req("POST", "/v2/streamed/blobs/uploads/")
    path = h["Location"].split("127.0.0.1:5000", 1)[1]
    conn = srv.connection()
    conn.request("PATCH", path, body=iter(parts), headers={"Content-Type": "application/octet-stream"},
                 encode_chunked=True)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 202 and resp.headers["Range"] == f"0-{350_000 - 1}"
    d = digest(b"".join(parts))
    assert srv.req("PUT", f"{path}?digest={d}")[0] == 201
    assert srv.req("GET", f"/v2/streamed/blobs/{d}")[2] == b"".join(parts)


def test_digest_mismatch_is_rejected_and_nothing_is_stored(srv):
    data = b"the real content"
    wrong = digest(b"something else")
    status, h, _ = srv.req("POST", "/v2/bad/digest/blobs/uploads/")
    path = h["Location"].split("127.0.0.1:5000", 1)[1]
    srv.req("PATCH", path, data)
    status, _, body = srv.req("PUT", f"{path}?digest={wrong}")
    assert status == 400 and error_code(body) == "DIGEST_INVALID"
    for d in (wrong, digest(data)):
        assert srv.req("HEAD", f"/v2/bad/digest/blobs/{d}")[0] == 404
        assert not os.path.exists(os.path.join(srv.root, "blobs", "sha256", d[7:9], d[7:]))
    status, _, body = srv.req("GET", path)
    assert status == 404 and error_code(body) == "BLOB_UPLOAD_UNKNOWN"
    # monolithic too
    status, _, body = srv.req("POST", f"/v2/bad/digest/blobs/uploads/?digest={wrong}", data)
    assert status == 400 and error_code(body) == "DIGEST_INVALID"
    assert srv.req("HEAD", f"/v2/bad/digest/blobs/{wrong}")[0] == 404
    # a malformed digest
    status, _, body = srv.req("POST", "/v2/bad/digest/blobs/uploads/?digest=sha256:xyz", data)
    assert status == 400 and error_code(body) == "DIGEST_INVALID"


def test_cancelled_upload_is_gone(srv):
    status, h, _ = srv.req("POST", "/v2/cancel/blobs/uploads/")
    path = h["Location"].split("127.0.0.1:5000", 1)[1]
    srv.req("PATCH", path, b"abc")
    assert srv.req("DELETE", path)[0] == 204
    assert srv.req("GET", path)[0] == 404
    assert not os.path.exists(os.path.join(srv.root, "uploads", h["Docker-Upload-UUID"]))


def test_stale_upload_is_resumable_then_purged_after_the_timeout(env):
    sb, dialer = env
    srv = Server(sb, dialer, 5006, os.path.join(sb.dir, "purge"), "--upload-purge-age", "1500ms",
                 "--upload-purge-interval", "300ms")
    try:
        status, h, _ = srv.req("POST", "/v2/stale/blobs/uploads/")
        path = h["Location"].split("127.0.0.1:5006", 1)[1]
        assert srv.req("PATCH", path, b"partial")[0] == 202
        assert srv.req("GET", path)[1]["Range"] == "0-6"
        updir = os.path.join(srv.root, "uploads", h["Docker-Upload-UUID"])
        assert os.path.isdir(updir)
        deadline = time.monotonic() + 10
        while os.path.exists(updir) and time.monotonic() < deadline:
            time.sleep(0.1)
        status, _, body = srv.req("GET", path)
        assert status == 404 and error_code(body) == "BLOB_UPLOAD_UNKNOWN"
        assert not os.path.exists(updir)
    finally:
        srv.stop()


def test_upload_survives_a_server_restart(env):
    """The running hash is lost with the process: the server re-reads the partial upload."""
    sb, dialer = env
    root = os.path.join(sb.dir, "restart")
    data = os.urandom(200_000)
    s = Server(sb, dialer, 5007, root)
    try:
        status, h, _ = s.req("POST", "/v2/restart/blobs/uploads/")
        path = h["Location"].split("127.0.0.1:5007", 1)[1]
        assert s.req("PATCH", path, data[:120_000], {"Content-Range": "0-119999"})[0] == 202
    finally:
        s.stop()
    s = Server(sb, dialer, 5007, root)
    try:
        status, h, _ = s.req("GET", path)
        assert status == 204 and h["Range"] == "0-119999"
        assert s.req("PATCH", path, data[120_000:], {"Content-Range": f"120000-{len(data) - 1}"})[0] == 202
        status, h, _ = s.req("PUT", f"{path}?digest={digest(data)}")
        assert status == 201 and s.req("GET", f"/v2/restart/blobs/{digest(data)}")[2] == data
        # sha512 digests are verified too
        d512 = "sha512:" + hashlib.sha512(data).hexdigest()
        status, h, _ = s.req("POST", f"/v2/restart/blobs/uploads/?digest={d512}", data)
        assert status == 201 and h["Docker-Content-Digest"] == d512
        assert s.req("GET", f"/v2/restart/blobs/{d512}")[2] == data
    finally:
        s.stop()


def test_cross_repository_mount(srv):
    d = push_blob(srv, "mount/src", b"shared layer")
    status, h, _ = srv.req("POST", f"/v2/mount/dst/blobs/uploads/?mount={d}&from=mount/src")
    assert status == 201 and h["Docker-Content-Digest"] == d and h["Location"].endswith(f"/v2/mount/dst/blobs/{d}")
    assert srv.req("GET", f"/v2/mount/dst/blobs/{d}")[2] == b"shared layer"
    # unknown blob (or source): a normal upload session instead
    missing = digest(b"nope")
    for query in (f"mount={missing}&from=mount/src", f"mount={d}&from=Bad..Name", f"mount=sha256:bad&from=mount/src",
                  f"mount={d}"):
        status, h, _ = srv.req("POST", f"/v2/mount/dst2/blobs/uploads/?{query}")
        assert status == 202 and "/blobs/uploads/" in h["Location"], query
    assert srv.req("HEAD", f"/v2/mount/dst2/blobs/{d}")[0] == 404


def test_blob_delete(srv):
    d = push_blob(srv, "del/blob", b"to delete")
    assert srv.req("DELETE", f"/v2/del/blob/blobs/{d}")[0] == 202
    assert srv.req("HEAD", f"/v2/del/blob/blobs/{d}")[0] == 404
    status, _, body = srv.req("DELETE", f"/v2/del/blob/blobs/{d}")
    assert status == 404 and error_code(body) == "BLOB_UNKNOWN"


# ---------------------------------------------------------------- manifests
def test_manifest_put_get_by_tag_and_digest_keeps_the_exact_bytes(srv):
    data = image_manifest(srv, "team/app")
    status, h, body = put_manifest(srv, "team/app", "v1", data, DOCKER_MANIFEST)
    assert status == 201, body
    d = digest(data)
    assert h["Docker-Content-Digest"] == d and h["Location"].endswith(f"/v2/team/app/manifests/{d}")
    for ref in ("v1", d):
        status, h, body = srv.req("GET", f"/v2/team/app/manifests/{ref}", headers={"Accept": DOCKER_MANIFEST})
        assert status == 200 and body == data
        assert h["Content-Type"] == DOCKER_MANIFEST and h["Docker-Content-Digest"] == d
        status, h, body = srv.req("HEAD", f"/v2/team/app/manifests/{ref}")
        assert status == 200 and h["Content-Length"] == str(len(data)) and body == b""
    # put by digest: the digest must match the bytes
    status, _, body = put_manifest(srv, "team/app", digest(b"x"), data, DOCKER_MANIFEST)
    assert status == 400 and error_code(body) == "DIGEST_INVALID"
    assert put_manifest(srv, "team/app", d, data, DOCKER_MANIFEST)[0] == 201
    status, _, body = srv.req("GET", "/v2/team/app/manifests/nope")
    assert status == 404 and error_code(body) == "MANIFEST_UNKNOWN"


def test_manifest_referencing_missing_blobs_is_rejected(srv):
    data = image_manifest(srv, "team/broken")
    doc = json.loads(data)
    for blob in (b"never pushed", b"nor this"):
        doc["layers"].append({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                              "digest": digest(blob), "size": len(blob)})
    status, _, body = put_manifest(srv, "team/broken", "v1", json.dumps(doc).encode(), DOCKER_MANIFEST)
    assert status == 400 and error_code(body) == "MANIFEST_BLOB_UNKNOWN"
    assert [e["detail"]["digest"] for e in json.loads(body)["errors"]] == [digest(b"never pushed"),
                                                                          digest(b"nor this")]
    assert srv.req("GET", "/v2/team/broken/manifests/v1")[0] == 404
    # wrong size, bad JSON, mismatching mediaType
    doc = json.loads(data)
    doc["layers"][0]["size"] += 1
    status, _, body = put_manifest(srv, "team/broken", "v1", json.dumps(doc).encode(), DOCKER_MANIFEST)
    assert status == 400 and error_code(body) == "MANIFEST_INVALID"
    status, _, body = put_manifest(srv, "team/broken", "v1", b"{not json", DOCKER_MANIFEST)
    assert status == 400 and error_code(body) == "MANIFEST_INVALID"
    status, _, body = put_manifest(srv, "team/broken", "v1", data, OCI_MANIFEST)
    assert status == 400 and error_code(body) == "MANIFEST_INVALID"
    status, _, body = put_manifest(srv, "team/broken", "bad:tag!", data, DOCKER_MANIFEST)
    assert status == 400 and error_code(body) == "DIGEST_INVALID"
    assert srv.req("GET", "/v2/team/broken/tags/list")[0] == 404


def test_manifest_lists_indexes_and_accept_negotiation(srv):
    child = image_manifest(srv, "multi/app")
    assert put_manifest(srv, "multi/app", digest(child), child, DOCKER_MANIFEST)[0] == 201
    lst = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": digest(child), "size": len(child),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    assert put_manifest(srv, "multi/app", "list", lst, DOCKER_LIST)[0] == 201
    # a client that accepts lists gets the list, one that does not gets the linux/amd64 image
    status, h, body = srv.req("GET", "/v2/multi/app/manifests/list",
                              headers={"Accept": f"{DOCKER_MANIFEST}, {DOCKER_LIST}"})
    assert body == lst and h["Content-Type"] == DOCKER_LIST
    status, h, body = srv.req("GET", "/v2/multi/app/manifests/list", headers={"Accept": DOCKER_MANIFEST})
    assert status == 200 and body == child and h["Docker-Content-Digest"] == digest(child)
    # no Accept: the stored type
    assert srv.req("GET", "/v2/multi/app/manifests/list")[1]["Content-Type"] == DOCKER_LIST
    # OCI manifest + index
    oci = image_manifest(srv, "multi/app", OCI_MANIFEST, b"oci layer")
    assert put_manifest(srv, "multi/app", "oci", oci, OCI_MANIFEST)[0] == 201
    status, _, body = srv.req("GET", "/v2/multi/app/manifests/oci", headers={"Accept": DOCKER_MANIFEST})
    assert status == 404 and error_code(body) == "MANIFEST_UNKNOWN"
    assert json.loads(body)["errors"][0]["message"] == \
        "OCI manifest found, but accept header does not support OCI manifests"
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest(oci), "size": len(oci)}]}).encode()
    assert put_manifest(srv, "multi/app", "index", index, OCI_INDEX)[0] == 201
    assert srv.req("GET", "/v2/multi/app/manifests/index", headers={"Accept": OCI_INDEX})[2] == index
    status, _, body = srv.req("GET", "/v2/multi/app/manifests/index", headers={"Accept": OCI_MANIFEST})
    assert status == 404 and error_code(body) == "MANIFEST_UNKNOWN"  # as distribution 2.8: no fallback
    assert srv.req("GET", "/v2/multi/app/manifests/index")[1]["Content-Type"] == OCI_INDEX
    # an index naming a manifest the repository does not hold
    bad = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest(b"ghost"), "size": 5}]}).encode()
    status, _, body = put_manifest(srv, "multi/app", "bad", bad, OCI_INDEX)
    assert status == 400 and error_code(body) == "MANIFEST_BLOB_UNKNOWN"
    # buildkit's cache index lists blobs: accepted when the repository holds them
    cache_blob = push_blob(srv, "multi/app", b"cache layer")
    cache = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": cache_blob, "size": 11}]}).encode()
    assert put_manifest(srv, "multi/app", "cache", cache, OCI_INDEX)[0] == 201


def test_manifest_delete_by_digest_and_tag(srv):
    data = image_manifest(srv, "del/man")
    d = digest(data)
    put_manifest(srv, "del/man", "a", data, DOCKER_MANIFEST)
    put_manifest(srv, "del/man", "b", data, DOCKER_MANIFEST)
    assert srv.req("DELETE", "/v2/del/man/manifests/a")[0] == 202
    assert srv.req("GET", "/v2/del/man/manifests/a")[0] == 404
    assert srv.req("GET", "/v2/del/man/manifests/b")[0] == 200
    assert srv.req("DELETE", f"/v2/del/man/manifests/{d}")[0] == 202
    assert srv.req("GET", f"/v2/del/man/manifests/{d}")[0] == 404
    assert srv.req("GET", "/v2/del/man/manifests/b")[0] == 404


def test_tags_and_catalog_paginate_with_link_headers(srv):
    data = image_manifest(srv, "page/app")
    for tag in ("c", "a", "b"):
        assert put_manifest(srv, "page/app", tag, data, DOCKER_MANIFEST)[0] == 201
    status, h, body = srv.req("GET", "/v2/page/app/tags/list")
    assert json.loads(body) == {"name": "page/app", "tags": ["a", "b", "c"]} and "Link" not in h
    status, h, body = srv.req("GET", "/v2/page/app/tags/list?n=2")
    assert json.loads(body)["tags"] == ["a", "b"]
    assert h["Link"] == '</v2/page/app/tags/list?last=b&n=2>; rel="next"'
    status, h, body = srv.req("GET", "/v2/page/app/tags/list?n=2&last=b")
    assert json.loads(body)["tags"] == ["c"] and "Link" not in h
    status, _, body = srv.req("GET", "/v2/page/app/tags/list?n=x")
    assert status == 400
    status, _, body = srv.req("GET", "/v2/never/pushed/tags/list")
    assert status == 404 and error_code(body) == "NAME_UNKNOWN"
    repos = json.loads(srv.req("GET", "/v2/_catalog")[2])["repositories"]
    assert "page/app" in repos and "team/app" in repos and repos == sorted(repos)
    status, h, body = srv.req("GET", "/v2/_catalog?n=1")
    first = json.loads(body)["repositories"]
    assert len(first) == 1 and h["Link"] == f'</v2/_catalog?last={first[0].replace("/", "%2F")}&n=1>; rel="next"'
    status, h, body = srv.req("GET", f"/v2/_catalog?n=1&last={first[0]}")
    assert json.loads(body)["repositories"] == [repos[1]]


def test_referrers_api_and_oci_subject_header(srv):
    subject = image_manifest(srv, "ref/app", OCI_MANIFEST, b"subject layer")
    assert put_manifest(srv, "ref/app", "v1", subject, OCI_MANIFEST)[0] == 201
    sd = digest(subject)
    empty = push_blob(srv, "ref/app", b"{}")
    sig = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.signature",
                      "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                      "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": sd, "size": len(subject)},
                      "annotations": {"org.example": "yes"}}).encode()
    status, h, _ = put_manifest(srv, "ref/app", digest(sig), sig, OCI_MANIFEST)
    assert status == 201 and h["OCI-Subject"] == sd
    status, h, body = srv.req("GET", f"/v2/ref/app/referrers/{sd}")
    assert status == 200 and h["Content-Type"] == OCI_INDEX
    doc = json.loads(body)
    assert doc["manifests"] == [{"mediaType": OCI_MANIFEST, "digest": digest(sig), "size": len(sig),
                                 "artifactType": "application/x.signature",
                                 "annotations": {"org.example": "yes"}}]
    status, h, body = srv.req("GET", f"/v2/ref/app/referrers/{sd}?artifactType=application/x.other")
    assert json.loads(body)["manifests"] == [] and h["OCI-Filters-Applied"] == "artifactType"
    assert json.loads(srv.req("GET", f"/v2/ref/app/referrers/{digest(b'none')}")[2])["manifests"] == []
    assert srv.req("GET", "/v2/ref/app/referrers/sha256:bad")[0] == 400


@pytest.mark.parametrize("path", [
    "/v2/UPPER/tags/list",
    "/v2/a/../b/tags/list",
    "/v2/../../etc/tags/list",
    "/v2/a/%2e%2e/b/manifests/latest",
    "/v2/a%2fb/tags/list",
    "/v2/a//b/blobs/uploads/",
    "/v2/-a/manifests/latest",
    "/v2/" + "a" * 256 + "/tags/list",
])
def test_bad_repository_names_are_refused_before_touching_storage(srv, path):
    status, _, body = srv.req("POST" if path.endswith("uploads/") else "GET", path)
    assert status == 400 and error_code(body) == "NAME_INVALID"
    assert not os.path.exists(os.path.join(os.path.dirname(srv.root), "b"))
    assert not os.path.exists(os.path.join(srv.root, "b"))


def test_deletion_disabled_read_only_mode_and_gc_lock(env):
    sb, dialer = env
    s = Server(sb, dialer, 5003, os.path.join(sb.dir, "nodelete"))
    try:
        d = push_blob(s, "x", b"keep")
        status, _, body = s.req("DELETE", f"/v2/x/blobs/{d}")
        assert status == 405 and error_code(body) == "UNSUPPORTED"
        assert s.req("HEAD", f"/v2/x/blobs/{d}")[0] == 200
        # gc refuses to run beside a live server
        gc = subprocess.run([sys.executable, "-m", "berth.cli.main", "registry", "gc", "--root", s.root],
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC))
        assert gc.returncode == 1 and "in use by a running" in gc.stderr
        assert s.req("HEAD", f"/v2/x/blobs/{d}")[0] == 200
    finally:
        s.stop()
    # read-only: pulls work, writes are refused, and gc may run beside it
    ro = Server(sb, dialer, 5005, s.root, "--read-only")
    try:
        assert ro.req("GET", f"/v2/x/blobs/{d}")[2] == b"keep"
        status, _, body = ro.req("POST", "/v2/x/blobs/uploads/")
        assert status == 405 and error_code(body) == "UNSUPPORTED"
        gc = subprocess.run([sys.executable, "-m", "berth.cli.main", "registry", "gc", "--root", s.root],
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC))
        assert gc.returncode == 0 and f"blob eligible for deletion: {d}" in gc.stdout, gc.stderr
        assert ro.req("HEAD", f"/v2/x/blobs/{d}")[0] == 404
    finally:
        ro.stop()


# ---------------------------------------------------------------- auth
def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def htpasswd(env):
    import bcrypt

    sb, _ = env
    path = os.path.join(sb.dir, "htpasswd")
    with open(path, "w") as f:
        for user, pw in (("alice", "wonder"), ("reader", "readonly")):
            f.write(f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    return path


def test_htpasswd_auth_from_a_config_file(env, htpasswd):
    sb, dialer = env
    cfg = os.path.join(sb.dir, "basic.yml")
    with open(cfg, "w") as f:
        f.write(f"""version: 0.1
storage:
  filesystem: {{rootdirectory: {sb.dir}/basic}}
  delete: {{enabled: true}}
auth:
  htpasswd: {{realm: Team Registry, path: {htpasswd}}}
  acl:
    - {{account: alice, name: "*", actions: [pull, push]}}
    - {{account: reader, name: "team/*", actions: [pull]}}
""")
    s = Server(sb, dialer, 5001, "", "--config", cfg)
    try:
        status, h, body = s.req("GET", "/v2/")
        assert status == 401 and h["WWW-Authenticate"] == 'Basic realm="Team Registry"'
        assert error_code(body) == "UNAUTHORIZED"
        status, h, _ = s.req("GET", "/v2/", headers=_basic("alice", "wrong"))
        assert status == 401 and h["WWW-Authenticate"] == 'Basic realm="Team Registry"'
        assert s.req("GET", "/v2/", headers=_basic("nobody", "x"))[0] == 401
        assert s.req("GET", "/v2/", headers=_basic("alice", "wonder"))[0] == 200
        d = push_blob(s, "team/app", b"alice's layer", _basic("alice", "wonder"))
        assert s.req("GET", f"/v2/team/app/blobs/{d}", headers=_basic("reader", "readonly"))[0] == 200
        status, _, body = s.req("POST", "/v2/team/app/blobs/uploads/", headers=_basic("reader", "readonly"))
        assert status == 403 and error_code(body) == "DENIED"
        assert s.req("GET", f"/v2/other/blobs/{d}", headers=_basic("reader", "readonly"))[0] == 403
    finally:
        s.stop()


def test_bearer_token_auth_with_scopes(env, htpasswd):
    sb, dialer = env
    cfg = os.path.join(sb.dir, "token.yml")
    with open(cfg, "w") as f:
        f.write(f"""auth:
  htpasswd: {{path: {htpasswd}}}
  token: {{realm: "http://127.0.0.1:5002/token", service: test-registry, expiration: 60s}}
  acl:
    - {{account: alice, name: "*", actions: ["*"]}}
    - {{account: reader, name: "team/*", actions: [pull]}}
""")
    s = Server(sb, dialer, 5002, os.path.join(sb.dir, "tokenroot"), "--config", cfg)
    try:
        status, h, _ = s.req("GET", "/v2/")
        assert status == 401
        assert h["WWW-Authenticate"] == 'Bearer realm="http://127.0.0.1:5002/token",service="test-registry"'
        status, h, _ = s.req("GET", "/v2/team/app/tags/list")
        assert h["WWW-Authenticate"] == ('Bearer realm="http://127.0.0.1:5002/token",service="test-registry",'
                                         'scope="repository:team/app:pull"')
        status, h, _ = s.req("POST", "/v2/team/app/blobs/uploads/")
        assert 'scope="repository:team/app:pull,push"' in h["WWW-Authenticate"]
        # the token endpoint checks credentials
        tok_path = "/token?service=test-registry&scope=repository:team/app:pull,push"
        status, h, _ = s.req("GET", tok_path, headers=_basic("alice", "bad"))
        assert status == 401
        status, _, body = s.req("GET", tok_path, headers=_basic("alice", "wonder"))
        doc = json.loads(body)
        assert status == 200 and doc["token"] == doc["access_token"] and doc["expires_in"] == 60
        alice = {"Authorization": f"Bearer {doc['token']}"}
        d = push_blob(s, "team/app", b"layer", alice)
        # the reader asks for push but is granted pull only: push is denied
        status, _, body = s.req("GET", tok_path, headers=_basic("reader", "readonly"))
        reader = {"Authorization": f"Bearer {json.loads(body)['token']}"}
        assert s.req("GET", f"/v2/team/app/blobs/{d}", headers=reader)[0] == 200
        status, _, body = s.req("POST", "/v2/team/app/blobs/uploads/", headers=reader)
        assert status == 403 and error_code(body) == "DENIED"
        # a token for one repository does not open another; a forged token is refused
        status, h, _ = s.req("GET", "/v2/other/tags/list", headers=alice)
        assert status == 403
        forged = doc["token"][:-4] + ("AAAA" if not doc["token"].endswith("AAAA") else "BBBB")
        assert s.req("GET", "/v2/", headers={"Authorization": f"Bearer {forged}"})[0] == 401
        # login-style: GET /v2/ with a scope-less token
        status, _, body = s.req("GET", "/token?service=test-registry", headers=_basic("alice", "wonder"))
        assert s.req("GET", "/v2/", headers={"Authorization": f"Bearer {json.loads(body)['token']}"})[0] == 200
    finally:
        s.stop()


def test_tls(env):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    sb, dialer = env
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(sb.dir, "tls.crt"), os.path.join(sb.dir, "tls.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    s = Server(sb, dialer, 5443, os.path.join(sb.dir, "tlsroot"), "--tls-cert", cert_path, "--tls-key", key_path,
               tls=True)
    try:
        assert s.req("GET", "/v2/")[0] == 200
        d = push_blob(s, "secure", b"over tls")
        status, h, _ = s.req("HEAD", f"/v2/secure/blobs/{d}")
        assert status == 200
        status, h, _ = s.req("POST", "/v2/secure/blobs/uploads/")
        assert h["Location"].startswith("https://")
    finally:
        s.stop()


# ---------------------------------------------------------------- skopeo
def _oci_layout(path: str, rootfs_tar: str) -> None:
    """An OCI image layout holding the busybox rootfs as one gzip layer."""
    with open(rootfs_tar, "rb") as f:
        raw = f.read()
    layer = gzip.compress(raw, compresslevel=1, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [digest(raw)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": digest(layer), "size": len(layer)}]}).encode()
    os.makedirs(os.path.join(path, "blobs", "sha256"))
    for blob in (layer, config, manifest):
        with open(os.path.join(path, "blobs", "sha256", digest(blob)[7:]), "wb") as f:
            f.write(blob)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
             "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_copies_an_image_in_and_back_out_byte_identical(srv, busybox_tar):
    src, back = os.path.join(srv.sb.dir, "oci-src"), os.path.join(srv.sb.dir, "oci-back")
    _oci_layout(src, busybox_tar)
    for argv in (["copy", "--dest-tls-verify=false", f"oci:{src}:latest", "docker://127.0.0.1:5000/team/busybox:1"],
                 ["copy", "--src-tls-verify=false", "docker://127.0.0.1:5000/team/busybox:1", f"oci:{back}:latest"]):
        r = srv.sb.nsenter(["skopeo", "--insecure-policy", *argv], timeout=120)
        assert r.returncode == 0, r.stderr + srv.log_text()

    def blobs(p: str) -> dict[str, bytes]:
        d = os.path.join(p, "blobs", "sha256")
        return {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}

    assert blobs(src) == blobs(back)
    r = srv.sb.nsenter(["skopeo", "inspect", "--tls-verify=false", "docker://127.0.0.1:5000/team/busybox:1"])
    assert r.returncode == 0 and json.loads(r.stdout)["Layers"]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_follows_the_bearer_token_dance(env, htpasswd, busybox_tar):
    sb, dialer = env
    cfg = os.path.join(sb.dir, "token-skopeo.yml")
    with open(cfg, "w") as f:
        f.write(f"""auth:
  htpasswd: {{path: {htpasswd}}}
  token: {{realm: "http://127.0.0.1:5004/token", service: skopeo-test}}
  acl:
    - {{account: alice, name: "*", actions: [pull, push]}}
    - {{account: reader, name: "*", actions: [pull]}}
""")
    s = Server(sb, dialer, 5004, os.path.join(sb.dir, "token-skopeo"), "--config", cfg)
    src = os.path.join(sb.dir, "oci-token")
    try:
        _oci_layout(src, busybox_tar)
        dest = "docker://127.0.0.1:5004/team/app:v1"
        r = sb.nsenter(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                        "--dest-creds", "reader:readonly", f"oci:{src}:latest", dest], timeout=120)
        assert r.returncode != 0 and "denied" in r.stderr.lower(), r.stderr
        r = sb.nsenter(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                        "--dest-creds", "alice:wrong", f"oci:{src}:latest", dest], timeout=120)
        assert r.returncode != 0 and ("unauthorized" in r.stderr.lower() or "401" in r.stderr), r.stderr
        r = sb.nsenter(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                        "--dest-creds", "alice:wonder", f"oci:{src}:latest", dest], timeout=120)
        assert r.returncode == 0, r.stderr + s.log_text()
        r = sb.nsenter(["skopeo", "inspect", "--tls-verify=false", "--creds", "reader:readonly", dest])
        assert r.returncode == 0 and json.loads(r.stdout)["Layers"], r.stderr
    finally:
        s.stop()


def test_methods_a_route_does_not_have_are_unsupported(srv):
    data = image_manifest(srv, "verbs/app")
    put_manifest(srv, "verbs/app", "v1", data, DOCKER_MANIFEST)
    for method, path in (("POST", "/v2/verbs/app/manifests/v1"), ("PUT", f"/v2/verbs/app/blobs/{digest(data)}"),
                         ("DELETE", "/v2/verbs/app/tags/list"), ("GET", "/v2/verbs/app/blobs/uploads/")):
        status, h, body = srv.req(method, path)
        assert status == 405 and error_code(body) == "UNSUPPORTED" and h["Allow"], (method, path)
