import pytest

from berth.errors import InvalidParameter
from berth.images import reference
from berth.images.reference import (
    Reference,
    is_full_image_id,
    is_image_id_prefix,
    parse,
)

HEX64 = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "text, domain, path, tag, digest",
    [
        ("busybox", "docker.io", "library/busybox", "latest", None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("library/busybox", "docker.io", "library/busybox", "latest", None),
        ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
        ("docker.io/library/busybox", "docker.io", "library/busybox", "latest", None),
        ("index.docker.io/library/busybox:glibc", "docker.io", "library/busybox", "glibc", None),
        ("index.docker.io/user/app", "docker.io", "user/app", "latest", None),
        ("user/app", "docker.io", "user/app", "latest", None),
        ("user/team/app:v1", "docker.io", "user/team/app", "v1", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/app", "localhost:5000", "app", "latest", None),
        ("myreg.example.com/a/b/c:t", "myreg.example.com", "a/b/c", "t", None),
        ("myreg:5000/app", "myreg:5000", "app", "latest", None),
        ("127.0.0.1:5000/app:1", "127.0.0.1:5000", "app", "1", None),
        ("[::1]:5000/app", "[::1]:5000", "app", "latest", None),
        ("Registry.Example.com/app", "Registry.Example.com", "app", "latest", None),
        ("Foo/app", "Foo", "app", "latest", None),  # upper case first component is a domain
        ("app@sha256:" + HEX64, "docker.io", "library/app", None, "sha256:" + HEX64),
        ("app:v1@sha256:" + HEX64, "docker.io", "library/app", "v1", "sha256:" + HEX64),
        ("a_b.c-d__e---f", "docker.io", "library/a_b.c-d__e---f", "latest", None),
        ("app:" + "A" * 128, "docker.io", "library/app", "A" * 128, None),
        ("app:_under.score-dash", "docker.io", "library/app", "_under.score-dash", None),
    ],
)
def test_parse_normalises_like_docker(text, domain, path, tag, digest):
    assert parse(text) == Reference(domain, path, tag, digest)


@pytest.mark.parametrize(
    "text, full, familiar, familiar_name",
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest", "busybox"),
        ("user/app:v2", "docker.io/user/app:v2", "user/app:v2", "user/app"),
        ("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", "library/a/b"),
        ("myreg:5000/app@sha256:" + HEX64, "myreg:5000/app@sha256:" + HEX64, "myreg:5000/app@sha256:" + HEX64,
         "myreg:5000/app"),
        ("localhost/x:y", "localhost/x:y", "localhost/x:y", "localhost/x"),
    ],
)
def test_string_forms(text, full, familiar, familiar_name):
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert ref.familiar_name == familiar_name


def test_name_property_is_domain_and_path():
    assert parse("busybox").name == "docker.io/library/busybox"
    assert parse("localhost:5000/a/b:t").name == "localhost:5000/a/b"


def test_default_tag_can_be_left_off():
    ref = parse("busybox", default_tag=False)
    assert ref.tag is None and ref.digest is None
    assert str(ref) == "docker.io/library/busybox"
    assert ref.familiar() == "busybox"


def test_digest_only_reference_gets_no_tag():
    ref = parse("busybox@sha256:" + HEX64)
    assert ref.tag is None
    assert ref.familiar() == "busybox@sha256:" + HEX64


@pytest.mark.parametrize(
    "text, message",
    [
        ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
        ("user/App:v1", "invalid reference format: repository name (user/App) must be lowercase"),
        ("UPPERCASE_REPO", "invalid reference format: repository name (library/UPPERCASE_REPO) must be lowercase"),
        (HEX64, f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"),
        ("", "invalid reference format"),
        ("app:", "invalid reference format"),
        ("app:-bad", "invalid reference format"),
        ("app:" + "a" * 129, "invalid reference format"),
        ("app:tag:more", "invalid reference format"),
        ("-app", "invalid reference format"),
        ("app-", "invalid reference format"),
        ("a..b", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("/app", "invalid reference format"),
        ("app/", "invalid reference format"),
        ("app@sha256:abc", "invalid reference format"),
        ("app@", "invalid reference format"),
        ("app with space", "invalid reference format"),
        ("app:tàg", "invalid reference format"),
        ("myreg:port/app", "invalid reference format"),
        ("-reg.io/app", "invalid reference format"),
        ("app@sha256:" + HEX64.upper(), "invalid checksum digest format"),
        ("app@sha256:" + "a" * 63 + "0" * 2, "invalid checksum digest length"),
        ("app@md5:" + "a" * 32, "unsupported digest algorithm"),
    ],
)
def test_parse_errors_use_dockers_words(text, message):
    with pytest.raises(InvalidParameter) as err:
        parse(text)
    assert err.value.message == message
    assert err.value.status == 400


def test_name_longer_than_255_is_refused():
    long_path = "/".join(["a" * 50] * 6)  # 305 characters
    with pytest.raises(InvalidParameter) as err:
        parse(long_path)
    assert "must not be more than 255 characters" in err.value.message


def test_name_of_exactly_255_is_accepted():
    # docker.io/ (10) + library/ is not added for multi-component names
    path = "a" * 100 + "/" + "b" * 144
    ref = parse(path)
    assert len(ref.name) == 255


def test_sha512_digest_accepted():
    ref = parse("app@sha512:" + "ab" * 64)
    assert ref.digest == "sha512:" + "ab" * 64


def test_with_tag():
    ref = parse("busybox@sha256:" + HEX64).with_tag("v2")
    assert str(ref) == "docker.io/library/busybox:v2"
    with pytest.raises(InvalidParameter):
        parse("busybox").with_tag("bad tag")


def test_parse_repository_refuses_tags():
    assert str(reference.parse_repository("myreg:5000/app")) == "myreg:5000/app"
    with pytest.raises(InvalidParameter):
        reference.parse_repository("app:tag")


@pytest.mark.parametrize("text", ["a", "abc123", "sha256:abcd", HEX64, "sha256:" + HEX64])
def test_image_id_prefixes(text):
    assert is_image_id_prefix(text)


@pytest.mark.parametrize("text", ["", "xyz", "ABC", "sha256:", HEX64 + "0", "busybox", "md5:abc"])
def test_not_image_id_prefixes(text):
    assert not is_image_id_prefix(text)


def test_full_image_id():
    assert is_full_image_id(HEX64)
    assert is_full_image_id("sha256:" + HEX64)
    assert not is_full_image_id(HEX64[:12])


def test_references_are_hashable_and_frozen():
    a, b = parse("busybox"), parse("docker.io/library/busybox:latest")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.tag = "x"  # type: ignore[misc]
