"""A corpus of hostile tar streams (issue 10): each one tries to write outside where it
belongs, or to exhaust the daemon. Used through every entry point that unpacks a
tar: import, load, cp and build contexts (tests/integration/test_hostile_input.py).

Every case writes (or points) at MARKER, an absolute path on the host: after any
operation, MARKER must not exist.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass

from isal import igzip

UP = "../" * 40


@dataclass
class Case:
    name: str
    data: bytes
    refused: bool  # True: the operation must fail with a clear error; False: contained


def _tar(entries: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def _e(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644, link: str = "",
       major: int = 0, minor: int = 0) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime = kind, mode, link, 1_600_000_000
    info.devmajor, info.devminor = major, minor
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def corpus(marker: str) -> list[Case]:
    """Hostile tars aimed at `marker` (an absolute path whose parent exists)."""
    rel = marker.lstrip("/")
    parent = rel.rsplit("/", 1)[0]
    leaf = rel.rsplit("/", 1)[1]
    deep = "/".join(["d"] * 10_000)
    return [
        Case("dotdot-file", _tar([_e(UP + rel, data=b"pwned")]), refused=True),
        Case("absolute-name", _tar([_e("/" + rel, data=b"contained")]), refused=False),
        Case("absolute-symlink-then-write", _tar([
            _e("evil", tarfile.SYMTYPE, link="/" + parent),
            _e("evil/" + leaf, data=b"pwned")]), refused=True),
        Case("chained-symlinks", _tar([
            _e("a", tarfile.SYMTYPE, link="b"),
            _e("b", tarfile.SYMTYPE, link="c/" + UP),
            _e("c", tarfile.DIRTYPE, mode=0o755),
            _e("a/" + rel, data=b"pwned")]), refused=True),
        Case("relative-symlink-escape", _tar([
            _e("up", tarfile.SYMTYPE, link=UP + parent),
            _e("up/" + leaf, data=b"pwned")]), refused=True),
        Case("hardlink-to-outside", _tar([_e("h", tarfile.LNKTYPE, link=UP + "etc/passwd")]), refused=True),
        Case("absolute-hardlink", _tar([_e("h", tarfile.LNKTYPE, link="/etc/shadow")]), refused=True),
        Case("symlink-swapped-under-later-entry", _tar([
            _e("d", tarfile.DIRTYPE, mode=0o755),
            _e("d/ok", data=b"fine"),
            _e("d", tarfile.SYMTYPE, link="/" + parent),
            _e("d/" + leaf, data=b"pwned")]), refused=True),
        Case("device-nodes", _tar([
            _e("mem", tarfile.CHRTYPE, major=1, minor=1, mode=0o666),
            _e("sda", tarfile.BLKTYPE, major=8, minor=0, mode=0o666),
            _e("ok", data=b"fine")]), refused=False),
        Case("setuid-file", _tar([_e("suid", data=b"#!/bin/sh\n", mode=0o4755)]), refused=False),
        Case("ten-thousand-deep", _tar([_e(deep + "/leaf", data=b"deep")]), refused=False),
        Case("claimed-huge-file", _claimed_huge(), refused=True),
        Case("huge-sparse-file", _sparse_tar(), refused=False),
    ]


_SPARSE: list[bytes] = []


def _sparse_tar(size: int = 8 << 30) -> bytes:
    """GNU tar's --sparse archive of an 8 GiB file that is one hole and 4 bytes (~10 kB):
    unpacking it must stay sparse, not write 8 GiB."""
    if not _SPARSE:
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "sparse"), "wb") as f:
                f.truncate(size)
                f.seek(size)
                f.write(b"end\n")
            _SPARSE.append(subprocess.run(["tar", "--sparse", "--format=gnu", "-C", d, "-cf", "-", "sparse"],
                                          check=True, capture_output=True).stdout)
    return _SPARSE[0]


def _claimed_huge() -> bytes:
    """A header that claims a 1 TB file, followed by almost nothing: must not allocate or hang."""
    info = tarfile.TarInfo("huge")
    info.size = 1 << 40
    header = info.tobuf(tarfile.PAX_FORMAT)
    return header + b"\0" * 4096


def decompression_bomb(size: int = 1 << 30) -> bytes:
    """A gzip'd tar holding one `size`-byte file of zeros (~1 MB compressed per GB)."""
    info = tarfile.TarInfo("zeros")
    info.size = size
    raw = io.BytesIO()
    with igzip.open(raw, "wb", compresslevel=1) as gz:
        gz.write(info.tobuf(tarfile.PAX_FORMAT))
        block = b"\0" * (1 << 20)
        for _ in range(size // len(block)):
            gz.write(block)
        gz.write(b"\0" * 1024)
    return raw.getvalue()


def docker_archive(layer: bytes, tag: str) -> bytes:
    """A `docker save`-style archive with one layer, for `docker load`."""
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "history": [{}]}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]).encode()
    return _tar([_e("layer", tarfile.DIRTYPE, mode=0o755), _e("layer/layer.tar", data=layer),
                 _e(config_name, data=config), _e("manifest.json", data=manifest)])


def build_context(hostile: bytes) -> bytes:
    """A build context: the hostile entries plus a Dockerfile that copies everything."""
    buf = io.BytesIO(hostile)
    entries = []
    with tarfile.open(fileobj=buf, mode="r:") as tar:
        try:
            for member in tar:
                data = tar.extractfile(member).read() if member.isreg() and member.size < (1 << 20) else b""
                if member.isreg() and member.size >= (1 << 20):
                    continue
                entries.append((member, data))
        except tarfile.TarError:
            pass
    entries.append(_e("Dockerfile", data=b"FROM scratch\nCOPY . /\n"))
    return _tar(entries)
