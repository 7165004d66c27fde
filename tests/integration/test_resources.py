"""pause / unpause, stats and update through the real docker CLI and SDK, checked
against the container's cgroup files on the host."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest
from harness import api

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

COUNTER = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"
TICKER = "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done"
MiB = 1 << 20
ZERO_TIME = "0001-01-01T00:00:00Z"

_CONTAINERS_PY = os.path.join(os.path.dirname(__file__), "..", "..", "src", "berth", "engine", "containers.py")
with open(_CONTAINERS_PY) as _f:
    SIGNAL_HOOK = "after_signal" in _f.read()
needs_signal_hook = pytest.mark.skipif(
    not SIGNAL_HOOK, reason="ContainerService._signal does not call the after_signal hooks yet: a frozen "
                            "process cannot die, so stop/kill of a paused container would hang")


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


def _run(sb, name: str, *args: str) -> str:
    r = sb.docker("run", "-d", "--name", name, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _lines(sb, name: str) -> int:
    return len(sb.docker("logs", name).stdout.splitlines())


def _cgroup(controller: str, cid: str, name: str) -> str:
    with open(f"/sys/fs/cgroup/{controller}/berth/{cid}/{name}") as f:
        return f.read().strip()


def _events(sb, since: float, *args: str) -> list[dict]:
    r = sb.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 0.5:.3f}",
                  "--format", "{{json .}}", *args, timeout=30)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def _size(text: str) -> float:
    """docker's human sizes (KiB/MiB/GiB for memory, kB/MB for I/O) in bytes."""
    m = re.fullmatch(r"([\d.]+)\s*([KMGT]?i?B|[kMGT]?B)", text.strip())
    assert m, text
    unit = m.group(2)
    scale = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
             "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[unit]
    return float(m.group(1)) * scale


@pytest.fixture
def names(sandbox):
    made: list[str] = []
    yield made
    if made:
        sandbox.docker("rm", "-f", *made)


@pytest.fixture(scope="module")
def client(sandbox):
    docker = pytest.importorskip("docker")
    c = docker.DockerClient(base_url=sandbox.host_url, version="auto")
    yield c
    c.close()


# ------------------------------------------------------------------ pause / unpause
def test_pause_freezes_the_processes_and_unpause_resumes_them(sandbox, names):
    names.append("pz")
    since = time.time() - 0.1
    cid = _run(sandbox, "pz", "busybox", "sh", "-c", COUNTER)
    _wait_for(lambda: _lines(sandbox, "pz") > 3, what="counter output")

    r = sandbox.docker("pause", "pz")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "pz", "")
    assert _cgroup("freezer", cid, "freezer.state") == "FROZEN"
    state = _inspect(sandbox, "pz")["State"]
    assert (state["Status"], state["Running"], state["Paused"]) == ("paused", True, True)
    frozen_at = _lines(sandbox, "pz")
    time.sleep(0.6)
    assert _lines(sandbox, "pz") == frozen_at  # nothing ran while frozen

    row = next(line for line in sandbox.docker("ps").stdout.splitlines() if line.endswith(" pz"))
    assert re.search(r"Up \S.* \(Paused\)", row), row  # "Up 2 seconds", "Up Less than a second"
    assert sandbox.docker("ps", "-q", "--filter", "status=paused").stdout.split() == [cid[:12]]
    assert sandbox.docker("ps", "--format", "{{.State}}", "--filter", "name=pz").stdout.strip() == "paused"

    r = sandbox.docker("unpause", "pz")
    assert (r.returncode, r.stdout.strip()) == (0, "pz")
    assert _cgroup("freezer", cid, "freezer.state") == "THAWED"
    state = _inspect(sandbox, "pz")["State"]
    assert (state["Status"], state["Running"], state["Paused"]) == ("running", True, False)
    _wait_for(lambda: _lines(sandbox, "pz") > frozen_at + 3, what="counter resumes")
    assert "(Paused)" not in sandbox.docker("ps", "--filter", "name=pz").stdout

    actions = [e["Action"] for e in _events(sandbox, since, "--filter", f"container={cid}")]
    assert actions[-2:] == ["pause", "unpause"]


def test_pause_and_unpause_refuse_what_docker_refuses(sandbox, names):
    names += ["pzc", "pzr"]
    created = sandbox.docker("create", "--name", "pzc", "busybox", "true").stdout.strip()
    r = sandbox.docker("pause", "pzc")
    assert r.returncode == 1
    assert r.stderr.strip() == f"Error response from daemon: Container {created} is not running"
    r = sandbox.docker("unpause", "pzc")
    assert r.returncode == 1
    assert r.stderr.strip() == f"Error response from daemon: Container {created} is not paused"

    cid = _run(sandbox, "pzr", "busybox", "sh", "-c", TICKER)
    r = sandbox.docker("unpause", "pzr")
    assert r.returncode == 1 and f"Container {cid} is not paused" in r.stderr
    assert sandbox.docker("pause", "pzr").returncode == 0
    r = sandbox.docker("pause", "pzr")
    assert r.returncode == 1
    assert r.stderr.strip() == f"Error response from daemon: Container {cid} is already paused"
    # the API's statuses are dockerd's: 409 for pause, 500 for an unpause of a running container
    assert api(sandbox, "POST", "/v1.45/containers/pzr/pause") == (
        409, {"message": f"Container {cid} is already paused"})
    assert api(sandbox, "POST", "/v1.45/containers/pzc/pause")[0] == 409
    assert api(sandbox, "POST", "/v1.45/containers/pzc/unpause")[0] == 500
    assert api(sandbox, "POST", "/v1.45/containers/nope/pause") == (404, {"message": "No such container: nope"})
    assert api(sandbox, "POST", "/containers/pzr/unpause")[0] == 204
    assert _inspect(sandbox, "pzr")["State"]["Status"] == "running"


def test_exec_into_a_paused_container_is_refused(sandbox, names):
    names.append("pze")
    _run(sandbox, "pze", "busybox", "sleep", "60")
    assert sandbox.docker("pause", "pze").returncode == 0
    r = sandbox.docker("exec", "pze", "true")
    assert r.returncode != 0 and "paused" in r.stderr
    assert sandbox.docker("unpause", "pze").returncode == 0
    assert sandbox.docker("exec", "pze", "true").returncode == 0


def test_healthchecks_pause_with_the_container_and_keep_their_status(sandbox, names):
    names.append("pzh")
    _run(sandbox, "pzh", "--health-cmd", "true", "--health-interval", "300ms", "--health-retries", "1",
         "busybox", "sleep", "60")
    _wait_for(lambda: (_inspect(sandbox, "pzh")["State"].get("Health") or {}).get("Status") == "healthy",
              what="healthy")
    assert sandbox.docker("pause", "pzh").returncode == 0
    last = _inspect(sandbox, "pzh")["State"]["Health"]["Log"][-1]["End"]
    time.sleep(1.2)
    health = _inspect(sandbox, "pzh")["State"]["Health"]
    assert health["Status"] == "healthy" and health["Log"][-1]["End"] == last  # no probe ran while frozen
    assert sandbox.docker("unpause", "pzh").returncode == 0
    _wait_for(lambda: _inspect(sandbox, "pzh")["State"]["Health"]["Log"][-1]["End"] != last, what="probes resume")
    assert _inspect(sandbox, "pzh")["State"]["Health"]["Status"] == "healthy"


@needs_signal_hook
def test_stop_kill_and_rm_of_a_paused_container_thaw_it_first(sandbox, names):
    names += ["pzs", "pzk", "pzm", "pzu"]
    _run(sandbox, "pzs", "busybox", "sh", "-c", TICKER)
    _wait_for(lambda: "ready" in sandbox.docker("logs", "pzs").stdout)
    assert sandbox.docker("pause", "pzs").returncode == 0
    began = time.monotonic()
    r = sandbox.docker("stop", "-t", "5", "pzs")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - began < 4  # the TERM trap ran: it was thawed, not killed at the timeout
    state = _inspect(sandbox, "pzs")["State"]
    assert (state["Status"], state["Paused"], state["ExitCode"]) == ("exited", False, 0)
    assert "got-term" in sandbox.docker("logs", "pzs").stdout

    _run(sandbox, "pzk", "busybox", "sleep", "60")
    assert sandbox.docker("pause", "pzk").returncode == 0
    assert sandbox.docker("kill", "pzk").returncode == 0
    assert sandbox.docker("wait", "pzk").stdout.strip() == "137"
    assert _inspect(sandbox, "pzk")["State"]["Paused"] is False

    _run(sandbox, "pzm", "--restart", "always", "busybox", "sleep", "60")
    assert sandbox.docker("pause", "pzm").returncode == 0
    r = sandbox.docker("rm", "-f", "pzm", timeout=20)
    assert (r.returncode, r.stdout.strip()) == (0, "pzm")
    names.remove("pzm")
    time.sleep(0.5)
    assert sandbox.docker("ps", "-aq", "--filter", "name=pzm").stdout == ""  # gone, not restarted

    # dockerd thaws after any signal when the image sets no StopSignal
    _run(sandbox, "pzu", "busybox", "sh", "-c", "trap 'echo usr1' USR1; while true; do sleep 0.1; done")
    assert sandbox.docker("pause", "pzu").returncode == 0
    assert sandbox.docker("kill", "-s", "USR1", "pzu").returncode == 0
    _wait_for(lambda: "usr1" in sandbox.docker("logs", "pzu").stdout, what="USR1 handled")
    state = _inspect(sandbox, "pzu")["State"]
    assert (state["Status"], state["Paused"]) == ("running", False)


def test_a_paused_container_stays_paused_across_a_daemon_restart(fresh_sandbox):
    sb = fresh_sandbox
    cid = _run(sb, "pzd", "busybox", "sh", "-c", COUNTER)
    assert sb.docker("pause", "pzd").returncode == 0
    sb.kill_daemon(signal.SIGKILL)
    sb.start_daemon()
    state = _inspect(sb, "pzd")["State"]
    assert (state["Status"], state["Paused"]) == ("paused", True)
    assert _cgroup("freezer", cid, "freezer.state") == "FROZEN"
    assert sb.docker("unpause", "pzd").returncode == 0
    before = _lines(sb, "pzd")
    _wait_for(lambda: _lines(sb, "pzd") > before + 2, what="counter resumes")


# ------------------------------------------------------------------ stats
def test_stats_no_stream_shows_memory_in_use_against_the_m_limit(sandbox, names):
    names.append("st")
    _run(sandbox, "st", "-m", "64m", "busybox", "sh", "-c", TICKER)
    r = sandbox.docker("stats", "--no-stream", "st")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert re.split(r"\s{2,}", header.strip()) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %",
                                                    "NET I/O", "BLOCK I/O", "PIDS"]
    cells = re.split(r"\s{2,}", row.strip())
    assert cells[1] == "st"
    assert re.fullmatch(r"\d+\.\d\d%", cells[2])
    usage, limit = cells[3].split(" / ")
    assert _size(limit) == 64 * MiB
    assert 0 < _size(usage) < 64 * MiB
    assert re.fullmatch(r"\d+\.\d\d%", cells[4]) and float(cells[4][:-1]) > 0
    assert int(cells[7]) >= 2  # sh and its sleep

    r = sandbox.docker("stats", "--no-stream", "--format", "{{json .}}", "st")
    doc = json.loads(r.stdout)
    assert doc["Name"] == "st" and doc["MemUsage"].endswith(" / 64MiB")


def test_stats_without_a_limit_report_the_machines_memory(sandbox, names):
    names.append("st2")
    _run(sandbox, "st2", "busybox", "sleep", "60")
    status, doc = api(sandbox, "GET", "/v1.45/containers/st2/stats?stream=false&one-shot=true")
    assert status == 200
    with open("/proc/meminfo") as f:
        total = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) * 1024
    assert doc["memory_stats"]["limit"] == total


def test_sdk_stats_carry_what_clients_compute_cpu_percent_from(sandbox, client, names):
    names.append("busy")
    c = client.containers.run("busybox", ["sh", "-c", "while true; do :; done"], detach=True, name="busy")
    time.sleep(0.3)
    s = c.stats(stream=False)
    assert s["id"] == c.id and s["name"] == "/busy"
    cpu, pre = s["cpu_stats"], s["precpu_stats"]
    for key in ("total_usage", "usage_in_kernelmode", "usage_in_usermode"):
        assert key in cpu["cpu_usage"] and key in pre["cpu_usage"]
    assert cpu["online_cpus"] >= 1
    assert len(cpu["cpu_usage"]["percpu_usage"]) >= 1
    assert cpu["system_cpu_usage"] > pre["system_cpu_usage"] > 0
    assert 0.8 < (_t(s["read"]) - _t(s["preread"])) < 2.5  # a second between the two readings
    # docker CLI's formula: a spinning shell uses most of one CPU
    cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    system_delta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    percent = cpu_delta / system_delta * cpu["online_cpus"] * 100
    assert 5 < percent < 150, percent  # about one CPU, less on a loaded machine
    assert set(s["memory_stats"]) >= {"usage", "limit", "stats"}
    assert "total_inactive_file" in s["memory_stats"]["stats"]  # the CLI's v1 cache correction
    assert s["pids_stats"]["current"] == 1
    assert set(s["blkio_stats"]) >= {"io_service_bytes_recursive", "io_serviced_recursive"}
    assert (s["num_procs"], s["storage_stats"]) == (0, {})


def _t(value: str) -> float:
    whole, _, frac = value.rstrip("Z").partition(".")
    return time.mktime(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def test_stats_one_shot_has_no_previous_reading_and_stream_sends_one_a_second(sandbox, client, names):
    names.append("st3")
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, name="st3")
    status, doc = api(sandbox, "GET", "/v1.45/containers/st3/stats?stream=false&one-shot=true")
    assert status == 200
    assert doc["preread"] == ZERO_TIME and doc["read"] != ZERO_TIME
    assert doc["precpu_stats"] == {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                                   "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}

    began = time.monotonic()
    gen = c.stats(stream=True, decode=True)
    docs = [next(gen) for _ in range(3)]
    gen.close()
    assert 1.5 < time.monotonic() - began < 4.5
    assert docs[0]["preread"] == ZERO_TIME
    assert docs[1]["preread"] == docs[0]["read"] and docs[2]["preread"] == docs[1]["read"]
    assert docs[2]["precpu_stats"] == docs[1]["cpu_stats"]

    status, doc = api(sandbox, "GET", "/v1.45/containers/st3/stats?stream=true&one-shot=true")
    assert (status, doc) == (400, {"message": "cannot have stream=true and one-shot=true"})
    assert api(sandbox, "GET", "/v1.45/containers/nope/stats?stream=false")[0] == 404
    # the daemon is still healthy after the streaming client went away
    assert sandbox.docker("stats", "--no-stream", "st3").returncode == 0


def test_stats_of_a_stopped_container_are_zeros(sandbox, names):
    names.append("st4")
    cid = sandbox.docker("create", "--name", "st4", "busybox", "true").stdout.strip()
    status, doc = api(sandbox, "GET", "/v1.45/containers/st4/stats?stream=false")
    assert status == 200
    assert (doc["id"], doc["name"], doc["read"], doc["preread"]) == (cid, "/st4", ZERO_TIME, ZERO_TIME)
    assert (doc["memory_stats"], doc["pids_stats"], doc["num_procs"]) == ({}, {}, 0)
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert doc["blkio_stats"]["io_service_bytes_recursive"] is None
    row = sandbox.docker("stats", "--no-stream", "st4").stdout.splitlines()[1]
    assert re.split(r"\s{2,}", row.strip())[1:] == ["st4", "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]


# ------------------------------------------------------------------ update
def test_update_changes_the_running_containers_cgroup_and_its_hostconfig(sandbox, names):
    names.append("up")
    since = time.time() - 0.1
    cid = _run(sandbox, "up", "busybox", "sh", "-c", TICKER)
    r = sandbox.docker("update", "-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "up")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "up", "")
    assert _cgroup("memory", cid, "memory.limit_in_bytes") == str(64 * MiB)
    # a memory limit where there was none gets docker's default swap (twice the memory)
    assert _cgroup("memory", cid, "memory.memsw.limit_in_bytes") == str(128 * MiB)
    assert _cgroup("cpu", cid, "cpu.cfs_quota_us") == "50000"
    assert _cgroup("cpu", cid, "cpu.cfs_period_us") == "100000"
    assert _cgroup("pids", cid, "pids.max") == "50"
    hc = _inspect(sandbox, "up")["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["PidsLimit"]) == (
        64 * MiB, 128 * MiB, 500_000_000, 50)
    assert "/ 64MiB" in sandbox.docker("stats", "--no-stream", "up").stdout
    assert "update" in [e["Action"] for e in _events(sandbox, since, "--filter", f"container={cid}")]

    r = sandbox.docker("update", "--cpu-shares", "512", "--memory-reservation", "32m", "--pids-limit", "-1", "up")
    assert r.returncode == 0, r.stderr
    assert _cgroup("cpu", cid, "cpu.shares") == "512"
    assert _cgroup("memory", cid, "memory.soft_limit_in_bytes") == str(32 * MiB)
    assert _cgroup("pids", cid, "pids.max") == "max"

    # the new limits are the container's from now on: a restart keeps them
    assert sandbox.docker("restart", "-t", "1", "up").returncode == 0
    assert _cgroup("memory", cid, "memory.limit_in_bytes") == str(64 * MiB)
    assert _cgroup("cpu", cid, "cpu.cfs_quota_us") == "50000"
    assert _cgroup("cpu", cid, "cpu.shares") == "512"
    assert _cgroup("pids", cid, "pids.max") == "max"


def test_update_of_a_stopped_container_takes_effect_at_its_next_start(sandbox, names):
    names.append("ups")
    cid = sandbox.docker("create", "--name", "ups", "busybox", "sleep", "60").stdout.strip()
    r = sandbox.docker("update", "-m", "32m", "--pids-limit", "20", "--restart", "on-failure:2", "ups")
    assert r.returncode == 0, r.stderr
    hc = _inspect(sandbox, "ups")["HostConfig"]
    assert (hc["Memory"], hc["PidsLimit"], hc["RestartPolicy"]) == (
        32 * MiB, 20, {"Name": "on-failure", "MaximumRetryCount": 2})
    assert sandbox.docker("start", "ups").returncode == 0
    assert _cgroup("memory", cid, "memory.limit_in_bytes") == str(32 * MiB)
    assert _cgroup("pids", cid, "pids.max") == "20"


def test_update_of_a_paused_container_applies_live_and_keeps_it_paused(sandbox, names):
    names.append("upp")
    cid = _run(sandbox, "upp", "busybox", "sleep", "60")
    assert sandbox.docker("pause", "upp").returncode == 0
    assert sandbox.docker("update", "--pids-limit", "33", "upp").returncode == 0
    assert _cgroup("pids", cid, "pids.max") == "33"
    assert _inspect(sandbox, "upp")["State"]["Status"] == "paused"
    assert _cgroup("freezer", cid, "freezer.state") == "FROZEN"
    assert sandbox.docker("unpause", "upp").returncode == 0


def test_an_updated_restart_policy_is_followed_at_the_next_exit(sandbox, names):
    names.append("upr")
    _run(sandbox, "upr", "busybox", "sh", "-c", "sleep 1; exit 3")
    assert sandbox.docker("update", "--restart", "on-failure:1", "upr").returncode == 0
    _wait_for(lambda: _inspect(sandbox, "upr")["RestartCount"] == 1, timeout=15, what="one restart")
    _wait_for(lambda: not _inspect(sandbox, "upr")["State"]["Running"], timeout=15, what="final exit")
    time.sleep(0.5)
    assert _inspect(sandbox, "upr")["RestartCount"] == 1


def test_update_refuses_what_docker_refuses_and_changes_nothing(sandbox, names):
    names += ["upe", "uprm"]
    cid = _run(sandbox, "upe", "-m", "32m", "--cpus", "0.5", "busybox", "sleep", "60")
    before = _inspect(sandbox, "upe")["HostConfig"]

    def refused(*args: str) -> str:
        r = sandbox.docker("update", *args, "upe")
        assert r.returncode == 1 and r.stdout == "", (args, r.stdout, r.stderr)
        return r.stderr.strip().removeprefix("Error response from daemon: ")

    assert refused("-m", "1m") == "Minimum memory limit allowed is 6MB"
    assert refused("-m", "100m") == (f"Cannot update container {cid}: Memory limit should be smaller than already "
                                     "set memoryswap limit, update the memoryswap at the same time")
    assert refused("-m", "64m", "--memory-swap", "32m") == (
        "Minimum memoryswap limit should be larger than memory limit, see usage")
    assert refused("--cpu-quota", "20000") == (
        f"Cannot update container {cid}: Conflicting options: CPU Quota cannot be updated as NanoCPUs "
        "has already been set")
    assert refused("--cpus", "1", "--cpu-period", "20000") == (
        "Conflicting options: Nano CPUs and CPU Period cannot both be set")
    assert refused("--cpuset-cpus", "99").startswith("Requested CPUs are not available - requested 99, available: ")
    assert refused("--cpus", "999").startswith("Range of CPUs is from 0.01 to ")
    assert refused("--memory-reservation", "64m") == (
        "Minimum memory limit can not be less than memory reservation limit, see usage")
    assert refused("--restart", "bogus") == ("invalid restart policy: unknown policy 'bogus'; use one of "
                                             "'no', 'always', 'on-failure', or 'unless-stopped'")
    assert _inspect(sandbox, "upe")["HostConfig"] == before
    assert _cgroup("memory", cid, "memory.limit_in_bytes") == str(32 * MiB)

    # what the CLI would not send, straight through the API
    assert api(sandbox, "POST", "/v1.45/containers/upe/update", {"Memory": "64m"}) == (
        400, {"message": "json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64"})
    assert api(sandbox, "POST", "/v1.45/containers/upe/update", {"Memory": 1})[0] == 400
    assert api(sandbox, "POST", "/v1.45/containers/upe/update", {"Memory": 100 * MiB})[0] == 409
    assert api(sandbox, "POST", "/v1.45/containers/nope/update", {}) == (404, {"message": "No such container: nope"})
    assert api(sandbox, "POST", "/v1.45/containers/upe/update", {}) == (200, {"Warnings": []})

    rm_id = _run(sandbox, "uprm", "--rm", "busybox", "sleep", "60")
    r = sandbox.docker("update", "--restart", "always", "uprm")
    assert r.returncode == 1
    assert r.stderr.strip() == (f"Error response from daemon: Cannot update container {rm_id}: Restart policy "
                                "cannot be updated because AutoRemove is enabled for the container")
    assert sandbox.docker("update", "--restart", "no", "uprm").returncode == 0
