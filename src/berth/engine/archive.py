"""`docker cp` (the archive API), `docker diff`, `docker export` and `docker commit`.

Every path a client names is a path inside the container: it is resolved in
the container's root (see rootfs_paths) and everything is then reached through
file descriptors, so neither `../../etc/passwd` nor a symlink to `/` can read
or write the host.

A container that is not running has no mounted rootfs; the archive calls mount
it for the duration of the request and unmount it after. They hold the
container's lock meanwhile, so `start` (which takes the same lock) cannot mount
the same upper directory a second time under our feet; for a running container
the lock only keeps a restart from doing the same. `diff` and `commit` read the
upper directory and the image layers directly and need no mount.

The file system work is blocking and runs in threads; tar streams reach the
event loop through a small bounded queue (`stream_from_thread`).
"""

from __future__ import annotations

import asyncio
import base64
import errno
import inspect
import json
import logging
import os
import shutil
import stat
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from berth.engine import rootfs_paths as rp
from berth.engine.archive_extract import Extractor
from berth.errors import (
    BerthError,
    Conflict,
    Forbidden,
    ImageNotFound,
    InvalidParameter,
    NotFound,
    System,
)
from berth.images import reference as refs
from berth.images.tree_tar import TreeTar
from berth.timefmt import rfc3339nano

log = logging.getLogger("berth.engine.archive")

STAT_HEADER = "X-Docker-Container-Path-Stat"

# Go's os.FileMode type bits, as the path-stat JSON carries them.
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_file_mode(mode: int) -> int:
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFBLK: _GO_DEVICE,
            stat.S_IFCHR: _GO_DEVICE | _GO_CHARDEV, stat.S_IFIFO: _GO_PIPE,
            stat.S_IFSOCK: _GO_SOCKET}.get(kind, 0)
    if mode & stat.S_ISUID:
        out |= _GO_SETUID
    if mode & stat.S_ISGID:
        out |= _GO_SETGID
    if mode & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def encode_path_stat(doc: dict) -> str:
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def _stat_name(path: str) -> str:
    """docker's Base(absPath): the cleaned path's last element, "." for "dir/.", "/" for the root."""
    if path.endswith("/."):
        return "."
    lexical = rp.clean(path)
    return lexical[-1] if lexical else "/"


@dataclass
class _Target:
    parts: list[str]        # resolved components of what the path names
    st: os.stat_result
    name: str               # docker's stat "name" and the tar's top entry
    link_target: str = ""

    def doc(self) -> dict:
        """docker's ContainerPathStat JSON."""
        return {"name": self.name, "size": self.st.st_size, "mode": go_file_mode(self.st.st_mode),
                "mtime": rfc3339nano(self.st.st_mtime_ns), "linkTarget": self.link_target}


class ContainerFS:
    """One container's merged rootfs, open by fd for the length of one request."""

    def __init__(self, merged: str, ref: str, config: dict, readonly: bool, idmap: Any = None) -> None:
        self.merged = merged
        self.idmap = idmap  # --userns-remap: tars carry the container's ids, the rootfs the host's
        self.ref = ref
        self.config = config
        self.readonly = readonly
        # followed: /proc/<pid>/root is a magic link (the path itself is the daemon's, not the container's)
        self.root = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._work: set[asyncio.Future] = set()

    def call(self, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        """Run blocking work on this rootfs in a thread. A cancelled caller does not
        stop the thread, so the root fd stays open until every such thread is done
        (a closed fd number reused elsewhere must never be written through)."""
        fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        self._work.add(fut)
        fut.add_done_callback(self._work.discard)
        return asyncio.shield(fut)

    async def aclose(self) -> None:
        cancelled = False
        while self._work:
            try:
                await asyncio.wait(set(self._work))
            except asyncio.CancelledError:
                cancelled = True
        os.close(self.root)
        if cancelled:
            raise asyncio.CancelledError

    def _not_found(self, path: str) -> NotFound:
        return NotFound(f"Could not find the file {path} in container {self.ref}")

    def _target(self, path: str) -> _Target:
        """docker's ResolvePath + StatPath: the last component is not followed
        unless the path ends in "/" or "/." (then it must be a directory)."""
        shown = path
        whole = path.endswith(("/", "/.")) or path in ("", ".")
        try:
            if whole:
                parts = rp.resolve(self.root, path, follow_last=True)
            else:
                lexical = rp.clean(path)
                parts = rp.resolve(self.root, rp.join(lexical[:-1]), follow_last=True) + lexical[-1:]
            st = rp.lstat(self.root, parts)
        except NotADirectoryError:
            raise InvalidParameter(f"lstat {shown}: not a directory") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise InvalidParameter(f"lstat {shown}: too many levels of symbolic links") from None
            raise
        if st is None:
            raise self._not_found(shown)
        if whole and not stat.S_ISDIR(st.st_mode):
            raise InvalidParameter(f"lstat {shown}: not a directory")
        target = _Target(parts, st, _stat_name(path))
        if stat.S_ISLNK(st.st_mode):
            try:
                target.link_target = rp.join(rp.resolve(self.root, rp.join(parts), follow_last=True))
            except OSError:
                target.link_target = ""
        return target

    def stat(self, path: str) -> dict:
        return self._target(path).doc()

    def archive(self, path: str) -> tuple[dict, Callable[[TreeTar], None]]:
        """The stat of `path` and a function writing its tar (docker's rebase:
        the top entry carries the name the client asked for)."""
        t = self._target(path)
        doc, arcname = t.doc(), t.name

        def write(tar: TreeTar) -> None:
            tar.idmap = self.idmap
            if not t.parts:
                tar.add_tree(self.root, None, arcname)
                return
            parent = rp.open_dir(self.root, t.parts[:-1])
            try:
                tar.add_tree(parent, t.parts[-1], arcname)
            finally:
                os.close(parent)

        return doc, write

    def export(self, tar: TreeTar) -> None:
        tar.idmap = self.idmap
        tar.add_tree(self.root, None, "", include_top=False)

    def extraction_point(self, path: str) -> list[str]:
        """The directory a PUT extracts into; the last symlink is followed (you may
        extract "into" a link to a directory)."""
        try:
            parts = rp.resolve(self.root, path, follow_last=True)
            st = rp.lstat(self.root, parts)
        except NotADirectoryError:
            raise InvalidParameter(f"lstat {path}: not a directory") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise InvalidParameter(f"lstat {path}: too many levels of symbolic links") from None
            raise
        if st is None:
            raise self._not_found(path)
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidParameter("extraction point is not a directory")
        if self.readonly:
            raise Forbidden("container rootfs is marked read-only")
        return parts

    def extract(self, dest: list[str], stream: BinaryIO, copy_uid_gid: bool, no_overwrite_dir_non_dir: bool) -> None:
        owner = None
        if copy_uid_gid and self.config.get("User"):
            from berth.runtime.users import resolve_user

            uid, gid, _ = resolve_user(self.merged, self.config["User"])
            owner = (uid, gid)
        Extractor(self.root, dest, owner, no_overwrite_dir_non_dir, self.idmap).extract(stream)


class ArchiveService:
    """Archive, diff, export and commit over the container and image services."""

    def __init__(self, containers, images, snaps, events, pauser=None) -> None:  # type: ignore[no-untyped-def]
        self.containers = containers
        self.images = images
        self.snaps = snaps
        self.events = events
        self.pauser = pauser  # anything with async pause(ref) / unpause(ref): the resource service

    def _get(self, ref: str):  # type: ignore[no-untyped-def]
        c = self.containers.get(ref)
        if c.state.get("Status") == "removing":
            raise Conflict(f"container {c.id[:12]} is marked for removal")
        return c

    @asynccontextmanager
    async def open(self, ref: str, mounts: bool = True) -> AsyncIterator[ContainerFS]:
        """The container's rootfs, mounted (if it is not running) and locked for the block.
        With `mounts`, a running container is seen through /proc/<pid>/root, its own view,
        so cp reads and writes its volumes and binds as docker's does (export does not)."""
        from berth.snapshots import mount as m

        c = self._get(ref)
        async with c.lock:
            merged = self.snaps.merged_dir(c.id)
            mounted_here = False
            if not c.running and not m.is_mounted(merged):
                chain = c.doc.get("_LayerChain", [])
                try:
                    self.snaps.mount(c.id, self.images.cache_ids_for_chain(chain))
                except OSError as e:
                    raise System(f"cannot mount the rootfs of container {c.id[:12]}: {e.strerror or e}") from None
                mounted_here = True
                if mounts:
                    try:
                        await self.containers.mounts.fill_for_archive(c, merged)
                        self.containers.mounts.mount_for_archive(c, merged)
                    except OSError as e:
                        self.snaps.unmount(c.id)
                        raise System(f"cannot mount the volumes of container {c.id[:12]}: {e.strerror or e}") from None
            try:
                seen = f"/proc/{c.state['Pid']}/root" if mounts and c.running and c.state.get("Pid") else merged
                fs = ContainerFS(seen, ref, c.config, bool(c.host_config.get("ReadonlyRootfs")),
                                 self.snaps.idmap(c.id))
                try:
                    yield fs
                finally:
                    await fs.aclose()
            finally:
                if mounted_here and not c.running:
                    self.snaps.unmount(c.id)

    def event(self, ref: str, action: str, **extra: str) -> None:
        try:
            c = self.containers.get(ref)
        except NotFound:
            return
        self.events.publish("container", action, c.id, _attrs(c, **extra))

    # ------------------------------------------------------------ diff
    def _layers(self, c) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
        upper = os.path.join(self.snaps.container_dir(c.id), "upper")
        lowers = [self.snaps.layer_diff(x) for x in self.images.cache_ids_for_chain(c.doc.get("_LayerChain", []))]
        return upper, lowers

    async def changes(self, ref: str) -> list[dict]:
        from berth.images.commit import changes

        c = self._get(ref)
        upper, lowers = self._layers(c)
        return await asyncio.get_running_loop().run_in_executor(None, changes, upper, lowers,
                                                                self.snaps.idmap(c.id))

    # ------------------------------------------------------------ commit
    async def commit(self, ref: str, repo: str, tag: str, comment: str, author: str, pause: bool,
                     changes: list[str], body_config: dict | None) -> str:
        from berth.images import commit as cm
        from berth.images.changes import apply_changes
        from berth.images.store import go_arch

        c = self._get(ref)
        if c.state.get("Dead"):
            raise Conflict(f"You cannot commit container {c.id} which is Dead")
        reference = _commit_reference(repo, tag)
        try:
            parent = self.images.get(c.doc["Image"])
        except ImageNotFound:
            raise Conflict(f"cannot commit container {c.id[:12]}: its image {c.doc['Image']} was removed") from None
        if body_config is None:
            new_config = apply_changes(c.config, changes)
        else:
            new_config = cm.merge_commit_config(apply_changes(body_config, changes), c.config)
        paused_here = await self._pause(c) if pause else False
        try:
            async with c.lock:
                upper, lowers = self._layers(c)
                work = asyncio.get_running_loop().run_in_executor(
                    None, cm.layer_from_upper, self.snaps, upper, lowers)
                try:
                    layer = await asyncio.shield(work)
                except asyncio.CancelledError:
                    # The thread goes on regardless: keep the lock until it ends, drop its layer.
                    await asyncio.wait({work})
                    if not work.exception() and work.result().staging:
                        shutil.rmtree(work.result().staging, ignore_errors=True)
                    raise
            config = cm.image_config(parent.config, c.id, c.config, new_config, layer.diff_id, author,
                                     comment, rfc3339nano(), go_arch())
            try:
                image = self.images.add_layer_image(layer.staging, layer.diff_id, layer.size, config, reference,
                                                    parent.id)
            except BaseException:
                if layer.staging:
                    shutil.rmtree(layer.staging, ignore_errors=True)
                raise
            shown = reference.familiar() if reference is not None else ""
            if reference is not None:
                self.events.publish("image", "tag", image.id, {"name": shown})
            self.events.publish("container", "commit", c.id,
                                _attrs(c, comment=comment, imageID=image.id, imageRef=shown))
        finally:
            if paused_here:
                await self._unpause(c)
        return image.id

    async def _pause(self, c) -> bool:  # type: ignore[no-untyped-def]
        """Freeze a running container for a consistent layer, when the engine can pause."""
        pause = getattr(self.pauser, "pause", None)
        if pause is None or not c.running or c.state.get("Paused"):
            return False
        # Saved with the pause: a daemon killed mid-commit leaves the mark, and the
        # start-up check (engine/check.py) thaws what the commit froze.
        c.state["_CommitPause"] = True
        try:
            result = pause(c.id)
            if inspect.isawaitable(result):
                await result
        except BerthError:
            c.state.pop("_CommitPause", None)
            if not c.running:
                return False  # it stopped meanwhile: nothing to freeze
            raise
        return True

    async def _unpause(self, c) -> None:  # type: ignore[no-untyped-def]
        unpause = getattr(self.pauser, "unpause", None)
        c.state.pop("_CommitPause", None)  # saved with the unpause
        if unpause is None or not c.state.get("Paused"):
            return
        try:
            result = unpause(c.id)
            if inspect.isawaitable(result):
                await result
        except Exception as e:  # noqa: BLE001 - the image is made; say why the container stays frozen
            log.warning("commit: could not unpause %s: %s", c.id[:12], getattr(e, "message", e))


def _attrs(c, **extra: str) -> dict:  # type: ignore[no-untyped-def]
    """A container event's attributes, as docker sends them: image, name, labels, then extras."""
    attrs = {"image": c.config.get("Image", ""), "name": c.name.lstrip("/")}
    attrs.update(c.config.get("Labels") or {})
    attrs.update(extra)
    return attrs


def _commit_reference(repo: str, tag: str) -> refs.Reference | None:
    if not repo:
        if tag:
            raise InvalidParameter("tag requires a repository name")  # docker: a tag alone means nothing
        return None
    if tag:
        ref = refs.parse(repo, default_tag=False)
        if ref.digest:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        return ref.with_tag(tag)
    ref = refs.parse(repo)
    if ref.digest:
        raise InvalidParameter("refusing to create a tag with a digest reference")
    return ref


async def stream_from_thread(produce: Callable[[TreeTar], None],
                             call: Callable[..., Awaitable[Any]] | None = None) -> AsyncIterator[bytes]:
    """Run `produce(tar)` in a thread and yield the tar's bytes as they come.

    The queue is small, so a slow client slows the producer instead of
    filling memory; a client that goes away stops it at its next write.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=4)
    stop = threading.Event()
    done = object()

    class _Sink:
        def write(self, data: bytes) -> None:
            if stop.is_set():
                raise BrokenPipeError(errno.EPIPE, "client gone")
            asyncio.run_coroutine_threadsafe(queue.put(data), loop).result()

    def run() -> object:
        try:
            tar = TreeTar(_Sink())
            produce(tar)
            tar.close()
            return done
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            return e

    worker = asyncio.ensure_future(call(run) if call is not None else loop.run_in_executor(None, run))
    try:
        while True:
            get = asyncio.ensure_future(queue.get())
            finished, _ = await asyncio.wait({get, worker}, return_when=asyncio.FIRST_COMPLETED)
            if get in finished:
                yield get.result()
                continue
            get.cancel()
            while not queue.empty():
                yield queue.get_nowait()
            outcome = worker.result()
            if outcome is not done:
                assert isinstance(outcome, BaseException)
                raise outcome
            return
    finally:
        stop.set()
        while not queue.empty():
            queue.get_nowait()
        if not worker.done():
            await asyncio.wait({worker})
