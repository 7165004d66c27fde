"""A busybox rootfs tar shaped like the official image, from busybox-static.

The official image is one static busybox in /bin with every applet as a hard
link beside it, a buildroot-style /etc/passwd and /etc/group, and a few empty
directories. Everything is root-owned and stamped with one fixed time
(SOURCE_DATE_EPOCH, else the binary's own mtime from the package), so two
bootstraps on the same host give the same diff ID and so the same image ID.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from berth.errors import System

BUSYBOX_PATH = "/bin/busybox"
_INSTALL_HINT = "run: apt-get install busybox-static"

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""

GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nobody:x:65534:
"""

NSSWITCH = """\
passwd:    files
group:     files
shadow:    files
hosts:     files dns
networks:  files
protocols: files
services:  files
"""

# (path, mode): parents before children, as a tar from a real tree would be.
DIRECTORIES = [
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("etc/network", 0o755),
    ("etc/network/if-down.d", 0o755),
    ("etc/network/if-post-down.d", 0o755),
    ("etc/network/if-pre-up.d", 0o755),
    ("etc/network/if-up.d", 0o755),
    ("home", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("sys", 0o755),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/spool", 0o755),
    ("var/spool/mail", 0o755),
    ("var/www", 0o755),
]


def _shadow() -> str:
    users = [line.split(":", 1)[0] for line in PASSWD.splitlines()]
    return "".join(f"{u}:*:10933:0:99999:7:::\n" for u in users)


def is_static_elf(path: str) -> bool:
    """True for an ELF executable without a PT_INTERP (dynamic loader) entry."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if len(ident) < 64 or ident[:4] != b"\x7fELF":
            return False
        is64 = ident[4] == 2
        endian = "<" if ident[5] == 1 else ">"
        if is64:
            phoff, = struct.unpack_from(endian + "Q", ident, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
        else:
            phoff, = struct.unpack_from(endian + "I", ident, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", ident, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _applets(binary: str) -> list[str]:
    """Applet names, from `busybox --list-full` (or `--list` on old builds)."""
    for flag in ("--list-full", "--list"):
        try:
            proc = subprocess.run([binary, flag], capture_output=True, text=True, timeout=30, check=False)
        except OSError as e:
            raise System(f"cannot run {binary}: {e.strerror}") from None
        if proc.returncode == 0 and proc.stdout.strip():
            names = {line.rsplit("/", 1)[-1] for line in proc.stdout.split()}
            names.discard("busybox")
            names.discard("linuxrc")
            return sorted(n for n in names if n and "/" not in n)
    raise System(f"{binary} --list-full failed: is it a working busybox? ({_INSTALL_HINT})")


def _version(binary: str) -> str:
    try:
        proc = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "busybox"
    first = (proc.stdout or proc.stderr).splitlines()[:1]
    return first[0].split(" multi-call")[0] if first else "busybox"


def _epoch(binary: str) -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if raw.isdigit():
        return int(raw)
    return int(os.stat(binary).st_mtime)


def _entry(name: str, kind: bytes, mode: int, mtime: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = mtime
    ti.size = size
    ti.linkname = linkname
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def write_busybox_rootfs(
    out: BinaryIO,
    progress: Callable[[str], None],
    *,
    binary: str = BUSYBOX_PATH,
) -> None:
    """Write the uncompressed rootfs tar of a busybox image to `out`."""
    if not os.path.isfile(binary):
        raise System(f"busybox-static is not installed: {binary} is missing ({_INSTALL_HINT})")
    if not is_static_elf(binary):
        raise System(
            f"{binary} is not a statically linked busybox (the 'busybox' package is dynamic; {_INSTALL_HINT})"
        )
    applets = _applets(binary)
    mtime = _epoch(binary)
    progress(f"I: {_version(binary)}: {len(applets)} applets")

    with tarfile.open(fileobj=out, mode="w|", format=tarfile.USTAR_FORMAT) as tf:
        for path, mode in DIRECTORIES:
            tf.addfile(_entry(path, tarfile.DIRTYPE, mode, mtime))
        size = os.path.getsize(binary)
        with open(binary, "rb") as f:
            tf.addfile(_entry("bin/busybox", tarfile.REGTYPE, 0o755, mtime, size), f)
        for name in applets:
            tf.addfile(_entry(f"bin/{name}", tarfile.LNKTYPE, 0o755, mtime, linkname="bin/busybox"))
        for path, text, mode in (
            ("etc/group", GROUP, 0o644),
            ("etc/nsswitch.conf", NSSWITCH, 0o644),
            ("etc/passwd", PASSWD, 0o644),
            ("etc/shadow", _shadow(), 0o640),
        ):
            data = text.encode()
            tf.addfile(_entry(path, tarfile.REGTYPE, mode, mtime, len(data)), io.BytesIO(data))
    progress("I: busybox rootfs written")
