"""Registries for the pull/push and save/load tests, run inside a test sandbox's
network namespace: Debian's docker-registry (distribution 2.8), optionally with
htpasswd auth, and a small proxy in front of it that can corrupt a blob or
drop the connection after N bytes, logging what it sent."""

from __future__ import annotations

import os
import subprocess
import sys
import time

PROXY_SOURCE = r'''
import http.client, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
UP = ("127.0.0.1", int(sys.argv[2]))
CONTROL, LOG = sys.argv[3], sys.argv[4]
lock = threading.Lock()

def control():
    try:
        with open(CONTROL) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def _go(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        up = http.client.HTTPConnection(*UP)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        up.request(self.command, self.path, body=body, headers=hdrs)
        r = up.getresponse()
        data = r.read()
        ctl = control()
        blob = "/blobs/sha256:" in self.path and self.command == "GET" and r.status in (200, 206)
        cut = None
        if blob:
            digest = self.path.rsplit("/", 1)[1]
            if ctl.get("corrupt") == digest and data:
                data = data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]
            if ctl.get("cut") == digest:
                cut = int(ctl.get("after", 0))
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        sent = data if cut is None else data[:cut]
        if self.command != "HEAD":
            if blob and ctl.get("slow") == digest:
                import time
                for i in range(0, len(sent), 65536):
                    try:
                        self.wfile.write(sent[i:i + 65536])
                        self.wfile.flush()
                    except OSError:
                        sent = sent[:i]
                        break
                    time.sleep(0.03)
            else:
                self.wfile.write(sent)
                self.wfile.flush()
        if blob:
            with lock, open(LOG, "a") as f:
                f.write(json.dumps({"path": self.path, "range": self.headers.get("Range"),
                                    "status": r.status, "sent": len(sent)}) + "\n")
        if cut is not None:
            self.close_connection = True
            import socket
            self.connection.shutdown(socket.SHUT_RDWR)
    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _go

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def _wait_port(sb, port: int, timeout: float = 10, host: str = "127.0.0.1") -> None:
    probe = ("import socket,sys,time\n"
             f"end=time.time()+{timeout}\n"
             "while time.time()<end:\n"
             "    try:\n"
             f"        socket.create_connection(('{host}',{port}),0.2).close(); sys.exit(0)\n"
             "    except OSError: time.sleep(0.05)\n"
             "sys.exit(1)\n")
    r = sb.nsenter([sys.executable, "-c", probe])
    if r.returncode != 0:
        raise RuntimeError(f"nothing listens on {host}:{port} in the sandbox")


def start_registry(sb, port: int, htpasswd: tuple[str, str] | None = None, host: str = "127.0.0.1",
                   tls: tuple[str, str] | None = None) -> str:
    """docker-registry serve on HOST:PORT inside the sandbox; returns its storage dir."""
    root = os.path.join(sb.dir, f"registry-{host}-{port}")
    os.makedirs(root)
    auth = ""
    if htpasswd is not None:
        import bcrypt

        user, password = htpasswd
        with open(os.path.join(root, "htpasswd"), "w") as f:
            f.write(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()}\n")
        auth = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {root}/htpasswd\n"
    with open(os.path.join(root, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {root}/data\n  delete:\n    enabled: true\n"
                f"http:\n  addr: {host}:{port}\n"
                + (f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else "") + auth)
    log = open(os.path.join(root, "log"), "wb")
    subprocess.Popen(sb.nsenter_argv(["docker-registry", "serve", os.path.join(root, "config.yml")]),
                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    _wait_port(sb, port, host=host)
    return root


def start_proxy(sb, port: int, upstream: int) -> tuple[str, str]:
    """The fault-injecting proxy; returns (control file, log file)."""
    script = os.path.join(sb.dir, "proxy.py")
    with open(script, "w") as f:
        f.write(PROXY_SOURCE)
    control = os.path.join(sb.dir, f"proxy-{port}.json")
    logf = os.path.join(sb.dir, f"proxy-{port}.log")
    with open(control, "w") as f:
        f.write("{}")
    subprocess.Popen(sb.nsenter_argv([sys.executable, script, str(port), str(upstream), control, logf]),
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    _wait_port(sb, port)
    return control, logf


def random_layer_tar(path: str, size: int, seed: int = 1) -> None:
    """A rootfs tar with one file of random bytes (incompressible)."""
    import io
    import random
    import tarfile

    rnd = random.Random(seed)
    data = rnd.randbytes(size)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("data.bin")
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 1700000000
        tf.addfile(info, io.BytesIO(data))


def client_env(sb, home: str) -> dict:
    """The sandbox's client environment with a private HOME, DOCKER_CONFIG and BERTH_CONFIG."""
    env = sb.env()
    env.update(HOME=home, DOCKER_CONFIG=os.path.join(home, ".docker"), BERTH_CONFIG=os.path.join(home, ".berth"))
    return env


def wait_gone(pred, timeout: float = 5) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def start_berth_registry(sb, port: int, root: str, *flags: str) -> None:
    """`berth registry serve` inside the sandbox (another helper's server, used as any registry)."""
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
    log = open(os.path.join(sb.dir, f"berth-registry-{port}.log"), "ab")
    subprocess.Popen(sb.nsenter_argv([sys.executable, "-m", "berth.cli.main", "registry", "serve",
                                      "--addr", f"127.0.0.1:{port}", "--root", root, *flags]),
                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                     env=dict(os.environ, PYTHONPATH=src))
    log.close()
    _wait_port(sb, port, timeout=20)


PUSH_SCRIPT = r'''
import hashlib, json, os, sys, urllib.request
reg, repo, tag, config_path = sys.argv[1:5]
layers = sys.argv[5:]

def digest_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()

def upload(path):
    """One monolithic POST .../blobs/uploads/?digest= with the file streamed as the body."""
    d, size = digest_of(path), os.path.getsize(path)
    with open(path, "rb") as f:
        req = urllib.request.Request(f"http://{reg}/v2/{repo}/blobs/uploads/?digest={d}", data=f, method="POST",
                                     headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        assert urllib.request.urlopen(req).status == 201
    return {"digest": d, "size": size}

cfg = upload(config_path)
cfg["mediaType"] = "application/vnd.docker.container.image.v1+json"
descs = [dict(upload(p), mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip") for p in layers]
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": cfg, "layers": descs}).encode()
req = urllib.request.Request(f"http://{reg}/v2/{repo}/manifests/{tag}", data=manifest, method="PUT",
                             headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
assert urllib.request.urlopen(req).status == 201
print("sha256:" + hashlib.sha256(manifest).hexdigest())
'''


def push_gzip_layers(sb, registry: str, repo: str, tag: str, layers: list[tuple[str, str]],
                     config: dict | None = None) -> str:
    """Upload gzip'd layer files (path, diff_id of the uncompressed tar) with a config whose
    rootfs.diff_ids match and a docker v2 schema 2 manifest, from inside the sandbox's
    network namespace (raw HTTP: the layers may be hostile, so no client checks them).
    Returns the manifest's digest."""
    import json

    doc = {"architecture": "amd64", "os": "linux", "config": {}, **(config or {}),
           "rootfs": {"type": "layers", "diff_ids": [d for _p, d in layers]},
           "history": [{} for _ in layers]}
    config_path = os.path.join(sb.dir, f"config-{repo.replace('/', '_')}-{tag}.json")
    with open(config_path, "w") as f:
        json.dump(doc, f)
    script = os.path.join(sb.dir, "push_gzip_layers.py")
    with open(script, "w") as f:
        f.write(PUSH_SCRIPT)
    r = sb.nsenter([sys.executable, script, registry, repo, tag, config_path, *[p for p, _d in layers]], timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"push of {repo}:{tag} failed: {r.stderr}")
    return r.stdout.strip()
