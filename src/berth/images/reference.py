"""Docker image references: parsing and normalisation.

Clients type short names (`busybox`, `myreg:5000/app@sha256:...`) and expect
the same image docker would pick, with the same error text when a name is
wrong, so this follows the grammar of docker's reference library:

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain "/"] path-component ["/" path-component]*
    domain     := host [":" port]
    tag        := [\\w][\\w.-]{0,127}
    digest     := algorithm ":" hex   (sha256 → 64 lowercase hex)

Normalisation: a first component is a registry domain only when it holds a
`.` or `:`, is `localhost`, or has upper-case letters; otherwise the name is
on docker.io, and single-component names there live under `library/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from berth.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_ID_PREFIX_RE = re.compile(r"(?:sha256:)?[a-f0-9]{1,64}")

# Digest algorithms docker's daemon can verify, with their hex length.
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+")


@dataclass(frozen=True)
class Reference:
    """A normalised reference: always fully qualified, never familiar."""

    domain: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """What docker prints: no docker.io/, no library/ for official images."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX):]:
            return path[len(OFFICIAL_PREFIX):]
        return path

    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        return self.familiar_name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """The same repository at another tag (the digest is dropped)."""
        if not _TAG_RE.fullmatch(tag):
            raise InvalidParameter("invalid tag format")
        return Reference(self.domain, self.path, tag, None)


def _split_domain(name: str) -> tuple[str, str]:
    slash = name.find("/")
    first = name[:slash] if slash >= 0 else ""
    if slash < 0 or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, name[slash + 1:]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def _check_digest(digest: str) -> None:
    algorithm, _, hexpart = digest.partition(":")
    length = _DIGEST_HEX_LENGTH.get(algorithm)
    if length is None:
        raise InvalidParameter("unsupported digest algorithm")
    if len(hexpart) != length:
        raise InvalidParameter("invalid checksum digest length")
    if not _LOWER_HEX_RE.fullmatch(hexpart):
        raise InvalidParameter("invalid checksum digest format")


def _parse_qualified(s: str) -> tuple[str, str | None, str | None]:
    """Match the full grammar; return (name, tag, digest) or docker's error."""
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        if s == "":
            raise InvalidParameter("repository name must have at least one component")
        if _REFERENCE_RE.fullmatch(s.lower()):
            raise InvalidParameter("repository name must be lowercase")
        raise InvalidParameter("invalid reference format")
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest is not None:
        _check_digest(digest)
    return name, tag, digest


def parse(ref: str, default_tag: bool = True) -> Reference:
    """Parse a reference the way `docker pull/run/tag` do.

    With `default_tag`, a reference with neither tag nor digest gets `latest`
    (docker's TagNameOnly); without it the tag stays None, which is what
    `docker images busybox` and `docker push repo` need (all tags).
    """
    if _IDENTIFIER_RE.fullmatch(ref):
        raise InvalidParameter(
            f"invalid repository name ({ref}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(ref)
    colon = remainder.find(":")
    remote = remainder[:colon] if colon >= 0 else remainder
    if remote.lower() != remote:
        raise InvalidParameter(f"invalid reference format: repository name ({remote}) must be lowercase")
    name, tag, digest = _parse_qualified(f"{domain}/{remainder}")
    path = name[len(domain) + 1:]
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def parse_repository(name: str) -> Reference:
    """A repository name without tag or digest (`docker tag` target repo, `push`)."""
    ref = parse(name, default_tag=False)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidParameter("invalid reference format")
    return ref


def is_image_id_prefix(s: str) -> bool:
    """Could `s` name an image by (a prefix of) its ID, `sha256:` optional?

    Docker resolves a name first as a reference and falls back to an ID
    prefix; callers must still try the reference first since `abc` is both.
    """
    return bool(_ID_PREFIX_RE.fullmatch(s))


def is_full_image_id(s: str) -> bool:
    """A complete image ID, bare 64-hex or `sha256:`-prefixed."""
    return bool(_IDENTIFIER_RE.fullmatch(s.removeprefix("sha256:")))
