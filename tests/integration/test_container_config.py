"""`docker run` options take effect inside the container, as they do with docker.

Every test looks at the process from the inside (/proc/self/status, the cgroup
files, the files it can or cannot write) or at the host's cgroup tree, not only
at the exit code or at what inspect echoes back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")]

# docker's default capability set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
# NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
DEFAULT_CAPS = 0xa80425fb
CAP_CHOWN, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_SYS_ADMIN = 0, 10, 12, 21


def _run(sb, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    r = sb.docker("run", "--rm", *args, input=input)
    assert r.returncode == 0, (args, r.stderr, sb.log_text()[-1500:])
    return r


def _inspect(sb, name: str) -> dict:
    r = sb.docker("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def _status_field(text: str, field: str) -> str:
    m = re.search(rf"^{field}:\s*(.*)$", text, re.M)
    assert m, f"{field} not in {text!r}"
    return m.group(1).strip()


def _wait_for(cond, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in {timeout}s")


def _host_cgroup(controller: str, cid: str, name: str) -> str:
    with open(f"/sys/fs/cgroup/{controller}/berth/{cid}/{name}") as f:
        return f.read().strip()


@pytest.fixture
def names(sandbox):
    """Containers to remove after the test, whatever happened."""
    made: list[str] = []
    yield made
    if made:
        sandbox.docker("rm", "-f", *made)


@pytest.fixture(scope="module")
def config_image(sandbox, busybox_tar):
    """An image whose config carries what a container must inherit."""
    r = sandbox.docker("import", "-c", "ENV FOO=img BAR=keep", "-c", "LABEL team=berth tier=img",
                       "-c", "WORKDIR /srv", "-c", 'ENTRYPOINT ["/bin/echo","ep"]', "-c", 'CMD ["default"]',
                       busybox_tar, "cfgimage:1")
    assert r.returncode == 0, r.stderr
    yield "cfgimage:1"
    sandbox.docker("rmi", "-f", "cfgimage:1")


# ------------------------------------------------------------------ environment
def test_env_flags_and_env_file_reach_the_process(sandbox, tmp_path):
    env_file = tmp_path / "vars.env"
    env_file.write_text("# a comment\n\nFROM_FILE=2\nPASSED_FROM_HOST\nSPACED=a b  c\n")
    env = dict(sandbox.env(), PASSED_FROM_HOST="host-value", SET_ON_HOST="yes")
    env.pop("UNSET_ON_HOST", None)
    r = subprocess.run(["/usr/local/bin/docker", "run", "--rm", "-e", "A=1", "-e", "SET_ON_HOST",
                        "-e", "UNSET_ON_HOST", "--env", "EMPTY=", "--env-file", str(env_file), "busybox", "env"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ("A=1", "SET_ON_HOST=yes", "EMPTY=", "FROM_FILE=2", "PASSED_FROM_HOST=host-value",
                 "SPACED=a b  c", "HOME=/root"):
        assert want in lines, (want, lines)
    # docker drops `-e NAME` when NAME is not set in the client's environment
    assert not any(line.startswith("UNSET_ON_HOST") for line in lines)
    assert any(line.startswith("PATH=/usr/local/sbin:") for line in lines)
    assert re.search(r"^HOSTNAME=[0-9a-f]{12}$", r.stdout, re.M)


def test_run_env_overrides_the_image_env_by_key(sandbox, config_image, names):
    names.append("envmerge")
    r = sandbox.docker("run", "--name", "envmerge", "-e", "FOO=run", "--entrypoint", "",
                       config_image, "sh", "-c", "echo $FOO $BAR")
    assert (r.returncode, r.stdout) == (0, "run keep\n"), r.stderr
    assert _inspect(sandbox, "envmerge")["Config"]["Env"] == ["FOO=run", "BAR=keep"]


# ------------------------------------------------------------------ workdir, user, entrypoint
def test_workdir_is_created_and_is_the_cwd(sandbox):
    r = _run(sandbox, "-w", "/made/by/docker", "busybox", "sh", "-c", "pwd; ls -ld . | cut -c1")
    assert r.stdout == "/made/by/docker\nd\n"


def test_image_workdir_is_inherited_and_overridden_by_w(sandbox, config_image):
    assert _run(sandbox, "--entrypoint", "pwd", config_image).stdout == "/srv\n"
    assert _run(sandbox, "-w", "/tmp", "--entrypoint", "pwd", config_image).stdout == "/tmp\n"


def test_user_by_name_sets_uid_gid_and_home_from_passwd(sandbox):
    out = _run(sandbox, "-u", "nobody", "busybox", "sh", "-c", "cat /proc/self/status; echo HOME=$HOME").stdout
    assert _status_field(out, "Uid").split() == ["65534"] * 4
    assert _status_field(out, "Gid").split() == ["65534"] * 4
    assert "HOME=/home\n" in out  # nobody's home in busybox's /etc/passwd


def test_user_by_uid_gid_needs_no_passwd_entry(sandbox):
    out = _run(sandbox, "-u", "1234:5678", "busybox", "sh", "-c", "cat /proc/self/status; id").stdout
    assert _status_field(out, "Uid").split() == ["1234"] * 4
    assert _status_field(out, "Gid").split() == ["5678"] * 4
    assert "uid=1234 gid=5678" in out


def test_user_name_with_group_name(sandbox):
    out = _run(sandbox, "-u", "nobody:root", "busybox", "id").stdout
    assert out.startswith("uid=65534(nobody) gid=0(root)")


def test_supplementary_groups_include_the_primary_gid(sandbox):
    """docker puts the primary gid first in Process.User.AdditionalGids, then the /etc/group memberships."""
    out = _run(sandbox, "busybox", "cat", "/proc/self/status").stdout
    assert sorted(int(g) for g in _status_field(out, "Groups").split()) == [0, 10]
    out = _run(sandbox, "-u", "nobody", "busybox", "cat", "/proc/self/status").stdout
    assert _status_field(out, "Groups").split() == ["65534"]


def test_home_is_root_dir_for_a_uid_without_passwd_entry(sandbox):
    assert _run(sandbox, "-u", "1000", "busybox", "sh", "-c", "echo HOME=$HOME").stdout == "HOME=/\n"


def test_entrypoint_flag_replaces_the_image_entrypoint(sandbox, config_image, names):
    assert _run(sandbox, config_image).stdout == "ep default\n"
    assert _run(sandbox, config_image, "x", "y").stdout == "ep x y\n"
    # --entrypoint resets the image's CMD too
    assert _run(sandbox, "--entrypoint", "echo", config_image).stdout == "\n"
    assert _run(sandbox, "--entrypoint", "echo", "busybox", "hi", "there").stdout == "hi there\n"
    names.append("epinspect")
    assert sandbox.docker("create", "--name", "epinspect", "--entrypoint", "echo", "busybox", "a", "b").returncode == 0
    doc = _inspect(sandbox, "epinspect")
    assert (doc["Config"]["Entrypoint"], doc["Config"]["Cmd"]) == (["echo"], ["a", "b"])
    assert (doc["Path"], doc["Args"]) == ("echo", ["a", "b"])


def test_empty_entrypoint_clears_the_image_entrypoint(sandbox, config_image, names):
    assert _run(sandbox, "--entrypoint", "", config_image, "echo", "plain").stdout == "plain\n"
    names.append("epempty")
    assert sandbox.docker("create", "--name", "epempty", "--entrypoint", "", config_image, "echo", "a").returncode == 0
    doc = _inspect(sandbox, "epempty")
    assert doc["Config"]["Entrypoint"] is None
    assert (doc["Path"], doc["Args"]) == ("echo", ["a"])


# ------------------------------------------------------------------ labels, hostname
def test_labels_from_flags_file_and_image_are_merged(sandbox, config_image, tmp_path, names):
    label_file = tmp_path / "labels"
    label_file.write_text("# comment\nfromfile=1\n")
    names.append("labelled")
    r = sandbox.docker("create", "--name", "labelled", "-l", "a=b", "--label", "tier=run", "-l", "novalue",
                       "--label-file", str(label_file), config_image)
    assert r.returncode == 0, r.stderr
    labels = _inspect(sandbox, "labelled")["Config"]["Labels"]
    assert labels == {"a": "b", "tier": "run", "novalue": "", "fromfile": "1", "team": "berth"}
    r = sandbox.docker("ps", "-a", "--filter", "label=tier=run", "--filter", "label=novalue", "--format", "{{.Names}}")
    assert r.stdout.split() == ["labelled"]


def test_hostname_sets_uts_name_etc_hostname_and_hosts(sandbox, names):
    out = _run(sandbox, "-h", "myhost", "busybox", "sh", "-c",
               "hostname; echo ---; cat /etc/hostname; echo ---; cat /etc/hosts").stdout
    uts, etc_hostname, hosts = out.split("---\n")
    assert uts == "myhost\n"
    assert etc_hostname == "myhost\n"
    assert re.search(r"^127\.0\.0\.1\s+localhost", hosts, re.M)
    assert re.search(r"^::1\s+localhost ip6-localhost ip6-loopback", hosts, re.M)
    names.append("hn")
    sandbox.docker("create", "--name", "hn", "-h", "myhost", "busybox")
    assert _inspect(sandbox, "hn")["Config"]["Hostname"] == "myhost"


def test_default_hostname_is_the_short_id(sandbox, names):
    r = sandbox.docker("run", "-d", "busybox", "sh", "-c", "hostname; cat /etc/hostname")
    cid = r.stdout.strip()
    names.append(cid)
    assert sandbox.docker("wait", cid).stdout.strip() == "0"
    assert sandbox.docker("logs", cid).stdout == f"{cid[:12]}\n{cid[:12]}\n"
    assert _inspect(sandbox, cid)["Config"]["Hostname"] == cid[:12]


# ------------------------------------------------------------------ stop signal, stop timeout, init
def test_stop_signal_is_what_stop_sends(sandbox, names):
    names.append("stopsig")
    r = sandbox.docker("run", "-d", "--name", "stopsig", "--stop-signal", "USR1", "busybox", "sh", "-c",
                       "trap 'echo got-usr1; exit 5' USR1; trap 'echo got-term; exit 6' TERM; "
                       "echo ready; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    _wait_for(lambda: "ready" in sandbox.docker("logs", "stopsig").stdout, what="container ready")
    assert sandbox.docker("stop", "stopsig").returncode == 0
    doc = _inspect(sandbox, "stopsig")
    assert doc["Config"]["StopSignal"] == "USR1"
    assert doc["State"]["ExitCode"] == 5
    assert sandbox.docker("logs", "stopsig").stdout == "ready\ngot-usr1\n"


def test_stop_timeout_is_the_default_grace_period_of_stop(sandbox, names):
    names.append("stoptmo")
    r = sandbox.docker("run", "-d", "--name", "stoptmo", "--stop-timeout", "1", "busybox", "sh", "-c",
                       "trap 'echo ignoring-term' TERM; echo ready; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    _wait_for(lambda: "ready" in sandbox.docker("logs", "stoptmo").stdout, what="container ready")
    t0 = time.monotonic()
    assert sandbox.docker("stop", "stoptmo").returncode == 0
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 5, elapsed  # docker's own default would be 10 s
    doc = _inspect(sandbox, "stoptmo")
    assert doc["Config"]["StopTimeout"] == 1
    assert doc["State"]["ExitCode"] == 137
    assert "ignoring-term" in sandbox.docker("logs", "stoptmo").stdout


def test_init_is_pid_1_and_the_command_is_its_child(sandbox, names):
    out = _run(sandbox, "--init", "busybox", "sh", "-c",
               "tr '\\0' ' ' < /proc/1/cmdline; echo; echo pid=$$; grep PPid /proc/$$/status").stdout
    cmdline, pid, ppid = out.splitlines()
    assert cmdline.startswith("/sbin/docker-init -- sh -c"), cmdline
    assert pid != "pid=1"
    assert ppid.split() == ["PPid:", "1"]
    names.append("withinit")
    sandbox.docker("create", "--name", "withinit", "--init", "busybox")
    assert _inspect(sandbox, "withinit")["HostConfig"]["Init"] is True


def test_without_init_the_command_is_pid_1(sandbox):
    assert _run(sandbox, "busybox", "sh", "-c", "echo $$").stdout == "1\n"


def test_init_reaps_orphans_and_forwards_signals(sandbox, names):
    names.append("initsig")
    r = sandbox.docker("run", "-d", "--name", "initsig", "--init", "busybox", "sh", "-c",
                       "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    _wait_for(lambda: "ready" in sandbox.docker("logs", "initsig").stdout, what="container ready")
    t0 = time.monotonic()
    assert sandbox.docker("stop", "-t", "5", "initsig").returncode == 0
    assert time.monotonic() - t0 < 4
    assert _inspect(sandbox, "initsig")["State"]["ExitCode"] == 9
    assert "got-term" in sandbox.docker("logs", "initsig").stdout


# ------------------------------------------------------------------ read-only, privileges, capabilities
def test_read_only_rootfs_refuses_writes_but_keeps_dev_shm(sandbox, names):
    names.append("ro")
    r = sandbox.docker("run", "--name", "ro", "--read-only", "busybox", "sh", "-c",
                       "touch /newfile; echo rc=$?; mkdir /tmp/d; echo rc=$?; echo x >> /etc/hosts; echo rc=$?; "
                       "touch /dev/shm/ok && echo shm-ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "rc=1\nrc=1\nrc=1\nshm-ok\n"
    assert r.stderr.count("Read-only file system") == 3
    doc = _inspect(sandbox, "ro")
    assert doc["HostConfig"]["ReadonlyRootfs"] is True
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    assert not os.path.exists(os.path.join(upper, "newfile"))
    assert not os.path.exists(os.path.join(upper, "tmp", "d"))


def test_default_capabilities_are_dockers_set(sandbox):
    out = _run(sandbox, "busybox", "cat", "/proc/self/status").stdout
    assert int(_status_field(out, "CapEff"), 16) == DEFAULT_CAPS
    assert int(_status_field(out, "CapBnd"), 16) == DEFAULT_CAPS
    assert _status_field(out, "NoNewPrivs") == "0"
    assert _status_field(out, "Seccomp") == "2"


def test_privileged_gets_all_capabilities_devices_and_no_seccomp(sandbox):
    out = _run(sandbox, "--privileged", "busybox", "sh", "-c",
               "cat /proc/self/status; ls /dev | wc -l; mkdir /m && mount -t tmpfs t /m && echo mounted").stdout
    cap = int(_status_field(out, "CapEff"), 16)
    assert cap & DEFAULT_CAPS == DEFAULT_CAPS
    assert cap & (1 << CAP_SYS_ADMIN) and cap & (1 << CAP_NET_ADMIN)
    assert _status_field(out, "Seccomp") == "0"
    assert out.rstrip().endswith("mounted")
    devices = int(out.rstrip().splitlines()[-2])
    plain = _run(sandbox, "busybox", "sh", "-c", "ls /dev | wc -l; mkdir /m && mount -t tmpfs t /m || echo refused")
    assert devices > int(plain.stdout.splitlines()[0])  # the host's devices are visible
    assert plain.stdout.splitlines()[-1] == "refused"


def test_cap_add_and_cap_drop_change_the_effective_set(sandbox):
    out = _run(sandbox, "--cap-add", "NET_ADMIN", "--cap-drop", "chown", "busybox", "cat", "/proc/self/status").stdout
    assert int(_status_field(out, "CapEff"), 16) == (DEFAULT_CAPS | 1 << CAP_NET_ADMIN) & ~(1 << CAP_CHOWN)
    out = _run(sandbox, "--cap-drop", "ALL", "busybox", "cat", "/proc/self/status").stdout
    assert int(_status_field(out, "CapEff"), 16) == 0
    out = _run(sandbox, "--cap-drop", "ALL", "--cap-add", "CAP_NET_BIND_SERVICE", "busybox", "cat",
               "/proc/self/status").stdout
    assert int(_status_field(out, "CapEff"), 16) == 1 << CAP_NET_BIND_SERVICE
    # the effect, not only the mask: chown is refused without CAP_CHOWN
    r = sandbox.docker("run", "--rm", "--cap-drop", "CHOWN", "busybox", "chown", "nobody", "/etc/passwd")
    assert r.returncode == 1 and "Operation not permitted" in r.stderr


def test_cap_add_and_drop_are_recorded_normalised(sandbox, names):
    names.append("capsrec")
    sandbox.docker("create", "--name", "capsrec", "--cap-add", "net_admin", "--cap-drop", "CAP_CHOWN", "busybox")
    host = _inspect(sandbox, "capsrec")["HostConfig"]
    assert (host["CapAdd"], host["CapDrop"]) == (["CAP_NET_ADMIN"], ["CAP_CHOWN"])


def test_no_new_privileges_is_set_on_the_process(sandbox, names):
    out = _run(sandbox, "--security-opt", "no-new-privileges", "busybox", "cat", "/proc/self/status").stdout
    assert _status_field(out, "NoNewPrivs") == "1"
    out = _run(sandbox, "--security-opt", "no-new-privileges:true", "busybox", "cat", "/proc/self/status").stdout
    assert _status_field(out, "NoNewPrivs") == "1"
    names.append("nnp")
    sandbox.docker("create", "--name", "nnp", "--security-opt", "no-new-privileges", "busybox")
    assert _inspect(sandbox, "nnp")["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]


# ------------------------------------------------------------------ cgroup limits
def test_memory_limit_is_in_the_cgroup_inside_and_on_the_host(sandbox, names):
    out = _run(sandbox, "-m", "64m", "busybox", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout
    assert out == f"{64 * 1024 * 1024}\n"
    names.append("memlim")
    cid = sandbox.docker("run", "-d", "--name", "memlim", "--memory", "48m", "busybox", "sleep", "60").stdout.strip()
    assert len(cid) == 64
    assert _host_cgroup("memory", cid, "memory.limit_in_bytes") == str(48 * 1024 * 1024)
    # docker's default swap allowance is as much again as the memory limit
    assert _host_cgroup("memory", cid, "memory.memsw.limit_in_bytes") == str(96 * 1024 * 1024)
    assert _inspect(sandbox, "memlim")["HostConfig"]["Memory"] == 48 * 1024 * 1024


def test_memory_limit_kills_a_process_that_goes_past_it(sandbox, names):
    names.append("oom")
    r = sandbox.docker("run", "--name", "oom", "-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c",
                       "x=$(head -c 50000000 /dev/zero | tr '\\0' a); echo survived")
    assert "survived" not in r.stdout
    assert r.returncode == 137, (r.returncode, r.stderr)


def test_memory_swap_defaults_to_twice_the_memory_in_inspect(sandbox, names):
    names.append("memswap")
    sandbox.docker("create", "--name", "memswap", "-m", "64m", "busybox")
    host = _inspect(sandbox, "memswap")["HostConfig"]
    assert (host["Memory"], host["MemorySwap"]) == (64 * 1024 * 1024, 128 * 1024 * 1024)


def test_cpus_sets_the_cfs_quota(sandbox, names):
    out = _run(sandbox, "--cpus", "0.5", "busybox", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
               "/sys/fs/cgroup/cpu/cpu.cfs_period_us").stdout
    assert out.split() == ["50000", "100000"]
    names.append("cpus")
    sandbox.docker("create", "--name", "cpus", "--cpus", "1.5", "busybox")
    assert _inspect(sandbox, "cpus")["HostConfig"]["NanoCpus"] == 1_500_000_000


def test_pids_limit_holds_a_fork_bomb(sandbox, names):
    # Without a limit the shell starts 40 children; with one it cannot.
    r = sandbox.docker("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c",
                       "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; echo spawned-all")
    assert "spawned-all" not in r.stdout and "can't fork" in r.stderr
    assert "spawned-all" in _run(sandbox, "busybox", "sh", "-c",
                                 "i=0; while [ $i -lt 40 ]; do sleep 1 & i=$((i+1)); done; echo spawned-all").stdout
    names.append("bomb")
    cid = sandbox.docker("run", "-d", "--name", "bomb", "--pids-limit", "12", "busybox", "sh", "-c",
                         "f(){ f | f & }; f; sleep 60").stdout.strip()
    assert len(cid) == 64
    _wait_for(lambda: _host_cgroup("pids", cid, "pids.events").split()[-1] != "0", what="the bomb hits the limit")
    assert _host_cgroup("pids", cid, "pids.max") == "12"
    assert int(_host_cgroup("pids", cid, "pids.current")) <= 12
    assert _inspect(sandbox, "bomb")["HostConfig"]["PidsLimit"] == 12
    # the daemon is unharmed and the bomb goes away with the container
    t0 = time.monotonic()
    assert sandbox.docker("rm", "-f", "bomb").returncode == 0
    assert time.monotonic() - t0 < 10
    names.remove("bomb")
    _wait_for(lambda: not os.path.exists(f"/sys/fs/cgroup/pids/berth/{cid}"), what="cgroup removed")


# ------------------------------------------------------------------ tty and stdin
def _docker_bytes(sb, *args: str) -> subprocess.CompletedProcess:
    """The docker CLI with undecoded output (text mode would turn \r\n into \n)."""
    return subprocess.run(["/usr/local/bin/docker", *args], env=sb.env(), capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_tty_gives_the_process_a_pty_and_crlf_output(sandbox):
    r = _docker_bytes(sandbox, "run", "-t", "--rm", "busybox", "tty")
    assert (r.returncode, r.stdout) == (0, b"/dev/pts/0\r\n"), r.stderr
    # stderr goes through the same terminal
    r = _docker_bytes(sandbox, "run", "-t", "--rm", "busybox", "sh", "-c",
                      "echo err >&2; [ -t 0 ] && echo stdin-is-tty")
    assert r.stdout == b"err\r\nstdin-is-tty\r\n"
    assert r.stderr == b""


def test_without_tty_the_process_has_no_terminal(sandbox):
    r = sandbox.docker("run", "--rm", "busybox", "tty")
    assert r.returncode == 1 and r.stdout == "not a tty\n"


def test_interactive_passes_piped_stdin_and_closes_it(sandbox):
    r = sandbox.docker("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo end; exit 3", input="hi\nthere\n")
    assert (r.returncode, r.stdout) == (3, "hi\nthere\nend\n")


def test_without_interactive_stdin_is_not_passed(sandbox):
    r = sandbox.docker("run", "--rm", "busybox", "cat", input="hi\n")
    assert (r.returncode, r.stdout) == (0, "")


# ------------------------------------------------------------------ runtimes and logging
@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_runtime_flag_selects_the_oci_runtime(sandbox, runtime, names):
    names.append(f"rt-{runtime}")
    cid = sandbox.docker("run", "-d", "--name", f"rt-{runtime}", "--runtime", runtime, "busybox", "sh", "-c",
                         "echo on-$0; sleep 60", runtime).stdout.strip()
    assert len(cid) == 64
    _wait_for(lambda: sandbox.docker("logs", cid).stdout == f"on-{runtime}\n", what="output")
    assert _inspect(sandbox, cid)["HostConfig"]["Runtime"] == runtime
    # the container's state lives under that runtime's state root, not the other one's
    other = "crun" if runtime == "runc" else "runc"
    assert os.path.exists(os.path.join(sandbox.exec_root, f"runtime-{runtime}", cid))
    assert not os.path.exists(os.path.join(sandbox.exec_root, f"runtime-{other}", cid))
    assert sandbox.docker("stop", "-t", "0", cid).returncode == 0
    assert _inspect(sandbox, cid)["State"]["ExitCode"] == 137


def test_log_opts_rotate_the_json_file(sandbox, names):
    names.append("rotated")
    r = sandbox.docker("run", "--name", "rotated", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
                       "busybox", "sh", "-c",
                       "i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 200  # the attached client sees everything
    doc = _inspect(sandbox, "rotated")
    assert doc["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "1k"}}
    log_dir = os.path.dirname(doc["LogPath"])
    base = os.path.basename(doc["LogPath"])
    files = sorted(f for f in os.listdir(log_dir) if f.startswith(base))
    assert files == [base, base + ".1", base + ".2"]
    for f in files:
        size = os.path.getsize(os.path.join(log_dir, f))
        assert 0 < size < 1024 + 200, (f, size)
        with open(os.path.join(log_dir, f)) as fh:
            for line in fh:
                assert set(json.loads(line)) == {"log", "stream", "time"}
    logs = sandbox.docker("logs", "rotated").stdout.splitlines()
    # the oldest lines were rotated away; what is left is in order and ends with the last line
    assert 10 <= len(logs) < 200
    assert logs[-1].startswith("line-199-")
    numbers = [int(line.split("-")[1]) for line in logs]
    assert numbers == list(range(numbers[0], 200))


# ------------------------------------------------------------------ our own CLI, where it is ready
@pytest.mark.parametrize("args", [
    ["-e", "A=1", "-w", "/tmp", "-u", "1234:5678", "--cap-drop", "ALL", "busybox", "sh", "-c",
     "echo $A; pwd; id; grep CapEff /proc/self/status"],
    ["--init", "-h", "bhost", "--read-only", "busybox", "sh", "-c",
     "echo $$; hostname; touch /x 2>/dev/null || echo ro"],
    ["-m", "32m", "--pids-limit", "7", "busybox", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
     "/sys/fs/cgroup/pids/pids.max"],
])
def test_berth_cli_run_options_act_like_dockers(sandbox, args):
    want = sandbox.docker("run", "--rm", *args)
    got = sandbox.berth("run", "--rm", *args)
    assert want.returncode == 0, want.stderr
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), got.stderr


def test_berth_cli_tty_and_stdin(sandbox):
    r = subprocess.run([sys.executable, "-m", "berth.cli.main", "run", "-t", "--rm", "busybox", "tty"],
                       env=sandbox.env(), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (0, b"/dev/pts/0\r\n"), r.stderr
    r = sandbox.berth("run", "-i", "--rm", "busybox", "sh", "-c", "cat; exit 3", input="piped\n")
    assert (r.returncode, r.stdout) == (3, "piped\n")
