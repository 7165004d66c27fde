"""berth cp/diff/export/commit/update/stats against the real docker CLI on the same daemon."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import uuid

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _ok(r):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout={r.stdout}\nstderr={r.stderr}"
    return r


def _same(b, d):
    assert (b.returncode, b.stdout, b.stderr.replace("berth", "docker")) == (d.returncode, d.stdout, d.stderr)


@pytest.fixture(scope="module")
def box(sandbox):
    name = _name("more")
    _ok(sandbox.docker("run", "-d", "--name", name, "busybox", "sleep", "1000"))
    _ok(sandbox.docker("exec", name, "sh", "-c",
                       "echo hi > /tmp/f; mkdir /d; echo x > /d/a; ln -s /d /lnk; rm /etc/group"))
    yield name
    sandbox.docker("rm", "-f", name)


def _bytes(sandbox, argv, input=None):
    import sys

    return subprocess.run(argv, input=input, env=sandbox.env(), capture_output=True, timeout=120)


def test_diff_matches_docker(sandbox, box):
    _same(sandbox.berth("diff", box), sandbox.docker("diff", box))
    _same(sandbox.berth("container", "diff", "nope-x"), sandbox.docker("container", "diff", "nope-x"))


@pytest.mark.parametrize("src,dst", [("/tmp/f", "f"), ("/d", "d"), ("/d/.", "dcontents"), ("/d", "ex"),
                                     ("/tmp/f", "ex/"), ("/d", "file"), ("/tmp/f", "nodir/"),
                                     ("/nope", "x"), ("/tmp/f", "nodir/x")])
def test_cp_from_container_like_docker(sandbox, box, tmp_path, src, dst):
    results = []
    for who in ("berth", "docker"):
        root = tmp_path / who
        root.mkdir()
        (root / "ex").mkdir()
        (root / "file").write_text("")
        run = getattr(sandbox, who)
        r = run("cp", f"{box}:{src}", str(root / dst))
        listing = sorted((str(p.relative_to(root)), p.is_dir(), p.read_bytes() if p.is_file() else b"")
                         for p in root.rglob("*"))
        results.append((r.returncode, r.stdout, r.stderr.replace(str(root), "ROOT"), listing))
    assert results[0] == results[1]


def test_cp_follow_link_and_stdout_tar(sandbox, box, tmp_path):
    _ok(sandbox.berth("cp", "-L", f"{box}:/lnk", str(tmp_path / "followed")))
    assert (tmp_path / "followed" / "a").read_text() == "x\n"
    _ok(sandbox.berth("cp", f"{box}:/lnk", str(tmp_path / "link")))
    assert os.readlink(tmp_path / "link") == "/d"
    b = _bytes(sandbox, ["python3", "-m", "berth.cli.main", "cp", f"{box}:/d", "-"])
    d = _bytes(sandbox, ["/usr/local/bin/docker", "cp", f"{box}:/d", "-"])
    assert b.returncode == d.returncode == 0 and b.stdout == d.stdout and b.stderr == b""
    names = tarfile.open(fileobj=io.BytesIO(b.stdout)).getnames()
    assert names == ["d", "d/a"]


def _without_tar_noise(stderr: str) -> str:
    """docker's CLI starts tarring a source before it has checked the destination and,
    racing with its own abort, sometimes logs `... closed pipe` errors: noise
    of the client alone, which berth does not reproduce."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not (line.startswith("time=") and "closed pipe" in line))


def test_cp_to_container_like_docker(sandbox, tmp_path):
    src = tmp_path / "src1"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "x.txt").write_text("a\n")
    (src / "top").write_text("b\n")
    os.symlink("top", src / "lk")
    found = []
    for who in ("berth", "docker"):
        c = _name("cpto")
        _ok(sandbox.docker("run", "-d", "--name", c, "busybox", "sleep", "1000"))
        run = getattr(sandbox, who)
        outs = [run("cp", str(src), f"{c}:/s1"), run("cp", str(src) + "/.", f"{c}:/tmp/"),
                run("cp", str(src / "top"), f"{c}:/etc/"), run("cp", str(src / "top"), f"{c}:/renamed"),
                run("cp", "-L", str(src / "lk"), f"{c}:/lkf"), run("cp", str(src / "lk"), f"{c}:/lkn"),
                run("cp", str(src), f"{c}:/renamed"), run("cp", str(tmp_path / "nope"), f"{c}:/"),
                run("cp", str(src / "top"), f"{c}:/nodir/x"), run("cp", "-", f"{c}:/etc/hostname", input="")]
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as t:
            t.add(str(src / "sub"), arcname="fromstdin")
        piped = _bytes(sandbox, (["python3", "-m", "berth.cli.main"] if who == "berth" else ["/usr/local/bin/docker"])
                       + ["cp", "-", f"{c}:/tmp"], input=tar.getvalue())
        listing = _ok(sandbox.docker("exec", c, "sh", "-c",
                                     "find /s1 /tmp /etc/top /renamed /lkf /lkn | sort; cat /renamed /lkf;"
                                     " ls -l /lkn | cut -c1-10")).stdout
        found.append(([(o.returncode, o.stdout, _without_tar_noise(o.stderr).replace(c, "C")
                        .replace("berth", "docker").replace(str(tmp_path), "T")) for o in outs],
                      piped.returncode, listing))
        sandbox.docker("rm", "-f", c)
    assert found[0] == found[1]
    assert "/tmp/fromstdin/x.txt" in found[0][2]


def test_cp_usage_errors(sandbox):
    for args in (["a", "b"], ["c1:/a", "c2:/b"], ["", "b"], ["a"]):
        _same(sandbox.berth("cp", *args), sandbox.docker("cp", *args))


def test_export_like_docker(sandbox, box, tmp_path):
    b = _bytes(sandbox, ["python3", "-m", "berth.cli.main", "export", box])
    d = _bytes(sandbox, ["/usr/local/bin/docker", "export", box])
    assert b.returncode == d.returncode == 0
    names_b = sorted(tarfile.open(fileobj=io.BytesIO(b.stdout)).getnames())
    assert names_b == sorted(tarfile.open(fileobj=io.BytesIO(d.stdout)).getnames())
    _ok(sandbox.berth("export", "-o", str(tmp_path / "b.tar"), box))
    _ok(sandbox.docker("export", "-o", str(tmp_path / "d.tar"), box))
    assert os.stat(tmp_path / "b.tar").st_mode == os.stat(tmp_path / "d.tar").st_mode
    assert sorted(tarfile.open(tmp_path / "b.tar").getnames()) == names_b
    _same(sandbox.berth("export", "-o", "/nonexistent-dir/x.tar", box),
          sandbox.docker("export", "-o", "/nonexistent-dir/x.tar", box))
    _same(sandbox.berth("export", "nope-x"), sandbox.docker("export", "nope-x"))


def test_commit_like_docker(sandbox, box):
    r = _ok(sandbox.berth("commit", "-c", "ENV A=b", "-m", "msg", "-a", "me", box, "berthcommit:v1"))
    assert r.stdout.startswith("sha256:") and len(r.stdout.strip()) == 71
    inspect = _ok(sandbox.docker("image", "inspect", "-f", "{{.Author}}|{{.Comment}}|{{.Config.Env}}|{{.Id}}",
                                 "berthcommit:v1")).stdout.strip()
    author, comment, env, ident = inspect.split("|")
    assert (author, comment, ident) == ("me", "msg", r.stdout.strip()) and "A=b" in env
    _ok(sandbox.berth("container", "commit", "--pause=false", box))
    for args in (["nope-x"], [box, "Bad:x"], [box, "a@sha256:" + "a" * 64], []):
        _same(sandbox.berth("commit", *args), sandbox.docker("commit", *args))


def test_update_like_docker(sandbox, box):
    for args in (["--memory", "64m", box, "nope-x"], [box], ["--restart", "bogus", box],
                 ["--cpus", "0.5", "--pids-limit", "50", box], ["--blkio-weight", "70000", box],
                 ["--memory-reservation", "32m", "--cpu-shares", "512", "--restart", "on-failure:2", box]):
        _same(sandbox.berth("update", *args), sandbox.docker("update", *args))
    got = _ok(sandbox.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} "
                             "{{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}",
                             box)).stdout.split()
    assert got == [str(64 << 20), "500000000", "50", "512", "on-failure"]
    _ok(sandbox.berth("container", "update", "--pids-limit", "70", box))
    assert _ok(sandbox.docker("inspect", "-f", "{{.HostConfig.PidsLimit}}", box)).stdout.strip() == "70"


def test_stats_no_stream_like_docker(sandbox, box):
    fmt = "{{.Container}} {{.ID}} {{.Name}} {{.PIDs}}"
    _same(sandbox.berth("stats", "--no-stream", "--format", fmt), sandbox.docker("stats", "--no-stream", "--format", fmt))
    _same(sandbox.berth("stats", "--no-stream", "--no-trunc", "--format", fmt, box),
          sandbox.docker("stats", "--no-stream", "--no-trunc", "--format", fmt, box))
    _same(sandbox.berth("stats", "--no-stream", box, "nope-x"), sandbox.docker("stats", "--no-stream", box, "nope-x"))
    b = _ok(sandbox.berth("container", "stats", "--no-stream", box)).stdout.splitlines()
    d = _ok(sandbox.docker("stats", "--no-stream", box)).stdout.splitlines()
    assert b[0] == d[0] and len(b) == len(d) == 2
    assert b[1].split()[:2] == d[1].split()[:2] and b[1].split()[-1] == d[1].split()[-1]
    import json

    row = json.loads(_ok(sandbox.berth("stats", "--no-stream", "--format", "json", box)).stdout)
    assert sorted(row) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]
    stopped = _name("stopped")
    _ok(sandbox.docker("create", "--name", stopped, "busybox"))
    try:
        _same(sandbox.berth("stats", "-a", "--no-stream", "--format", fmt),
              sandbox.docker("stats", "-a", "--no-stream", "--format", fmt))
        _same(sandbox.berth("stats", "--no-stream", stopped), sandbox.docker("stats", "--no-stream", stopped))
    finally:
        sandbox.docker("rm", stopped)


def test_stats_stream_redraws(sandbox, box):
    import time

    proc = subprocess.Popen(["python3", "-m", "berth.cli.main", "stats", "--format", "{{.Name}}", box],
                            env=sandbox.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.5)
    proc.kill()
    out = proc.communicate()[0].decode()
    frames = out.split("\033[H")
    assert frames[0] == "" and frames[1] == f"{box}\n"
    assert len(frames) >= 3 and frames[2] == f"{box} \033[K\n \033[K\n\033[J"
