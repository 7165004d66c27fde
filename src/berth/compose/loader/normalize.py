"""The merged raw document → the normalised model: every short syntax expanded, strings
cast to the types interpolation could not give, defaults filled in (default network,
resource names, image names for built services), references checked."""

from __future__ import annotations

import shlex
from typing import Any, Callable, Optional

from ..errors import ComposeError
from .dotenv import read_dotenv
from .merge import list_to_mapping
from .shortsyntax import duration_ns, parse_port, parse_volume, size_bytes, to_bool, to_int

_BOOLS = ("privileged", "read_only", "tty", "stdin_open", "init", "oom_kill_disable")
_INTS = ("scale", "cpu_shares", "pids_limit", "oom_score_adj", "cpu_count", "cpu_percent",
         "mem_swappiness", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime")
_SIZES = ("mem_limit", "mem_reservation", "memswap_limit", "shm_size")
_STR_LISTS = ("dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop", "security_opt",
              "external_links", "volumes_from", "devices", "group_add", "profiles", "links")

Lookup = Callable[[str], Optional[str]]


def _invalid(msg: str) -> ComposeError:
    return ComposeError(f"{msg}: invalid compose project")


def _str_mapping(value: Any, where: str, lookup: Lookup | None = None) -> dict[str, Any]:
    mapping = list_to_mapping(value) or {}
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        if v is None:
            out[str(k)] = lookup(str(k)) if lookup else ""
            if out[str(k)] is None and lookup:
                out[str(k)] = None
        elif isinstance(v, bool):
            out[str(k)] = "true" if v else "false"
        else:
            out[str(k)] = str(v)
    return out


def _command(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ComposeError(f"invalid command line {value!r}: {exc}") from None
    if value is None:
        return None
    return [str(v) for v in value]


def _env_files(value: Any) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append({"path": item, "required": True})
        else:
            entry = {"path": item["path"], "required": to_bool(item.get("required", True), "env_file.required")}
            if item.get("format"):
                entry["format"] = item["format"]
            out.append(entry)
    return out


def _read_env_files(files: list[dict], lookup: Lookup, svc: str) -> dict[str, Any]:
    import os

    env: dict[str, Any] = {}
    for f in files:
        if f.get("format") not in (None, "", "raw"):
            raise ComposeError(f'service "{svc}": unsupported env_file format "{f["format"]}"')
        if not os.path.exists(f["path"]):
            if f["required"]:
                raise ComposeError(f'env file {f["path"]} not found: stat {f["path"]}: no such file or directory')
            continue
        if f.get("format") == "raw":
            with open(f["path"], encoding="utf-8") as fh:
                for line in fh.read().splitlines():
                    if line and not line.startswith("#"):
                        k, _, v = line.partition("=")
                        env[k] = v
            continue
        env.update(read_dotenv(f["path"], lambda k: lookup(k) if lookup(k) is not None else env.get(k)))
    return env


def _healthcheck(hc: dict, where: str) -> dict:
    out = dict(hc)
    if to_bool(out.get("disable", False), where):
        return {"test": ["NONE"], "disable": True}
    out.pop("disable", None)
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    for k in ("interval", "timeout", "start_period", "start_interval"):
        if k in out:
            duration_ns(out[k], f"{where}.{k}")
            out[k] = str(out[k])
    if "retries" in out:
        out["retries"] = to_int(out["retries"], f"{where}.retries")
    return out


def _ulimits(value: dict, where: str) -> dict:
    out = {}
    for name, v in value.items():
        if isinstance(v, dict):
            out[name] = {"soft": to_int(v.get("soft"), where), "hard": to_int(v.get("hard"), where)}
        else:
            n = to_int(v, where)
            out[name] = {"soft": n, "hard": n}
    return out


def _extra_hosts(value: Any) -> list[str]:
    mapping = list_to_mapping(value, key="extra_hosts") if isinstance(value, list) else value
    out = []
    for host, ips in (mapping or {}).items():
        for ip in (ips if isinstance(ips, list) else [ips]):
            out.append(f"{host}:{ip}")
    return out


def _deploy(deploy: dict, where: str) -> dict:
    out = dict(deploy)
    if "replicas" in out and out["replicas"] is not None:
        out["replicas"] = to_int(out["replicas"], f"{where}.replicas")
    res = out.get("resources")
    if isinstance(res, dict):
        res = dict(res)
        for part in ("limits", "reservations"):
            if isinstance(res.get(part), dict):
                p = dict(res[part])
                if "memory" in p:
                    p["memory"] = size_bytes(p["memory"], f"{where}.resources.{part}.memory")
                if "cpus" in p:
                    p["cpus"] = float(p["cpus"])
                if "pids" in p:
                    p["pids"] = to_int(p["pids"], f"{where}.resources.{part}.pids")
                res[part] = p
        out["resources"] = res
    return out


def normalize_service(name: str, raw: dict, project: str, lookup: Lookup) -> dict:
    where = f"services.{name}"
    svc: dict[str, Any] = {k: v for k, v in (raw or {}).items() if not str(k).startswith("x-")}
    for k in _BOOLS:
        if k in svc:
            svc[k] = to_bool(svc[k], f"{where}.{k}")
    for k in _INTS:
        if k in svc:
            svc[k] = to_int(svc[k], f"{where}.{k}")
    for k in _SIZES:
        if k in svc:
            svc[k] = size_bytes(svc[k], f"{where}.{k}")
    if "cpus" in svc:
        svc["cpus"] = float(svc["cpus"])
    for k in _STR_LISTS:
        if k in svc:
            v = svc[k]
            svc[k] = [str(x) for x in (v if isinstance(v, list) else [v])]
    for k in ("command", "entrypoint"):
        if k in svc:
            svc[k] = _command(svc[k])
    if "stop_grace_period" in svc:
        duration_ns(svc["stop_grace_period"], f"{where}.stop_grace_period")
    env: dict[str, Any] = {}
    if "env_file" in svc:
        svc["env_file"] = _env_files(svc["env_file"])
        env.update(_read_env_files(svc["env_file"], lookup, name))
    if "environment" in svc or env:
        env.update(_str_mapping(svc.get("environment") or {}, where, lookup))
        svc["environment"] = env
    if "label_file" in svc:
        files = svc.pop("label_file")
        merged: dict[str, Any] = {}
        for f in (files if isinstance(files, list) else [files]):
            merged.update(read_dotenv(f if isinstance(f, str) else f["path"]))
        merged.update(_str_mapping(svc.get("labels") or {}, where))
        svc["labels"] = merged
    if "labels" in svc:
        svc["labels"] = _str_mapping(svc["labels"], where)
    if "annotations" in svc:
        svc["annotations"] = _str_mapping(svc["annotations"], where)
    if "sysctls" in svc:
        svc["sysctls"] = _str_mapping(svc["sysctls"], where)
    if "ports" in svc:
        svc["ports"] = [p for i, spec in enumerate(svc["ports"])
                        for p in parse_port(spec, f"{where}.ports.{i}")]
    if "expose" in svc:
        svc["expose"] = [str(e) for e in svc["expose"]]
    if "volumes" in svc:
        svc["volumes"] = [parse_volume(v, f"{where}.volumes.{i}") for i, v in enumerate(svc["volumes"])]
    if "healthcheck" in svc:
        svc["healthcheck"] = _healthcheck(svc["healthcheck"] or {}, f"{where}.healthcheck")
    if "ulimits" in svc:
        svc["ulimits"] = _ulimits(svc["ulimits"], f"{where}.ulimits")
    if "extra_hosts" in svc:
        svc["extra_hosts"] = _extra_hosts(svc["extra_hosts"])
    if "deploy" in svc and svc["deploy"] is not None:
        svc["deploy"] = _deploy(svc["deploy"], f"{where}.deploy")
    build = svc.get("build")
    if build is not None:
        if isinstance(build, str):
            build = {"context": build}
        build = dict(build)
        build.setdefault("context", ".")
        if "dockerfile_inline" not in build:
            build.setdefault("dockerfile", "Dockerfile")
        if "args" in build:
            build["args"] = _str_mapping(build["args"], f"{where}.build.args", lookup)
        if "labels" in build:
            build["labels"] = _str_mapping(build["labels"], f"{where}.build.labels")
        svc["build"] = build
        svc.setdefault("image", f"{project}-{name}")
    if not svc.get("image"):
        raise _invalid(f'service "{name}" has neither an image nor a build context specified')
    deps: dict[str, dict] = {}
    raw_deps = svc.get("depends_on") or {}
    if isinstance(raw_deps, list):
        raw_deps = {d: None for d in raw_deps}
    for dep, opts in raw_deps.items():
        opts = opts or {}
        entry = {"condition": opts.get("condition", "service_started"),
                 "required": to_bool(opts.get("required", True), f"{where}.depends_on.{dep}.required")}
        if "restart" in opts:
            entry["restart"] = to_bool(opts["restart"], f"{where}.depends_on.{dep}.restart")
        deps[str(dep)] = entry
    implicit: list[str] = []
    for link in svc.get("links") or []:
        implicit.append(link.split(":")[0])
    for vf in svc.get("volumes_from") or []:
        if not vf.startswith("container:"):
            implicit.append(vf.split(":")[0])
    for key in ("network_mode", "ipc", "pid"):
        v = svc.get(key)
        if isinstance(v, str) and v.startswith("service:"):
            implicit.append(v[len("service:"):])
    for dep in implicit:
        deps.setdefault(dep, {"condition": "service_started", "required": True})
    if deps:
        svc["depends_on"] = deps
    if "network_mode" not in svc:
        nets = svc.get("networks")
        if nets is None:
            svc["networks"] = {"default": None}
        else:
            nets = list_to_mapping(nets, key="networks")
            svc["networks"] = {str(k): (dict(v) if isinstance(v, dict) else None) for k, v in nets.items()}
    for kind in ("secrets", "configs"):
        if kind in svc:
            svc[kind] = [{"source": s} if isinstance(s, str) else dict(s) for s in svc[kind]]
    if svc.get("container_name") and _replicas(svc) > 1:
        raise _invalid(f'services.{name}: can\'t set container_name and {name} as container name must be unique')
    return dict(sorted(svc.items()))


def _replicas(svc: dict) -> int:
    if "scale" in svc:
        return int(svc["scale"])
    deploy = svc.get("deploy") or {}
    return int(deploy.get("replicas") or 1)


def normalize_resource(kind: str, key: str, raw: Any, project: str) -> dict:
    cfg = dict(raw or {})
    for k in list(cfg):
        if str(k).startswith("x-"):
            del cfg[k]
    ext = cfg.get("external")
    if isinstance(ext, dict):  # legacy `external: {name: x}`
        cfg["name"] = ext.get("name", cfg.get("name", key))
        ext = True
    if ext is not None:
        cfg["external"] = to_bool(ext, f"{kind}.{key}.external")
    if cfg.get("external"):
        cfg.setdefault("name", key)
    elif kind in ("networks", "volumes"):
        cfg.setdefault("name", f"{project}_{key}")
    elif kind in ("secrets", "configs"):
        cfg.setdefault("name", f"{project}_{key}")
    if "labels" in cfg:
        cfg["labels"] = _str_mapping(cfg["labels"], f"{kind}.{key}")
    for b in ("internal", "attachable", "enable_ipv6"):
        if b in cfg:
            cfg[b] = to_bool(cfg[b], f"{kind}.{key}.{b}")
    return cfg


def check_references(services: dict[str, dict], networks: dict, volumes: dict, secrets: dict,
                     configs: dict) -> None:
    for name, svc in services.items():
        for dep in svc.get("depends_on") or {}:
            if dep not in services and svc["depends_on"][dep].get("required", True):
                raise _invalid(f'service "{name}" depends on undefined service "{dep}"')
        for net in svc.get("networks") or {}:
            if net not in networks:
                raise _invalid(f'service "{name}" refers to undefined network {net}')
        for vol in svc.get("volumes") or []:
            if vol["type"] == "volume" and vol.get("source") and vol["source"] not in volumes:
                raise _invalid(f'service "{name}" refers to undefined volume {vol["source"]}')
        for kind, table in (("secrets", secrets), ("configs", configs)):
            for ref in svc.get(kind) or []:
                if ref["source"] not in table:
                    raise _invalid(f'service "{name}" refers to undefined {kind[:-1]} {ref["source"]}')


def check_cycles(services: dict[str, dict]) -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for dep in (services[n].get("depends_on") or {}):
            if dep not in services:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise ComposeError("dependency cycle detected: " + " -> ".join(cycle))
            if state.get(dep) is None:
                visit(dep)
        stack.pop()
        state[n] = 2

    for n in services:
        if n not in state:
            visit(n)
