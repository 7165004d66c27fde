"""Reader for json-file logs: `GET /containers/{id}/logs` and attach-with-logs.

`docker logs` of a chatty container means decoding millions of entries, so
the reader avoids per-entry Python work where it can:

- Blocks of about 1 MiB of whole lines are read with `os.pread`.
- A block whose entries all have our writer's fixed shape, one stream and no
  escapes besides the final `\\n` is turned into payload with a single regex
  substitution (`...\\n","stream":"stdout","time":"..."}\\n{"log":"` -> LF).
  When times matter (timestamps, since, until) the substitution rewrites
  each entry through a small callback instead, with times parsed once per
  distinct value.
- Otherwise each line is sliced between `{"log":"` and `","stream":"`; only
  text with escapes is JSON-decoded, and lines of any other shape (files
  written by dockerd, with `attrs`) go through `json.loads`.
- Consecutive entries of one stream are coalesced into payloads of up to
  `LogQuery.max_payload` bytes, cut at entry boundaries, so the API sends a
  few large stdcopy frames instead of one per line.

Semantics follow docker's json-file reader: rotated files are read oldest
first (path.N ... path.1, path); `tail` counts entries of both streams before
the stream selection, then `since` (inclusive) and `until` (inclusive) filter.
"""

from __future__ import annotations

import asyncio
import calendar
import codecs
import json
import math
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "STDERR",
    "STDOUT",
    "LogQuery",
    "aread_entries",
    "follow_entries",
    "parse_rfc3339nano",
    "read_entries",
]

STDOUT = 1
STDERR = 2

_BLOCK = 1 << 20
_POLL_SECONDS = 0.05

_PREFIX = b'{"log":"'
_STREAM_SEP = b'","stream":"'
_TIME_KEY = b'","time":"'
_STREAM_IDS = {b"stdout": STDOUT, b"stderr": STDERR}
_STREAM_NAMES = {"stdout": STDOUT, "stderr": STDERR}

# The seam between two entries of our writer, for one stream (or the end of
# the last entry); replacing it by a line feed turns a block of such entries
# into the raw output.
_SEAMS = {
    STDOUT: re.compile(rb'\\n","stream":"stdout","time":"[^"\n]*"\}\n(?:\{"log":"|\Z)'),
    STDERR: re.compile(rb'\\n","stream":"stderr","time":"[^"\n]*"\}\n(?:\{"log":"|\Z)'),
}
# One whole entry of our writer without escapes, for the uniform path that
# still needs each entry's time (timestamps, since, until).
_ENTRIES = {
    STDOUT: re.compile(rb'\{"log":"([^"\\\n]*)\\n","stream":"stdout","time":"([^"\n]*)"\}\n'),
    STDERR: re.compile(rb'\{"log":"([^"\\\n]*)\\n","stream":"stderr","time":"([^"\n]*)"\}\n'),
}
# The end of one entry of our writer, escapes or not, capturing its time:
# `split` on it yields text, time, text, time, ... for a uniform block.
_SPLITS = {
    STDOUT: re.compile(rb'","stream":"stdout","time":"([^"\n]*)"\}\n(?:\{"log":"|\Z)'),
    STDERR: re.compile(rb'","stream":"stderr","time":"([^"\n]*)"\}\n(?:\{"log":"|\Z)'),
}
_STREAM_MARKS = {STDOUT: b'"stream":"stdout"', STDERR: b'"stream":"stderr"'}


def _replace_bad_surrogate(exc: UnicodeError) -> tuple[bytes, int]:
    """Lone surrogates from `\\ud800`-style escapes become U+FFFD, as in Go.

    Returned as bytes: the UTF-8 encoder only accepts ASCII str replacements.
    """
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return b"\xef\xbf\xbd" * (exc.end - exc.start), exc.end


_SURROGATE_HANDLER = "berth.logs-fffd"
codecs.register_error(_SURROGATE_HANDLER, _replace_bad_surrogate)


@dataclass
class LogQuery:
    """What a `logs` request asks for.

    `since`/`until` are unix seconds; a float cannot hold nanoseconds at
    today's epoch, so `since_ns`/`until_ns` (which win when set) let the API
    layer pass docker's "seconds.nanoseconds" values exactly.  `tail` None or
    negative means all, 0 means none of the existing entries.  `max_payload`
    bounds coalescing; 0 yields one payload per log entry, as docker does.
    """

    stdout: bool = True
    stderr: bool = True
    since: float | None = None
    until: float | None = None
    tail: int | None = None
    timestamps: bool = False
    since_ns: int | None = None
    until_ns: int | None = None
    max_payload: int = 64 * 1024

    def bounds_ns(self) -> tuple[int | None, int | None]:
        since = self.since_ns if self.since_ns is not None else _seconds_to_ns(self.since)
        until = self.until_ns if self.until_ns is not None else _seconds_to_ns(self.until)
        return since, until


def _seconds_to_ns(value: float | None) -> int | None:
    if value is None:
        return None
    whole = math.floor(value)
    return int(whole) * 1_000_000_000 + round((value - whole) * 1e9)


# -- time stamps -------------------------------------------------------------

_RFC3339 = re.compile(
    rb"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))"
)


def parse_rfc3339nano(value: bytes | str) -> int | None:
    """Nanoseconds since the epoch for an RFC3339 time, None if malformed."""
    raw = value.encode() if isinstance(value, str) else value
    m = _RFC3339.fullmatch(raw)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    try:
        secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if m.group(8):
        offset = int(m.group(9)) * 3600 + int(m.group(10)) * 60
        secs += -offset if m.group(8) == b"+" else offset
    frac = m.group(7) or b""
    return secs * 1_000_000_000 + (int(frac[:9].ljust(9, b"0")) if frac else 0)


def _fixed_stamp(raw: bytes, ns: int | None) -> bytes:
    """docker's `logs -t` prefix: RFC3339 with exactly nine fraction digits."""
    if len(raw) >= 20 and raw[-1:] == b"Z" and raw[19:20] in (b".", b"Z"):
        frac = raw[20:-1]
        return raw[:19] + b"." + frac[:9].ljust(9, b"0") + b"Z "
    if ns is None:
        return raw + b" "
    sec, frac_ns = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)).encode() + b".%09dZ " % frac_ns


# -- decoding ----------------------------------------------------------------


def _json_text(text: bytes) -> bytes | None:
    """Decode the inside of a JSON string (the slow path: escapes present)."""
    try:
        value = json.loads(b'"' + text + b'"', strict=False)
    except ValueError:
        try:
            value = json.loads('"' + text.decode("utf-8", "replace") + '"', strict=False)
        except ValueError:
            return None
    return value.encode("utf-8", _SURROGATE_HANDLER)


def _json_line(line: bytes) -> tuple[int, bytes, bytes] | None:
    """(stream, payload, time) for a line in any json-file shape, e.g. dockerd's."""
    try:
        obj = json.loads(line, strict=False)
    except ValueError:
        try:
            obj = json.loads(line.decode("utf-8", "replace"), strict=False)
        except ValueError:
            return None
    if not isinstance(obj, dict):
        return None
    stream = obj.get("stream")
    sid = _STREAM_NAMES.get(stream) if isinstance(stream, str) else None
    log = obj.get("log")
    stamp = obj.get("time")
    if not sid or not isinstance(log, str) or not log or not isinstance(stamp, str):
        return None
    return sid, log.encode("utf-8", _SURROGATE_HANDLER), stamp.encode()


class _Coalescer:
    """Joins consecutive payloads of one stream into payloads of <= limit."""

    __slots__ = ("limit", "parts", "ready", "size", "stream")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.stream = 0
        self.parts: list[bytes] = []
        self.size = 0
        self.ready: list[tuple[int, bytes]] = []

    def cut(self) -> None:
        if self.parts:
            parts = self.parts
            self.ready.append((self.stream, parts[0] if len(parts) == 1 else b"".join(parts)))
            self.parts = []
            self.size = 0

    def add(self, stream: int, payload: bytes) -> None:
        if stream != self.stream or self.size + len(payload) > self.limit:
            self.cut()
            self.stream = stream
        self.parts.append(payload)
        self.size += len(payload)

    def add_lines(self, stream: int, data: bytes) -> None:
        """Add the output of many entries at once, cutting at line feeds."""
        limit = self.limit
        if limit <= 0:
            start, n = 0, len(data)
            while start < n:
                end = data.find(b"\n", start)
                end = n - 1 if end < 0 else end
                self.add(stream, data[start : end + 1])
                start = end + 1
            return
        if stream != self.stream:
            self.cut()
            self.stream = stream
        pos, n = 0, len(data)
        while n - pos > limit - self.size:
            room = limit - self.size
            end = data.rfind(b"\n", pos, pos + room)
            if end < 0:
                if self.parts:
                    self.cut()
                    continue
                end = data.find(b"\n", pos)  # one line longer than the limit
                if end < 0:
                    end = n - 1
            self.parts.append(data[pos : end + 1])
            self.cut()
            pos = end + 1
        if pos < n:
            self.parts.append(data[pos:] if pos else data)
            self.size += n - pos

    def take(self, final: bool = False) -> list[tuple[int, bytes]]:
        if final:
            self.cut()
        ready, self.ready = self.ready, []
        return ready


class _Decoder:
    """Turns blocks of whole json-file lines into payloads for one query."""

    def __init__(self, q: LogQuery) -> None:
        self.want = (False, q.stdout, q.stderr)
        self.since, self.until = q.bounds_ns()
        self.timestamps = q.timestamps
        self.plain = not q.timestamps and self.since is None and self.until is None
        self._prefixes: dict[bytes, bytes | None] = {}

    def decode(self, block: bytes, sink: _Coalescer) -> None:
        """Try the whole-block paths, then fall back to line by line.

        Whole-block paths apply when every line has our writer's shape and
        one stream; the first line names the candidate stream and each path
        verifies the rest by counting what it matched.  Stream marks cannot
        occur inside a log text (its quotes would be escaped), so counting
        them is enough to skip a block of an unwanted stream.
        """
        sid = _uniform_stream(block)
        if sid:
            lines = block.count(b"\n")
            if not self.want[sid]:
                if block.count(_STREAM_MARKS[sid]) == lines:
                    return
            elif block.count(b"\\") == lines:  # likely one `\n` escape per line
                done = (
                    self._uniform_plain(sid, block, lines, sink)
                    if self.plain
                    else self._uniform_timed(sid, block, lines, sink)
                )
                if done:
                    return
            if self._uniform_escaped(sid, block, lines, sink):
                return
        self._decode_lines(block, sink)

    def _prefix(self, raw: bytes) -> bytes | None:
        """Bytes to put before an entry stamped `raw`; None filters it out.

        Cached: our writer stamps a whole pipe chunk at once, so the same
        time repeats for hundreds of entries.
        """
        if raw in self._prefixes:
            return self._prefixes[raw]
        if len(self._prefixes) > 4096:
            self._prefixes.clear()
        ns = parse_rfc3339nano(raw)
        since, until = self.since, self.until
        if ns is None:
            keep = since is None and until is None
        else:
            keep = (since is None or ns >= since) and (until is None or ns <= until)
        prefix = (_fixed_stamp(raw, ns) if self.timestamps else b"") if keep else None
        self._prefixes[raw] = prefix
        return prefix

    def _uniform_plain(self, sid: int, block: bytes, lines: int, sink: _Coalescer) -> bool:
        """Entries without escapes, times not needed: one substitution."""
        out, seams = _SEAMS[sid].subn(b"\n", block)
        if seams != lines or b"\\" in out:
            return False
        sink.add_lines(sid, out[8:])
        return True

    def _uniform_timed(self, sid: int, block: bytes, lines: int, sink: _Coalescer) -> bool:
        """Entries without escapes whose times matter: one substitution with
        a small callback per entry."""
        prefix_of = self._prefix

        def rewrite(m: re.Match[bytes]) -> bytes:
            text, raw = m.group(1, 2)
            prefix = prefix_of(raw)
            return b"" if prefix is None else prefix + text + b"\n"

        out, entries = _ENTRIES[sid].subn(rewrite, block)
        if entries != lines:
            return False
        if out:
            sink.add_lines(sid, out)
        return True

    def _uniform_escaped(self, sid: int, block: bytes, lines: int, sink: _Coalescer) -> bool:
        """Entries with escapes (JSON from the app, quotes, tabs, partial
        pieces): split out the texts and decode them as one JSON array."""
        pieces = _SPLITS[sid].split(block)
        if len(pieces) != 2 * lines + 1 or pieces[-1]:
            return False
        texts = pieces[0:-1:2]
        texts[0] = texts[0][8:]
        try:
            values = json.loads(b'["' + b'","'.join(texts) + b'"]', strict=False)
        except ValueError:
            return False
        if not isinstance(values, list) or len(values) != lines:
            return False
        if not self.plain:
            kept = []
            for value, raw in zip(values, pieces[1::2]):
                prefix = self._prefix(raw)
                if prefix is not None:
                    kept.append(prefix.decode("ascii") + value if prefix else value)
            values = kept
        if sink.limit <= 0:
            for value in values:
                if value:
                    sink.add(sid, value.encode("utf-8", _SURROGATE_HANDLER))
        elif values:
            sink.add_lines(sid, "".join(values).encode("utf-8", _SURROGATE_HANDLER))
        return True

    def _decode_lines(self, block: bytes, sink: _Coalescer) -> None:
        """Line by line, for blocks that mix shapes or streams."""
        want = self.want
        filtering = not self.plain
        add = sink.add
        prefix_of = self._prefix
        lines = block.split(b"\n")
        lines.pop()
        for line in lines:
            sid = 0
            if line.startswith(_PREFIX):
                i = line.find(_STREAM_SEP, 8)
                if i > 0 and line[i + 18 : i + 28] == _TIME_KEY and line.endswith(b'"}'):
                    sid = _STREAM_IDS.get(line[i + 12 : i + 18], 0)
            if sid:
                if not want[sid]:
                    continue
                text = line[8:i]
                if b"\\" in text:
                    if text.find(b"\\") == len(text) - 2 and text.endswith(b"n"):
                        text = text[:-2] + b"\n"
                    else:
                        text = _json_text(text) or b""
                        if not text:
                            continue
                raw = line[i + 28 : -2]
            else:
                decoded = _json_line(line)
                if decoded is None:
                    continue
                sid, text, raw = decoded
                if not want[sid]:
                    continue
            if filtering:
                prefix = prefix_of(raw)
                if prefix is None:
                    continue
                if prefix:
                    text = prefix + text
            add(sid, text)


def _uniform_stream(block: bytes) -> int:
    """The stream the block's first line names if it has our shape, or 0."""
    if not block.startswith(_PREFIX):
        return 0
    first_end = block.find(b"\n")
    at = block.rfind(_STREAM_SEP, 0, first_end)
    return _STREAM_IDS.get(block[at + 12 : at + 18], 0) if at > 0 else 0


# -- files -------------------------------------------------------------------


class _LogFile:
    """An open log file and how far it has been consumed."""

    __slots__ = ("end", "fd", "ino", "pos")

    def __init__(self, fd: int) -> None:
        st = os.fstat(fd)
        self.fd = fd
        self.ino = st.st_ino
        self.pos = 0
        self.end = st.st_size  # size when opened: the snapshot `logs` returns

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def blocks(self, limit: int | None) -> Iterator[bytes]:
        """Blocks of whole lines from `pos` up to `limit` (None: to EOF).

        A trailing line without its newline is left for later: the writer may
        be in the middle of appending it.
        """
        size = _BLOCK
        while True:
            want = size if limit is None else min(size, limit - self.pos)
            if want <= 0:
                return
            data = os.pread(self.fd, want, self.pos)
            if not data:
                return
            nl = data.rfind(b"\n")
            if nl < 0:
                if len(data) < want or (limit is not None and self.pos + len(data) >= limit):
                    return
                size *= 2
                continue
            if nl + 1 < len(data):
                data = data[: nl + 1]
            self.pos += nl + 1
            size = _BLOCK
            yield data


def _open_if_exists(name: str) -> _LogFile | None:
    try:
        return _LogFile(os.open(name, os.O_RDONLY | os.O_CLOEXEC))
    except FileNotFoundError:
        return None


def _open_all(path: str) -> list[_LogFile]:
    """The log and its rotated files, oldest first.

    Opened newest first: if a rotation slips in between, a file shows up
    twice (same inode) and the whole set is opened again.
    """
    for _ in range(10):
        files: list[_LogFile] = []
        current = _open_if_exists(path)
        if current is None:
            return files
        files.append(current)
        n = 1
        while (older := _open_if_exists(f"{path}.{n}")) is not None:
            files.append(older)
            n += 1
        if len({f.ino for f in files}) == len(files):
            files.reverse()
            return files
        for f in files:
            f.close()
    raise OSError(f"{path}: log keeps rotating while it is opened")


def _tail_start(files: list[_LogFile], count: int) -> tuple[int, int]:
    """(file index, offset) where the last `count` whole entries begin.

    Reads backwards in growing blocks, so a short tail of a huge log costs
    one small read.
    """
    need = count + 1  # the newline that ends the entry before them
    size = 64 * 1024
    for idx in range(len(files) - 1, -1, -1):
        f = files[idx]
        pos = f.end
        while pos > 0:
            start = max(0, pos - size)
            size = min(size * 2, _BLOCK)
            block = os.pread(f.fd, pos - start, start)
            found = block.count(b"\n")
            if found >= need:
                at = len(block)
                for _ in range(need):
                    at = block.rfind(b"\n", 0, at)
                return idx, start + at + 1
            need -= found
            pos = start
        if need == 1:
            return idx, 0
    return 0, 0


def _newer_rotated(path: str, ino: int) -> list[_LogFile]:
    """Rotated files written after the one with inode `ino`, oldest first."""
    found: list[_LogFile] = []
    n = 1
    while (f := _open_if_exists(f"{path}.{n}")) is not None:
        if f.ino == ino:
            f.close()
            break
        found.append(f)
        n += 1
    found.reverse()
    return found


class _Session:
    """State shared by the one-shot and the following readers."""

    def __init__(self, path: str, q: LogQuery) -> None:
        self.path = path
        self.q = q
        self.decoder = _Decoder(q)
        self.sink = _Coalescer(q.max_payload)
        self.files = _open_all(path)
        self.current: _LogFile | None = self.files[-1] if self.files else None

    def close(self) -> None:
        for f in self.files:
            f.close()
        self.files = []
        if self.current is not None:
            self.current.close()
            self.current = None

    def existing(self, follow: bool) -> Iterator[list[tuple[int, bytes]]]:
        """Batches of payloads for the entries present when opened."""
        files = self.files
        if not files:
            return
        tail = self.q.tail
        first = 0
        if tail is not None and tail >= 0:
            first, offset = _tail_start(files, tail)
            files[first].pos = offset
        for f in files[:first]:
            f.close()
        for idx in range(first, len(files)):
            f = files[idx]
            is_current = idx == len(files) - 1
            if is_current and tail == 0:
                f.pos = f.end
                break
            limit = None if (follow and is_current) else f.end
            for block in f.blocks(limit):
                self.decoder.decode(block, self.sink)
                yield self.sink.take()
            if not is_current:
                f.close()
        self.files = [files[-1]]
        yield self.sink.take(final=True)

    def drain(self, f: _LogFile) -> Iterator[list[tuple[int, bytes]]]:
        for block in f.blocks(None):
            self.decoder.decode(block, self.sink)
            yield self.sink.take()

    def poll(self) -> Iterator[list[tuple[int, bytes]]]:
        """Read what was appended since the last poll, across rotations."""
        cur = self.current
        if cur is None:
            cur = self.current = _open_if_exists(self.path)
            if cur is None:
                return
            self.files = [cur]
        yield from self.drain(cur)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # between rename and re-create: look again next time
        if st.st_ino != cur.ino:
            yield from self.drain(cur)
            newer = _newer_rotated(self.path, cur.ino)
            try:
                for f in newer:
                    yield from self.drain(f)
            finally:
                for f in newer:
                    f.close()
            cur.close()
            self.current = _open_if_exists(self.path)
            self.files = [self.current] if self.current else []
            if self.current is not None:
                yield from self.drain(self.current)
        elif st.st_size < cur.pos:
            cur.pos = 0  # truncated in place (max-file=1)
            yield from self.drain(cur)


def read_entries(path: str, q: LogQuery) -> Iterator[tuple[int, bytes]]:
    """Payloads of the entries in the log when called (blocking file I/O).

    Yields (1 for stdout / 2 for stderr, payload); with `timestamps` each
    entry is prefixed by its time and a space, as `docker logs -t` shows it.
    """
    session = _Session(path, q)
    try:
        for batch in session.existing(follow=False):
            yield from batch
    finally:
        session.close()


async def aread_entries(path: str, q: LogQuery) -> AsyncIterator[tuple[int, bytes]]:
    """`read_entries` for the event loop: gives way to other tasks per block."""
    session = _Session(path, q)
    try:
        for batch in session.existing(follow=False):
            for item in batch:
                yield item
            await asyncio.sleep(0)
    finally:
        session.close()


async def follow_entries(
    path: str, q: LogQuery, stopped: Callable[[], bool]
) -> AsyncIterator[tuple[int, bytes]]:
    """The existing entries, then new ones as they are written.

    Follows the file across rotation and in-place truncation.  Ends once
    `stopped()` was true before a poll that then drained everything, or
    when the wall clock passes `until` (as docker's follow does).  The file
    may not exist yet (container not started): it is picked up when created.
    Use `contextlib.aclosing` so the files are closed if the client leaves.
    """
    session = _Session(path, q)
    until = session.decoder.until
    try:
        for batch in session.existing(follow=True):
            for item in batch:
                yield item
            await asyncio.sleep(0)
        while True:
            finished = stopped()
            moved = False
            for batch in session.poll():
                for item in batch:
                    yield item
                moved = True
                await asyncio.sleep(0)
            for item in session.sink.take(final=True):
                yield item
            if finished or (until is not None and time.time_ns() > until):
                return
            if not moved:
                await asyncio.sleep(_POLL_SECONDS)
    finally:
        session.close()
