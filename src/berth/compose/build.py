"""Building and pulling service images through the Engine API (POST /build, POST
/images/create), with the context sent as a tar honouring .dockerignore."""

from __future__ import annotations

import io
import json
import os
import tarfile
from typing import Any

from ..cli.command import APIError
from .engine import Engine
from .errors import ComposeError
from .model import Project, Service
from .progress import Progress


def context_tar(context: str, dockerfile: str, inline: str | None) -> tuple[bytes, str]:
    """The build context as an uncompressed tar, walked the way docker's CLI sends it
    (.dockerignore honoured, the Dockerfile and .dockerignore always kept); an inline
    Dockerfile is added under a name of its own."""
    from ..build.dockerignore import IgnoreMatcher, read_patterns

    if not os.path.isdir(context):
        raise ComposeError(f"unable to prepare context: path \"{context}\" not found")
    patterns: list[str] = []
    ignore_file = os.path.join(context, ".dockerignore")
    if os.path.isfile(ignore_file):
        with open(ignore_file, encoding="utf-8") as fh:
            patterns = read_patterns(fh.read())
    matcher = IgnoreMatcher(patterns)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, entry in matcher.walk(context, keep=(dockerfile, ".dockerignore")):
            tar.add(entry.path, arcname=rel, recursive=False)
        if inline is not None:
            dockerfile = ".berth-compose.Dockerfile"
            data = inline.encode()
            info = tarfile.TarInfo(dockerfile)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), dockerfile


def build_service(project: Project, svc: Service, engine: Engine, progress: Progress,
                  no_cache: bool = False, pull: bool = False, extra_args: dict | None = None,
                  quiet: bool = False, memory: int = 0) -> str:
    b = svc.build or {}
    context = b.get("context", project.working_dir)
    if "://" in context:
        raise ComposeError(f"service {svc.name}: remote build contexts are not supported ({context})")
    data, dockerfile = context_tar(context, b.get("dockerfile", "Dockerfile"), b.get("dockerfile_inline"))
    args = dict(b.get("args") or {})
    args.update(extra_args or {})
    params: dict[str, Any] = {"t": svc.image, "dockerfile": dockerfile, "rm": "1", "forcerm": "1"}
    if args:
        params["buildargs"] = json.dumps({k: v for k, v in args.items() if v is not None})
    if b.get("target"):
        params["target"] = b["target"]
    if memory:
        params["memory"] = str(memory)
    if b.get("labels"):
        params["labels"] = json.dumps(b["labels"])
    if b.get("cache_from"):
        params["cachefrom"] = json.dumps(b["cache_from"])
    if no_cache or b.get("no_cache"):
        params["nocache"] = "1"
    if pull or b.get("pull"):
        params["pull"] = "1"
    if b.get("network"):
        params["networkmode"] = b["network"]
    if b.get("shm_size"):
        params["shmsize"] = str(b["shm_size"])
    for key in ("additional_contexts", "secrets", "ssh", "entitlements", "privileged", "platforms", "provenance",
                "sbom", "cache_to", "ulimits", "isolation"):
        if b.get(key):
            raise ComposeError(f"service {svc.name}: build.{key} is not supported by berth's builder")
    if b.get("extra_hosts"):
        from .loader.normalize import _extra_hosts

        params["extrahosts"] = ",".join(_extra_hosts(b["extra_hosts"]))
    for tag in b.get("tags") or []:
        params.setdefault("_extra_tags", []).append(tag)
    extra_tags = params.pop("_extra_tags", [])
    progress.event("Service", svc.name, "Building")
    try:
        resp = engine.stream("POST", "/build", params, raw_body=data,
                             headers=[("Content-Type", "application/x-tar")])
    except APIError as exc:
        raise ComposeError(f"failed to build service {svc.name}: {exc.detail}") from None
    image_id = ""
    for msg in resp.iter_json():
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("error") or (msg.get("errorDetail") or {}).get("message", "")
            raise ComposeError(f"failed to solve: {detail}".rstrip())
        if msg.get("stream") and not quiet and progress.mode != "quiet":
            text = msg["stream"]
            if text.strip():
                progress.out.write(f"#{svc.name} {text.rstrip()}\n")
        aux = msg.get("aux") or {}
        if aux.get("ID"):
            image_id = aux["ID"]
    for tag in extra_tags:
        repo, _, t = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "latest")
        engine.call("POST", f"/images/{svc.image}/tag", {"repo": repo, "tag": t})
    progress.event("Service", svc.name, "Built")
    return image_id


def pull_image(ref: str, engine: Engine, progress: Progress) -> None:
    name, tag = ref, "latest"
    last = ref.split("/")[-1]
    if "@" in ref:
        name, tag = ref, ""
    elif ":" in last:
        name, _, tag = ref.rpartition(":")
    progress.event("Image", ref, "Pulling")
    params = {"fromImage": name}
    if tag:
        params["tag"] = tag
    try:
        resp = engine.stream("POST", "/images/create", params)
    except APIError as exc:
        raise ComposeError(f"Error response from daemon: {exc.detail}") from None
    for msg in resp.iter_json():
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("error") or (msg.get("errorDetail") or {}).get("message", "")
            progress.event("Image", ref, "Error", detail)
            raise ComposeError(f"Error response from daemon: {detail}")
    progress.event("Image", ref, "Pulled")
