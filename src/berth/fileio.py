"""Writing file contents that arrive as a stream (layer tars, cp uploads, build contexts).

Runs of zeros become holes: a sparse file packed into a 10 kB tar (GNU tar's
--sparse, or any file of mostly zeros) must not cost gigabytes of disk when
unpacked. The file reads back byte for byte the same.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Callable

CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)


def write_stream(fd: int, src: BinaryIO, size: int, on_chunk: Callable[[bytes], None] | None = None) -> None:
    """Copy `src` to `fd` (opened for writing at offset 0); `size` is the file's full length."""
    holes = False
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            break
        if on_chunk is not None:
            on_chunk(chunk)
        if chunk == _ZEROS[:len(chunk)]:
            os.lseek(fd, len(chunk), os.SEEK_CUR)
            holes = True
            continue
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
    if holes:
        os.ftruncate(fd, size)
