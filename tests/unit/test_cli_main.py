"""The `berth` entry point: global flags, dispatch, help and usage errors as docker 28 words them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from berth.cli.main import MANAGEMENT, TOP_LEVEL, main

DOCKER = "/usr/local/bin/docker"


def berth(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_version_flag(capsys):
    status, out, _ = berth(capsys, "--version")
    assert status == 0 and out.startswith("Berth version ")
    assert berth(capsys, "-v")[1] == out


def test_no_command_prints_help_to_stderr(capsys):
    status, out, err = berth(capsys)
    assert status == 0 and out == ""
    assert err.startswith("Usage:  berth [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n")
    assert "\nManagement Commands:\n  builder     Manage builds\n" in err
    assert "\n  container   Manage containers\n" in err


def test_help_goes_to_stdout(capsys):
    status, out, err = berth(capsys, "--help")
    assert status == 0 and err == "" and "Global Options:" in out


@pytest.mark.parametrize(
    "args, status, err",
    [
        (["foo"], 1, "berth: unknown command: berth foo\n\nRun 'berth --help' for more information\n"),
        (["image", "foo"], 1, "berth: unknown command: berth image foo\n\nUsage:  berth image\n\n"
                              "Run 'berth image --help' for more information\n"),
        (["--foo"], 125, "unknown flag: --foo\n\nUsage:  berth [OPTIONS] COMMAND [ARG...]\n\n"
                         "Run 'berth --help' for more information\n"),
        (["-x", "ps"], 125, "unknown shorthand flag: 'x' in -x\n\nUsage:  berth [OPTIONS] COMMAND [ARG...]\n\n"
                            "Run 'berth --help' for more information\n"),
        (["run"], 1, "berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                     "See 'berth run --help' for more information\n"),
        (["ps", "extra"], 1, "berth: 'berth ps' accepts no arguments\n\nUsage:  berth ps [OPTIONS]\n\n"
                             "Run 'berth ps --help' for more information\n"),
        (["rename", "a"], 1, "berth: 'berth rename' requires 2 arguments\n\nUsage:  berth rename CONTAINER NEW_NAME\n\n"
                             "Run 'berth rename --help' for more information\n"),
        (["port", "a", "b", "c"], 1, "berth: 'berth port' requires at least 1 and at most 2 arguments\n\n"
                                     "Usage:  berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\n"
                                     "Run 'berth port --help' for more information\n"),
        (["run", "-m", "lots", "busybox"], 125, "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'\n\n"
                                                "Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                                                "Run 'berth run --help' for more information\n"),
        (["container", "ls", "--foo"], 125, "unknown flag: --foo\n\nUsage:  berth container ls [OPTIONS]\n\n"
                                            "Run 'berth container ls --help' for more information\n"),
        (["run", "--pull", "bogus", "busybox"], 125,
         "berth: invalid pull option: 'bogus': must be one of \"always\", \"missing\" or \"never\"\n\n"
         "Run 'berth run --help' for more information\n"),
        (["--log-level", "bogus", "ps"], 1, "Unable to parse logging level: bogus\n"),
    ],
)
def test_usage_errors(capsys, args, status, err):
    got = berth(capsys, *args)
    assert (got[0], got[2]) == (status, err)


def test_command_help_uses_the_invoked_path_and_canonical_name(capsys):
    status, out, _ = berth(capsys, "container", "list", "--help")
    assert status == 0
    assert out.startswith("Usage:  berth container ls [OPTIONS]\n\nList containers\n\nAliases:\n"
                          "  berth container ls, berth container list, berth container ps, berth ps\n")


def test_deprecated_h_prints_a_note_then_help(capsys):
    status, out, _ = berth(capsys, "ps", "-h")
    assert status == 0
    assert out.startswith("Flag shorthand -h has been deprecated, use --help\nUsage:  berth ps [OPTIONS]")


def test_startup_does_not_import_heavy_or_unrelated_modules():
    code = ("import sys; from berth.cli.main import main; main(['--version']); "
            "bad = [m for m in ('asyncio', 'aiohttp', 'h11', 'berth.cli.cmd_run', 'berth.cli.client', "
            "'dataclasses', 'json') if m in sys.modules]; print(bad)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().endswith("[]")


def test_run_imports_only_what_it_needs():
    code = ("import sys; from berth.cli.main import load_command, TOP_LEVEL; load_command(TOP_LEVEL['run']); "
            "print([m for m in ('asyncio', 'aiohttp', 'berth.cli.cmd_ps', 'berth.cli.cmd_images', "
            "'berth.gotemplate') if m in sys.modules])")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


# Berth's own commands: docker has nothing to compare their help with.
BERTH_ONLY = {("registry",), ("system", "check"), ("image", "bootstrap")}


def _berth_only(path: list[str]) -> bool:
    return any(tuple(path[:n]) in BERTH_ONLY for n in range(1, len(path) + 1))


def _sections(text: str) -> dict[str, list[str]]:
    """Root help split into its command sections (title -> entry lines)."""
    out: dict[str, list[str]] = {}
    for block in text.split("\n\n"):
        title, _, body = block.partition("\n")
        if title.endswith("Commands:"):
            out[title] = body.splitlines()
    return out


@pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason="docker CLI not installed")
def test_root_help_has_dockers_layout(capsys, tmp_path, monkeypatch):
    """Same sections, order and wording as docker's, minus what one side lacks (swarm, plugins, registry...)."""
    env = dict(os.environ, DOCKER_CONFIG=str(tmp_path), HOME=str(tmp_path))
    env.pop("DOCKER_CERT_PATH", None)
    proc = subprocess.run([DOCKER, "--help"], capture_output=True, text=True, env=env, timeout=30, check=True)
    monkeypatch.setenv("BERTH_CONFIG", str(tmp_path))
    monkeypatch.delenv("BERTH_CERT_PATH", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    status, out, _ = berth(capsys, "--help")
    assert status == 0
    # global options: the same defaults (config dir, TLS files in it) and texts
    ours_opts = out.split("Global Options:\n", 1)[1].split("\n\n", 1)[0]
    theirs_opts = proc.stdout.split("Global Options:\n", 1)[1].split("\n\n", 1)[0]
    assert ours_opts.replace("BERTH_HOST", "DOCKER_HOST").replace("berth context", "docker context") == theirs_opts
    head = out.split("\nCommon Commands:", 1)[0]
    assert head.replace("berth", "docker") == proc.stdout.split("\nCommon Commands:", 1)[0]
    ours = _sections(out.replace("Berth", "Docker"))
    theirs = _sections(proc.stdout)
    assert list(ours) == [t for t in theirs if t != "Swarm Commands:"]
    names = {line.split()[0] for lines in ours.values() for line in lines}
    for title, lines in ours.items():
        kept = [line for line in theirs[title] if line.split()[0].rstrip("*") in names]
        # compose: docker's is a plugin, absent here (it would read "compose*    Docker Compose").
        mine = [line for line in lines if (line.split()[0],) not in BERTH_ONLY | {("compose",)}]
        assert mine == kept, title
    assert "  registry    " in out
    assert "  compose     Docker Compose\n" in out.split("Management Commands:", 1)[1].split("\n\n")[0] + "\n"


def _all_paths() -> list[list[str]]:
    paths = [[name] for name in TOP_LEVEL]
    for group, (_, children) in MANAGEMENT.items():
        paths.extend([group, sub] for sub in children if sub != "bootstrap")
    return paths


@pytest.mark.parametrize("path", _all_paths(), ids=lambda p: " ".join(p))
def test_every_command_has_help(capsys, path):
    status, out, err = berth(capsys, *path, "--help")
    assert status == 0 and err == ""
    first = out.split("\n", 1)[0]
    assert first == f"Usage:  berth {' '.join(path)}" or first.startswith(f"Usage:  berth {' '.join(path)} ")


@pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason="docker CLI not installed")
@pytest.mark.parametrize("path", _all_paths(), ids=lambda p: " ".join(p))
def test_help_text_is_dockers(capsys, path, tmp_path):
    if _berth_only(path):
        pytest.skip("a Berth-only command: docker has no help to compare with")
    if path == ["compose"]:
        pytest.skip("the docker CLI here has no compose plugin to compare with (tests/unit/test_compose_cli.py)")
    env = dict(os.environ, DOCKER_CONFIG=str(tmp_path), HOME=str(tmp_path))
    proc = subprocess.run([DOCKER, *path, "--help"], capture_output=True, text=True, env=env, timeout=30)
    status, out, _ = berth(capsys, *path, "--help")

    def norm(text: str) -> str:
        return text.replace("berth", "docker").replace("Berth", "Docker")

    assert status == proc.returncode
    assert norm(out) == norm(proc.stdout)


@pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason="docker CLI not installed")
@pytest.mark.parametrize("args", [["help", "ps"], ["help", "nope"], ["help", "container", "nope"], ["help", "ps", "x"],
                                  ["help", "--help"], ["help", "-h"], ["help", "container", "list"],
                                  ["help", "volume"], ["help", "container", "ls", "-a"], ["help", "--foo"],
                                  ["help", "image", "ls", "extra"]], ids=" ".join)
def test_help_command_is_dockers(capsys, tmp_path, args):
    env = dict(os.environ, DOCKER_CONFIG=str(tmp_path), HOME=str(tmp_path))
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=30)
    status, out, err = berth(capsys, *args)
    assert (status, out.replace("berth", "docker"), err.replace("berth", "docker")) == \
        (proc.returncode, proc.stdout, proc.stderr)


def test_help_command_without_topic_prints_root_help(capsys):
    assert berth(capsys, "help") == berth(capsys, "--help")
