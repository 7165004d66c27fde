"""Container verbs through the real docker CLI (and the SDK where the CLI has no flag):
stop, kill, restart, rm, wait, rename, top, ps, prune, logs, attach, inspect, events."""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

HEX64 = re.compile(r"^[0-9a-f]{64}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
TICKER = "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"


def _inspect(sb, name: str) -> dict:
    r = sb.docker("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def _wait_for(cond, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in {timeout}s")


def _started(sb, name: str, *args: str) -> str:
    """Run a detached container and return once it has printed 'ready'."""
    r = sb.docker("run", "-d", "--name", name, *args)
    assert r.returncode == 0, r.stderr
    _wait_for(lambda: "ready" in sb.docker("logs", name).stdout, what=f"{name} ready")
    return r.stdout.strip()


def _parse_time(value: str) -> datetime:
    whole, _, frac = value.rstrip("Z").partition(".")
    return datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc) + timedelta(microseconds=int((frac + "000000")[:6]))


@pytest.fixture
def names(sandbox):
    made: list[str] = []
    yield made
    if made:
        sandbox.docker("rm", "-f", *made)


@pytest.fixture(scope="module")
def client(sandbox):
    docker = pytest.importorskip("docker")
    c = docker.APIClient(base_url=sandbox.host_url, version="auto")
    yield c
    c.close()


# ------------------------------------------------------------------ stop, kill, restart
def test_stop_sends_stopsignal_then_kills_after_timeout(sandbox, names):
    names.append("stubborn")
    _started(sandbox, "stubborn", "busybox", "sh", "-c",
             "trap 'echo got-term' TERM; echo ready; while true; do sleep 0.1; done")
    t0 = time.monotonic()
    r = sandbox.docker("stop", "-t", "1", "stubborn")
    elapsed = time.monotonic() - t0
    assert (r.returncode, r.stdout) == (0, "stubborn\n")
    assert 0.9 <= elapsed < 5, elapsed
    state = _inspect(sandbox, "stubborn")["State"]
    assert (state["Status"], state["Running"], state["ExitCode"], state["OOMKilled"]) == ("exited", False, 137, False)
    assert _parse_time(state["FinishedAt"]) > _parse_time(state["StartedAt"])
    assert "got-term" in sandbox.docker("logs", "stubborn").stdout  # SIGTERM came first


def test_stop_of_a_container_that_obeys_term_does_not_wait_for_the_timeout(sandbox, names):
    names.append("polite")
    _started(sandbox, "polite", "busybox", "sh", "-c", TICKER)
    t0 = time.monotonic()
    assert sandbox.docker("stop", "-t", "10", "polite").returncode == 0
    assert time.monotonic() - t0 < 3
    assert _inspect(sandbox, "polite")["State"]["ExitCode"] == 0
    # stopping a stopped container is not an error
    assert sandbox.docker("stop", "polite").returncode == 0


def test_stop_timeout_zero_kills_at_once(sandbox, names):
    names.append("zero")
    _started(sandbox, "zero", "busybox", "sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done")
    t0 = time.monotonic()
    assert sandbox.docker("stop", "-t", "0", "zero").returncode == 0
    assert time.monotonic() - t0 < 2
    assert _inspect(sandbox, "zero")["State"]["ExitCode"] == 137


@pytest.mark.parametrize("signal_arg, code", [("USR1", 41), ("SIGUSR2", 42), ("1", 43)])
def test_kill_sends_the_named_signal(sandbox, names, signal_arg, code):
    name = f"killme-{code}"
    names.append(name)
    _started(sandbox, name, "busybox", "sh", "-c",
             "trap 'exit 41' USR1; trap 'exit 42' USR2; trap 'exit 43' HUP; echo ready; "
             "while true; do sleep 0.1; done")
    r = sandbox.docker("kill", "-s", signal_arg, name)
    assert (r.returncode, r.stdout) == (0, f"{name}\n")
    assert sandbox.docker("wait", name).stdout == f"{code}\n"


def test_kill_defaults_to_sigkill_and_refuses_a_stopped_container(sandbox, names):
    names.append("killdefault")
    _started(sandbox, "killdefault", "busybox", "sh", "-c", TICKER)
    assert sandbox.docker("kill", "killdefault").returncode == 0
    assert sandbox.docker("wait", "killdefault").stdout == "137\n"
    assert "got-term" not in sandbox.docker("logs", "killdefault").stdout
    r = sandbox.docker("kill", "killdefault")
    assert r.returncode == 1
    assert re.search(r"Cannot kill container: killdefault: container [0-9a-f]{64} is not running", r.stderr,
                     re.I), r.stderr


def test_restart_runs_a_new_process_in_the_same_container(sandbox, names):
    names.append("again")
    cid = _started(sandbox, "again", "busybox", "sh", "-c", "echo ready; " + TICKER)
    before = _inspect(sandbox, "again")
    r = sandbox.docker("restart", "-t", "1", "again")
    assert (r.returncode, r.stdout) == (0, "again\n")
    after = _inspect(sandbox, "again")
    assert after["Id"] == cid
    assert after["State"]["Running"] is True
    assert after["State"]["Pid"] != before["State"]["Pid"]
    assert _parse_time(after["State"]["StartedAt"]) > _parse_time(before["State"]["StartedAt"])
    assert after["RestartCount"] == 0  # only a restart policy counts restarts
    # the log keeps both runs: the first one's stop and the second one's start
    _wait_for(lambda: sandbox.docker("logs", "again").stdout.count("ready") == 4, what="second run's output")
    assert sandbox.docker("logs", "again").stdout.split() == ["ready", "ready", "got-term", "ready", "ready"]


def test_restart_starts_a_stopped_container(sandbox, names):
    names.append("stopped-restart")
    assert sandbox.docker("run", "--name", "stopped-restart", "busybox", "sh", "-c", "echo run").returncode == 0
    first = _inspect(sandbox, "stopped-restart")["State"]
    assert sandbox.docker("restart", "stopped-restart").returncode == 0
    assert sandbox.docker("wait", "stopped-restart").stdout == "0\n"
    again = _inspect(sandbox, "stopped-restart")["State"]
    assert _parse_time(again["StartedAt"]) > _parse_time(first["FinishedAt"])
    assert sandbox.docker("logs", "stopped-restart").stdout == "run\nrun\n"


# ------------------------------------------------------------------ rm
def test_rm_of_a_running_container_is_refused_and_it_keeps_running(sandbox, names):
    names.append("busy")
    cid = _started(sandbox, "busy", "busybox", "sh", "-c", TICKER)
    pid = _inspect(sandbox, "busy")["State"]["Pid"]
    r = sandbox.docker("rm", "busy")
    assert r.returncode == 1
    assert r.stderr.strip() == ('Error response from daemon: cannot remove container "/busy": container is running: '
                                'stop the container before removing or force remove')
    state = _inspect(sandbox, "busy")["State"]
    assert (state["Running"], state["Pid"]) == (True, pid)
    assert _inspect(sandbox, "busy")["Id"] == cid


def test_rm_f_kills_and_removes_everything_of_the_container(sandbox, names):
    cid = _started(sandbox, "doomed", "busybox", "sh", "-c", TICKER)
    names.append("doomed")
    doc = _inspect(sandbox, "doomed")
    log_dir = os.path.dirname(doc["LogPath"])
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isdir(log_dir) and os.path.isdir(upper)
    r = sandbox.docker("rm", "-f", "doomed")
    assert (r.returncode, r.stdout) == (0, "doomed\n")
    r = sandbox.docker("inspect", "doomed")
    assert r.returncode == 1 and "No such object: doomed" in r.stderr
    assert not os.path.exists(log_dir)
    assert not os.path.exists(os.path.dirname(upper))
    assert not os.path.exists(os.path.join(sandbox.exec_root, "c", cid))
    _wait_for(lambda: not os.path.exists(f"/sys/fs/cgroup/memory/berth/{cid}"), what="cgroup removed")
    assert cid not in sandbox.nsenter(["cat", "/proc/self/mountinfo"]).stdout
    r = sandbox.docker("rm", "doomed")
    assert r.returncode == 1 and "No such container: doomed" in r.stderr


# ------------------------------------------------------------------ wait
def test_docker_wait_prints_each_exit_code(sandbox, names):
    names += ["w3", "w5"]
    sandbox.docker("run", "-d", "--name", "w3", "busybox", "sh", "-c", "sleep 0.3; exit 3")
    sandbox.docker("run", "-d", "--name", "w5", "busybox", "sh", "-c", "exit 5")
    r = sandbox.docker("wait", "w3", "w5")
    assert (r.returncode, r.stdout) == (0, "3\n5\n")


def test_wait_conditions_through_the_api(sandbox, client, names):
    cid = client.create_container("busybox", ["sh", "-c", "sleep 0.2; exit 3"])["Id"]
    names.append(cid)
    # not-running (the default) answers at once for a container that was never started
    t0 = time.monotonic()
    assert client.wait(cid, timeout=5)["StatusCode"] == 0
    assert client.wait(cid, condition="not-running", timeout=5)["StatusCode"] == 0
    assert time.monotonic() - t0 < 2

    # next-exit waits for the exit that follows, even of a container that already exited
    result: dict = {}

    def wait_next():
        result["next"] = client.wait(cid, condition="next-exit", timeout=20)

    t = threading.Thread(target=wait_next)
    t.start()
    time.sleep(0.3)
    assert "next" not in result
    client.start(cid)
    t.join(20)
    assert result["next"]["StatusCode"] == 3

    t = threading.Thread(target=wait_next)
    result.clear()
    t.start()
    time.sleep(0.5)
    assert "next" not in result  # exited already: next-exit does not count the old exit
    client.start(cid)
    t.join(20)
    assert result["next"]["StatusCode"] == 3

    # removed waits until the container is gone
    def wait_removed():
        result["removed"] = client.wait(cid, condition="removed", timeout=20)

    t = threading.Thread(target=wait_removed)
    t.start()
    time.sleep(0.3)
    assert "removed" not in result
    client.remove_container(cid)
    t.join(20)
    assert result["removed"]["StatusCode"] == 3


def test_wait_rejects_an_unknown_condition(sandbox, client, names):
    docker = pytest.importorskip("docker")
    cid = client.create_container("busybox", ["true"])["Id"]
    names.append(cid)
    with pytest.raises(docker.errors.APIError) as exc:
        client.wait(cid, condition="bogus", timeout=5)
    assert exc.value.status_code == 400
    assert "bogus" in str(exc.value)


# ------------------------------------------------------------------ rename, top
def test_rename_changes_the_name_and_refuses_a_taken_one(sandbox, names):
    names += ["old-name", "new-name", "taken"]
    cid = _started(sandbox, "old-name", "busybox", "sh", "-c", TICKER)
    sandbox.docker("create", "--name", "taken", "busybox")
    r = sandbox.docker("rename", "old-name", "new-name")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    doc = _inspect(sandbox, "new-name")
    assert (doc["Id"], doc["Name"], doc["State"]["Running"]) == (cid, "/new-name", True)
    assert "No such object: old-name" in sandbox.docker("inspect", "old-name").stderr
    assert sandbox.docker("ps", "--filter", f"id={cid}", "--format", "{{.Names}}").stdout == "new-name\n"

    r = sandbox.docker("rename", "new-name", "taken")
    assert r.returncode == 1
    taken_id = _inspect(sandbox, "taken")["Id"]
    assert (f'Conflict. The container name "/taken" is already in use by container "{taken_id}". '
            "You have to remove (or rename) that container to be able to reuse that name.") in r.stderr
    assert _inspect(sandbox, cid)["Name"] == "/new-name"

    r = sandbox.docker("rename", "new-name", "new-name")
    assert r.returncode == 1 and "Renaming a container with the same name as its current name" in r.stderr
    r = sandbox.docker("rename", "nosuch", "x")
    assert r.returncode == 1 and "No such container: nosuch" in r.stderr
    # the old name is free again
    assert sandbox.docker("create", "--name", "old-name", "busybox").returncode == 0


def test_top_lists_the_container_processes(sandbox, names):
    names.append("topped")
    _started(sandbox, "topped", "busybox", "sh", "-c", "echo ready; exec sleep 60")
    pid = _inspect(sandbox, "topped")["State"]["Pid"]
    r = sandbox.docker("top", "topped")
    assert r.returncode == 0, r.stderr
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert len(rows) == 1
    cols = rows[0].split(None, 7)
    assert (cols[0], int(cols[1]), cols[7]) == ("root", pid, "sleep 60")

    r = sandbox.docker("top", "topped", "-o", "pid,comm")
    assert [line.split() for line in r.stdout.splitlines()] == [["PID", "COMMAND"], [str(pid), "sleep"]]

    sandbox.docker("kill", "topped")
    sandbox.docker("wait", "topped")
    r = sandbox.docker("top", "topped")
    assert r.returncode == 1 and "is not running" in r.stderr


# ------------------------------------------------------------------ ps
@pytest.fixture(scope="module")
def ps_set(sandbox):
    """Four containers in four states, oldest first, under a label of their own."""
    tag = uuid.uuid4().hex[:8]
    label = f"psset={tag}"
    made = {}
    for name, args in [("ex3", ["busybox", "sh", "-c", "exit 3"]), ("ex0", ["busybox", "true"])]:
        r = sandbox.docker("run", "--name", f"ps-{tag}-{name}", "-l", label, "-l", f"which={name}", *args)
        assert r.returncode == (3 if name == "ex3" else 0), r.stderr
        made[name] = _inspect(sandbox, f"ps-{tag}-{name}")["Id"]
    made["cr"] = sandbox.docker("create", "--name", f"ps-{tag}-cr", "-l", label, "-l", "which=cr",
                                "busybox", "true").stdout.strip()
    made["up"] = sandbox.docker("run", "-d", "--name", f"ps-{tag}-up", "-l", label, "-l", "which=up",
                                "busybox", "sleep", "600").stdout.strip()
    assert all(HEX64.match(v) for v in made.values()), made
    yield tag, label, made
    sandbox.docker("rm", "-f", *made.values())


def _ps_names(sb, label: str, *args: str) -> list[str]:
    r = sb.docker("ps", "--filter", f"label={label}", "--format", "{{.Names}}", *args)
    assert r.returncode == 0, r.stderr
    return [n.rsplit("-", 1)[1] for n in r.stdout.split()]


def test_ps_shows_running_by_default_and_all_with_a_newest_first(sandbox, ps_set):
    _tag, label, made = ps_set
    assert _ps_names(sandbox, label) == ["up"]
    assert _ps_names(sandbox, label, "-a") == ["up", "cr", "ex0", "ex3"]


def test_ps_n_and_l_show_the_last_created_of_any_state(sandbox, ps_set):
    _tag, label, made = ps_set
    assert _ps_names(sandbox, label, "-n", "3") == ["up", "cr", "ex0"]
    assert _ps_names(sandbox, label, "-l") == ["up"]
    # -n 1 without a filter is simply the newest container of the daemon
    newest = sandbox.docker("ps", "-n", "1", "-q", "--no-trunc").stdout.split()
    assert len(newest) == 1 and HEX64.match(newest[0])


def test_ps_quiet_and_no_trunc(sandbox, ps_set):
    tag, label, made = ps_set
    r = sandbox.docker("ps", "-aq", "--filter", f"label={label}")
    assert r.stdout.split() == [made[k][:12] for k in ("up", "cr", "ex0", "ex3")]
    r = sandbox.docker("ps", "-aq", "--no-trunc", "--filter", f"label={label}")
    assert r.stdout.split() == [made[k] for k in ("up", "cr", "ex0", "ex3")]
    r = sandbox.docker("ps", "--no-trunc", "--filter", f"label={label}")
    header, row = r.stdout.splitlines()
    assert header.split()[:2] == ["CONTAINER", "ID"]
    assert row.startswith(made["up"]) and '"sleep 600"' in row and row.endswith(f"ps-{tag}-up")


def test_ps_table_columns(sandbox, ps_set):
    tag, label, made = ps_set
    r = sandbox.docker("ps", "-a", "--filter", f"label={label}", "--filter", "status=exited")
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    by_name = {row.split()[-1]: row for row in rows}
    assert re.search(r"Exited \(3\) .* ago", by_name[f"ps-{tag}-ex3"])
    assert by_name[f"ps-{tag}-ex3"].split()[1] == "busybox"
    assert by_name[f"ps-{tag}-ex0"].split()[2] == '"true"'


def test_ps_command_quotes_arguments_with_spaces(sandbox, ps_set):
    tag, label, made = ps_set
    r = sandbox.docker("ps", "-a", "--no-trunc", "--filter", f"id={made['ex3']}", "--format", "{{.Command}}")
    assert r.stdout == '"sh -c \'exit 3\'"\n'


@pytest.mark.parametrize("filters, expected", [
    (["status=exited"], ["ex0", "ex3"]),
    (["status=created"], ["cr"]),
    (["status=running"], ["up"]),
    (["status=exited", "status=created"], ["cr", "ex0", "ex3"]),  # one key: OR
    (["exited=3"], ["ex3"]),
    (["exited=0"], ["ex0"]),
    (["label=which=cr"], ["cr"]),
    (["label=which"], ["up", "cr", "ex0", "ex3"]),
    (["label=which=up", "status=running"], ["up"]),  # two keys: AND
    (["label=which=up", "status=exited"], []),
    (["ancestor=busybox"], ["up", "cr", "ex0", "ex3"]),
    (["ancestor=busybox:latest"], ["up", "cr", "ex0", "ex3"]),
    (["ancestor=docker.io/library/busybox:latest"], ["up", "cr", "ex0", "ex3"]),
    (["ancestor=nosuchimage"], []),
])
def test_ps_filters(sandbox, ps_set, filters, expected):
    _tag, label, _made = ps_set
    args = ["-a"]
    for f in filters:
        args += ["--filter", f]
    assert _ps_names(sandbox, label, *args) == expected


def test_ps_filter_by_name_and_id(sandbox, ps_set):
    tag, label, made = ps_set
    assert _ps_names(sandbox, label, "-a", "--filter", f"name=ps-{tag}-ex") == ["ex0", "ex3"]
    assert _ps_names(sandbox, label, "-a", "--filter", f"name=^/ps-{tag}-ex3$") == ["ex3"]
    assert _ps_names(sandbox, label, "-a", "--filter", f"name=ps-{tag}-e", "--filter", f"name=ps-{tag}-cr") == \
        ["cr", "ex0", "ex3"]
    assert _ps_names(sandbox, label, "-a", "--filter", f"id={made['cr'][:10]}") == ["cr"]
    assert _ps_names(sandbox, label, "-a", "--filter", f"id={made['up']}") == ["up"]


def test_ps_filter_by_ancestor_image_id_and_other_image(sandbox, ps_set, busybox_tar, names):
    _tag, label, made = ps_set
    image_id = json.loads(sandbox.docker("image", "inspect", "busybox").stdout)[0]["Id"]
    assert _ps_names(sandbox, label, "-a", "--filter", f"ancestor={image_id[7:19]}") == ["up", "cr", "ex0", "ex3"]
    assert sandbox.docker("import", busybox_tar, "other-ancestor:1").returncode == 0
    names.append("other-child")
    sandbox.docker("create", "--name", "other-child", "-l", label, "other-ancestor:1", "true")
    try:
        assert _ps_names(sandbox, label, "-a", "--filter", "ancestor=other-ancestor:1") == ["child"]
        assert "child" not in _ps_names(sandbox, label, "-a", "--filter", "ancestor=busybox")
    finally:
        sandbox.docker("rm", "-f", "other-child")
        sandbox.docker("rmi", "other-ancestor:1")


# ------------------------------------------------------------------ prune
def test_container_prune_with_a_label_filter_removes_only_matching_stopped_containers(sandbox, names):
    tag = uuid.uuid4().hex[:8]
    gone = [sandbox.docker("create", "-l", f"prune={tag}", "-l", "drop=yes", "busybox", "true").stdout.strip(),
            sandbox.docker("run", "-d", "-l", f"prune={tag}", "-l", "drop=yes", "busybox", "true").stdout.strip()]
    kept_label = sandbox.docker("create", "-l", f"prune={tag}", "-l", "drop=no", "busybox", "true").stdout.strip()
    kept_running = sandbox.docker("run", "-d", "-l", f"prune={tag}", "-l", "drop=yes", "busybox",
                                  "sleep", "600").stdout.strip()
    names += [*gone, kept_label, kept_running]
    sandbox.docker("wait", gone[1])
    r = sandbox.docker("container", "prune", "-f", "--filter", "label=drop=yes", "--filter", f"label=prune={tag}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Deleted Containers:\n")
    assert sorted(re.findall(r"^[0-9a-f]{64}$", r.stdout, re.M)) == sorted(gone)
    assert "Total reclaimed space:" in r.stdout
    left = sandbox.docker("ps", "-aq", "--no-trunc", "--filter", f"label=prune={tag}").stdout.split()
    assert sorted(left) == sorted([kept_label, kept_running])
    for cid in gone:
        assert not os.path.exists(os.path.join(sandbox.data_root, "containers", cid))

    r = sandbox.docker("container", "prune", "-f", "--filter", f"label!=prune={tag}x", "--filter",
                       f"label=prune={tag}")
    assert re.findall(r"^[0-9a-f]{64}$", r.stdout, re.M) == [kept_label]
    assert sandbox.docker("ps", "-aq", "--no-trunc", "--filter", f"label=prune={tag}").stdout.split() == [kept_running]


# ------------------------------------------------------------------ logs, attach
@pytest.fixture(scope="module")
def logged(sandbox):
    """A finished container with output at three distinct moments, on both streams."""
    r = sandbox.docker("run", "--name", "logged", "busybox", "sh", "-c",
                       "echo one; sleep 0.4; echo two >&2; sleep 0.4; echo three")
    assert r.returncode == 0
    yield "logged"
    sandbox.docker("rm", "-f", "logged")


def test_logs_keep_stdout_and_stderr_apart(sandbox, logged):
    r = sandbox.docker("logs", logged)
    assert (r.stdout, r.stderr) == ("one\nthree\n", "two\n")


def test_logs_tail(sandbox, logged):
    r = sandbox.docker("logs", "--tail", "2", logged)
    assert (r.stdout, r.stderr) == ("three\n", "two\n")
    r = sandbox.docker("logs", "--tail", "0", logged)
    assert (r.stdout, r.stderr) == ("", "")
    r = sandbox.docker("logs", "--tail", "all", logged)
    assert (r.stdout, r.stderr) == ("one\nthree\n", "two\n")


def test_logs_timestamps_and_since_until(sandbox, logged):
    r = sandbox.docker("logs", "-t", logged)
    lines = sorted((r.stdout + r.stderr).splitlines())
    stamps = [line.split(" ", 1)[0] for line in lines]
    assert [line.split(" ", 1)[1] for line in lines] == ["one", "two", "three"]
    assert all(RFC3339.match(s) for s in stamps), stamps
    times = [_parse_time(s) for s in stamps]
    assert times[0] < times[1] < times[2]
    started = _parse_time(_inspect(sandbox, logged)["State"]["StartedAt"])
    assert abs((times[0] - started).total_seconds()) < 5

    # since and until are inclusive bounds on the entry's time
    r = sandbox.docker("logs", "--since", stamps[1], logged)
    assert (r.stdout, r.stderr) == ("three\n", "two\n")
    r = sandbox.docker("logs", "--until", stamps[1], logged)
    assert (r.stdout, r.stderr) == ("one\n", "two\n")
    r = sandbox.docker("logs", "--since", stamps[1], "--until", stamps[1], logged)
    assert (r.stdout, r.stderr) == ("", "two\n")
    middle = times[0] + (times[1] - times[0]) / 2
    r = sandbox.docker("logs", "--since", str(middle.timestamp()), logged)
    assert r.stdout == "three\n"
    # relative durations count back from now
    assert sandbox.docker("logs", "--since", "1h", logged).stdout == "one\nthree\n"
    assert sandbox.docker("logs", "--until", "1h", logged).stdout == ""


def test_logs_follow_streams_until_the_container_exits(sandbox, names):
    names.append("followed")
    _started(sandbox, "followed", "busybox", "sh", "-c", "echo ready; sleep 1; echo later; exit 2")
    t0 = time.monotonic()
    r = sandbox.docker("logs", "-f", "followed", timeout=30)
    assert r.returncode == 0
    assert r.stdout == "ready\nlater\n"
    assert time.monotonic() - t0 < 10
    r = sandbox.docker("logs", "-f", "--tail", "1", "followed", timeout=30)
    assert r.stdout == "later\n"


def test_attach_streams_a_running_containers_output_and_exit_code(sandbox, names):
    names.append("attached")
    _started(sandbox, "attached", "busybox", "sh", "-c",
             "echo ready; sleep 1; echo out-after; echo err-after >&2; exit 4")
    r = sandbox.docker("attach", "--no-stdin", "attached", timeout=30)
    assert r.returncode == 4
    assert r.stdout == "out-after\n"  # what was printed before attaching is not replayed
    assert r.stderr == "err-after\n"


def test_attach_to_a_stopped_container_is_refused(sandbox, names):
    names.append("notrunning")
    sandbox.docker("create", "--name", "notrunning", "busybox")
    r = sandbox.docker("attach", "notrunning")
    assert r.returncode == 1 and "You cannot attach to a stopped container, start it first" in r.stderr


# ------------------------------------------------------------------ inspect, names, ids
def test_inspect_has_dockers_shape(sandbox, names):
    names.append("shaped")
    cid = _started(sandbox, "shaped", "-e", "A=1", "-l", "k=v", "-w", "/tmp", "busybox", "sh", "-c", TICKER)
    doc = _inspect(sandbox, "shaped")
    for key in ("Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath",
                "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel", "ProcessLabel",
                "AppArmorProfile", "ExecIDs", "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"):
        assert key in doc, key
    assert doc["Id"] == cid and HEX64.match(cid)
    assert RFC3339.match(doc["Created"])
    assert (doc["Path"], doc["Args"]) == ("sh", ["-c", TICKER])
    assert re.match(r"^sha256:[0-9a-f]{64}$", doc["Image"])
    assert (doc["Name"], doc["RestartCount"], doc["Driver"], doc["Platform"], doc["Mounts"]) == \
        ("/shaped", 0, "overlay2", "linux", [])
    assert doc["LogPath"].endswith(f"/{cid}-json.log") and os.path.isfile(doc["LogPath"])
    for path_key in ("ResolvConfPath", "HostnamePath", "HostsPath"):
        assert os.path.isfile(doc[path_key]), path_key

    state = doc["State"]
    assert set(state) >= {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode",
                          "Error", "StartedAt", "FinishedAt"}
    assert (state["Status"], state["Running"], state["Paused"], state["Dead"]) == ("running", True, False, False)
    assert state["Pid"] > 0 and state["FinishedAt"] == "0001-01-01T00:00:00Z"

    config = doc["Config"]
    assert config["Image"] == "busybox" and config["Hostname"] == cid[:12]
    assert (config["Env"], config["Labels"], config["WorkingDir"]) == (["A=1"], {"k": "v"}, "/tmp")
    assert (config["Cmd"], config["Entrypoint"], config["Tty"], config["OpenStdin"]) == \
        (["sh", "-c", TICKER], None, False, False)

    host = doc["HostConfig"]
    assert host["LogConfig"]["Type"] == "json-file"
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert (host["NetworkMode"], host["Privileged"], host["AutoRemove"]) == ("default", False, False)
    assert {"Memory", "NanoCpus", "PidsLimit", "CapAdd", "CapDrop", "ReadonlyRootfs", "SecurityOpt",
            "Runtime", "Binds", "PortBindings"} <= set(host)

    net = doc["NetworkSettings"]
    assert {"Networks", "Ports", "IPAddress", "Gateway", "MacAddress", "SandboxKey"} <= set(net)

    graph = doc["GraphDriver"]
    assert graph["Name"] == "overlay2"
    assert os.path.isdir(graph["Data"]["UpperDir"])

    sandbox.docker("stop", "shaped")
    state = _inspect(sandbox, "shaped")["State"]
    assert (state["Status"], state["Running"], state["Pid"], state["ExitCode"]) == ("exited", False, 0, 0)
    assert _parse_time(state["FinishedAt"]) >= _parse_time(state["StartedAt"])


def test_inspect_by_short_id_prefix_and_format(sandbox, names):
    cid = sandbox.docker("create", "busybox").stdout.strip()
    names.append(cid)
    assert _inspect(sandbox, cid[:12])["Id"] == cid
    assert _inspect(sandbox, cid[:5])["Id"] == cid
    r = sandbox.docker("inspect", "-f", "{{.State.Status}} {{.Config.Cmd}} {{json .Config.Cmd}}", cid)
    assert r.stdout == 'created [sh] ["sh"]\n'


def test_generated_names_are_adjective_surname_and_ids_are_64_hex(sandbox, names):
    ids = []
    for _ in range(5):
        r = sandbox.docker("create", "busybox", "true")
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
    names += ids
    assert all(HEX64.match(i) for i in ids)
    assert len(set(ids)) == 5
    got = [_inspect(sandbox, i)["Name"] for i in ids]
    assert all(re.match(r"^/[a-z]+_[a-z]+$", n) for n in got), got
    assert len(set(got)) == 5
    assert "/boring_wozniak" not in got  # docker's generator never gives this one
    # the generated name works like any other
    assert _inspect(sandbox, got[0][1:])["Id"] == ids[0]


# ------------------------------------------------------------------ events
def _events(sb, since: float, *args: str) -> list[dict]:
    until = time.time() + 0.5
    r = sb.docker("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--format", "{{json .}}", *args,
                  timeout=30)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_events_report_a_containers_life(sandbox):
    since = time.time() - 0.1
    r = sandbox.docker("run", "--rm", "--name", "evented", "-l", "team=ev", "busybox", "sh", "-c", "exit 6")
    assert r.returncode == 6
    evs = [e for e in _events(sandbox, since) if e["Actor"]["Attributes"].get("name") == "evented"]
    actions = [e["Action"] for e in evs]
    assert [a for a in actions if a != "attach"] == ["create", "start", "die", "destroy"]
    cid = evs[0]["Actor"]["ID"]
    assert HEX64.match(cid)
    for e in evs:
        assert (e["Type"], e["id"], e["from"], e["status"], e["scope"]) == ("container", cid, "busybox", e["Action"],
                                                                             "local")
        assert e["Actor"]["Attributes"]["image"] == "busybox"
        assert e["Actor"]["Attributes"]["team"] == "ev"  # labels travel with the events
        assert e["time"] == e["timeNano"] // 10**9 and since <= e["time"] + 1
    die = evs[actions.index("die")]
    assert die["Actor"]["Attributes"]["exitCode"] == "6"
    times = [e["timeNano"] for e in evs]
    assert times == sorted(times)


def test_events_filters_and_other_actions(sandbox, names):
    since = time.time() - 0.1
    names.append("evented2")
    cid = _started(sandbox, "evented2", "busybox", "sh", "-c", TICKER)
    sandbox.docker("kill", "-s", "USR1", "evented2")
    sandbox.docker("rename", "evented2", "evented3")
    names.append("evented3")
    sandbox.docker("stop", "evented3")
    evs = _events(sandbox, since, "--filter", f"container={cid}", "--filter", "type=container")
    actions = [e["Action"] for e in evs]
    assert actions == ["create", "start", "kill", "rename", "kill", "die", "stop"]
    assert [e["Actor"]["Attributes"].get("signal") for e in evs if e["Action"] == "kill"] == ["10", "15"]
    rename = evs[actions.index("rename")]
    assert rename["Actor"]["Attributes"]["oldName"] == "/evented2"
    assert rename["Actor"]["Attributes"]["name"] == "evented3"
    # a name filter matches the name the container had when the event happened
    by_name = _events(sandbox, since, "--filter", "container=evented3")
    assert [e["Action"] for e in by_name] == ["rename", "kill", "die", "stop"]
    only_die = _events(sandbox, since, "--filter", "event=die", "--filter", f"container={cid}")
    assert [e["Action"] for e in only_die] == ["die"]


def test_events_include_attach_for_an_attached_run(sandbox):
    since = time.time() - 0.1
    assert sandbox.docker("run", "--rm", "--name", "evattach", "busybox", "true").returncode == 0
    evs = [e["Action"] for e in _events(sandbox, since, "--filter", "container=evattach")]
    assert evs == ["create", "attach", "start", "die", "destroy"]


def test_events_show_the_sigkill_of_a_stop_that_times_out(sandbox, names):
    since = time.time() - 0.1
    names.append("evkill")
    _started(sandbox, "evkill", "busybox", "sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done")
    sandbox.docker("stop", "-t", "0", "evkill")
    evs = _events(sandbox, since, "--filter", "container=evkill", "--filter", "event=kill")
    assert [e["Actor"]["Attributes"]["signal"] for e in evs] == ["15", "9"]


def test_stop_with_zero_timeout_and_sigkill_stop_signal(sandbox):
    """The stop signal already killed it; the follow-up SIGKILL finds the monitor leaving."""
    for _ in range(3):
        assert sandbox.docker("run", "-d", "--name", "killstop", "--stop-signal", "SIGKILL",
                              "busybox", "sleep", "100").returncode == 0
        res = sandbox.docker("stop", "-t", "0", "killstop")
        assert (res.returncode, res.stdout) == (0, "killstop\n"), res.stderr
        assert sandbox.docker("rm", "killstop").returncode == 0


def test_pid_and_ipc_namespaces_of_another_container(sandbox):
    assert sandbox.docker("run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "100").returncode == 0
    assert sandbox.docker("run", "-d", "--name", "private-ipc", "busybox", "sleep", "100").returncode == 0
    try:
        res = sandbox.docker("run", "--rm", "--pid", "container:donor", "busybox", "ps", "-o", "comm")
        assert res.returncode == 0, res.stderr
        assert "sleep" in res.stdout.split()
        donor_ipc = sandbox.docker("exec", "donor", "readlink", "/proc/self/ns/ipc").stdout
        res = sandbox.docker("run", "--rm", "--ipc", "container:donor", "busybox", "readlink", "/proc/self/ns/ipc")
        assert (res.returncode, res.stdout) == (0, donor_ipc), res.stderr
        res = sandbox.docker("run", "--rm", "--ipc", "container:private-ipc", "busybox", "true")
        assert res.returncode == 125
        assert "non-shareable IPC (hint: use IpcMode:shareable for the donor container)" in res.stderr
        sandbox.docker("stop", "-t", "0", "private-ipc")
        res = sandbox.docker("run", "--rm", "--pid", "container:private-ipc", "busybox", "true")
        assert res.returncode == 125
        assert "cannot join PID of a non running container" in res.stderr
    finally:
        sandbox.docker("rm", "-f", "donor", "private-ipc")
