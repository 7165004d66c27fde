"""Pure logic of the registry server: names, digests, config, manifests, tokens, gc."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time

import pytest

from berth.cli.main import main
from berth.registry import manifests as mf
from berth.registry.auth import Access, Authorizer, parse_scopes
from berth.registry.config import (
    AclEntry,
    ConfigError,
    RegistryConfig,
    load_file,
    parse_duration,
)
from berth.registry.errors import RegistryError
from berth.registry.names import parse_digest, route, valid_name
from berth.registry.storage import Storage


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- names
@pytest.mark.parametrize("name", ["a", "team/app", "a.b_c__d--e/f-1", "x" * 255])
def test_valid_names(name):
    assert valid_name(name)


@pytest.mark.parametrize("name", ["A", "a/", "/a", "a//b", "a/../b", "..", "a/.b", "_a", "a__-b", "a%2fb",
                                  "x" * 256, "a b"])
def test_invalid_names(name):
    assert not valid_name(name)


def test_route_shapes():
    d = digest(b"x")
    assert route("/v2/").kind == "base"
    assert route("/v2/_catalog").kind == "catalog"
    r = route(f"/v2/a/blobs/uploads/blobs/{d}")
    assert (r.kind, r.name, r.ref) == ("blob", "a/blobs/uploads", d)
    r = route("/v2/a/b/blobs/uploads/")
    assert (r.kind, r.name) == ("uploads", "a/b")
    r = route("/v2/a/manifests/manifests/latest")
    assert (r.kind, r.name, r.ref) == ("manifest", "a/manifests", "latest")
    assert route("/other") is None
    assert route("/token", "/token").kind == "token"
    for bad in ("/v2/a/%2E%2E/tags/list", "/v2/A/manifests/x", "/v2/a/./b/blobs/uploads/"):
        with pytest.raises(RegistryError) as exc:
            route(bad)
        assert exc.value.code == "NAME_INVALID" and exc.value.status == 400


def test_parse_digest():
    assert parse_digest(digest(b"")) == ("sha256", hashlib.sha256(b"").hexdigest())
    assert parse_digest("sha512:" + "a" * 128)[0] == "sha512"
    for bad in ("sha256:" + "A" * 64, "sha256:abc", "sha384:" + "a" * 96, "nocolon", "sha256:../../x"):
        with pytest.raises(RegistryError) as exc:
            parse_digest(bad)
        assert exc.value.code == "DIGEST_INVALID"


def test_error_body_shape():
    err = RegistryError("BLOB_UNKNOWN", {"digest": "sha256:x"})
    assert err.status == 404
    assert json.loads(err.body()) == {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry",
                                                  "detail": {"digest": "sha256:x"}}]}


# ---------------------------------------------------------------- config
def test_durations():
    assert parse_duration("168h", "x") == 168 * 3600
    assert parse_duration("1h30m", "x") == 5400
    assert parse_duration("500ms", "x") == 0.5
    assert parse_duration(30, "x") == 30
    for bad in ("", "10", "5 minutes", "h"):
        with pytest.raises(ConfigError):
            parse_duration(bad, "x")


def test_config_file_in_distributions_layout(tmp_path):
    p = tmp_path / "config.yml"
    p.write_text("""version: 0.1
http: {addr: ":5001", tls: {certificate: /c.pem, key: /k.pem}}
storage:
  filesystem: {rootdirectory: /srv/reg}
  delete: {enabled: true}
  maintenance: {uploadpurging: {enabled: true, age: 2h, interval: 10m}}
auth:
  htpasswd: {realm: R, path: /h}
  acl: [{account: bob, name: "team/*", actions: "pull,push"}]
""")
    cfg = RegistryConfig()
    load_file(str(p), cfg)
    assert (cfg.addr, cfg.root, cfg.delete_enabled, cfg.purge_age, cfg.purge_interval) == \
        (":5001", "/srv/reg", True, 7200, 600)
    assert (cfg.tls_cert, cfg.tls_key, cfg.htpasswd_realm, cfg.auth_mode) == ("/c.pem", "/k.pem", "R", "htpasswd")
    assert cfg.acl == [AclEntry("bob", "team/*", frozenset({"pull", "push"}))]
    cfg.validate()


@pytest.mark.parametrize("text, message", [
    ("storage: {s3: {bucket: x}}", "storage: unsupported setting(s) s3"),
    ("http: {addr: x, secret: y}", "http: unsupported setting(s) secret"),
    ("auth: {acl: [{account: a, name: b, actions: [fly]}]}", "auth.acl[0]"),
    ("[1, 2", "config file"),
])
def test_config_file_refuses_what_it_does_not_implement(tmp_path, text, message):
    p = tmp_path / "c.yml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_file(str(p), RegistryConfig())
    assert message in str(exc.value)


def test_config_validation():
    for cfg, message in ((RegistryConfig(), "storage root"),
                         (RegistryConfig(root="/r", addr="nope"), "HOST:PORT"),
                         (RegistryConfig(root="/r", tls_cert="/c"), "both"),
                         (RegistryConfig(root="/r", token_realm="http://x/token"), "htpasswd")):
        with pytest.raises(ConfigError) as exc:
            cfg.validate()
        assert message in str(exc.value)


def test_serve_cli_reports_config_errors(capsys):
    assert main(["registry", "serve"]) == 1
    assert "a storage root is required" in capsys.readouterr().err
    assert main(["registry", "serve", "--root", "/tmp/x", "--upload-purge-age", "soon"]) == 1
    assert "invalid duration for --upload-purge-age" in capsys.readouterr().err


def test_serve_cli_fails_clearly_before_listening(capsys, tmp_path):
    # both fail before any socket is bound
    assert main(["registry", "serve", "--root", str(tmp_path), "--tls-cert", "/no/cert", "--tls-key", "/no/key"]) == 1
    assert "cannot load TLS certificate /no/cert" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["registry", "serve", "--root", str(tmp_path / "file" / "x")]) == 1
    assert "cannot use storage root" in capsys.readouterr().err
    (tmp_path / "h").write_text("bob:{SHA}abc\n")
    assert main(["registry", "serve", "--root", str(tmp_path), "--htpasswd", str(tmp_path / "h")]) == 1
    assert "only bcrypt entries are supported" in capsys.readouterr().err


# ---------------------------------------------------------------- manifests
def _image(media_type: str = mf.DOCKER_MANIFEST, **extra) -> dict:
    return {"schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": "c", "digest": digest(b"c"), "size": 1},
            "layers": [{"mediaType": "l", "digest": digest(b"l"), "size": 1}], **extra}


def test_manifest_parse_kinds():
    p = mf.parse(json.dumps(_image()).encode(), mf.DOCKER_MANIFEST)
    assert p.media_type == mf.DOCKER_MANIFEST and [d.digest for d in p.blobs] == [digest(b"c"), digest(b"l")]
    doc = _image(mf.OCI_MANIFEST)
    del doc["mediaType"]
    assert mf.parse(json.dumps(doc).encode(), "").media_type == mf.OCI_MANIFEST
    idx = {"schemaVersion": 2, "manifests": [{"mediaType": mf.OCI_MANIFEST, "digest": digest(b"m"), "size": 3}]}
    p = mf.parse(json.dumps(idx).encode(), mf.OCI_INDEX)
    assert p.media_type == mf.OCI_INDEX and p.children[0].digest == digest(b"m")
    foreign = _image()
    foreign["layers"].append({"mediaType": mf.FOREIGN_LAYERS[0], "digest": digest(b"f"), "size": 1,
                              "urls": ["https://example.com/f"]})
    assert len(mf.parse(json.dumps(foreign).encode(), mf.DOCKER_MANIFEST).blobs) == 2
    sub = _image(mf.OCI_MANIFEST, subject={"mediaType": mf.OCI_MANIFEST, "digest": digest(b"s"), "size": 1})
    p = mf.parse(json.dumps(sub).encode(), mf.OCI_MANIFEST)
    assert p.subject.digest == digest(b"s") and p.artifact_type == "c"


@pytest.mark.parametrize("body, ctype", [
    (json.dumps({**_image(), "mediaType": None}), mf.DOCKER_MANIFEST),
    (json.dumps({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}), ""),
    (json.dumps(_image(mf.OCI_MANIFEST, layers=[{"digest": "sha256:zz", "size": 1}])), mf.OCI_MANIFEST),
    (json.dumps(_image(mf.OCI_MANIFEST, layers=[{"digest": digest(b"l"), "size": -1}])), mf.OCI_MANIFEST),
    (json.dumps({**_image(), "schemaVersion": 3}), mf.DOCKER_MANIFEST),
    (json.dumps(_image()), "application/vnd.oci.artifact.manifest.v1+json"),
    ("[]", mf.OCI_MANIFEST),
])
def test_manifest_parse_rejects(body, ctype):
    with pytest.raises(RegistryError) as exc:
        mf.parse(body.encode(), ctype)
    assert exc.value.code == "MANIFEST_INVALID"


def test_accept_negotiation_rules():
    acc = mf.accepted_types([f"{mf.DOCKER_MANIFEST}; q=0.9", "application/json"])
    assert mf.must_substitute(mf.DOCKER_LIST, acc) and mf.must_substitute(mf.OCI_MANIFEST, acc)
    assert not mf.must_substitute(mf.DOCKER_MANIFEST, {mf.OCI_MANIFEST})
    assert not mf.must_substitute(mf.OCI_INDEX, set()) and not mf.must_substitute(mf.OCI_INDEX, {"*/*"})


# ---------------------------------------------------------------- auth
def _authorizer(tmp_path, **kw) -> Authorizer:
    cfg = RegistryConfig(root=str(tmp_path), token_realm="http://r/token", htpasswd_path="", **kw)
    return Authorizer(cfg, str(tmp_path))


def test_tokens_carry_only_what_the_acl_grants(tmp_path):
    a = _authorizer(tmp_path, acl=[AclEntry("bob", "team/*", frozenset({"pull"}))])
    doc = a.issue("bob", parse_scopes(["repository:team/app:pull,push repository:other:pull"]))
    claims = a.verify(doc["token"])
    assert claims["sub"] == "bob" and claims["access"] == [{"type": "repository", "name": "team/app",
                                                            "actions": ["pull"]}]
    head, body, sig = doc["token"].split(".")
    forged = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged["access"][0]["actions"] = ["pull", "push"]
    fb = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    assert a.verify(f"{head}.{fb}.{sig}") is None
    # the secret survives a restart (same root), so tokens stay valid
    assert _authorizer(tmp_path).verify(doc["token"]) is not None
    assert os.stat(tmp_path / ".token-secret").st_mode & 0o777 == 0o600


def test_expired_token_is_refused(tmp_path):
    a = _authorizer(tmp_path, token_expiration=-120)
    assert a.verify(a.issue("bob", [])["token"]) is None


def test_authorize_denies_and_challenges(tmp_path):
    a = _authorizer(tmp_path, acl=[AclEntry("bob", "team/*", frozenset({"pull"})),
                                   AclEntry("anonymous", "public/*", frozenset({"pull"}))])
    pull, push = Access("repository", "team/app", ("pull",)), Access("repository", "team/app", ("pull", "push"))
    token = "Bearer " + a.issue("bob", [push])["token"]
    assert a.authorize(token, pull) == "bob"
    with pytest.raises(RegistryError) as exc:
        a.authorize(token, push)
    assert exc.value.code == "DENIED" and exc.value.status == 403
    with pytest.raises(RegistryError) as exc:
        a.authorize(None, push)
    assert exc.value.status == 401 and 'scope="repository:team/app:pull,push"' in exc.value.headers["WWW-Authenticate"]
    assert a.authorize(None, Access("repository", "public/x", ("pull",))) == ""


# ---------------------------------------------------------------- gc
def _put_image(st: Storage, name: str, layer: bytes, tag: str | None) -> str:
    config = b'{"os":"linux"}'
    for blob in (config, layer):
        st.write_blob(digest(blob), blob)
        st.link_blob(name, digest(blob))
    doc = json.dumps(_image() | {"config": {"mediaType": "c", "digest": digest(config), "size": len(config)},
                                 "layers": [{"mediaType": "l", "digest": digest(layer), "size": len(layer)}]}).encode()
    st.put_manifest(name, digest(doc), mf.DOCKER_MANIFEST, doc, tag, None)
    return digest(doc)


def test_gc_sweeps_unreferenced_blobs_and_optionally_untagged_manifests(tmp_path, capsys):
    root = str(tmp_path / "reg")
    st = Storage(root)
    tagged = _put_image(st, "team/app", b"tagged layer", "v1")
    untagged = _put_image(st, "team/app", b"untagged layer", None)
    child = _put_image(st, "team/multi", b"child layer", None)
    idx = json.dumps({"schemaVersion": 2, "mediaType": mf.OCI_INDEX,
                      "manifests": [{"mediaType": mf.DOCKER_MANIFEST, "digest": child, "size": 1}]}).encode()
    st.put_manifest("team/multi", digest(idx), mf.OCI_INDEX, idx, "latest", None)
    st.write_blob(digest(b"cache"), b"cache")
    st.link_blob("team/multi", digest(b"cache"))
    cache = json.dumps({"schemaVersion": 2, "mediaType": mf.OCI_INDEX, "manifests": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(b"cache"), "size": 5}]}).encode()
    st.put_manifest("team/multi", digest(cache), mf.OCI_INDEX, cache, "cache", None)
    st.write_blob(digest(b"orphan"), b"orphan")
    st.link_blob("team/app", digest(b"orphan"))

    stale = os.path.join(root, "blobs", "sha256", ".tmp-crashed")
    os.makedirs(os.path.dirname(stale), exist_ok=True)
    with open(stale, "w") as f:
        f.write("half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert main(["registry", "gc", "--root", root, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"blob eligible for deletion: {digest(b'orphan')}" in out and "would free 6 bytes" in out
    assert st.blob_size(digest(b"orphan")) == 6

    assert main(["registry", "gc", "--root", root]) == 0
    capsys.readouterr()
    assert st.blob_size(digest(b"orphan")) is None and not os.path.exists(stale)
    assert st.repo_blob_size("team/app", digest(b"orphan")) is None
    assert st.blob_size(digest(b"untagged layer")) == 14 and st.manifest("team/app", untagged)

    assert main(["registry", "gc", "--root", root, "--delete-untagged"]) == 0
    assert st.manifest("team/app", untagged) is None and st.blob_size(digest(b"untagged layer")) is None
    assert st.manifest("team/app", tagged) and st.blob_size(digest(b"tagged layer")) == 12
    assert st.manifest("team/multi", child) and st.blob_size(digest(b"child layer")) == 11
    assert st.blob_size(digest(idx)) == len(idx) and st.blob_size(digest(b"cache")) == 5


def test_gc_needs_an_existing_root(capsys, tmp_path):
    assert main(["registry", "gc", "--root", str(tmp_path / "missing")]) == 1
    assert "no such directory" in capsys.readouterr().err


# ---------------------------------------------------------------- external token issuer
def _cert(key, name: str):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))


def _jwt(key, alg: str, claims: dict, header: dict | None = None) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = {"alg": alg, "typ": "JWT", **(header or {})}
    signed = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}"
    if alg == "RS256":
        sig = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s_ = utils.decode_dss_signature(key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s_.to_bytes(32, "big")
    return f"{signed}.{b64(sig)}"


def test_tokens_of_an_external_issuer_are_verified_with_the_bundle(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    ec_key, rsa_key, stranger = (ec.generate_private_key(ec.SECP256R1()),
                                 rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                 ec.generate_private_key(ec.SECP256R1()))
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"".join(_cert(k, n).public_bytes(serialization.Encoding.PEM)
                                for k, n in ((ec_key, "ec"), (rsa_key, "rsa"))))
    cfg = RegistryConfig(root=str(tmp_path), token_realm="https://auth.example/token", token_service="reg",
                         token_issuer="auth.example", token_rootcertbundle=str(bundle))
    cfg.validate()
    a = Authorizer(cfg, str(tmp_path))
    assert not a.issues_tokens and not (tmp_path / ".token-secret").exists()
    now = int(time.time())
    claims = {"iss": "auth.example", "aud": "reg", "sub": "carol", "exp": now + 60, "nbf": now - 1,
              "access": [{"type": "repository", "name": "team/app", "actions": ["pull"]}]}
    pull = Access("repository", "team/app", ("pull",))
    for key, alg in ((ec_key, "ES256"), (rsa_key, "RS256")):
        assert a.authorize("Bearer " + _jwt(key, alg, claims), pull) == "carol"
    for bad_key, bad_claims in ((stranger, claims), (ec_key, {**claims, "aud": "other"}),
                                (ec_key, {**claims, "exp": now - 100})):
        with pytest.raises(RegistryError) as exc:
            a.authorize("Bearer " + _jwt(bad_key, "ES256", bad_claims), pull)
        assert exc.value.status == 401
    with pytest.raises(RegistryError) as exc:
        a.authorize("Bearer " + _jwt(ec_key, "ES256", claims), Access("repository", "team/app", ("pull", "push")))
    assert exc.value.code == "DENIED"
    with pytest.raises(ConfigError):
        RegistryConfig(root="/r", token_rootcertbundle=str(bundle)).validate()

    # a leaf certificate in the token's x5c, issued by the bundle's EC certificate
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now_dt = datetime.datetime.now(datetime.timezone.utc)
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")])).public_key(leaf_key.public_key())
            .serial_number(2).not_valid_before(now_dt - datetime.timedelta(days=1))
            .not_valid_after(now_dt + datetime.timedelta(days=1)).sign(ec_key, hashes.SHA256()))
    x5c = {"x5c": [base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()]}
    assert a.authorize("Bearer " + _jwt(leaf_key, "ES256", claims, x5c), pull) == "carol"
    with pytest.raises(RegistryError):  # the x5c leaf must be the signer
        a.authorize("Bearer " + _jwt(ec_key, "ES256", claims, x5c), pull)
    self_signed = {"x5c": [base64.b64encode(_cert(stranger, "s").public_bytes(serialization.Encoding.DER)).decode()]}
    with pytest.raises(RegistryError):  # a chain that does not lead to the bundle
        a.authorize("Bearer " + _jwt(stranger, "ES256", claims, self_signed), pull)


def test_the_example_config_in_serve_help_loads(tmp_path):
    from berth.cli.cmd_registry import _SERVE_HELP

    p = tmp_path / "example.yml"
    p.write_text(_SERVE_HELP.split("\n", 2)[2])
    cfg = RegistryConfig()
    load_file(str(p), cfg)
    assert (cfg.auth_mode, cfg.addr, cfg.delete_enabled, len(cfg.acl)) == ("token", "0.0.0.0:5000", True, 3)
