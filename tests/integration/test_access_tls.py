"""Who may use the daemon over TCP: --tlsverify with client certificates, plain TCP rules,
and the unix socket's group (issue 10, access). Clients are berth's and docker's CLIs."""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest

from tests.harness import SRC, Sandbox

pytestmark = [pytest.mark.integration, pytest.mark.compat]

TLS_URL = "tcp://127.0.0.1:2376"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_ca(d: str, name: str) -> tuple[str, str]:
    key, cert = os.path.join(d, f"{name}-key.pem"), os.path.join(d, f"{name}.pem")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
             "-subj", f"/CN={name}", "-days", "2")
    return key, cert


def _issue(d: str, name: str, ca: tuple[str, str], ext: str) -> tuple[str, str]:
    key, csr, cert = (os.path.join(d, f"{name}{s}") for s in ("-key.pem", ".csr", ".pem"))
    extfile = os.path.join(d, f"{name}.ext")
    with open(extfile, "w") as f:
        f.write(ext)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial", "-out", cert,
             "-days", "2", "-extfile", extfile)
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    d = str(tmp_path_factory.mktemp("pki"))
    ca = _make_ca(d, "ca")
    rogue = _make_ca(d, "rogue")
    server = _issue(d, "server", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    client = _issue(d, "client", ca, "extendedKeyUsage=clientAuth\n")
    intruder = _issue(d, "intruder", rogue, "extendedKeyUsage=clientAuth\n")
    certdir = os.path.join(d, "certdir")  # the DOCKER_CERT_PATH / BERTH_CERT_PATH layout
    os.makedirs(certdir)
    shutil.copy(ca[1], os.path.join(certdir, "ca.pem"))
    shutil.copy(client[1], os.path.join(certdir, "cert.pem"))
    shutil.copy(client[0], os.path.join(certdir, "key.pem"))
    return {"ca": ca[1], "server_key": server[0], "server": server[1], "client_key": client[0],
            "client": client[1], "intruder_key": intruder[0], "intruder": intruder[1], "certdir": certdir}


@pytest.fixture(scope="module")
def tls_sandbox(pki):
    sb = Sandbox()
    try:
        sb.start_daemon("-H", TLS_URL, "--tlsverify", "--tlscacert", pki["ca"],
                        "--tlscert", pki["server"], "--tlskey", pki["server_key"])
        yield sb
    finally:
        sb.close()


def _client(sb: Sandbox, argv: list[str], **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("BERTH_HOST", "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")}
    env.update(env_extra)
    return subprocess.run(sb.nsenter_argv(argv), capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("cli", ["berth", "docker"])
def test_client_certificate_signed_by_the_ca_is_let_in(tls_sandbox, pki, cli):
    res = _client(tls_sandbox, [cli, "-H", TLS_URL, "--tlsverify", "--tlscacert", pki["ca"],
                                "--tlscert", pki["client"], "--tlskey", pki["client_key"],
                                "version", "--format", "{{.Server.APIVersion}}"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1.45"


def test_cert_path_and_tls_verify_from_the_environment(tls_sandbox, pki):
    res = _client(tls_sandbox, ["berth", "-H", TLS_URL, "ps", "-q"],
                  BERTH_CERT_PATH=pki["certdir"], BERTH_TLS_VERIFY="1")
    assert res.returncode == 0, res.stderr
    res = _client(tls_sandbox, ["docker", "-H", TLS_URL, "ps", "-q"],
                  DOCKER_CERT_PATH=pki["certdir"], DOCKER_TLS_VERIFY="1")
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("cli", ["berth", "docker"])
def test_no_client_certificate_is_refused(tls_sandbox, pki, cli):
    res = _client(tls_sandbox, [cli, "-H", TLS_URL, "--tlsverify", "--tlscacert", pki["ca"], "ps"])
    assert res.returncode == 1
    assert "error during connect" in res.stderr
    if cli == "berth":  # docker only says EOF; berth says why that probably happened
        assert "client certificate" in res.stderr


@pytest.mark.parametrize("cli", ["berth", "docker"])
def test_certificate_from_another_ca_is_refused(tls_sandbox, pki, cli):
    res = _client(tls_sandbox, [cli, "-H", TLS_URL, "--tlsverify", "--tlscacert", pki["ca"],
                                "--tlscert", pki["intruder"], "--tlskey", pki["intruder_key"], "ps"])
    assert res.returncode == 1
    assert "error during connect" in res.stderr
    assert "Traceback" not in res.stderr


def test_client_refuses_a_server_it_cannot_verify(tls_sandbox, pki):
    res = _client(tls_sandbox, ["berth", "-H", TLS_URL, "--tlsverify", "--tlscacert", pki["intruder"],
                                "--tlscert", pki["client"], "--tlskey", pki["client_key"], "ps"])
    assert res.returncode == 1
    assert "tls: failed to verify certificate" in res.stderr


def test_plain_tcp_on_a_public_address_needs_tls_false_and_is_warned_about(busybox_tar):
    sb = Sandbox()
    try:
        sb.nsenter(["ip", "addr", "add", "192.0.2.10/24", "dev", "lo"], check=True)
        sb.start_daemon("-H", "tcp://192.0.2.10:2375", wait=False)
        assert sb.daemon_proc.wait(timeout=30) != 0
        assert "refusing to listen on tcp://192.0.2.10:2375 without TLS" in sb.log_text()
        sb.start_daemon("-H", "tcp://192.0.2.10:2375", "--tls=false")
        res = _client(sb, ["berth", "-H", "tcp://192.0.2.10:2375", "info", "--format", "{{json .Warnings}}"])
        assert res.returncode == 0, res.stderr
        assert "without TLS" in res.stdout
    finally:
        sb.close()


def test_tlsverify_without_certificates_is_a_clear_start_error():
    sb = Sandbox()
    try:
        sb.start_daemon("-H", TLS_URL, "--tlsverify", wait=False)
        assert sb.daemon_proc.wait(timeout=30) != 0
        assert "--tlscert, --tlskey, --tlscacert is missing" in sb.log_text()
    finally:
        sb.close()


def test_unix_socket_is_0660_root_and_group_berth(tls_sandbox):
    st = os.stat(tls_sandbox.sock)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0
    assert st.st_gid == grp.getgrnam("berth").gr_gid


def test_member_of_berth_group_may_use_the_socket_and_others_may_not(tls_sandbox):
    """A non-root uid with the berth group gets in; the same uid without it is refused."""
    gid = grp.getgrnam("berth").gr_gid
    sock_dir = os.path.dirname(tls_sandbox.sock)
    os.chmod(sock_dir, 0o755)  # the test's temp dir; the socket's own mode is what is tested
    probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); "
             f"s.connect({tls_sandbox.sock!r}); s.sendall(b'GET /_ping HTTP/1.0\\r\\n\\r\\n'); "
             "sys.stdout.write(s.recv(100).decode().split(chr(13))[0])")
    member = subprocess.run(["setpriv", "--reuid=65534", f"--regid={gid}", "--clear-groups", "python3", "-S", "-c", probe],
                            capture_output=True, text=True, timeout=30)
    assert member.stdout.startswith("HTTP/1."), member.stderr
    assert " 200 " in member.stdout + " "
    outsider = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "python3", "-S", "-c", probe],
                              capture_output=True, text=True, timeout=30)
    assert outsider.returncode != 0
    assert "PermissionError" in outsider.stderr


def test_a_second_daemon_on_the_same_data_root_is_refused(tls_sandbox):
    """Even with its own pidfile and socket: the data root is locked by the first."""
    sb = tls_sandbox
    argv = [sys.executable, "-m", "berth.daemon.main", "-H", f"unix://{sb.dir}/second.sock",
            "--data-root", sb.data_root, "--exec-root", f"{sb.dir}/run2", "--pidfile", f"{sb.dir}/second.pid"]
    res = subprocess.run(sb.nsenter_argv(argv), capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=SRC))
    assert res.returncode != 0
    assert "berthd: another berthd (pid " in res.stderr
    assert f"is using the data root {sb.data_root}" in res.stderr
    assert not os.path.exists(f"{sb.dir}/second.sock")
    assert _client(sb, ["berth", "-H", f"unix://{sb.sock}", "version", "--format", "{{.Server.APIVersion}}"]).stdout.strip() == "1.45"
