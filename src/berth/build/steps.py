"""One Dockerfile instruction applied to a stage: expansion, the cache probe,
the work (metadata, RUN, COPY/ADD, WORKDIR), the commit of the step's image."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import re
import shutil
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable

from berth.build import imageconfig as ic
from berth.build.cache import step_key
from berth.build.runstep import RunFailed, commit_upper, remove_container, run_container
from berth.build.state import StageState
from berth.errors import InvalidParameter, NotImplementedFeature

if TYPE_CHECKING:
    from berth.build.builder import Builder

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_flags(inst, allowed: set[str]) -> dict[str, list[str]]:
    """`--name=value` words (a bare `--name` is "true"), docker's error for unknown ones."""
    out: dict[str, list[str]] = {}
    for word in inst.flags:
        if not word.startswith("--"):
            raise InvalidParameter(f"{inst.keyword} only accepts flags, got {word!r}")
        name, eq, value = word[2:].partition("=")
        if name not in allowed:
            raise InvalidParameter(f"Unknown flag: {name}")
        out.setdefault(name, []).append(value if eq else "true")
    return out


def go_duration_ns(text: str, flag: str) -> int:
    if text in ("0", ""):
        return 0
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(float(m.group(1)) * _UNITS[m.group(2)])
        pos = m.end()
    if pos != len(text):
        raise InvalidParameter(f'time: invalid duration "{text}"')
    return total


class Step:
    """A step's context: the builder, the stage, the instruction, its step number."""

    def __init__(self, b: "Builder", st: StageState, inst, number: int | None) -> None:
        self.b = b
        self.st = st
        self.inst = inst
        self.number = number

    async def say(self, text: str) -> None:
        await self.b.output.stream(text, self.st.stage.index)

    def expand(self, word: str) -> str:
        from berth.build.shell_lexer import ShellLexError

        try:
            return self.b.lexer.process_word(word, self.st.expansion_env())
        except ShellLexError as e:
            raise InvalidParameter(str(e)) from None

    def expand_words(self, word: str) -> list[str]:
        from berth.build.shell_lexer import ShellLexError

        try:
            return self.b.lexer.process_words(word, self.st.expansion_env())
        except ShellLexError as e:
            raise InvalidParameter(str(e)) from None

    # ------------------------------------------------------------------ cache + commit
    async def cached_or(self, key_parts: dict, created_by: str, work: Callable[[], Awaitable[None]],
                        config_after: dict | None = None) -> None:
        """`config_after`: the config the step leaves (None: unchanged), for an
        image a --cache-from source is restored into."""
        parent = self.st.image_id
        key = step_key(parent=parent, **key_parts)
        hit = None
        if not self.b.opts.nocache:
            hit = self.b.cache.get(key)
            if hit is not None and not self.b.cache_from_allows(hit):
                hit = None
            hit = hit or self.b.cache_from_hit(
                parent, created_by, config_after if config_after is not None else self.st.config)
        if hit is not None:
            image = self.b.daemon.images.get(hit)
            self.st.image_id = image.id
            self.st.doc = ic_copy(image.config)
            self.b.cached_steps += 1
            await self.say(" ---> Using cache\n")
        else:
            await work()
            self.b.cache.put(key, self.st.image_id, parent)
        if self.number is not None:  # ONBUILD triggers: the FROM line prints the id once, after them
            await self.say(f" ---> {self.st.image_id.split(':', 1)[1][:12]}\n")

    def commit(self, created_by: str, staging: str | None = None, diff_id: str | None = None,
               size: int = 0, author: str | None = None) -> None:
        doc = ic.child_doc(self.st.doc, self.st.config, self.st.image_id, created_by, diff_id, author)
        image = self.b.daemon.images.add_layer_image(staging, diff_id or "", size, doc, None, self.st.image_id)
        self.st.image_id = image.id
        self.st.doc = ic_copy(image.config)

    @contextlib.asynccontextmanager
    async def step_container(self, cmd: list[str]) -> AsyncIterator[str | None]:
        """docker's legacy builder commits every step but COPY/ADD from a container
        it creates for it (a config-only step's is never started) and removes after
        the step (dispatch's RemoveAll): ` ---> Running in <id>` and ` ---> Removed
        intermediate container <id>` are in its output, and the container is in
        `ps -a` meanwhile. Removal follows RUN's rules (rm, forcerm, cancelled).
        A stage FROM scratch has no image to create one from: none is made."""
        b, st = self.b, self.st
        if not st.image_id:
            yield None
            return
        cfg = st.config
        body = {"Image": st.image_id, "Cmd": cmd, "Entrypoint": [], "Env": list(cfg.get("Env") or []),
                "WorkingDir": cfg.get("WorkingDir") or "", "User": cfg.get("User") or "",
                "Healthcheck": {"Test": ["NONE"]}, "Labels": {},
                "HostConfig": {"NetworkMode": "none"}}  # never started: no network to set up
        c, _warnings = b.daemon.containers.create(body, None)
        b.live_containers.add(c.id)
        ok = False
        try:
            await self.say(f" ---> Running in {c.id[:12]}\n")
            yield c.id
            ok = True
        finally:
            task = asyncio.current_task()
            cancelled = not ok and task is not None and task.cancelling() > 0
            if (ok and b.opts.rm) or (not ok and (b.opts.forcerm or cancelled)):
                await asyncio.shield(remove_container(b.daemon, c.id))
                b.live_containers.discard(c.id)
                if ok:
                    await self.say(f" ---> Removed intermediate container {c.id[:12]}\n")

    async def meta(self, comment: str, apply: Callable[[], None], author: str | None = None,
                   extra_key: object = None) -> None:
        """A config-only step: `#(nop)` history, empty_layer."""
        created_by = ic.nop_created_by(self.st.shell(), comment)

        async def work() -> None:
            async with self.step_container([*self.st.shell(), "#(nop) ", comment]):
                apply()
                self.commit(created_by, author=author)

        probe = self.st.copy_doc()
        saved = self.st.doc
        self.st.doc = probe
        apply()
        fingerprint = ic.config_fingerprint(self.st.config)
        self.st.doc = saved
        await self.cached_or({"kind": "meta", "comment": comment, "config": fingerprint, "author": author,
                              "extra": extra_key}, created_by, work, probe.get("config") or {})


def ic_copy(doc: dict) -> dict:
    import copy

    out = copy.deepcopy(doc)
    out["config"] = ic.normalize_config(out.get("config"))
    return out


# ---------------------------------------------------------------------- metadata instructions
async def do_env(s: Step) -> None:
    args = s.inst.args
    pairs = [(s.expand(args[i]), s.expand(args[i + 1])) for i in range(0, len(args) - 1, 2)]
    comment = "ENV " + " ".join(f"{k}={v}" for k, v in pairs)

    def apply() -> None:
        for k, v in pairs:
            s.st.set_env(k, v)

    await s.meta(comment, apply)


async def do_label(s: Step, pairs: list[tuple[str, str]] | None = None) -> None:
    if pairs is None:
        args = s.inst.args
        pairs = [(s.expand(args[i]), s.expand(args[i + 1])) for i in range(0, len(args) - 1, 2)]
    comment = "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)

    def apply() -> None:
        labels = dict(s.st.config.get("Labels") or {})
        for k, v in pairs:
            labels[k] = v
        s.st.config["Labels"] = labels

    await s.meta(comment, apply)


async def do_maintainer(s: Step) -> None:
    who = s.expand(" ".join(s.inst.args))
    await s.meta("MAINTAINER " + who, lambda: None, author=who)


def _ports(words: list[str]) -> list[str]:
    out = []
    for w in words:
        spec, _, proto = w.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidParameter(f"invalid proto: {proto}")
        if ":" in spec:
            spec = spec.rsplit(":", 1)[1]
        lo, dash, hi = spec.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise InvalidParameter(f"invalid containerPort: {spec}")
        for p in range(int(lo), int(hi or lo) + 1):
            out.append(f"{p}/{proto}")
    return out


async def do_expose(s: Step) -> None:
    words: list[str] = []
    for a in s.inst.args:
        words += s.expand_words(a)
    ports = _ports(words)

    def apply() -> None:
        exposed = dict(s.st.config.get("ExposedPorts") or {})
        for p in ports:
            exposed[p] = {}
        s.st.config["ExposedPorts"] = exposed

    await s.meta("EXPOSE " + " ".join(sorted(words)), apply)  # docker records them sorted


async def do_user(s: Step) -> None:
    user = s.expand(s.inst.args[0] if s.inst.args else "")

    def apply() -> None:
        s.st.config["User"] = user

    await s.meta("USER " + user, apply)


async def do_volume(s: Step) -> None:
    vols = [s.expand(a) for a in s.inst.args]
    for v in vols:
        if not v.strip():
            raise InvalidParameter("VOLUME specified can not be an empty string")

    def apply() -> None:
        current = dict(s.st.config.get("Volumes") or {})
        for v in vols:
            current[v] = {}
        s.st.config["Volumes"] = current

    await s.meta("VOLUME " + ic.go_list(vols), apply)


async def do_stopsignal(s: Step) -> None:
    from berth.engine.signals import parse_signal

    sig = s.expand(s.inst.args[0] if s.inst.args else "")
    parse_signal(sig)

    def apply() -> None:
        s.st.config["StopSignal"] = sig

    await s.meta("STOPSIGNAL " + sig, apply)


async def do_healthcheck(s: Step) -> None:
    args = list(s.inst.args)
    kind = args[0].upper() if args else ""
    if kind == "NONE":
        if len(args) > 1:
            raise InvalidParameter("HEALTHCHECK NONE takes no arguments")
        health: dict = {"Test": ["NONE"]}
    else:
        flags = parse_flags(s.inst, {"interval", "timeout", "start-period", "start-interval", "retries"})
        if s.inst.json_form:
            test = ["CMD", *args[1:]]
        else:
            test = ["CMD-SHELL", " ".join(args[1:])]
        health = {"Test": test}
        for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                          ("start-interval", "StartInterval")):
            if flag in flags:
                value = go_duration_ns(flags[flag][-1], flag)
                if 0 < value < 10**6:  # docker's container.MinimumDuration
                    raise InvalidParameter(f'Interval "{flag}" cannot be less than 1ms')
                if value:
                    health[key] = value
        if "retries" in flags:
            try:
                retries = int(flags["retries"][-1])
            except ValueError:
                raise InvalidParameter(f'strconv.ParseInt: parsing "{flags["retries"][-1]}": invalid syntax') from None
            if retries < 0:
                raise InvalidParameter("--retries cannot be negative (%d)" % retries)
            if retries:
                health["Retries"] = retries

    def apply() -> None:
        s.st.config["Healthcheck"] = health

    await s.meta(ic.healthcheck_comment(health), apply)


async def do_shell(s: Step) -> None:
    if not s.inst.json_form:
        raise InvalidParameter("SHELL requires the arguments to be in JSON form")
    shell = list(s.inst.args)

    def apply() -> None:
        s.st.config["Shell"] = shell

    await s.meta("SHELL " + ic.go_list(shell), apply)


async def do_onbuild(s: Step) -> None:
    sub = s.inst.sub
    from berth.build.parser import onbuild_trigger

    text = onbuild_trigger(s.inst)
    if sub is not None and sub.keyword.upper() in ("ONBUILD", "FROM", "MAINTAINER"):
        kw = sub.keyword.upper()
        raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed" if kw == "ONBUILD"
                               else f"{kw} isn't allowed as an ONBUILD trigger")

    def apply() -> None:
        s.st.config["OnBuild"] = [*(s.st.config.get("OnBuild") or []), text]

    await s.meta("ONBUILD " + text, apply)


def _command(s: Step) -> list[str]:
    if s.inst.json_form:
        return list(s.inst.args)
    return [*s.st.shell(), " ".join(s.inst.args)]


async def do_cmd(s: Step) -> None:
    cmd = _command(s)
    s.b.cmd_set[s.st.stage.index] = True

    def apply() -> None:
        s.st.config["Cmd"] = cmd

    await s.meta("CMD " + ic.go_quote_list(cmd), apply)


async def do_entrypoint(s: Step) -> None:
    entry = _command(s)
    if not s.inst.json_form and not " ".join(s.inst.args):
        entry = []
    cmd_set = s.b.cmd_set.get(s.st.stage.index, False)

    def apply() -> None:
        s.st.config["Entrypoint"] = entry or None
        if not cmd_set:
            s.st.config["Cmd"] = None

    await s.meta("ENTRYPOINT " + ic.go_quote_list(entry), apply)


async def do_arg(s: Step) -> None:
    shown = []
    for word in s.inst.args:
        name, eq, default = word.partition("=")
        value_default = s.expand(default) if eq else None
        value = s.b.args.value_for(name, value_default)
        s.st.args[name] = value
        s.st.builtin.pop(name, None)
        shown.append(f"{name}={value_default}" if eq else name)
    resolved = {w.partition("=")[0]: s.st.args.get(w.partition("=")[0]) for w in s.inst.args}
    await s.meta("ARG " + " ".join(shown), lambda: None, extra_key=resolved)


# ---------------------------------------------------------------------- RUN
def _run_mounts(s: Step, specs: list[str]) -> tuple[list[dict], list]:
    """--mount=type=cache|bind as HostConfig.Mounts; RootViews to close after the run."""
    mounts: list[dict] = []
    views: list = []
    for spec in specs:
        fields: dict[str, str] = {}
        for part in spec.split(","):
            k, eq, v = part.partition("=")
            fields[k.strip().lower()] = v if eq else "true"
        kind = fields.get("type", "bind")
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if kind not in ("cache", "bind", "tmpfs"):
            raise NotImplementedFeature(f"RUN --mount=type={kind} is not supported by berth's builder "
                                        "(cache, bind and tmpfs are)")
        if not target:
            raise InvalidParameter(f"mount type {kind} requires a target")
        target = posixpath.join(s.st.config.get("WorkingDir") or "/", target)
        ro = fields.get("readonly", fields.get("ro", "false")) == "true"
        if kind == "tmpfs":
            mounts.append({"Type": "tmpfs", "Target": target})
        elif kind == "cache":
            source = s.b.cache_mount_dir(fields.get("id") or target)
            mounts.append({"Type": "bind", "Source": source, "Target": target, "ReadOnly": ro})
        else:
            src = fields.get("source") or fields.get("src") or "/"
            if fields.get("from"):
                view = s.b.open_view_for(fields["from"])
                views.append(view)
                root = view.path
            else:
                root = s.b.ctx.root
            from berth.build.rootview import scoped_resolve

            rel = scoped_resolve(root, src)
            if rel is None:
                raise InvalidParameter(f"RUN --mount: cannot resolve source {src}")
            mounts.append({"Type": "bind", "Source": posixpath.join(root, rel) if rel else root,
                           "Target": target, "ReadOnly": fields.get("rw", fields.get("readwrite", "false")) != "true"})
    return mounts, views


async def do_run(s: Step) -> None:
    flags = parse_flags(s.inst, {"mount", "network", "security"})
    if "security" in flags and flags["security"][-1] != "sandbox":
        raise NotImplementedFeature("RUN --security=insecure is not supported by berth's builder")
    network = flags.get("network", [""])[-1]
    if network not in ("", "default", "none", "host"):
        raise InvalidParameter(f"unsupported network mode {network!r} for RUN --network (default, none, host)")
    if s.inst.json_form:
        cmd = list(s.inst.args)
    else:
        script = s.inst.args[0] if s.inst.args else ""
        docs = s.inst.heredocs
        if len(docs) == 1 and re.fullmatch(r"\s*<<-?(['\"]?)" + re.escape(docs[0].name) + r"\1\s*", script):
            script = docs[0].chomped()  # `RUN <<EOF`: the body is the script (buildkit)
        else:
            for h in docs:  # `RUN cmd <<EOF`: the shell reads the heredoc itself
                script += "\n" + h.content + h.name
        cmd = [*s.st.shell(), script]
    run_args = s.st.run_args()
    hist_args = s.st.history_args()
    saved = ([f"|{len(hist_args)}", *hist_args] if run_args else []) + cmd
    created_by = " ".join(saved)
    mount_specs = flags.get("mount", [])

    async def work() -> None:
        if any("from=" not in m and "type=cache" not in m and "type=tmpfs" not in m for m in mount_specs):
            await s.b.ctx_ready()  # a bind mount of the context
        mounts, views = _run_mounts(s, mount_specs)
        try:
            await _execute_run(s, cmd, run_args, created_by, network, mounts)
        finally:
            for v in views:
                v.close()

    await s.cached_or({"kind": "run", "cmd": saved, "mounts": mount_specs, "network": network}, created_by, work)


async def _execute_run(s: Step, cmd: list[str], run_args: list[str], created_by: str, network: str,
                       mounts: list[dict]) -> None:
    b, st = s.b, s.st
    if not st.image_id:
        raise InvalidParameter(f"The command '{' '.join(cmd)}' cannot run: the stage starts FROM scratch "
                               "and has no files yet (no shell to run it with)")
    cfg = st.config
    hc = dict(b.opts.host_config)
    mode = network if network not in ("", "default") else (b.opts.network_mode or "default")
    hc["NetworkMode"] = "bridge" if mode == "default" else mode
    if mounts:
        hc["Mounts"] = mounts
    body = {"Image": st.image_id, "Cmd": cmd, "Entrypoint": [], "Env": [*(cfg.get("Env") or []), *run_args],
            "WorkingDir": cfg.get("WorkingDir") or "", "User": cfg.get("User") or "",
            "Healthcheck": {"Test": ["NONE"]}, "Labels": {}, "AttachStdout": True, "AttachStderr": True,
            "HostConfig": hc}
    holder: dict[str, str] = {}

    async def created(cid: str) -> None:
        holder["id"] = cid
        b.live_containers.add(cid)
        await s.say(f" ---> Running in {cid[:12]}\n")

    async def output(data: bytes) -> None:
        await s.say(data.decode("utf-8", "replace"))

    ok = False
    try:
        result = await run_container(b.daemon, body, output, created)
        if result.exit_code != 0:
            raise RunFailed(f"The command '{' '.join(cmd)}' returned a non-zero code: {result.exit_code}",
                            result.exit_code)
        layer = await commit_upper(b.daemon, result.container_id)
        try:
            s.commit(created_by, layer.staging, layer.diff_id if layer.staging else None, layer.size)
        except BaseException:
            if layer.staging:
                shutil.rmtree(layer.staging, ignore_errors=True)
            raise
        ok = True
    finally:
        cid = holder.get("id")
        if cid is not None:
            cancelled = not ok and asyncio.current_task() is not None and asyncio.current_task().cancelling()
            if (ok and b.opts.rm) or (not ok and (b.opts.forcerm or cancelled)):
                await asyncio.shield(remove_container(b.daemon, cid))
                b.live_containers.discard(cid)
                if ok:
                    await s.say(f" ---> Removed intermediate container {cid[:12]}\n")
