"""Engine API: /images/..."""

from __future__ import annotations

import asyncio
import fnmatch
import json
from typing import BinaryIO

from aiohttp import web


from berth.api.params import qbool, reply
from berth.engine.filters import label_matches, parse_filters
from berth.errors import Conflict, ImageNotFound, InvalidParameter, NotImplementedFeature
from berth.images import reference as refs
from berth.images.store import Image

IMAGE_FILTERS = {"dangling", "label", "reference", "before", "since", "until"}


def daemon(request: web.Request):
    return request.app["daemon"]


class BodyReader:
    """A blocking file object over the request body, for code run in a thread."""

    def __init__(self, request: web.Request, loop: asyncio.AbstractEventLoop) -> None:
        self.content = request.content
        self.loop = loop
        self.buf = b""
        self.eof = False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            chunks = [self.buf]
            self.buf = b""
            while not self.eof:
                chunks.append(self._fetch())
            return b"".join(chunks)
        while len(self.buf) < n and not self.eof:
            self.buf += self._fetch()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _fetch(self) -> bytes:
        data = asyncio.run_coroutine_threadsafe(self.content.read(1 << 20), self.loop).result()
        if not data:
            self.eof = True
        return data


async def create(request: web.Request) -> web.StreamResponse:
    q = request.query
    if q.get("fromImage"):
        from berth.api.distribution import pull

        return await pull(request)
    src = q.get("fromSrc")
    if not src:
        raise InvalidParameter("one of fromImage or fromSrc is required")
    if src != "-":
        raise NotImplementedFeature("importing from a URL is not supported by berthd; download the file and "
                                    "import it with `-`")
    repo, tag = q.get("repo", ""), q.get("tag", "")
    reference = None
    if repo:
        reference = f"{repo}:{tag}" if tag else repo
        refs.parse(reference)  # refuse a bad name before reading the upload
    changes = q.getall("changes", [])
    message = q.get("message", "")
    if changes:
        from berth.images.changes import apply_changes

        apply_changes({}, changes)  # a bad --change is a 400 before the upload is read
    loop = asyncio.get_running_loop()
    warnings: list[str] = []
    body: BinaryIO = BodyReader(request, loop)  # type: ignore[assignment]
    store = daemon(request).images
    # Nothing is streamed until the layer is in: a failure is a plain HTTP error, as docker's.
    image = await loop.run_in_executor(
        None, lambda: store.import_rootfs(body, reference, changes, message, warnings.append))
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    for w in warnings:
        await resp.write(json.dumps({"status": f"warning: {w}"}).encode() + b"\r\n")
    await resp.write(json.dumps({"status": image.id}).encode() + b"\r\n")
    await resp.write_eof()
    daemon(request).events.publish("image", "import", image.id, {"name": reference or image.id})
    return resp


async def list_(request: web.Request) -> web.Response:
    d = daemon(request)
    filters = parse_filters(request.query.get("filters"))
    for key in filters:
        if key not in IMAGE_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
    images = d.images.all()
    out = []
    counts: dict[str, int] = {}
    for c in d.containers.containers.values():
        counts[c.doc["Image"]] = counts.get(c.doc["Image"], 0) + 1
    for pattern in filters.get("reference", []):
        _check_pattern(pattern)
    # Without ?all, intermediate images (untagged, with children: a legacy build's steps)
    # are hidden, as docker's are.
    with_children = {i.parent for i in images if i.parent}
    parents = set() if qbool(request, "all") else with_children
    # dangling=true selects docker's "heads": an untagged image with children is not dangling.
    heads_only = any(v.lower() in ("true", "1") for v in filters.get("dangling", []))
    for image in images:
        if image.id in (with_children if heads_only else parents) and not image.refs:
            continue
        if not _image_matches(image, filters, d):
            continue
        if "reference" in filters:
            image.refs = _matching_refs(image, filters["reference"])
        out.append(d.images.summary(image, counts.get(image.id, 0) if qbool(request, "shared-size") else -1))
    return reply(out)


def _check_pattern(pattern: str) -> None:
    """Go's path.Match refuses an unclosed character class; fnmatch would not."""
    depth = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
        elif ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
        i += 1
    if depth:
        raise InvalidParameter("syntax error in pattern")


def _matching_refs(image: Image, patterns: list[str]) -> list[str]:
    """The image's references that a reference filter selects, docker's way: the
    pattern is matched against the short name, or the short name with its tag."""
    out = []
    for r in image.refs:
        parsed = refs.parse(r)
        if any(fnmatch.fnmatchcase(cand, pattern) for pattern in patterns
               for cand in (parsed.familiar_name, parsed.familiar())):
            out.append(r)
    return out


def _image_matches(image: Image, filters: dict[str, list[str]], d) -> bool:
    if "dangling" in filters:
        values = {v.lower() for v in filters["dangling"]}
        if not values <= {"true", "false", "1", "0"}:
            raise InvalidParameter(f"Invalid filter 'dangling=[{', '.join(sorted(values))}]'")
        dangling = not image.refs
        if values & {"true", "1"} and not dangling:
            return False
        if values & {"false", "0"} and dangling:
            return False
    if "label" in filters and not label_matches((image.config.get("config") or {}).get("Labels") or {},
                                                filters["label"]):
        return False
    if "reference" in filters:
        if not _matching_refs(image, filters["reference"]):
            return False
    for key in ("before", "since"):
        if key in filters:
            other = d.images.resolve(filters[key][0])
            created, other_created = image.config.get("created", ""), other.config.get("created", "")
            if key == "before" and not created < other_created:
                return False
            if key == "since" and not created > other_created:
                return False
    return True


async def inspect(request: web.Request) -> web.Response:
    d = daemon(request)
    image = d.images.resolve(request.match_info["name"])
    return reply(d.images.inspect(image))


async def history(request: web.Request) -> web.Response:
    d = daemon(request)
    return reply(d.images.history(d.images.resolve(request.match_info["name"])))


async def tag(request: web.Request) -> web.Response:
    d = daemon(request)
    repo = request.query.get("repo", "")
    if not repo:
        raise InvalidParameter("repository name must have at least one component")
    d.images.tag(request.match_info["name"], repo, request.query.get("tag") or None)
    image = d.images.resolve(request.match_info["name"])
    d.events.publish("image", "tag", image.id, {"name": refs.parse(
        f"{repo}:{request.query['tag']}" if request.query.get("tag") else repo).familiar()})
    return web.Response(status=201)


async def remove(request: web.Request) -> web.Response:
    d = daemon(request)
    image = d.images.resolve(request.match_info["name"])
    layers = set(d.images.layer_chain(image))
    result = d.images.remove(request.match_info["name"], qbool(request, "force"), d.containers.users_of_image,
                             prune=not qbool(request, "noprune"))
    for item in result:
        for action, value in item.items():
            if action == "Deleted" and value in layers:
                continue  # a layer that went with an image: no event of its own, as docker
            # docker's actor is the image id (a pruned parent's own for its delete);
            # the name attribute says which reference went
            actor = value if action == "Deleted" else image.id
            d.events.publish("image", "untag" if action == "Untagged" else "delete", actor, {"name": value})
    return reply(result)


async def prune(request: web.Request) -> web.Response:
    d = daemon(request)
    filters = parse_filters(request.query.get("filters"))
    dangling_only = True
    for key, values in filters.items():
        if key == "dangling":
            dangling_only = any(v.lower() in ("true", "1") for v in values)
        elif key not in ("label", "label!", "until"):
            raise InvalidParameter(f"invalid filter '{key}'")
    deleted: list[dict] = []
    before = d.images.layers_size()
    used = {c.doc["Image"] for c in d.containers.containers.values()}
    for image in d.images.all():
        tagged = [r for r in image.refs if not refs.parse(r).digest]
        if image.id in used or (dangling_only and tagged):
            continue
        # docker: an untagged image with children is an intermediate image (a legacy
        # build's step); it goes only with the image on top of it (parents are pruned).
        if not image.refs and d.images.children(image.id):
            continue
        labels = (image.config.get("config") or {}).get("Labels") or {}
        if "label" in filters and not label_matches(labels, filters["label"]):
            continue
        if "label!" in filters and label_matches(labels, filters["label!"]):
            continue
        for name in image.refs or [image.id]:
            try:
                deleted += d.images.remove(name, False, d.containers.users_of_image)
            except (Conflict, ImageNotFound):
                continue  # gone with an earlier one, or kept (docker skips it the same way)
    # Only layers that are gone count: one shared with a kept image frees nothing.
    return reply({"ImagesDeleted": deleted or None, "SpaceReclaimed": before - d.images.layers_size()})


def routes(add) -> None:
    add("POST", "/images/create", create)
    add("GET", "/images/json", list_)
    add("POST", "/images/prune", prune)
    add("GET", "/images/{name:.+}/json", inspect)
    add("GET", "/images/{name:.+}/history", history)
    add("POST", "/images/{name:.+}/tag", tag)
    add("DELETE", "/images/{name:.+}", remove)
