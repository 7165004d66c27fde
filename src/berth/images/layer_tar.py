"""Apply one image layer tar to an empty overlayfs layer directory, safely.

Layer tars come from registries, `docker load` archives and `docker import`
uploads: they are hostile input. Docker contains them by extracting inside a
chroot; Berth instead never resolves a path through the filesystem: every
entry is reached by walking its parent components one at a time with
`O_NOFOLLOW | O_DIRECTORY` relative to an already-open directory fd, so a
symlink planted by an earlier entry (`a -> /etc`, then `a/passwd`) is refused
instead of followed, and `..` is resolved lexically before anything touches
the disk.

AUFS-style whiteouts in the tar (`.wh.name`, `.wh..wh..opq`) become overlayfs
whiteouts (a 0/0 character device) and opaque directories
(`trusted.overlay.opaque=y`), since the layer directory is mounted as an
overlay lower/upper directory.

The diff ID is the sha256 of the whole uncompressed stream, read to EOF, as
docker computes it.
"""

from __future__ import annotations

import bz2
import errno
import hashlib
import logging
import lzma
import os
import stat
import tarfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

import zstandard
from isal import igzip

from berth.errors import InvalidParameter, System
from berth.fileio import write_stream
from berth.snapshots.remove import remove_tree

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
AUFS_LINK_DIR = ".wh..wh.plnk"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

_COPY_CHUNK = 1 << 20
_MAX_OPEN_DIRS = 64
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_XATTR_PREFIX = "SCHILY.xattr."
# Write failures the tar itself provokes (absurd names, oversized xattrs),
# as opposed to the host failing (ENOSPC, EIO...).
_BAD_INPUT_ERRNOS = {errno.ENAMETOOLONG, errno.E2BIG, errno.ERANGE, errno.EINVAL}


@dataclass
class LayerResult:
    diff_id: str  # "sha256:<hex>" of the uncompressed tar stream
    size: int  # bytes of regular-file content, like docker's layer Size


class _StreamError(Exception):
    """The input could not be read or decompressed (not a write failure)."""


# --------------------------------------------------------------------------
# input: decompression and hashing



class PrefixedReader:
    """A reader that replays the magic bytes we peeked before the rest."""

    def __init__(self, prefix: bytes, raw: BinaryIO) -> None:
        self._prefix = prefix
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n is None or n < 0:
                data, self._prefix = self._prefix + self._raw.read(), b""
                return data
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            return data
        return self._raw.read(n)

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def _read_exactly(raw: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        try:
            chunk = raw.read(n - len(out))
        except OSError as e:
            raise _StreamError(f"failed to read layer: {e}") from e
        if not chunk:
            break
        out += chunk
    return out


def _decompressed(raw: BinaryIO) -> tuple[object, str]:
    """Wrap `raw` in the decompressor its magic bytes call for."""
    magic = _read_exactly(raw, 6)
    src = PrefixedReader(magic, raw)
    if magic.startswith(b"\x1f\x8b"):
        return igzip.IGzipFile(fileobj=src, mode="rb"), "gzip"  # type: ignore[arg-type]
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        return _ZstdReader(src), "zstd"
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(src), "bzip2"  # type: ignore[arg-type]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(src), "xz"  # type: ignore[arg-type]
    return src, "tar"


class _ZstdReader:
    """Multi-frame zstd that notices a truncated stream.

    zstandard's stream_reader and read_to_iter end quietly when the input
    stops mid-frame, which would turn a cut-off download into a smaller
    layer. Input goes in small pieces so a crafted stream of RLE blocks cannot
    balloon one call's output.
    """

    _IN_CHUNK = 8192

    def __init__(self, src: PrefixedReader) -> None:
        self._src = src
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._started = False
        self._done = False

    def read(self, n: int = -1) -> bytes:
        while not self._done:
            chunk = self._src.read(self._IN_CHUNK)
            if not chunk:
                self._done = True
                if self._started and not self._obj.eof:
                    raise EOFError("zstd stream ended before the end of its frame")
                return b""
            out = self._obj.decompress(chunk)
            self._started = True
            while self._obj.eof and self._obj.unused_data:
                rest = self._obj.unused_data
                self._obj = self._dctx.decompressobj()
                out += self._obj.decompress(rest)
            if self._obj.eof:
                self._started = False
                self._obj = self._dctx.decompressobj()
            if out:
                return out
        return b""


class _HashingReader:
    """Feeds tarfile while hashing and counting every uncompressed byte.

    tarfile asks for 10 KiB at a time; pulling 1 MiB from the decompressor and
    slicing it out keeps per-call overhead of zstd/bz2/xz readers low.
    """

    def __init__(self, src: object, compression: str) -> None:
        self._src = src
        self._compression = compression
        self._buf = memoryview(b"")
        self.sha = hashlib.sha256()
        self.total = 0

    def _fill(self) -> None:
        try:
            data = self._src.read(_COPY_CHUNK)  # type: ignore[attr-defined]
        except Exception as e:  # zlib, lzma, zstd, isal, EOFError, OSError: all mean unreadable
            raise _StreamError(self._describe(e)) from e
        self.sha.update(data)
        self.total += len(data)
        self._buf = memoryview(data)

    def read(self, n: int = -1) -> bytes:
        if not self._buf:
            self._fill()
        if n is None or n < 0:
            parts = []
            while self._buf:
                parts.append(bytes(self._buf))
                self._fill()
            return b"".join(parts)
        out = self._buf[:n]
        self._buf = self._buf[n:]
        return bytes(out)

    def _describe(self, e: BaseException) -> str:
        what = "layer" if self._compression == "tar" else f"{self._compression} layer"
        return f"failed to read {what}: {e}" if str(e) else f"failed to read {what}: {type(e).__name__}"

    def drain(self) -> None:
        self._buf = memoryview(b"")
        while True:
            self._fill()
            if not self._buf:
                return


class _TarInfo(tarfile.TarInfo):
    """Remembers why tarfile stopped: it treats a corrupt or truncated header
    in the middle of an archive as a normal end, which would leave a layer
    silently half-applied."""

    @classmethod
    def fromtarfile(cls, tf):  # type: ignore[no-untyped-def,override]
        try:
            return super().fromtarfile(tf)
        except tarfile.HeaderError as e:
            tf.berth_stop = e
            raise


# --------------------------------------------------------------------------
# output: contained writes below the layer directory


def clean_parts(name: str) -> tuple[str, ...] | None:
    """Lexically clean a tar path into components; None when `..` climbs above the root.

    As with docker, a leading `/` makes the name rooted, so `/../x` is `x`,
    while a relative `../x` escapes.
    """
    rooted = name.startswith("/")
    out: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            elif not rooted:
                return None
            continue
        out.append(part)
    return tuple(out)


def _components(name: str, entry: str) -> tuple[str, ...]:
    parts = clean_parts(name)
    if parts is None:
        raise InvalidParameter(f'invalid tar entry "{entry}": path is outside of the layer root')
    return parts


class _Dirs:
    """Directory fds reached without following symlinks, with a small LRU.

    An fd keeps pointing at the directory it opened even if the tar later
    replaces that path, so entries that remove things must `forget` them.
    """

    def __init__(self, root_fd: int) -> None:
        self.root = root_fd
        self._open: OrderedDict[tuple[str, ...], int] = OrderedDict()

    def get(self, parts: tuple[str, ...], entry: str, create: bool = True) -> int:
        if not parts:
            return self.root
        fd = self._open.get(parts)
        if fd is not None:
            self._open.move_to_end(parts)
            return fd
        # Walk down from the deepest directory already open (a loop, not recursion:
        # a hostile layer may nest 10,000 directories).
        depth = len(parts) - 1
        while depth and parts[:depth] not in self._open:
            depth -= 1
        fd = self.root
        if depth:
            fd = self._open[parts[:depth]]
            self._open.move_to_end(parts[:depth])
        for i in range(depth, len(parts)):
            fd = self._open_child(fd, parts[:i + 1], entry, create)
        return fd

    def _open_child(self, parent: int, parts: tuple[str, ...], entry: str, create: bool) -> int:
        name = parts[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            # Docker creates missing parents as root-owned 0755 directories.
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            os.fchmod(fd, 0o755)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise InvalidParameter(
                    f'invalid tar entry "{entry}": parent "{"/".join(parts)}" is not a directory'
                    " (a symlink or file); refusing to follow it"
                ) from None
            raise
        self._open[parts] = fd
        while len(self._open) > _MAX_OPEN_DIRS:
            _, old = self._open.popitem(last=False)
            os.close(old)
        return fd

    def forget(self, parts: tuple[str, ...]) -> None:
        n = len(parts)
        for key in [k for k in self._open if k[:n] == parts]:
            os.close(self._open.pop(key))

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def _mtime_ns(m: tarfile.TarInfo) -> int:
    raw = m.pax_headers.get("mtime")
    if raw:
        try:
            return int(Decimal(raw) * 1_000_000_000)
        except (InvalidOperation, ValueError):
            pass
    return int(m.mtime) * 1_000_000_000


def _remove(parent: int, name: str) -> None:
    """Remove whatever is at name (docker: replace unless dir over dir)."""
    try:
        st = os.lstat(name, dir_fd=parent)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        remove_tree(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)


class _Applier:
    def __init__(self, dest_fd: int, warn: Callable[[str], None]) -> None:
        self.dirs = _Dirs(dest_fd)
        self.warn = warn
        self.size = 0
        self.dir_times: list[tuple[tuple[str, ...], int]] = []
        self.aufs_links = False
        self.current = ""

    # -- dispatch ------------------------------------------------------------

    def apply(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = _components(m.name, m.name)
        if not parts:
            if m.isdir():
                return  # the layer root keeps the attributes its creator gave it
            raise InvalidParameter(f'invalid tar entry "{m.name}": only a directory may stand for the layer root')
        base = parts[-1]
        if parts[0].startswith(WHITEOUT_META_PREFIX) and parts != (WHITEOUT_OPAQUE,):
            # AUFS metadata at the root. Only files of its hardlink store
            # matter: later hardlinks may point at them. They are extracted
            # in place, and the store is removed once the layer is done.
            if not (parts[0] == AUFS_LINK_DIR and len(parts) == 2 and m.isreg()):
                return
            self.aufs_links = True
        elif base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parts, m)
            return
        parent = self.dirs.get(parts[:-1], m.name)
        if m.isreg():
            self._file(tf, parts, parent, m)
        elif m.isdir():
            self._directory(parts, parent, m)
        elif m.issym():
            self._replace(parts, parent, lambda: os.symlink(m.linkname, base, dir_fd=parent))
            self._metadata_by_name(parent, base, m, is_link=True)
        elif m.islnk():
            self._hardlink(parts, parent, m)
        elif m.ischr() or m.isblk():
            if m.ischr() and m.devmajor == 0 and m.devminor == 0:
                self._replace(parts, parent, lambda: os.mknod(base, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent))
                os.chown(base, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
            else:
                kind = "character" if m.ischr() else "block"
                self.warn(f"skipping {kind} device {m.name} ({m.devmajor}:{m.devminor}): containers get their own /dev")
        elif m.isfifo():
            self._replace(parts, parent, lambda: os.mkfifo(base, 0o600, dir_fd=parent))
            self._metadata_by_name(parent, base, m, is_link=False)
        else:
            raise InvalidParameter(f'unhandled tar header type {m.type!r} for "{m.name}"')

    def _replace(self, parts: tuple[str, ...], parent: int, create: Callable[[], None]) -> None:
        """Create; if something is already there, remove it and create again."""
        try:
            create()
        except FileExistsError:
            self.dirs.forget(parts)
            _remove(parent, parts[-1])
            create()

    # -- entry kinds ---------------------------------------------------------

    def _file(self, tf: tarfile.TarFile, parts: tuple[str, ...], parent: int, m: tarfile.TarInfo) -> None:
        base = parts[-1]
        try:
            fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=parent)
        except FileExistsError:
            self.dirs.forget(parts)
            _remove(parent, base)
            fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=parent)
        try:
            if m.size:
                src = tf.extractfile(m)
                assert src is not None
                write_stream(fd, src, m.size)  # zero runs become holes: sparse stays sparse
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)
            self._xattrs(fd, m, follow=True)
            self._utime(m, lambda ns: os.utime(fd, ns=ns))
        finally:
            os.close(fd)
        self.size += m.size

    def _directory(self, parts: tuple[str, ...], parent: int, m: tarfile.TarInfo) -> None:
        base = parts[-1]
        try:
            os.mkdir(base, 0o700, dir_fd=parent)
        except FileExistsError:
            st = os.lstat(base, dir_fd=parent)
            if not stat.S_ISDIR(st.st_mode):
                self.dirs.forget(parts)
                os.unlink(base, dir_fd=parent)
                os.mkdir(base, 0o700, dir_fd=parent)
        fd = self.dirs.get(parts, m.name, create=False)
        os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
        self._xattrs(fd, m, follow=True)
        self.dir_times.append((parts, _mtime_ns(m)))

    def _hardlink(self, parts: tuple[str, ...], parent: int, m: tarfile.TarInfo) -> None:
        base = parts[-1]
        try:
            target = _components(m.linkname, m.name)
        except InvalidParameter:
            target = ()
        if not target:
            raise InvalidParameter(f'invalid hardlink "{m.name}" -> "{m.linkname}": target is outside of the layer')
        try:
            tparent = self.dirs.get(target[:-1], m.name, create=False)
            self._replace(
                parts,
                parent,
                lambda: os.link(target[-1], base, src_dir_fd=tparent, dst_dir_fd=parent, follow_symlinks=False),
            )
        except FileNotFoundError:
            raise InvalidParameter(
                f'invalid hardlink "{m.name}" -> "{m.linkname}": target is not in the layer'
            ) from None
        except PermissionError:
            raise InvalidParameter(f'invalid hardlink "{m.name}" -> "{m.linkname}": target is a directory') from None
        st = os.lstat(base, dir_fd=parent)
        self._metadata_by_name(parent, base, m, is_link=stat.S_ISLNK(st.st_mode), xattrs=False)

    def _whiteout(self, parts: tuple[str, ...], m: tarfile.TarInfo) -> None:
        base = parts[-1]
        parent = self.dirs.get(parts[:-1], m.name)
        if base == WHITEOUT_OPAQUE:
            os.setxattr(parent, OVERLAY_OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # other AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless here
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise InvalidParameter(f'invalid whiteout "{m.name}"')
        self._replace(parts[:-1] + (name,), parent, lambda: os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent))
        os.chown(name, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)

    # -- metadata ------------------------------------------------------------

    def _metadata_by_name(
        self, parent: int, base: str, m: tarfile.TarInfo, *, is_link: bool, xattrs: bool = True
    ) -> None:
        os.chown(base, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
        if not is_link:
            # Not a symlink (we just made it), so following cannot leave dest.
            os.chmod(base, m.mode & 0o7777, dir_fd=parent)
        if xattrs:
            self._xattrs(f"/proc/self/fd/{parent}/{base}", m, follow=False)
        self._utime(m, lambda ns: os.utime(base, ns=ns, dir_fd=parent, follow_symlinks=False))

    def _utime(self, m: tarfile.TarInfo, setter: Callable[[tuple[int, int]], None]) -> None:
        ns = _mtime_ns(m)
        try:
            setter((ns, ns))
        except (OverflowError, ValueError):
            self.warn(f"cannot set modification time of {m.name}: out of range")

    def _xattrs(self, target: int | str, m: tarfile.TarInfo, *, follow: bool) -> None:
        for key, value in m.pax_headers.items():
            if not key.startswith(_XATTR_PREFIX):
                continue
            name = key[len(_XATTR_PREFIX):]
            if name.startswith("trusted.overlay."):
                # Only whiteout entries may steer overlayfs (redirects, opaque).
                self.warn(f"ignoring overlay attribute {name} on {m.name}")
                continue
            raw = value.encode("utf-8", "surrogateescape")
            try:
                os.setxattr(target, name, raw, follow_symlinks=follow)
            except OSError as e:
                if e.errno in (errno.ENOTSUP, errno.EPERM) or name.startswith("security."):
                    self.warn(f"cannot set extended attribute {name} on {m.name}: {e.strerror}")
                    continue
                raise

    def finish(self) -> None:
        """Directory times last: creating their content changed them."""
        if self.aufs_links:
            self.dirs.forget((AUFS_LINK_DIR,))
            _remove(self.dirs.root, AUFS_LINK_DIR)
        for parts, ns in self.dir_times:
            try:
                fd = self.dirs.get(parts, "/".join(parts), create=False)
            except (OSError, InvalidParameter):
                continue  # replaced or removed by a later entry
            try:
                os.utime(fd, ns=(ns, ns))
            except (OverflowError, ValueError):
                self.warn(f"cannot set modification time of {'/'.join(parts)}: out of range")


# --------------------------------------------------------------------------


def apply_layer(
    stream: BinaryIO, dest: str, *, on_warning: Callable[[str], None] | None = None
) -> LayerResult:
    """Extract a (possibly compressed) layer tar into the empty directory `dest`.

    Raises InvalidParameter for corrupt, truncated or hostile input, System for
    failures writing `dest`. On error `dest` is left partly written: the caller
    owns it and deletes it.
    """
    warn = on_warning or log.warning
    try:
        dest_fd = os.open(dest, _DIR_FLAGS)
    except OSError as e:
        raise System(f"cannot open layer directory {dest}: {e.strerror}") from None
    applier = _Applier(dest_fd, warn)
    reader: _HashingReader | None = None
    try:
        try:
            src, compression = _decompressed(stream)
            reader = _HashingReader(src, compression)
            _extract(reader, applier)
            reader.drain()
        except _StreamError as e:
            raise InvalidParameter(str(e)) from None
        except tarfile.TarError as e:
            raise InvalidParameter(f"invalid tar header: {e}") from None
        except UnicodeError as e:
            raise InvalidParameter(f"invalid tar header: {e}") from None
        except InvalidParameter:
            raise
        except ValueError as e:  # e.g. an embedded NUL in a name
            raise InvalidParameter(f"invalid tar entry: {e}") from None
        except OSError as e:
            entry = f' at entry "{applier.current}"' if applier.current else ""
            if e.errno in _BAD_INPUT_ERRNOS:
                raise InvalidParameter(f"invalid layer{entry}: {e.strerror or e}") from None
            # lower case as Go prints errno texts: docker's "...: no space left on device"
            raise System(f"failed to apply layer to {dest}{entry}: {(e.strerror or str(e)).lower()}") from None
        applier.finish()
    finally:
        applier.dirs.close()
        os.close(dest_fd)
    assert reader is not None
    return LayerResult(diff_id="sha256:" + reader.sha.hexdigest(), size=applier.size)


def _extract(reader: _HashingReader, applier: _Applier) -> None:
    try:
        tf = tarfile.open(fileobj=reader, mode="r|", tarinfo=_TarInfo)  # type: ignore[call-overload]  # noqa: SIM115
    except tarfile.ReadError:
        if reader.total == 0:
            return  # an empty stream is an empty layer, as Go's tar reader sees it
        raise
    with tf:
        while True:
            m = tf.next()
            if m is None:
                break
            applier.current = m.name
            applier.apply(tf, m)
            # Stream mode keeps every header read; a huge layer needs none of them.
            tf.members.clear()
        stop = getattr(tf, "berth_stop", None)
        if stop is not None and not isinstance(stop, (tarfile.EOFHeaderError, tarfile.EmptyHeaderError)):
            raise InvalidParameter(f"invalid tar header at offset {tf.offset}: {stop} (truncated or corrupt archive)")
