"""The image store: image configs, references (tags) and their layers.

An image is its config blob (content store) plus a row in `images`; its
layers are overlay snapshots keyed by chain id, shared between images.
References are normalised strings (docker.io/library/busybox:latest).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable

from berth.content.blobs import BlobStore
from berth.errors import Conflict, ImageNotFound, InvalidParameter
from berth.images import reference as refs
from berth.images.layer_tar import apply_layer
from berth.snapshots.overlay import OverlaySnapshotter
from berth.snapshots.remove import remove_tree
from berth.store.metadata import Metadata
from berth.timefmt import ZERO_TIME, rfc3339nano, unix_from_iso


def _looks_like_id(name: str) -> bool:
    text = name[7:] if name.startswith("sha256:") else name
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text) or name.startswith("sha256:")


def _apply_changes(changes: list[str]) -> dict:
    if not changes:
        return {}
    from berth.images.changes import apply_changes

    return apply_changes({}, changes)


def go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def chain_id(parent_chain: str, diff_id: str) -> str:
    """OCI image spec: ChainID(L0|L1) = sha256(ChainID(L0) + " " + DiffID(L1))."""
    if not parent_chain:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent_chain} {diff_id}".encode()).hexdigest()


@dataclass
class Image:
    id: str
    config: dict
    size: int
    refs: list[str]
    parent: str = ""   # the image a commit started from (docker's Parent), "" otherwise

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]


class ImageStore:
    def __init__(self, md: Metadata, blobs: BlobStore, snaps: OverlaySnapshotter) -> None:
        self.md = md
        self.blobs = blobs
        self.snaps = snaps
        self.layer_keeper: Callable[[], object] | None = None  # set by the distribution service

    # ------------------------------------------------------------ lookups
    def get(self, image_id: str) -> Image:
        row = self.md.one("SELECT * FROM images WHERE id=?", (image_id,))
        if row is None:
            raise ImageNotFound(image_id)
        return self._image(row)

    def _image(self, row) -> Image:
        ref_rows = self.md.query("SELECT ref FROM image_refs WHERE image_id=? ORDER BY ref", (row["id"],))
        return Image(row["id"], json.loads(row["config"]), row["size"], [r["ref"] for r in ref_rows],
                     row["parent"] or "")

    def resolve(self, name: str) -> Image:
        """Find an image by id, id prefix, reference or digest reference, as docker does."""
        found = self.lookup(name)
        if found is None:
            try:
                shown = refs.parse(name).familiar() if not _looks_like_id(name) else name
            except InvalidParameter:
                shown = name
            raise ImageNotFound(shown)
        return found

    def lookup(self, name: str) -> Image | None:
        if not name:
            return None
        text = name[7:] if name.startswith("sha256:") else name
        if 0 < len(text) <= 64 and all(c in "0123456789abcdef" for c in text):
            if len(text) == 64:
                row = self.md.one("SELECT * FROM images WHERE id=?", ("sha256:" + text,))
                if row is not None:
                    return self._image(row)
            else:
                # A short hex string is an id prefix only if no reference is spelled like it.
                try:
                    by_ref = self._by_reference(name)
                except InvalidParameter:
                    by_ref = None
                if by_ref is not None:
                    return by_ref
                rows = self.md.query("SELECT * FROM images WHERE id LIKE ?", ("sha256:" + text + "%",))
                if len(rows) == 1:
                    return self._image(rows[0])
                if len(rows) > 1:
                    raise InvalidParameter(f"multiple IDs found with provided prefix: {text}")
                return None
            if name.startswith("sha256:"):
                return None
        try:
            return self._by_reference(name)
        except InvalidParameter:
            if name.startswith("sha256:"):
                return None
            raise

    def _by_reference(self, name: str) -> Image | None:
        ref = refs.parse(name)
        row = self.md.one(
            "SELECT images.* FROM image_refs JOIN images ON images.id=image_refs.image_id WHERE ref=?",
            (str(ref),))
        return self._image(row) if row is not None else None

    def all(self) -> list[Image]:
        return [self._image(r) for r in self.md.query("SELECT * FROM images ORDER BY created_at DESC")]

    def layer_cache_ids(self, image: Image) -> list[str]:
        """Cache ids of the image's layers, top-most first (overlay lowerdir order)."""
        return self.cache_ids_for_chain(self.layer_chain(image))

    # ------------------------------------------------------------ creation
    def import_rootfs(self, stream: BinaryIO, reference: str | None, changes: list[str],
                      message: str = "", warn: Callable[[str], None] | None = None) -> Image:
        ref = refs.parse(reference) if reference else None
        if ref is not None and ref.digest:
            raise InvalidParameter("cannot import digest reference")
        staging = self.snaps.new_staging_dir()
        # The exact bytes are kept (blob cache) so push and save can give back this diff id.
        keeper = self.layer_keeper() if self.layer_keeper is not None else None
        try:
            result = apply_layer(keeper.wrap(stream) if keeper else stream, staging, on_warning=warn)
        except BaseException:
            remove_tree(staging)
            if keeper:
                keeper.abort()
            raise
        self._commit_layer(staging, "", result.diff_id, result.size)
        if keeper:
            keeper.finish(result.diff_id)
        created = rfc3339nano()
        config: dict = {
            "architecture": go_arch(),
            "config": _apply_changes(changes),
            "created": created,
            "comment": message or "Imported from -",
            "history": [{"created": created, "comment": message or "Imported from -"}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [result.diff_id]},
        }
        return self.add_image(config, ref)

    def _commit_layer(self, staging: str, parent_chain: str, diff_id: str, size: int) -> str:
        cid = chain_id(parent_chain, diff_id)
        if self.md.one("SELECT 1 FROM layers WHERE chain_id=?", (cid,)) is not None:
            remove_tree(staging)
            return cid
        cache_id = self.snaps.commit_layer(staging)
        self.md.execute("INSERT INTO layers(chain_id, diff_id, parent, size, cache_id) VALUES (?,?,?,?,?)",
                        (cid, diff_id, parent_chain, size, cache_id))
        return cid

    def add_layer_image(self, staging: str | None, diff_id: str, size: int, config: dict,
                        ref: refs.Reference | None, parent_image: str = "") -> Image:
        """Record a layer applied into a staging directory (its diff id last in
        config's rootfs; None: the image adds no layer) and the image, in one
        synchronous step, so no layer GC can run in between (docker commit)."""
        if staging is not None:
            parent = ""
            for d in config["rootfs"]["diff_ids"][:-1]:
                parent = chain_id(parent, d)
            self._commit_layer(staging, parent, diff_id, size)
        return self.add_image(config, ref, parent_image)

    def add_image(self, config: dict, ref: refs.Reference | None, parent_image: str = "") -> Image:
        raw = json.dumps(config, separators=(",", ":")).encode()
        image_id = self.blobs.put(raw)
        size = self._size(config)
        with self.md.transaction() as db:
            db.execute("INSERT OR IGNORE INTO images(id, config, size, created_at, parent) VALUES (?,?,?,?,?)",
                       (image_id, raw.decode(), size, rfc3339nano(), parent_image))
            if ref is not None:
                db.execute("INSERT OR REPLACE INTO image_refs(ref, image_id, tagged_at) VALUES (?,?,?)",
                           (str(ref), image_id, rfc3339nano()))
        return self.get(image_id)

    def add_image_raw(self, raw: bytes, ref: refs.Reference | None) -> Image:
        """Record a config exactly as received (pull, load): its bytes are its id."""
        image_id = self.blobs.put(raw)
        config = json.loads(raw)
        with self.md.transaction() as db:
            db.execute("INSERT OR IGNORE INTO images(id, config, size, created_at, parent) VALUES (?,?,?,?,?)",
                       (image_id, raw.decode(), self._size(config), rfc3339nano(), ""))
            if ref is not None:
                db.execute("INSERT OR REPLACE INTO image_refs(ref, image_id, tagged_at) VALUES (?,?,?)",
                           (str(ref), image_id, rfc3339nano()))
        return self.get(image_id)

    def set_parent(self, image_id: str, parent_id: str) -> None:
        """docker's SetParent: a --cache-from source that served a build's step
        gets that step's parent as its Parent (history then shows the chain)."""
        self.md.execute("UPDATE images SET parent=? WHERE id=?", (parent_id, image_id))

    def add_reference(self, image_id: str, ref: refs.Reference) -> None:
        """A tag or a digest reference (RepoDigests) for an existing image."""
        self.md.execute("INSERT OR REPLACE INTO image_refs(ref, image_id, tagged_at) VALUES (?,?,?)",
                        (str(ref), image_id, rfc3339nano()))

    def config_bytes(self, image: Image) -> bytes:
        """The config as stored (the bytes its id is the digest of)."""
        return self.blobs.get(image.id)

    def _size(self, config: dict) -> int:
        total, parent = 0, ""
        for diff_id in config.get("rootfs", {}).get("diff_ids", []):
            parent = chain_id(parent, diff_id)
            row = self.md.one("SELECT size FROM layers WHERE chain_id=?", (parent,))
            total += row["size"] if row else 0
        return total

    # ------------------------------------------------------------ tags and removal
    def tag(self, source: str, repo: str, tag: str | None) -> None:
        image = self.resolve(source)
        target = refs.parse(f"{repo}:{tag}" if tag else repo)
        if target.digest:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        self.md.execute("INSERT OR REPLACE INTO image_refs(ref, image_id, tagged_at) VALUES (?,?,?)",
                        (str(target), image.id, rfc3339nano()))

    def children(self, image_id: str) -> list[str]:
        """Images whose parent is this one (a legacy build's next step, a commit)."""
        return [r["id"] for r in self.md.query("SELECT id FROM images WHERE parent=?", (image_id,))]

    def remove(self, name: str, force: bool, users: Callable[[str], list[tuple[str, bool]]],
               prune: bool = True) -> list[dict]:
        """docker rmi: untag, and delete the image once no reference is left.

        `users(image_id)` lists (container id, running) of containers using it.
        As docker's, an image with child images is never deleted (by id: a
        conflict that cannot be forced; by name: untagged only), and a deleted
        image's untagged parents that nothing else keeps go with it unless
        `prune` is false (`--no-prune`). Records are docker's: Untagged, then
        Deleted for each image and for each of its layers that went with it.
        """
        image = self.resolve(name)
        by_reference = self._names_reference(name, image)
        deleted: list[dict] = []
        if by_reference:
            ref = str(refs.parse(name))
            containers = users(image.id)
            running = [c for c, r in containers if r]
            left, dropped = self._refs_left_after(ref, image)
            if not left and containers and not force:
                raise Conflict(f'conflict: unable to remove repository reference "{name}" (must force) - '
                               f"container {containers[0][0][:12]} is using its referenced image {image.short_id}")
            if left or (force and running) or self.children(image.id):
                for r in [ref, *dropped]:
                    self._untag(r)
                return [{"Untagged": refs.parse(r).familiar()} for r in [ref, *dropped]]
        else:
            if self.children(image.id):
                raise Conflict(f"conflict: unable to delete {image.short_id} (cannot be forced) - "
                               "image has dependent child images")
            containers = users(image.id)
            running = [c for c, r in containers if r]
            if running:
                raise Conflict(f"conflict: unable to delete {image.short_id} (cannot be forced) - "
                               f"image is being used by running container {running[0][:12]}")
            if containers and not force:
                raise Conflict(f"conflict: unable to delete {image.short_id} (must be forced) - "
                               f"image is being used by stopped container {containers[0][0][:12]}")
            if len(image.refs) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {image.short_id} (must be forced) - "
                               "image is referenced in multiple repositories")
        self._delete(image, deleted)
        parent = image.parent
        while prune and parent:
            # docker prunes quietly: it stops at a parent that is tagged, has
            # another child or is used by a container.
            up = self.lookup(parent)
            if up is None or up.refs or self.children(up.id) or users(up.id):
                break
            self._delete(up, deleted)
            parent = up.parent
        return deleted

    def _delete(self, image: Image, records: list[dict]) -> None:
        """Drop one image (its references first) and the layers only it needed."""
        for ref in image.refs:
            records.append({"Untagged": refs.parse(ref).familiar()})
        with self.md.transaction() as db:
            db.execute("DELETE FROM image_refs WHERE image_id=?", (image.id,))
            db.execute("DELETE FROM images WHERE id=?", (image.id,))
        records.append({"Deleted": image.id})
        self.blobs.delete(image.id)
        gone = self.gc_layers()
        records.extend({"Deleted": c} for c in reversed(self.layer_chain(image)) if c in gone)

    def _refs_left_after(self, ref: str, image: Image) -> tuple[list[str], list[str]]:
        """(references left, digest references dropped) when `ref` is untagged: as docker,
        removing a repository's last tag also removes that repository's digest references."""
        parsed = refs.parse(ref)
        rest = [r for r in image.refs if r != ref]
        if parsed.digest:
            return rest, []
        others = [refs.parse(r) for r in rest]
        if any(o.name == parsed.name and not o.digest for o in others):
            return rest, []
        dropped = [r for r, o in zip(rest, others) if o.digest and o.name == parsed.name]
        return [r for r in rest if r not in dropped], dropped

    def _names_reference(self, name: str, image: Image) -> bool:
        try:
            return str(refs.parse(name)) in image.refs
        except InvalidParameter:
            return False

    def _untag(self, ref: str) -> None:
        self.md.execute("DELETE FROM image_refs WHERE ref=?", (ref,))

    def gc_layers(self, extra_in_use: Iterable[str] = ()) -> set[str]:
        """Remove layers no image or container needs (reachability, not counters).
        Returns the chain ids removed."""
        needed: set[str] = set(extra_in_use)
        configs = [json.loads(r["config"]) for r in self.md.query("SELECT config FROM images")]
        for r in self.md.query("SELECT doc FROM containers"):
            needed.update(json.loads(r["doc"]).get("_LayerChain", []))
        for config in configs:
            parent = ""
            for diff_id in config.get("rootfs", {}).get("diff_ids", []):
                parent = chain_id(parent, diff_id)
                needed.add(parent)
        removed: set[str] = set()
        for row in self.md.query("SELECT chain_id, cache_id FROM layers"):
            if row["chain_id"] not in needed:
                self.md.execute("DELETE FROM layers WHERE chain_id=?", (row["chain_id"],))
                self.snaps.remove_layer(row["cache_id"])
                removed.add(row["chain_id"])
        return removed

    def layer_chain(self, image: Image) -> list[str]:
        out, parent = [], ""
        for diff_id in image.config.get("rootfs", {}).get("diff_ids", []):
            parent = chain_id(parent, diff_id)
            out.append(parent)
        return out

    def cache_ids_for_chain(self, chain: list[str]) -> list[str]:
        """Cache ids for a stored chain, top-most first."""
        out = []
        for cid in chain:
            row = self.md.one("SELECT cache_id FROM layers WHERE chain_id=?", (cid,))
            if row is None:
                raise InvalidParameter(f"layer {cid} is missing")
            out.append(row["cache_id"])
        out.reverse()
        return out

    def layers_size(self) -> int:
        row = self.md.one("SELECT COALESCE(SUM(size), 0) AS total FROM layers")
        return int(row["total"]) if row else 0

    def clean_orphan_layers(self) -> None:
        """Layer directories with no row: a daemon died between commit and insert."""
        known = {r["cache_id"] for r in self.md.query("SELECT cache_id FROM layers")}
        for name in os.listdir(self.snaps.layers_dir):
            if name not in known:
                self.snaps.remove_layer(name)
        self.snaps.clean_staging()

    # ------------------------------------------------------------ API shapes
    def inspect(self, image: Image) -> dict:
        cfg = image.config
        repo_tags, repo_digests = [], []
        for r in image.refs:
            parsed = refs.parse(r)
            (repo_digests if parsed.digest else repo_tags).append(parsed.familiar())
        chain_ids = self.layer_chain(image)
        lowers = [self.snaps.layer_diff(c) for c in self.cache_ids_for_chain(chain_ids)] if chain_ids else []
        graph: dict = {"Name": "overlay2", "Data": {}}
        if lowers:
            graph["Data"] = {"MergedDir": "", "UpperDir": lowers[0], "WorkDir": ""}
            if len(lowers) > 1:
                graph["Data"]["LowerDir"] = ":".join(lowers[1:])
        return {
            "Id": image.id,
            "RepoTags": repo_tags,
            "RepoDigests": repo_digests,
            "Parent": image.parent,
            "Comment": cfg.get("comment", ""),
            "Created": cfg.get("created", ""),
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""),
            "Config": _image_config_shape(cfg.get("config", {})),
            "Architecture": cfg.get("architecture", ""),
            "Variant": cfg.get("variant", "") or None,
            "Os": cfg.get("os", ""),
            "Size": image.size,
            "VirtualSize": image.size,
            "GraphDriver": graph,
            "RootFS": {"Type": "layers", "Layers": list(cfg.get("rootfs", {}).get("diff_ids", []))},
            "Metadata": {"LastTagTime": ZERO_TIME},
        }

    def summary(self, image: Image, containers: int = -1) -> dict:
        repo_tags, repo_digests = [], []
        for r in image.refs:
            parsed = refs.parse(r)
            (repo_digests if parsed.digest else repo_tags).append(parsed.familiar())
        return {
            "Id": image.id,
            "ParentId": image.parent,
            "RepoTags": repo_tags,
            "RepoDigests": repo_digests,
            "Created": unix_from_iso(image.config["created"]) if image.config.get("created") else 0,
            "Size": image.size,
            "SharedSize": -1,
            "VirtualSize": image.size,
            "Labels": (image.config.get("config") or {}).get("Labels") or {},
            "Containers": containers,
        }

    def history(self, image: Image) -> list[dict]:
        cfg = image.config
        entries = cfg.get("history") or []
        diff_ids = list(cfg.get("rootfs", {}).get("diff_ids", []))
        sizes, parent = [], ""
        for d in diff_ids:
            parent = chain_id(parent, d)
            row = self.md.one("SELECT size FROM layers WHERE chain_id=?", (parent,))
            sizes.append(row["size"] if row else 0)
        out = []
        layer_index = 0
        for h in entries:
            size = 0
            if not h.get("empty_layer"):
                size = sizes[layer_index] if layer_index < len(sizes) else 0
                layer_index += 1
            out.append({
                "Id": "<missing>",
                "Created": unix_from_iso(h["created"]) if h.get("created") else 0,
                "CreatedBy": h.get("created_by", ""),
                "Tags": None,
                "Size": size,
                "Comment": h.get("comment", ""),
            })
        out.reverse()
        # docker: the newest entry is the image, each older one the next image up the
        # parent chain (a legacy build's intermediate images), until the chain ends;
        # entries from elsewhere (a pulled base) stay <missing>.
        step: Image | None = image
        for entry in out:
            if step is None:
                break
            entry["Id"] = step.id
            tags = [refs.parse(r).familiar() for r in step.refs if not refs.parse(r).digest]
            entry["Tags"] = tags or None
            step = self.lookup(step.parent) if step.parent else None
        return out


_CONFIG_KEYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
                "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck",
                "ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels",
                "StopSignal")


def _image_config_shape(cfg: dict) -> dict:
    """The image's config in the ContainerConfig shape docker's inspect shows."""
    out = {
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
        "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False,
        "Env": None, "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "",
        "Entrypoint": None, "OnBuild": None, "Labels": None,
    }
    for key in _CONFIG_KEYS:
        if key in cfg:
            out[key] = cfg[key]
    return out
