"""Image manifests: the media types Berth reads and writes, platform choice in
manifest lists / OCI indexes, and the manifests written for a push or a save.

Manifest bytes are hashed as sent, so they are built once with a fixed key
order and indentation (docker's 3-space-indented JSON for schema 2) and never
re-serialised afterwards.
"""

from __future__ import annotations

import hashlib
import json
import platform as _platform
from dataclasses import dataclass

from berth.errors import InvalidParameter, NotFound

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
LAYER_TYPES = (DOCKER_LAYER, DOCKER_FOREIGN_LAYER, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD,
               "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
               "application/vnd.oci.image.layer.nondistributable.v1.tar")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    machine = _platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386",
            "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)
    variant = {"aarch64": "v8", "armv7l": "v7", "armv6l": "v6"}.get(machine, "")
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    """`os[/arch[/variant]]` as --platform takes it (containerd's normalisation, in short)."""
    if not text:
        return host_platform()
    parts = text.lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidParameter(f'"{text}": unknown operating system or architecture: invalid argument')
    host = host_platform()
    os_ = parts[0]
    arch = parts[1] if len(parts) > 1 else host.architecture
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
            "i386": "386"}.get(arch, arch)
    variant = parts[2] if len(parts) > 2 else ""
    if arch == "arm64" and variant in ("", "8"):
        variant = "v8" if variant else ""
    if len(parts) == 1 and os_ not in ("linux", "windows", "darwin", "freebsd"):
        raise InvalidParameter(f'"{text}": unknown operating system or architecture: invalid argument')
    return Platform(os_, arch, variant)


def _matches(want: Platform, have: dict) -> int:
    """0: no match; higher is better."""
    if (have.get("os") or "") != want.os:
        return 0
    if (have.get("architecture") or "") != want.architecture:
        return 0
    variant = have.get("variant") or ""
    if not want.variant:
        return 2 if variant in ("", "v8") or want.architecture != "arm64" else 1
    if variant == want.variant:
        return 3
    if want.architecture == "arm64" and {variant, want.variant} <= {"", "v8"}:
        return 3
    if want.architecture == "arm" and variant and variant < want.variant:
        return 1  # an older arm variant runs on a newer cpu
    return 0


def pick_platform(index: dict, want: Platform, name: str) -> dict:
    """The descriptor of the best manifest for `want` in a list or index."""
    best, score = None, 0
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict) or desc.get("mediaType") not in MANIFEST_TYPES + ("", None):
            continue
        plat = desc.get("platform") or {}
        s = _matches(want, plat)
        if s > score:
            best, score = desc, s
    if best is None:
        raise NotFound(f"no matching manifest for {want} in the manifest list entries: "
                       "no match for platform in manifest: not found")
    return best


def check_manifest(doc: dict, media_type: str) -> None:
    if media_type in DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise InvalidParameter(
            "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 "
            "support has been removed. Suggest the author of the image to upgrade the image to the "
            "OCI Format or Docker Image manifest v2, schema 2.")
    if not isinstance(doc.get("config"), dict) or not isinstance(doc.get("layers"), list):
        raise InvalidParameter("invalid manifest: no config or layers")
    for layer in doc["layers"]:
        if not isinstance(layer, dict) or not str(layer.get("digest", "")).startswith("sha256:"):
            raise InvalidParameter("invalid manifest: a layer has no sha256 digest")


def detect_type(doc: dict, header: str) -> str:
    mt = doc.get("mediaType") or header.split(";")[0].strip()
    if mt in MANIFEST_TYPES + INDEX_TYPES + DOCKER_SCHEMA1:
        return mt
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc:
        return OCI_MANIFEST
    return mt


@dataclass
class LayerDescriptor:
    media_type: str
    size: int
    digest: str


def build_manifest(oci: bool, config: bytes, layers: list[LayerDescriptor]) -> bytes:
    """An image manifest for a push: docker schema 2 (docker's indent) or OCI."""
    def desc(media_type: str, size: int, digest: str) -> dict:
        # field order of the Go structs that write these: distribution's (size first), image-spec's
        if oci:
            return {"mediaType": media_type, "digest": digest, "size": size}
        return {"mediaType": media_type, "size": size, "digest": digest}

    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
        "config": desc(OCI_CONFIG if oci else DOCKER_CONFIG, len(config), sha256(config)),
        "layers": [desc(_layer_type(layer.media_type, oci), layer.size, layer.digest) for layer in layers],
    }
    return json.dumps(doc, indent=3).encode() if not oci else json.dumps(doc, separators=(",", ":")).encode()


def _layer_type(media_type: str, oci: bool) -> str:
    if oci:
        return {DOCKER_LAYER: OCI_LAYER_GZIP}.get(media_type, media_type)
    return {OCI_LAYER_GZIP: DOCKER_LAYER}.get(media_type, media_type)
