"""Removing containers: docker's rm (also on a full disk) and container prune.

A removal is marked in the container's row before anything is deleted, so a
daemon killed midway finishes it at the next start (containers.reconcile).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal as sig

from berth.engine.model import Container
from berth.errors import Conflict, System
from berth.store.metadata import dumps

log = logging.getLogger("berth.engine")


class RemovalMixin:
    """ContainerService's removal verbs (split out to keep containers.py readable)."""

    async def remove(self, ref: str, force: bool, volumes: bool) -> None:
        c = self.get(ref)
        if c.state.get("Status") == "removing" and c.id not in self.containers:
            return
        if (c.running or c.state.get("Restarting")) and not force:
            raise Conflict(f'cannot remove container "{c.name}": container is running: '
                           "stop the container before removing or force remove")
        self._cancel_restart(c)
        if c.state.get("Status") == "removing":
            raise Conflict(f"removal of container {c.id[:12]} is already in progress")
        previous = c.state.get("Status")
        c.state["Status"] = "removing"
        # Mark first: a daemon killed from here on finishes the removal at restart.
        try:
            self.md.execute("UPDATE containers SET removing=1, state=? WHERE id=?", (dumps(c.state), c.id))
        except System as e:
            if "no space left" not in e.message:
                raise
            await self._make_room_to_remove(c)
            self.md.execute("UPDATE containers SET removing=1, state=? WHERE id=?", (dumps(c.state), c.id))
        if c.running:
            done = self._exit_future(c)
            c.stop_requested = True
            self.events.publish("container", "kill", c.id, self._attrs(c, signal=str(int(sig.SIGKILL))))
            await self._signal(c, sig.SIGKILL)
            try:
                await asyncio.wait_for(done, 30)
            except asyncio.TimeoutError:
                c.state["Status"] = previous
                self.md.execute("UPDATE containers SET removing=0, state=? WHERE id=?", (dumps(c.state), c.id))
                raise System(f"could not kill container {c.id[:12]}")
        self._finish_removal(c.id)
        self.events.publish("container", "destroy", c.id, self._attrs(c))
        self.mounts.removed(c, volumes)
        for fut in c.remove_waiters:
            if not fut.done():
                fut.set_result(int(c.state.get("ExitCode", 0)))
        c.remove_waiters = []

    async def _make_room_to_remove(self, c: Container) -> None:
        """The disk is full and `rm` must still work (it is how users free space): empty
        the log of the container being removed and stop it, so its writes stop."""
        log.warning("no space left on the data root: emptying the log of %s to remove it", c.id[:12])
        log_path = c.doc.get("LogPath") or ""
        for path in [log_path] + [f"{log_path}.{n}" for n in range(1, 10)]:
            try:
                if path == log_path:
                    os.truncate(path, 0)
                else:
                    os.unlink(path)
            except OSError:
                pass
        if c.running:
            done = self._exit_future(c)
            c.stop_requested = True
            await self._signal(c, sig.SIGKILL)
            try:
                await asyncio.wait_for(done, 30)
            except asyncio.TimeoutError:
                pass

    def _finish_removal(self, cid: str) -> None:
        if self.networking is not None:
            self.networking.forget(cid)
        self.snaps.remove(cid)
        shutil.rmtree(self.state_dir(cid), ignore_errors=True)
        shutil.rmtree(self.run_dir(cid), ignore_errors=True)
        self.md.execute("DELETE FROM containers WHERE id=?", (cid,))
        c = self.containers.pop(cid, None)
        if c is not None:
            self.by_name.pop(c.name, None)

    async def prune(self, filters: dict[str, list[str]]) -> dict:
        from berth.engine.filters import container_matches, prune_filters_ok

        prune_filters_ok(filters)
        deleted, reclaimed = [], 0
        for c in list(self.containers.values()):
            if c.running or c.state.get("Status") == "removing":
                continue
            if not container_matches(c, filters, self, prune=True):
                continue
            reclaimed += self.snaps.upper_size(c.id)
            await self.remove(c.id, force=False, volumes=False)
            deleted.append(c.id)
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}
