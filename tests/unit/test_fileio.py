"""write_stream: zero runs become holes; the content reads back the same."""

from __future__ import annotations

import io
import os

from berth.fileio import CHUNK, write_stream


def test_zero_runs_become_holes_and_content_is_unchanged(tmp_path):
    data = b"head" + bytes(64 * CHUNK) + b"tail"
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        write_stream(fd, io.BytesIO(data), len(data))
    finally:
        os.close(fd)
    assert path.read_bytes() == data
    assert os.stat(path).st_blocks * 512 < 4 * CHUNK  # 64 MiB of zeros took no blocks


def test_trailing_zeros_keep_the_full_length(tmp_path):
    data = b"x" * 10 + bytes(3 * CHUNK)
    path = tmp_path / "g"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        seen = []
        write_stream(fd, io.BytesIO(data), len(data), on_chunk=seen.append)
    finally:
        os.close(fd)
    assert os.path.getsize(path) == len(data)
    assert b"".join(seen) == data
