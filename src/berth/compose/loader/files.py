"""One compose file after another: parse, interpolate, validate, resolve `extends` and
`include`. Produces raw (not yet normalised) documents with absolute paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import ComposeError
from .dotenv import read_dotenv
from .interpolate import interpolate_tree
from .merge import merge_documents, merge_service
from .paths import absolute, resolve_document_paths
from .validate import validate_document
from .yamlfile import parse_yaml


@dataclass
class LoadContext:
    environment: dict[str, str]
    interpolate: bool = True
    warnings: list[str] = field(default_factory=list)
    include_stack: list[str] = field(default_factory=list)
    stdin_text: str | None = None
    _cache: dict[str, dict] = field(default_factory=dict)

    def lookup(self, name: str) -> str | None:
        return self.environment.get(name)


def read_text(path: str, ctx: LoadContext) -> str:
    if path == "-":
        if ctx.stdin_text is None:
            import sys

            ctx.stdin_text = sys.stdin.read()
        return ctx.stdin_text
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise ComposeError(f"open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise ComposeError(f"read {path}: is a directory") from None
    except OSError as exc:
        raise ComposeError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from None


def read_document(path: str, ctx: LoadContext) -> dict:
    """Parsed, interpolated and validated content of one file (cached per context)."""
    if path in ctx._cache:
        return ctx._cache[path]
    source = path if path != "-" else "(stdin)"
    doc = parse_yaml(read_text(path, ctx), source)
    if not isinstance(doc, dict):
        if doc in ({}, None, ""):
            doc = {}
        else:
            raise ComposeError(f"validating {source}: Top-level object must be a mapping")
    if isinstance(doc.get("services"), dict):  # `name:` with nothing under it is an empty service
        doc["services"] = {k: ({} if v is None else v) for k, v in doc["services"].items()}
    if ctx.interpolate:
        doc = interpolate_tree(doc, ctx.lookup, "", ctx.warnings)
    if "version" in doc:
        msg = f"{source}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"
        if msg not in ctx.warnings:
            ctx.warnings.append(msg)
    from .merge import strip_markers

    validate_document(strip_markers(doc), source)
    ctx._cache[path] = doc
    return doc


def load_file(path: str, ctx: LoadContext, base_dir: str) -> dict:
    """A file with its relative paths resolved against `base_dir`, extends and includes done."""
    doc = resolve_document_paths(read_document(path, ctx), base_dir)
    file_dir = base_dir if path == "-" else os.path.dirname(os.path.abspath(path))
    services = doc.get("services") or {}
    if isinstance(services, dict) and services:  # not a !reset/!override marker
        resolved = {}
        for name, svc in services.items():
            resolved[name] = resolve_extends(name, svc, services, path, ctx, [])
        doc["services"] = resolved
    if doc.get("include"):
        doc = apply_includes(doc, path, file_dir, ctx)
    return doc


def resolve_extends(name: str, svc: Any, services: dict, path: str, ctx: LoadContext,
                    chain: list[tuple[str, str]]) -> Any:
    if not isinstance(svc, dict) or "extends" not in svc:
        return svc
    ext = svc["extends"]
    if isinstance(ext, str):
        target, target_file = ext, None
    else:
        target, target_file = ext.get("service"), ext.get("file")
    key = (path, name)
    chain = chain + [key]
    if target_file:
        if target_file.startswith("remote:") or "://" in target_file:
            raise ComposeError(f"extends of service {name}: remote resource {target_file} is not supported")
        file_abs = absolute(target_file, os.path.dirname(os.path.abspath(path)) if path != "-" else os.getcwd())
        base_doc = resolve_document_paths(read_document(file_abs, ctx), os.path.dirname(file_abs))
        base_services = base_doc.get("services") or {}
        base_path = file_abs
    else:
        base_services, base_path = services, path
    if (base_path, target) in chain:
        loop = " -> ".join(f"{n}" if p == path else f"{p}:{n}" for p, n in chain + [(base_path, target)])
        raise ComposeError(f"circular reference with extends: {loop}")
    if target not in base_services:
        where = base_path if base_path != "-" else "(stdin)"
        raise ComposeError(f'cannot extend service "{name}" in {where}: service "{target}" not found')
    base = base_services[target] or {}
    base = resolve_extends(target, base, base_services, base_path, ctx, chain)
    own = {k: v for k, v in svc.items() if k != "extends"}
    return merge_service(dict(base), own)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def apply_includes(doc: dict, path: str, file_dir: str, ctx: LoadContext) -> dict:
    """Load each `include` entry as its own project and add its resources to `doc`."""
    here = os.path.abspath(path) if path != "-" else "-"
    stack = ctx.include_stack + [here]
    merged: dict = {}
    for item in doc.get("include") or []:
        if isinstance(item, str):
            item = {"path": item}
        for p in _as_list(item.get("path")):
            if "://" in p or p.startswith("git@") or p.startswith("oci:"):
                raise ComposeError(f"include {p}: remote resources are not supported (no network access to fetch them)")
        paths = [absolute(p, file_dir) for p in _as_list(item.get("path"))]
        if not paths:
            raise ComposeError(f"{path}: include entry without a path")
        for p in paths:
            if p in stack:
                chain = " -> ".join(stack[stack.index(p):] + [p])
                raise ComposeError(f"include cycle detected: {chain}")
        project_dir = absolute(item["project_directory"], file_dir) if item.get("project_directory") \
            else os.path.dirname(paths[0])
        env_files = [absolute(e, file_dir) for e in _as_list(item.get("env_file"))]
        if not env_files:
            default = os.path.join(project_dir, ".env")
            env_files = [default] if os.path.isfile(default) else []
        env: dict[str, str] = {}
        for ef in env_files:
            env.update(read_dotenv(ef, lambda k: ctx.environment.get(k) if k in ctx.environment else env.get(k)))
        env.update(ctx.environment)
        sub_ctx = LoadContext(environment=env, interpolate=ctx.interpolate, warnings=ctx.warnings,
                              include_stack=stack, stdin_text=ctx.stdin_text)
        sub: dict = {}
        for p in paths:
            sub = merge_documents(sub, load_file(p, sub_ctx, project_dir))
        for kind in ("services", "networks", "volumes", "secrets", "configs"):
            for name, value in (sub.get(kind) or {}).items():
                have = (doc.get(kind) or {})
                if name in have and have[name] != value:
                    raise ComposeError(f"imported compose file {paths[0]} defines conflicting {kind[:-1]} {name}")
                merged.setdefault(kind, {})[name] = value
    out = {k: v for k, v in doc.items() if k != "include"}
    for kind, items in merged.items():
        current = dict(out.get(kind) or {})
        for name, value in items.items():
            current.setdefault(name, value)
        out[kind] = current
    return out
