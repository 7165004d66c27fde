"""Start-up cost of the `berth` CLI against a tiny fake daemon.

Times (medians of --runs runs, wall clock, each a fresh process):
`python3 -S -c pass` (the floor), `berth --version`, `berth ps` (50 running
containers) and `berth images`, plus `docker ps`/`docker images` when the real
docker CLI is installed, all against the same fake daemon on a unix socket.
The fake daemon (a child process of this script) answers /_ping,
/containers/json and /images/json from pre-encoded replies, so the figures are
the client's own cost.

    python3 bench/cli_startup.py [--runs 20] [--berth /usr/local/bin/berth [--berth OTHER]] [--docker PATH]

Cases run interleaved (one of each per round) so load from elsewhere on the
machine skews them alike; give --berth twice to compare two builds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- the fake daemon --------------------------------------------------------------


def _containers(n: int, now: int) -> list[dict]:
    rows = []
    for i in range(n):
        cid = f"{i:02x}" + "c0ffee" * 10 + "ab"
        rows.append({
            "Id": cid[:64],
            "Names": [f"/bench_{i}"],
            "Image": "busybox",
            "ImageID": "sha256:" + "3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741",
            "Command": "sleep 1000",
            "Created": now - 300 - i,
            "Ports": [],
            "Labels": {},
            "State": "running",
            "Status": "Up 5 minutes",
            "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"Networks": {"bridge": {
                "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "02:42:ac:11:00:%02x" % (i + 2),
                "NetworkID": "6a4e" * 16, "EndpointID": "e1d0" * 16, "Gateway": "172.17.0.1",
                "IPAddress": f"172.17.0.{i + 2}", "IPPrefixLen": 16, "IPv6Gateway": "",
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DriverOpts": None, "DNSNames": None,
            }}},
            "Mounts": [],
        })
    return rows


def _images(now: int) -> list[dict]:
    out = []
    for i, (repo, tag) in enumerate([("busybox", "latest"), ("debian", "bookworm"), ("localhost:5000/app", "v1"),
                                     ("<none>", "<none>"), ("alpine", "3.19")]):
        iid = "sha256:" + f"{i:02x}" * 32
        out.append({
            "Id": iid, "ParentId": "", "RepoTags": [f"{repo}:{tag}"] if repo != "<none>" else [],
            "RepoDigests": [], "Created": now - 86400 * (i + 1), "Size": 4_261_574 * (i + 1),
            "SharedSize": -1, "VirtualSize": 4_261_574 * (i + 1), "Labels": None, "Containers": -1,
        })
    return out


def _reply(status: str, body: bytes, head: bool = False, ctype: str = "application/json") -> bytes:
    headers = (
        f"HTTP/1.1 {status}\r\nApi-Version: 1.45\r\nContent-Type: {ctype}\r\n"
        "Docker-Experimental: false\r\nOstype: linux\r\nServer: Docker/27.0.0 (linux)\r\n"
        f"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return headers.encode() + (b"" if head else body)


def serve(path: str) -> None:
    """Answer requests on `path` until killed (one thread per connection, keep-alive)."""
    now = int(time.time())
    replies = {
        "/_ping": _reply("200 OK", b"OK", ctype="text/plain; charset=utf-8"),
        "/containers/json": _reply("200 OK", json.dumps(_containers(50, now)).encode() + b"\n"),
        "/images/json": _reply("200 OK", json.dumps(_images(now)).encode() + b"\n"),
        "/version": _reply("200 OK", json.dumps({"ApiVersion": "1.45", "MinAPIVersion": "1.24",
                                                 "Version": "27.0.0", "Os": "linux"}).encode() + b"\n"),
    }
    head_ping = _reply("200 OK", b"OK", head=True, ctype="text/plain; charset=utf-8")
    not_found = _reply("404 Not Found", b'{"message":"page not found"}\n')

    def handle(conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v)
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                p = target.split("?", 1)[0]
                if p.startswith("/v"):
                    p = "/" + p.split("/", 2)[2]
                if method == "HEAD" and p == "/_ping":
                    conn.sendall(head_ping)
                else:
                    conn.sendall(replies.get(p, not_found))
        except OSError:
            pass
        finally:
            conn.close()

    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


# --- the timing -------------------------------------------------------------------


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def time_cases(cases: list[tuple[str, list[str]]], env: dict[str, str], runs: int) -> dict[str, list]:
    """Run every case once per round, `runs` rounds (after 2 warm-up rounds), so a burst
    of load from elsewhere on the machine hits all cases alike. Per case: (samples, problem)."""
    samples: dict[str, list[float]] = {label: [] for label, _ in cases}
    problems: dict[str, str] = {label: "" for label, _ in cases}
    for round_no in range(runs + 2):
        for label, argv in cases:
            t0 = time.perf_counter()
            proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            elapsed = (time.perf_counter() - t0) * 1000
            if round_no >= 2:
                samples[label].append(elapsed)
            if proc.returncode != 0 and not problems[label]:
                lines = proc.stderr.decode(errors="replace").strip().splitlines()
                problems[label] = lines[0] if lines else f"exit {proc.returncode}"
    return {label: [samples[label], problems[label]] for label, _ in cases}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--berth", action="append",
                    help="berth launcher to time (repeat to compare builds; default /usr/local/bin/berth)")
    ap.add_argument("--docker", default=shutil.which("docker") or "")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    launchers = args.berth or ["/usr/local/bin/berth" if os.path.exists("/usr/local/bin/berth") else ""]
    work = tempfile.mkdtemp(prefix="berth-cli-bench-")
    sock = os.path.join(work, "d.sock")
    daemon = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", sock],
                              stdout=subprocess.PIPE)
    try:
        assert daemon.stdout is not None
        daemon.stdout.readline()
        host = f"unix://{sock}"
        env = dict(os.environ, BERTH_HOST=host, DOCKER_HOST=host, DOCKER_CONFIG=work)
        env.pop("DOCKER_API_VERSION", None)
        cases = [("python3 -S -c pass", [sys.executable, "-S", "-c", "pass"])]
        for i, launcher in enumerate(launchers):
            berth = launcher.split() if launcher else [
                sys.executable, "-S", "-c",
                f"import sys; sys.path[:0] = [{os.path.join(ROOT, 'src')!r}]; "
                "from berth.cli.main import main; sys.exit(main())"]
            name = "berth" if len(launchers) == 1 else f"berth[{i + 1}]"
            cases += [(f"{name} --version", berth + ["--version"]),
                      (f"{name} ps (50)", berth + ["ps"]),
                      (f"{name} images", berth + ["images"])]
        if args.docker:
            cases += [("docker ps (50)", [args.docker, "ps"]), ("docker images", [args.docker, "images"])]
        results = time_cases(cases, env, args.runs)
        if len(launchers) > 1:
            for i, launcher in enumerate(launchers):
                print(f"berth[{i + 1}] = {launcher}")
        print(f"{'command':24} {'median ms':>10} {'min ms':>8}   ({args.runs} runs each, interleaved)")
        for label, _ in cases:
            samples, problem = results[label]
            note = f"   FAILED: {problem}" if problem else ""
            print(f"{label:24} {median(samples):10.1f} {min(samples):8.1f}{note}")
    finally:
        daemon.kill()
        daemon.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
