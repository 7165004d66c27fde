"""Base images made offline, from packages on this host.

No registry on the internet is reachable here, so `berth image bootstrap`
builds the usual starting points itself: busybox from Debian's
busybox-static, Debian from its mirror with mmdebstrap. Each writes one
uncompressed rootfs tar; the caller imports it as a single-layer image with
the returned repo, tag and `--change` lines (the import path, `changes.py`,
turns those into the image config).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from berth.errors import InvalidParameter


@dataclass
class BootstrapImage:
    repo: str
    tag: str
    changes: list[str] = field(default_factory=list)


SUPPORTED = ("busybox[:latest]", "debian[:latest|<codename>|<version>][-slim], e.g. debian:bookworm")


def describe(name: str) -> BootstrapImage:
    """Repo, tag and changes of a base image, known before its tar is written
    (so the import can start streaming at once)."""
    repo, _, tag = name.partition(":")
    repo = repo.removeprefix("docker.io/").removeprefix("library/")
    if repo == "busybox" and tag in ("", "latest"):
        return BootstrapImage("busybox", "latest", ['CMD ["sh"]'])
    if repo == "debian":
        from berth.images.bootstrap import debian

        debian.resolve(tag or "latest")  # refuses an unknown tag now, not after the upload began
        return BootstrapImage("debian", tag or "latest", ['CMD ["bash"]'])
    raise InvalidParameter(f"cannot bootstrap {name}: supported images are {', '.join(SUPPORTED)}")


def write_rootfs_tar(name: str, out: BinaryIO, progress: Callable[[str], None]) -> BootstrapImage:
    """Write the rootfs tar of the named base image to `out`.

    `name` is what the user typed: `busybox`, `busybox:latest`, `debian`,
    `debian:bookworm`, `debian:12-slim`...
    """
    image = describe(name)
    if image.repo == "busybox":
        from berth.images.bootstrap import busybox

        busybox.write_busybox_rootfs(out, progress)
    else:
        from berth.images.bootstrap import debian

        debian.write_debian_rootfs(debian.resolve(image.tag), out, progress)
    return image
