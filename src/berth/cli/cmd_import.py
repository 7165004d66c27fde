"""`import` (`image import`) and Berth's `image bootstrap`.

Both upload a rootfs tar as the body of POST /images/create?fromSrc=-, in
chunks, so a large tar never sits in memory; the daemon answers with a JSON
progress stream whose last status is the new image ID.
"""

from __future__ import annotations

import os
import threading

from .command import Cli, CliError, Command
from .flags import FlagSet, Values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Iterator

CHUNK = 1 << 20


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        data = stream.read(CHUNK)
        if not data:
            return
        yield data


def _show_stream(cli: Cli, resp: Any, out: Any) -> None:
    from .jsonmessage import display_stream
    from .terminal import is_terminal, terminal_size

    def write(text: str) -> None:
        out.write(text)
        out.flush()

    display_stream(resp.iter_json(), write, is_terminal(out), terminal_size(out)[1])


def _import_flags(fs: FlagSet) -> None:
    fs.list("change", "c", "Apply Dockerfile instruction to the created image")
    fs.string("message", "m", "Set commit message for imported image")
    fs.string("platform", "", "Set platform if server is multi-platform capable")


def _import(cli: Cli, v: Values, args: list[str]) -> int:
    source = args[0]
    ref = args[1] if len(args) > 1 else ""
    if ref:
        from .reference import ReferenceError_, parse_normalized

        try:
            parse_normalized(ref)
        except ReferenceError_ as exc:
            raise CliError(str(exc)) from None
    params: dict[str, Any] = {"repo": ref or None, "message": v.message or None,
                              "changes": list(v.change) or None, "platform": v.platform or None}
    body: Any = None
    opened: BinaryIO | None = None
    if source == "-":
        params["fromSrc"] = "-"
        stdin = getattr(cli.stdin, "buffer", cli.stdin)
        body = _chunks(stdin)
    elif source.startswith(("http://", "https://")):
        params["fromSrc"] = source
    else:
        params["fromSrc"] = "-"
        try:
            opened = open(source, "rb")
        except OSError as exc:
            raise CliError(f"open {source}: {(exc.strerror or str(exc)).lower()}") from None
        body = _chunks(opened)
    try:
        resp = cli.client().request("POST", "/images/create", params, body=body,
                                    headers=[("Content-Type", "application/x-tar")] if body is not None else None)
        _show_stream(cli, resp, cli.out)
    finally:
        if opened is not None:
            opened.close()
    return 0


def import_command() -> Command:
    return Command("import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                   "Import the contents from a tarball to create a filesystem image",
                   _import, _import_flags, ("range", 1, 2), aliases="image import, import")


# --- image bootstrap ------------------------------------------------------------------------------


class _Producer:
    """Runs write_rootfs_tar in a thread, writing into a pipe we upload from."""

    def __init__(self, name: str, progress: Any) -> None:
        self.name = name
        self.progress = progress
        self.result: Any = None
        self.error: BaseException | None = None
        rfd, wfd = os.pipe()
        self.reader = os.fdopen(rfd, "rb", buffering=0)
        self._writer = os.fdopen(wfd, "wb", buffering=CHUNK)
        self.thread = threading.Thread(target=self._run, name="bootstrap-tar", daemon=True)

    def _run(self) -> None:
        from berth.images.bootstrap import write_rootfs_tar

        try:
            self.result = write_rootfs_tar(self.name, self._writer, self.progress)
            self._writer.flush()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        finally:
            try:
                self._writer.close()
            except OSError:
                pass

    def start(self) -> None:
        self.thread.start()

    def chunks(self) -> Iterator[bytes]:
        """The tar as upload chunks; a failed writer aborts the upload (no final chunk)."""
        while True:
            data = self.reader.read(CHUNK)
            if not data:
                break
            yield data
        self.thread.join()
        if self.error is not None:
            raise CliError(f"Error: {_message(self.error)}")

    def close(self) -> None:
        try:
            self.reader.close()
        except OSError:
            pass


def _describe(name: str) -> Any:
    """Repo, tag and changes before writing, when the bootstrap module can tell."""
    try:
        import berth.images.bootstrap as bootstrap
    except ImportError as exc:
        raise CliError(f"image bootstrap is not available: {exc}") from None
    for attr in ("describe", "plan", "image_for"):
        fn = getattr(bootstrap, attr, None)
        if callable(fn):
            return fn(name)
    return None


def _bootstrap(cli: Cli, v: Values, args: list[str]) -> int:
    name = args[0]
    lock = threading.Lock()

    def progress(line: str) -> None:
        with lock:
            cli.err.write(line.rstrip("\n") + "\n")
            cli.err.flush()

    try:
        meta = _describe(name)
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - the module's own error vocabulary
        raise CliError(f"Error: {getattr(exc, 'message', None) or exc}") from None
    client = cli.client()
    client.negotiate()
    if meta is not None:
        return _bootstrap_streaming(cli, name, meta, progress)
    return _bootstrap_spooled(cli, name, progress)


def _import_params(meta: Any) -> dict[str, Any]:
    return {"fromSrc": "-", "repo": meta.repo or None, "tag": meta.tag or None,
            "changes": list(meta.changes) or None}


def _finish(cli: Cli, resp: Any) -> int:
    """Show progress on stderr and print the image ID (the last status line) on stdout."""
    from .jsonmessage import StreamMessageError

    last = ""
    for msg in resp.iter_json():
        if not isinstance(msg, dict):
            continue
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            raise StreamMessageError(detail.get("message") or msg.get("error"))
        status = msg.get("status") or ""
        if status.startswith("sha256:"):
            last = status
        elif status:
            cli.err.write(status + "\n")
    if last:
        cli.out.write(last + "\n")
    return 0


def _bootstrap_streaming(cli: Cli, name: str, meta: Any, progress: Any) -> int:
    producer = _Producer(name, progress)
    producer.start()
    try:
        resp = cli.client().request("POST", "/images/create", _import_params(meta), body=producer.chunks(),
                                    headers=[("Content-Type", "application/x-tar")])
        producer.thread.join()
        if producer.error is not None:
            raise CliError(f"Error: {_message(producer.error)}")
        return _finish(cli, resp)
    finally:
        producer.close()


def _bootstrap_spooled(cli: Cli, name: str, progress: Any) -> int:
    """Fallback while the repo/tag/changes are only known after writing: spool to disk."""
    import tempfile

    from berth.images.bootstrap import write_rootfs_tar

    with tempfile.TemporaryFile(prefix="berth-bootstrap-", dir=os.environ.get("TMPDIR") or "/var/tmp") as tmp:
        try:
            meta = write_rootfs_tar(name, tmp, progress)
        except Exception as exc:  # noqa: BLE001
            raise CliError(f"Error: {_message(exc)}") from None
        tmp.flush()
        tmp.seek(0)
        resp = cli.client().request("POST", "/images/create", _import_params(meta), body=_chunks(tmp),
                                    headers=[("Content-Type", "application/x-tar")])
        return _finish(cli, resp)


def _message(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def bootstrap_command() -> Command:
    return Command("bootstrap", "NAME", "Build a base image from local packages (busybox, debian)",
                   _bootstrap, None, ("exact", 1),
                   extra_help="Supported: busybox[:latest], debian[:latest|<codename>|<version>][-slim]")

