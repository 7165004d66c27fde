"""The local terminal during `run -it`, `attach`, `exec -it`, and signal forwarding.

Raw mode must be undone on every way out (normal exit, errors, SIGTERM/SIGHUP),
otherwise the user's shell is left without echo; `RawTerminal` is a context
manager that also restores from those signals. Window size changes are sent to
the daemon as docker does: once at start and on every SIGWINCH.
"""

from __future__ import annotations

import _signal as signal  # the C module: `signal` imports enum (~3 ms) for names we don't need
import posix
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

# Signals docker forwards with --sig-proxy (it skips SIGCHLD, SIGPIPE, SIGURG, SIGWINCH).
PROXIED_SIGNALS = (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM",
    "SIGCONT", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR",
    "SIGXCPU", "SIGXFSZ",
)


def fd_of(stream: Any) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def is_terminal(stream: Any) -> bool:
    fd = fd_of(stream)
    return fd is not None and posix.isatty(fd)


def terminal_size(stream: Any) -> tuple[int, int]:
    """(height, width) of the terminal behind `stream`, or (0, 0)."""
    fd = fd_of(stream)
    if fd is None:
        return 0, 0
    try:
        size = posix.get_terminal_size(fd)
    except OSError:
        return 0, 0
    return size.lines, size.columns


class RawTerminal:
    """Put a terminal in raw mode (like moby/term MakeRaw) and always restore it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: Any = None
        self._old_handlers: dict[int, Any] = {}

    def __enter__(self) -> "RawTerminal":
        import termios

        self._saved = termios.tcgetattr(self.fd)
        attrs = termios.tcgetattr(self.fd)
        iflag, oflag, cflag, lflag = attrs[0], attrs[1], attrs[2], attrs[3]
        iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                   | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
        oflag &= ~termios.OPOST
        lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
        cflag &= ~(termios.CSIZE | termios.PARENB)
        cflag |= termios.CS8
        attrs[0], attrs[1], attrs[2], attrs[3] = iflag, oflag, cflag, lflag
        attrs[6][termios.VMIN] = 1
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSADRAIN, attrs)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_fatal_signal)
            except (ValueError, OSError):
                pass
        return self

    def _on_fatal_signal(self, signum: int, _frame: Any) -> None:
        self.restore()
        raise SystemExit(128 + signum)

    def restore(self) -> None:
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except (termios.error, OSError):
                pass
            self._saved = None
        for sig, handler in self._old_handlers.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
        self._old_handlers = {}

    def __exit__(self, *exc: Any) -> None:
        self.restore()


class ResizeMonitor:
    """Sends the terminal size to the daemon now and on every SIGWINCH."""

    def __init__(self, resize: Callable[[int, int], None], out: Any = None, retry: bool = False) -> None:
        self.resize = resize
        self.out = out if out is not None else sys.stdout
        self.retry = retry
        self._old: Any = None

    def start(self) -> None:
        self._send(initial=True)
        try:
            self._old = signal.signal(signal.SIGWINCH, lambda *_: self._send())
        except (ValueError, OSError):
            self._old = None

    def _send(self, initial: bool = False) -> None:
        h, w = terminal_size(self.out)
        if h == 0 and w == 0:
            return
        attempts = 10 if (initial and self.retry) else 1
        for i in range(attempts):
            try:
                self.resize(h, w)
                return
            except Exception:  # noqa: BLE001 - resizing is best effort, like docker
                if i + 1 < attempts:
                    import time

                    time.sleep(0.01 * (i + 1))

    def stop(self) -> None:
        if self._old is not None:
            try:
                signal.signal(signal.SIGWINCH, self._old)
            except (ValueError, OSError):
                pass
            self._old = None


_SIGNAL_NAMES = {getattr(signal, name): name for name in PROXIED_SIGNALS if hasattr(signal, name)}


class SignalProxy:
    """Forward signals we receive to the container (docker's --sig-proxy)."""

    def __init__(self, kill: Callable[[str], None]) -> None:
        self.kill = kill
        self._old: dict[int, Any] = {}

    def start(self) -> None:
        for name in PROXIED_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self._old[sig] = signal.signal(sig, self._forward)
            except (ValueError, OSError):
                pass

    def _forward(self, signum: int, _frame: Any) -> None:
        try:
            self.kill(_SIGNAL_NAMES[signum][3:])
        except Exception:  # noqa: BLE001 - docker only logs failures here
            pass

    def stop(self) -> None:
        for sig, handler in self._old.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
        self._old = {}
