"""Installing and starting Berth the way a systemd host does."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.integration


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify():
    units = [os.path.join(ROOT, "contrib", name) for name in ("berth.socket", "berth.service")]
    r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""


def test_service_unit_keeps_containers_when_berthd_stops():
    text = open(os.path.join(ROOT, "contrib", "berth.service")).read()
    assert "KillMode=process" in text
    assert "-H fd://" in text


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd is not installed")
def test_socket_activation_serves_the_api(tmp_path):
    """berthd -H fd:// takes its listening socket from systemd (LISTEN_FDS)."""
    from harness import Sandbox

    sb = Sandbox()
    try:
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
        argv = sb.nsenter_argv([
            "systemd-socket-activate", "-l", sb.sock, "-E", "PYTHONPATH",
            sys.executable, "-m", "berth.daemon.main", "-H", "fd://", "--data-root", sb.data_root,
            "--exec-root", sb.exec_root, "--pidfile", os.path.join(sb.dir, "p.pid"),
            "--config-file", sb.config_file])
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            answer = b""
            while time.monotonic() < deadline and not answer.startswith(b"HTTP/1.1 200"):
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.settimeout(10)
                    s.connect(sb.sock)
                    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                    answer = s.recv(200)
                    s.close()
                except OSError:
                    time.sleep(0.1)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            assert b"API-Version: 1.45" in answer
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=10)
    finally:
        sb.close()
