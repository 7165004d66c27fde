"""The json-file writer produces the bytes dockerd writes, and rotates like it.

Expected escapes and times were checked against Go 1.19 (encoding/json and
time.RFC3339Nano); docker's jsonlog differs from encoding/json only in writing
a tab as \\u0009.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from berth.logs.jsonfile import (
    PIECE_SIZE,
    JsonFileWriter,
    escape_go_json,
    format_rfc3339nano,
    parse_log_opts,
)

ENTRY = re.compile(
    rb'^\{"log":"(.*)","stream":"(stdout|stderr)","time":"'
    rb'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d*[1-9])?Z)"\}$'
)


def lines_of(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    assert data == b"" or data.endswith(b"\n")
    return data.splitlines()


def logs_of(path: str) -> list[tuple[str, str]]:
    """(stream, log) of each entry, decoded with a real JSON parser."""
    out = []
    for line in lines_of(path):
        obj = json.loads(line)
        assert list(obj) == ["log", "stream", "time"]
        out.append((obj["stream"], obj["log"]))
    return out


@pytest.fixture
def log_path(tmp_path) -> str:
    return str(tmp_path / "c-json.log")


# -- format -----------------------------------------------------------------


def test_entry_has_dockers_keys_in_order_and_rfc3339nano_utc_time(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"hello\n")
    w.close()
    (line,) = lines_of(log_path)
    m = ENTRY.match(line)
    assert m is not None, line
    assert m.group(1) == b"hello\\n" and m.group(2) == b"stdout"


@pytest.mark.parametrize(
    "ns, text",
    [
        (0, "2026-11-28T07:01:04Z"),
        (1, "2026-11-28T07:01:04.000000001Z"),
        (10, "2026-11-28T07:01:04.00000001Z"),
        (100, "2026-11-28T07:01:04.0000001Z"),
        (120000000, "2026-11-28T07:01:04.12Z"),
        (123456789, "2026-11-28T07:01:04.123456789Z"),
        (999999999, "2026-11-28T07:01:04.999999999Z"),
    ],
)
def test_time_is_formatted_like_go_rfc3339nano_with_trailing_zeros_trimmed(ns, text):
    assert format_rfc3339nano(1795849264 * 10**9 + ns) == text


@pytest.mark.parametrize(
    "raw, escaped",
    [
        (b"plain text", b"plain text"),
        (b'q"b\\s', b'q\\"b\\\\s'),
        (b"<a>&b", b"\\u003ca\\u003e\\u0026b"),
        (b"\x00\x01\x08\x0b\x0c\r\x1b\x1f", b"\\u0000\\u0001\\u0008\\u000b\\u000c\\r\\u001b\\u001f"),
        (b"tab\there", b"tab\\u0009here"),  # docker's jsonlog, unlike encoding/json
        (b"del\x7f", b"del\x7f"),
        (b"line\n", b"line\\n"),
    ],
)
def test_escaping_matches_dockers_jsonlog(raw, escaped):
    assert escape_go_json(raw) == escaped


@pytest.mark.parametrize(
    "raw, escaped",
    [
        (b"\xff", b"\\ufffd"),
        (b"a\xe2\x82Ab", b"a\\ufffd\\ufffdAb"),  # truncated sequence: one per byte
        (b"\xed\xa0\x80", b"\\ufffd\\ufffd\\ufffd"),  # encoded surrogate
        (b"\xc0\x80", b"\\ufffd\\ufffd"),  # overlong
        (b"\xf4\x90\x80\x80", b"\\ufffd\\ufffd\\ufffd\\ufffd"),  # above U+10FFFF
        (b"\xe2\x82", b"\\ufffd\\ufffd"),
        (b'\xff"<', b'\\ufffd\\"\\u003c'),
    ],
)
def test_invalid_utf8_becomes_one_escaped_replacement_per_bad_byte(raw, escaped):
    assert escape_go_json(raw) == escaped


def test_valid_utf8_is_kept_raw_but_line_separators_are_escaped():
    text = "😀 é € \ufffd".encode()
    assert escape_go_json(text) == text
    assert escape_go_json("a\u2028b\u2029c".encode()) == b"a\\u2028b\\u2029c"
    assert escape_go_json("\\\u2028".encode()) == b"\\\\\\u2028"


def test_written_file_decodes_to_the_original_text(log_path):
    chunk = 'plain\nq"uote\\\n<html>&amp;\n\ttab\x01\r\n😀 é\n'.encode() + b"\xff\n"
    w = JsonFileWriter(log_path)
    w.write("stdout", chunk)
    w.close()
    assert [log for _, log in logs_of(log_path)] == [
        "plain\n", 'q"uote\\\n', "<html>&amp;\n", "\ttab\x01\r\n", "😀 é\n", "\ufffd\n",
    ]


def test_whole_chunk_encoding_equals_entry_by_entry_encoding(log_path):
    lines = [b"ok", b'say "hi"', b"a\\b", b"<x>", b"\x1b[1mbold", "ünï".encode(), b"\xfe\xff", b""]
    chunk = b"\n".join(lines * 50) + b"\n"
    w = JsonFileWriter(log_path)
    w.write("stderr", chunk)
    w.close()
    got = [ENTRY.match(line).group(1) for line in lines_of(log_path)]  # type: ignore[union-attr]
    assert got == [escape_go_json(line + b"\n") for line in lines * 50]


# -- line assembly -----------------------------------------------------------


def test_partial_line_is_held_until_its_newline_arrives(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"hel")
    assert lines_of(log_path) == []
    w.write("stdout", b"lo\nwor")
    w.write("stdout", b"ld\n")
    w.close()
    assert logs_of(log_path) == [("stdout", "hello\n"), ("stdout", "world\n")]


def test_partial_lines_are_held_per_stream(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"out-")
    w.write("stderr", b"err line\n")
    w.write("stdout", b"done\n")
    w.close()
    assert logs_of(log_path) == [("stderr", "err line\n"), ("stdout", "out-done\n")]


def test_multibyte_character_split_between_chunks_stays_whole(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"caf\xc3")
    w.write("stdout", b"\xa9\n")
    w.close()
    assert logs_of(log_path) == [("stdout", "café\n")]


def test_flush_writes_the_partial_line_without_newline(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"line\nno newline")
    w.flush()
    w.write("stdout", b"after\n")
    w.close()
    assert logs_of(log_path) == [("stdout", "line\n"), ("stdout", "no newline"), ("stdout", "after\n")]


def test_close_flushes_pending_output(log_path):
    w = JsonFileWriter(log_path)
    w.write("stderr", b"tail")
    w.close()
    w.close()  # idempotent
    assert logs_of(log_path) == [("stderr", "tail")]


def test_long_line_is_written_in_16k_pieces_sharing_one_time(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"x" * 40000 + b"\nnext\n")
    w.close()
    entries = lines_of(log_path)
    logs = [json.loads(e)["log"] for e in entries]
    assert logs == ["x" * PIECE_SIZE, "x" * PIECE_SIZE, "x" * (40000 - 2 * PIECE_SIZE) + "\n", "next\n"]
    times = {json.loads(e)["time"] for e in entries[:3]}
    assert len(times) == 1


def test_line_of_exactly_16k_leaves_a_newline_only_entry(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"y" * PIECE_SIZE + b"\n")
    w.close()
    assert [log for _, log in logs_of(log_path)] == ["y" * PIECE_SIZE, "\n"]


def test_long_line_arriving_in_small_chunks_is_cut_the_same_way(log_path):
    data = b"z" * 50000 + b"\n" + b"w" * 20000
    w = JsonFileWriter(log_path)
    for i in range(0, len(data), 1000):
        w.write("stdout", data[i : i + 1000])
    w.close()
    assert [len(log) for _, log in logs_of(log_path)] == [
        PIECE_SIZE, PIECE_SIZE, PIECE_SIZE, 50000 - 3 * PIECE_SIZE + 1, PIECE_SIZE, 20000 - PIECE_SIZE,
    ]


def test_pieces_are_cut_on_raw_bytes_before_escaping(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b'"' * (PIECE_SIZE + 5) + b"\n")
    w.close()
    assert [log for _, log in logs_of(log_path)] == ['"' * PIECE_SIZE, '"' * 5 + "\n"]


def test_attrs_are_written_between_stream_and_time(log_path):
    w = JsonFileWriter(log_path, attrs={"tag": "web<1>", "env": "x"})
    w.write("stdout", b"hi\n")
    w.close()
    (line,) = lines_of(log_path)
    assert line.startswith(b'{"log":"hi\\n","stream":"stdout","attrs":{"env":"x","tag":"web\\u003c1\\u003e"},"time":"')
    assert json.loads(line)["attrs"] == {"env": "x", "tag": "web<1>"}


# -- files and rotation ----------------------------------------------------


def numbered(n: int) -> bytes:
    return b"".join(b"line %05d\n" % i for i in range(n))


def test_rotation_keeps_max_file_files_and_shifts_names(log_path):
    w = JsonFileWriter(log_path, max_size=1000, max_file=3)
    for i in range(300):
        w.write("stdout", b"line %05d\n" % i)
    w.close()
    assert os.path.exists(log_path + ".1") and os.path.exists(log_path + ".2")
    assert not os.path.exists(log_path + ".3")
    logs = [log for name in (log_path + ".2", log_path + ".1", log_path) for _, log in logs_of(name)]
    numbers = [int(log.split()[1]) for log in logs]
    assert numbers == list(range(numbers[0], 300))


def test_rotation_happens_before_the_entry_that_starts_past_max_size(log_path):
    w = JsonFileWriter(log_path, max_size=1000, max_file=5)
    w.write("stdout", numbered(40))  # one chunk: rotation inside a batch
    w.close()
    for name in (log_path + ".3", log_path + ".2", log_path + ".1"):
        entries = lines_of(name)
        size = os.path.getsize(name)
        assert size >= 1000, "docker fills a file up to max-size before rotating"
        assert size - len(entries[-1]) - 1 < 1000, "the last entry started below max-size"


def test_rotation_with_max_file_1_truncates_the_file_in_place(log_path):
    w = JsonFileWriter(log_path, max_size=500, max_file=1)
    w.write("stdout", b"first\n")
    inode = os.stat(log_path).st_ino
    for i in range(100):
        w.write("stdout", b"line %05d\n" % i)
    w.close()
    assert os.stat(log_path).st_ino == inode
    assert not os.path.exists(log_path + ".1")
    logs = [log for _, log in logs_of(log_path)]
    assert "first\n" not in logs and logs[-1] == "line 00099\n"
    assert os.path.getsize(log_path) < 1000


def test_max_size_zero_or_negative_disables_rotation(log_path):
    w = JsonFileWriter(log_path, max_size=-1)
    w.write("stdout", numbered(5000))
    w.close()
    assert not os.path.exists(log_path + ".1")
    assert len(lines_of(log_path)) == 5000


def test_writer_appends_to_an_existing_log_and_counts_its_size(log_path):
    with open(log_path, "wb") as f:
        f.write(b'{"log":"old\\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}\n' * 20)
    w = JsonFileWriter(log_path, max_size=1000, max_file=2)
    w.write("stdout", b"new\n")
    w.close()
    assert logs_of(log_path + ".1")[-1] == ("stdout", "old\n")
    assert logs_of(log_path) == [("stdout", "new\n")]


def test_file_is_created_with_mode_0640(log_path):
    old = os.umask(0)
    try:
        JsonFileWriter(log_path).close()
    finally:
        os.umask(old)
    assert os.stat(log_path).st_mode & 0o777 == 0o640


def test_write_errors_drop_output_instead_of_raising(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    w = JsonFileWriter("/dev/full", max_size=-1)
    w.write("stdout", b"lost\n")
    w.close()
    assert w.dropped_bytes > 0 and w.last_error is not None


# -- --log-opt ------------------------------------------------------------------


@pytest.mark.parametrize(
    "opts, expected",
    [
        ({}, (-1, 1)),
        ({"max-size": "10m"}, (10_000_000, 1)),
        ({"max-size": "10M", "max-file": "5"}, (10_000_000, 5)),
        ({"max-size": "1.5k"}, (1500, 1)),
        ({"max-size": "20kb"}, (20_000, 1)),
        ({"max-size": "1 g"}, (1_000_000_000, 1)),
        ({"max-size": "3MiB"}, (3_000_000, 1)),  # FromHumanSize is decimal even with "i"
        ({"max-size": "4096"}, (4096, 1)),
        ({"max-size": "1m", "max-file": "+3"}, (1_000_000, 3)),
        ({"max-size": "1m", "max-file": "3", "compress": "true", "tag": "x", "labels": "a"}, (1_000_000, 3)),
    ],
)
def test_log_opts_are_parsed_with_dockers_units(opts, expected):
    assert parse_log_opts(opts) == expected


@pytest.mark.parametrize(
    "opts, message",
    [
        ({"max-size": "10x"}, "invalid size: '10x'"),
        ({"max-size": ""}, "invalid size: ''"),
        ({"max-size": "-1m"}, "invalid size: '-1m'"),
        ({"max-size": "1.2.3m"}, 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
        ({"max-size": "0"}, "max-size must be a positive number"),
        ({"max-size": "0.0001k"}, "max-size must be a positive number"),
        ({"max-file": "abc"}, 'strconv.Atoi: parsing "abc": invalid syntax'),
        ({"max-file": " 3"}, 'strconv.Atoi: parsing " 3": invalid syntax'),
        ({"max-file": "1_0"}, 'strconv.Atoi: parsing "1_0": invalid syntax'),
        ({"max-file": "99999999999999999999"}, 'strconv.Atoi: parsing "99999999999999999999": value out of range'),
        ({"max-file": "0"}, "max-file cannot be less than 1"),
        ({"max-size": "1m", "max-file": "2", "compress": "yes"}, 'strconv.ParseBool: parsing "yes": invalid syntax'),
        ({"max-size": "1m", "compress": "true"}, "compress cannot be true when max-file is less than 2 or max-size is not set"),
        ({"max-file": "3", "compress": "1"}, "compress cannot be true when max-file is less than 2 or max-size is not set"),
        ({"max-buffer-size": "1m"}, "unknown log opt 'max-buffer-size' for json-file log driver"),
    ],
)
def test_bad_log_opts_are_rejected_with_dockers_wording(opts, message):
    with pytest.raises(ValueError) as err:
        parse_log_opts(opts)
    assert str(err.value) == message


def test_runs_of_control_bytes_escape_like_byte_by_byte():
    """NUL-filled output (head -c N /dev/zero) takes the run path; mixed control
    bytes take replace(); both must equal the byte-by-byte escaping."""
    import random

    rng = random.Random(4)

    def by_byte(data: bytes) -> bytes:
        out = []
        for b in data:
            if b == 0x0A:
                out.append(b"\\n")
            elif b == 0x0D:
                out.append(b"\\r")
            elif b < 0x20:
                out.append(b"\\u%04x" % b)
            elif b in b'"\\':
                out.append(b"\\" + bytes((b,)))
            elif b in b"<>&":
                out.append(b"\\u%04x" % b)
            else:
                out.append(bytes((b,)))
        return b"".join(out)

    samples = [b"\x00" * 70000, b"\x01" * 5000 + b"x" + b"\x00" * 3000, b"\x1f\x00" * 4000]
    for _ in range(200):
        alphabet = b"\x00\x00\x00\x01\x07a\x1f\r\t\nb\"\\<"
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 3000)))
        if rng.random() < 0.3:
            data += b"\x00" * rng.randint(1000, 40000)
        samples.append(data)
    for data in samples:
        assert escape_go_json(data) == by_byte(data)


def test_repeated_long_pieces_are_logged_whole(log_path):
    w = JsonFileWriter(log_path)
    w.write("stdout", b"\x00" * (3 * PIECE_SIZE) + b"\x01" * PIECE_SIZE)
    w.close()
    logs = logs_of(log_path)
    assert [len(text) for _, text in logs] == [PIECE_SIZE] * 4
    assert "".join(text for _, text in logs) == "\x00" * (3 * PIECE_SIZE) + "\x01" * PIECE_SIZE
