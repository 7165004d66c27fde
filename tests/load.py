"""Load against a sandboxed berthd: concurrent `run --rm` and bursts of API requests,
with the daemon's RSS sampled before, during and after (issue 10).
Used by tests/integration/test_load.py (short) and bench/load_bench.py (full)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Peak RSS of a process while a phase runs (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def unix_get(sock_path: str, path: str, timeout: float = 60) -> tuple[int, bytes]:
    """One HTTP/1.0 GET over the unix socket (no keep-alive): (status, body)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: berth\r\n\r\n".encode())
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@dataclass
class RoundResult:
    runs_failed: list[str] = field(default_factory=list)
    requests_failed: list[str] = field(default_factory=list)
    run_seconds: float = 0.0
    request_seconds: float = 0.0
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0


def concurrent_runs(docker_argv: list[str], env: dict, n: int) -> tuple[list[str], float]:
    def one(i: int) -> str | None:
        res = subprocess.run(docker_argv + ["run", "--rm", "busybox", "sh", "-c", f"echo run-{i}"],
                             capture_output=True, text=True, env=env, timeout=300)
        if res.returncode != 0 or res.stdout != f"run-{i}\n":
            return f"run {i}: rc={res.returncode} out={res.stdout!r} err={res.stderr.strip()[:200]}"
        return None

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        failures = [f for f in pool.map(one, range(n)) if f]
    return failures, time.monotonic() - start


def request_burst(sock_path: str, n: int, container_ids: list[str]) -> tuple[list[str], float]:
    paths = []
    for i in range(n):
        cid = container_ids[i % len(container_ids)]
        paths.append(("/v1.45/containers/json?all=1", f"/v1.45/containers/{cid}/json",
                      f"/v1.45/containers/{cid}/logs?stdout=1&stderr=1&tail=50")[i % 3])
    barrier = threading.Barrier(n)

    def one(path: str) -> str | None:
        try:
            barrier.wait(timeout=60)
            status, body = unix_get(sock_path, path)
        except Exception as exc:  # noqa: BLE001
            return f"{path}: {type(exc).__name__}: {exc}"
        if status != 200:
            return f"{path}: HTTP {status} {body[:200]!r}"
        if "/logs" not in path:
            json.loads(body)
        return None

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        failures = [f for f in pool.map(one, paths) if f]
    return failures, time.monotonic() - start


def load_round(sandbox, runs: int, requests: int, container_ids: list[str]) -> RoundResult:
    pid = sandbox.daemon_pid()
    result = RoundResult(rss_before=rss_kib(pid))
    env = sandbox.env()
    with RssSampler(pid) as sampler:
        result.runs_failed, result.run_seconds = concurrent_runs(["docker"], env, runs)
        result.requests_failed, result.request_seconds = request_burst(sandbox.sock, requests, container_ids)
    result.rss_peak = max(sampler.peak, result.rss_before)
    time.sleep(1.0)
    result.rss_after = rss_kib(pid)
    return result
