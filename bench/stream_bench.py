"""Throughput through a hijacked attach stream and an exec stream.

A container (or an exec) writes N bytes (`head -c N /dev/zero` by default, or
printable lines with --payload text) and a raw client reads them over the
upgraded connection, the way the docker CLI does, counting payload bytes
after the 8-byte frame headers. The figure is payload bytes / wall time from
the start request to the end of the stream. Target (issue 4): 200 MB/s each.

    python3 bench/stream_bench.py                       # attach + exec, 1 GB, zeros
    python3 bench/stream_bench.py --size 300m --payload text --log-driver none
    python3 bench/stream_bench.py --only exec --tty
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "src"))

from harness import Sandbox, api  # noqa: E402

TARGET_MBS = 200.0


def _size(text: str) -> int:
    units = {"k": 10**3, "m": 10**6, "g": 10**9}
    text = text.lower()
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _command(size: int, payload: str, producer: str) -> list[str]:
    """`head` is the brief's producer; busybox's head costs ~2.6 s of CPU per GB by
    itself (yes | head: 3.6 s), so `dd`/`cat` (a few syscalls per MiB) shows the
    engine's own limit."""
    line = "0123456789012345678901234567890123456789"
    if payload == "zero":
        if producer == "head":
            return ["head", "-c", str(size), "/dev/zero"]
        mib, rest = divmod(size, 1 << 20)
        return ["sh", "-c", f"dd if=/dev/zero bs=1048576 count={mib} 2>/dev/null; head -c {rest} /dev/zero"]
    if producer == "head":
        return ["sh", "-c", f"yes {line} | head -c {size}"]
    mib, rest = divmod(size, 1 << 20)
    return ["sh", "-c", f"yes {line} | head -c 1048576 > /tmp/t; i=0; while [ $i -lt {mib} ]; "
                        f"do cat /tmp/t; i=$((i+1)); done; head -c {rest} /tmp/t"]


def _hijack(sb: Sandbox, path: str, body: dict | None = None) -> tuple[socket.socket, bytes]:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sb.sock)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode() + data)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed before the upgrade")
        head += chunk
    status, _, rest = head.partition(b"\r\n\r\n")
    if not status.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(status.decode(errors="replace"))
    return s, rest


def _drain(s: socket.socket, leftover: bytes, tty: bool) -> int:
    """Read to EOF; the payload byte count (8-byte frame headers left out without a TTY)."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    pending = leftover
    payload = 0
    remaining = 0       # payload bytes left in the current frame
    header = b""
    while True:
        if pending:
            data, pending = memoryview(pending), b""
            n = len(data)
        else:
            n = s.recv_into(view)
            if not n:
                break
            data = view[:n]
        if tty:
            payload += n
            continue
        pos = 0
        while pos < n:
            if remaining:
                take = min(remaining, n - pos)
                payload += take
                remaining -= take
                pos += take
                continue
            need = 8 - len(header)
            header += bytes(data[pos:pos + need])
            pos += need
            if len(header) == 8:
                if header[0] not in (1, 2):
                    raise RuntimeError(f"bad frame header {header!r}")
                remaining = struct.unpack(">I", header[4:])[0]
                header = b""
    s.close()
    return payload


def bench_attach(sb: Sandbox, size: int, payload: str, producer: str, tty: bool, log_driver: str) -> float:
    body = {"Image": "busybox", "Cmd": _command(size, payload, producer), "Tty": tty,
            "AttachStdout": True, "AttachStderr": True,
            "HostConfig": {"LogConfig": {"Type": log_driver, "Config": {}}}}
    status, doc = api(sb, "POST", "/containers/create", body)
    assert status == 201, doc
    cid = doc["Id"]  # type: ignore[index]
    s, leftover = _hijack(sb, f"/containers/{cid}/attach?stream=1&stdout=1&stderr=1")
    t0 = time.monotonic()
    status, doc = api(sb, "POST", f"/containers/{cid}/start")
    assert status == 204, doc
    raw = _drain(s, leftover, tty)
    elapsed = time.monotonic() - t0
    api(sb, "DELETE", f"/containers/{cid}?force=1")
    got = raw
    if got < size:
        print(f"  attach: short read {raw} of {size}", file=sys.stderr)
    return got / elapsed / 1e6


def bench_exec(sb: Sandbox, size: int, payload: str, producer: str, tty: bool) -> float:
    status, doc = api(sb, "POST", "/containers/create",
                      {"Image": "busybox", "Cmd": ["sleep", "3600"],
                       "HostConfig": {"LogConfig": {"Type": "none", "Config": {}}}})
    assert status == 201, doc
    cid = doc["Id"]  # type: ignore[index]
    assert api(sb, "POST", f"/containers/{cid}/start")[0] == 204
    status, doc = api(sb, "POST", f"/containers/{cid}/exec",
                      {"Cmd": _command(size, payload, producer), "AttachStdout": True, "AttachStderr": True,
                       "Tty": tty})
    assert status == 201, doc
    t0 = time.monotonic()
    s, leftover = _hijack(sb, f"/exec/{doc['Id']}/start", {"Detach": False, "Tty": tty})  # type: ignore[index]
    raw = _drain(s, leftover, tty)
    elapsed = time.monotonic() - t0
    api(sb, "DELETE", f"/containers/{cid}?force=1")
    got = raw
    if got < size:
        print(f"  exec: short read {raw} of {size}", file=sys.stderr)
    return got / elapsed / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1g", help="bytes to stream (1g, 300m, ...)")
    ap.add_argument("--payload", choices=("zero", "text"), default="zero")
    ap.add_argument("--producer", choices=("head", "dd"), default="head",
                    help="head -c (the brief's) or dd/cat (cheap: the engine's own limit)")
    ap.add_argument("--tty", action="store_true", help="with a TTY (raw stream, no frames)")
    ap.add_argument("--log-driver", default="json-file", help="the attached container's log driver")
    ap.add_argument("--only", choices=("attach", "exec"), default=None)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    size = _size(args.size)

    from berth.images.bootstrap import write_rootfs_tar

    sb = Sandbox()
    try:
        sb.start_daemon()
        tar = os.path.join(sb.dir, "busybox.tar")
        with open(tar, "wb") as f:
            write_rootfs_tar("busybox", f, lambda _line: None)
        sb.import_busybox(tar)
        label = f"{size / 1e6:.0f} MB of {args.payload} from {args.producer}{', tty' if args.tty else ''}"
        print(f"stream throughput, {label} (target {TARGET_MBS:.0f} MB/s)")
        for _ in range(args.runs):
            if args.only in (None, "attach"):
                mbs = bench_attach(sb, size, args.payload, args.producer, args.tty, args.log_driver)
                ok = "ok" if mbs >= TARGET_MBS else "MISSED"
                print(f"  attach (log driver {args.log_driver:9}) {mbs:8.1f} MB/s  {ok}")
            if args.only in (None, "exec"):
                mbs = bench_exec(sb, size, args.payload, args.producer, args.tty)
                ok = "ok" if mbs >= TARGET_MBS else "MISSED"
                print(f"  exec                           {mbs:8.1f} MB/s  {ok}")
    finally:
        sb.close()


if __name__ == "__main__":
    main()
