"""Removing directory trees of any depth.

shutil.rmtree recurses once per directory level, so a hostile layer with
10,000 nested directories raises RecursionError (not OSError: ignore_errors
does not catch it). Trees that deep are removed by `rm -rf`, which walks them
iteratively; the common case stays in-process.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def remove_tree(path: str, dir_fd: int | None = None) -> None:
    """Remove `path` (relative to dir_fd when given) and everything under it; missing is fine."""
    try:
        shutil.rmtree(path, ignore_errors=dir_fd is None, dir_fd=dir_fd)
    except RecursionError:
        target = path if dir_fd is None else os.path.join(f"/proc/self/fd/{dir_fd}", path)
        subprocess.run(["rm", "-rf", "--one-file-system", "--", target], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
