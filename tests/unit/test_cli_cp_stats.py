"""cp/diff/export/commit/stats/update in the CLI: flags, help text, docker's stats arithmetic."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from berth.cli import cmd_commit, cmd_cp, cmd_stats, cmd_update
from berth.cli.command import CliError, execute, Cli
from berth.cli.main import MANAGEMENT, TOP_LEVEL, load_command

DOCKER = "/usr/local/bin/docker"
NAMES = ["cp", "diff", "export", "commit", "stats", "update"]


def _help(argv: list[str]) -> str:
    out = io.StringIO()
    cli = Cli(host="unix:///nonexistent", stdout=out, stderr=io.StringIO())
    cmd = load_command(TOP_LEVEL[argv[0]] if len(argv) == 1 else MANAGEMENT["container"][1][argv[1]])
    path = "berth " + " ".join(argv)
    assert execute(cli, cmd, path, ["--help"]) == 0
    return out.getvalue()


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="docker CLI not installed")
@pytest.mark.parametrize("name", NAMES)
def test_help_matches_docker(name):
    env = dict(os.environ, COLUMNS="80")
    for argv in ([name], ["container", name]):
        want = subprocess.run([DOCKER, *argv, "--help"], capture_output=True, text=True, env=env).stdout
        want = want.replace("docker ", "berth ").replace("docker.com", "DOCS")
        assert _help(argv).replace("docker.com", "DOCS") == want


def test_registered_everywhere():
    for name in NAMES:
        assert name in TOP_LEVEL and name in MANAGEMENT["container"][1]


def _run(name: str, args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    cli = Cli(host="unix:///nonexistent/sock", stdout=out, stderr=err)
    try:
        status = execute(cli, load_command(TOP_LEVEL[name]), f"berth {name}", args)
    except CliError as exc:
        err.write((exc.message or "") + "\n")
        status = exc.status
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name,args,status,text", [
    ("cp", ["a"], 1, "berth: 'berth cp' requires 2 arguments"),
    ("cp", ["a", "b"], 1, "must specify at least one container source"),
    ("cp", ["c1:/a", "c2:/b"], 1, "copying between containers is not supported"),
    ("cp", ["", "c:/b"], 1, "source can not be empty"),
    ("cp", ["c:/b", ""], 1, "destination can not be empty"),
    ("diff", [], 1, "berth: 'berth diff' requires 1 argument"),
    ("commit", [], 1, "berth: 'berth commit' requires at least 1 and at most 2 arguments"),
    ("commit", ["c", "Bad:x"], 1, "invalid reference format: repository name (library/Bad) must be lowercase"),
    ("commit", ["c", "a@sha256:" + "a" * 64], 1, "refusing to create a tag with a digest reference"),
    ("update", ["c"], 1, "you must provide one or more flags when using this command"),
    ("update", ["--blkio-weight", "70000", "c"], 125,
     'invalid argument "70000" for "--blkio-weight" flag: strconv.ParseUint: parsing "70000": value out of range'),
    ("update", ["--restart", ":3", "c"], 1, "invalid restart policy format: no policy provided before colon"),
    ("stats", ["--bogus"], 125, "unknown flag: --bogus"),
])
def test_usage_errors(name, args, status, text):
    got_status, _, err = _run(name, args)
    assert got_status == status
    assert err.startswith(text)


def test_split_cp_arg():
    assert cmd_cp.split_cp_arg("/abs:x") == ("", "/abs:x")
    assert cmd_cp.split_cp_arg("./x:y") == ("", "./x:y")
    assert cmd_cp.split_cp_arg("c:/p") == ("c", "/p")
    assert cmd_cp.split_cp_arg("file") == ("", "file")
    assert cmd_cp.split_cp_arg("c:") == ("c", "")


def test_local_paths_keep_trailing_markers():
    assert cmd_cp.resolve_local_path("/tmp/x/") == "/tmp/x/"
    assert cmd_cp.resolve_local_path("/tmp/x/.") == "/tmp/x/."
    assert cmd_cp.split_dir_entry("/a/b/") == ("/a", "b")
    assert cmd_cp.split_dir_entry("/a/b/.") == ("/a/b", ".")
    assert cmd_cp.get_rebase_name("/lnk", "/d") == ("/d", "lnk")
    assert cmd_cp.get_rebase_name("/lnk/", "/d") == ("/d/", "lnk")
    assert cmd_cp.rebase_name("d/a", "d", "new") == "new/a"
    assert cmd_cp.progress_size(2048) == "2.05kB"
    assert cmd_cp.progress_size(52430336) == "52.4MB"


def test_tar_source_names_and_go_sized_stream(tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "x").write_text("x")
    (tmp_path / "src" / "f").write_text("hello")
    os.link(tmp_path / "src" / "f", tmp_path / "src" / "g")
    os.symlink("f", tmp_path / "src" / "l")
    data = b"".join(cmd_cp.tar_source(str(tmp_path / "src")))
    assert len(data) % 512 == 0 and data.endswith(b"\0" * 1024)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"src", "src/f", "src/g", "src/l", "src/sub", "src/sub/x"}
    assert members["src/g"].islnk() and members["src/g"].linkname == "src/f"
    assert members["src/l"].issym() and members["src/l"].linkname == "f"
    data = b"".join(cmd_cp.tar_source(str(tmp_path / "src") + "/.", "renamed"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = sorted(m.name for m in tar.getmembers())
    assert names[0] == "renamed" and "renamed/sub/x" in names
    one = b"".join(cmd_cp.tar_source(str(tmp_path / "src" / "f")))
    assert len(one) == 2048  # header + one block + two zero blocks, no record padding (as Go writes)


def test_commit_query():
    class V:
        message = "msg"
        author = "me"
        change = ["ENV A=b", "CMD x"]
        pause = False
    q = cmd_commit.commit_query("c1", "Repo/x".lower(), V)
    assert q == {"container": "c1", "repo": "repo/x", "tag": "latest", "comment": "msg", "author": "me",
                 "changes": ["ENV A=b", "CMD x"], "pause": "0"}
    V.pause, V.message, V.author, V.change = True, "", "", []
    assert cmd_commit.commit_query("c1", "", V) == {"container": "c1"}
    assert cmd_commit.commit_query("c1", "busybox:v1", V)["repo"] == "busybox"


def test_diff_lines():
    assert cmd_commit.diff_lines([{"Kind": 0, "Path": "/etc"}, {"Kind": 1, "Path": "/a"},
                                  {"Kind": 2, "Path": "/b"}]) == "C /etc\nA /a\nD /b\n"
    assert cmd_commit.diff_lines(None) == ""


def test_update_body():
    fs = load_command(TOP_LEVEL["update"]).flagset()
    v, _ = fs.parse(["-m", "64m", "--cpus", "1.5", "--pids-limit", "50", "--restart", "on-failure:3",
                     "--cpuset-cpus", "0", "--memory-swap", "-1", "--blkio-weight", "300"])
    body = cmd_update.update_body(v)
    assert body["Memory"] == 64 << 20 and body["NanoCpus"] == 1_500_000_000 and body["PidsLimit"] == 50
    assert body["MemorySwap"] == -1 and body["BlkioWeight"] == 300 and body["CpusetCpus"] == "0"
    assert body["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    v, _ = fs.parse(["--cpu-shares", "512"])
    body = cmd_update.update_body(v)
    assert body["PidsLimit"] is None and body["CpuShares"] == 512 and body["Memory"] == 0


V1_DOC = {
    "name": "/web", "id": "4c24f66e648af7ab7cecfc89fe862058691cb3557f0089579566f4acc45506f2",
    "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000, "percpu_usage": [1, 2, 3, 4]},
                  "system_cpu_usage": 20_000_000_000, "online_cpus": 0},
    "precpu_stats": {"cpu_usage": {"total_usage": 200_000_000}, "system_cpu_usage": 16_000_000_000},
    "memory_stats": {"usage": 10 << 20, "limit": 64 << 20, "stats": {"total_inactive_file": 2 << 20,
                                                                      "inactive_file": 1 << 20}},
    "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 700}, "eth1": {"rx_bytes": 500, "tx_bytes": 0}},
    "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "write", "value": 1 << 20},
                                                   {"op": "Total", "value": 99}, {"op": "", "value": 5}]},
    "pids_stats": {"current": 7},
}


def test_stats_arithmetic_like_docker():
    e = cmd_stats.Entry("web")
    e.set_from(V1_DOC)
    row = e.row(trunc=True)
    assert row.CPUPerc == "20.00%"  # 0.2e9 / 4e9 * 4 cpus (from percpu_usage) * 100
    assert row.MemUsage == "8MiB / 64MiB" and row.MemPerc == "12.50%"
    assert row.NetIO == "2kB / 700B" and row.BlockIO == "4.1kB / 1.05MB" and row.PIDs == "7"
    assert row.ID == "4c24f66e648a" and row.Name == "web" and row.Container == "web"
    assert e.row(trunc=False).ID == V1_DOC["id"]
    v2 = dict(V1_DOC, memory_stats={"usage": 10 << 20, "limit": 0, "stats": {"inactive_file": 1 << 20}})
    e.set_from(v2)
    assert e.row(True).MemUsage == "9MiB / 0B" and e.row(True).MemPerc == "0.00%"
    e.invalid = True
    r = e.row(True)
    assert (r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs) == ("--", "-- / --", "--", "--", "--", "--")


def test_stats_table_json_and_template():
    e = cmd_stats.Entry("web")
    e.set_from(V1_DOC)
    table = cmd_stats.render("", [e], True)
    assert table.splitlines()[0] == ("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     "
                                     "NET I/O      BLOCK I/O        PIDS")
    assert cmd_stats.render("json", [e], True).startswith('{"BlockIO":"4.1kB / 1.05MB","CPUPerc":"20.00%",')
    assert cmd_stats.render("{{.Name}}: {{.CPUPerc}}", [e], True) == "web: 20.00%\n"
    assert cmd_stats.render("table {{.Container}}\t{{.PIDs}}", [e], True) == "CONTAINER   PIDS\nweb         7\n"


def test_stats_redraw_frames():
    assert cmd_stats.redraw("A\nB\n", True) == "\033[HA\nB\n"
    assert cmd_stats.redraw("A\nB\n", False) == "\033[HA \033[K\nB \033[K\n \033[K\n\033[J"


def test_cp_and_update_import_nothing_heavy():
    from test_cli_fastpaths import HEAVY

    code = ("import sys; from berth.cli.main import main\n"
            "import io; sys.stdout = io.StringIO(); sys.stderr = io.StringIO()\n"
            "main(['diff', '--help']); main(['update', '--help']); main(['commit', '--help'])\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.__stderr__)")
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stderr.strip().splitlines()[-1] == "[]"
