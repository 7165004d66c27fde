"""Image references normalised the docker way (`busybox` = docker.io/library/busybox:latest).

The CLI needs this to word messages like docker ("Unable to find image
'busybox:latest' locally"), to build pull queries, and to validate `tag`
targets before asking the daemon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_ID_RE = re.compile(r"[a-f0-9]{64}")


class ReferenceError_(ValueError):
    """An image reference docker would refuse; str() is docker's message."""


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Fully qualified repository name, e.g. docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The short name users type, e.g. busybox or user/app or localhost:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX):]
            return self.path
        return self.name

    def familiar_string(self) -> str:
        out = self.familiar_name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def with_default_tag(self) -> "Reference":
        """docker's TagNameOnly: add ":latest" when neither tag nor digest is given."""
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, DEFAULT_TAG, "")


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        return DEFAULT_DOMAIN, name
    return first, rest


def parse_normalized(text: str) -> Reference:
    """docker's reference.ParseNormalizedNamed."""
    if not text:
        raise ReferenceError_("invalid reference format")
    if _ID_RE.fullmatch(text):
        raise ReferenceError_(
            f"invalid repository name repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    remainder, _, digest = text.partition("@")
    if digest and not _DIGEST_RE.fullmatch(digest):
        raise ReferenceError_("invalid reference format")
    name, tag = remainder, ""
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG_RE.fullmatch(tag):
            raise ReferenceError_("invalid reference format")
    domain, path = _split_domain(name)
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if not _DOMAIN_RE.fullmatch(domain):
        raise ReferenceError_("invalid reference format")
    if not _PATH_RE.fullmatch(path):
        if _PATH_RE.fullmatch(path.lower()):
            raise ReferenceError_(
                f"invalid reference format: repository name ({path}) must be lowercase"
            )
        raise ReferenceError_("invalid reference format")
    if len(domain) + 1 + len(path) > 255:
        raise ReferenceError_("invalid reference format: repository name must not be more than 255 characters")
    return Reference(domain, path, tag, digest)


def is_image_id(text: str) -> bool:
    """A full or short hex image ID (with or without sha256:), which is not a name."""
    t = text[7:] if text.startswith("sha256:") else text
    return bool(re.fullmatch(r"[a-f0-9]{12,64}", t)) and (text.startswith("sha256:") or len(t) == 64)
