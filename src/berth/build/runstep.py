"""RUN: a container made by the engine from the step's image, its output
streamed to the build, its rw layer committed with the commit code.

Going through ContainerService gives a RUN exactly what `docker run` gets:
the same OCI spec, networking (the default bridge unless --network says host
or none), the monitor, the json-file log. The container shows in `ps -a`
while it runs, as docker's intermediate containers do.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import struct
from dataclasses import dataclass
from typing import Awaitable, Callable

from berth.errors import BerthError

log = logging.getLogger("berth.build")


@dataclass
class RunResult:
    container_id: str
    exit_code: int


class RunFailed(BerthError):
    """A RUN that exited non-zero: docker's message, and the exit code for errorDetail."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


async def run_container(daemon, body: dict, on_output: Callable[[bytes], Awaitable[None]],
                        on_created: Callable[[str], Awaitable[None]]) -> RunResult:
    """Create, attach, start, stream, wait. The container is left for the caller
    to commit and remove (also on failure and cancellation)."""
    containers = daemon.containers
    c, _warnings = containers.create(body, None)
    await on_created(c.id)
    attach = containers.register_attach(c, {"op": "attach", "stdin": False, "stdout": True, "stderr": True,
                                            "stdin_once": False})
    exited = await containers.wait_ready(c.id, "next-exit")
    try:
        await containers.start(c.id)
    except BaseException:
        if not attach.done():
            attach.cancel()
        if attach in c.pending_attach:
            c.pending_attach.remove(attach)
        raise
    reader, writer = await attach
    try:
        await _relay_frames(reader, on_output)
    finally:
        writer.close()
    code = await exited
    return RunResult(c.id, int(code))


async def _relay_frames(reader: asyncio.StreamReader, on_output: Callable[[bytes], Awaitable[None]]) -> None:
    """docker's 8-byte stdio frames from the monitor: stdout and stderr both go to the build output."""
    while True:
        try:
            head = await reader.readexactly(8)
        except asyncio.IncompleteReadError:
            return
        size = struct.unpack(">I", head[4:8])[0]
        try:
            data = await reader.readexactly(size)
        except asyncio.IncompleteReadError as e:
            if e.partial:
                await on_output(e.partial)
            return
        await on_output(data)


async def commit_upper(daemon, container_id: str):
    """The container's rw layer as a staged layer (commit.layer_from_upper, in a thread)."""
    from berth.images import commit as cm

    c = daemon.containers.get(container_id)
    snaps = daemon.snaps
    upper = snaps.container_dir(c.id) + "/upper"
    lowers = [snaps.layer_diff(x) for x in daemon.images.cache_ids_for_chain(c.doc.get("_LayerChain", []))]
    work = asyncio.get_running_loop().run_in_executor(None, cm.layer_from_upper, snaps, upper, lowers)
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})
        if not work.exception() and work.result().staging:
            shutil.rmtree(work.result().staging, ignore_errors=True)
        raise


async def remove_container(daemon, container_id: str) -> None:
    try:
        await daemon.containers.remove(container_id, force=True, volumes=True)
    except BerthError as e:
        log.warning("build: removing intermediate container %s: %s", container_id[:12], e.message)
