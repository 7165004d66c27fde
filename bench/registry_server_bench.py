"""`berth registry serve` throughput: blob GET MB/s and 100 concurrent pulls.

The bench re-runs itself under `unshare -n` (lo up), so the server and its
clients talk over a private loopback. It starts the registry on a fresh root,
pushes one large blob and a small image (config + 4 layers + manifest), then:

1. blob GET: one client downloads the large blob `--runs` times (recv_into a
   1 MiB buffer, discarding); reports each run's MB/s and the median.
   Target (issue 8): at least 500 MB/s over loopback.
2. 100 concurrent clients (threads, one connection each) each pull the image:
   GET the manifest, then every blob, checking every digest; reports the
   wall time and the number of errors. Target: zero errors.

With `--distribution` (and Debian's docker-registry installed) the same blob
GET runs against distribution 2.8 on the same machine, for a ratio.

    PYTHONPATH=src python3 bench/registry_server_bench.py [--size-mb 512] [--runs 5] [--clients 100]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.abspath(__file__)
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not come up")


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def push_blob(port: int, name: str, data: bytes) -> str:
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    status, h, body = request(port, "POST", "/v2/" + name + "/blobs/uploads/")
    if status != 202:
        raise SystemExit(f"upload start failed: {status} {body!r}")
    loc = h["Location"]
    path = loc[loc.index("/v2/"):]
    status, h, body = request(port, "PATCH", path, data, {"Content-Type": "application/octet-stream"})
    if status != 202:
        raise SystemExit(f"PATCH failed: {status} {body!r}")
    loc = h["Location"]  # distribution moves its _state along
    path = loc[loc.index("/v2/"):]
    sep = "&" if "?" in path else "?"
    status, _, body = request(port, "PUT", f"{path}{sep}digest={d}")
    if status != 201:
        raise SystemExit(f"PUT failed: {status} {body!r}")
    return d


def fetch_blob(port: int, name: str, digest: str, verify: bool) -> int:
    """Download a blob over a raw socket into a reused buffer; returns the byte count."""
    s = socket.create_connection(("127.0.0.1", port), 60)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.sendall(f"GET /v2/{name}/blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
              "Connection: close\r\n\r\n".encode())
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    head = b""
    while b"\r\n\r\n" not in head:
        n = s.recv_into(view)
        if not n:
            raise RuntimeError("connection closed in headers")
        head += bytes(view[:n])
    header, _, rest = head.partition(b"\r\n\r\n")
    if not header.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(header.split(b"\r\n")[0].decode())
    length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    h = hashlib.sha256(rest) if verify else None
    got = len(rest)
    while got < length:
        n = s.recv_into(view)
        if not n:
            break
        if h is not None:
            h.update(view[:n])
        got += n
    s.close()
    if got != length:
        raise RuntimeError(f"short body: {got} of {length}")
    if h is not None and "sha256:" + h.hexdigest() != digest:
        raise RuntimeError("digest mismatch")
    return got


def blob_get_runs(port: int, name: str, digest: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        n = fetch_blob(port, name, digest, verify=False)
        out.append(n / (time.perf_counter() - t) / 1e6)
    return out


def concurrent_pulls(port: int, name: str, tag: str, clients: int) -> tuple[float, int, list[str]]:
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def pull() -> None:
        try:
            start.wait()
            status, h, body = request(port, "GET", f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST})
            if status != 200:
                raise RuntimeError(f"manifest: {status}")
            doc = json.loads(body)
            for desc in [doc["config"], *doc["layers"]]:
                if fetch_blob(port, name, desc["digest"], verify=True) != desc["size"]:
                    raise RuntimeError("size")
        except Exception as exc:  # counted, reported
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=pull) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, len(errors), errors[:5]


def start_berth(root: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "berth.cli.main", "registry", "serve", "--addr",
                             f"127.0.0.1:{port}", "--root", root], env=dict(os.environ, PYTHONPATH=SRC),
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def start_distribution(root: str, port: int) -> subprocess.Popen:
    cfg = os.path.join(root, "config.yml")
    os.makedirs(root, exist_ok=True)
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {root}/data}}\n"
                f"http: {{addr: '127.0.0.1:{port}'}}\n")
    proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def inside(args: argparse.Namespace) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = tempfile.mkdtemp(prefix="regbench-", dir="/tmp")
    procs = []
    try:
        proc = start_berth(os.path.join(work, "berth"), 5000)
        procs.append(proc)
        big = os.urandom(args.size_mb << 20)
        t = time.perf_counter()
        d_big = push_blob(5000, "bench/big", big)
        print(f"berth blob upload {args.size_mb} MiB (one PATCH + PUT, sha256 verified): "
              f"{len(big) / (time.perf_counter() - t) / 1e6:.0f} MB/s")
        # the small image: config + 4 layers
        layers = [os.urandom(n) for n in (3 << 20, 1 << 20, 512 << 10, 64 << 10)]
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        cd = push_blob(5000, "bench/app", config)
        lds = [push_blob(5000, "bench/app", layer) for layer in layers]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                               "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                          "digest": cd, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                           "digest": d, "size": len(layer)} for d, layer in zip(lds, layers)]})
        status, _, body = request(5000, "PUT", "/v2/bench/app/manifests/v1", manifest.encode(),
                                  {"Content-Type": MANIFEST})
        assert status == 201, body
        fetch_blob(5000, "bench/big", d_big, verify=True)  # warm the page cache, check the content
        rates = blob_get_runs(5000, "bench/big", d_big, args.runs)
        print(f"berth blob GET {args.size_mb} MiB: " + ", ".join(f"{r:.0f}" for r in rates)
              + f" MB/s; median {statistics.median(rates):.0f} MB/s (target >= 500)")
        wall, nerr, sample = concurrent_pulls(5000, "bench/app", "v1", args.clients)
        image_mb = (sum(map(len, layers)) + len(config)) / 1e6
        print(f"berth {args.clients} concurrent pulls of a {image_mb:.1f} MB image (manifest + 5 blobs): "
              f"{wall:.2f} s, {args.clients * image_mb / wall:.0f} MB/s aggregate, {nerr} errors"
              + (f" e.g. {sample}" if sample else ""))
        if args.distribution and shutil.which("docker-registry"):
            dproc = start_distribution(os.path.join(work, "dist"), 5001)
            procs.append(dproc)
            t = time.perf_counter()
            d2 = push_blob(5001, "bench/big", big)
            print(f"distribution 2.8 blob upload {args.size_mb} MiB: {len(big) / (time.perf_counter() - t) / 1e6:.0f} MB/s")
            fetch_blob(5001, "bench/big", d2, verify=True)
            drates = blob_get_runs(5001, "bench/big", d2, args.runs)
            print(f"distribution 2.8 blob GET {args.size_mb} MiB: " + ", ".join(f"{r:.0f}" for r in drates)
                  + f" MB/s; median {statistics.median(drates):.0f} MB/s; berth/distribution = "
                  f"{statistics.median(rates) / statistics.median(drates):.2f}")
            cd2 = push_blob(5001, "bench/app", config)
            for layer in layers:
                push_blob(5001, "bench/app", layer)
            status, _, body = request(5001, "PUT", "/v2/bench/app/manifests/v1", manifest.encode(),
                                      {"Content-Type": MANIFEST})
            assert status == 201 and cd2 == cd, body
            dwall, dnerr, dsample = concurrent_pulls(5001, "bench/app", "v1", args.clients)
            print(f"distribution 2.8 {args.clients} concurrent pulls: {dwall:.2f} s, {dnerr} errors; "
                  f"berth/distribution time = {wall / dwall:.2f}")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--distribution", action="store_true", help="also measure Debian's docker-registry")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        inside(args)
        return
    argv = ["unshare", "-n", sys.executable, HERE, "--inside", "--size-mb", str(args.size_mb),
            "--runs", str(args.runs), "--clients", str(args.clients)] + (["--distribution"] if args.distribution else [])
    sys.exit(subprocess.run(argv, env=dict(os.environ, PYTHONPATH=SRC)).returncode)


if __name__ == "__main__":
    main()
