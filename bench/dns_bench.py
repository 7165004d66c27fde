"""Queries per second of the embedded DNS, asked from inside a container's netns.

The bench re-runs itself under `unshare -n` as the "daemon": it serves an
EmbeddedDNS (the real server, sockets opened in the container namespace through
setns) with a resolver holding a few names, and starts a client process inside
a second namespace (`unshare -n`, lo up) that keeps `--window` UDP queries in
flight against 127.0.0.11:53 for `--seconds` and counts the answers. Mixed
queries: container names (A, with two replicas), an AAAA without address, a
PTR. Reports each run and the median. Target (issue 5): at least 5,000 q/s.

With --berthd the same client runs inside a real container's namespace of a
sandboxed berthd (tests/harness.py), so the daemon's own NameResolver over its
live endpoints and its event loop are measured too.

    PYTHONPATH=src python3 bench/dns_bench.py [--runs 5] [--seconds 3] [--window 32] [--berthd]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.abspath(__file__)
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")


class BenchResolver:
    names = {"web": ["10.0.0.2", "10.0.0.3"], "db": ["10.0.0.4"], "cache": ["10.0.0.5"]}

    def lookup(self, cid: str, name: str, qtype: str) -> list[str] | None:
        found = self.names.get(name)
        if found is None:
            return None
        return found if qtype == "A" else []

    def reverse(self, cid: str, ip: str) -> str | None:
        return "web.benchnet" if ip == "10.0.0.2" else None


def _queries(ptr: str = "2.0.0.10.in-addr.arpa") -> list[bytes]:
    from dnslib import DNSRecord

    return [DNSRecord.question(n, t).pack() for n, t in
            (("web", "A"), ("db", "A"), ("web", "AAAA"), ("cache", "A"), (ptr, "PTR"))]


def client(seconds: float, window: int, ptr: str) -> None:
    """Keep `window` queries outstanding; print the answers per second."""
    queries = _queries(ptr)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect(("127.0.0.11", 53))
    s.settimeout(0.5)
    n = len(queries)
    i = 0
    for _ in range(window):
        s.send(queries[i % n])
        i += 1
    answered = lost = errors = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        try:
            reply = s.recv(4096)
            answered += 1
            if reply[3] & 0x0F:  # an error rcode: the names did not resolve
                errors += 1
        except socket.timeout:
            lost += 1
        now = time.perf_counter()
        if now >= end:
            break
        s.send(queries[i % n])
        i += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"qps": answered / elapsed, "answered": answered, "timeouts": lost, "errors": errors}),
          flush=True)


async def serve(runs: int, seconds: float, window: int) -> list[dict]:
    from berth.network.dns import EmbeddedDNS

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    ns = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep infinity"])
    await asyncio.sleep(0.3)
    path = f"/proc/{ns.pid}/ns/net"
    dns = EmbeddedDNS(BenchResolver(), ["127.0.0.1:9"], timeout=0.5)
    await dns.start("bench", path)
    results = []
    try:
        for _ in range(runs):
            proc = await asyncio.create_subprocess_exec(
                "nsenter", f"--net={path}", sys.executable, HERE, "--client",
                "--seconds", str(seconds), "--window", str(window),
                stdout=asyncio.subprocess.PIPE, env=dict(os.environ, PYTHONPATH=SRC))
            out, _ = await proc.communicate()
            results.append(json.loads(out))
    finally:
        await dns.close()
        ns.kill()
    return results


def serve_berthd(runs: int, seconds: float, window: int) -> list[dict]:
    """Containers web (2 replicas by alias), db, cache on a user network of a sandboxed
    berthd; the client runs in a fourth container's network namespace."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests"))
    from harness import Sandbox

    from berth.images.bootstrap import write_rootfs_tar

    sb = Sandbox()
    results = []
    try:
        sb.start_daemon("--log-level", "warn")
        tar = os.path.join(sb.dir, "busybox.tar")
        with open(tar, "wb") as f:
            write_rootfs_tar("busybox", f, lambda _line: None)
        sb.import_busybox(tar)

        def docker(*args: str) -> str:
            r = sb.docker(*args)
            if r.returncode:
                raise SystemExit(f"docker {' '.join(args)}: {r.stderr}")
            return r.stdout.strip()

        docker("network", "create", "--subnet", "10.0.0.0/24", "benchnet")
        for name, alias in (("web1", "web"), ("web2", "web"), ("db", ""), ("cache", ""), ("client", "")):
            extra = ["--network-alias", alias] if alias else []
            docker("run", "-d", "--name", name, "--network", "benchnet", *extra, "busybox", "sleep", "3600")
        cid = docker("inspect", "-f", "{{.Id}}", "client")
        ip = docker("inspect", "-f", "{{.NetworkSettings.Networks.benchnet.IPAddress}}", "web1")
        ptr = ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
        netns = os.path.join(sb.exec_root, "netns", cid)
        for _ in range(runs):
            argv = sb.nsenter_argv(["nsenter", f"--net={netns}", sys.executable, HERE, "--client",
                                    "--seconds", str(seconds), "--window", str(window), "--ptr", ptr])
            out = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC))
            results.append(json.loads(out.stdout))
    finally:
        sb.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--berthd", action="store_true", help="ask a real container of a sandboxed berthd")
    ap.add_argument("--ptr", default="2.0.0.10.in-addr.arpa", help=argparse.SUPPRESS)
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        client(a.seconds, a.window, a.ptr)
        return
    if a.berthd:
        results = serve_berthd(a.runs, a.seconds, a.window)
    elif not a.inner:
        argv = ["unshare", "-n", sys.executable, HERE, "--inner", "--runs", str(a.runs),
                "--seconds", str(a.seconds), "--window", str(a.window)]
        sys.exit(subprocess.run(argv, env=dict(os.environ, PYTHONPATH=SRC)).returncode)
    else:
        results = asyncio.run(serve(a.runs, a.seconds, a.window))
    for r in results:
        print(f"run: {r['qps']:8.0f} q/s  ({r['answered']} answers, {r['errors']} error answers, "
              f"{r['timeouts']} timeouts)")
    median = statistics.median(r["qps"] for r in results)
    where = "berthd container" if a.berthd else "EmbeddedDNS alone"
    print(f"embedded DNS ({where}): median {median:.0f} queries/s over {len(results)} runs "
          f"(window {a.window}, {a.seconds:g} s each); target >= 5000")


if __name__ == "__main__":
    main()
