"""The build context: the client's tar (plain, gzip, bzip2 or xz) unpacked into
a private temporary directory, safely, with a content digest per file.

The context is hostile input like a layer tar: names are cleaned lexically
(`..` may not climb out), every entry is reached by walking its parents with
`O_NOFOLLOW` from the context root (a symlink planted by an earlier entry is
never followed), device nodes and FIFOs are refused. Symlinks themselves are
kept as they are; whoever reads the context (COPY/ADD) resolves them inside
the context root only (`resolve`).

The digests make the COPY/ADD cache key: equal content and metadata give the
same key whatever the files' mtimes, as docker's legacy tarsum did.
"""

from __future__ import annotations

import bz2
import errno
import hashlib
import lzma
import os
import queue
import shutil
import stat
import tarfile
import threading
from dataclasses import dataclass
from typing import BinaryIO, Callable

from isal import igzip

from berth.errors import InvalidParameter
from berth.fileio import write_stream
from berth.images.layer_tar import PrefixedReader, clean_parts

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
_INLINE_MAX = 16 << 20  # larger files skip the writer thread
MAX_SYMLINK_HOPS = 40


@dataclass
class Entry:
    """One context path (relative, '/'-separated, no leading './')."""
    path: str
    kind: str          # "f" file, "d" directory, "l" symlink
    mode: int          # permission bits (and setuid/setgid/sticky)
    size: int
    mtime: int
    linkname: str = ""
    digest: str = ""   # sha256 hex of a file's content


def decompressed(raw: BinaryIO) -> BinaryIO:
    """The context stream, decompressed as its magic bytes say (docker accepts all four)."""
    magic = b""
    while len(magic) < 6:
        chunk = raw.read(6 - len(magic))
        if not chunk:
            break
        magic += chunk
    src = PrefixedReader(magic, raw)
    if magic.startswith(b"\x1f\x8b"):
        return igzip.IGzipFile(fileobj=src, mode="rb")  # type: ignore[arg-type,return-value]
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(src)  # type: ignore[arg-type,return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(src)  # type: ignore[arg-type,return-value]
    return src  # type: ignore[return-value]


class _Writer(threading.Thread):
    """Writes the context's files while the tar is still being parsed, so the
    intake ends when the last header is read and hashed: a build whose steps
    are all cached never waits for the disk. At most WINDOW bytes wait here."""

    WINDOW = 64 << 20

    def __init__(self) -> None:
        super().__init__(name="build-context-writer", daemon=True)
        self.jobs: queue.Queue = queue.Queue()
        self.pending = 0
        self.cond = threading.Condition()
        self.error: BaseException | None = None

    def submit(self, job: Callable[[], None], nbytes: int = 0) -> None:
        with self.cond:
            while self.pending > self.WINDOW and self.error is None and self.is_alive():
                self.cond.wait(0.5)
            self.pending += nbytes
        self.jobs.put((job, nbytes))

    def flush(self) -> None:
        done = threading.Event()
        self.jobs.put((done.set, 0))
        done.wait()

    def finish(self) -> None:
        self.jobs.put(None)

    def run(self) -> None:
        while True:
            item = self.jobs.get()
            if item is None:
                return
            job, nbytes = item
            try:
                if self.error is None or job.__name__ == "set":
                    job()
            except BaseException as e:  # noqa: BLE001 - reported by wait_written
                self.error = e
            finally:
                with self.cond:
                    self.pending -= nbytes
                    self.cond.notify_all()


MAX_DEPTH = 256


def _stashed(name: str) -> bool:
    """Files kept in memory as well: what the daemon reads before the disk is written."""
    base = name.rsplit("/", 1)[-1].lower()
    return "dockerfile" in base or base in (".dockerignore", "containerfile")


class BuildContext:
    """An unpacked context under `root`; `close()` removes it."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.entries: dict[str, Entry] = {}
        self.size = 0
        self.stash: dict[str, bytes] = {}
        self._writer = _Writer()
        self._dir_fds: dict[tuple[str, ...], int] = {}
        self._finished = False

    # ------------------------------------------------------------ intake
    def extract(self, stream: BinaryIO) -> None:
        """Unpack a tar stream (blocking: run it in a thread). Files reach the disk
        through the writer thread; `finish_writes` then `wait_written` before reading them."""
        root_fd = os.open(self.root, _DIR_FLAGS)
        dirs = self._dir_fds
        dirs[()] = root_fd
        self._writer.start()
        try:
            try:
                tar = tarfile.open(fileobj=decompressed(stream), mode="r|")
            except (tarfile.TarError, OSError, EOFError) as e:
                raise InvalidParameter(f"failed to read the build context: {e}") from None
            try:
                members = iter(tar)
                while True:
                    try:
                        info = next(members)
                    except StopIteration:
                        break
                    except tarfile.ReadError as e:
                        # docker's CLI (-f -) sends a tar whose last member is neither padded nor
                        # followed by the end blocks; Go's reader takes that as the end, so do we
                        # (the member's data itself was read whole, or _member would have failed).
                        if "unexpected end of data" in str(e):
                            break
                        raise
                    self._member(tar, info, dirs)
            except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as e:
                if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
                    raise
                raise InvalidParameter(f"failed to read the build context: {e}") from None
        except BaseException:
            self.finish_writes()
            self._writer.join()
            raise

    def finish_writes(self) -> None:
        """After the last entry (and the .dockerignore deletions): directory times,
        then the directory fds are closed and the writer ends."""
        if self._finished:
            return
        self._finished = True

        def last() -> None:
            self.set_times()

        self._writer.submit(last)

        def close_fds() -> None:
            for fd in self._dir_fds.values():
                os.close(fd)
            self._dir_fds.clear()

        close_fds.__name__ = "set"  # runs even after a failed job: the fds must not leak
        self._writer.submit(close_fds)
        self._writer.finish()

    def wait_written(self) -> None:
        """Blocking: every file is on disk (raises what the writer met)."""
        self.finish_writes()
        if self._writer.is_alive() or self._writer.ident is not None:
            self._writer.join()
        if self._writer.error is not None:
            e = self._writer.error
            if isinstance(e, OSError):
                raise InvalidParameter(f"failed to write the build context: {e}") from None
            raise e

    def _dir(self, dirs: dict[tuple[str, ...], int], parts: tuple[str, ...], name: str) -> int:
        fd = dirs.get(parts)
        if fd is not None:
            return fd
        parent = self._dir(dirs, parts[:-1], name)
        try:
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            os.mkdir(parts[-1], 0o755, dir_fd=parent)
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=parent)
            rel = "/".join(parts)
            self.entries.setdefault(rel, Entry(rel, "d", 0o755, 0, 0))
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise InvalidParameter(f'invalid build context entry "{name}": a parent is not a directory '
                                       "(a symlink or file); refusing to follow it") from None
            raise
        dirs[parts] = fd
        return fd

    def _member(self, tar: tarfile.TarFile, info: tarfile.TarInfo, dirs: dict) -> None:
        parts = clean_parts(info.name)
        if parts is None:
            raise InvalidParameter(f'invalid build context entry "{info.name}": path is outside of the context')
        if not parts:
            return  # "./" itself
        if len(parts) > MAX_DEPTH:
            # The builder walks contexts with Python's recursive os.walk/rmtree; a hostile
            # context nesting thousands of directories gets a clear error, not a crash.
            raise InvalidParameter(f'invalid build context entry "{info.name[:200]}...": {len(parts)} directory '
                                   f"levels; build contexts may nest at most {MAX_DEPTH}")
        rel = "/".join(parts)
        parent = self._dir(dirs, parts[:-1], info.name)
        name = parts[-1]
        mode = info.mode & 0o7777
        if info.isdir():
            try:
                os.mkdir(name, 0o755, dir_fd=parent)
            except FileExistsError:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    _remove_at(parent, name)
                    os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            self.entries[rel] = Entry(rel, "d", mode, 0, int(info.mtime))
            return
        if (parts in dirs):
            self._writer.flush()
            os.close(dirs.pop(parts))
        if rel in self.entries:
            self._writer.flush()
            _remove_at(parent, name)  # a later entry replaces an earlier one
        if info.isreg():
            sha = hashlib.sha256()
            src = tar.extractfile(info)
            assert src is not None
            if info.size > _INLINE_MAX:
                # big files are streamed to disk here, not held in memory for the writer
                self._writer.flush()
                fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent)
                try:
                    write_stream(fd, src, info.size, on_chunk=sha.update)
                    os.fchmod(fd, mode)
                    os.utime(fd, ns=(int(info.mtime) * 10**9,) * 2)
                finally:
                    os.close(fd)
                    src.close()
                self.entries[rel] = Entry(rel, "f", mode, info.size, int(info.mtime), digest=sha.hexdigest())
                self.size += info.size
                return
            data = src.read()
            src.close()
            if len(data) != info.size:
                raise InvalidParameter(f'failed to read the build context: "{info.name}" is truncated')
            sha.update(data)
            if _stashed(rel):
                self.stash[rel] = data
            mt = int(info.mtime) * 10**9

            def write(parent: int = parent, name: str = name, data: bytes = data, mode: int = mode,
                      mt: int = mt) -> None:
                fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fchmod(fd, mode)
                    os.utime(fd, ns=(mt, mt))
                finally:
                    os.close(fd)

            self._writer.submit(write, len(data))
            self.entries[rel] = Entry(rel, "f", mode, info.size, int(info.mtime), digest=sha.hexdigest())
            self.size += info.size
        elif info.issym():
            os.symlink(info.linkname, name, dir_fd=parent)
            self.entries[rel] = Entry(rel, "l", 0o777, 0, int(info.mtime), linkname=info.linkname)
        elif info.islnk():
            target = clean_parts(info.linkname)
            if target is None or not target or "/".join(target) not in self.entries \
                    or self.entries["/".join(target)].kind != "f":
                raise InvalidParameter(f'invalid build context entry "{info.name}": hard link to '
                                       f'"{info.linkname}", which is not a file of the context')
            src_parent = self._dir(dirs, target[:-1], info.linkname)

            def link(src_parent: int = src_parent, src_name: str = target[-1], parent: int = parent,
                     name: str = name) -> None:
                os.link(src_name, name, src_dir_fd=src_parent, dst_dir_fd=parent, follow_symlinks=False)

            self._writer.submit(link)
            other = self.entries["/".join(target)]
            self.entries[rel] = Entry(rel, "f", other.mode, other.size, other.mtime, digest=other.digest)
        else:
            raise InvalidParameter(f'invalid build context entry "{info.name}": device nodes, FIFOs and '
                                   "sockets are not allowed in a build context")

    def set_times(self) -> None:
        """Give directories and symlinks the mtime their tar header carried, deepest
        first (writing into a directory changes its mtime); files got theirs when written."""
        for e in sorted((e for e in self.entries.values() if e.kind != "f"),
                        key=lambda e: e.path.count("/"), reverse=True):
            try:
                os.utime(os.path.join(self.root, e.path), ns=(e.mtime * 10**9, e.mtime * 10**9),
                         follow_symlinks=False)
            except OSError:
                pass

    # ------------------------------------------------------------ .dockerignore, daemon side
    def apply_ignore(self, keep: set[str]) -> None:
        """Drop what the context's .dockerignore excludes (a client may not have
        applied it); the Dockerfile and .dockerignore themselves stay readable."""
        raw = self.stash.get(".dockerignore")
        if raw is None:
            return
        from berth.build.dockerignore import IgnoreMatcher, read_patterns

        matcher = IgnoreMatcher(read_patterns(raw.decode("utf-8", "replace")))
        doomed = [p for p in sorted(self.entries) if p not in keep and matcher.matches(p)]
        gone: list[tuple[str, bool]] = []
        for p in doomed:
            e = self.entries.get(p)
            if e is None:
                continue
            if e.kind == "d":
                # A directory goes only if nothing below it was re-included by an exception.
                if any(q.startswith(p + "/") and q not in doomed for q in self.entries):
                    continue
            gone.append((os.path.join(self.root, p), e.kind == "d"))
            del self.entries[p]

        def delete() -> None:
            for full, is_dir in gone:
                if is_dir:
                    shutil.rmtree(full, ignore_errors=True)
                else:
                    try:
                        os.unlink(full)
                    except OSError:
                        pass

        if gone:
            if self._finished:  # the writer already ended (a Dockerfile read from disk)
                self.wait_written()
                delete()
            else:
                self._writer.submit(delete)

    def read(self, rel: str) -> bytes | None:
        """A context file's bytes (from memory when stashed, else once written)."""
        if rel in self.stash:
            return self.stash[rel]
        if rel not in self.entries or self.entries[rel].kind != "f":
            return None
        self.wait_written()
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def digests(self) -> dict[str, str]:
        return {p: e.digest for p, e in self.entries.items() if e.kind == "f"}

    def below(self, rel: str) -> list[Entry]:
        """The entries under a directory (all of them for the root), sorted by path."""
        prefix = rel + "/" if rel else ""
        return [self.entries[p] for p in sorted(self.entries) if p.startswith(prefix) and p != rel]

    # ------------------------------------------------------------ reading
    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """A context path with symlinks resolved inside the context root (as
        docker scopes them: an absolute link target is relative to the root,
        `..` stops at the root). Returns the relative path, "" for the root,
        or None if it does not exist."""
        parts = list(clean_parts("/" + path) or ())
        done: list[str] = []
        hops = 0
        while parts:
            name = parts.pop(0)
            rel = "/".join([*done, name])
            e = self.entries.get(rel)
            if e is None:
                return None
            if e.kind == "l" and (parts or follow_last):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return None
                target = e.linkname
                base = [] if target.startswith("/") else list(done)
                merged = clean_parts("/" + "/".join([*base, target])) or ()
                parts = [*merged, *parts]
                done = []
                continue
            done.append(name)
        return "/".join(done)

    def close(self) -> None:
        if self._writer.ident is not None:
            self.finish_writes()
            self._writer.join()
        shutil.rmtree(self.root, ignore_errors=True)


def _remove_at(dir_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            path = f"/proc/self/fd/{fd}"
            for child in os.listdir(path):
                _remove_at(fd, child)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
