"""Docker-style flag parsing: what pflag accepts, what it refuses and how it says so."""

from __future__ import annotations

import pytest

from berth.cli.containeropts import add_create_flags
from berth.cli.flags import FlagError, FlagSet, HelpRequested


def run_flags() -> FlagSet:
    fs = FlagSet()
    add_create_flags(fs, run=True)
    return fs


def parse(args: list[str]):
    return run_flags().parse(args)


def test_combined_short_booleans_set_each_flag():
    v, pos = parse(["-it", "busybox", "sh"])
    assert v.interactive and v.tty
    assert pos == ["busybox", "sh"]


def test_combined_shorts_end_with_a_value_flag_taking_the_rest():
    v, _ = parse(["-ite", "A=b", "busybox"])
    assert v.interactive and v.tty and v.env == ["A=b"]
    v, _ = parse(["-iteA=b", "busybox"])
    assert v.env == ["A=b"]


@pytest.mark.parametrize("args", [["-e", "A=b"], ["-eA=b"], ["-e=A=b"], ["--env=A=b"], ["--env", "A=b"]])
def test_every_spelling_of_a_value_flag(args):
    v, pos = parse(args + ["busybox"])
    assert v.env == ["A=b"]
    assert pos == ["busybox"]


def test_repeatable_list_flags_collect_in_order():
    v, _ = parse(["-e", "A=1", "--env", "B=2", "-eC=3", "-l", "x=y", "-l", "z", "busybox"])
    assert v.env == ["A=1", "B=2", "C=3"]
    assert v.label == ["x=y", "z"]


def test_bool_takes_value_only_with_equals():
    v, pos = parse(["--rm=false", "busybox"])
    assert v.rm is False and "rm" in v.changed
    v, pos = parse(["--rm", "false", "busybox"])
    assert v.rm is True
    assert pos == ["false", "busybox"]
    v, _ = parse(["-d=false", "--sig-proxy=0", "busybox"])
    assert v.detach is False and v.sig_proxy is False


def test_flags_stop_at_the_image_for_run():
    v, pos = parse(["--rm", "busybox", "ls", "-la", "--rm", "-e", "X=1"])
    assert v.rm is True and v.env == []
    assert pos == ["busybox", "ls", "-la", "--rm", "-e", "X=1"]


def test_double_dash_ends_flags_and_is_dropped_before_the_image():
    v, pos = parse(["-d", "--", "busybox", "--", "x"])
    assert v.detach
    assert pos == ["busybox", "--", "x"]


def test_interspersed_flags_for_ordinary_commands():
    fs = FlagSet()
    fs.bool("force", "f")
    v, pos = fs.parse(["a", "-f", "b"])
    assert v.force and pos == ["a", "b"]
    v, pos = fs.parse(["a", "--", "-f"])
    assert not v.force and pos == ["a", "-f"]


def test_lone_dash_is_positional():
    fs = FlagSet()
    fs.bool("x", "x")
    _, pos = fs.parse(["-", "-x"])
    assert pos == ["-"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--foo", "busybox"], "unknown flag: --foo"),
        (["-x", "busybox"], "unknown shorthand flag: 'x' in -x"),
        (["-ix", "busybox"], "unknown shorthand flag: 'x' in -x"),
        (["--name"], "flag needs an argument: --name"),
        (["-e"], "flag needs an argument: 'e' in -e"),
        (["---x", "busybox"], "bad flag syntax: ---x"),
        (["--rm=maybe", "busybox"], 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
        (["-m", "lots", "busybox"], "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"),
        (["--memory-swap", "lots", "busybox"], "invalid argument \"lots\" for \"--memory-swap\" flag: invalid size: 'lots'"),
        (["-m", "1.5x", "busybox"], "invalid argument \"1.5x\" for \"-m, --memory\" flag: invalid suffix: 'x'"),
        (["--cpus", "abc", "busybox"], 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number'),
        (["--cpus", "0.0000000001", "busybox"], 'invalid argument "0.0000000001" for "--cpus" flag: value is too precise'),
        (["--stop-timeout", "1.5", "busybox"], 'invalid argument "1.5" for "--stop-timeout" flag: strconv.ParseInt: parsing "1.5": invalid syntax'),
        (["-e", "=x", "busybox"], 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x'),
        (["-l", "=x", "busybox"], "invalid argument \"=x\" for \"-l, --label\" flag: invalid label '=x': empty name"),
        (["-a", "foo", "busybox"], 'invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR'),
        (["--ulimit", "nofile", "busybox"], 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile'),
        (["--ulimit", "bogus=1", "busybox"], 'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus'),
        (["--ulimit", "nofile=2:1", "busybox"], 'invalid argument "nofile=2:1" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 2 > 1'),
        (["--ulimit", "nofile=abc", "busybox"], 'invalid argument "nofile=abc" for "--ulimit" flag: strconv.ParseInt: parsing "abc": invalid syntax'),
        (["--mount", "type=bind", "busybox"], 'invalid argument "type=bind" for "--mount" flag: target is required'),
        (["--mount", "foo", "busybox"], "invalid argument \"foo\" for \"--mount\" flag: invalid field 'foo' must be a key=value pair"),
        (["--add-host", "bad", "busybox"], 'invalid argument "bad" for "--add-host" flag: bad format for add-host: "bad"'),
        (["--add-host", "h:notip", "busybox"], 'invalid argument "h:notip" for "--add-host" flag: invalid IP address in add-host: "notip"'),
        (["--sysctl", "x", "busybox"], "invalid argument \"x\" for \"--sysctl\" flag: sysctl 'x' is not allowed"),
        (["--device-read-bps", "/dev/sda", "busybox"], 'invalid argument "/dev/sda" for "--device-read-bps" flag: bad format: /dev/sda'),
    ],
)
def test_errors_read_like_pflag(args, message):
    with pytest.raises(FlagError) as err:
        parse(args)
    assert str(err.value) == message


def test_help_flag_and_deprecated_h():
    with pytest.raises(HelpRequested) as req:
        parse(["--help"])
    assert not req.value.deprecated_h
    fs = FlagSet()
    fs.bool("all", "a")
    with pytest.raises(HelpRequested) as req:
        fs.parse(["-h"])
    assert req.value.deprecated_h
    v, _ = fs.parse(["--help=false"])  # an explicit false is not a help request
    assert not v.all


def test_size_and_cpu_flags_convert_units():
    v, _ = parse(["-m", "64m", "--memory-swap", "-1", "--cpus", "1.5", "--shm-size", "1g", "busybox"])
    assert v.memory == 64 * 1024 * 1024
    assert v.memory_swap == -1
    assert v.cpus == 1_500_000_000
    assert v.shm_size == 1 << 30


def test_int_flags_accept_go_base_prefixes():
    v, _ = parse(["--cpu-shares", "0x10", "--pids-limit", "-1", "busybox"])
    assert v.cpu_shares == 16 and v.pids_limit == -1


def test_changed_tracks_explicit_flags_only():
    v, _ = parse(["--stop-timeout", "0", "--entrypoint", "", "busybox"])
    assert {"stop-timeout", "entrypoint"} <= v.changed
    assert "init" not in v.changed


def test_deprecated_flag_warns_on_stderr():
    import io

    fs = FlagSet()
    fs.int("time", "", "", deprecated="use --timeout instead")
    err = io.StringIO()
    v, _ = fs.parse(["--time", "3"], stderr=err)
    assert v.time == 3
    assert err.getvalue() == "Flag --time has been deprecated, use --timeout instead\n"


def test_help_layout_matches_pflag_wrapping():
    fs = FlagSet()
    fs.bool("all", "a", "Show all containers (default shows just running)")
    fs.int("last", "n", "Show n last created containers (includes all states)", default=-1)
    fs.string("format", "", "Format output using a custom template:\n"
              "'table':            Print output in table format with column headers (default)\n"
              "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates")
    assert fs.usages(79) == (
        "  -a, --all             Show all containers (default shows just running)\n"
        "      --format string   Format output using a custom template:\n"
        "                        'table':            Print output in table format\n"
        "                        with column headers (default)\n"
        "                        Refer to https://docs.docker.com/go/formatting/\n"
        "                        for more information about formatting output with\n"
        "                        templates\n"
        "  -n, --last int        Show n last created containers (includes all\n"
        "                        states) (default -1)\n"
    )
