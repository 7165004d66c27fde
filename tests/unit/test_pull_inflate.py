"""The pull's download side (_TeeReader) inflates gzip in bounded steps: a small
compressed layer that inflates to far more (a decompression bomb) must flow through
in chunks, never be held in memory at once (issue 10, hostile input)."""

from __future__ import annotations

import io
import tempfile

import pytest
from isal import igzip

from berth.distribution.pull import CHUNK, _TeeReader


class _Meter:
    def add(self, n: int) -> None:
        pass


class _Resp:
    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def read1(self, n: int) -> bytes:
        return self._b.read1(n)


def _drain(payload: bytes) -> tuple[bytes, int, _TeeReader]:
    with tempfile.TemporaryFile() as part:
        tee = _TeeReader(part, 0, _Resp(payload), _Meter(), len(payload))
        out, biggest = bytearray(), 0
        while True:
            data = tee.read(1 << 26)
            if not data:
                break
            biggest = max(biggest, len(data))
            out += data
        return bytes(out), biggest, tee


RAW = b"\0" * (40 << 20) + b"tail"


@pytest.mark.parametrize("payload", [
    igzip.compress(RAW),
    igzip.compress(RAW[:1000]) + igzip.compress(RAW[1000:]),  # multi-member
    RAW,  # not compressed
], ids=["gzip", "multi-member", "raw"])
def test_inflated_in_bounded_chunks(payload):
    out, biggest, tee = _drain(payload)
    assert out == RAW
    assert biggest <= CHUNK
    assert tee.inflate_error is None


def test_truncated_gzip_is_reported():
    out, _biggest, tee = _drain(igzip.compress(RAW)[:-100])
    assert tee.inflate_error is not None
    assert "unexpected end of stream" in tee.inflate_error.message


class _FullDisk:
    """A partial-download file on a data root that has run out of space."""

    name = "/var/lib/berth/distribution/partial/abc"

    def __init__(self) -> None:
        self._f = tempfile.TemporaryFile()

    def fileno(self) -> int:
        return self._f.fileno()

    def seek(self, pos: int) -> int:
        return self._f.seek(pos)

    def write(self, data: bytes) -> int:
        import errno
        import os

        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_under_the_download_is_reported_as_such():
    """Not as a digest mismatch (the hash stops where the write failed), and not as an
    exception lost in the download thread."""
    from berth.errors import System

    payload = igzip.compress(RAW)
    tee = _TeeReader(_FullDisk(), 0, _Resp(payload), _Meter(), len(payload))
    with pytest.raises(System) as info:
        while tee.read(CHUNK):
            pass
    assert info.value.message == ("failed to download layer: write /var/lib/berth/distribution/partial/abc: "
                                  "no space left on device")
