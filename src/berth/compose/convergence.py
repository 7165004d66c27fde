"""Deciding and doing: what each container of a project needs (create, recreate, start or
nothing, and why), then doing it in dependency order, independent services in parallel.

The decision compares the service's config hash (over its fully resolved config) and the
image id recorded on the container with what the project wants now; an unchanged service
is never touched. `reason` says what changed, from the config stored next to the hash.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from ..cli.command import APIError
from . import engine as L
from .create_body import (config_hash, container_name, create_body, endpoint, hashed_config, injected_files,
                          network_name, sorted_networks)
from .engine import Engine
from .errors import ComposeError
from .model import Project, Service
from .progress import Progress


@dataclass
class Action:
    kind: str  # create | recreate | start | restart | nothing | remove
    service: str
    number: int
    reason: str
    container: dict | None = None

    def describe(self, replicas: int = 1) -> str:
        who = self.service if replicas <= 1 and self.number == 1 else f"{self.service}-{self.number}"
        return f"{self.kind} {who}: {self.reason}"


@dataclass
class UpOptions:
    force_recreate: bool = False
    always_recreate_deps: bool = False
    renew_anon_volumes: bool = False
    no_recreate: bool = False
    no_start: bool = False
    remove_orphans: bool = False
    scale: dict[str, int] = field(default_factory=dict)
    timeout: int | None = None
    build: str = "auto"  # auto | always | never
    dry_run: bool = False
    wait: bool = False
    wait_timeout: float = 0


def diff_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths where two configs differ (`environment.MODE`, `image`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(f"{p} added")
            elif k not in new:
                out.append(f"{p} removed")
            else:
                out.extend(diff_paths(old[k], new[k], p))
        return out
    if old != new:
        return [f"{path} changed" if path else "changed"]
    return []


def _number(c: dict) -> int:
    try:
        return int((c.get("Labels") or {}).get(L.NUMBER, "0"))
    except ValueError:
        return 0


def _name(c: dict) -> str:
    names = c.get("Names") or [""]
    return names[0].lstrip("/")


class Converger:
    def __init__(self, project: Project, engine: Engine, progress: Progress) -> None:
        self.project = project
        self.engine = engine
        self.progress = progress
        self._image_ids: dict[str, str] = {}
        self._listing: list[dict] | None = None
        self._pulled: set[str] = set()
        self.max_parallel = -1  # --parallel: services converged at once (-1: no limit)
        self.quiet_pull = False
        self.created_networks: list[str] = []  # made by this run: undone if the run leaves nothing
        self.created_volumes: list[str] = []

    # --- observed state ------------------------------------------------------------------
    def containers(self, oneoff: bool = False, all: bool = True, fresh: bool = True) -> list[dict]:
        """The project's containers; `fresh=False` reuses the last listing (planning asks
        several questions of one observed state)."""
        if fresh or self._listing is None or not all:
            rows = self.engine.containers(self.project.name, all=all)
            if all:
                self._listing = rows
        else:
            rows = self._listing
        out = []
        for c in rows:
            labels = c.get("Labels") or {}
            if (labels.get(L.ONEOFF) == "True") != oneoff:
                continue
            out.append(c)
        return sorted(out, key=lambda c: (labels_of(c).get(L.SERVICE, ""), _number(c)))

    def by_service(self, fresh: bool = True) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for c in self.containers(fresh=fresh):
            out.setdefault(labels_of(c).get(L.SERVICE, ""), []).append(c)
        return out

    def orphans(self) -> list[dict]:
        known = set(self.project.services) | set(self.project.disabled)
        return [c for c in self.containers(fresh=False) if labels_of(c).get(L.SERVICE) not in known]

    # --- images --------------------------------------------------------------------------
    def image_id(self, svc: Service, build_mode: str = "auto", dry_run: bool = False) -> str:
        if svc.name in self._image_ids:
            return self._image_ids[svc.name]
        policy = svc.config.get("pull_policy", "missing")
        if policy == "build" and svc.build and build_mode == "auto":
            build_mode = "always"
        if policy == "always" and not svc.build and not dry_run and svc.image not in self._pulled:
            from .build import pull_image

            pull_image(svc.image, self.engine, self.pull_progress())
            self._pulled.add(svc.image)
        if not svc.build and svc.image in self._image_ids:  # one inspect per image, not per service
            self._image_ids[svc.name] = self._image_ids[svc.image]
            return self._image_ids[svc.name]
        info = None if build_mode == "always" and svc.build else self.engine.image(svc.image)
        if info is None:
            if svc.build and build_mode != "never":
                if dry_run:
                    self._image_ids[svc.name] = "(to be built)"
                    return self._image_ids[svc.name]
                from .build import build_service

                build_service(self.project, svc, self.engine, self.progress)
                info = self.engine.image(svc.image)
            elif svc.build:
                raise ComposeError(f"image {svc.image} for service {svc.name} is not built (--no-build)")
            else:
                if policy == "never":
                    raise ComposeError(f"No such image: {svc.image} (service {svc.name} has pull_policy: never)")
                if dry_run:
                    self._image_ids[svc.name] = "(to be pulled)"
                    return self._image_ids[svc.name]
                from .build import pull_image

                pull_image(svc.image, self.engine, self.pull_progress())
                info = self.engine.image(svc.image)
            if info is None:
                raise ComposeError(f"No such image: {svc.image}")
        self._image_ids[svc.name] = info["Id"]
        if not svc.build:
            self._image_ids[svc.image] = info["Id"]
        return info["Id"]

    def pull_progress(self) -> Progress:
        return Progress(self.progress.out, "quiet") if self.quiet_pull else self.progress

    # --- planning ------------------------------------------------------------------------
    def plan_service(self, svc: Service, existing: list[dict], opts: UpOptions, image_id: str) -> list[Action]:
        want = opts.scale.get(svc.name, svc.replicas)
        chash = config_hash(svc)
        new_cfg = hashed_config(svc)
        actions: list[Action] = []
        by_number = {}
        extra = []
        for c in existing:
            n = _number(c)
            if n in by_number or n < 1:
                extra.append(c)
            else:
                by_number[n] = c
        numbers = sorted(by_number)
        keep = numbers[:want]
        for n in numbers[want:]:
            extra.append(by_number[n])
        for n in keep:
            c = by_number[n]
            labels = labels_of(c)
            running = c.get("State") in ("running", "restarting")  # a restart policy is already on it
            reason = ""
            if opts.force_recreate:
                reason = "--force-recreate"
            elif not opts.no_recreate:
                if labels.get(L.CONFIG_HASH) != chash:
                    reason = self._explain(labels, new_cfg)
                elif labels.get(L.IMAGE) and image_id.startswith("sha256:") and labels.get(L.IMAGE) != image_id:
                    reason = f"image {svc.image} changed ({labels[L.IMAGE][7:19]} -> {image_id[7:19]})"
            if reason:
                actions.append(Action("recreate", svc.name, n, reason, c))
            elif not running and not opts.no_start:
                actions.append(Action("start", svc.name, n, f"container is {c.get('State', 'stopped')}", c))
            else:
                actions.append(Action("nothing", svc.name, n, "up to date", c))
        next_n = (max(numbers) if numbers else 0) + 1
        for _ in range(want - len(keep)):
            n = next((i for i in range(1, next_n) if i not in by_number), next_n)
            by_number[n] = {}
            if n == next_n:
                next_n += 1
            actions.append(Action("create", svc.name, n, "no container yet" if not existing else f"scale to {want}"))
        for c in extra:
            actions.append(Action("remove", svc.name, _number(c), f"scale to {want}", c))
        return actions

    @staticmethod
    def _explain(labels: dict, new_cfg: dict) -> str:
        stored = labels.get(L.BERTH_CONFIG)
        if not stored:
            return "config hash changed"
        try:
            old = json.loads(stored)
        except ValueError:
            return "config hash changed"
        paths = diff_paths(old, new_cfg)
        if not paths:
            return "config hash changed"
        text = ", ".join(paths[:3])
        return text + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "")

    def plan(self, services: list[str], opts: UpOptions) -> list[Action]:
        observed = self.by_service(fresh=False)
        actions = []
        for name in services:
            svc = self.project.services[name]
            image_id = self.image_id(svc, opts.build, dry_run=opts.dry_run)
            actions.extend(self.plan_service(svc, observed.get(name, []), opts, image_id))
        if opts.always_recreate_deps:  # a recreated service takes its dependencies along
            recreated = {a.service for a in actions if a.kind == "recreate"}
            deps: set[str] = set()
            for name in recreated:
                deps.update(d for d in self.project.with_dependencies([name]) if d != name)
            for a in actions:
                if a.service in deps and a.kind in ("nothing", "start"):
                    a.kind, a.reason = "recreate", "--always-recreate-deps"
        changed = {a.service for a in actions if a.kind in ("recreate", "create")}
        for a in actions:  # containers joined to a replaced one (network/ipc/pid/volumes_from) follow it
            if a.kind not in ("nothing", "start"):
                continue
            cfg = self.project.services[a.service].config
            joined = [v[8:] for v in (cfg.get("network_mode"), cfg.get("ipc"), cfg.get("pid"))
                      if isinstance(v, str) and v.startswith("service:")]
            joined += [v.split(":")[0] for v in cfg.get("volumes_from") or [] if not v.startswith("container:")]
            hit = next((j for j in joined if j in changed), None)
            if hit:
                a.kind, a.reason = "recreate", f"{hit} is replaced and {a.service} shares its namespaces or volumes"
                changed.add(a.service)
        for a in actions:  # depends_on.restart: a dependency that changes restarts its dependents
            if a.kind != "nothing":
                continue
            for dep, spec in self.project.services[a.service].depends_on.items():
                if spec.get("restart") and dep in changed:
                    a.kind, a.reason = "restart", f"dependency {dep} changed"
                    break
        return actions

    # --- networks and volumes --------------------------------------------------------------
    def ensure_networks(self, services: list[str], dry_run: bool = False) -> None:
        wanted = []
        for name in services:
            for key in self.project.services[name].networks:
                if key not in wanted:
                    wanted.append(key)
        for key in wanted:
            net = self.project.networks[key]
            found = [n for n in self.engine.networks({"name": [net.name]}) if n.get("Name") == net.name]
            if net.external:
                if not found:
                    raise ComposeError(f"network {net.name} declared as external, but could not be found")
                continue
            if found:
                continue
            self.progress.event("Network", net.name, "Creating")
            if not dry_run:
                cfg = net.config
                body: dict[str, Any] = {
                    "Name": net.name, "CheckDuplicate": True, "Driver": cfg.get("driver") or "bridge",
                    "Options": cfg.get("driver_opts") or {}, "Internal": bool(cfg.get("internal")),
                    "Attachable": bool(cfg.get("attachable")), "EnableIPv6": bool(cfg.get("enable_ipv6")),
                    "Labels": {**(cfg.get("labels") or {}), L.NETWORK: key, L.PROJECT: self.project.name,
                               L.VERSION: L.COMPOSE_VERSION},
                }
                ipam = cfg.get("ipam")
                if ipam:
                    body["IPAM"] = {"Driver": ipam.get("driver") or "default",
                                    "Config": [{{"subnet": "Subnet", "ip_range": "IPRange", "gateway": "Gateway",
                                                 "aux_addresses": "AuxiliaryAddresses"}.get(k, k): v
                                                for k, v in c.items()} for c in ipam.get("config") or []],
                                    "Options": ipam.get("options") or {}}
                try:
                    created = self.engine.call("POST", "/networks/create", None, body) or {}
                    self.created_networks.append(created.get("Id") or net.name)
                except APIError as exc:
                    raise ComposeError(f"failed to create network {net.name}: Error response from daemon: {exc.detail}") from None
            self.progress.event("Network", net.name, "Created")

    def ensure_volumes(self, services: list[str], dry_run: bool = False) -> None:
        wanted = []
        for name in services:
            for v in self.project.services[name].config.get("volumes") or []:
                if v["type"] == "volume" and v.get("source") and v["source"] not in wanted:
                    wanted.append(v["source"])
        for key in wanted:
            vol = self.project.volumes[key]
            found = [v for v in self.engine.volumes({"name": [vol.name]}) if v.get("Name") == vol.name]
            if vol.external:
                if not found:
                    raise ComposeError(f"external volume \"{vol.name}\" not found")
                continue
            if found:
                continue
            self.progress.event("Volume", f'"{vol.name}"', "Creating")
            if not dry_run:
                cfg = vol.config
                body = {"Name": vol.name, "Driver": cfg.get("driver") or "local",
                        "DriverOpts": cfg.get("driver_opts") or {},
                        "Labels": {**(cfg.get("labels") or {}), L.VOLUME: key, L.PROJECT: self.project.name,
                                   L.VERSION: L.COMPOSE_VERSION}}
                try:
                    self.engine.call("POST", "/volumes/create", None, body)
                    self.created_volumes.append(vol.name)
                except APIError as exc:
                    raise ComposeError(f"Error response from daemon: {exc.detail}") from None
            self.progress.event("Volume", f'"{vol.name}"', "Created")

    # --- doing ---------------------------------------------------------------------------
    def _connect_extra_networks(self, svc: Service, cid: str, cname: str, aliases: bool = True) -> None:
        for key in sorted_networks(svc)[1:]:
            ep = endpoint(self.project, svc, key, cname)
            if not aliases:
                ep.pop("Aliases", None)
            self.engine.call("POST", f"/networks/{network_name(self.project, key)}/connect", None,
                             {"Container": cid, "EndpointConfig": ep})

    def inject_files(self, svc: Service, cid: str) -> None:
        """Environment/content secrets and configs, copied in before the first start."""
        files = injected_files(self.project, svc)
        if not files:
            return
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            dirs: set[str] = set()
            for path, data, mode, uid, gid in files:
                parts = path.strip("/").split("/")
                for i in range(1, len(parts)):
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                info = tarfile.TarInfo("/".join(parts))
                info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
                tar.addfile(info, io.BytesIO(data))
        self.engine.stream("PUT", f"/containers/{cid}/archive", {"path": "/"}, raw_body=buf.getvalue(),
                           headers=[("Content-Type", "application/x-tar")]).read()

    def create_container(self, svc: Service, number: int, image_id: str,
                         keep_anonymous: dict[str, str] | None = None) -> tuple[str, str]:
        cname = container_name(self.project, svc, number)
        body = create_body(self.project, svc, number, image_id, config_hash(svc),
                           keep_anonymous=keep_anonymous)
        cid = self.engine.create(cname, body, svc.config.get("platform", ""))
        try:
            self._connect_extra_networks(svc, cid, cname)
            self.inject_files(svc, cid)
        except BaseException:
            self.engine.remove(cid, force=True)
            raise
        return cid, cname

    def apply(self, action: Action, opts: UpOptions) -> str | None:
        """Carry out one action; returns the id of the container that now serves it."""
        svc = self.project.services[action.service]
        ev = self.progress.event
        if action.kind == "nothing":
            c = action.container or {}
            ev("Container", _name(c), "Running" if c.get("State") == "running" else "Created")
            return c.get("Id")
        if action.kind == "start":
            c = action.container or {}
            ev("Container", _name(c), "Starting")
            self.engine.start(c["Id"])
            ev("Container", _name(c), "Started")
            return c["Id"]
        if action.kind == "restart":
            c = action.container or {}
            ev("Container", _name(c), "Restarting")
            self.engine.call("POST", f"/containers/{c['Id']}/restart",
                             {"t": str(opts.timeout)} if opts.timeout is not None else None)
            ev("Container", _name(c), "Restarted")
            return c["Id"]
        if action.kind == "remove":
            c = action.container or {}
            ev("Container", _name(c), "Stopping")
            self.engine.stop(c["Id"], opts.timeout)
            ev("Container", _name(c), "Stopped")
            ev("Container", _name(c), "Removing")
            self.engine.remove(c["Id"])
            ev("Container", _name(c), "Removed")
            return None
        image_id = self.image_id(svc, opts.build)
        if action.kind == "create":
            cname = container_name(self.project, svc, action.number)
            ev("Container", cname, "Creating")
            cid, cname = self.create_container(svc, action.number, image_id)
            ev("Container", cname, "Created")
            if not opts.no_start:
                ev("Container", cname, "Starting")
                try:
                    self.engine.start(cid)
                except APIError as exc:
                    self.engine.remove(cid, force=True)  # nothing half-made stays behind
                    ev("Container", cname, "Error")
                    raise ComposeError(f"Error response from daemon: {exc.detail}") from None
                ev("Container", cname, "Started")
            return cid
        # recreate: stop the old one, keep it aside under a temporary name, create the new
        # one, then remove the old; a failed create puts the old one back.
        old = action.container or {}
        old_name = _name(old)
        ev("Container", old_name, "Recreate", f"({action.reason})")
        was_running = old.get("State") == "running"
        if was_running:
            self.engine.stop(old["Id"], opts.timeout)
        anonymous = {} if opts.renew_anon_volumes else {
            m["Destination"]: m["Name"] for m in self.engine.inspect(old["Id"]).get("Mounts") or []
            if m.get("Type") == "volume" and m.get("Name")}
        tmp_name = f"{old['Id'][:12]}_{old_name}"
        self.engine.rename(old["Id"], tmp_name)
        try:
            cid, cname = self.create_container(svc, action.number, image_id, keep_anonymous=anonymous)
        except BaseException:
            self.engine.rename(old["Id"], old_name)
            if was_running:
                self.engine.start(old["Id"])
            raise
        self.engine.remove(old["Id"], volumes=False)
        ev("Container", cname, "Recreated")
        if not opts.no_start:
            ev("Container", cname, "Starting")
            self.engine.start(cid)
            ev("Container", cname, "Started")
        return cid

    def rollback(self) -> None:
        """After a failed first `up`: if no container of the project is left, the networks
        and (empty, new) volumes this run created go too, so nothing half-made stays."""
        if self.containers(fresh=True):
            return
        for vol in reversed(self.created_volumes):
            try:
                self.engine.call("DELETE", f"/volumes/{vol}")
            except APIError:
                pass
        for net in reversed(self.created_networks):
            try:
                self.engine.call("DELETE", f"/networks/{net}")
            except APIError:
                pass

    # --- dependency conditions ---------------------------------------------------------------
    def wait_condition(self, dep: str, condition: str, timeout: float = 0) -> None:
        if condition == "service_started":
            return  # its level was started before this one
        containers = [c for c in self.by_service().get(dep, [])]
        deadline = time.monotonic() + timeout if timeout else None
        for c in containers:
            name = _name(c)
            if condition == "service_started":
                continue
            self.progress.event("Container", name, "Waiting")
            while True:
                info = self.engine.inspect(c["Id"])
                state = info.get("State") or {}
                if condition == "service_healthy":
                    health = (state.get("Health") or {}).get("Status")
                    if health is None:
                        raise ComposeError(f"container {name} has no healthcheck configured")
                    if health == "healthy":
                        self.progress.event("Container", name, "Healthy")
                        break
                    if health == "unhealthy":
                        raise ComposeError(f"dependency failed to start: container {name} is unhealthy")
                    if not state.get("Running"):
                        raise ComposeError(f"dependency failed to start: container {name} exited ({state.get('ExitCode')})")
                elif condition == "service_completed_successfully":
                    if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                        code = state.get("ExitCode", 0)
                        if code != 0:
                            raise ComposeError(f'service "{dep}" didn\'t complete successfully: exit {code}')
                        self.progress.event("Container", name, "Exited")
                        break
                if deadline and time.monotonic() > deadline:
                    raise ComposeError(f"timeout waiting for {name}")
                time.sleep(0.1)

    # --- up ----------------------------------------------------------------------------------
    async def converge(self, services: list[str], actions: list[Action], opts: UpOptions) -> dict[str, list[str]]:
        """Apply `actions` level by level (dependencies first); services of a level in parallel."""
        per_service: dict[str, list[Action]] = {}
        for a in actions:
            per_service.setdefault(a.service, []).append(a)
        result: dict[str, list[str]] = {}

        def run_service(name: str) -> list[str]:
            svc = self.project.services[name]
            for dep, spec in svc.depends_on.items():
                if dep in self.project.services and dep in services and not opts.no_start:
                    self.wait_condition(dep, spec.get("condition", "service_started"))
            ids = []
            for a in sorted(per_service.get(name, []), key=lambda a: (a.kind == "remove", a.number)):
                cid = self.apply(a, opts)
                if cid:
                    ids.append(cid)
            return ids

        limit = asyncio.Semaphore(self.max_parallel if self.max_parallel > 0 else 1 << 16)
        list(self.project.dependency_levels(services))  # refuses cycles before anything starts
        done: dict[str, asyncio.Future] = {n: asyncio.get_running_loop().create_future() for n in services}

        async def one(n: str) -> None:
            """Each service starts as soon as its own dependencies are done (not a whole level)."""
            try:
                for dep in self.project.services[n].depends_on:
                    if dep in done:
                        await asyncio.shield(done[dep])
                async with limit:
                    done[n].set_result(await asyncio.to_thread(run_service, n))
            except BaseException as exc:  # noqa: BLE001 - dependents fail with it
                if not done[n].done():
                    done[n].set_exception(exc)

        await asyncio.gather(*(one(n) for n in services))
        failures = [done[n].exception() for n in services]  # every one retrieved: no asyncio warnings
        for n, exc in zip(services, failures):  # the first failure in dependency order is reported
            if exc is not None:
                if isinstance(exc, APIError):
                    raise ComposeError(f"Error response from daemon: {exc.detail}") from None
                raise exc
            result[n] = done[n].result()
        return result


def labels_of(c: dict) -> dict:
    return c.get("Labels") or {}
