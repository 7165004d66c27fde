"""A minbase Debian rootfs tar (bash, apt) made by mmdebstrap.

mmdebstrap resolves and installs the Essential set plus apt from the host's
Debian mirror and streams the finished tree as a tar on stdout, so the image
never has to exist as a directory of ours. Its hooks shape the result like
docker's debian images: no apt lists or caches, apt configured to keep
layers small, no host resolv.conf/hostname, services never started by
package scripts. A `-slim` tag also leaves out docs, man pages and locales.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlparse

from berth.errors import InvalidParameter, System

_CODENAMES = {"11": "bullseye", "12": "bookworm", "13": "trixie"}
_SUITES = {"bullseye", "bookworm", "trixie", "forky", "sid", "unstable", "testing", "stable", "oldstable"}
_NO_UPDATES = {"sid", "unstable"}
log = logging.getLogger(__name__)

_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_DEFAULT_SECURITY = "http://deb.debian.org/debian-security"
_STDERR_TAIL = 15
_CHUNK = 1 << 20
# mmdebstrap's own status lines; the rest (hook scripts echoed back, dpkg
# chatter) only goes into the error report.
_STATUS_RE = re.compile(r"^[IWE]: ")

# Written by a customize hook, i.e. after apt inside the chroot has finished:
# earlier, apt runs on the host and these hooks would clean the host's cache.
_APT_CONF = {
    "docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb'
        ' /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb'
        ' /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
}

_SLIM_DPKG_OPTS = [
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/share/linda/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
]


@dataclass(frozen=True)
class DebianVariant:
    suite: str
    slim: bool = False


def _host_codename() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return "bookworm"
    if fields.get("ID", "").strip('"') == "debian":
        name = fields.get("VERSION_CODENAME", "").strip('"')
        if name in _SUITES:
            return name
    return "bookworm"


def resolve(tag: str) -> DebianVariant:
    """Map an image tag (`latest`, `bookworm`, `12-slim`...) to a suite."""
    slim = tag.endswith("-slim") or tag == "slim"
    base = tag.removesuffix("-slim") if tag != "slim" else "latest"
    if base == "latest":
        return DebianVariant(_host_codename(), slim)
    suite = _CODENAMES.get(base, base)
    if suite not in _SUITES:
        known = ", ".join(sorted(_SUITES | set(_CODENAMES)))
        raise InvalidParameter(f"cannot bootstrap debian:{tag}: unknown suite (known: latest, {known}, each with -slim)")
    return DebianVariant(suite, slim)


# -- mirrors -----------------------------------------------------------------


def _source_entries(apt_dir: str) -> list[tuple[str, list[str]]]:
    """(uri, suites) of every enabled `deb` source on the host."""
    entries: list[tuple[str, list[str]]] = []
    one_line = [os.path.join(apt_dir, "sources.list")]
    deb822: list[str] = []
    listdir = os.path.join(apt_dir, "sources.list.d")
    if os.path.isdir(listdir):
        for name in sorted(os.listdir(listdir)):
            path = os.path.join(listdir, name)
            if name.endswith(".list"):
                one_line.append(path)
            elif name.endswith(".sources"):
                deb822.append(path)
    for path in one_line:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()  # type: ignore[assignment]
            if len(line) >= 3 and line[0] == "deb":
                entries.append((line[1], [line[2]]))
    for path in deb822:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
                continue
            for uri in fields.get("uris", "").split():
                entries.append((uri, fields.get("suites", "").split()))
    return entries


def host_mirrors(apt_dir: str = "/etc/apt") -> tuple[str, str]:
    """The host's Debian archive and security mirrors (deb.debian.org if none)."""
    mirror = security = None
    for uri, suites in _source_entries(apt_dir):
        path = urlparse(uri).path.rstrip("/")
        if path.endswith("/debian-security") or any(s.endswith("-security") for s in suites):
            security = security or uri.rstrip("/")
        elif path.endswith("/debian"):
            mirror = mirror or uri.rstrip("/")
    return mirror or _DEFAULT_MIRROR, security or _DEFAULT_SECURITY


def sources_for(suite: str, mirror: str, security: str) -> list[str]:
    lines = [f"deb {mirror} {suite} main"]
    if suite not in _NO_UPDATES:
        lines.append(f"deb {mirror} {suite}-updates main")
        if suite not in ("testing",):
            lines.append(f"deb {security} {suite}-security main")
    return lines


# -- running mmdebstrap ------------------------------------------------------


# Installed before any package (and left in the image, as docker's debian
# images have it) so that no maintainer script starts a service.
_SETUP_HOOK = (
    'mkdir -p "$1/usr/sbin" && printf \'#!/bin/sh\\nexit 101\\n\' > "$1/usr/sbin/policy-rc.d"'
    ' && chmod 0755 "$1/usr/sbin/policy-rc.d"'
)


def _customize_hook() -> str:
    steps = [
        "set -e",
        'rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
    ]
    for name, content in _APT_CONF.items():
        quoted = content.replace("'", "'\\''")
        steps.append(f"printf '%s' '{quoted}' > \"$1/etc/apt/apt.conf.d/{name}\"")
    # With Dir::Cache::pkgcache "" set, mmdebstrap's cleanup no longer finds these.
    steps.append('rm -f "$1"/var/cache/apt/*.bin')
    return "\n".join(steps)


def mmdebstrap_command(variant: DebianVariant, mirror: str, security: str, binary: str = "mmdebstrap") -> list[str]:
    mode = "root" if os.geteuid() == 0 else "unshare"
    cmd = [
        binary,
        "--variant=minbase",
        f"--mode={mode}",
        "--format=tar",
        # containers get their own /dev from the runtime; a plain ./dev/ is added by us
        "--skip=output/dev",
        # ours is in place from the start and must outlive the bootstrap
        "--skip=chroot/policy-rc.d",
        f"--setup-hook={_SETUP_HOOK}",
        f"--customize-hook={_customize_hook()}",
    ]
    if variant.slim:
        cmd += [f"--dpkgopt={opt}" for opt in _SLIM_DPKG_OPTS]
    cmd += [variant.suite, "-"]
    cmd += sources_for(variant.suite, mirror, security)
    return cmd


def _dev_header() -> bytes:
    """A lone `./dev/` directory entry: docker's images have an empty /dev."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    ti = tarfile.TarInfo("./dev")
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    ti.mtime = int(raw) if raw.isdigit() else int(time.time())
    ti.uname = ti.gname = "root"
    return ti.tobuf(format=tarfile.USTAR_FORMAT)


def write_debian_rootfs(
    variant: DebianVariant,
    out: BinaryIO,
    progress: Callable[[str], None],
    *,
    binary: str = "mmdebstrap",
    mirrors: tuple[str, str] | None = None,
) -> None:
    """Stream a Debian rootfs tar from mmdebstrap into `out`."""
    path = shutil.which(binary)
    if path is None:
        raise System("mmdebstrap is not installed (run: apt-get install mmdebstrap)")
    mirror, security = mirrors or host_mirrors()
    cmd = mmdebstrap_command(variant, mirror, security, path)
    progress(f"I: bootstrapping Debian {variant.suite}{' (slim)' if variant.slim else ''} from {mirror}")
    tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise System(f"cannot run mmdebstrap: {e.strerror}") from None
    assert proc.stdout is not None and proc.stderr is not None
    reader = threading.Thread(target=_relay_stderr, args=(proc.stderr, progress, tail), daemon=True)
    reader.start()
    finished = False
    try:
        out.write(_dev_header())
        while chunk := proc.stdout.read(_CHUNK):
            out.write(chunk)
        rc = proc.wait()
        reader.join()
        finished = True
    finally:
        if not finished:
            proc.kill()
            proc.wait()
            reader.join(timeout=5)
    if rc != 0:
        details = "\n".join(tail)
        raise System(f"mmdebstrap failed (exit status {rc}):\n{details}")


def _relay_stderr(pipe: BinaryIO, progress: Callable[[str], None], tail: collections.deque[str]) -> None:
    """Forward each status line; mmdebstrap redraws progress with `\\r`."""
    buf = b""
    while chunk := pipe.read1(65536):  # type: ignore[attr-defined]
        buf += chunk
        *lines, buf = re.split(rb"[\r\n]", buf)
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                tail.append(line)
                if _STATUS_RE.match(line):
                    try:
                        progress(line)
                    except Exception:  # a broken display must not stall mmdebstrap
                        log.debug("progress callback failed", exc_info=True)
    if buf.strip():
        tail.append(buf.decode("utf-8", "replace").rstrip())
