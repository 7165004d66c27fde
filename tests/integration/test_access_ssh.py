"""`-H ssh://...` to a berthd behind sshd, with berth's and docker's CLI (issue 10, access).

The sshd (dropbear) runs inside the test sandbox's network namespace on
127.0.0.1; root's home there is a tmpfs (the real ~/.pyenv bound back in), so
keys, known_hosts and ssh config never touch the host's /root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.harness import Sandbox

pytestmark = [pytest.mark.integration, pytest.mark.compat]

PORT = 2222
URL = f"ssh://root@127.0.0.1:{PORT}"


def _private_root(sb: Sandbox) -> None:
    """Give the sandbox's mount namespace its own /root (tmpfs) with .pyenv bound back."""
    keep = os.path.join(sb.dir, "realroot")
    os.makedirs(keep)
    script = (
        f"set -e; mount --bind /root {keep}; mount -t tmpfs -o mode=0700 tmpfs /root; "
        f"for d in .pyenv .cache .local; do if [ -d {keep}/$d ]; then mkdir /root/$d; "
        f"mount --bind {keep}/$d /root/$d; fi; done; mkdir -m 0700 /root/.ssh"
    )
    sb.nsenter(["sh", "-c", script], check=True)


@pytest.fixture(scope="module")
def ssh_sandbox(busybox_tar):
    if not shutil.which("dropbear") or not shutil.which("ssh"):
        pytest.fail("dropbear and ssh are needed (scripts/setup.sh installs dropbear-bin and openssh-client)")
    sb = Sandbox()
    try:
        _private_root(sb)
        sb.start_daemon()
        sb.import_busybox(busybox_tar)
        setup = (
            "set -e; cd /root/.ssh; ssh-keygen -q -t ed25519 -N '' -f id_ed25519; "
            "cp id_ed25519.pub authorized_keys; chmod 600 authorized_keys; "
            "printf 'Host *\\n  StrictHostKeyChecking no\\n  UserKnownHostsFile /dev/null\\n  LogLevel ERROR\\n' > config; "
            "dropbearkey -t ed25519 -f host_key >/dev/null 2>&1"
        )
        sb.nsenter(["sh", "-c", setup], check=True)
        env = dict(os.environ, BERTH_HOST=f"unix://{sb.sock}", DOCKER_HOST=f"unix://{sb.sock}",
                   PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        server = subprocess.Popen(
            sb.nsenter_argv(["dropbear", "-F", "-E", "-e", "-s", "-p", f"127.0.0.1:{PORT}",
                             "-r", "/root/.ssh/host_key", "-P", os.path.join(sb.dir, "dropbear.pid")]),
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(sb.dir, "dropbear.log"), "w"))
        deadline = time.monotonic() + 10
        while sb.nsenter(["sh", "-c", f"echo | busybox nc 127.0.0.1 {PORT} >/dev/null"]).returncode != 0:
            assert time.monotonic() < deadline, "dropbear did not start"
            time.sleep(0.1)
        yield sb
        server.terminate()
        server.wait(timeout=10)
    finally:
        sb.close()


def _client(sb: Sandbox, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
    env["HOME"] = "/root"
    return subprocess.run(sb.nsenter_argv(list(argv)), capture_output=True, text=True, env=env, timeout=timeout)


def test_berth_cli_reaches_the_remote_daemon_over_ssh(ssh_sandbox):
    res = _client(ssh_sandbox, "berth", "-H", URL, "version", "--format", "{{.Server.APIVersion}}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1.45"


def test_run_with_attached_output_works_through_ssh(ssh_sandbox):
    res = _client(ssh_sandbox, "berth", "-H", URL, "run", "--rm", "busybox", "sh", "-c", "echo over-ssh; exit 3")
    assert res.stdout == "over-ssh\n"
    assert res.returncode == 3


def test_stdin_reaches_the_container_through_ssh(ssh_sandbox):
    env = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
    res = subprocess.run(ssh_sandbox.nsenter_argv(["berth", "-H", URL, "run", "--rm", "-i", "busybox", "wc", "-c"]),
                         input="x" * 100000, capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "100000"


def test_docker_cli_uses_ssh_host(ssh_sandbox):
    created = _client(ssh_sandbox, "berth", "create", "--name", "via-ssh", "busybox", "true")
    assert created.returncode != 0  # no BERTH_HOST here: proves the next call really went through ssh
    res = _client(ssh_sandbox, "docker", "-H", URL, "run", "--name", "via-ssh", "busybox", "echo", "docker-over-ssh")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "docker-over-ssh\n"
    names = ssh_sandbox.berth("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert "via-ssh" in names


def test_context_with_ssh_endpoint(ssh_sandbox):
    cfg = "--config=/root/.berth-ctx"
    res = _client(ssh_sandbox, "berth", cfg, "context", "create", "remote", "--docker", f"host={URL}")
    assert res.returncode == 0, res.stderr
    assert _client(ssh_sandbox, "berth", cfg, "context", "use", "remote").returncode == 0
    res = _client(ssh_sandbox, "berth", cfg, "ps", "-a", "--format", "{{.Names}}")
    assert res.returncode == 0, res.stderr
    assert "via-ssh" in res.stdout.split()


def test_unreachable_ssh_host_is_a_clear_error(ssh_sandbox):
    res = _client(ssh_sandbox, "berth", "-H", "ssh://root@127.0.0.1:1", "ps")
    assert res.returncode == 1
    assert "has exited with exit status 255" in res.stderr
    assert "Connection refused" in res.stderr or "connect to host" in res.stderr
