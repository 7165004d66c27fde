"""A few megabytes kept in reserve on the data root, released when the disk fills.

With the data root full, SQLite cannot write even the row that marks a container
for removal, so `rm -f` (the way out of a full disk) would fail too. The daemon
keeps a preallocated file; the first metadata write that fails for lack of space
deletes it and is retried, so removals and prunes can free space. The reserve is
made again once there is room.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("berth.store")

RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 16 << 20


class SpaceReserve:
    def __init__(self, data_root: str, size: int = RESERVE_BYTES) -> None:
        self.path = os.path.join(data_root, RESERVE_NAME)
        self.size = size

    def ensure(self) -> bool:
        """Make the reserve if it is missing and the disk has 4x its size free."""
        try:
            if os.path.getsize(self.path) >= self.size:
                return True
        except OSError:
            pass
        st = os.statvfs(os.path.dirname(self.path))
        if st.f_bavail * st.f_frsize < 4 * self.size:
            return False
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, self.size)
        except OSError:
            os.close(fd)
            self._unlink()
            return False
        os.close(fd)
        return True

    def release(self) -> bool:
        """Free the reserve; True if there was one to free."""
        if not os.path.exists(self.path):
            return False
        self._unlink()
        log.error("the data root %s is full: released the %d MiB reserve so containers and images can "
                  "be removed; free space on it", os.path.dirname(self.path), self.size >> 20)
        return True

    def _unlink(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
