"""The /v2/ endpoints: blobs, uploads, manifests, tags, catalog, referrers.

Each handler gets the aiohttp request, the parsed Route and the Registry; it
returns a response or raises RegistryError (turned into the spec's JSON body
by app.py). Auth has already been checked for the route's scope.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from . import manifests as mf
from .errors import RegistryError
from .names import Route, is_digest_like, parse_digest, valid_name, valid_tag
from .storage import MANIFEST_LIMIT

if TYPE_CHECKING:
    from .app import Registry

JSON = "application/json; charset=utf-8"
log = logging.getLogger("berth.registry")


def _empty(status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, headers={**headers, "Content-Length": "0"})


def _digest_param(request: web.Request) -> str:
    digest = request.query.get("digest")
    if not digest:
        raise RegistryError("DIGEST_INVALID", message="digest missing from request")
    parse_digest(digest)
    return digest


# ---------------------------------------------------------------- blobs
async def blob(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    digest = r.ref
    parse_digest(digest)
    if request.method == "DELETE":
        if not reg.cfg.delete_enabled:
            raise RegistryError("UNSUPPORTED", "deletion is disabled on this registry")
        if not reg.storage.unlink_blob(r.name, digest):
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
        return _empty(202, {"Docker-Content-Digest": digest})
    size = reg.storage.repo_blob_size(r.name, digest)
    if size is None:
        raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
    headers = {"Docker-Content-Digest": digest, "Content-Type": "application/octet-stream",
               "Cache-Control": "max-age=31536000", "Accept-Ranges": "bytes"}
    if request.method == "HEAD":
        return web.Response(status=200, headers={**headers, "Content-Length": str(size)})
    # FileResponse sends with sendfile(2) and answers Range with 206 / 416; a larger
    # send buffer means fewer event-loop wake-ups per blob
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None and size > (1 << 20):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        except OSError:
            pass
    return web.FileResponse(reg.storage.blob_path(digest), chunk_size=1 << 20, headers=headers)


def _is_digest(text: str) -> bool:
    try:
        parse_digest(text)
        return True
    except RegistryError:
        return False


def _upload_headers(reg: Registry, request: web.Request, name: str, uid: str, size: int) -> dict[str, str]:
    return {"Location": reg.url(request, f"/v2/{name}/blobs/uploads/{uid}"),
            "Docker-Upload-UUID": uid, "Range": f"0-{max(size - 1, 0)}"}


def _created(reg: Registry, request: web.Request, name: str, digest: str) -> web.Response:
    return _empty(201, {"Location": reg.url(request, f"/v2/{name}/blobs/{digest}"),
                        "Docker-Content-Digest": digest})


async def start_upload(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    if request.method != "POST":
        raise RegistryError("UNSUPPORTED", f"{request.method} on the upload collection")
    mount, source = request.query.get("mount"), request.query.get("from")
    if mount:
        # the spec: a mount that cannot happen (bad arguments included) falls back to an upload
        if (_is_digest(mount) and source and valid_name(source)
                and reg.storage.repo_blob_size(source, mount) is not None and reg.may_pull(request, source)):
            reg.storage.link_blob(r.name, mount)
            return _created(reg, request, r.name, mount)
    elif "digest" in request.query:
        digest = _digest_param(request)
        info, state = reg.uploads.create(r.name)
        async with state.lock:
            try:
                await reg.uploads.append(request, info, state)
                await reg.uploads.finish(r.name, info, state, digest)
            except BaseException:
                reg.uploads.discard(info.uuid)
                raise
        return _created(reg, request, r.name, digest)
    info, _ = reg.uploads.create(r.name)
    return _empty(202, _upload_headers(reg, request, r.name, info.uuid, 0))


async def upload(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    info, state = reg.uploads.open(r.name, r.ref)
    if request.method == "DELETE":
        async with state.lock:
            reg.uploads.discard(info.uuid)
        return _empty(204, {})
    if request.method == "GET":
        size = reg.uploads.size(info)
        return _empty(204, _upload_headers(reg, request, r.name, info.uuid, size))
    if request.method == "PATCH":
        async with state.lock:
            info, state = reg.uploads.open(r.name, r.ref)  # purged or finished while we waited?
            try:
                size = await reg.uploads.append(request, info, state)
            except RegistryError as exc:
                if exc.code == "RANGE_INVALID":
                    exc.headers.update(_upload_headers(reg, request, r.name, info.uuid, reg.uploads.size(info)))
                raise
        return _empty(202, _upload_headers(reg, request, r.name, info.uuid, size))
    if request.method == "PUT":
        digest = _digest_param(request)
        async with state.lock:
            info, state = reg.uploads.open(r.name, r.ref)
            await reg.uploads.append(request, info, state)
            await reg.uploads.finish(r.name, info, state, digest)
        return _created(reg, request, r.name, digest)
    raise RegistryError("UNSUPPORTED", f"{request.method} on an upload")


# ---------------------------------------------------------------- manifests
def _manifest_headers(rec: Any) -> dict[str, str]:
    return {"Content-Type": rec.media_type, "Docker-Content-Digest": rec.digest,
            "ETag": f'"{rec.digest}"', "Content-Length": str(rec.size)}


def _lookup(reg: Registry, name: str, ref: str) -> Any:
    if is_digest_like(ref):
        parse_digest(ref)
        digest: str | None = ref
    else:
        if not valid_tag(ref):
            raise RegistryError("MANIFEST_UNKNOWN", {"tag": ref[:200]}, message="invalid tag")
        digest = reg.storage.resolve_tag(name, ref)
    rec = reg.storage.manifest(name, digest) if digest else None
    if rec is None:
        raise RegistryError("MANIFEST_UNKNOWN", {"reference": ref} if digest is None else {"digest": digest})
    return rec


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


async def manifest(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    if request.method == "PUT":
        return await put_manifest(request, r, reg)
    if request.method == "DELETE":
        return delete_manifest(r, reg)
    rec = _lookup(reg, r.name, r.ref)
    data = _read(rec.path)
    if not is_digest_like(r.ref):
        accept = mf.accepted_types(request.headers.getall("Accept", []))
        if mf.must_substitute(rec.media_type, accept):
            rec, data = _substitute(reg, r.name, rec, data, accept)
    headers = _manifest_headers(rec)
    if request.method == "HEAD":
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=data, headers=headers)


def _substitute(reg: Registry, name: str, rec: Any, data: bytes, accept: set[str]) -> tuple[Any, bytes]:
    """distribution 2.8: an old client gets the default platform's image instead of a Docker
    manifest list; an OCI index or manifest it does not accept is a 404 (checked against
    Debian's docker-registry 2.8)."""
    if rec.media_type == mf.DOCKER_LIST:
        child = mf.default_platform_child(data)
        child_rec = reg.storage.manifest(name, child) if child else None
        if child_rec is not None and (child_rec.media_type in accept or child_rec.media_type == mf.DOCKER_MANIFEST):
            return child_rec, _read(child_rec.path)
    kind, kinds = {mf.OCI_MANIFEST: ("OCI manifest", "OCI manifests"), mf.OCI_INDEX: ("OCI index", "OCI indexes"),
                   mf.DOCKER_LIST: ("manifest list", "manifest lists")}.get(rec.media_type, (rec.media_type,) * 2)
    raise RegistryError("MANIFEST_UNKNOWN", {"digest": rec.digest},
                        message=f"{kind} found, but accept header does not support {kinds}")


async def put_manifest(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    by_digest = is_digest_like(r.ref)
    if by_digest:
        algorithm, _ = parse_digest(r.ref)
    else:
        algorithm = "sha256"
        if not valid_tag(r.ref):
            raise RegistryError("MANIFEST_INVALID", {"tag": r.ref[:200]}, message="invalid tag")
    if (request.content_length or 0) > MANIFEST_LIMIT:
        raise RegistryError("SIZE_INVALID", {"limit": MANIFEST_LIMIT}, message="manifest too big", status=413)
    data = bytearray()
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        data += chunk
        if len(data) > MANIFEST_LIMIT:
            raise RegistryError("SIZE_INVALID", {"limit": MANIFEST_LIMIT}, message="manifest too big", status=413)
    body = bytes(data)
    digest = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
    if by_digest and digest != r.ref:
        raise RegistryError("DIGEST_INVALID", {"expected": r.ref, "actual": digest})
    parsed = mf.parse(body, request.headers.get("Content-Type", ""))
    missing = [d.digest for d in parsed.blobs if reg.storage.repo_blob_size(r.name, d.digest) is None]
    if missing:
        err = RegistryError("MANIFEST_BLOB_UNKNOWN", {"digest": missing[0]})
        for more in dict.fromkeys(missing[1:]):
            err.also("MANIFEST_BLOB_UNKNOWN", {"digest": more})
        raise err
    for d in parsed.blobs:
        size = reg.storage.repo_blob_size(r.name, d.digest)
        if size != d.size:
            raise RegistryError("MANIFEST_INVALID", {"digest": d.digest, "size": d.size, "stored": size},
                                message="manifest invalid: a descriptor's size does not match its blob")
    for d in parsed.children:
        # buildkit's registry cache lists layer blobs in an index: a child that does not
        # claim a manifest type may be a blob of the repository instead
        if d.media_type not in mf.SUPPORTED and reg.storage.repo_blob_size(r.name, d.digest) is not None:
            continue
        if reg.storage.manifest(r.name, d.digest) is None:
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", {"digest": d.digest},
                                message="manifest references a manifest unknown to the repository")
    subject = parsed.subject.digest if parsed.subject else None
    reg.storage.put_manifest(r.name, digest, parsed.media_type, body, None if by_digest else r.ref, subject)
    log.info("manifest %s:%s -> %s (%s)", r.name, r.ref, digest, parsed.media_type)
    headers = {"Location": reg.url(request, f"/v2/{r.name}/manifests/{digest}"), "Docker-Content-Digest": digest}
    if subject:
        headers["OCI-Subject"] = subject
    return _empty(201, headers)


def delete_manifest(r: Route, reg: Registry) -> web.StreamResponse:
    if not reg.cfg.delete_enabled:
        raise RegistryError("UNSUPPORTED", "deletion is disabled on this registry")
    if not is_digest_like(r.ref):
        if not valid_tag(r.ref) or not reg.storage.delete_tag(r.name, r.ref):
            raise RegistryError("MANIFEST_UNKNOWN", {"tag": r.ref[:200]})
        return _empty(202, {})
    rec = _lookup(reg, r.name, r.ref)
    subject = None
    try:
        subject = (json.loads(_read(rec.path)).get("subject") or {}).get("digest")
        if subject:
            parse_digest(subject)
    except (ValueError, RegistryError, AttributeError):
        subject = None
    reg.storage.delete_manifest(r.name, rec.digest, subject)
    log.info("deleted manifest %s@%s", r.name, rec.digest)
    return _empty(202, {})


# ---------------------------------------------------------------- listings
def _page(request: web.Request, items: list[str], default_n: int | None) -> tuple[list[str], int | None]:
    raw_n = request.query.get("n")
    n = default_n
    if raw_n is not None:
        try:
            n = int(raw_n)
        except ValueError:
            raise RegistryError("PAGINATION_NUMBER_INVALID", {"n": raw_n}) from None
        if n < 0 or n > 10000:
            raise RegistryError("PAGINATION_NUMBER_INVALID", {"n": raw_n})
    last = request.query.get("last")
    if last:
        items = [i for i in items if i > last]
    if n is None:
        return items, None
    return items[:n], (n if len(items) > n and n > 0 else None)


def _link(path: str, last: str, n: int) -> str:
    return f'<{path}?last={quote(last, safe="")}&n={n}>; rel="next"'


async def tags_list(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    tags = reg.storage.tags(r.name)
    if tags is None:
        raise RegistryError("NAME_UNKNOWN", {"name": r.name})
    page, more = _page(request, tags, None)
    headers = {"Content-Type": JSON}
    if more:
        headers["Link"] = _link(f"/v2/{r.name}/tags/list", page[-1], more)
    return web.Response(body=json.dumps({"name": r.name, "tags": page}).encode(), headers=headers)


async def catalog(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    page, more = _page(request, reg.storage.catalog(), 100)
    headers = {"Content-Type": JSON}
    if more:
        headers["Link"] = _link("/v2/_catalog", page[-1], more)
    return web.Response(body=json.dumps({"repositories": page}).encode(), headers=headers)


async def referrers(request: web.Request, r: Route, reg: Registry) -> web.StreamResponse:
    parse_digest(r.ref)
    if not reg.storage.repo_exists(r.name):
        raise RegistryError("NAME_UNKNOWN", {"name": r.name})
    wanted = request.query.getall("artifactType", [])
    entries = []
    for digest in reg.storage.referrers(r.name, r.ref):
        rec = reg.storage.manifest(r.name, digest)
        if rec is None:
            continue
        try:
            parsed = mf.parse(_read(rec.path), rec.media_type)
        except RegistryError:
            continue
        if wanted and parsed.artifact_type not in wanted:
            continue
        desc: dict[str, Any] = {"mediaType": rec.media_type, "digest": digest, "size": rec.size}
        if parsed.artifact_type:
            desc["artifactType"] = parsed.artifact_type
        if parsed.annotations:
            desc["annotations"] = parsed.annotations
        entries.append(desc)
    headers = {"Content-Type": mf.OCI_INDEX}
    if wanted:
        headers["OCI-Filters-Applied"] = "artifactType"
    doc = {"schemaVersion": 2, "mediaType": mf.OCI_INDEX, "manifests": entries}
    return web.Response(body=json.dumps(doc).encode(), headers=headers)
