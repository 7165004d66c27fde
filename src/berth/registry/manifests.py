"""Manifest kinds the registry accepts, their references, and Accept negotiation.

A manifest is stored as the exact bytes the client sent (its digest is over
those bytes); parsing only decides what it references, so PUT can refuse a
manifest whose blobs or child manifests the repository does not hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import RegistryError
from .names import parse_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
IMAGE_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
LIST_TYPES = (DOCKER_LIST, OCI_INDEX)
SUPPORTED = IMAGE_TYPES + LIST_TYPES
# Layers that live elsewhere (`urls`): distribution does not require them to be pushed.
FOREIGN_LAYERS = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)
DEFAULT_PLATFORM = ("linux", "amd64")


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int
    raw: dict[str, Any]


@dataclass
class ParsedManifest:
    media_type: str
    blobs: list[Descriptor] = field(default_factory=list)      # config + layers
    children: list[Descriptor] = field(default_factory=list)   # index / list entries
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


def _invalid(detail: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", detail)


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise _invalid(f"{where}: expected a descriptor object")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(digest, str):
        raise _invalid(f"{where}: missing digest")
    try:
        parse_digest(digest)
    except RegistryError:
        raise _invalid(f"{where}: invalid digest {digest!r}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: size must be a non-negative integer")
    if media_type is not None and not isinstance(media_type, str):
        raise _invalid(f"{where}: mediaType must be a string")
    return Descriptor(media_type or "", digest, size, raw)


def _base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse(data: bytes, content_type: str) -> ParsedManifest:
    """Parse and check a manifest body; the media type comes from Content-Type or the body."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _invalid("manifest must be a JSON object")
    declared = doc.get("mediaType")
    header = _base_type(content_type) if content_type else ""
    if header in ("", "application/json", "application/octet-stream"):
        header = ""
    if header in SCHEMA1 or doc.get("schemaVersion") == 1:
        raise _invalid("schema 1 manifests are not supported; push a schema 2 or OCI manifest")
    if header and declared is not None and declared != header:
        raise _invalid(f"mediaType {declared!r} does not match Content-Type {header!r}")
    media_type = header or declared or ("" if "manifests" in doc and "layers" in doc else
                                        OCI_INDEX if "manifests" in doc else
                                        OCI_MANIFEST if "config" in doc else "")
    if media_type not in SUPPORTED:
        raise _invalid(f"unsupported manifest media type {media_type or '(none)'!r}")
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    if media_type in (DOCKER_MANIFEST, DOCKER_LIST) and declared != media_type:
        raise _invalid(f"a Docker manifest must declare mediaType {media_type!r}")
    out = ParsedManifest(media_type)
    if media_type in IMAGE_TYPES:
        config = _descriptor(doc.get("config"), "config")
        out.blobs.append(config)
        layers = doc.get("layers")
        if not isinstance(layers, list) or (media_type == DOCKER_MANIFEST and not layers):
            raise _invalid("layers must be a list" + (" of at least one layer" if layers == [] else ""))
        for i, raw in enumerate(layers):
            d = _descriptor(raw, f"layers[{i}]")
            if not (d.media_type in FOREIGN_LAYERS and raw.get("urls")):
                out.blobs.append(d)
    else:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _invalid("manifests must be a list")
        out.children = [_descriptor(raw, f"manifests[{i}]") for i, raw in enumerate(children)]
    if "subject" in doc:
        out.subject = _descriptor(doc["subject"], "subject")
    at = doc.get("artifactType")
    if at is not None and not isinstance(at, str):
        raise _invalid("artifactType must be a string")
    if at is None and media_type == OCI_MANIFEST:
        at = out.blobs[0].media_type or None
    out.artifact_type = at
    ann = doc.get("annotations")
    if ann is not None:
        if not isinstance(ann, dict) or not all(isinstance(v, str) for v in ann.values()):
            raise _invalid("annotations must map strings to strings")
        out.annotations = ann
    return out


def accepted_types(accept_headers: list[str]) -> set[str]:
    """Media types listed in (possibly several) Accept headers; `*/*` shows as itself."""
    types: set[str] = set()
    for header in accept_headers:
        for part in header.split(","):
            t = _base_type(part)
            if t:
                types.add(t)
    return types


def must_substitute(stored_type: str, accept: set[str]) -> bool:
    """Whether a GET by tag may not answer with the stored type (distribution 2.8's rules).

    A client that lists manifest media types but not the stored one gets, for a
    Docker manifest list, the default platform's manifest, and for an OCI index or
    manifest a 404. Docker schema 2 is always served (distribution 2.8 would try a
    schema 1 conversion; Berth does not implement schema 1). Without an Accept
    header the stored type is served (distribution 2.8 answers 404 for OCI types
    there; Berth follows the OCI spec and distribution 3).
    """
    if not accept or "*/*" in accept or stored_type in accept:
        return False
    if not any(t in SUPPORTED or t in SCHEMA1 for t in accept):
        return False
    return stored_type != DOCKER_MANIFEST


def default_platform_child(data: bytes) -> str | None:
    doc = json.loads(data)
    for entry in doc.get("manifests") or []:
        platform = entry.get("platform") or {}
        if (platform.get("os"), platform.get("architecture")) == DEFAULT_PLATFORM:
            return entry.get("digest")
    return None
