"""Sockets created inside another network namespace.

A socket belongs to the namespace it was created in for its whole life, so the
daemon can serve a container's 127.0.0.11:53 from its own event loop: a
short-lived thread enters the container's namespace with setns(2) (which only
moves the calling thread), creates and binds the sockets, and ends. The rest of
the daemon never leaves its own namespace.

Like docker, the sockets listen on random ports and a NAT rule in the container's
own namespace sends 127.0.0.11:53 there, so port 53 stays free for the
container's own DNS server (dnsmasq, coredns... binding 0.0.0.0:53). The rule is
loaded by `nft` run from that thread (a child process inherits the thread's
namespace). Without nft or NAT support the sockets bind 127.0.0.11:53 itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import asyncio
import os
import shutil
import socket
import subprocess
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


async def in_netns_async(netns_path: str, fn: Callable[[], T]) -> T:
    """in_netns without blocking the event loop while `fn` runs (it may exec nft)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()

    def finish(value: object, exc: BaseException | None) -> None:
        if done.cancelled():  # nobody will take the sockets: close them
            for item in value if isinstance(value, tuple) else ():
                if isinstance(item, socket.socket):
                    item.close()
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            done.set_result(value)

    def body() -> None:
        try:
            value = in_netns(netns_path, fn)
        except BaseException as exc:
            loop.call_soon_threadsafe(finish, None, exc)
            return
        loop.call_soon_threadsafe(finish, value, None)

    threading.Thread(target=body, name="berth-netns-wait", daemon=True).start()
    return await done


_NFT_TABLE = "berth_dns"


def redirect_script(host: str, udp_port: int, tcp_port: int) -> str:
    """One atomic nft batch: (re)create the table that sends host:53 to our ports."""
    return (
        f"table ip {_NFT_TABLE}\n"
        f"delete table ip {_NFT_TABLE}\n"
        f"table ip {_NFT_TABLE} {{\n"
        "  chain output {\n"
        "    type nat hook output priority -100; policy accept;\n"
        f"    ip daddr {host} udp dport 53 dnat to {host}:{udp_port}\n"
        f"    ip daddr {host} tcp dport 53 dnat to {host}:{tcp_port}\n"
        "  }\n"
        "}\n"
    )


def _nft() -> str | None:
    return shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if os.path.exists(p)), None)


def open_dns_sockets(host: str = "127.0.0.11") -> tuple[socket.socket, socket.socket, bool]:
    """The server's sockets in the current thread's namespace: on random ports behind
    a NAT rule when nft can load one (True), else bound to host:53 (False)."""
    nft = _nft()
    if nft is not None:
        udp, tcp = bind_dns_sockets(host, 0)
        try:
            script = redirect_script(host, udp.getsockname()[1], tcp.getsockname()[1])
            r = subprocess.run([nft, "-f", "-"], input=script.encode(), capture_output=True, timeout=10,
                               env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
            if r.returncode == 0:
                return udp, tcp, True
        except (OSError, subprocess.SubprocessError):
            pass
        udp.close()
        tcp.close()
    udp, tcp = bind_dns_sockets(host, 53)
    return udp, tcp, False


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
