"""Writer for docker's json-file log format.

This runs inside the per-container monitor, which must stay small and must
survive the daemon, so it imports only the standard library.  Throughput
matters as much as fidelity: a container can print 100 MB in a second, so
the common case (printable ASCII lines) is encoded for a whole pipe chunk at
once with C-level bytes operations, and every chunk becomes one `os.writev`.

The on-disk bytes match what dockerd writes, so tools that read
`<id>-json.log` directly (and docker itself, after an import) understand them:

    {"log":"hello\\n","stream":"stdout","time":"2026-11-28T07:01:04.123456789Z"}

- the string escaping is the one of docker's jsonlog marshaller: `"` and `\\`
  escaped, `\\n` and `\\r` short forms, every other control byte (tab too) as
  `\\u00XX`, `<` `>` `&` as `\\u003c` `\\u003e` `\\u0026`, U+2028/U+2029 escaped,
  and each byte of invalid UTF-8 replaced by the escape `\\ufffd`;
- the time is Go's RFC3339Nano in UTC (fraction without trailing zeros);
- a line is split off at `\\n`; a line of 16 KiB or more goes to disk in
  16 KiB pieces without the trailing `\\n` (all pieces share the time of the
  first, like docker's partial messages); whatever is buffered when the
  stream ends is written without a newline;
- rotation follows docker's rule: before an entry is written, if the file
  already holds `max_size` bytes or more it is rotated (so a file may exceed
  `max_size` by the one entry that crossed it).
"""

from __future__ import annotations

import codecs
import os
import re
import time

__all__ = [
    "PIECE_SIZE",
    "JsonFileWriter",
    "escape_go_json",
    "format_rfc3339nano",
    "parse_log_opts",
]

# docker's copier buffer: a line that fills it without a newline is logged as
# a partial message of exactly this many raw bytes.
PIECE_SIZE = 16 * 1024

_PREFIX = b'{"log":"'
_MAX_IOV = 512  # well under IOV_MAX (1024 on Linux)
_NEWLINE_ESC = b"\\n"

# Bytes that can be copied into a JSON string untouched (plus the line feed,
# which is handled by line splitting).  `bytes.translate(None, _SAFE)` deletes
# them; anything left over means the chunk needs real escaping.
_SAFE = bytes(b for b in range(0x20, 0x80) if b not in b'"\\<>&') + b"\n"

# Everything but the control bytes that need a \\u00XX (or \\r) escape.
_NOT_CONTROL = bytes(range(0x20, 0x100)) + b"\n"
_RUNS = {bytes((b,)): re.compile(re.escape(bytes((b,))) + b"+") for b in range(0x20)}
_CONTROL_ESC = {b: b"\\u%04x" % b for b in range(0x20)}
_CONTROL_ESC[0x0D] = b"\\r"

# For the rare invalid UTF-8: a lone surrogate can never come out of a strict
# UTF-8 decode, so it marks "one bad byte here" until translate() turns it
# into the six characters `\ufffd`, as Go writes it.
_BAD_BYTE_MARK = "\ud800"
_ERROR_HANDLER = "berth.gojson-badbyte"


def _one_bad_byte(exc: UnicodeError) -> tuple[str, int]:
    """Replace exactly one byte per error, as Go's utf8.DecodeRune does.

    Python's own "replace" folds a truncated sequence into one U+FFFD; Go
    emits one replacement per byte, and docker's files show that.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _BAD_BYTE_MARK, exc.start + 1


codecs.register_error(_ERROR_HANDLER, _one_bad_byte)

_STR_ESC: dict[int, str] = {b: f"\\u{b:04x}" for b in range(0x20)}
_STR_ESC.update(
    {
        0x0A: "\n",  # kept raw: the caller splits lines on it
        0x0D: "\\r",
        0x22: '\\"',
        0x5C: "\\\\",
        0x3C: "\\u003c",
        0x3E: "\\u003e",
        0x26: "\\u0026",
        0x2028: "\\u2028",
        0x2029: "\\u2029",
        ord(_BAD_BYTE_MARK): "\\ufffd",
    }
)


def _escape_keeping_newlines(data: bytes) -> bytes:
    """Escape like docker's jsonlog, except that raw `\\n` bytes stay.

    Keeping the newlines lets a whole chunk be escaped in one pass and split
    into entries afterwards.  Valid UTF-8 (the overwhelming case) is handled
    with `bytes.replace`, which runs at memory speed; only invalid UTF-8 takes
    the per-character route.
    """
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", _ERROR_HANDLER)
            return text.translate(_STR_ESC).encode("utf-8")
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b"\xe2\x80" in data:
        data = data.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    if b'"' in data:
        data = data.replace(b'"', b'\\"')
    if b"<" in data:
        data = data.replace(b"<", b"\\u003c")
    if b">" in data:
        data = data.replace(b">", b"\\u003e")
    if b"&" in data:
        data = data.replace(b"&", b"\\u0026")
    if b"\t" in data:
        data = data.replace(b"\t", b"\\u0009")
    ctrl = data.translate(None, _NOT_CONTROL)
    while ctrl:
        # One pass per distinct control byte, never a Python call per byte.
        one = ctrl[:1]
        esc = _CONTROL_ESC[ctrl[0]]
        n = len(ctrl) - len(ctrl := ctrl.translate(None, one))
        if n >= 1024 and data.count(one * 16) * 32 >= n:
            # Mostly long runs (NUL-filled output): a run costs one match, where
            # replace() pays per byte for a 1-to-6 expansion.
            data = _RUNS[one].sub(lambda m: esc * len(m.group()), data)
        else:
            data = data.replace(one, esc)
    return data


def _may_hold_long_line(body: bytes) -> bool:
    """True when `body` might hold a line of PIECE_SIZE bytes or more.

    Any such run of bytes without a newline covers a whole aligned window of
    half that size, so probing a few windows with `find` is enough; a false
    alarm only sends the chunk down the exact per-line path.
    """
    n = len(body)
    if n < PIECE_SIZE:
        return False
    half = PIECE_SIZE // 2
    for start in range(0, n - half + 1, half):
        if body.find(b"\n", start, start + half) < 0:
            return True
    return False


def escape_go_json(data: bytes) -> bytes:
    """The inside of the JSON string docker writes for `data` (no quotes)."""
    if not data.translate(None, _SAFE):
        return data.replace(b"\n", _NEWLINE_ESC)
    return _escape_keeping_newlines(data).replace(b"\n", _NEWLINE_ESC)


_second_cache: tuple[int, str] = (-1, "")


def format_rfc3339nano(ns: int) -> str:
    """Go's time.RFC3339Nano for a UTC instant given in nanoseconds."""
    global _second_cache
    sec, frac = divmod(ns, 1_000_000_000)
    cached_sec, base = _second_cache
    if sec != cached_sec:
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _second_cache = (sec, base)
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


class JsonFileWriter:
    """Appends a container's stdout/stderr to a json-file log, rotating it.

    Not thread-safe: the monitor feeds it from one loop.  A failed write
    (disk full, ...) drops that batch and is counted in `dropped_bytes`
    instead of raising, because the monitor must keep draining the
    container's pipes whatever happens to the log (docker does the same).
    """

    def __init__(
        self,
        path: str,
        max_size: int = 20 * 1024 * 1024,
        max_file: int = 3,
        *,
        attrs: dict[str, str] | None = None,
    ) -> None:
        """`max_size` <= 0 means no rotation; `attrs` are docker's extra
        attributes (log-opt labels/env/tag), written as `"attrs":{...}`."""
        self.path = path
        self.max_size = max_size if max_size > 0 else -1
        self.max_file = max(1, max_file)
        self.dropped_bytes = 0
        self.last_error: OSError | None = None
        self._attrs = b""
        if attrs:
            pairs = (
                b'"' + escape_go_json(k.encode()) + b'":"' + escape_go_json(v.encode()) + b'"'
                for k, v in sorted(attrs.items())
            )
            self._attrs = b',"attrs":{' + b",".join(pairs) + b"}"
        self._fd = self._open(truncate=False)
        self._size = os.fstat(self._fd).st_size
        self._pending: dict[str, bytes] = {}
        self._partial_ts: dict[str, bytes] = {}
        self._heads: dict[str, bytes] = {}
        self._piece_raw = b""
        self._piece_text = b""

    # -- public -------------------------------------------------------------

    def write(self, stream: str, data: bytes) -> None:
        """Log a raw chunk read from the container's `stream` pipe."""
        if not data:
            return
        pending = self._pending.get(stream)
        if pending:
            data = pending + data
        ts = self._now()
        head = self._head(stream)
        parts: list[bytes] = []
        last_nl = data.rfind(b"\n")
        if last_nl >= 0:
            self._encode_lines(stream, head, data[:last_nl], ts, parts)
            rest = data[last_nl + 1 :]
        else:
            rest = data
        if len(rest) >= PIECE_SIZE:
            cut = len(rest) - len(rest) % PIECE_SIZE
            for i in range(0, cut, PIECE_SIZE):
                parts.append(self._entry(stream, head, rest[i : i + PIECE_SIZE], False, ts))
            rest = rest[cut:]
        self._pending[stream] = rest
        if parts:
            self._emit(parts)

    def flush(self) -> None:
        """Write out partial lines; called when the container's pipes close."""
        parts = []
        for stream, rest in self._pending.items():
            if rest:
                parts.append(self._entry(stream, self._head(stream), rest, False, self._now()))
                self._partial_ts.pop(stream, None)
        self._pending.clear()
        if parts:
            self._emit(parts)

    def close(self) -> None:
        """Flush what is buffered and release the file."""
        if self._fd < 0:
            return
        self.flush()
        os.close(self._fd)
        self._fd = -1

    # -- encoding -----------------------------------------------------------

    def _now(self) -> bytes:
        return format_rfc3339nano(time.time_ns()).encode()

    def _head(self, stream: str) -> bytes:
        """The bytes between the log text and the time value for `stream`."""
        head = self._heads.get(stream)
        if head is None:
            name = escape_go_json(stream.encode())
            head = b'","stream":"' + name + b'"' + self._attrs + b',"time":"'
            self._heads[stream] = head
        return head

    def _entry(self, stream: str, head: bytes, raw: bytes, newline: bool, ts: bytes) -> bytes:
        """One entry; the pieces of a split line share the first one's time."""
        if newline:
            ts = self._partial_ts.pop(stream, ts)
        else:
            ts = self._partial_ts.setdefault(stream, ts)
        if len(raw) == PIECE_SIZE:
            # Pieces of a long run repeat (NUL or pattern fills): remember the last one.
            if raw == self._piece_raw:
                text = self._piece_text
            else:
                text = escape_go_json(raw)
                self._piece_raw, self._piece_text = raw, text
        else:
            text = escape_go_json(raw)
        return b"".join((_PREFIX, text, _NEWLINE_ESC if newline else b"", head, ts, b'"}\n'))

    def _encode_lines(self, stream: str, head: bytes, body: bytes, ts: bytes, parts: list[bytes]) -> None:
        """Encode `body` (complete lines, final newline stripped) into parts.

        The common case is one `replace` over the whole chunk; the result goes
        to `os.writev` between its prefix and suffix, because concatenating
        large buffers costs more than encoding them.
        """
        if stream in self._partial_ts or _may_hold_long_line(body):
            for line in body.split(b"\n"):
                while len(line) >= PIECE_SIZE:
                    parts.append(self._entry(stream, head, line[:PIECE_SIZE], False, ts))
                    line = line[PIECE_SIZE:]
                parts.append(self._entry(stream, head, line, True, ts))
            return
        if body.translate(None, _SAFE):
            body = _escape_keeping_newlines(body)
        tail = _NEWLINE_ESC + head + ts + b'"}\n'
        parts.append(_PREFIX)
        parts.append(body.replace(b"\n", tail + _PREFIX))
        parts.append(tail)

    # -- file handling ------------------------------------------------------

    def _open(self, truncate: bool) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        if truncate:
            flags |= os.O_TRUNC
        return os.open(self.path, flags, 0o640)

    def _emit(self, parts: list[bytes]) -> None:
        """Write encoded entries, rotating before any entry that starts at or
        past `max_size` (docker's check-then-write order)."""
        total = sum(map(len, parts))
        if self.max_size < 0 or self._size + total <= self.max_size:
            self._write_all(parts, total)
            return
        entries = b"".join(parts).split(b"\n")
        entries.pop()  # after the final newline
        run: list[bytes] = []
        run_size = 0
        for entry in entries:
            if self._size + run_size >= self.max_size:
                if run:
                    self._write_all(run, run_size)
                    run, run_size = [], 0
                self._rotate()
            run.append(entry + b"\n")
            run_size += len(entry) + 1
        if run:
            self._write_all(run, run_size)

    def _write_all(self, parts: list[bytes], total: int) -> None:
        if len(parts) > _MAX_IOV:
            parts = [b"".join(parts)]
        written = 0
        try:
            written = os.writev(self._fd, parts)
            self._size += written
            if written < total:
                view = memoryview(b"".join(parts))[written:]
                while view:
                    n = os.write(self._fd, view)
                    self._size += n
                    written += n
                    view = view[n:]
        except OSError as exc:
            self.dropped_bytes += total - written
            self.last_error = exc

    def _rotate(self) -> None:
        """Shift path -> path.1 -> ... keeping `max_file` files in all.

        With max_file=1 docker truncates the one file in place; readers that
        follow it notice the size going down.
        """
        try:
            if self.max_file == 1:
                os.ftruncate(self._fd, 0)
            else:
                try:
                    os.unlink(f"{self.path}.{self.max_file - 1}")
                except FileNotFoundError:
                    pass
                for i in range(self.max_file - 1, 1, -1):
                    try:
                        os.rename(f"{self.path}.{i - 1}", f"{self.path}.{i}")
                    except FileNotFoundError:
                        pass
                os.rename(self.path, f"{self.path}.1")
                new_fd = self._open(truncate=True)
                os.close(self._fd)
                self._fd = new_fd
        except OSError as exc:
            # Keep appending to whatever file we hold rather than lose output.
            self.last_error = exc
            return
        self._size = 0


# -- --log-opt parsing ---------------------------------------------------------

_JSON_FILE_OPTS = frozenset(
    {"max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"}
)
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)*) ?([kmgtp])?i?b?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_GO_BOOLS = {
    "1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
    "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False,
}


def _parse_human_size(value: str) -> int:
    """docker/go-units FromHumanSize: decimal units, `10m` is 10,000,000."""
    m = _SIZE.match(value)
    if m is None:
        raise ValueError(f"invalid size: '{value}'")
    number, unit = m.group(1), (m.group(2) or "").lower()
    if number.count(".") > 1:
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    size = float(number) * _SIZE_UNITS[unit]
    if size >= 2**63:
        return -1  # Go's float->int64 conversion overflows to a negative number
    return int(size)


def _go_atoi(value: str) -> int:
    if not _GO_INT.match(value):
        raise ValueError(f'strconv.Atoi: parsing "{value}": invalid syntax')
    n = int(value)
    if not -(2**63) <= n < 2**63:
        raise ValueError(f'strconv.Atoi: parsing "{value}": value out of range')
    return n


def parse_log_opts(opts: dict[str, str]) -> tuple[int, int]:
    """(max_size, max_file) from json-file `--log-opt`s, checked as docker does.

    Without `max-size` there is no rotation (-1) and one file, docker's
    json-file default.  Errors carry docker's wording in a ValueError; the
    daemon reports them as InvalidParameter.  `compress` is validated but
    rotated files are kept uncompressed; labels/env/tag are accepted (their
    values become `attrs`, which the caller passes to the writer).
    """
    for key in opts:
        if key not in _JSON_FILE_OPTS:
            raise ValueError(f"unknown log opt '{key}' for json-file log driver")
    max_size = -1
    if "max-size" in opts:
        max_size = _parse_human_size(opts["max-size"])
        if max_size <= 0:
            raise ValueError("max-size must be a positive number")
    max_file = 1
    if "max-file" in opts:
        max_file = _go_atoi(opts["max-file"])
        if max_file < 1:
            raise ValueError("max-file cannot be less than 1")
    if "compress" in opts:
        value = opts["compress"]
        if value not in _GO_BOOLS:
            raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')
        if _GO_BOOLS[value] and (max_file == 1 or max_size == -1):
            raise ValueError(
                "compress cannot be true when max-file is less than 2 or max-size is not set"
            )
    return max_size, max_file
