"""docker's stdcopy framing: exact header bytes and lossless round trips."""

from __future__ import annotations

import random

import pytest

from berth.logs.frames import MAX_FRAME, FrameDecoder, FrameError, frame, header


def test_header_is_stream_byte_three_zeros_and_big_endian_length():
    assert frame(1, b"hello") == b"\x01\x00\x00\x00\x00\x00\x00\x05hello"
    assert frame(2, b"x" * 258)[:8] == b"\x02\x00\x00\x00\x00\x00\x01\x02"
    assert header(0, 0x01020304) == b"\x00\x00\x00\x00\x01\x02\x03\x04"


def test_empty_payload_sends_no_frame():
    assert frame(1, b"") == b""


def test_unknown_stream_is_refused():
    with pytest.raises(ValueError):
        frame(7, b"x")


def test_payload_above_one_mib_becomes_several_frames():
    payload = bytes(range(256)) * (MAX_FRAME // 256 * 2 + 3)
    data = frame(2, payload)
    decoded = FrameDecoder().feed(data)
    assert [len(p) for _, p in decoded] == [MAX_FRAME, MAX_FRAME, len(payload) - 2 * MAX_FRAME]
    assert b"".join(p for _, p in decoded) == payload
    assert {s for s, _ in decoded} == {2}


def test_round_trip_with_arbitrary_chunk_boundaries():
    rng = random.Random(5)
    sent = [(rng.choice((1, 2)), rng.randbytes(rng.randint(1, 3000))) for _ in range(200)]
    stream = b"".join(frame(s, p) for s, p in sent)
    decoder = FrameDecoder()
    got = []
    pos = 0
    while pos < len(stream):
        step = rng.choice((1, 3, 8, 9, 100, 4096))
        got += decoder.feed(stream[pos : pos + step])
        pos += step
    decoder.close()
    assert got == sent
    assert decoder.pending == 0


def test_decoder_rejects_a_corrupt_header():
    with pytest.raises(FrameError, match="Unrecognized input header: 9"):
        FrameDecoder().feed(b"\x09\x00\x00\x00\x00\x00\x00\x01x")
    with pytest.raises(FrameError):
        FrameDecoder().feed(b"\x01\x00\x01\x00\x00\x00\x00\x01x")


def test_decoder_reports_a_stream_cut_inside_a_frame():
    decoder = FrameDecoder()
    assert decoder.feed(frame(1, b"complete") + frame(1, b"cut short")[:10]) == [(1, b"complete")]
    assert decoder.pending == 10
    with pytest.raises(FrameError):
        decoder.close()
