"""The steps that write files: COPY, ADD and WORKDIR."""

from __future__ import annotations

import asyncio
import email.utils
import os
import posixpath
import shutil
import urllib.error
import urllib.parse
import urllib.request

from berth.build import copy as cp
from berth.build import imageconfig as ic
from berth.build.rootview import scoped_resolve
from berth.build.steps import Step, parse_flags
from berth.errors import InvalidParameter


def _dest(dest: str, workdir: str) -> str:
    """docker's normalizeDest: relative to WORKDIR, cleaned, a trailing / kept."""
    if dest.startswith("/"):
        return dest
    joined = posixpath.normpath(posixpath.join("/", workdir or "/", dest))
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


def _download(url: str, into: str) -> tuple[str, str]:
    """ADD <url>: the file (0600, mtime from Last-Modified) and the name docker gives it."""
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
    target = os.path.join(into, "url-" + str(len(os.listdir(into))))
    os.makedirs(target)
    path = os.path.join(target, name)
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, open(path, "wb") as out:  # noqa: S310
            shutil.copyfileobj(resp, out, 1 << 20)
            modified = resp.headers.get("Last-Modified")
    except urllib.error.HTTPError as e:
        raise InvalidParameter(f"failed to GET {url} with status {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, OSError) and reason.strerror:
            parsed = urllib.parse.urlparse(url)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            reason = f"dial tcp {parsed.hostname}:{port}: connect: {reason.strerror.lower()}"
        raise InvalidParameter(f'Get "{url}": {reason}') from None
    os.chmod(path, 0o600)
    if modified:
        try:
            ts = int(email.utils.parsedate_to_datetime(modified).timestamp())
            os.utime(path, (ts, ts))
        except (TypeError, ValueError):
            pass
    return path, name


def _plan_context(cmd: str, ctx, specs: list[str]) -> list[cp.Source]:  # type: ignore[no-untyped-def]
    """Sources in the build context, from its index (the files may still be on their
    way to the disk): wildcards matched as filepath.Match does, symlinks resolved
    inside the context, docker's errors."""
    from berth.build.rootview import is_outside

    out: list[cp.Source] = []
    for spec in specs:
        clean = posixpath.normpath(spec.lstrip("/")) if spec.strip("/") else "."
        if is_outside(posixpath.normpath(spec) if spec else "."):
            raise cp.CopyError(f"{cmd} failed: forbidden path outside the build context: {spec} ()")
        if any(c in clean for c in cp.WILDCARDS):
            for p in sorted(ctx.entries):
                if cp._go_match(clean, p):
                    rel = ctx.resolve(p)
                    if rel is not None:
                        out.append(cp.Source(ctx.root, rel, p))
            continue
        rel = ctx.resolve("" if clean == "." else clean)
        if rel is None:
            raise cp.CopyError(f"{cmd} failed: file not found in build context or excluded by .dockerignore: "
                               f"stat {spec}: file does not exist")
        out.append(cp.Source(ctx.root, rel, spec))
    if not out:
        raise cp.CopyError(f"{cmd} failed: no source files were specified")
    return out


def _context_checksum(ctx, sources: list[cp.Source], others: str) -> str:  # type: ignore[no-untyped-def]
    """Content and metadata of the context sources from the index (mtimes left out)."""
    import hashlib

    h = hashlib.sha256(others.encode())
    for src in sources:
        h.update(f"S {src.shown}\0".encode("utf-8", "surrogateescape"))
        top = ctx.entries.get(src.rel) if src.rel else None
        items = [top] if top is not None else []
        if top is None or top.kind == "d":
            items += ctx.below(src.rel)
        for e in items:
            rel = e.path[len(src.rel):].lstrip("/") if src.rel else e.path
            h.update(f"{rel}\0{e.kind}\0{e.mode:o}\0{e.size}\0{e.digest}\0{e.linkname}\n"
                     .encode("utf-8", "surrogateescape"))
    return h.hexdigest()


async def do_copy(s: Step, is_add: bool) -> None:
    b, st = s.b, s.st
    cmd = "ADD" if is_add else "COPY"
    allowed = {"chown", "chmod", "link"} | ({"checksum", "keep-git-dir"} if is_add else {"from", "parents", "exclude"})
    flags = parse_flags(s.inst, allowed)
    for unsupported in ("parents", "exclude", "checksum", "keep-git-dir"):
        if unsupported in flags:
            raise InvalidParameter(f"{cmd} --{unsupported} is not supported by berth's builder")
    args = list(s.inst.args)
    if len(args) < 2 and not s.inst.heredocs:
        raise InvalidParameter(f"{cmd} requires at least two arguments, but only one was provided. "
                               "Destination could not be determined.")
    words = [s.expand(a) for a in args]
    dest_word = words[-1]
    src_words = words[:-1]
    workdir = st.config.get("WorkingDir") or "/"
    dest = _dest(dest_word, workdir)
    chown = s.expand(flags["chown"][-1]) if "chown" in flags else ""
    chmod = cp.parse_chmod(flags["chmod"][-1]) if "chmod" in flags else None
    from_name = s.expand(flags["from"][-1]) if "from" in flags else ""
    heredoc_names = {h.name for h in s.inst.heredocs}

    view = b.open_view(st)
    from_view = None
    try:
        if from_name:
            from_view = b.open_view_for(from_name)
            root, from_context, from_id = from_view.path, False, b.image_for(from_name)
        else:
            root, from_context, from_id = b.ctx.root, True, ""
        loop = asyncio.get_running_loop()
        sources: list[cp.Source] = []
        local: list[str] = []
        for w in src_words:
            if w.lstrip("<-") in heredoc_names and w.startswith("<<"):
                h = next(h for h in s.inst.heredocs if h.name == w.lstrip("<-"))
                from berth.build.parser import heredoc_content

                path = b.heredoc_file(h.name, heredoc_content(h, st.expansion_env()))
                sources.append(cp.Source(os.path.dirname(path), os.path.basename(path), h.name))
            elif is_add and w.startswith(("http://", "https://")):
                path, name = await loop.run_in_executor(None, _download, w, b.tmp_dir())
                sources.append(cp.Source(os.path.dirname(path), os.path.basename(path), w, True, name))
            elif w.startswith("git@") or w.endswith(".git"):
                raise InvalidParameter(f"{cmd} of a git repository is not supported by berth's builder: {w}")
            else:
                local.append(w)
        others = list(sources)
        if local and from_context:
            sources = _plan_context(cmd, b.ctx, local) + sources
        elif local:
            sources = cp.plan_sources(cmd, root, local, from_context) + sources
        if from_context:
            checksum = _context_checksum(b.ctx, [x for x in sources if x not in others],
                                         await loop.run_in_executor(None, cp.source_checksum, others, {}))
        else:
            checksum = await loop.run_in_executor(None, cp.source_checksum, sources, {})
        if len(sources) == 1:
            first = sources[0]
            if from_context and first not in others:
                kind = "dir" if not first.rel or b.ctx.entries[first.rel].kind == "d" else "file"
            else:
                full = os.path.join(first.root, first.rel) if first.rel else first.root
                kind = "dir" if os.path.isdir(full) else "file"
        else:
            kind = "multi"
        created_by = ic.copy_created_by(st.shell(), f"{cmd} {kind}:{checksum} in {dest} ")
        ids = cp.resolve_chown(view.path, chown) if chown else cp.Ids()

        async def work() -> None:
            if from_context:
                await b.ctx_ready()
            staging = b.daemon.snaps.new_staging_dir()
            try:
                tree = cp.LayerTree(staging)
                writer = cp.TreeWriter(tree, view.path, ids, chmod)
                await loop.run_in_executor(None, cp.write_copy, cmd, writer, sources, dest, is_add)
                diff_id = await loop.run_in_executor(None, cp.tree_diff_id, staging)
                s.commit(created_by, staging, diff_id, tree.size)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise

        await s.cached_or({"kind": cmd, "dest": dest, "chown": chown, "chmod": chmod, "from": from_id,
                           "sources": checksum}, created_by, work)
    finally:
        view.close()
        if from_view is not None:
            from_view.close()


async def do_workdir(s: Step) -> None:
    """WORKDIR sets the config and, like docker, creates the directory: a layer
    only when the image did not have it."""
    b, st = s.b, s.st
    raw = s.expand(s.inst.args[0] if s.inst.args else "")
    if not raw:
        raise InvalidParameter("WORKDIR requires exactly one argument")
    current = st.config.get("WorkingDir") or "/"
    path = posixpath.normpath(posixpath.join(current, raw)) if not raw.startswith("/") else posixpath.normpath(raw)
    if path.startswith("//"):
        path = path[1:]
    comment = "WORKDIR " + path
    created_by = ic.copy_created_by(st.shell(), comment)  # docker: `#(nop) WORKDIR /x`, one space

    def set_dir() -> None:
        st.config["WorkingDir"] = path

    probe = st.copy_doc()
    probe.setdefault("config", {})["WorkingDir"] = path
    fingerprint = ic.config_fingerprint(probe["config"])

    async def work() -> None:
        async with s.step_container([*st.shell(), "#(nop) " + comment]):
            await make_dir()

    async def make_dir() -> None:
        view = b.open_view(st)
        try:
            rel = scoped_resolve(view.path, path)
            exists = rel is not None and os.path.isdir(os.path.join(view.path, rel))
            set_dir()
            if exists or rel is None:
                s.commit(created_by)
                return
            staging = b.daemon.snaps.new_staging_dir()
            try:
                tree = cp.LayerTree(staging)
                writer = cp.TreeWriter(tree, view.path, cp.Ids(), None)
                writer.ensure_dir(rel)
                writer.finish()
                diff_id = cp.tree_diff_id(staging)
                s.commit(created_by, staging, diff_id, 0)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        finally:
            view.close()

    await s.cached_or({"kind": "workdir", "path": path, "config": fingerprint}, created_by, work, probe["config"])
