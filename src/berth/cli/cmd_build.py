"""`berth build` (`image build`, `builder build`) and `builder prune`, with
docker 28's legacy-builder flags.

The context directory is sent as a tar streamed while it is read, with
.dockerignore applied here (and again by the daemon); a Dockerfile from stdin
or from outside the context travels inside the tar under a random name, as
docker's CLI does. Progress: docker's plain legacy lines when not on a TTY or
with --progress=plain; on a TTY a live view of the steps with elapsed times
and CACHED marks.
"""

from __future__ import annotations

import json
import os
import threading
import time

from .command import Cli, CliError, Command
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

CHUNK = 1 << 20
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _flags(fs: FlagSet) -> None:
    from .units import ram_in_bytes

    def mem_bytes(text: str) -> int:
        try:
            return ram_in_bytes(text)
        except ValueError as e:
            raise ValueError(str(e)) from None

    fs.list("add-host", "", 'Add a custom host-to-IP mapping ("host:ip")')
    fs.list("build-arg", "", "Set build-time variables")
    fs.list("cache-from", "", "Images to consider as cache sources", kind="strings")
    fs.string("cgroup-parent", "", 'Set the parent cgroup for the "RUN" instructions during build')
    fs.bool("compress", "", "Compress the build context using gzip")
    fs.int("cpu-period", "", "Limit the CPU CFS (Completely Fair Scheduler) period")
    fs.int("cpu-quota", "", "Limit the CPU CFS (Completely Fair Scheduler) quota")
    fs.int("cpu-shares", "c", "CPU shares (relative weight)")
    fs.string("cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
    fs.string("cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
    fs.bool("disable-content-trust", "", "Skip image verification", default=True)
    fs.string("file", "f", 'Name of the Dockerfile (Default is "PATH/Dockerfile")')
    fs.bool("force-rm", "", "Always remove intermediate containers")
    fs.string("iidfile", "", "Write the image ID to the file")
    fs.string("isolation", "", "Container isolation technology")
    fs.list("label", "", "Set metadata for an image")
    fs.int("memory", "m", "Memory limit", kind="bytes", convert=mem_bytes)
    fs.int("memory-swap", "", "Swap limit equal to memory plus swap: -1 to enable unlimited swap", kind="bytes",
           convert=lambda t: -1 if t == "-1" else mem_bytes(t))
    fs.string("network", "", 'Set the networking mode for the RUN instructions during build', default="default")
    fs.bool("no-cache", "", "Do not use cache when building the image")
    fs.string("platform", "", "Set platform if server is multi-platform capable")
    # Berth's own (docker's legacy builder has none): hidden so the help reads as docker's.
    fs.string("progress", "", "Set type of progress output (auto, plain, tty)", default="auto", hidden=True)
    fs.bool("pull", "", "Always attempt to pull a newer version of the image")
    fs.bool("quiet", "q", "Suppress the build output and print image ID on success")
    fs.bool("rm", "", "Remove intermediate containers after a successful build", default=True)
    fs.list("security-opt", "", "Security options", kind="strings")
    fs.int("shm-size", "", 'Size of "/dev/shm"', kind="bytes", convert=mem_bytes)
    fs.bool("squash", "", "Squash newly built layers into a single new layer")
    fs.list("tag", "t", 'Name and optionally a tag in the "name:tag" format')
    fs.string("target", "", "Set the target build stage to build.")
    fs.list("ulimit", "", "Ulimit options", kind="ulimit", help_default="[]")


# ---------------------------------------------------------------------- the context tar
def human_size(size: float) -> str:
    """go-units HumanSizeWithPrecision(size, 4), as docker's "Sending build context" line."""
    from .units import human_size_with_precision

    return human_size_with_precision(size, 4)


_REG, _DIR, _SYM = b"0", b"5", b"2"


def tar_header(name: str, size: int, mode: int, mtime: int, kind: bytes, linkname: str = "") -> bytes:
    """One tar header as Go's writer makes it for these fields: ustar when the
    names fit, PAX otherwise (through tarfile, imported only then: it costs ~4 ms)."""
    bname = name.encode("utf-8", "surrogateescape")
    blink = linkname.encode("utf-8", "surrogateescape")
    if len(bname) <= 100 and len(blink) <= 100 and bname.isascii() and blink.isascii() \
            and 0 <= size < 8 ** 11 and 0 <= mtime < 8 ** 11:
        head = b"".join((
            bname.ljust(100, b"\0"), b"%07o\0" % mode, b"0000000\0", b"0000000\0", b"%011o\0" % size,
            b"%011o\0" % mtime, b" " * 8, kind, blink.ljust(100, b"\0"), b"ustar\x0000",
            b"\0" * 32, b"\0" * 32, b"\0" * 8, b"\0" * 8, b"\0" * 155, b"\0" * 12))
        chk = b"%06o\0 " % sum(head)
        return head[:148] + chk + head[156:]
    import tarfile

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type, info.linkname = size, mode, mtime, kind, linkname
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _plain_walk(root: str, rel: str = "") -> Iterator[tuple[str, os.DirEntry]]:
    """Every entry, pre-order, names sorted (no .dockerignore: no matcher to import)."""
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = rel + entry.name
        yield path, entry
        if entry.is_dir(follow_symlinks=False):
            yield from _plain_walk(entry.path, path + "/")


class ContextTar:
    """The context directory as tar chunks, .dockerignore applied, extra files
    (a Dockerfile from elsewhere) added at the end; `size` counts what was sent."""

    def __init__(self, root: str, excludes: list[str], keep: tuple[str, ...],
                 extra: list[tuple[str, bytes]]) -> None:
        self.root = root
        self.matcher = None
        if excludes:
            from berth.build.dockerignore import IgnoreMatcher

            self.matcher = IgnoreMatcher(excludes)
        self.keep = keep
        self.extra = extra
        self.size = 0

    def _walk(self) -> Iterator[tuple[str, os.DirEntry]]:
        if self.matcher is None:
            return _plain_walk(self.root)
        return self.matcher.walk(self.root, keep=self.keep)

    def chunks(self) -> Iterator[bytes]:
        buf = bytearray()
        for rel, entry in self._walk():
            st = entry.stat(follow_symlinks=False)
            mode, mtime = st.st_mode & 0o7777, int(st.st_mtime)
            if entry.is_symlink():
                buf += tar_header(rel, 0, mode, mtime, _SYM, os.readlink(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                buf += tar_header(rel + "/", 0, mode, mtime, _DIR)
            elif entry.is_file(follow_symlinks=False):
                try:
                    f = open(entry.path, "rb")
                except OSError as e:
                    raise CliError(f"error checking context: can't stat '{entry.path}'"
                                   if e.errno == 2 else f"error from sender: open {entry.path}: "
                                   f"{(e.strerror or str(e)).lower()}") from None
                with f:
                    size = os.fstat(f.fileno()).st_size
                    buf += tar_header(rel, size, mode, mtime, _REG)
                    if size < CHUNK // 4:
                        data = f.read(size)
                        buf += data + b"\0" * (size - len(data))
                    else:
                        # big files go out as they are read, not copied into the buffer
                        self.size += len(buf)
                        yield bytes(buf)
                        buf.clear()
                        left = size
                        while left > 0:
                            data = f.read(min(CHUNK, left)) or b"\0" * left  # shrank: keep the tar valid
                            left -= len(data)
                            self.size += len(data)
                            yield data
                    buf += b"\0" * ((-size) % 512)
            else:
                continue  # sockets, devices, FIFOs: docker's CLI leaves them out too
            if len(buf) >= CHUNK:
                self.size += len(buf)
                yield bytes(buf)
                buf.clear()
        for name, data in self.extra:
            buf += tar_header(name, len(data), 0o600, int(time.time()), _REG) + data + b"\0" * ((-len(data)) % 512)
        buf += b"\0" * 1024
        self.size += len(buf)
        yield bytes(buf)


def _gzip_chunks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    import zlib

    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    for c in chunks:
        out = comp.compress(c)
        if out:
            yield out
    yield comp.flush()


def _read_ignore(root: str) -> list[str]:
    from berth.build.dockerignore import read_patterns

    try:
        with open(os.path.join(root, ".dockerignore"), "rb") as f:
            return read_patterns(f.read().decode("utf-8", "replace"))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise CliError(f"error reading .dockerignore: {e}") from None


def _is_archive(head: bytes) -> bool:
    if head.startswith(_ARCHIVE_MAGIC):
        return True
    if len(head) >= 512:
        import tarfile

        try:
            tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
            return True
        except tarfile.HeaderError:
            return False
    return False


def _stdin_bytes(cli: Cli) -> Any:
    return getattr(cli.stdin, "buffer", cli.stdin)


def _prepare(cli: Cli, v: Values, source: str) -> tuple[Iterator[bytes], str, Any]:
    """(body chunks, dockerfile name for the daemon, the ContextTar or None)."""
    dockerfile_flag = v.file or ""
    if source.startswith(("http://", "https://", "git://", "git@", "github.com/")):
        raise CliError(f"unable to prepare context: remote build contexts are not supported by berth: {source}; "
                       "clone or download it and build from a local directory")
    if source == "-":
        if dockerfile_flag == "-":
            raise CliError("invalid argument: can't use stdin for both build context and dockerfile")
        stdin = _stdin_bytes(cli)
        head = stdin.read(512)
        if _is_archive(head):
            def rest() -> Iterator[bytes]:
                yield head
                while True:
                    data = stdin.read(CHUNK)
                    if not data:
                        return
                    yield data

            return rest(), dockerfile_flag or "Dockerfile", None
        text = head + stdin.read()
        data = tar_header("Dockerfile", len(text), 0o600, int(time.time()), _REG) + text \
            + b"\0" * ((-len(text)) % 512) + b"\0" * 1024
        return iter([data]), "Dockerfile", None
    root = os.path.abspath(source)
    if not os.path.isdir(root):
        if os.path.exists(root):
            raise CliError(f"unable to prepare context: path {source!r} is not a directory")
        raise CliError(f'unable to prepare context: path "{source}" not found')
    extra: list[tuple[str, bytes]] = []
    if dockerfile_flag == "-":
        content = _stdin_bytes(cli).read()
        name = ".dockerfile." + os.urandom(10).hex()
        extra.append((name, content))
        dockerfile, from_stdin = name, True
    else:
        path = os.path.abspath(dockerfile_flag) if dockerfile_flag else os.path.join(root, "Dockerfile")
        if not dockerfile_flag and not os.path.exists(path) and os.path.exists(os.path.join(root, "dockerfile")):
            path = os.path.join(root, "dockerfile")
        if not os.path.exists(path):
            shown = dockerfile_flag or path
            raise CliError(f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                           f"lstat {os.path.abspath(shown)}: no such file or directory")
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
        if rel.startswith("..") or os.path.isabs(rel):
            with open(path, "rb") as f:
                content = f.read()
            name = ".dockerfile." + os.urandom(10).hex()
            extra.append((name, content))
            dockerfile, from_stdin = name, True
        else:
            dockerfile, from_stdin = rel.replace(os.sep, "/"), False
    patterns = _read_ignore(root) if os.path.exists(os.path.join(root, ".dockerignore")) else []
    if not patterns:
        tar = ContextTar(root, [], (".dockerignore", dockerfile), extra)
        return tar.chunks(), dockerfile, tar
    from berth.build.dockerignore import DockerignoreError, trim_build_files

    try:
        excludes = trim_build_files(patterns, dockerfile, from_stdin)
        tar = ContextTar(root, excludes, (".dockerignore", dockerfile), extra)
    except DockerignoreError as e:
        raise CliError(f"error checking context: {e}") from None
    return tar.chunks(), dockerfile, tar


def _build_args(values: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
        else:
            out[key] = os.environ.get(key)
    return out


def _labels(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _run(cli: Cli, v: Values, args: list[str]) -> int:
    from .terminal import is_terminal

    if v.progress not in ("auto", "plain", "tty"):
        raise CliError(f'invalid progress mode "{v.progress}": use auto, plain or tty')
    for t in v.tag:
        from .reference import ReferenceError_, parse_normalized

        try:
            parse_normalized(t)
        except ReferenceError_ as exc:
            raise CliError(f"invalid argument \"{t}\" for \"-t, --tag\" flag: {exc}") from None
    if v.iidfile:
        try:
            os.unlink(v.iidfile)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise CliError(f"Removing image ID file: {e}") from None
    chunks, dockerfile, tar = _prepare(cli, v, args[0])
    if v.compress:
        chunks = _gzip_chunks(chunks)
    ulimits = []
    if v.ulimit:
        from .optvalues import ulimit_value

        ulimits = [ulimit_value(u) for u in v.ulimit]
    params: dict[str, Any] = {
        "t": list(v.tag) or None, "dockerfile": dockerfile, "q": v.quiet or None, "nocache": v.no_cache or None,
        "rm": v.rm, "forcerm": v.force_rm or None, "pull": v.pull or None,
        "buildargs": json.dumps(_build_args(v.build_arg)), "labels": json.dumps(_labels(v.label)),
        "cachefrom": json.dumps(list(v.cache_from)), "networkmode": v.network or "default",
        "target": v.target or None, "platform": v.platform or None, "shmsize": v.shm_size or None,
        "memory": v.memory or None, "memswap": v.memory_swap or None, "cpushares": v.cpu_shares or None,
        "cpuperiod": v.cpu_period or None, "cpuquota": v.cpu_quota or None,
        "cpusetcpus": v.cpuset_cpus or None, "cpusetmems": v.cpuset_mems or None,
        "cgroupparent": v.cgroup_parent or None, "extrahosts": ",".join(v.add_host) or None,
        "ulimits": json.dumps(ulimits) if ulimits else None, "squash": v.squash or None,
        "isolation": v.isolation or None, "version": "1",
    }
    out = cli.out
    live = not v.quiet and (v.progress == "tty" or (v.progress == "auto" and is_terminal(out)))
    if tar is not None and not v.quiet and not live:
        out.write("Sending build context to Docker daemon  ")
        out.flush()
    try:
        resp = cli.client().request("POST", "/build", params, body=chunks,
                                    headers=[("Content-Type", "application/x-tar")])
    finally:
        if tar is not None and not v.quiet and not live:
            out.write(f"{human_size(tar.size)}\n\n" if tar.size else "\n")
            out.flush()
    image_id = {"id": ""}

    def on_aux(aux: Any) -> None:
        if isinstance(aux, dict) and aux.get("ID"):
            image_id["id"] = aux["ID"]

    from .jsonmessage import StreamMessageError

    try:
        if live:
            LiveView(out).run(resp.iter_json(), on_aux)
        else:
            _plain(resp.iter_json(), out, on_aux)
    except StreamMessageError as e:
        raise CliError(e.message, getattr(e, "build_code", 1) or 1) from None
    if v.iidfile and image_id["id"]:
        with open(v.iidfile, "w") as f:
            f.write(image_id["id"])
    return 0


def _error_of(jm: dict) -> None:
    from .jsonmessage import StreamMessageError

    detail = jm.get("errorDetail") or {}
    err = StreamMessageError(detail.get("message") or jm.get("error") or "unknown error")
    err.build_code = int(detail.get("code") or 1)  # type: ignore[attr-defined]
    raise err


def _plain(messages: Iterator[Any], out: Any, on_aux: Any) -> None:
    for jm in messages:
        if not isinstance(jm, dict):
            continue
        if jm.get("aux") is not None:
            on_aux(jm["aux"])
            continue
        if jm.get("errorDetail") or jm.get("error"):
            out.flush()
            _error_of(jm)
        if jm.get("stream"):
            out.write(jm["stream"])
        elif jm.get("status"):
            # a base image being pulled: docker's pull lines ("id: status"), progress bars left out
            from .jsonmessage import _display_one

            progress = jm.get("progressDetail") if isinstance(jm.get("progressDetail"), dict) else None
            _display_one(jm, out.write, False, 80, progress)
        out.flush()


class LiveView:
    """The TTY display: one line per step with its elapsed time, CACHED for
    cache hits, the last lines of the running step's output under it."""

    TAIL = 6

    def __init__(self, out: Any) -> None:
        self.out = out
        self.start = time.monotonic()
        self.steps: list[dict] = []
        self.tail: list[str] = []
        self.finals: list[str] = []
        self.drawn = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.total = 0

    def run(self, messages: Iterator[Any], on_aux: Any) -> None:
        ticker = threading.Thread(target=self._tick, daemon=True)
        ticker.start()
        try:
            for jm in messages:
                if not isinstance(jm, dict):
                    continue
                if jm.get("aux") is not None:
                    on_aux(jm["aux"])
                    continue
                if jm.get("errorDetail") or jm.get("error"):
                    self._finish()
                    _error_of(jm)
                text = jm.get("stream") or ""
                if not text and jm.get("status") and not jm.get("progressDetail"):
                    text = (f"{jm['id']}: " if jm.get("id") else "") + jm["status"] + "\n"
                with self.lock:
                    self._feed(text)
                    self._draw()
        finally:
            self._finish()
        for line in self.finals:
            self.out.write(line)
        self.out.flush()

    def _finish(self) -> None:
        if self.done.is_set():
            return
        self.done.set()
        with self.lock:
            now = time.monotonic()
            for s in self.steps:
                if s["end"] is None:
                    s["end"] = now
            self.tail = []
            self._draw()

    def _feed(self, text: str) -> None:
        if not text:
            return
        now = time.monotonic()
        if text.startswith("Step ") and " : " in text:
            head, _, rest = text.partition(" : ")
            number = head[5:]
            self.total = int(number.split("/")[1]) if "/" in number else self.total
            for s in self.steps:
                if s["end"] is None:
                    s["end"] = now
            self.steps.append({"n": number, "text": rest.rstrip("\n"), "start": now, "end": None,
                               "cached": False})
            self.tail = []
            return
        if text.startswith(" ---> Using cache"):
            if self.steps:
                self.steps[-1]["cached"] = True
            return
        if text.startswith(" ---> "):
            rest = text[6:].strip()
            if self.steps and not rest.startswith(("Running in", "Removed intermediate")):
                self.steps[-1]["end"] = now
            return
        if text.startswith(("Successfully built", "Successfully tagged", "[Warning]")):
            self.finals.append(text)
            return
        for line in text.splitlines():
            if line.strip():
                self.tail.append(line)
        self.tail = self.tail[-self.TAIL:]

    def _tick(self) -> None:
        while not self.done.wait(0.1):
            with self.lock:
                self._draw()

    def _draw(self) -> None:
        from .terminal import terminal_size

        width = terminal_size(self.out)[1] or 80
        now = time.monotonic()
        done = sum(1 for s in self.steps if s["end"] is not None)
        lines = [f"[+] Building {now - self.start:.1f}s ({done}/{self.total or len(self.steps)})"
                 + ("" if not self.done.is_set() else " FINISHED")]
        for s in self.steps:
            elapsed = (s["end"] or now) - s["start"]
            mark = "CACHED " if s["cached"] else ""
            label = f" => {mark}[{s['n']}] {s['text']}"
            timing = f"{elapsed:.1f}s"
            room = width - len(timing) - 2
            if len(label) > room:
                label = label[: max(room - 1, 10)] + "…"
            lines.append(label.ljust(room) + " " + timing)
        for t in self.tail:
            lines.append((" => => " + t)[: width - 1])
        buf = ""
        if self.drawn:
            buf += f"\x1b[{self.drawn}A"
        for line in lines:
            buf += "\x1b[2K" + line + "\n"
        extra = self.drawn - len(lines)
        if extra > 0:
            buf += "\x1b[2K\n" * extra + f"\x1b[{extra}A"
        self.drawn = len(lines)
        self.out.write(buf)
        self.out.flush()


def build_command() -> Command:
    return Command("build", "[OPTIONS] PATH | URL | -", "Build an image from a Dockerfile", _run, _flags,
                   ("exact", 1), aliases="image build, build, builder build")


# ---------------------------------------------------------------------- builder prune
def _prune_flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Remove all unused build cache, not just dangling ones")
    fs.list("filter", "", 'Provide filter values (e.g. "until=24h")', kind="filter")
    fs.bool("force", "f", "Do not prompt for confirmation")
    fs.int("keep-storage", "", "Amount of disk space to keep for cache", kind="bytes")


def _prune(cli: Cli, v: Values, _args: list[str]) -> int:
    from .command import confirm, filters_query
    from .units import human_size as hs

    warning = ("WARNING! This will remove all build cache. Are you sure you want to continue?" if v.all else
               "WARNING! This will remove all dangling build cache. Are you sure you want to continue?")
    if not v.force and not confirm(cli, warning):
        return 0
    params: dict[str, Any] = {"all": v.all or None, "filters": filters_query(v.filter),
                              "keep-storage": v.keep_storage or None}
    report = cli.client().post("/build/prune", params) or {}
    deleted = report.get("CachesDeleted") or []
    if deleted:
        cli.out.write("Deleted build cache objects:\n")
        for key in deleted:
            cli.out.write(key + "\n")
    cli.out.write(f"Total reclaimed space: {hs(report.get('SpaceReclaimed') or 0)}\n")
    return 0


def prune_command() -> Command:
    return Command("prune", "", "Remove build cache", _prune, _prune_flags, ("exact", 0))
