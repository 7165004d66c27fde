"""COPY and ADD (and WORKDIR's directory): a new layer written straight into a
staging directory, then hashed as the tar docker would store.

The layer holds what docker's overlay upper directory would hold after the
copy: the copied entries, the destination's parent directories that the
image already has (copied up with their metadata unchanged) and the ones
that had to be created. Everything is owned root:root unless --chown says
otherwise; files keep their mode and mtime from the source; directories the
copy creates take the newest mtime of what was copied, so equal inputs give
an equal layer digest.
"""

from __future__ import annotations

import bz2
import fnmatch
import hashlib
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass, field

from isal import igzip

from berth.build.rootview import is_outside, scoped_resolve
from berth.errors import InvalidParameter
from berth.images.tree_tar import TreeTar

WILDCARDS = "*?["


class CopyError(InvalidParameter):
    """A COPY/ADD failure docker reports as `COPY failed: ...`."""


@dataclass
class Source:
    root: str          # the tree the path is read from (context or a stage's root)
    rel: str           # resolved path relative to root ("" = the root)
    shown: str         # as the Dockerfile spelt it (or the match)
    is_url: bool = False
    url_name: str = ""


@dataclass
class Ids:
    uid: int = 0
    gid: int = 0


@dataclass
class LayerTree:
    staging: str
    size: int = 0
    newest: int = 0
    dir_times: dict[str, int] = field(default_factory=dict)  # staging rel -> mtime (seconds)


# ---------------------------------------------------------------------- sources
def _go_match(pattern: str, path: str) -> bool:
    """filepath.Match: `*` and `?` stay within one path element."""
    pp, sp = pattern.split("/"), path.split("/")
    if len(pp) != len(sp):
        return False
    return all(fnmatch.fnmatchcase(s, p.replace("[^", "[!")) for p, s in zip(pp, sp))


def _all_paths(root: str) -> list[str]:
    out = []
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in sorted(dirs + files):
            out.append(name if rel == "." else f"{rel}/{name}")
    return sorted(out)


def plan_sources(cmd: str, root: str, specs: list[str], from_context: bool) -> list[Source]:
    """The sources of one COPY/ADD, wildcards expanded, symlinks resolved inside `root`."""
    out: list[Source] = []
    for spec in specs:
        path = spec.lstrip("/") if not from_context else spec
        clean = posixpath.normpath(path) if path else "."
        if from_context and (spec.startswith("/")):
            clean = posixpath.normpath(spec.lstrip("/")) or "."
        if is_outside(clean):
            raise CopyError(f"{cmd} failed: forbidden path outside the build context: {spec} ()")
        if any(c in clean for c in WILDCARDS):
            matches = [p for p in _all_paths(root) if _go_match(clean, p)]
            for p in matches:
                rel = scoped_resolve(root, p)
                if rel is not None:
                    out.append(Source(root, rel, p))
            continue
        rel = scoped_resolve(root, "" if clean == "." else clean)
        if rel is None or not os.path.lexists(os.path.join(root, rel)):
            where = "build context or excluded by .dockerignore" if from_context else "stage or image"
            raise CopyError(f"{cmd} failed: file not found in {where}: stat {spec}: file does not exist")
        out.append(Source(root, rel, spec))
    if not out:
        raise CopyError(f"{cmd} failed: no source files were specified")
    return out


def source_checksum(sources: list[Source], digests: dict[str, str] | None) -> str:
    """Content and metadata of everything copied, mtimes left out (docker's tarsum did too).
    `digests` are the context's per-file sha256; other trees are hashed here."""
    h = hashlib.sha256()
    for src in sources:
        h.update(f"S {src.shown}\0".encode())
        base = os.path.join(src.root, src.rel) if src.rel else src.root
        for rel, st in _walk(base):
            full = os.path.join(base, rel) if rel else base
            kind = stat.S_IFMT(st.st_mode)
            line = f"{rel}\0{kind}\0{stat.S_IMODE(st.st_mode):o}\0"
            if stat.S_ISREG(st.st_mode):
                key = (src.rel + "/" + rel if rel else src.rel).strip("/")
                digest = (digests or {}).get(key) or _file_digest(full)
                line += f"{st.st_size}\0{digest}"
            elif stat.S_ISLNK(st.st_mode):
                line += os.readlink(full)
            h.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return h.hexdigest()


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def _walk(base: str) -> list[tuple[str, os.stat_result]]:
    st = os.lstat(base)
    out = [("", st)]
    if not stat.S_ISDIR(st.st_mode):
        return out
    for dirpath, dirs, files in os.walk(base):
        dirs.sort()
        rel = os.path.relpath(dirpath, base)
        for name in sorted(dirs + files):
            r = name if rel == "." else f"{rel}/{name}"
            out.append((r, os.lstat(os.path.join(base, r))))
    return out


# ---------------------------------------------------------------------- --chown
def resolve_chown(view_root: str, spec: str) -> Ids:
    from berth.runtime.users import parse_group, parse_passwd, read_in_root

    user, _, group = spec.partition(":")
    if not group:
        group = user
    if user.isdigit():
        uid = int(user)
    else:
        users = parse_passwd(read_in_root(view_root, "/etc/passwd"))
        found = next((u for u in users if u.name == user), None)
        if found is None:
            raise InvalidParameter(f"unable to convert uid/gid chown string to host mapping: can't find uid for "
                                   f"user {user}: no such user: {user}")
        uid = found.uid
    if group.isdigit():
        gid = int(group)
    else:
        groups = parse_group(read_in_root(view_root, "/etc/group"))
        g = next((x for x in groups if x.name == group), None)
        if g is None:
            raise InvalidParameter(f"unable to convert uid/gid chown string to host mapping: can't find gid for "
                                   f"group {group}: no such group: {group}")
        gid = g.gid
    return Ids(uid, gid)


def parse_chmod(spec: str) -> int:
    try:
        mode = int(spec, 8)
    except ValueError:
        raise InvalidParameter(f"invalid chmod parameter: {spec}") from None
    if mode > 0o7777:
        raise InvalidParameter(f"invalid chmod parameter: {spec}")
    return mode


# ---------------------------------------------------------------------- the tree
class TreeWriter:
    """Writes entries under `tree.staging`, mirroring the image at `view_root`."""

    def __init__(self, tree: LayerTree, view_root: str, ids: Ids, chmod: int | None) -> None:
        self.tree = tree
        self.view_root = view_root
        self.ids = ids
        self.chmod = chmod

    def _staged(self, rel: str) -> str:
        return os.path.join(self.tree.staging, rel) if rel else self.tree.staging

    def ensure_dir(self, rel: str, created_ids: Ids | None = None) -> None:
        """Every directory on the way to `rel` (relative to the image root) in the layer."""
        parts = [p for p in rel.split("/") if p]
        for i in range(len(parts)):
            sub = "/".join(parts[: i + 1])
            target = self._staged(sub)
            try:
                st = os.lstat(target)
            except FileNotFoundError:
                st = None
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    continue
                if stat.S_ISLNK(st.st_mode):
                    raise CopyError(f"cannot copy to {'/' + rel}: {'/' + sub} is a symlink written by this step")
                os.unlink(target)
            try:
                low = os.lstat(os.path.join(self.view_root, sub))
            except OSError:
                low = None
            os.mkdir(target)
            if low is not None and stat.S_ISDIR(low.st_mode):
                os.chmod(target, stat.S_IMODE(low.st_mode))
                os.lchown(target, low.st_uid, low.st_gid)
                self.tree.dir_times[sub] = int(low.st_mtime)
            else:
                ids = created_ids or Ids()
                os.chmod(target, 0o755)
                os.lchown(target, ids.uid, ids.gid)
                self.tree.dir_times[sub] = -1  # set to the newest copied mtime at the end

    def copy_entry(self, src: str, dest_rel: str, st: os.stat_result) -> None:
        """One non-directory source entry to `dest_rel` (its parent exists)."""
        target = self._staged(dest_rel)
        try:
            old = os.lstat(target)
            if stat.S_ISDIR(old.st_mode):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        except FileNotFoundError:
            pass
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISREG(st.st_mode):
            _copy_file(src, target)
            os.chmod(target, self.chmod if self.chmod is not None else mode)
            self.tree.size += st.st_size
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), target)
        else:
            return  # devices/FIFOs in a stage's tree: docker's copier skips them too
        os.lchown(target, self.ids.uid, self.ids.gid)
        mtime = int(st.st_mtime)
        os.utime(target, (mtime, mtime), follow_symlinks=False)
        self.tree.newest = max(self.tree.newest, mtime)

    def copy_dir_contents(self, src_dir: str, dest_rel: str) -> None:
        for dirpath, dirs, files in os.walk(src_dir):
            dirs.sort()
            rel = os.path.relpath(dirpath, src_dir)
            here = dest_rel if rel == "." else f"{dest_rel}/{rel}".strip("/")
            for name in sorted(dirs):
                st = os.lstat(os.path.join(dirpath, name))
                sub = f"{here}/{name}".strip("/")
                self.make_dir(sub, st)
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                self.copy_entry(full, f"{here}/{name}".strip("/"), os.lstat(full))
            # os.walk does not descend into symlinked directories: they are listed in dirs
            for name in list(dirs):
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    dirs.remove(name)
                    sub = f"{here}/{name}".strip("/")
                    os.rmdir(self._staged(sub))
                    self.tree.dir_times.pop(sub, None)
                    self.copy_entry(full, sub, os.lstat(full))

    def make_dir(self, rel: str, st: os.stat_result) -> None:
        target = self._staged(rel)
        if os.path.islink(target) or (os.path.lexists(target) and not os.path.isdir(target)):
            os.unlink(target)
        if not os.path.isdir(target):
            os.mkdir(target)
        os.chmod(target, self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode))
        os.lchown(target, self.ids.uid, self.ids.gid)
        self.tree.dir_times[rel] = int(st.st_mtime)
        self.tree.newest = max(self.tree.newest, int(st.st_mtime))

    def finish(self) -> None:
        """Directory mtimes last: writing into a directory changes its own."""
        for rel in sorted(self.tree.dir_times, key=lambda r: r.count("/"), reverse=True):
            t = self.tree.dir_times[rel]
            if t < 0:
                t = self.tree.newest
            os.utime(self._staged(rel), (t, t), follow_symlinks=False)


def _copy_file(src: str, dst: str) -> None:
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fd_in).st_size
            copied = 0
            try:
                while copied < size:
                    n = os.copy_file_range(fd_in, fd_out, size - copied)
                    if n == 0:
                        break
                    copied += n
            except OSError:
                os.lseek(fd_in, copied, os.SEEK_SET)
                while True:
                    chunk = os.read(fd_in, 1 << 20)
                    if not chunk:
                        break
                    os.write(fd_out, chunk)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


# ---------------------------------------------------------------------- COPY / ADD
def dest_is_dir_spec(dest: str) -> bool:
    return dest.endswith("/") or dest.endswith("/.") or dest == "."


def write_copy(cmd: str, writer: TreeWriter, sources: list[Source], dest: str, is_add: bool) -> None:
    """Docker's rules: several sources need a directory destination ending in /;
    a directory source copies its contents; a file goes inside a destination that
    ends in / or is a directory in the image; ADD unpacks local tar archives."""
    dir_dest = dest_is_dir_spec(dest)
    if len(sources) > 1 and not dir_dest:
        raise CopyError(f"When using {cmd} with more than one source file, the destination must be a "
                        "directory and end with a /")
    root_rel = scoped_resolve(writer.view_root, dest.rstrip("/") if dest != "/" else "/")
    if root_rel is None:
        raise CopyError(f"{cmd} failed: too many levels of symbolic links in {dest}")
    if not dir_dest:
        low = writer.view_root and os.path.join(writer.view_root, root_rel)
        if root_rel == "" or (low and os.path.isdir(low) and not os.path.islink(low)):
            dir_dest = True
    for src in sources:
        full = os.path.join(src.root, src.rel) if src.rel else src.root
        st = os.stat(full) if os.path.exists(full) else os.lstat(full)
        if stat.S_ISDIR(st.st_mode):
            writer.ensure_dir(root_rel, writer.ids)
            writer.copy_dir_contents(full, root_rel)
            continue
        if is_add and not src.is_url and stat.S_ISREG(st.st_mode) and _is_archive(full):
            writer.ensure_dir(root_rel, writer.ids)
            _extract_archive(full, writer, root_rel)
            continue
        if dir_dest:
            writer.ensure_dir(root_rel, writer.ids)
            name = src.url_name or posixpath.basename(src.rel or src.shown.rstrip("/"))
            target = f"{root_rel}/{name}".strip("/")
        else:
            parent = posixpath.dirname(root_rel)
            writer.ensure_dir(parent, writer.ids)
            target = root_rel
        writer.copy_entry(full, target, os.stat(full))
    writer.finish()


def _is_archive(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")):
        try:
            with _open_compressed(path) as f:
                block = f.read(512)
        except (OSError, EOFError, lzma.LZMAError):
            return False
        return _is_tar_header(block)
    return _is_tar_header(head)


def _is_tar_header(block: bytes) -> bool:
    if len(block) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


def _open_compressed(path: str):  # type: ignore[no-untyped-def]
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"\x1f\x8b"):
        return igzip.open(path, "rb")
    if head.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _extract_archive(path: str, writer: TreeWriter, dest_rel: str) -> None:
    """ADD's auto-extraction: entries keep their owners and modes (docker's
    untar does), names may not climb above the destination."""
    from berth.images.layer_tar import clean_parts

    with _open_compressed(path) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        for info in tar:
            parts = clean_parts(info.name)
            if parts is None:
                raise CopyError(f"ADD failed: invalid archive entry {info.name!r}: path is outside of the destination")
            if not parts:
                continue
            rel = "/".join([p for p in (dest_rel, *parts) if p])
            writer.ensure_dir(posixpath.dirname(rel))
            target = writer._staged(rel)
            if info.isdir():
                if not os.path.isdir(target):
                    if os.path.lexists(target):
                        os.unlink(target)
                    os.mkdir(target)
                os.chmod(target, info.mode & 0o7777)
                os.lchown(target, info.uid, info.gid)
                writer.tree.dir_times[rel] = int(info.mtime)
                continue
            if os.path.lexists(target):
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                else:
                    os.unlink(target)
            if info.isreg():
                src = tar.extractfile(info)
                assert src is not None
                with open(target, "xb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.chmod(target, info.mode & 0o7777)
                writer.tree.size += info.size
            elif info.issym():
                os.symlink(info.linkname, target)
            elif info.islnk():
                lparts = clean_parts(info.linkname)
                if lparts is None:
                    raise CopyError(f"ADD failed: invalid archive entry {info.name!r}: link outside the destination")
                os.link(writer._staged("/".join([p for p in (dest_rel, *lparts) if p])), target)
                continue
            else:
                continue  # device nodes in an ADDed archive are not created
            os.lchown(target, info.uid, info.gid)
            os.utime(target, (int(info.mtime), int(info.mtime)), follow_symlinks=False)
            writer.tree.newest = max(writer.tree.newest, int(info.mtime))


# ---------------------------------------------------------------------- the layer's digest
class _HashSink:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.sha.update(data)


def tree_diff_id(staging: str) -> str:
    """sha256 of the layer tar of `staging`, as it would be exported."""
    sink = _HashSink()
    tar = TreeTar(sink)
    top = os.open(staging, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        tar.add_tree(top, None, "", include_top=False)
    finally:
        os.close(top)
    tar.close()
    return "sha256:" + sink.sha.hexdigest()
