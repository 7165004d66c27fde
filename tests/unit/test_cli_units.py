"""Sizes, CPUs, durations and times parsed and printed as docker's Go code does."""

from __future__ import annotations

import calendar
import time

import pytest

from berth.cli import units
from berth.cli.units import UnitError


@pytest.mark.parametrize(
    "text, value",
    [
        ("1kb", 1024), ("1kib", 1024), ("1KiB", 1024), ("1 k", 1024), ("1.5g", 1610612736),
        ("3", 3), ("0", 0), ("1b", 1), (".5m", 524288), ("1e3", 1000), ("1_000", 1000),
        ("1p", 1 << 50), ("1t", 1 << 40), ("1 ", 1), ("+5", 5), ("5.", 5), ("1.9", 1),
        ("1.5e3k", 1536000), ("999999999999999999999", -(2**63)),
    ],
)
def test_ram_in_bytes_accepts_what_docker_accepts(text, value):
    assert units.ram_in_bytes(text) == value


@pytest.mark.parametrize(
    "text, message",
    [
        ("lots", "invalid size: 'lots'"),
        ("1.5x", "invalid suffix: 'x'"),
        ("-1", "invalid size: '-1'"),
        ("1.2.3", 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
        ("1bb", "invalid suffix: 'bb'"),
        ("1mbx", "invalid suffix: 'mbx'"),
        ("0x10", 'strconv.ParseFloat: parsing "0x10": invalid syntax'),
        ("", "invalid size: ''"),
        (" 1k", 'strconv.ParseFloat: parsing " 1": invalid syntax'),
        ("1k ", 'strconv.ParseFloat: parsing "1k": invalid syntax'),
        ("k", "invalid size: 'k'"),
        ("1  k", 'strconv.ParseFloat: parsing "1 ": invalid syntax'),
        ("Inf", "invalid size: 'Inf'"),
        ("1e400", 'strconv.ParseFloat: parsing "1e400": value out of range'),
    ],
)
def test_ram_in_bytes_errors(text, message):
    with pytest.raises(UnitError) as err:
        units.ram_in_bytes(text)
    assert str(err.value) == message


def test_memory_swap_allows_minus_one_only():
    assert units.mem_swap_bytes("-1") == -1
    with pytest.raises(UnitError):
        units.mem_swap_bytes("-2")


@pytest.mark.parametrize("text, nanos", [("1.5", 1_500_000_000), ("3/2", 1_500_000_000), ("0.001", 1_000_000),
                                         ("2", 2_000_000_000), ("15e-1", 1_500_000_000), ("-1", -1_000_000_000),
                                         (".5", 500_000_000)])
def test_nano_cpus(text, nanos):
    assert units.nano_cpus(text) == nanos


@pytest.mark.parametrize("text, message", [("abc", "failed to parse abc as a rational number"),
                                           ("0.0000000001", "value is too precise"),
                                           ("1/0", "failed to parse 1/0 as a rational number")])
def test_nano_cpus_errors(text, message):
    with pytest.raises(UnitError) as err:
        units.nano_cpus(text)
    assert str(err.value) == message


@pytest.mark.parametrize("text, ns", [("10m", 600 * 10**9), ("1h30m", 5400 * 10**9), ("1.5s", 1_500_000_000),
                                      ("300ms", 300_000_000), ("-1s", -(10**9)), ("0", 0), ("2us", 2000),
                                      ("2\u00b5s", 2000), ("1ns", 1)])
def test_go_durations(text, ns):
    assert units.parse_duration(text) == ns


@pytest.mark.parametrize("text, message", [("10", 'time: missing unit in duration "10"'),
                                           ("1x", 'time: unknown unit "x" in duration "1x"'),
                                           ("x", 'time: invalid duration "x"'),
                                           ("", 'time: invalid duration ""')])
def test_go_duration_errors(text, message):
    with pytest.raises(UnitError) as err:
        units.parse_duration(text)
    assert str(err.value) == message


def test_format_duration():
    assert units.format_duration(0) == "0s"
    assert units.format_duration(90 * 10**9) == "1m30s"
    assert units.format_duration(3600 * 10**9) == "1h0m0s"
    assert units.format_duration(1_500_000_000) == "1.5s"


@pytest.mark.parametrize(
    "seconds, text",
    [(0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
     (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
     (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"),
     (14 * 86400, "2 weeks"), (60 * 86400, "2 months"), (730 * 86400, "2 years")],
)
def test_human_duration(seconds, text):
    assert units.human_duration(seconds) == text


@pytest.mark.parametrize(
    "size, text",
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (4261550, "4.26MB"), (123456789, "123MB"),
     (12345, "12.3kB"), (999_500, "1e+03kB")],
)
def test_human_size_with_precision_3(size, text):
    assert units.human_size_with_precision(size, 3) == text


def test_human_size_and_bytes_size():
    assert units.human_size(4261550) == "4.262MB"
    assert units.human_size(12345) == "12.35kB"
    assert units.bytes_size(4_000_000_000) == "3.725GiB"
    assert units.bytes_size(512) == "512B"


def test_go_parse_int_and_bool():
    assert units.go_parse_int("0x10") == 16
    assert units.go_parse_int("010") == 8
    assert units.go_parse_int("1_000") == 1000
    with pytest.raises(UnitError, match="out of range"):
        units.go_parse_int("99999999999999999999")
    assert units.go_parse_bool("T") is True
    with pytest.raises(UnitError, match='parsing "yes": invalid syntax'):
        units.go_parse_bool("yes")


class TestTimestamps:
    now = 1_700_000_000.0

    def test_durations_are_relative_to_now(self):
        assert units.get_timestamp("10m", self.now) == str(int(self.now) - 600)

    def test_zone_given(self):
        expected = calendar.timegm((2024, 1, 1, 0, 0, 0))
        assert units.get_timestamp("2024-01-01T00:00:00Z", self.now) == f"{expected}.000000000"
        assert units.get_timestamp("2024-01-01T02:00:00+02:00", self.now) == f"{expected}.000000000"
        assert units.get_timestamp("2024-01-01T00:00:00.5Z", self.now) == f"{expected}.500000000"

    def test_local_time_without_zone(self):
        expected = int(time.mktime((2024, 1, 1, 10, 0, 0, 0, 0, -1)))
        assert units.get_timestamp("2024-01-01T10:00:00", self.now) == f"{expected}.000000000"
        day = int(time.mktime((2024, 1, 1, 0, 0, 0, 0, 0, -1)))
        assert units.get_timestamp("2024-01-01", self.now) == f"{day}.000000000"

    def test_unix_timestamps_pass_through(self):
        assert units.get_timestamp("1700000000", self.now) == "1700000000"
        assert units.get_timestamp("1700000000.123", self.now) == "1700000000.123"

    def test_garbage(self):
        with pytest.raises(UnitError) as err:
            units.get_timestamp("bogus", self.now)
        assert str(err.value) == 'failed to parse value as time or duration: "bogus"'
