"""Repository names, tags, digests and the shape of every /v2/ path.

Paths are matched against the *raw* request path with the spec's grammars, so
percent-encoded tricks (`%2e%2e`, `%2f`) and `..` never match a name and are
rejected before anything touches the filesystem: every name that reaches
storage is made of `[a-z0-9._-]` components joined by single slashes, none of
them `.` or `..` (a component must start with a letter or digit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME = rf"{_COMPONENT}(?:/{_COMPONENT})*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
DIGEST = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
NAME_MAX = 255

_NAME_RE = re.compile(NAME)
_TAG_RE = re.compile(TAG)
_DIGEST_RE = re.compile(DIGEST)
HEX_LENGTHS = {"sha256": 64, "sha512": 128}

_ROUTES = [
    ("tags", re.compile(rf"/v2/(?P<name>{NAME})/tags/list")),
    ("manifest", re.compile(rf"/v2/(?P<name>{NAME})/manifests/(?P<ref>[^/]+)")),
    ("uploads", re.compile(rf"/v2/(?P<name>{NAME})/blobs/uploads/?")),
    ("upload", re.compile(rf"/v2/(?P<name>{NAME})/blobs/uploads/(?P<uuid>[^/]+)")),
    ("blob", re.compile(rf"/v2/(?P<name>{NAME})/blobs/(?P<ref>[^/]+)")),
    ("referrers", re.compile(rf"/v2/(?P<name>{NAME})/referrers/(?P<ref>[^/]+)")),
]
_ANY_NAMED = re.compile(r"/v2/(?P<name>.+)/(?:tags/list|manifests/[^/]*|blobs/.*|referrers/[^/]*)")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Route:
    kind: str  # base | catalog | tags | manifest | uploads | upload | blob | referrers | token
    name: str = ""
    ref: str = ""


def valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX and _NAME_RE.fullmatch(name) is not None


def valid_tag(tag: str) -> bool:
    return _TAG_RE.fullmatch(tag) is not None


def is_digest_like(ref: str) -> bool:
    return ":" in ref


def parse_digest(text: str) -> tuple[str, str]:
    """(algorithm, hex) of a digest the registry can verify, else DIGEST_INVALID."""
    if _DIGEST_RE.fullmatch(text) is None:
        raise RegistryError("DIGEST_INVALID", {"digest": text}, message="invalid digest")
    algorithm, encoded = text.split(":", 1)
    length = HEX_LENGTHS.get(algorithm)
    if length is None:
        raise RegistryError("DIGEST_INVALID", {"digest": text},
                            message=f"unsupported digest algorithm: {algorithm}")
    if len(encoded) != length or re.fullmatch(r"[0-9a-f]+", encoded) is None:
        raise RegistryError("DIGEST_INVALID", {"digest": text}, message="invalid digest")
    return algorithm, encoded


def route(raw_path: str, token_path: str | None = None) -> Route | None:
    """The route a raw request path (no query string) names, None when it is not ours.

    A path that has the shape of a repository request but whose name breaks the
    grammar raises NAME_INVALID.
    """
    if raw_path in ("/v2", "/v2/"):
        return Route("base")
    if raw_path == "/v2/_catalog":
        return Route("catalog")
    if token_path is not None and raw_path == token_path:
        return Route("token")
    if not raw_path.startswith("/v2/"):
        return None
    for kind, pattern in _ROUTES:
        m = pattern.fullmatch(raw_path)
        if m is None:
            continue
        name = m.group("name")
        if len(name) > NAME_MAX:
            raise RegistryError("NAME_INVALID", {"name": name[:300]},
                                message="repository name must not be more than 255 characters")
        groups = m.groupdict()
        return Route(kind, name, groups.get("ref") or groups.get("uuid") or "")
    m = _ANY_NAMED.fullmatch(raw_path)
    if m is not None:
        raise RegistryError("NAME_INVALID", {"name": m.group("name")[:300]})
    return None
