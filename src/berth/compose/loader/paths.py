"""Relative paths in a service, resolved against the directory they were written for.

Each file is resolved before merging, because `extends` and `include` bring services
from other directories: their `./data` means their own directory, not the project's.
"""

from __future__ import annotations

import os
from typing import Any


def is_remote(path: str) -> bool:
    return "://" in path or path.startswith("git@") or path.startswith("github.com/")


def absolute(path: str, base: str) -> str:
    if path.startswith("~"):
        path = os.path.expanduser(path)
    if os.path.isabs(path):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(base, path))


def _short_volume(spec: str, base: str) -> str:
    parts = spec.split(":")
    if len(parts) >= 2 and parts[0] and (parts[0][0] in "./~"):
        parts[0] = absolute(parts[0], base)
        return ":".join(parts)
    return spec


def _env_file(item: Any, base: str) -> Any:
    if isinstance(item, str):
        return absolute(item, base)
    if isinstance(item, dict) and isinstance(item.get("path"), str):
        return {**item, "path": absolute(item["path"], base)}
    return item


def resolve_service_paths(svc: Any, base: str) -> Any:
    """A copy of `svc` with its relative paths made absolute against `base`."""
    if not isinstance(svc, dict):
        return svc
    svc = dict(svc)
    build = svc.get("build")
    if isinstance(build, str):
        svc["build"] = build if is_remote(build) else absolute(build, base)
    elif isinstance(build, dict):
        build = dict(build)
        ctx = build.get("context", ".")
        if isinstance(ctx, str) and not is_remote(ctx):
            build["context"] = absolute(ctx, base)
        extra = build.get("additional_contexts")
        if isinstance(extra, dict):
            build["additional_contexts"] = {
                k: (absolute(v, base) if isinstance(v, str) and not is_remote(v) and ":" not in v else v)
                for k, v in extra.items()}
        svc["build"] = build
    for key in ("env_file", "label_file"):
        value = svc.get(key)
        if isinstance(value, list):
            svc[key] = [_env_file(v, base) for v in value]
        elif value is not None:
            svc[key] = _env_file(value, base)
    vols = svc.get("volumes")
    if isinstance(vols, list):
        out = []
        for v in vols:
            if isinstance(v, str):
                out.append(_short_volume(v, base))
            elif isinstance(v, dict) and v.get("type") == "bind" and isinstance(v.get("source"), str):
                out.append({**v, "source": absolute(v["source"], base)})
            else:
                out.append(v)
        svc["volumes"] = out
    ext = svc.get("extends")
    if isinstance(ext, dict) and isinstance(ext.get("file"), str) and not ext["file"].startswith("remote:"):
        svc["extends"] = {**ext, "file": absolute(ext["file"], base)}
    return svc


def resolve_document_paths(doc: dict, base: str) -> dict:
    doc = dict(doc)
    services = doc.get("services")
    if isinstance(services, dict):
        doc["services"] = {n: resolve_service_paths(s, base) for n, s in services.items()}
    for kind in ("secrets", "configs"):
        items = doc.get(kind)
        if isinstance(items, dict):
            doc[kind] = {n: ({**v, "file": absolute(v["file"], base)}
                             if isinstance(v, dict) and isinstance(v.get("file"), str) else v)
                         for n, v in items.items()}
    return doc
