"""A stored layer as a tar stream again, byte-identical to its diff id.

Berth does not keep tar-split data, so the exact bytes of a layer come from:
1. the blob kept when the layer arrived (a pulled compressed blob, a loaded or
   imported tar), recorded in the blob cache with the diff id it decompresses to;
2. otherwise the layer directory written back as a tar by commit's writer: the
   layers Berth makes itself (commit, build) were produced by that same writer,
   and writing an applied layer again is a fixed point, so the bytes match.
Every stream is hashed while it is read; a mismatch is an error, never a
silently different layer.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from typing import BinaryIO

from berth.errors import System
from berth.images.layer_tar import _decompressed

CHUNK = 1 << 20


def open_kept(path: str) -> BinaryIO:
    """A kept blob, decompressed (gzip, zstd, bzip2, xz or plain tar)."""
    raw = open(path, "rb")
    src, _kind = _decompressed(raw)
    return src  # type: ignore[return-value]


def regenerate(layer_dir: str) -> BinaryIO:
    """The layer directory as a tar (commit's writer), read through a pipe."""
    from berth.images.commit import _LayerTar

    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_fd, "wb", buffering=0) as sink:
                tar = _LayerTar(sink)
                top = os.open(layer_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    tar.add_tree(top, None, "", include_top=False)
                finally:
                    os.close(top)
                tar.close()
        except BrokenPipeError:
            pass
        except BaseException as e:  # noqa: BLE001 - surfaced by the reader
            failure.append(e)

    t = threading.Thread(target=produce, name="layer-tar", daemon=True)
    t.start()
    reader = open(read_fd, "rb", buffering=CHUNK)
    return _Joined(reader, t, failure)  # type: ignore[return-value]


class _Joined:
    def __init__(self, reader: BinaryIO, thread: threading.Thread, failure: list[BaseException]) -> None:
        self.reader, self.thread, self.failure = reader, thread, failure

    def read(self, n: int = -1) -> bytes:
        data = self.reader.read(n)
        if not data:
            self.thread.join()
            if self.failure:
                raise System(f"failed to read layer: {self.failure[0]}")
        return data

    def close(self) -> None:
        self.reader.close()
        self.thread.join(timeout=5)


class Verified:
    """Chunks of a layer tar; at the end, raise if the bytes are not `diff_id`."""

    def __init__(self, src: BinaryIO, diff_id: str) -> None:
        self.src = src
        self.diff_id = diff_id
        self.sha = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                data = self.src.read(CHUNK)
                if not data:
                    break
                self.sha.update(data)
                self.size += len(data)
                yield data
        finally:
            close = getattr(self.src, "close", None)
            if close:
                close()
        if "sha256:" + self.sha.hexdigest() != self.diff_id:
            raise System(f"layer {self.diff_id} cannot be reproduced byte for byte "
                         f"(got sha256:{self.sha.hexdigest()})")
