"""Benchmark of the json-file log path: monitor writer, daemon reader, framing.

Mirrors the `logs_100mb` workload of ../shared/bench/workloads.sh: the output
of `yes 0123456789012345678901234567890123456789 | head -c 100000000` (41-byte
lines, 100 MB) is fed to JsonFileWriter in pipe-sized chunks, then read back
with read_entries and framed as the API would send it.  docker needs about
19 s end-to-end for `docker logs` of this; the reader's share here should be
about 1.5 s.

    PYTHONPATH=src python3 bench/logs_bench.py [--total N] [--chunk N]
        [--max-size 20m --max-file 10] [--dir DIR] [--tail N] [--line TEXT]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from berth.logs.frames import frame
from berth.logs.jsonfile import JsonFileWriter, parse_log_opts
from berth.logs.reader import LogQuery, read_entries

LINE = b"0123456789012345678901234567890123456789\n"


def _yes_output(total: int, chunk: int, line: bytes) -> list[bytes]:
    """The stream `yes ... | head -c total` delivers, cut into pipe reads."""
    block = line * (chunk // len(line) + 2)
    data_chunks = []
    offset = 0
    while offset < total:
        start = offset % len(line)
        size = min(chunk, total - offset)
        data_chunks.append(block[start : start + size])
        offset += size
    return data_chunks


def _log_bytes(path: str) -> int:
    total = 0
    n = 0
    for name in (path, *(f"{path}.{i}" for i in range(1, 1000))):
        if not os.path.exists(name):
            if n:
                break
            n += 1
            continue
        total += os.path.getsize(name)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total", type=int, default=100_000_000, help="bytes of output")
    ap.add_argument("--chunk", type=int, default=65536, help="bytes per pipe read")
    ap.add_argument("--max-size", default=None, help="log-opt max-size (default: none)")
    ap.add_argument("--max-file", default=None, help="log-opt max-file")
    ap.add_argument(
        "--line", default=LINE[:-1].decode(), help='the repeated line (try \'{"level":"info"}\')'
    )
    ap.add_argument("--tail", type=int, default=None, help="also time a --tail N read")
    ap.add_argument("--dir", default=None, help="directory for the log (default: a temp dir)")
    args = ap.parse_args()

    opts = {}
    if args.max_size:
        opts["max-size"] = args.max_size
    if args.max_file:
        opts["max-file"] = args.max_file
    max_size, max_file = parse_log_opts(opts)

    workdir = tempfile.mkdtemp(prefix="logs-bench-", dir=args.dir)
    path = os.path.join(workdir, "container-json.log")
    chunks = _yes_output(args.total, args.chunk, args.line.encode() + b"\n")
    mb = args.total / 1e6
    try:
        t0 = time.perf_counter()
        writer = JsonFileWriter(path, max_size=max_size, max_file=max_file)
        for chunk in chunks:
            writer.write("stdout", chunk)
        writer.close()
        t_write = time.perf_counter() - t0
        on_disk = _log_bytes(path)
        print(
            f"write: {t_write:6.3f} s  {mb / t_write:7.1f} MB/s of output  "
            f"({on_disk / 1e6:.1f} MB on disk, chunks of {args.chunk} B)"
        )

        t0 = time.perf_counter()
        got = 0
        frames = 0
        for _stream, payload in read_entries(path, LogQuery()):
            got += len(payload)
            frames += 1
        t_read = time.perf_counter() - t0
        print(
            f"read:  {t_read:6.3f} s  {got / 1e6 / t_read:7.1f} MB/s of output  "
            f"({got} bytes in {frames} payloads)"
        )
        if max_size < 0 and got != args.total:
            print(f"WARNING: read {got} bytes, expected {args.total}")

        t0 = time.perf_counter()
        sent = 0
        for stream, payload in read_entries(path, LogQuery()):
            sent += len(frame(stream, payload))
        t_framed = time.perf_counter() - t0
        print(f"read+frame: {t_framed:6.3f} s  ({sent} bytes framed)")

        t0 = time.perf_counter()
        got = sum(len(p) for _s, p in read_entries(path, LogQuery(timestamps=True)))
        t_ts = time.perf_counter() - t0
        print(f"read -t: {t_ts:6.3f} s  {got / 1e6 / t_ts:7.1f} MB/s  (per-entry times)")

        if args.tail is not None:
            t0 = time.perf_counter()
            got = sum(len(p) for _s, p in read_entries(path, LogQuery(tail=args.tail)))
            print(f"read --tail {args.tail}: {(time.perf_counter() - t0) * 1e3:.2f} ms ({got} bytes)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
