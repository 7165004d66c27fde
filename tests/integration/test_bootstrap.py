"""Base images made offline (busybox) or from the Debian mirror (debian), then run."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.integration


def _mirror_reachable() -> bool:
    from berth.images.bootstrap import debian

    for url in debian.host_mirrors():
        parsed = urlparse(url)
        try:
            socket.create_connection((parsed.hostname, parsed.port or 80), timeout=3).close()
            return True
        except OSError:
            continue
    return False


def test_bootstrap_busybox_through_the_cli(fresh_sandbox):
    sb = fresh_sandbox
    assert sb.berth("rmi", "busybox").returncode == 0
    r = sb.berth("image", "bootstrap", "busybox")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("sha256:")
    inspect = sb.berth("image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox:latest")
    assert inspect.stdout.strip() == '["sh"]'
    r = sb.berth("run", "--rm", "busybox", "sh", "-c", "id -un; ls /bin | wc -l")
    lines = r.stdout.split()
    assert lines[0] == "root" and int(lines[1]) > 200


def test_bootstrap_of_an_unknown_image_says_what_is_supported(sandbox):
    r = sandbox.berth("image", "bootstrap", "alpine")
    assert r.returncode == 1
    assert "cannot bootstrap alpine: supported images are busybox" in r.stderr


def test_bootstrap_debian_bookworm_runs_bash_and_apt(sandbox):
    if not _mirror_reachable():
        pytest.skip("the Debian mirror is not reachable from this machine")
    r = sandbox.berth("image", "bootstrap", "debian:bookworm", timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "I: " in r.stderr  # mmdebstrap's phases are shown as progress
    r = sandbox.berth("run", "--rm", "debian:bookworm", "bash", "-c",
                      'echo "$BASH_VERSION"; apt-get --version | head -1; cat /etc/debian_version')
    assert r.returncode == 0, r.stderr
    bash_version, apt_line, debian_version = r.stdout.splitlines()
    assert bash_version.startswith("5.")
    assert apt_line.startswith("apt ")
    assert debian_version.startswith("12")
