"""Pure pieces of the distribution client: X-Registry-Auth decoding, auth
challenges, registry error texts, which registries may use plain HTTP,
platform choice in manifest lists, docker's progress bar, push manifests."""

from __future__ import annotations

import base64
import json

import pytest

from berth.distribution import progress
from berth.distribution.client import (
    AuthConfig,
    describe_errors,
    is_insecure,
    parse_challenge,
)
from berth.errors import InvalidParameter, NotFound
from berth.images import manifests as mf


def _header(doc) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def test_registry_auth_header_is_base64url_json_any_key_case():
    a = AuthConfig.from_header(_header({"Username": "alice", "password": "p+/=?", "serveraddress": "r:5000"}))
    assert (a.username, a.password, a.serveraddress) == ("alice", "p+/=?", "r:5000")
    assert AuthConfig.from_header(_header({"identitytoken": "tok"})).identitytoken == "tok"
    assert AuthConfig.from_header("").empty
    assert AuthConfig.from_header("%%%not base64").empty  # docker pulls anonymously then
    assert AuthConfig.from_header(_header(["a list"])).empty


def test_challenges_parse_quoted_and_bare_parameters():
    assert parse_challenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"') == (
        "bearer", {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull"})
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
    assert parse_challenge("") is None


def test_registry_errors_read_as_docker_prints_them():
    body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode()
    assert describe_errors(404, body) == ("MANIFEST_UNKNOWN", "manifest unknown: manifest unknown")
    body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
    assert describe_errors(401, body)[1] == "unauthorized: authentication required"
    assert describe_errors(502, b"<html>")[1] == "unexpected status from registry: 502 Bad Gateway"


@pytest.mark.parametrize("host,insecure,expected", [
    ("127.0.0.1:5000", [], True),
    ("localhost:5000", [], True),
    ("[::1]:5000", [], True),
    ("10.1.2.3:5000", [], False),
    ("10.1.2.3:5000", ["10.0.0.0/8"], True),
    ("reg.example:5000", ["reg.example:5000"], True),
    ("reg.example:5000", ["http://reg.example:5000/"], True),
    ("10.1.2.3", ["10.1.2.4"], False),
])
def test_plain_http_only_for_loopback_and_insecure_registries(host, insecure, expected):
    assert is_insecure(host, insecure) is expected


def _index(*platforms):
    return {"manifests": [{"mediaType": mf.OCI_MANIFEST, "digest": f"sha256:{i:064x}", "platform": p}
                          for i, p in enumerate(platforms)]}


def test_platform_pick_prefers_exact_variant_and_skips_attestations():
    idx = _index({"os": "unknown", "architecture": "unknown"},
                 {"os": "linux", "architecture": "arm", "variant": "v6"},
                 {"os": "linux", "architecture": "arm", "variant": "v7"},
                 {"os": "linux", "architecture": "amd64"},
                 {"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert mf.pick_platform(idx, mf.Platform("linux", "amd64"), "x")["digest"].endswith("3")
    assert mf.pick_platform(idx, mf.Platform("linux", "arm", "v7"), "x")["digest"].endswith("2")
    assert mf.pick_platform(idx, mf.parse_platform("linux/arm64"), "x")["digest"].endswith("4")
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        mf.pick_platform(idx, mf.Platform("linux", "s390x"), "x")


def test_platform_flag_parsing():
    assert mf.parse_platform("linux/amd64") == mf.Platform("linux", "amd64")
    assert mf.parse_platform("linux/aarch64") == mf.Platform("linux", "arm64")
    with pytest.raises(InvalidParameter):
        mf.parse_platform("linux//amd64")


def test_schema1_manifests_are_refused_with_dockers_notice():
    with pytest.raises(InvalidParameter, match="DEPRECATION NOTICE"):
        mf.check_manifest({"schemaVersion": 1}, mf.DOCKER_SCHEMA1[1])


def test_progress_bar_matches_dockers_daemon_side_rendering():
    assert progress.bar(0, 0) == ""
    assert progress.bar(1_200_000, 3_400_000) == "[=================>" + " " * 33 + "]    1.2MB/3.4MB"
    assert progress.bar(5, 5).startswith("[" + "=" * 50 + ">]")


def test_push_manifest_shapes():
    config = b'{"rootfs":{"type":"layers","diff_ids":[]}}'
    layers = [mf.LayerDescriptor(mf.DOCKER_LAYER, 10, "sha256:" + "a" * 64)]
    docker = json.loads(mf.build_manifest(False, config, layers))
    assert docker["mediaType"] == mf.DOCKER_MANIFEST and docker["config"]["mediaType"] == mf.DOCKER_CONFIG
    assert docker["layers"][0]["mediaType"] == mf.DOCKER_LAYER
    assert mf.build_manifest(False, config, layers).startswith(b'{\n   "schemaVersion": 2,')
    oci = json.loads(mf.build_manifest(True, config, layers))
    assert oci["mediaType"] == mf.OCI_MANIFEST and oci["layers"][0]["mediaType"] == mf.OCI_LAYER_GZIP
    assert oci["config"]["digest"] == mf.sha256(config)


def test_cli_credentials_come_from_berth_then_docker_config(tmp_path, monkeypatch):
    from berth.cli import cmd_distribution as cd

    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    (home / ".berth").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("BERTH_CONFIG", raising=False)

    class FakeCli:
        config_dir = str(home / ".berth")

    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubuser:hubpw").decode()},
        "http://reg.example:5000": {"auth": base64.b64encode(b"docker:dpw").decode()}}}))
    assert cd.find_credentials(FakeCli(), "docker.io")["username"] == "hubuser"
    assert cd.find_credentials(FakeCli(), "reg.example:5000")["password"] == "dpw"
    (home / ".berth" / "config.json").write_text(json.dumps({"currentContext": "x", "auths": {
        "reg.example:5000": {"auth": base64.b64encode(b"berth:bpw").decode()}}}))
    assert cd.find_credentials(FakeCli(), "reg.example:5000")["username"] == "berth"
    assert cd.find_credentials(FakeCli(), "other:1") is None
    header = dict(cd.registry_auth_header(FakeCli(), "reg.example:5000"))["X-Registry-Auth"]
    assert AuthConfig.from_header(header).password == "bpw"
    assert AuthConfig.from_header(dict(cd.registry_auth_header(FakeCli(), "none:1"))["X-Registry-Auth"]).empty


@pytest.mark.parametrize("address", ["reg\x01.example", "a b:5000", "", "http://x/\n"])
def test_login_refuses_malformed_registry_addresses(address):
    from berth.distribution.service import DistributionConfig, DistributionService

    svc = DistributionService.__new__(DistributionService)
    svc.cfg = DistributionConfig()
    with pytest.raises(InvalidParameter, match="invalid registry address"):
        svc.login(AuthConfig(username="u", password="p", serveraddress=address or "http:///"))
