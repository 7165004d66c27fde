"""The multiplexed stream, detach keys and the stdin/stdout pump."""

from __future__ import annotations

import io
import os
import socket
import threading

import pytest

from berth.cli.client import Hijacked
from berth.cli.stdio import (
    Demuxer,
    EscapeDetector,
    OutputSink,
    StreamError,
    frame,
    parse_detach_keys,
    pump,
)


def test_demuxer_splits_frames_cut_at_any_byte():
    data = frame(1, b"hello\n") + frame(2, b"oops\n") + frame(1, b"") + frame(1, b"x" * 70000)
    for step in (1, 3, 7, 8, 9, 64, len(data)):
        d = Demuxer()
        frames = []
        for i in range(0, len(data), step):
            frames.extend(d.feed(data[i:i + step]))
        assert frames == [(1, b"hello\n"), (2, b"oops\n"), (1, b""), (1, b"x" * 70000)]
        assert d.pending == 0


def test_demuxer_rejects_unknown_stream_ids():
    with pytest.raises(StreamError, match="Unrecognized input header: 9"):
        Demuxer().feed(b"\x09\x00\x00\x00\x00\x00\x00\x01x")


def test_output_sink_routes_streams_and_raw_tty():
    out, err = io.BytesIO(), io.BytesIO()
    sink = OutputSink(out, err, tty=False)
    sink.write(frame(1, b"o1") + frame(2, b"e1")[:5])
    sink.write(frame(2, b"e1")[5:] + frame(0, b"i"))
    assert out.getvalue() == b"o1i" and err.getvalue() == b"e1"
    raw = io.BytesIO()
    OutputSink(raw, None, tty=True).write(b"\x01\x00\x00\x00raw")
    assert raw.getvalue() == b"\x01\x00\x00\x00raw"


def test_output_sink_reports_system_errors():
    with pytest.raises(StreamError, match="broken"):
        OutputSink(io.BytesIO(), io.BytesIO(), tty=False).write(frame(3, b"broken"))


def test_detach_keys_parse_like_docker():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert parse_detach_keys("ctrl-@,ctrl-[,ctrl-_") == b"\x00\x1b\x1f"
    with pytest.raises(ValueError, match="Unknown character: 'ctrl-1'"):
        parse_detach_keys("ctrl-1")
    with pytest.raises(ValueError):
        parse_detach_keys("abc")


def test_escape_detector_holds_partial_sequences_and_releases_them():
    det = EscapeDetector(b"\x10\x11")
    assert det.filter(b"ab\x10") == (b"ab", False)
    assert det.filter(b"c") == (b"\x10c", False)
    assert det.filter(b"\x10\x10") == (b"\x10", False)
    assert det.filter(b"\x11rest") == (b"", True)
    assert EscapeDetector().filter(b"typed\x10\x11") == (b"typed", True)


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def test_pump_copies_pending_bytes_first_then_output_until_eof():
    ours, theirs = _pair()
    theirs.sendall(frame(1, b"second\n") + frame(2, b"err\n"))
    theirs.close()
    out, err = io.BytesIO(), io.BytesIO()
    result = pump(Hijacked(ours, frame(1, b"first\n")), OutputSink(out, err, False), None)
    assert result == "eof"
    assert out.getvalue() == b"first\nsecond\n" and err.getvalue() == b"err\n"


def test_pump_forwards_stdin_and_half_closes_on_eof():
    ours, theirs = _pair()
    rfd, wfd = os.pipe()
    received = []

    def container() -> None:
        data = b""
        while True:
            chunk = theirs.recv(65536)
            if not chunk:  # our half-close reached the container
                break
            data += chunk
        received.append(data)
        theirs.sendall(frame(1, data.upper()))
        theirs.close()

    t = threading.Thread(target=container)
    t.start()
    os.write(wfd, b"hello ")
    os.write(wfd, b"world")
    os.close(wfd)
    out = io.BytesIO()
    try:
        result = pump(Hijacked(ours), OutputSink(out, io.BytesIO(), False), rfd)
    finally:
        os.close(rfd)
    t.join(5)
    assert result == "eof"
    assert received == [b"hello world"]
    assert out.getvalue() == b"HELLO WORLD"


def test_pump_stops_on_detach_keys_without_forwarding_them():
    ours, theirs = _pair()
    rfd, wfd = os.pipe()
    os.write(wfd, b"ls\x10\x11more")
    try:
        result = pump(Hijacked(ours), OutputSink(io.BytesIO(), None, True), rfd, EscapeDetector())
    finally:
        os.close(rfd)
        os.close(wfd)
    assert result == "detached"
    theirs.settimeout(1)
    assert theirs.recv(100) == b"ls"
