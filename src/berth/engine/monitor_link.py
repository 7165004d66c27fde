"""The daemon's side of the per-container monitor (runtime/monitor.py).

Starting is a three-step handshake over a socketpair, so that attach streams
are connected before the container's first byte of output:
monitor -> {"created": pid}; daemon connects watch/attach clients and sends
{"start": true, "attachers": n}; monitor -> {"started": pid} or {"error": msg}.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass

from berth.errors import System

MONITOR_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "runtime", "monitor.py")


class MonitorGone(Exception):
    """The monitor's socket is not there: it has exited (or died with the host)."""


@dataclass
class Starting:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pid: int = 0

    async def go(self, attachers: int) -> int:
        self.writer.write((json.dumps({"start": True, "attachers": attachers}) + "\n").encode())
        await self.writer.drain()
        reply = await _read_reply(self.reader)
        self.writer.close()
        if "error" in reply:
            raise System(reply["error"])
        return int(reply["started"])

    def abort(self) -> None:
        self.writer.close()


async def _read_reply(reader: asyncio.StreamReader) -> dict:
    line = await reader.readline()
    if not line:
        raise System("container monitor exited unexpectedly")
    return json.loads(line)


class Launcher:
    """Starts monitors by asking a long-lived zygote (monitor.py --zygote) to fork them."""

    def __init__(self, log_path: str) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None

    def ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-I", MONITOR_SCRIPT, "--zygote", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=[theirs.fileno()],
                start_new_session=True)
        finally:
            os.close(log)
            theirs.close()
        if self.control is not None:
            self.control.close()
        self.control = ours

    def launch(self, params: dict, sync: socket.socket, log_path: str) -> None:
        self.ensure()
        assert self.control is not None
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            socket.send_fds(self.control, [json.dumps(params).encode()], [sync.fileno(), log])
        finally:
            os.close(log)

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


async def spawn(launcher: Launcher, params: dict, log_path: str) -> Starting:
    """Launch a monitor and wait until the runtime has created the container."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        launcher.launch(params, theirs, log_path)
    finally:
        theirs.close()
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    reply = await _read_reply(reader)
    if "error" in reply:
        writer.close()
        raise System(reply["error"])
    return Starting(reader, writer, int(reply["created"]))


async def connect(sock_path: str, request: dict) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        reader, writer = await asyncio.open_unix_connection(sock_path, limit=1 << 20)
    except (FileNotFoundError, ConnectionRefusedError) as e:
        raise MonitorGone(sock_path) from e
    writer.write((json.dumps(request) + "\n").encode())
    await writer.drain()
    return reader, writer


async def request(sock_path: str, req: dict) -> dict:
    """One request/reply; a monitor that hangs up on us (its container just exited and
    it is finishing) is MonitorGone, as one that is no longer there."""
    try:
        reader, writer = await connect(sock_path, req)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise MonitorGone(sock_path) from e
    try:
        return await _read_reply(reader)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise MonitorGone(sock_path) from e
    finally:
        writer.close()
