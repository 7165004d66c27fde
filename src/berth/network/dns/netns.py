"""Sockets created inside another network namespace.

A socket belongs to the namespace it was created in for its whole life, so the
daemon can serve a container's 127.0.0.11:53 from its own event loop: a
short-lived thread enters the container's namespace with setns(2) (which only
moves the calling thread), creates and binds the sockets, and ends. The rest of
the daemon never leaves its own namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import threading
from typing import Callable, TypeVar

CLONE_NEWNET = 0x40000000
IP_FREEBIND = 15

T = TypeVar("T")

_libc: ctypes.CDLL | None = None


def _setns(fd: int, nstype: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def in_netns(netns_path: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a fresh thread that has joined the network namespace at
    `netns_path` (e.g. /proc/<pid>/ns/net or a bind-mounted netns file); return
    its result or raise its exception. The thread ends afterwards, so no other
    code ever runs in that namespace by accident."""
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:  # handed to the caller
            error.append(exc)

    t = threading.Thread(target=body, name="berth-netns", daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


def bind_dns_sockets(host: str = "127.0.0.11", port: int = 53) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on host:port in the current thread's
    namespace. IP_FREEBIND lets the bind succeed even before `lo` is up."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        for s in (udp, tcp):
            s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            s.set_inheritable(False)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind((host, port))
        tcp.bind((host, port))
        tcp.listen(128)
        udp.setblocking(False)
        tcp.setblocking(False)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp
