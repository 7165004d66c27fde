"""A hostile process inside a container must stay inside its walls (issue 10, isolation).

Each test runs an attack with the real docker CLI against berthd and checks that
it fails the way docker's default profile makes it fail; the --privileged and
--cap-add tests check that exactly what docker lifts is lifted. Raw syscalls come
from tiny hand-made ELF programs (tests/syscall_probe.py), copied into an image.
"""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from tests.syscall_probe import probe

pytestmark = [pytest.mark.integration, pytest.mark.compat]

IMAGE = "isolation-probes"

PROBES = {
    "add_key": probe("add_key", b"user\0", b"berth-test\0", b"secret\0", 7, -2),
    "keyctl_join": probe("keyctl", 1, 0),  # KEYCTL_JOIN_SESSION_KEYRING
    "unshare_user": probe("unshare", 0x10000000),  # CLONE_NEWUSER
    "unshare_mount": probe("unshare", 0x00020000),  # CLONE_NEWNS
    "init_module": probe("init_module", b"\0" * 16, 16, b"\0"),
    "finit_module": probe("finit_module", 0, b"\0", 0),
    "reboot": probe("reboot", 0xFEE1DEAD, 672274793, 0x4321FEDC),  # RB_POWER_OFF
    "raise_nofile": probe("setrlimit", 7, (1 << 21).to_bytes(8, "little") * 2),
}


@pytest.fixture(scope="module")
def probes(sandbox, tmp_path_factory):
    d = tmp_path_factory.mktemp("probes")
    for name, data in PROBES.items():
        path = d / name
        path.write_bytes(data)
        path.chmod(0o755)
    sandbox.docker("rm", "-f", "probe-maker")
    assert sandbox.docker("create", "--name", "probe-maker", "busybox", "true").returncode == 0
    res = sandbox.docker("cp", f"{d}/.", "probe-maker:/probes")
    assert res.returncode == 0, res.stderr
    res = sandbox.docker("commit", "probe-maker", IMAGE)
    assert res.returncode == 0, res.stderr
    sandbox.docker("rm", "-f", "probe-maker")
    return IMAGE


def _run(sandbox, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return sandbox.docker("run", "--rm", *args, timeout=timeout)


@pytest.mark.parametrize("name, expected", [
    ("add_key", errno.EPERM),
    ("keyctl_join", errno.EPERM),
    ("unshare_user", errno.EPERM),
    ("unshare_mount", errno.EPERM),
    ("init_module", errno.EPERM),
    ("finit_module", errno.EPERM),
    ("reboot", errno.EPERM),
    ("raise_nofile", errno.EPERM),
])
def test_dangerous_syscalls_are_refused(sandbox, probes, name, expected):
    res = _run(sandbox, probes, f"/probes/{name}")
    assert res.returncode == expected, (name, res.returncode, res.stderr)


def test_kernel_keyring_is_usable_only_when_privileged(sandbox, probes):
    assert _run(sandbox, "--privileged", probes, "/probes/add_key").returncode == 0


def test_mount_needs_privilege(sandbox, probes):
    mount = ["sh", "-c", "mkdir -p /m && mount -t tmpfs none /m"]
    res = _run(sandbox, probes, *mount)
    assert res.returncode != 0
    assert "denied" in res.stderr or "not permitted" in res.stderr
    res = _run(sandbox, "--privileged", probes, *mount)
    assert res.returncode == 0, res.stderr
    # CAP_SYS_ADMIN alone also opens mount(2) in docker's seccomp profile.
    res = _run(sandbox, "--cap-add", "SYS_ADMIN", probes, *mount)
    assert res.returncode == 0, res.stderr


def test_unshare_command_fails(sandbox, probes):
    res = _run(sandbox, probes, "unshare", "-m", "true")
    assert res.returncode != 0


def test_proc_and_sys_are_read_only_or_masked(sandbox, probes):
    script = ("echo h > /proc/sysrq-trigger && echo SYSRQ-WRITTEN; "
              "echo 1 > /sys/kernel/mm/ksm/run && echo SYS-WRITTEN; "
              "echo kcore=$(head -c 64 /proc/kcore | wc -c); "
              "echo keys=$(cat /proc/keys 2>/dev/null | wc -c); true")
    res = _run(sandbox, probes, "sh", "-c", script)
    assert "SYSRQ-WRITTEN" not in res.stdout
    assert "SYS-WRITTEN" not in res.stdout
    assert "kcore=0" in res.stdout
    assert "keys=0" in res.stdout
    assert "Read-only file system" in res.stderr


def test_host_devices_are_not_reachable(sandbox, probes):
    """mknod is allowed (CAP_MKNOD, as docker), but the device cgroup refuses to open it."""
    res = _run(sandbox, probes, "sh", "-c", "mknod /tmp/disk b 8 0 && head -c 1 /tmp/disk > /dev/null; echo rc=$?")
    assert "rc=0" not in res.stdout
    assert "not permitted" in res.stderr


def test_host_processes_and_other_containers_are_invisible(sandbox, probes):
    res = sandbox.docker("run", "-d", "--name", "victim", probes, "sleep", "600")
    assert res.returncode == 0, res.stderr
    try:
        host_pid = sandbox.docker("inspect", "-f", "{{.State.Pid}}", "victim").stdout.strip()
        seen = _run(sandbox, probes, "sh", "-c", "ps -o pid,comm")
        assert "sleep" not in seen.stdout  # the victim's process is not in our pid namespace
        attack = probe("ptrace", 16, int(host_pid), 0, 0)  # PTRACE_ATTACH to the victim's host pid
        write = subprocess.run(["docker", "run", "-i", "--name", "attacker", probes, "sh", "-c",
                                "cat > /attack && chmod +x /attack && /attack"],
                               input=attack, capture_output=True, env=sandbox.env(), timeout=60)
        sandbox.docker("rm", "-f", "attacker")
        assert write.returncode in (errno.ESRCH, errno.EPERM), write.stderr
        assert sandbox.docker("inspect", "-f", "{{.State.Running}}", "victim").stdout.strip() == "true"
    finally:
        sandbox.docker("rm", "-f", "victim")


def test_fork_bomb_is_held_by_pids_limit(sandbox, probes):
    res = sandbox.docker("run", "-d", "--name", "forkbomb", "--pids-limit", "40", probes, "sleep", "300")
    assert res.returncode == 0, res.stderr
    try:
        bomb = sandbox.docker("exec", "forkbomb", "sh", "-c",
                              "i=0; while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); done")
        assert "can't fork" in bomb.stderr
        procs = sandbox.docker("top", "forkbomb").stdout.strip().splitlines()[1:]
        assert 30 <= len(procs) <= 40
        assert sandbox.docker("inspect", "-f", "{{.State.Running}}", "forkbomb").stdout.strip() == "true"
    finally:
        sandbox.docker("rm", "-f", "forkbomb")


def test_memory_hog_is_oom_killed_and_reported(sandbox, probes):
    res = sandbox.docker("run", "--name", "hog", "-m", "32m", "--memory-swap", "32m", probes,
                         "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived")
    try:
        assert res.returncode == 137, (res.returncode, res.stderr)
        assert "survived" not in res.stdout
        state = sandbox.docker("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog").stdout.split()
        assert state == ["true", "137"]
    finally:
        sandbox.docker("rm", "-f", "hog")


def test_a_normal_exit_is_not_reported_as_oom(sandbox, probes):
    res = sandbox.docker("run", "--name", "calm", "-m", "32m", probes, "true")
    try:
        assert res.returncode == 0
        assert sandbox.docker("inspect", "-f", "{{.State.OOMKilled}}", "calm").stdout.strip() == "false"
    finally:
        sandbox.docker("rm", "-f", "calm")


def test_cap_add_lifts_exactly_the_named_capability(sandbox, probes):
    def caps(*flags: str) -> int:
        out = _run(sandbox, *flags, probes, "sh", "-c", "grep CapEff /proc/self/status").stdout
        return int(out.split()[1], 16)

    default = caps()
    net_admin = 1 << 12
    assert not default & net_admin
    assert caps("--cap-add", "NET_ADMIN") == default | net_admin
    assert caps("--cap-drop", "ALL") == 0
    assert caps("--privileged") == (1 << 41) - 1 or caps("--privileged") >= (1 << 38) - 1
