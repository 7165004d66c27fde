"""Crash safety (issue 10): random operations with berthd killed by SIGKILL at random
moments; after each restart every acknowledged object is there and usable, nothing is
half-made and nothing leaked (tests/chaos.py; the full run is bench/chaos_bench.py)."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chaos import Chaos, ChaosConfig  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]


def test_chaos_40_operations_8_kills(fresh_sandbox):
    """Fixed seed: the same operations and kill points every run; the checks accept
    only outcomes a kill may leave (an interrupted operation: all or nothing)."""
    chaos = Chaos(fresh_sandbox, ChaosConfig(seed=1, operations=40, kills=8))
    res = chaos.run()
    assert res.kills >= 8 and res.operations == 40 and res.checks == 9
    assert res.objects_checked > 40
    assert res.problems == [], "\n".join(res.problems) + "\n" + fresh_sandbox.log_text()


def _check(sb, *flags):
    return sb.berth("system", "check", *flags)


def test_system_check_finds_and_repairs_leftovers(fresh_sandbox):
    """Leftovers planted by hand are reported (exit 1) with the repair they would get,
    repaired with --repair, and acknowledged objects are never touched."""
    sb = fresh_sandbox
    assert sb.docker("run", "-d", "--name", "keep", "busybox", "sleep", "600").returncode == 0
    assert sb.docker("volume", "create", "kept").returncode == 0
    r = _check(sb)
    assert r.returncode == 0 and "no inconsistencies" in r.stdout, r.stdout + r.stderr
    ghost = "e" * 64
    snap = os.path.join(sb.data_root, "overlay", "containers", ghost)
    os.makedirs(os.path.join(snap, "upper"))
    run_dir = os.path.join(sb.exec_root, "c", ghost)
    os.makedirs(run_dir)
    layer = os.path.join(sb.data_root, "overlay", "layers", "0123456789ab")
    os.makedirs(os.path.join(layer, "diff"))
    orphan_vol = os.path.join(sb.data_root, "volumes", "orphan", "_data")
    os.makedirs(orphan_vol)
    sb.nsenter(["ip", "link", "add", "vethdead01", "type", "veth", "peer", "name", "vethdead02"], check=True)
    sb.nsenter(["ip", "link", "set", "vethdead01", "master", "berth0"], check=True)

    r = _check(sb, "--format", "json")
    assert r.returncode == 1, r.stdout + r.stderr
    report = json.loads(r.stdout)
    subjects = {f["Subject"]: f for f in report["Findings"]}
    assert snap in subjects and run_dir in subjects and layer in subjects and "orphan" in subjects
    assert subjects["vethdead01"]["Problem"] == "veth on berth0 of no endpoint"
    assert all(not f["Repaired"] for f in report["Findings"])
    assert os.path.isdir(snap)  # report mode changes nothing
    human = _check(sb)
    assert human.returncode == 1 and "(run with --repair)" in human.stdout

    r = _check(sb, "--repair")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "repaired: delete it" in r.stdout and "repaired: adopt it as a volume" in r.stdout
    assert not os.path.exists(snap) and not os.path.exists(run_dir) and not os.path.exists(layer)
    assert "vethdead01" not in sb.nsenter(["ip", "link", "show"]).stdout
    assert "orphan" in sb.docker("volume", "ls", "-q").stdout.split()
    assert sb.docker("inspect", "-f", "{{.State.Running}}", "keep").stdout.strip() == "true"
    assert "kept" in sb.docker("volume", "ls", "-q").stdout.split()
    assert _check(sb).returncode == 0


def test_start_up_check_repairs_crash_leftovers_and_reports_them(fresh_sandbox):
    """A leftover only a crash leaves (a build context) is removed at daemon start and
    shown by `system check`; a lost layer of an image is reported, never 'repaired'."""
    sb = fresh_sandbox
    ctx = os.path.join(sb.data_root, "build", "ctx-deadbeef")
    os.makedirs(os.path.join(ctx, "sub"))
    sb.kill_daemon(signal.SIGKILL)
    sb.start_daemon()
    assert not os.path.exists(ctx)
    report = json.loads(_check(sb, "--format", "json").stdout)
    assert any(s["Subject"] == ctx and s["Repaired"] for s in report["StartupRepairs"])
    assert "start-up check: build" in sb.log_text()
    # A layer directory lost under an image: reported (exit 1), no repair offered.
    import sqlite3

    db = sqlite3.connect(os.path.join(sb.data_root, "berth.db"))
    cache_id = db.execute("SELECT cache_id FROM layers").fetchone()[0]
    db.close()
    diff = os.path.join(sb.data_root, "overlay", "layers", cache_id, "diff")
    os.rename(diff, diff + ".away")
    try:
        r = _check(sb, "--repair")
        assert r.returncode == 1 and "(lost)" in r.stdout and "needs a person" in r.stdout, r.stdout
    finally:
        os.rename(diff + ".away", diff)
    assert _check(sb).returncode == 0


def test_system_check_rejects_bad_format(fresh_sandbox):
    r = _check(fresh_sandbox, "--format", "{{.X}}")
    assert r.returncode != 0 and 'only "json" is supported' in r.stderr


def test_a_container_frozen_by_a_cut_commit_is_thawed_at_start(fresh_sandbox):
    """Found by the chaos run (seed 2): berthd killed during `commit` (which pauses the
    container) left an acknowledged running container paused for good."""
    import sqlite3

    sb = fresh_sandbox
    cid = sb.docker("run", "-d", "busybox", "sleep", "600").stdout.strip()
    assert sb.docker("pause", cid).returncode == 0
    sb.kill_daemon(signal.SIGKILL)
    # The state a commit leaves when the daemon dies while the container is frozen for it.
    db = sqlite3.connect(os.path.join(sb.data_root, "berth.db"))
    state = json.loads(db.execute("SELECT state FROM containers WHERE id=?", (cid,)).fetchone()[0])
    state["_CommitPause"] = True
    db.execute("UPDATE containers SET state=? WHERE id=?", (json.dumps(state), cid))
    db.commit()
    db.close()
    sb.start_daemon()
    assert sb.docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "running"
    assert "left paused by a commit" in sb.log_text()
    assert sb.docker("exec", cid, "true").returncode == 0
    # A container paused by the user stays paused across a restart.
    assert sb.docker("pause", cid).returncode == 0
    sb.kill_daemon(signal.SIGKILL)
    sb.start_daemon()
    assert sb.docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "paused"
    assert _check(sb).returncode == 0
    assert sb.docker("unpause", cid).returncode == 0


def test_a_start_cut_before_it_was_recorded_leaves_nothing_running(fresh_sandbox):
    """The daemon died after the monitor started the container but before the row said
    "running" (the start was never acknowledged): at start the container is deleted with
    the runtime and its monitor ends, so nothing runs behind the daemon's back."""
    import sqlite3
    import time

    sb = fresh_sandbox
    cid = sb.docker("run", "-d", "busybox", "sleep", "600").stdout.strip()
    sb.kill_daemon(signal.SIGKILL)
    db = sqlite3.connect(os.path.join(sb.data_root, "berth.db"))
    state = json.loads(db.execute("SELECT state FROM containers WHERE id=?", (cid,)).fetchone()[0])
    state.update({"Status": "created", "Running": False, "Pid": 0})
    db.execute("UPDATE containers SET state=? WHERE id=?", (json.dumps(state), cid))
    db.commit()
    db.close()
    sb.start_daemon()
    assert "of a start that was cut short (repaired" in sb.log_text()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _check(sb).returncode != 0:
        time.sleep(0.2)
    assert _check(sb).returncode == 0, _check(sb).stdout
    assert sb.docker("start", cid).returncode == 0
    assert sb.docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == "true"
    assert sb.docker("rm", "-f", cid).returncode == 0
