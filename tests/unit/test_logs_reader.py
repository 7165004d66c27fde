"""The json-file reader returns what `docker logs` returns, fast and in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time

import pytest

from berth.logs import reader as reader_module
from berth.logs.jsonfile import JsonFileWriter
from berth.logs.reader import (
    STDERR,
    STDOUT,
    LogQuery,
    aread_entries,
    follow_entries,
    parse_rfc3339nano,
    read_entries,
)

BASE = 1795849264  # 2026-11-28T07:01:04Z


def entry(log: str, stream: str = "stdout", frac: str = "", second: int = 4) -> bytes:
    """A line as dockerd writes it, with a chosen time."""
    stamp = f"2026-11-28T07:01:{second:02d}{'.' + frac if frac else ''}Z"
    return (
        b'{"log":' + json.dumps(log).encode() + b',"stream":"' + stream.encode()
        + b'","time":"' + stamp.encode() + b'"}\n'
    )


def write_file(path: str, *lines: bytes) -> None:
    with open(path, "wb") as f:
        f.write(b"".join(lines))


def read_all(path: str, **query) -> list[tuple[int, bytes]]:
    return list(read_entries(path, LogQuery(**query)))


def joined(items: list[tuple[int, bytes]], stream: int | None = None) -> bytes:
    return b"".join(p for s, p in items if stream is None or s == stream)


def per_entry(path: str, **query) -> list[tuple[int, bytes]]:
    return read_all(path, max_payload=0, **query)


@pytest.fixture
def log_path(tmp_path) -> str:
    return str(tmp_path / "c-json.log")


def written(path: str, *chunks: tuple[str, bytes], **kw) -> None:
    w = JsonFileWriter(path, **{"max_size": -1, **kw})
    for stream, data in chunks:
        w.write(stream, data)
    w.close()


# -- reading ---------------------------------------------------------------


def test_missing_log_yields_nothing(log_path):
    assert read_all(log_path) == []


def test_consecutive_entries_of_a_stream_are_coalesced(log_path):
    written(log_path, ("stdout", b"a\nb\n"), ("stderr", b"e\n"), ("stdout", b"c\n"))
    assert read_all(log_path) == [(STDOUT, b"a\nb\n"), (STDERR, b"e\n"), (STDOUT, b"c\n")]


def test_max_payload_zero_gives_one_payload_per_entry_like_docker(log_path):
    written(log_path, ("stdout", b"a\nb\n"), ("stdout", b"partial"))
    assert per_entry(log_path) == [(STDOUT, b"a\n"), (STDOUT, b"b\n"), (STDOUT, b"partial")]


def test_coalesced_payloads_stay_under_the_limit_and_end_on_entry_boundaries(log_path):
    lines = b"".join(b"%05d-" % i + b"x" * (i % 50) + b"\n" for i in range(20000))
    written(log_path, ("stdout", lines))
    items = read_all(log_path, max_payload=4096)
    assert joined(items) == lines
    assert all(len(p) <= 4096 and p.endswith(b"\n") for _, p in items)
    assert len(items) < 20000 // 10


def test_entry_longer_than_the_limit_is_not_cut(log_path):
    written(log_path, ("stdout", b"short\n" + b"L" * 10000 + b"\n"))
    items = read_all(log_path, max_payload=1000)
    assert [p for _, p in items] == [b"short\n", b"L" * 10000 + b"\n"]


def test_stream_selection(log_path):
    written(log_path, ("stdout", b"o1\n"), ("stderr", b"e1\n"), ("stdout", b"o2\n"))
    assert read_all(log_path, stderr=False) == [(STDOUT, b"o1\no2\n")]
    assert read_all(log_path, stdout=False) == [(STDERR, b"e1\n")]
    assert read_all(log_path, stdout=False, stderr=False) == []


def test_single_stream_blocks_are_selected_too(log_path):
    written(log_path, ("stderr", b"only errors\n" * 1000))
    assert read_all(log_path, stderr=False) == []
    assert joined(read_all(log_path, stdout=False)) == b"only errors\n" * 1000


def test_tricky_text_round_trips_through_writer_and_reader(log_path):
    text = (
        b'json {"k": "v\\"x"}\n'
        b"tab\tcr\r ctl\x01\x1b[0m\n"
        b"<html> & </html>\n"
        + "üñí 😀 \u2028\n".encode()
        + b"ends with backslash\\\n"
        + b"backslash-n literal \\n\n"
        + b"no newline at end"
    )
    written(log_path, ("stdout", text))
    assert joined(read_all(log_path)) == text


def test_invalid_utf8_reads_back_as_replacement_characters(log_path):
    written(log_path, ("stdout", b"bad \xff\xe2\x82 end\n"))
    assert joined(read_all(log_path)) == "bad \ufffd\ufffd\ufffd end\n".encode()


def test_16k_pieces_read_back_as_the_original_line(log_path):
    line = b"p" * 40000 + b"\n"
    written(log_path, ("stdout", line))
    assert joined(read_all(log_path)) == line
    assert [len(p) for _, p in per_entry(log_path)] == [16384, 16384, 40001 - 2 * 16384]


def test_lines_written_by_dockerd_are_read_including_attrs_and_escapes(log_path):
    write_file(
        log_path,
        b'{"log":"plain\\n","stream":"stdout","time":"2026-11-28T07:01:04.1Z"}\n',
        b'{"log":"\\u003cb\\u003e \\u0026 \\"q\\" \\u0009 \\u00e9 \\ud83d\\ude00\\n","stream":"stderr",'
        b'"time":"2026-11-28T07:01:04.2Z"}\n',
        b'{"log":"tagged\\n","stream":"stdout","attrs":{"tag":"web"},"time":"2026-11-28T07:01:04.3Z"}\n',
        b'{"stream":"stdout","time":"2026-11-28T07:01:04.4Z","log":"reordered\\n"}\n',
        b'{"log":"bad surrogate \\ud800\\n","stream":"stdout","time":"2026-11-28T07:01:04.5Z"}\n',
    )
    assert per_entry(log_path) == [
        (STDOUT, b"plain\n"),
        (STDERR, '<b> & "q" \t é 😀\n'.encode()),
        (STDOUT, b"tagged\n"),
        (STDOUT, b"reordered\n"),
        (STDOUT, "bad surrogate \ufffd\n".encode()),
    ]


def test_garbage_lines_are_skipped(log_path):
    write_file(
        log_path,
        entry("before\n"),
        b"not json at all\n",
        b'{"log":"unterminated\n',
        b'["a list"]\n',
        b'{"log":"no stream\\n","time":"2026-11-28T07:01:04Z"}\n',
        b'{"log":"odd stream\\n","stream":"stdin","time":"2026-11-28T07:01:04Z"}\n',
        entry("after\n"),
    )
    assert joined(read_all(log_path)) == b"before\nafter\n"


def test_incomplete_trailing_line_is_left_out(log_path):
    write_file(log_path, entry("done\n"), b'{"log":"half-writ')
    assert read_all(log_path) == [(STDOUT, b"done\n")]


def oracle(path: str, q: LogQuery) -> list[tuple[int, bytes]]:
    """What the query should return, computed entry by entry with json.loads."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    if q.tail is not None and q.tail >= 0:
        lines = lines[len(lines) - q.tail :] if q.tail else []
    since, until = q.bounds_ns()
    out = []
    for line in lines:
        obj = json.loads(line)
        sid = {"stdout": STDOUT, "stderr": STDERR}[obj["stream"]]
        if not (q.stdout if sid == STDOUT else q.stderr):
            continue
        ns = parse_rfc3339nano(obj["time"])
        if (since is not None and ns < since) or (until is not None and ns > until):
            continue
        text = obj["log"].encode("utf-8", "surrogatepass")
        if q.timestamps:
            sec = obj["time"][:19]
            frac = obj["time"][20:-1] if obj["time"][19] == "." else ""
            text = f"{sec}.{frac:0<9}Z ".encode() + text
        out.append((sid, text))
    return out


def mixed_log(path: str) -> None:
    """Runs of plain single-stream output (the fast paths) between entries
    that need the per-line path: escapes, 16K pieces, both streams, attrs."""
    w = JsonFileWriter(path, max_size=-1)
    for i in range(30):
        w.write("stdout", b"plain line %d\n" % i * 40)
    w.write("stderr", b'quote " and \\ backslash\n' * 20)
    for i in range(30):
        w.write("stderr", b"err %d\n" % i * 40)
    w.write("stdout", b"y" * 20000 + b"\npartial")
    w.write("stdout", b" end\n" + "ünïcode\n".encode() * 100)
    w.close()
    with open(path, "ab") as f:
        f.write(b'{"log":"docker line\\n","stream":"stdout","attrs":{"a":"b"},"time":"2030-01-01T00:00:00.5Z"}\n')


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"stderr": False},
        {"stdout": False},
        {"timestamps": True},
        {"since": 0.0},
        {"since": 1.9e9},  # only the line stamped 2030
        {"until": 1.9e9, "timestamps": True},
        {"tail": 700},
        {"tail": 700, "timestamps": True, "stdout": False},
        {"max_payload": 0, "timestamps": True},
        {"max_payload": 0, "stderr": False},
    ],
)
def test_every_decoding_path_agrees_with_a_json_oracle(log_path, monkeypatch, query):
    mixed_log(log_path)
    monkeypatch.setattr(reader_module, "_BLOCK", 4096)  # many blocks: some uniform, some not
    q = LogQuery(**query)
    expected = oracle(log_path, q)
    got = read_all(log_path, **query)
    assert joined(got, STDOUT) == joined(expected, STDOUT)
    assert joined(got, STDERR) == joined(expected, STDERR)
    if q.max_payload == 0:
        assert got == expected
    else:  # coalescing never reorders streams
        def runs(items: list[tuple[int, bytes]]) -> list[int]:
            return [s for i, (s, _) in enumerate(items) if i == 0 or items[i - 1][0] != s]

        assert runs(got) == runs(expected)


# -- rotation ---------------------------------------------------------------


def rotated_log(path: str, n: int = 400, max_file: int = 4) -> bytes:
    text = b"".join(b"line %05d\n" % i for i in range(n))
    w = JsonFileWriter(path, max_size=2000, max_file=max_file)
    for i in range(0, len(text), 77):
        w.write("stdout", text[i : i + 77])
    w.close()
    return text


def test_rotated_files_are_read_oldest_first(log_path):
    text = rotated_log(log_path, n=60, max_file=10)
    assert os.path.exists(log_path + ".1")
    assert joined(read_all(log_path)) == text


def test_only_the_kept_files_are_read_after_rotation_dropped_old_ones(log_path):
    text = rotated_log(log_path, n=400, max_file=3)
    got = joined(read_all(log_path))
    assert text.endswith(got) and 0 < len(got) < len(text)


# -- tail, since, until, timestamps ------------------------------------------


def test_tail_returns_the_last_entries(log_path):
    written(log_path, ("stdout", b"".join(b"%d\n" % i for i in range(100))))
    assert joined(read_all(log_path, tail=3)) == b"97\n98\n99\n"
    assert joined(read_all(log_path, tail=100)) == joined(read_all(log_path))
    assert joined(read_all(log_path, tail=1000)) == joined(read_all(log_path))
    assert read_all(log_path, tail=0) == []
    assert joined(read_all(log_path, tail=-1)) == joined(read_all(log_path))


def test_tail_counts_entries_of_both_streams_before_selecting_one(log_path):
    written(log_path, ("stdout", b"o1\n"), ("stderr", b"e1\n"), ("stdout", b"o2\n"), ("stderr", b"e2\n"))
    assert read_all(log_path, tail=2, stderr=False) == [(STDOUT, b"o2\n")]


def test_tail_counts_partial_pieces_as_entries(log_path):
    written(log_path, ("stdout", b"a\n" + b"b" * 20000 + b"\n"))
    assert joined(read_all(log_path, tail=1)) == b"b" * (20000 - 16384) + b"\n"


def test_tail_spans_rotated_files(log_path):
    text = rotated_log(log_path, n=200, max_file=20)
    assert os.path.exists(log_path + ".4")
    wanted = b"".join(text.splitlines(keepends=True)[-150:])
    assert joined(read_all(log_path, tail=150)) == wanted


def test_tail_of_a_big_file_reads_only_its_end(log_path):
    written(log_path, ("stdout", b"0123456789012345678901234567890123456789\n" * 100_000))
    assert joined(read_all(log_path, tail=2)) == b"0123456789012345678901234567890123456789\n" * 2


def test_tail_ignores_an_incomplete_last_line(log_path):
    write_file(log_path, entry("a\n"), entry("b\n"), b'{"log":"c')
    assert joined(read_all(log_path, tail=1)) == b"b\n"


def test_since_and_until_are_inclusive(log_path):
    write_file(
        log_path,
        entry("t4\n", second=4),
        entry("t5.5\n", frac="5", second=5),
        entry("t6\n", second=6),
        entry("t7.123456789\n", frac="123456789", second=7),
    )
    assert joined(read_all(log_path, since=BASE + 1.5)) == b"t5.5\nt6\nt7.123456789\n"
    assert joined(read_all(log_path, since=BASE + 2, until=BASE + 2)) == b"t6\n"
    assert joined(read_all(log_path, until=BASE + 1.5)) == b"t4\nt5.5\n"
    exact = (BASE + 3) * 10**9 + 123456789
    assert joined(read_all(log_path, since_ns=exact)) == b"t7.123456789\n"
    assert joined(read_all(log_path, until_ns=exact - 1)) == b"t4\nt5.5\nt6\n"


def test_tail_applies_before_since(log_path):
    write_file(log_path, entry("old\n", second=1), entry("new\n", second=9), entry("newer\n", second=9))
    assert joined(read_all(log_path, tail=2, since=BASE)) == b"new\nnewer\n"
    assert joined(read_all(log_path, tail=1, since=BASE + 10)) == b""


def test_timestamps_prefix_each_entry_with_nine_fraction_digits(log_path):
    write_file(
        log_path,
        entry("a\n", second=4),
        entry("b\n", frac="12", second=4),
        entry("c", stream="stderr", frac="123456789", second=5),
    )
    assert per_entry(log_path, timestamps=True) == [
        (STDOUT, b"2026-11-28T07:01:04.000000000Z a\n"),
        (STDOUT, b"2026-11-28T07:01:04.120000000Z b\n"),
        (STDERR, b"2026-11-28T07:01:05.123456789Z c"),
    ]
    assert read_all(log_path, timestamps=True, stderr=False) == [
        (STDOUT, b"2026-11-28T07:01:04.000000000Z a\n2026-11-28T07:01:04.120000000Z b\n")
    ]


def test_rfc3339_parsing_handles_offsets_and_rejects_garbage():
    assert parse_rfc3339nano("2026-11-28T07:01:04Z") == BASE * 10**9
    assert parse_rfc3339nano(b"2026-11-28T07:01:04.5Z") == BASE * 10**9 + 500_000_000
    assert parse_rfc3339nano("2026-11-28T08:01:04.000000001+01:00") == BASE * 10**9 + 1
    assert parse_rfc3339nano("yesterday") is None


def test_async_read_matches_sync_read(log_path):
    rotated_log(log_path, n=200, max_file=5)

    async def collect():
        return [item async for item in aread_entries(log_path, LogQuery(tail=50))]

    assert asyncio.run(collect()) == read_all(log_path, tail=50)


# -- follow -------------------------------------------------------------------


class Follower:
    """Runs follow_entries in a task and collects what it yields."""

    def __init__(self, path: str, q: LogQuery | None = None) -> None:
        self.stop = False
        self.items: list[tuple[int, bytes]] = []
        self.gen = follow_entries(path, q or LogQuery(), lambda: self.stop)
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async with contextlib.aclosing(self.gen):
            async for item in self.gen:
                self.items.append(item)

    async def finish(self) -> bytes:
        self.stop = True
        await asyncio.wait_for(self.task, 5)
        return joined(self.items)


async def settle() -> None:
    await asyncio.sleep(0.15)


def test_follow_yields_existing_then_appended_lines_and_ends_when_stopped(log_path):
    async def scenario() -> bytes:
        w = JsonFileWriter(log_path, max_size=-1)
        w.write("stdout", b"before\n")
        f = Follower(log_path)
        await settle()
        assert joined(f.items) == b"before\n"
        w.write("stdout", b"after\n")
        await settle()
        assert joined(f.items) == b"before\nafter\n"
        w.write("stderr", b"last\n")
        w.close()
        return await f.finish()

    assert asyncio.run(scenario()) == b"before\nafter\nlast\n"


def test_follow_with_tail_0_shows_only_new_entries(log_path):
    async def scenario() -> list[tuple[int, bytes]]:
        w = JsonFileWriter(log_path, max_size=-1)
        w.write("stdout", b"old\n")
        f = Follower(log_path, LogQuery(tail=0))
        await settle()
        w.write("stderr", b"new\n")
        w.close()
        await f.finish()
        return f.items

    assert asyncio.run(scenario()) == [(STDERR, b"new\n")]


def test_follow_continues_across_rotations(log_path):
    async def scenario() -> tuple[bytes, bytes]:
        w = JsonFileWriter(log_path, max_size=300, max_file=6)
        expected = b""
        f = Follower(log_path)
        for i in range(30):
            chunk = b"line %05d\n" % i
            w.write("stdout", chunk)
            expected += chunk
            if i % 3 == 0:
                await asyncio.sleep(0.06)
        w.close()
        return await f.finish(), expected

    got, expected = asyncio.run(scenario())
    assert got == expected


def test_follow_catches_up_after_several_rotations_between_polls(log_path):
    async def scenario() -> tuple[bytes, bytes]:
        w = JsonFileWriter(log_path, max_size=200, max_file=8)
        w.write("stdout", b"first\n")
        f = Follower(log_path)
        await settle()
        burst = b"".join(b"burst %04d\n" % i for i in range(12))  # 4 rotations at once
        w.write("stdout", burst)
        w.close()
        assert os.path.exists(log_path + ".4") and not os.path.exists(log_path + ".7")
        return await f.finish(), b"first\n" + burst

    got, expected = asyncio.run(scenario())
    assert got == expected


def test_follow_sees_truncation_in_place(log_path):
    async def scenario() -> bytes:
        w = JsonFileWriter(log_path, max_size=150, max_file=1)
        w.write("stdout", b"one\n")
        f = Follower(log_path)
        await settle()
        w.write("stdout", b"two\n")
        await settle()
        w.write("stdout", b"three\n")  # rotation truncates the file first
        await settle()
        w.close()
        return await f.finish()

    got = asyncio.run(scenario())
    assert got.startswith(b"one\ntwo\n") and got.endswith(b"three\n")


def test_follow_waits_for_the_log_to_be_created(log_path):
    async def scenario() -> bytes:
        f = Follower(log_path)
        await settle()
        w = JsonFileWriter(log_path, max_size=-1)
        w.write("stdout", b"late start\n")
        w.close()
        await settle()
        return await f.finish()

    assert asyncio.run(scenario()) == b"late start\n"


def test_follow_drains_output_written_just_before_stop(log_path):
    async def scenario() -> bytes:
        w = JsonFileWriter(log_path, max_size=-1)
        f = Follower(log_path)
        await settle()
        w.write("stdout", b"x" * 100 + b"\n" * 5000)
        w.write("stdout", b"exit message")
        w.close()
        return await f.finish()

    assert asyncio.run(scenario()) == b"x" * 100 + b"\n" * 5000 + b"exit message"


def test_follow_stops_once_until_has_passed(log_path):
    async def scenario() -> list[tuple[int, bytes]]:
        written(log_path, ("stdout", b"already\n"))
        q = LogQuery(until=time.time() + 0.2)
        items = [item async for item in follow_entries(log_path, q, lambda: False)]
        return items

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == [(STDOUT, b"already\n")]
