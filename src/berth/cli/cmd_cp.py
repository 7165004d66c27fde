"""`berth cp`: copy files between a container and the local filesystem.

Follows docker's CLI 28: the same split of "CONTAINER:PATH" arguments, the same
destination rules (an existing directory receives the source by its name, a
missing path takes the source's place, a directory never overwrites a file),
"-" for a tar archive on stdin/stdout, and "Successfully copied <size> to
<dest>" on stderr when stdout is a terminal and -q was not given.
"""

from __future__ import annotations

import os
import stat as stat_mod

from .command import Cli, CliError, Command
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

STAT_HEADER = "X-Docker-Container-Path-Stat"
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_CHAR_DEVICE = 1 << 21
MODE_IRREGULAR = 1 << 19

ERR_CANNOT_COPY_DIR = "cannot copy directory"
ERR_DIR_NOT_EXISTS = "no such directory"
ERR_NOT_DIRECTORY = "not a directory"

LONG = (
    "Copy files/folders between a container and the local filesystem\n\n"
    "Use '-' as the source to read a tar archive from stdin\n"
    "and extract it to a directory destination in a container.\n"
    "Use '-' as the destination to stream a tar archive of a\n"
    "container source to stdout."
)


def _cp_flags(fs: FlagSet) -> None:
    fs.bool("archive", "a", "Archive mode (copy all uid/gid information)")
    fs.bool("follow-link", "L", "Always follow symbol link in SRC_PATH")
    fs.bool("quiet", "q", "Suppress progress output during copy. Progress output is automatically "
                          "suppressed if no terminal is attached")


class CpCommand(Command):
    def usage_line(self, path: str) -> str:
        return f"{path} [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"


def cp_command() -> Command:
    return CpCommand("cp", "", LONG, _cp, _cp_flags, ("exact", 2), aliases="container cp, cp")


# --- paths ------------------------------------------------------------------------------------


def split_cp_arg(arg: str) -> tuple[str, str]:
    """("container", "path") or ("", local path): absolute paths and "./x:y" are local."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def has_trailing_sep(path: str) -> bool:
    return path.endswith("/")


def specifies_current_dir(path: str) -> bool:
    return os.path.basename(path) == "."


def preserve_trailing(cleaned: str, original: str) -> str:
    if specifies_current_dir(original) and not specifies_current_dir(cleaned):
        cleaned = cleaned.rstrip("/") + "/."
    if has_trailing_sep(original) and not has_trailing_sep(cleaned):
        cleaned += "/"
    return cleaned


def resolve_local_path(path: str) -> str:
    return preserve_trailing(os.path.abspath(path), path)


def split_dir_entry(path: str) -> tuple[str, str]:
    """archive.SplitPathDirEntry: the parent and the last element of the cleaned path."""
    cleaned = os.path.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if specifies_current_dir(path):
        cleaned += "/."
    return os.path.dirname(cleaned) or ".", os.path.basename(cleaned) or "/"


def get_rebase_name(path: str, resolved: str) -> tuple[str, str]:
    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if has_trailing_sep(path) and not has_trailing_sep(resolved):
        resolved += "/"
    rebase = ""
    if os.path.basename(path.rstrip("/") or "/") != os.path.basename(resolved.rstrip("/") or "/"):
        rebase = os.path.basename(path.rstrip("/") or "/")
    return resolved, rebase


def asserts_directory(path: str) -> bool:
    return has_trailing_sep(path) or specifies_current_dir(path)


def validate_output_path(path: str) -> None:
    """docker's command.ValidateOutputPath."""
    directory = os.path.dirname(os.path.normpath(path))
    if directory and directory != "." and not os.path.exists(directory):
        raise CliError(f'invalid output path: directory "{directory}" does not exist')
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CliError(f"stat {path}: {os.strerror(exc.errno or 0).lower()}") from None
    if stat_mod.S_ISDIR(st.st_mode) or stat_mod.S_ISREG(st.st_mode):
        return
    reason = "got a device" if stat_mod.S_ISBLK(st.st_mode) or stat_mod.S_ISCHR(st.st_mode) else "got an irregular file"
    raise CliError(f'invalid output path: "{path}" must be a directory or a regular file: {reason}')


def decode_stat(header: str) -> dict[str, Any] | None:
    if not header:
        return None
    import base64
    import json

    try:
        return json.loads(base64.b64decode(header))
    except ValueError:
        return None


def _stat(client: Any, container: str, path: str) -> dict[str, Any] | None:
    """HEAD /archive: the path's stat, or None on any error (docker ignores those here)."""
    try:
        resp = client.request("HEAD", f"/containers/{container}/archive", {"path": path})
    except CliError:
        return None
    resp.read()
    return decode_stat(resp.header(STAT_HEADER.lower()) or resp.header(STAT_HEADER))


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def progress_size(n: int) -> str:
    from .units import human_size_with_precision

    return human_size_with_precision(n, 3)


# --- tar streams --------------------------------------------------------------------------------


class _Counting:
    """A read()-able view of byte chunks that counts what passed through."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            self.count += len(chunk)
            self._buf += chunk
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data


def rebase_name(name: str, old: str, new: str) -> str:
    if old == "/":
        old = ""
    return name.replace(old, new, 1) if old else new + name


def _extract(stream: Any, dst_dir: str, old: str = "", new: str = "") -> None:
    """Untar with NoLchown and NoOverwriteDirNonDir; names rebased old → new."""
    import tarfile

    uid, gid = os.getuid(), os.getgid()

    def keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        mode = member.mode
        if old and new:
            member = member.replace(name=rebase_name(member.name, old, new), deep=False)
            if member.islnk():
                member = member.replace(linkname=rebase_name(member.linkname, old, new), deep=False)
        target = os.path.join(dest, member.name)
        if os.path.isdir(target) and not os.path.islink(target) and not member.isdir():
            raise CliError(f"cannot overwrite directory {target!r} with non-directory {member.name!r}")
        member = tarfile.tar_filter(member, dest)
        return member.replace(mode=mode, uid=uid, gid=gid, uname="", gname="", deep=False)

    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            tar.extractall(dst_dir, filter=keep)
    except tarfile.FilterError as exc:
        raise CliError(str(exc)) from None
    except tarfile.TarError as exc:
        raise CliError(f"unexpected EOF: {exc}") from None


def tar_source(src: str, rebase: str = "") -> Iterator[bytes]:
    """docker's TarResourceRebase: the source (file or tree) named by its base, as a tar stream."""
    import tarfile

    parent, base = split_dir_entry(src)
    root = os.path.join(parent, base)
    seen: dict[tuple[int, int], str] = {}

    def name_of(rel: str) -> str:
        if base == "." and rel != ".":
            rel = "./" + rel
        if rebase:
            rel = rel.replace(base, rebase, 1)
        return rel

    def entries() -> Iterator[tuple[str, str]]:
        yield (root, base)
        if os.path.isdir(root) and not os.path.islink(root):
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                rel_dir = os.path.relpath(dirpath, parent) if base != "." else os.path.relpath(dirpath, root)
                names = sorted(dirnames + filenames)
                for n in names:
                    full = os.path.join(dirpath, n)
                    rel = os.path.normpath(os.path.join(rel_dir, n))
                    yield (full, rel)
                    if n in dirnames and os.path.islink(full):
                        pass
                # os.walk visits the sorted dirnames afterwards; entries above are lexical per level

    zero = b"\0" * 512
    for full, rel in entries():
        st = os.lstat(full)
        info = tarfile.TarInfo(name_of(rel))
        info.mode = stat_mod.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.mtime = int(st.st_mtime)
        data_path = None
        key = (st.st_dev, st.st_ino)
        if stat_mod.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            if not info.name.endswith("/"):
                info.name += "/"
        elif stat_mod.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(full)
        elif stat_mod.S_ISREG(st.st_mode):
            if st.st_nlink > 1 and key in seen:
                info.type = tarfile.LNKTYPE
                info.linkname = seen[key]
            else:
                seen[key] = info.name
                info.size = st.st_size
                data_path = full
        elif stat_mod.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        else:
            continue  # sockets and devices are left out
        yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        if data_path is not None:
            written = 0
            with open(data_path, "rb") as f:
                while written < info.size:
                    chunk = f.read(min(1 << 20, info.size - written))
                    if not chunk:
                        break
                    written += len(chunk)
                    yield chunk
            if written < info.size:
                yield b"\0" * (info.size - written)
            if info.size % 512:
                yield zero[: 512 - info.size % 512]
    yield zero * 2


# --- the two directions -------------------------------------------------------------------------


def _cp(cli: Cli, v: Values, args: list[str]) -> int:
    source, dest = args
    if source == "":
        raise CliError("source can not be empty")
    if dest == "":
        raise CliError("destination can not be empty")
    src_container, src_path = split_cp_arg(source)
    dst_container, dst_path = split_cp_arg(dest)
    quiet = v.quiet or not _is_terminal(cli.out)
    if src_container and dst_container:
        raise CliError("copying between containers is not supported")
    if src_container:
        return _from_container(cli, v, src_container, src_path, dst_path, quiet)
    if dst_container:
        return _to_container(cli, v, dst_container, src_path, dst_path, quiet)
    raise CliError("must specify at least one container source")


def _from_container(cli: Cli, v: Values, container: str, src: str, dst: str, quiet: bool) -> int:
    client = cli.client()
    if dst != "-":
        dst = resolve_local_path(dst)
        validate_output_path(dst)
    rebase = ""
    if v.follow_link:
        st = _stat(client, container, src)
        if st is not None and int(st.get("mode") or 0) & MODE_SYMLINK:
            target = st.get("linkTarget") or ""
            if not target.startswith("/"):
                parent, _ = split_dir_entry(src)
                target = os.path.join(parent, target)
            src, rebase = get_rebase_name(src, os.path.normpath(target))
    resp = client.request("GET", f"/containers/{container}/archive", {"path": src})
    if dst == "-":
        cli.out.flush()
        out = cli.out_binary()
        for chunk in resp.iter_raw():
            out.write(chunk)
        out.flush()
        return 0
    st = decode_stat(resp.header(STAT_HEADER.lower()) or resp.header(STAT_HEADER)) or {}
    src_is_dir = bool(int(st.get("mode") or 0) & MODE_DIR)
    stream = _Counting(resp.iter_raw())
    _, src_base = split_dir_entry(src)
    # Where the archive goes: docker's CopyInfoDestinationPath + PrepareArchiveCopy.
    dst_path = dst
    try:
        real = os.path.realpath(dst) if os.path.islink(dst.rstrip("/") or "/") else dst
        dst_stat = os.stat(real)
        dst_exists, dst_is_dir = True, stat_mod.S_ISDIR(dst_stat.st_mode)
        dst_path = real
    except FileNotFoundError:
        dst_exists = dst_is_dir = False
        parent, _ = split_dir_entry(dst)
        try:
            pst = os.stat(parent)
        except OSError as exc:
            raise CliError(f"stat {parent}: {os.strerror(exc.errno or 0).lower()}") from None
        if not stat_mod.S_ISDIR(pst.st_mode):
            raise CliError(ERR_NOT_DIRECTORY)
    dst_dir, dst_base = split_dir_entry(dst_path)
    old = rebase_from = src_base
    new = ""
    if dst_exists and dst_is_dir:
        target_dir = dst_path
        if rebase:
            new = rebase
    elif dst_exists and src_is_dir:
        raise CliError(ERR_CANNOT_COPY_DIR)
    elif not dst_exists and not src_is_dir and asserts_directory(dst_path):
        raise CliError(ERR_DIR_NOT_EXISTS)
    else:
        target_dir = dst_dir
        new = dst_base
    del rebase_from
    _extract(stream, target_dir, old if new else "", new)
    stream.read()
    if not quiet:
        cli.err.write(f"Successfully copied {progress_size(stream.count)} to {dst}\n")
    return 0


def _to_container(cli: Cli, v: Values, container: str, src: str, dst: str, quiet: bool) -> int:
    client = cli.client()
    if src != "-":
        src = resolve_local_path(src)
    dst_info_path = dst
    st = _stat(client, container, dst)
    if st is not None and int(st.get("mode") or 0) & MODE_SYMLINK:
        target = st.get("linkTarget") or ""
        if not target.startswith("/"):
            parent, _ = split_dir_entry(dst)
            target = os.path.join(parent, target)
        dst_info_path = target
        st = _stat(client, container, target)
    dst_exists = dst_is_dir = False
    if st is not None:
        mode = int(st.get("mode") or 0)
        if mode & MODE_DEVICE:
            raise CliError(f'destination "{container}:{dst}" must be a directory or a regular file: got a device')
        if mode & MODE_IRREGULAR:
            raise CliError(f'destination "{container}:{dst}" must be a directory or a regular file: '
                           "got an irregular file")
        dst_exists, dst_is_dir = True, bool(mode & MODE_DIR)
    counted = [0]

    def counting(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            counted[0] += len(chunk)
            yield chunk

    if src == "-":
        if not dst_is_dir:
            raise CliError(f'destination "{container}:{dst}" must be a directory')
        resolved = dst_info_path
        stdin = getattr(cli.stdin, "buffer", cli.stdin)
        from .client import copy_file_chunks

        body: Iterator[bytes] = counting(copy_file_chunks(stdin))
    else:
        resolved_src, rebase = _resolve_host_source(src, v.follow_link)
        try:
            src_is_dir = stat_mod.S_ISDIR(os.lstat(resolved_src).st_mode)
        except OSError as exc:
            raise CliError(f"lstat {resolved_src}: {os.strerror(exc.errno or 0).lower()}") from None
        _, src_base = split_dir_entry(resolved_src)
        dst_dir, dst_base = split_dir_entry(dst_info_path)
        if dst_exists and dst_is_dir:
            resolved, name = dst_info_path, rebase
        elif dst_exists and src_is_dir:
            raise CliError(ERR_CANNOT_COPY_DIR)
        elif not dst_exists and not src_is_dir and asserts_directory(dst_info_path):
            raise CliError(ERR_DIR_NOT_EXISTS)
        else:
            resolved, name = dst_dir, dst_base
        if name and name != src_base and src_base == ".":
            name = name  # "./x" entries: the "." prefix becomes the new name
        body = counting(tar_source(resolved_src, name if name != src_base else ""))
    params: dict[str, Any] = {"path": resolved, "noOverwriteDirNonDir": "true"}
    if v.archive:
        params["copyUIDGID"] = "true"
    resp = client.request("PUT", f"/containers/{container}/archive", params, body=body,
                          headers=[("Content-Type", "application/x-tar")])
    resp.read()
    if not quiet:
        cli.err.write(f"Successfully copied {progress_size(counted[0])} to {container}:{dst_info_path}\n")
    return 0


def _resolve_host_source(path: str, follow: bool) -> tuple[str, str]:
    """archive.ResolveHostSourcePath: the path to archive and the name to give it."""
    if follow:
        if not os.path.lexists(path.rstrip("/") or "/"):
            raise CliError(f"lstat {path.rstrip('/')}: no such file or directory")
        resolved = os.path.realpath(path)
        return get_rebase_name(path, resolved)
    directory, base = os.path.split(path)
    real_dir = os.path.realpath(directory or ".")
    resolved = os.path.join(real_dir, base) if base else real_dir + "/"
    rebase = ""
    if has_trailing_sep(path) and os.path.basename(path.rstrip("/")) != os.path.basename(resolved.rstrip("/")):
        rebase = os.path.basename(path.rstrip("/"))
    if not os.path.lexists(resolved.rstrip("/") or "/"):
        raise CliError(f"lstat {resolved.rstrip('/') or '/'}: no such file or directory")
    return resolved, rebase
