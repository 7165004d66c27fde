"""A service's normalised config → docker's ContainerCreate body (what docker compose v2
sends), plus the config hash and labels that let `up` recognise an unchanged container."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from . import engine as L
from .loader.shortsyntax import duration_ns
from .model import Project, Service

# Keys that never change the container: they do not enter the hash.
_NOT_HASHED = ("build", "pull_policy", "scale", "profiles", "depends_on", "develop")


def hashed_config(svc: Service) -> dict:
    cfg = {k: v for k, v in svc.config.items() if k not in _NOT_HASHED}
    deploy = dict(cfg.get("deploy") or {})
    if deploy:
        deploy.pop("replicas", None)
        cfg["deploy"] = deploy
        if not deploy:
            del cfg["deploy"]
    return cfg


def config_hash(svc: Service) -> str:
    data = json.dumps(hashed_config(svc), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def container_name(project: Project, svc: Service, number: int, oneoff: bool = False) -> str:
    if svc.config.get("container_name") and not oneoff:
        return svc.config["container_name"]
    return f"{project.name}-{svc.name}-{number}"


def _depends_label(svc: Service) -> str:
    parts = []
    for dep, spec in svc.depends_on.items():
        parts.append(f"{dep}:{spec.get('condition', 'service_started')}:{str(bool(spec.get('restart', False))).lower()}")
    return ",".join(parts)


def labels(project: Project, svc: Service, number: int, image_id: str, chash: str,
           oneoff: bool = False) -> dict[str, str]:
    out = dict(svc.config.get("labels") or {})
    out.update({
        L.PROJECT: project.name,
        L.SERVICE: svc.name,
        L.NUMBER: str(number),
        L.ONEOFF: "True" if oneoff else "False",
        L.WORKING_DIR: project.working_dir,
        L.CONFIG_FILES: ",".join(project.config_files),
        L.CONFIG_HASH: chash,
        L.DEPENDS_ON: _depends_label(svc),
        L.IMAGE: image_id,
        L.VERSION: L.COMPOSE_VERSION,
        L.BERTH_CONFIG: json.dumps(hashed_config(svc), sort_keys=True, separators=(",", ":")),
    })
    return out


def _ns(value: Any) -> int:
    return duration_ns(value, "duration")


def _healthcheck(hc: dict) -> dict:
    out: dict[str, Any] = {"Test": hc.get("test") or []}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                     ("start_interval", "StartInterval")):
        if hc.get(key) is not None:
            out[api] = _ns(hc[key])
    if hc.get("retries") is not None:
        out["Retries"] = int(hc["retries"])
    return out


def _restart(policy: str | None) -> dict:
    if not policy or policy == "no":
        return {"Name": "no"}
    name, _, count = policy.partition(":")
    out: dict[str, Any] = {"Name": name}
    if count:
        out["MaximumRetryCount"] = int(count)
    return out


def _mount(project: Project, vol: dict) -> dict:
    kind = vol["type"]
    m: dict[str, Any] = {"Type": kind, "Target": vol["target"]}
    if vol.get("read_only"):
        m["ReadOnly"] = True
    if kind == "volume":
        src = vol.get("source")
        if src:
            m["Source"] = project.volumes[src].name if src in project.volumes else src
        if (vol.get("volume") or {}).get("nocopy"):
            m["VolumeOptions"] = {"NoCopy": True}
    elif kind == "bind":
        m["Source"] = vol["source"]
        bind = vol.get("bind") or {}
        if bind.get("propagation"):
            m["BindOptions"] = {"Propagation": bind["propagation"]}
        if bind.get("create_host_path") and not os.path.exists(vol["source"]):
            os.makedirs(vol["source"], exist_ok=True)
    elif kind == "tmpfs":
        opts = vol.get("tmpfs") or {}
        t: dict[str, Any] = {}
        if opts.get("size") is not None:
            from .loader.shortsyntax import size_bytes

            t["SizeBytes"] = size_bytes(opts["size"], "tmpfs.size")
        if opts.get("mode") is not None:
            t["Mode"] = int(str(opts["mode"]), 8) if isinstance(opts["mode"], str) else int(opts["mode"])
        if t:
            m["TmpfsOptions"] = t
    return m


def _secret_target(kind: str, ref: dict) -> str:
    target = ref.get("target") or ref["source"]
    if not target.startswith("/"):
        target = ("/run/secrets/" if kind == "secrets" else "/") + target
    return target


def _file_mounts(project: Project, svc: Service) -> list[dict]:
    """File-based secrets and configs, bind-mounted read-only as docker compose does."""
    out = []
    for kind, table in (("secrets", project.secrets), ("configs", project.configs)):
        for ref in svc.config.get(kind) or []:
            item = table[ref["source"]].config
            if item.get("external"):
                from .errors import ComposeError

                raise ComposeError(f'{kind[:-1]} "{ref["source"]}": external {kind} need swarm, which berth does not do')
            if item.get("file"):
                out.append({"Type": "bind", "Source": item["file"], "Target": _secret_target(kind, ref),
                            "ReadOnly": True})
    return out


def injected_files(project: Project, svc: Service) -> list[tuple[str, bytes, int, int, int]]:
    """Secrets from `environment:` and configs from `content:`/`environment:`, as
    (path, data, mode, uid, gid) to copy into the container before it starts."""
    out = []
    for kind, table in (("secrets", project.secrets), ("configs", project.configs)):
        for ref in svc.config.get(kind) or []:
            item = table[ref["source"]].config
            if item.get("file") or item.get("external"):
                continue
            if item.get("environment"):
                value = project.environment.get(item["environment"])
                if value is None:
                    from .errors import ComposeError

                    raise ComposeError(f'environment variable {item["environment"]} for {kind[:-1]} '
                                       f'"{ref["source"]}" is not set')
                data = value.encode()
            elif "content" in item:
                data = str(item["content"]).encode()
            else:
                continue
            mode = ref.get("mode", 0o444)
            mode = int(mode, 8) if isinstance(mode, str) else int(mode)
            out.append((_secret_target(kind, ref), data, mode, int(ref.get("uid") or 0), int(ref.get("gid") or 0)))
    return out


def network_name(project: Project, key: str) -> str:
    return project.networks[key].name if key in project.networks else key


def endpoint(project: Project, svc: Service, key: str, cname: str) -> dict:
    cfg = svc.networks.get(key) or {}
    aliases = [svc.name] + [a for a in (cfg.get("aliases") or []) if a != svc.name]
    ep: dict[str, Any] = {"Aliases": aliases}
    ipam = {}
    if cfg.get("ipv4_address"):
        ipam["IPv4Address"] = cfg["ipv4_address"]
    if cfg.get("ipv6_address"):
        ipam["IPv6Address"] = cfg["ipv6_address"]
    if ipam:
        ep["IPAMConfig"] = ipam
    if cfg.get("mac_address"):
        ep["MacAddress"] = cfg["mac_address"]
    return ep


def sorted_networks(svc: Service) -> list[str]:
    """Networks by priority (highest first), then name, as compose connects them."""
    nets = svc.networks
    return sorted(nets, key=lambda k: (-int((nets[k] or {}).get("priority", 0)), k))


# Service keys berth cannot honour: refused rather than silently dropped.
UNSUPPORTED_KEYS = {
    "gpus": "GPU device requests are not supported by berth",
    "credential_spec": "credential_spec is for Windows containers",
    "post_start": "lifecycle hooks (post_start) are not supported by berth compose",
    "pre_stop": "lifecycle hooks (pre_stop) are not supported by berth compose",
    "models": "models need Docker Model Runner, which berth does not have",
    "provider": "provider services are not supported by berth compose",
    "use_api_socket": "use_api_socket is not supported by berth compose",
}


def check_supported(svc: Service) -> None:
    from .errors import ComposeError

    for key, why in UNSUPPORTED_KEYS.items():
        if svc.config.get(key):
            raise ComposeError(f"service {svc.name}: {key}: {why}")


def _device(spec: Any) -> dict:
    if isinstance(spec, dict):
        return {"PathOnHost": spec.get("source", ""), "PathInContainer": spec.get("target") or spec.get("source", ""),
                "CgroupPermissions": spec.get("permissions", "rwm")}
    parts = str(spec).split(":")
    host = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1] else host
    perms = parts[2] if len(parts) > 2 else "rwm"
    return {"PathOnHost": host, "PathInContainer": target, "CgroupPermissions": perms}


def _more_host_config(c: dict, host: dict) -> None:
    """The rarer service keys, each to its HostConfig field."""
    if c.get("devices"):
        host["Devices"] = [_device(d) for d in c["devices"]]
    if c.get("device_cgroup_rules"):
        host["DeviceCgroupRules"] = list(c["device_cgroup_rules"])
    for key, api in (("cpuset", "CpusetCpus"), ("cgroup_parent", "CgroupParent"), ("userns_mode", "UsernsMode"),
                     ("uts", "UTSMode"), ("runtime", "Runtime"), ("isolation", "Isolation"),
                     ("cgroup", "CgroupnsMode")):
        if c.get(key):
            host[api] = c[key]
    for key, api in (("cpu_quota", "CpuQuota"), ("cpu_period", "CpuPeriod"), ("cpu_rt_period", "CpuRealtimePeriod"),
                     ("cpu_rt_runtime", "CpuRealtimeRuntime"), ("cpu_count", "CpuCount"),
                     ("cpu_percent", "CpuPercent"), ("mem_swappiness", "MemorySwappiness")):
        if c.get(key) is not None:
            host[api] = int(c[key])
    if c.get("oom_kill_disable") is not None:
        host["OomKillDisable"] = bool(c["oom_kill_disable"])
    if c.get("storage_opt"):
        host["StorageOpt"] = {k: str(v) for k, v in c["storage_opt"].items()}
    if c.get("annotations"):
        host["Annotations"] = dict(c["annotations"])
    if c.get("external_links"):
        links = host.setdefault("Links", [])
        for link in c["external_links"]:
            name, _, alias = link.partition(":")
            links.append(f"{name}:{alias or name}")
    blkio = c.get("blkio_config") or {}
    if blkio.get("weight") is not None:
        host["BlkioWeight"] = int(blkio["weight"])
    for key, api, field in (("device_read_bps", "BlkioDeviceReadBps", "Rate"),
                            ("device_write_bps", "BlkioDeviceWriteBps", "Rate"),
                            ("device_read_iops", "BlkioDeviceReadIOps", "Rate"),
                            ("device_write_iops", "BlkioDeviceWriteIOps", "Rate"),
                            ("weight_device", "BlkioWeightDevice", "Weight")):
        if blkio.get(key):
            from .loader.shortsyntax import size_bytes

            host[api] = [{"Path": d["path"], field: (int(d.get("weight", 0)) if field == "Weight"
                                                     else size_bytes(d["rate"], f"blkio_config.{key}"))}
                         for d in blkio[key]]


def create_body(project: Project, svc: Service, number: int, image_id: str, chash: str,
                oneoff: bool = False, command: list[str] | None = None,
                keep_anonymous: dict[str, str] | None = None) -> dict:
    """`keep_anonymous` maps a target to the anonymous volume a replaced container had
    there: the new container gets the same volume, so its data survives a recreate."""
    c = svc.config
    check_supported(svc)
    cname = container_name(project, svc, number, oneoff)
    env = [f"{k}={v}" for k, v in (c.get("environment") or {}).items() if v is not None]
    config: dict[str, Any] = {
        "Hostname": c.get("hostname", ""),
        "Domainname": c.get("domainname", ""),
        "User": c.get("user", ""),
        "Tty": bool(c.get("tty")),
        "OpenStdin": bool(c.get("stdin_open")),
        "Env": env,
        "Image": c["image"],
        "WorkingDir": c.get("working_dir", ""),
        "Labels": labels(project, svc, number, image_id, chash, oneoff),
    }
    if command is not None:
        config["Cmd"] = command
    elif c.get("command") is not None:
        config["Cmd"] = c["command"]
    if c.get("entrypoint") is not None:
        config["Entrypoint"] = c["entrypoint"]
    exposed = {}
    for p in c.get("ports") or []:
        exposed[f"{p['target']}/{p.get('protocol', 'tcp')}"] = {}
    for e in c.get("expose") or []:
        port, _, proto = str(e).partition("/")
        exposed[f"{port}/{proto or 'tcp'}"] = {}
    if exposed:
        config["ExposedPorts"] = exposed
    if c.get("stop_signal"):
        config["StopSignal"] = c["stop_signal"]
    if c.get("stop_grace_period") is not None:
        config["StopTimeout"] = _ns(c["stop_grace_period"]) // 1_000_000_000
    if c.get("healthcheck"):
        config["Healthcheck"] = _healthcheck(c["healthcheck"])
    if c.get("mac_address"):
        config["MacAddress"] = c["mac_address"]

    restart = c.get("restart")
    deploy = c.get("deploy") or {}
    rp = deploy.get("restart_policy") or {}
    if not restart and "restart_policy" in deploy:  # deploy.restart_policy, as docker compose maps it outside swarm
        restart = {"any": "always", "on-failure": "on-failure", "none": "no"}.get(rp.get("condition", "any"), "always")
        if restart == "on-failure" and rp.get("max_attempts"):
            restart += f":{int(rp['max_attempts'])}"
    host: dict[str, Any] = {
        "RestartPolicy": _restart(restart),
        "Privileged": bool(c.get("privileged")),
        "ReadonlyRootfs": bool(c.get("read_only")),
    }
    mounts = [_mount(project, v) for v in c.get("volumes") or []] + _file_mounts(project, svc)
    for m in mounts:
        if m["Type"] == "volume" and "Source" not in m and (keep_anonymous or {}).get(m["Target"]):
            m["Source"] = keep_anonymous[m["Target"]]  # type: ignore[index]
    if mounts:
        host["Mounts"] = mounts
    if c.get("tmpfs"):
        tmpfs = {}
        for t in c["tmpfs"]:
            path, _, opts = t.partition(":")
            tmpfs[path] = opts
        host["Tmpfs"] = tmpfs
    bindings: dict[str, list] = {}
    for p in c.get("ports") or []:
        key = f"{p['target']}/{p.get('protocol', 'tcp')}"
        bindings.setdefault(key, []).append({"HostIp": p.get("host_ip", ""), "HostPort": str(p.get("published", ""))})
    if bindings:
        host["PortBindings"] = bindings
    if c.get("init") is not None:
        host["Init"] = bool(c["init"])
    for key, api in (("cap_add", "CapAdd"), ("cap_drop", "CapDrop"), ("security_opt", "SecurityOpt"),
                     ("extra_hosts", "ExtraHosts"), ("dns", "Dns"), ("dns_search", "DnsSearch"),
                     ("dns_opt", "DnsOptions"), ("group_add", "GroupAdd")):
        if c.get(key):
            host[api] = list(c[key])
    if c.get("ulimits"):
        host["Ulimits"] = [{"Name": n, "Soft": v["soft"], "Hard": v["hard"]} for n, v in c["ulimits"].items()]
    limits = ((c.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    reservations = ((c.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
    memory = c.get("mem_limit") or limits.get("memory")
    if memory:
        host["Memory"] = int(memory)
    if c.get("mem_reservation") or reservations.get("memory"):
        host["MemoryReservation"] = int(c.get("mem_reservation") or reservations.get("memory"))
    if c.get("memswap_limit"):
        host["MemorySwap"] = int(c["memswap_limit"])
    cpus = c.get("cpus") or limits.get("cpus")
    if cpus:
        host["NanoCpus"] = int(float(cpus) * 1e9)
    if c.get("pids_limit") or limits.get("pids"):
        host["PidsLimit"] = int(c.get("pids_limit") or limits.get("pids"))
    if c.get("shm_size"):
        host["ShmSize"] = int(c["shm_size"])
    if c.get("cpu_shares"):
        host["CpuShares"] = int(c["cpu_shares"])
    if c.get("oom_score_adj") is not None:
        host["OomScoreAdj"] = int(c["oom_score_adj"])
    if c.get("sysctls"):
        host["Sysctls"] = dict(c["sysctls"])
    if c.get("logging"):
        host["LogConfig"] = {"Type": c["logging"].get("driver", "json-file"),
                             "Config": {k: str(v) for k, v in (c["logging"].get("options") or {}).items()}}
    for key, api in (("ipc", "IpcMode"), ("pid", "PidMode")):
        v = c.get(key)
        if v:
            host[api] = f"container:{project.name}-{v[8:]}-1" if v.startswith("service:") else v
    if c.get("volumes_from"):
        vf = []
        for item in c["volumes_from"]:
            if item.startswith("container:"):
                vf.append(item[len("container:"):])
            else:
                name, _, mode = item.partition(":")
                target = project.services[name] if name in project.services else None
                cn = container_name(project, target, 1) if target else name
                vf.append(f"{cn}:{mode}" if mode else cn)
        host["VolumesFrom"] = vf
    if c.get("links"):
        links = []
        for link in c["links"]:
            name, _, alias = link.partition(":")
            target = project.services.get(name)
            cn = container_name(project, target, 1) if target else name
            links.append(f"{cn}:{alias or name}")
        host["Links"] = links
    _more_host_config(c, host)
    networking: dict[str, Any] = {}
    mode = c.get("network_mode")
    if mode:
        if mode.startswith("service:"):
            dep = project.services.get(mode[8:])
            mode = f"container:{container_name(project, dep, 1) if dep else mode[8:]}"
        host["NetworkMode"] = mode
    else:
        nets = sorted_networks(svc)
        if nets:
            first = nets[0]
            host["NetworkMode"] = network_name(project, first)
            networking = {"EndpointsConfig": {network_name(project, first): endpoint(project, svc, first, cname)}}
    body = dict(config)
    body["HostConfig"] = host
    if networking:
        body["NetworkingConfig"] = networking
    return body
