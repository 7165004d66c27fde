"""Merging compose documents: several `-f` files, `extends`, `include`.

The compose specification's merge rules: mappings merge recursively, scalars are
replaced, `command`/`entrypoint`/`healthcheck.test` are replaced whole, sequences of
mounts/ports/secrets merge by their key, other sequences append without duplicates,
list-or-mapping keys (`environment`, `labels`, ...) merge as mappings.
`!reset` removes what is below it, `!override` replaces instead of merging.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from .yamlfile import Override, Reset

# keys that may be a list of "k=v" or a mapping: merged as mappings
_MAPPING_KEYS = {"environment", "labels", "annotations", "sysctls", "extra_hosts", "depends_on",
                 "networks", "ulimits", "storage_opt", "driver_opts"}
_REPLACE_KEYS = {"command", "entrypoint"}
_UNIQUE_LISTS = {"cap_add", "cap_drop", "dns", "dns_opt", "dns_search", "expose", "external_links",
                 "links", "profiles", "security_opt", "tmpfs", "volumes_from", "devices",
                 "group_add", "device_cgroup_rules", "env_file", "label_file", "cache_from",
                 "cache_to", "tags", "platforms"}


def list_to_mapping(value: Any, sep: str = "=", key: str = "") -> Any:
    """`["A=1", "B"]` → `{"A": "1", "B": None}`; mappings pass through."""
    if not isinstance(value, list):
        return value
    out: dict = {}
    for item in value:
        if not isinstance(item, str):
            out[str(item)] = None
            continue
        if key == "depends_on" or key == "networks":
            out[item] = None
            continue
        if key == "extra_hosts":
            name, eq, ip = item.partition("=")
            if not eq:
                name, _, ip = item.partition(":")
            out.setdefault(name.strip(), [])
            out[name.strip()].append(ip.strip())
            continue
        k, eq, v = item.partition(sep)
        out[k] = v if eq else None
    return out


def volume_target(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target")
    if isinstance(item, str):
        parts = item.split(":")
        return parts[1] if len(parts) >= 2 else parts[0]
    return item


def port_key(item: Any) -> Any:
    if isinstance(item, dict):
        return ("d", item.get("host_ip"), str(item.get("published")), item.get("target"),
                item.get("protocol", "tcp"))
    return ("s", str(item))


def _secret_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target") or item.get("source")
    return item


_KEYED_LISTS: dict[str, Callable[[Any], Any]] = {
    "volumes": volume_target, "ports": port_key, "secrets": _secret_key, "configs": _secret_key,
}


def _merge_keyed(base: list, over: list, key: Callable[[Any], Any]) -> list:
    out = list(base)
    index = {key(v): i for i, v in enumerate(out)}
    for item in over:
        k = key(item)
        if k in index:
            out[index[k]] = item
        else:
            index[k] = len(out)
            out.append(item)
    return out


def _merge_unique(base: list, over: list) -> list:
    out = list(base)
    for item in over:
        if item not in out:
            out.append(item)
    return out


def merge_dicts(base: Any, over: Any) -> Any:
    """Generic merge: mappings recurse, everything else is replaced."""
    if isinstance(over, Override):
        return copy.deepcopy(over.value)
    if not isinstance(base, dict) or not isinstance(over, dict):
        return copy.deepcopy(over)
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Reset):
            out.pop(k, None)
        elif isinstance(v, Override):
            out[k] = copy.deepcopy(v.value)
        elif k in out:
            out[k] = merge_dicts(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def merge_service(base: dict, over: dict) -> dict:
    """Merge one service definition onto another with the spec's per-key rules."""
    if base is None:
        base = {}
    if over is None:
        return dict(base)
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Reset):
            out.pop(k, None)
            continue
        if isinstance(v, Override):
            out[k] = copy.deepcopy(v.value)
            continue
        if k not in out or out[k] is None:
            out[k] = copy.deepcopy(v)
            continue
        cur = out[k]
        if k in _REPLACE_KEYS:
            out[k] = copy.deepcopy(v)
        elif k in _MAPPING_KEYS:
            out[k] = merge_dicts(list_to_mapping(cur, key=k), list_to_mapping(v, key=k))
        elif k in _KEYED_LISTS and isinstance(cur, list) and isinstance(v, list):
            out[k] = _merge_keyed(cur, v, _KEYED_LISTS[k])
        elif k in _UNIQUE_LISTS:
            cur_l = cur if isinstance(cur, list) else [cur]
            v_l = v if isinstance(v, list) else [v]
            out[k] = _merge_unique(cur_l, v_l)
        elif k == "build":
            cur_d = {"context": cur} if isinstance(cur, str) else cur
            v_d = {"context": v} if isinstance(v, str) else v
            merged = merge_dicts({kk: vv for kk, vv in cur_d.items() if kk not in ("args", "labels")},
                                 {kk: vv for kk, vv in v_d.items() if kk not in ("args", "labels")})
            for sub in ("args", "labels"):
                if sub in cur_d or sub in v_d:
                    merged[sub] = merge_dicts(list_to_mapping(cur_d.get(sub) or {}),
                                              list_to_mapping(v_d.get(sub) or {}))
            out[k] = merged
        elif k == "healthcheck" and isinstance(cur, dict) and isinstance(v, dict):
            merged = merge_dicts(cur, {kk: vv for kk, vv in v.items() if kk != "test"})
            if "test" in v:
                merged["test"] = copy.deepcopy(v["test"])
            out[k] = merged
        elif k == "logging" and isinstance(cur, dict) and isinstance(v, dict):
            if v.get("driver") and cur.get("driver") and v["driver"] != cur["driver"]:
                out[k] = copy.deepcopy(v)
            else:
                out[k] = merge_dicts(cur, v)
        elif isinstance(cur, dict) and isinstance(v, dict):
            out[k] = merge_dicts(cur, v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def merge_documents(base: dict, over: dict) -> dict:
    """Merge a whole compose document onto another (the `-f a -f b` case)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Reset):
            out.pop(k, None)
        elif k == "services" and isinstance(v, dict):
            services = dict(out.get("services") or {})
            for name, svc in v.items():
                if isinstance(svc, Reset):
                    services.pop(name, None)
                elif isinstance(svc, Override):
                    services[name] = copy.deepcopy(svc.value)
                else:
                    services[name] = merge_service(services.get(name) or {}, svc or {})
            out["services"] = services
        elif k in out:
            out[k] = merge_dicts(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def strip_markers(node: Any) -> Any:
    """Drop `!reset` keys and unwrap `!override` values left after merging."""
    if isinstance(node, Override):
        return strip_markers(node.value)
    if isinstance(node, dict):
        return {k: strip_markers(v) for k, v in node.items() if not isinstance(v, Reset)}
    if isinstance(node, list):
        return [strip_markers(v) for v in node if not isinstance(v, Reset)]
    return node
