"""An attached stdio session: the part `run`, `start -a`, `attach` and `exec` share.

It decides where output goes (stderr joins stdout under a TTY, like docker),
puts the terminal in raw mode when the user's stdin is a terminal and the
container has a TTY, keeps the container's TTY size in step with ours, and
tells the caller whether the stream ended or the user detached.
"""

from __future__ import annotations


from .command import Cli
from .stdio import DEFAULT_DETACH_KEYS, EscapeDetector, OutputSink, parse_detach_keys, pump
from .terminal import RawTerminal, ResizeMonitor, fd_of, is_terminal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


class _TextAdapter:
    """Lets raw container bytes go to a text-only stream (in-process callers, tests)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8", errors="replace"))

    def flush(self) -> None:
        self.stream.flush()


def binary(stream: Any) -> Any:
    if stream is None:
        return None
    buf = getattr(stream, "buffer", None)
    if buf is not None:
        return buf
    try:
        stream.write(b"")
        return stream
    except TypeError:
        return _TextAdapter(stream)


def detach_keys(text: str) -> bytes:
    if not text:
        return DEFAULT_DETACH_KEYS
    try:
        return parse_detach_keys(text)
    except ValueError:
        return DEFAULT_DETACH_KEYS


def run_session(
    cli: Cli,
    hijacked: Any,
    *,
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    keys: str = "",
    resize: Callable[[int, int], None] | None = None,
    resize_retry: bool = False,
) -> str:
    """Stream until output ends; returns "eof", "detached" or "stdin"."""
    out = binary(cli.out) if stdout else None
    err = None
    if stderr:
        err = binary(cli.out) if tty else binary(cli.err)
    sink = OutputSink(out, err, tty) if (stdout or stderr) else None
    stdin_fd = fd_of(cli.stdin) if stdin else None
    if stdin and stdin_fd is None:
        _send_all_input(cli.stdin, hijacked)
    raw: RawTerminal | None = None
    escape = None
    if stdin and tty and stdin_fd is not None and is_terminal(cli.stdin):
        raw = RawTerminal(stdin_fd)
        escape = EscapeDetector(detach_keys(keys))
    monitor = None
    if tty and resize is not None and is_terminal(cli.out):
        monitor = ResizeMonitor(resize, cli.out, retry=resize_retry)
    try:
        if raw is not None:
            raw.__enter__()
        if monitor is not None:
            monitor.start()
        return pump(hijacked, sink, stdin_fd, escape, on_output_end=raw.restore if raw else None)
    finally:
        if monitor is not None:
            monitor.stop()
        if raw is not None:
            raw.restore()
        hijacked.close()


def _send_all_input(stream: Any, hijacked: Any) -> None:
    """stdin without a file descriptor (in-process callers): send it all, then EOF."""
    try:
        data = stream.read()
    except (OSError, ValueError, AttributeError):
        data = b""
    if isinstance(data, str):
        data = data.encode()
    if data:
        try:
            hijacked.sendall(data)
        except OSError:
            pass
    hijacked.close_write()
