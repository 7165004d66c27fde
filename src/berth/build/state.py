"""What a build carries around: its options, one stage's running state, the
ARG scoping rules, and the ordered progress output."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from berth.build.imageconfig import normalize_config

# Proxy variables every build may set with --build-arg without declaring them.
# Docker passes them to RUN but leaves them out of the image's history.
BUILTIN_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass
class BuildOptions:
    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    nocache: bool = False
    rm: bool = True
    forcerm: bool = False
    pull: bool = False
    quiet: bool = False
    network_mode: str = ""
    cache_from: list[str] = field(default_factory=list)
    platform: str = ""
    host_config: dict = field(default_factory=dict)   # memory, cpu*, shm size, ulimits, extra hosts
    registry_auth: dict = field(default_factory=dict)  # registry host -> AuthConfig (X-Registry-Config)


class BuildArgs:
    """docker's ARG rules: meta ARGs (before the first FROM) serve FROM lines and
    the stages that re-declare them; a stage sees only what it declares; the
    --build-arg value wins over a declared default; built-in proxy args are
    usable undeclared."""

    def __init__(self, given: dict[str, str | None]) -> None:
        self.given = dict(given)
        self.meta: dict[str, str | None] = {}
        self.used: set[str] = set()

    def declare_meta(self, name: str, default: str | None) -> None:
        value = self.given[name] if name in self.given and self.given[name] is not None else default
        self.meta[name] = value
        self.used.add(name)

    def meta_env(self) -> dict[str, str]:
        return {k: v for k, v in self.meta.items() if v is not None}

    def value_for(self, name: str, default: str | None) -> str | None:
        """A stage's `ARG name[=default]`."""
        self.used.add(name)
        if name in self.given and self.given[name] is not None:
            return self.given[name]
        if default is not None:
            return default
        return self.meta.get(name)

    def unused(self) -> list[str]:
        return sorted(k for k in self.given if k not in self.used and k not in BUILTIN_ARGS)


@dataclass
class Stage:
    index: int
    name: str                 # the AS name, lower case ("" when none)
    from_inst: object         # the FROM instruction
    instructions: list        # what follows FROM
    deps: set[int] = field(default_factory=set)
    first_step: int = 0


@dataclass
class StageState:
    """One stage while it runs: the image so far and the scope of its ARGs."""
    stage: Stage
    image_id: str             # "" for scratch before the first step
    doc: dict                 # the full image config document
    args: dict[str, str | None] = field(default_factory=dict)  # declared in this stage, with values
    builtin: dict[str, str] = field(default_factory=dict)       # builtin args given with --build-arg

    @property
    def config(self) -> dict:
        return self.doc.setdefault("config", normalize_config({}))

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    def expansion_env(self) -> dict[str, str]:
        """Variables an instruction's words see: ARGs, then ENV over them."""
        env = {k: v for k, v in self.args.items() if v is not None}
        env.update(self.builtin)
        env.update(self.env_map())
        return env

    def run_args(self) -> list[str]:
        """Build args a RUN gets in its environment (docker's FilterAllowed): declared
        ones with a value and given builtins, unless ENV sets the same name."""
        env = self.env_map()
        out = []
        for k, v in sorted({**{k: v for k, v in self.args.items() if v is not None}, **self.builtin}.items()):
            if k not in env:
                out.append(f"{k}={v}")
        return out

    def history_args(self) -> list[str]:
        """The subset recorded in `|N K=V` history prefixes: builtins only if declared."""
        return [a for a in self.run_args() if a.split("=", 1)[0] not in BUILTIN_ARGS
                or a.split("=", 1)[0] in self.args]

    def set_env(self, key: str, value: str) -> None:
        env = list(self.config.get("Env") or [])
        for i, item in enumerate(env):
            if item.split("=", 1)[0] == key:
                env[i] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        self.config["Env"] = env

    def copy_doc(self) -> dict:
        return copy.deepcopy(self.doc)


class Output:
    """Progress lines in stage order: a stage that runs ahead (in parallel)
    buffers until every earlier stage has finished writing."""

    def __init__(self, send: Callable[[dict], Awaitable[None]], quiet: bool) -> None:
        self._send = send
        self.quiet = quiet
        self.quiet_log: list[str] = []
        self._current = 0
        self._order: list[int] = []
        self._buffers: dict[int, list[dict]] = {}
        self._done: set[int] = set()
        self._lock = asyncio.Lock()

    def set_order(self, order: list[int]) -> None:
        self._order = order
        self._current = 0

    def _active(self) -> int | None:
        return self._order[self._current] if self._current < len(self._order) else None

    async def message(self, msg: dict, stage: int | None = None) -> None:
        if stage is not None and stage != self._active():
            self._buffers.setdefault(stage, []).append(msg)
            return
        await self._write(msg)

    async def _write(self, msg: dict) -> None:
        if self.quiet and "stream" in msg:
            self.quiet_log.append(msg["stream"])
            return
        await self._send(msg)

    async def stream(self, text: str, stage: int | None = None) -> None:
        await self.message({"stream": text}, stage)

    async def stage_done(self, stage: int) -> None:
        self._done.add(stage)
        async with self._lock:
            while True:
                act = self._active()
                if act is None or act not in self._done:
                    return
                nxt_index = self._current + 1
                nxt = self._order[nxt_index] if nxt_index < len(self._order) else None
                if nxt is not None:
                    # Not active yet: what it writes meanwhile is buffered and drained here.
                    while self._buffers.get(nxt):
                        for msg in self._buffers.pop(nxt):
                            await self._write(msg)
                self._current = nxt_index

    async def flush_all(self) -> None:
        """On failure: whatever earlier stages buffered goes out before the error."""
        for idx in self._order[self._current:]:
            for msg in self._buffers.pop(idx, []):
                await self._write(msg)
