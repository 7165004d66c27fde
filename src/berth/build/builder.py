"""A build: the Dockerfile's stages planned (target, dependencies, skipped
stages), independent stages run in parallel, steps numbered and reported as
docker's legacy builder reports them, the result tagged."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import shutil

from berth.build import imageconfig as ic
from berth.build.cache import BuildCache
from berth.build.context import BuildContext
from berth.build.rootview import RootView
from berth.build.state import BUILTIN_ARGS, BuildArgs, BuildOptions, Output, Stage, StageState
from berth.build.steps import Step, do_arg, do_cmd, do_entrypoint, do_env, do_expose, do_healthcheck, \
    do_label, do_maintainer, do_onbuild, do_run, do_shell, do_stopsignal, do_user, do_volume, parse_flags
from berth.build.steps_fs import do_copy, do_workdir
from berth.errors import ImageNotFound, InvalidParameter, NotImplementedFeature
from berth.images import reference as refs

log = logging.getLogger("berth.build")

HANDLERS = {
    "ENV": do_env, "LABEL": do_label, "MAINTAINER": do_maintainer, "EXPOSE": do_expose, "USER": do_user,
    "VOLUME": do_volume, "STOPSIGNAL": do_stopsignal, "HEALTHCHECK": do_healthcheck, "SHELL": do_shell,
    "ONBUILD": do_onbuild, "CMD": do_cmd, "ENTRYPOINT": do_entrypoint, "ARG": do_arg, "RUN": do_run,
    "WORKDIR": do_workdir,
}


_SWEPT: set[str] = set()


def build_root(daemon) -> str:
    """<data-root>/build. The first use in a daemon's life removes what a daemon
    killed mid-build left there (contexts, scratch dirs, view mounts)."""
    path = os.path.join(daemon.cfg.data_root, "build")
    os.makedirs(path, mode=0o700, exist_ok=True)
    if path not in _SWEPT:
        _SWEPT.add(path)
        from berth.snapshots import mount as m

        for point in m.mounts_under(path):
            m.unmount(point, lazy=True)
        for name in os.listdir(path):
            if name.startswith(("ctx-", "tmp-")):
                shutil.rmtree(os.path.join(path, name), ignore_errors=True)
    return path


def plan_stages(instructions: list) -> tuple[list, list[Stage]]:
    """Meta ARGs and the stages, with the stages each one needs (FROM <stage>,
    COPY --from=<stage>, RUN --mount=from=<stage>)."""
    meta: list = []
    stages: list[Stage] = []
    for inst in instructions:
        kw = inst.keyword.upper()
        if kw == "FROM":
            args = inst.args
            name = ""
            if len(args) == 3 and args[1].lower() == "as":
                name = args[2].lower()
            elif len(args) != 1:
                raise InvalidParameter("FROM requires either one or three arguments")
            if name and any(st.name == name for st in stages):
                raise InvalidParameter(f"{name} stage name already used")
            stages.append(Stage(len(stages), name, inst, []))
        elif not stages:
            if kw != "ARG":
                raise InvalidParameter("no build stage in current context")
            meta.append(inst)
        else:
            stages[-1].instructions.append(inst)
    if not stages:
        raise InvalidParameter("failed to parse Dockerfile: file with no instructions")
    for st in stages:
        refs_: list[str] = [st.from_inst.args[0]]
        for inst in st.instructions:
            for flag in inst.flags:
                if flag.startswith("--from="):
                    refs_.append(flag[7:])
                elif flag.startswith("--mount="):
                    for part in flag[8:].split(","):
                        if part.startswith("from="):
                            refs_.append(part[5:])
        for r in refs_:
            dep = find_stage(stages[: st.index], r)
            if dep is not None:
                st.deps.add(dep.index)
    return meta, stages


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _default_path(st: StageState) -> StageState:
    """docker's builder gives every stage a PATH when its base image has none
    (it lands in the images the stage commits)."""
    if "PATH" not in st.env_map():
        st.config["Env"] = [*(st.config.get("Env") or []), "PATH=" + DEFAULT_PATH]
    return st


def find_stage(stages: list[Stage], name: str) -> Stage | None:
    low = name.lower()
    for st in stages:
        if st.name and st.name == low:
            return st
    if name.isdigit() and int(name) < len(stages):
        return stages[int(name)]
    return None


class Builder:
    def __init__(self, daemon, opts: BuildOptions, output: Output, ctx: BuildContext, escape: str) -> None:
        from berth.build.shell_lexer import ShellLexer

        self.daemon = daemon
        self.opts = opts
        self.output = output
        self.ctx = ctx
        self.escape = escape
        self.lexer = ShellLexer(escape)
        self.cache = BuildCache(daemon.md)
        self.args = BuildArgs(opts.build_args)
        self.cmd_set: dict[int, bool] = {}
        self.stages: list[Stage] = []
        self.results: dict[int, asyncio.Future] = {}
        self.live_containers: set[str] = set()
        self.cached_steps = 0
        self.total_steps = 0
        self._tmp: str | None = None
        self._cache_from: dict[tuple[str, str], str] | None = None
        self._history_sources = None  # build/cachefrom.HistorySources, made on first use
        self._meta: list = []
        self._ctx_written: asyncio.Future | None = None

    # ------------------------------------------------------------------ helpers for steps
    def expand_meta(self, word: str) -> str:
        """A word of a FROM line or a meta ARG: only the meta ARGs are in scope."""
        from berth.build.shell_lexer import ShellLexError

        try:
            return self.lexer.process_word(word, self.args.meta_env())
        except ShellLexError as e:
            raise InvalidParameter(str(e)) from None

    def tmp_dir(self) -> str:
        if self._tmp is None:
            self._tmp = os.path.join(build_root(self.daemon), "tmp-" + secrets.token_hex(6))
            os.makedirs(self._tmp)
        return self._tmp

    async def ctx_ready(self) -> None:
        """Before a step reads the context's files: the writer thread has put them on disk."""
        if self._ctx_written is None:
            self._ctx_written = asyncio.get_running_loop().run_in_executor(None, self.ctx.wait_written)
        await asyncio.shield(self._ctx_written)

    def heredoc_file(self, name: str, content: str) -> str:
        d = os.path.join(self.tmp_dir(), "heredoc-" + secrets.token_hex(4))
        os.makedirs(d)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o644)
        os.utime(path, (0, 0))
        return path

    def cache_mount_dir(self, ident: str) -> str:
        path = os.path.join(build_root(self.daemon), "cache-mounts", hashlib.sha256(ident.encode()).hexdigest()[:32])
        os.makedirs(path, exist_ok=True)
        return path

    def layer_dirs(self, image_id: str) -> list[str]:
        if not image_id:
            return []
        image = self.daemon.images.get(image_id)
        return [self.daemon.snaps.layer_diff(c) for c in self.daemon.images.layer_cache_ids(image)]

    def open_view(self, st: StageState) -> RootView:
        return RootView(self.tmp_dir(), self.layer_dirs(st.image_id))

    def image_for(self, name: str) -> str:
        """COPY --from / RUN --mount from: an earlier stage's result, or an image."""
        stage = find_stage(self.stages, name)
        if stage is not None:
            fut = self.results.get(stage.index)
            if fut is None or not fut.done():
                raise InvalidParameter(f"stage {name} is not built before it is used")
            return fut.result()
        image = self.daemon.images.lookup(name)
        if image is None:
            raise ImageNotFound(name)
        return image.id

    def open_view_for(self, name: str) -> RootView:
        return RootView(self.tmp_dir(), self.layer_dirs(self.image_for(name)))

    def cache_from_hit(self, parent: str, created_by: str, config_after: dict | None = None) -> str | None:
        """--cache-from: an image in the given images' ancestry made by the same step on
        the same parent; else a source matched by history (build/cachefrom.py: pulled
        or loaded images, which have no parent chain here)."""
        if not self.opts.cache_from:
            return None
        hit = self._cache_from_ancestry(parent, created_by)
        if hit is not None or config_after is None:
            return hit
        if self._history_sources is None:
            from berth.build.cachefrom import HistorySources

            found = []
            for name in self.opts.cache_from:
                try:
                    image = self.daemon.images.lookup(name)
                except InvalidParameter:
                    image = None
                if image is not None:
                    found.append(image)
            self._history_sources = HistorySources(self.daemon.images, found)
        parent_image = self.daemon.images.lookup(parent) if parent else None
        return self._history_sources.match(parent_image, created_by, config_after)

    def cache_from_allows(self, image_id: str) -> bool:
        """docker: with --cache-from, a local cache hit counts only when it is in a
        source image's parent chain (the sources replace the local cache)."""
        if not self.opts.cache_from:
            return True
        self._cache_from_ancestry("", "")
        return image_id in (self._cache_from or {}).values()

    def _cache_from_ancestry(self, parent: str, created_by: str) -> str | None:
        if self._cache_from is None:
            self._cache_from = {}
            for name in self.opts.cache_from:
                try:
                    image = self.daemon.images.lookup(name)
                except InvalidParameter:
                    image = None
                while image is not None:
                    hist = image.config.get("history") or []
                    if hist:
                        self._cache_from.setdefault((image.parent, hist[-1].get("created_by", "")), image.id)
                    if not image.parent:
                        break
                    try:
                        image = self.daemon.images.get(image.parent)
                    except ImageNotFound:
                        break
        return self._cache_from.get((parent, created_by))

    def close(self) -> None:
        if self._tmp is not None:
            from berth.snapshots import mount as m

            for point in m.mounts_under(self._tmp):
                m.unmount(point, lazy=True)
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # ------------------------------------------------------------------ the build
    def plan(self, df) -> None:
        """Stages, meta ARGs and the target, checked before anything is answered."""
        meta, stages = plan_stages(df.instructions)
        self.stages, self._meta = stages, meta
        if self.opts.target:
            target = find_stage(stages, self.opts.target)
            if target is None or not target.name:
                raise InvalidParameter(f"failed to reach build target {self.opts.target} in Dockerfile")

    async def run(self, df) -> str:
        if not self.stages:
            self.plan(df)
        meta, stages = self._meta, self.stages
        for inst in meta:
            for word in inst.args:
                name, eq, default = word.partition("=")
                value = self.expand_meta(default) if eq else None
                self.args.declare_meta(name, value)
        if self.opts.target:
            target = find_stage(stages, self.opts.target)
            if target is None or not target.name:
                raise InvalidParameter(f"failed to reach build target {self.opts.target} in Dockerfile")
        else:
            target = stages[-1]
        needed: set[int] = set()
        todo = [target.index]
        while todo:
            i = todo.pop()
            if i not in needed:
                needed.add(i)
                todo += list(stages[i].deps)
        order = sorted(needed)
        self._check_platform()
        labels = sorted(self.opts.labels.items())
        step = 1
        for i in order:
            stages[i].first_step = step
            step += 1 + len(stages[i].instructions)
        self.total_steps = step - 1 + len(labels)
        self.output.set_order(order)
        loop = asyncio.get_running_loop()
        for i in order:
            self.results[i] = loop.create_future()
        tasks = {i: asyncio.ensure_future(self._stage(stages[i], labels if i == target.index else []))
                 for i in order}
        try:
            await asyncio.gather(*tasks.values())
        except BaseException:
            for t in tasks.values():
                t.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            await self.output.flush_all()
            raise
        image_id = self.results[target.index].result()
        if not image_id:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        unused = self.args.unused()
        if unused:
            await self.output.stream(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        return image_id

    def _check_platform(self) -> None:
        from berth.images.store import go_arch

        if self.opts.platform:
            os_, _, arch = self.opts.platform.lower().partition("/")
            if os_ != "linux" or (arch and arch.split("/")[0] != go_arch()):
                raise NotImplementedFeature(f'"{self.opts.platform}": berthd builds for linux/{go_arch()} only')

    async def _pull(self, name: str, idx: int):  # type: ignore[no-untyped-def]
        """A base image that is not here (or --pull): pulled like `docker pull`, its
        progress in the build's stream, as docker's legacy builder does."""
        from berth.distribution.client import AuthConfig

        ref = refs.parse(name)
        svc = getattr(self.daemon, "distribution", None)
        if svc is None:
            raise ImageNotFound(ref.familiar())
        auth = self.opts.registry_auth.get(ref.domain) or AuthConfig()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def emit(msg: dict) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, msg)

        def run_sync(fn):  # type: ignore[no-untyped-def]
            async def call():  # type: ignore[no-untyped-def]
                return fn()

            return asyncio.run_coroutine_threadsafe(call(), loop).result()

        def work() -> str:
            res = svc.resolve(ref, auth, self.opts.platform)
            return svc.pull(res, emit, run_sync)

        fut = loop.run_in_executor(None, work)
        done = object()
        fut.add_done_callback(lambda _f: loop.call_soon_threadsafe(queue.put_nowait, done))
        while True:
            msg = await queue.get()
            if msg is done:
                break
            await self.output.message(msg, idx)
        image_id = fut.result()
        self.daemon.events.publish("image", "pull", ref.familiar(), {"name": ref.familiar()})
        return self.daemon.images.get(image_id)

    async def _stage(self, stage: Stage, labels: list[tuple[str, str]]) -> None:
        for dep in stage.deps:
            await asyncio.shield(self.results[dep])
        idx = stage.index
        number = stage.first_step
        st = await self._from(stage, number)
        number += 1
        for inst in stage.instructions:
            await self.output.stream(f"Step {number}/{self.total_steps} : {str(inst)}\n", idx)
            await self.dispatch(st, inst, number)
            number += 1
        for k, v in labels:
            await self.output.stream(f"Step {number}/{self.total_steps} : LABEL {k}={v}\n", idx)
            await do_label(Step(self, st, None, number), [(k, v)])
            number += 1
        self.results[idx].set_result(st.image_id)
        await self.output.stage_done(idx)

    async def dispatch(self, st: StageState, inst, number: int | None) -> None:
        kw = inst.keyword.upper()
        s = Step(self, st, inst, number)
        if kw in ("COPY", "ADD"):
            await do_copy(s, kw == "ADD")
            return
        handler = HANDLERS.get(kw)
        if handler is None:
            raise InvalidParameter(f"unknown instruction: {inst.keyword}")
        await handler(s)

    async def _from(self, stage: Stage, number: int) -> StageState:
        inst = stage.from_inst
        idx = stage.index
        await self.output.stream(f"Step {number}/{self.total_steps} : {str(inst)}\n", idx)
        flags = parse_flags(inst, {"platform"})
        if "platform" in flags:
            plat = self.expand_meta(flags["platform"][-1])
            saved, self.opts.platform = self.opts.platform, plat
            try:
                self._check_platform()
            finally:
                self.opts.platform = saved
        name = self.expand_meta(inst.args[0])
        if not name:
            raise InvalidParameter(f"base name ({inst.args[0]}) should not be blank")
        builtin = {k: v for k, v in self.opts.build_args.items() if k in BUILTIN_ARGS and v is not None}
        if name.lower() == "scratch":
            await self.output.stream(" ---> \n", idx)  # docker prints the (empty) id of scratch too
            return _default_path(StageState(stage, "", ic.scratch_doc(), builtin=builtin))
        prev = find_stage(self.stages[:idx], name)
        if prev is not None:
            image_id = await asyncio.shield(self.results[prev.index])
            image = self.daemon.images.get(image_id) if image_id else None
        else:
            image = None if self.opts.pull else self.daemon.images.lookup(name)
            if image is None:
                image = await self._pull(name, idx)
        if image is None:
            return _default_path(StageState(stage, "", ic.scratch_doc(), builtin=builtin))
        from berth.build.steps import ic_copy

        st = _default_path(StageState(stage, image.id, ic_copy(image.config), builtin=builtin))
        triggers = list(st.config.get("OnBuild") or [])
        st.config["OnBuild"] = None
        if triggers:
            from berth.build.parser import parse

            await self.output.stream(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n",
                                     idx)
            for text in triggers:
                for trig in parse(text).instructions:
                    await self.dispatch(st, trig, None)
        await self.output.stream(f" ---> {st.image_id.split(':', 1)[1][:12]}\n", idx)
        return st
