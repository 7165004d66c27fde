"""`berth system dial-stdio`: splice this process's stdin/stdout onto a daemon connection.

This is what a remote host runs for `-H ssh://...` (berth's or docker's CLI):
the ssh session's stdio becomes one API connection. Half-closes travel both
ways (stdin's EOF shuts the socket's write side; the daemon's EOF ends us), so
request bodies that end with EOF and hijacked attach streams work through it.
"""

from __future__ import annotations

import os
import socket
import threading

from .command import Cli, Command
from .flags import Values

_CHUNK = 256 * 1024


def _stdin_to_socket(sock: socket.socket) -> None:
    try:
        while True:
            data = os.read(0, _CHUNK)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _socket_to_stdout(sock: socket.socket) -> None:
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    try:
        while True:
            n = sock.recv_into(buf)
            if not n:
                break
            chunk = view[:n]
            while chunk:
                written = os.write(1, chunk)
                chunk = chunk[written:]
    except OSError:
        pass


def _run(cli: Cli, v: Values, args: list[str]) -> int:
    sock = cli.client()._dial()  # the configured daemon: unix, tcp or tls
    pump = threading.Thread(target=_stdin_to_socket, args=(sock,), daemon=True)
    pump.start()
    _socket_to_stdout(sock)
    # Swap stdout for /dev/null instead of closing it: the remote end sees EOF, and
    # the interpreter's own flush of stdout at exit still has a descriptor.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sock.close()
    return 0


def dial_stdio_command() -> Command:
    return Command("dial-stdio", "", "Proxy the stdio stream to the daemon connection. Should not be invoked manually.",
                   _run, None, args=("none",))
