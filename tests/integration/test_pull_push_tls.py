"""Which registries berthd trusts: TLS with a CA from certs.d, an unknown CA
refused with Go's x509 wording, plain HTTP refused unless the registry is in
--insecure-registry (then https is tried first and http used, as dockerd).

The registries listen on extra addresses of the sandbox's loopback (10.99.0.x,
not 127.0.0.0/8, so the loopback exemption does not apply); certs.d lives in
an overlay over /etc inside the sandbox's mount namespace only."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from harness import Sandbox
from test_pull_push_util import start_registry

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed"),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")]


def _certs(d: str) -> tuple[str, str, str]:
    def run(*argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True, cwd=d)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=berth-test-ca")
    run("openssl", "req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=10.99.0.1")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:10.99.0.1,IP:10.99.0.2\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.crt", "-days", "2", "-extfile", "ext")
    return os.path.join(d, "ca.crt"), os.path.join(d, "srv.crt"), os.path.join(d, "srv.key")


@pytest.fixture(scope="module")
def sb(busybox_tar):
    sb = Sandbox()
    try:
        for ip in ("10.99.0.1", "10.99.0.2", "10.99.0.3"):
            sb.nsenter(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], check=True)
        ca, crt, key = _certs(sb.dir)
        upper, work = os.path.join(sb.dir, "etc-upper"), os.path.join(sb.dir, "etc-work")
        os.makedirs(upper)
        os.makedirs(work)
        sb.nsenter(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/etc,upperdir={upper},workdir={work}",
                    "/etc"], check=True)
        sb.nsenter(["mkdir", "-p", "/etc/berth/certs.d/10.99.0.1:5443"], check=True)
        sb.nsenter(["cp", ca, "/etc/berth/certs.d/10.99.0.1:5443/ca.crt"], check=True)
        assert not os.path.exists("/etc/berth/certs.d/10.99.0.1:5443")  # the host's /etc is untouched
        sb.start_daemon("--insecure-registry", "10.99.0.3:5000")
        sb.import_busybox(busybox_tar)
        start_registry(sb, 5443, host="10.99.0.1", tls=(crt, key))
        start_registry(sb, 5443, host="10.99.0.2", tls=(crt, key))
        start_registry(sb, 5000, host="10.99.0.2")
        start_registry(sb, 5000, host="10.99.0.3")
        yield sb
    finally:
        sb.close()


def test_tls_registry_with_ca_from_certs_d(sb):
    assert sb.berth("tag", "busybox", "10.99.0.1:5443/team/app").returncode == 0
    r = sb.berth("push", "10.99.0.1:5443/team/app")
    assert r.returncode == 0 and "latest: digest: sha256:" in r.stdout, (r.stdout, r.stderr)
    assert sb.berth("rmi", "10.99.0.1:5443/team/app").returncode == 0
    r = sb.berth("pull", "10.99.0.1:5443/team/app")
    assert r.returncode == 0, r.stderr


def test_unknown_ca_is_refused_with_gos_words(sb):
    r = sb.berth("pull", "10.99.0.2:5443/team/app")
    assert r.returncode == 1
    assert ('Get "https://10.99.0.2:5443/v2/": tls: failed to verify certificate: '
            "x509: certificate signed by unknown authority") in r.stderr, r.stderr


def test_plain_http_needs_insecure_registry(sb):
    r = sb.berth("pull", "10.99.0.2:5000/team/app")
    assert r.returncode == 1
    assert 'Get "https://10.99.0.2:5000/v2/": http: server gave HTTP response to HTTPS client' in r.stderr, r.stderr
    assert sb.berth("tag", "busybox", "10.99.0.3:5000/team/app").returncode == 0
    r = sb.berth("push", "10.99.0.3:5000/team/app")
    assert r.returncode == 0 and "latest: digest:" in r.stdout, (r.stdout, r.stderr)
