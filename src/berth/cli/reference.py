"""Image references normalised the docker way (`busybox` = docker.io/library/busybox:latest).

The CLI needs this to word messages like docker ("Unable to find image
'busybox:latest' locally"), to build pull queries, and to validate `tag`
targets before asking the daemon.
"""

from __future__ import annotations

DEFAULT_DOMAIN = "docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

# The grammar of docker's distribution/reference, checked with str methods: this
# runs for every row of `ps` and for every `run`, and compiling the equivalent
# regular expressions (with `re` and `enum` imported for them) costs more than
# the rest of those commands' parsing put together.
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_HOSTNAME_CHARS = _ALNUM | {"-"}
_TAG_FIRST = _ALNUM | {"_"}
_TAG_CHARS = _TAG_FIRST | {".", "-"}
_HEX = frozenset("0123456789abcdefABCDEF")
_LOWER_HEX = frozenset("0123456789abcdef")
_IPV6_CHARS = _HEX | {":"}


class ReferenceError_(ValueError):
    """An image reference docker would refuse; str() is docker's message."""


class Reference:
    """A parsed reference: domain, path, and optional tag and digest (immutable)."""

    __slots__ = ("domain", "path", "tag", "digest")

    def __init__(self, domain: str, path: str, tag: str = "", digest: str = "") -> None:
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "digest", digest)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field '{name}'")

    def __eq__(self, other: object) -> bool:
        if type(other) is not Reference:
            return NotImplemented
        return (self.domain, self.path, self.tag, self.digest) == (other.domain, other.path, other.tag, other.digest)

    def __hash__(self) -> int:
        return hash((self.domain, self.path, self.tag, self.digest))

    def __repr__(self) -> str:
        return (f"Reference(domain={self.domain!r}, path={self.path!r}, tag={self.tag!r}, "
                f"digest={self.digest!r})")

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


def _is_digits(text: str) -> bool:
    """[0-9]+"""
    return text.isascii() and text.isdigit()


def _is_component(text: str) -> bool:
    """[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"""
    if text.isascii() and text.isalnum() and (text.islower() or text.isdigit()):
        return True  # the common case: no separators, no capitals
    if not text or text[0] not in _LOWER_ALNUM or text[-1] not in _LOWER_ALNUM:
        return False
    i, n = 0, len(text)
    while i < n:
        if text[i] in _LOWER_ALNUM:
            i += 1
            continue
        j = i
        while text[j] not in _LOWER_ALNUM:  # the last character is alphanumeric
            j += 1
        sep = text[i:j]
        if sep not in (".", "_", "__") and sep.strip("-"):
            return False
        i = j
    return True


def _is_path(path: str) -> bool:
    """component(?:/component)*"""
    return all(_is_component(c) for c in path.split("/"))


def _is_domain(domain: str) -> bool:
    r"""(?:label(?:\.label)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"""
    if domain.startswith("["):
        close = domain.find("]")
        if close < 2 or any(c not in _IPV6_CHARS for c in domain[1:close]):
            return False
        rest = domain[close + 1:]
        return not rest or (rest[0] == ":" and _is_digits(rest[1:]))
    host, colon, port = domain.partition(":")
    if colon and not _is_digits(port):
        return False
    for label in host.split("."):
        # [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
        if not label or label[0] not in _ALNUM or label[-1] not in _ALNUM:
            return False
        if not (label.isascii() and label.isalnum()) and any(c not in _HOSTNAME_CHARS for c in label):
            return False
    return True


def _is_tag(tag: str) -> bool:
    r"""[\w][\w.-]{0,127} with Go's (ASCII) \w"""
    return 0 < len(tag) <= 128 and tag[0] in _TAG_FIRST and all(c in _TAG_CHARS for c in tag)


def _is_digest(digest: str) -> bool:
    """[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"""
    algorithm, colon, hexpart = digest.partition(":")
    if not colon or len(hexpart) < 32 or any(c not in _HEX for c in hexpart):
        return False
    for sep in "_+.":
        algorithm = algorithm.replace(sep, "-")
    for part in algorithm.split("-"):
        if not part or not part.isascii() or not part[0].isalpha() or not part.isalnum():
            return False
    return True


def _is_hex_id(text: str, low: int, high: int) -> bool:
    """[a-f0-9]{low,high}"""
    return low <= len(text) <= high and all(c in _LOWER_HEX for c in text)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        return DEFAULT_DOMAIN, name
    return first, rest


def parse_normalized(text: str) -> Reference:
    """docker's reference.ParseNormalizedNamed."""
    if not text:
        raise ReferenceError_("invalid reference format")
    if _is_hex_id(text, 64, 64):
        raise ReferenceError_(
            f"invalid repository name repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    remainder, _, digest = text.partition("@")
    if digest and not _is_digest(digest):
        raise ReferenceError_("invalid reference format")
    name, tag = remainder, ""
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1:]
        if not _is_tag(tag):
            raise ReferenceError_("invalid reference format")
    domain, path = _split_domain(name)
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if not _is_domain(domain):
        raise ReferenceError_("invalid reference format")
    if not _is_path(path):
        if _is_path(path.lower()):
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
    return _is_hex_id(t, 12, 64) and (text.startswith("sha256:") or len(t) == 64)
