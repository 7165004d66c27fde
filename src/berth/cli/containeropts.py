"""`run`/`create` flags and the ContainerCreate request body built from them.

The body mirrors what docker's CLI 28 sends, field for field and in the same
order (Config, then HostConfig, then NetworkingConfig), including the fields it
always sends empty. A daemon written against docker's CLI therefore sees the
same request from us, and tests can compare our body with the one the real
docker CLI produces for the same command line.
"""

from __future__ import annotations


from .flags import FlagSet, Values
from .optvalues import (  # noqa: F401 - OptionError and parse_kv_file are re-exported
    OptionError,
    annotation_value,
    attach_value,
    duration_value,
    env_value,
    extra_host_value,
    gpus_value,
    go_open_error,
    kv_map,
    label_value,
    mount_value,
    network_value,
    parse_port_range,
    platform_value,
    split_proto,
    sysctl_value,
    throttle_bps_value,
    throttle_iops_value,
    uint16_value,
    ulimit_value,
    weight_device_value,
    parse_int10,
    parse_kv_file,
    parse_port_specs,
)
from .units import go_parse_uint, mem_bytes, mem_swap_bytes, nano_cpus

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# --- flag definitions -------------------------------------------------------------------


def add_create_flags(fs: FlagSet, run: bool) -> None:
    """All of docker's `create` flags, plus the run-only ones when `run`."""
    fs.interspersed = False
    if run:
        fs.bool("detach", "d", "Run container in background and print container ID")
        fs.bool("sig-proxy", "", "Proxy received signals to the process", default=True)
        fs.string("detach-keys", "", "Override the key sequence for detaching a container")
        fs.string("pull", "", 'Pull image before running ("always", "missing", "never")', default="missing")
    else:
        fs.string("pull", "", 'Pull image before creating ("always", "|missing", "never")', default="missing")
    fs.string("name", "", "Assign a name to the container")
    fs.bool("quiet", "q", "Suppress the pull output")
    fs.bool("help", "", "Print usage")
    fs.string("platform", "", "Set platform if server is multi-platform capable", convert=platform_value)
    fs.bool("disable-content-trust", "", "Skip image verification", default=True)

    fs.list("add-host", "", "Add a custom host-to-IP mapping (host:ip)", convert=extra_host_value)
    fs.list("annotation", "", "Add an annotation to the container (passed through to the OCI runtime)",
            kind="map", convert=annotation_value, help_default="map[]")
    fs.list("attach", "a", "Attach to STDIN, STDOUT or STDERR", convert=attach_value)
    fs.int("blkio-weight", "", "Block IO (relative weight), between 10 and 1000, or 0 to disable",
           kind="uint16", convert=uint16_value, help_default="0")
    fs.list("blkio-weight-device", "", "Block IO weight (relative device weight)",
            convert=weight_device_value, help_default="[]")
    fs.list("cap-add", "", "Add Linux capabilities")
    fs.list("cap-drop", "", "Drop Linux capabilities")
    fs.string("cgroup-parent", "", "Optional parent cgroup for the container")
    fs.string("cgroupns", "", "Cgroup namespace to use (host|private)\n"
              "'host':    Run the container in the Berth host's cgroup namespace\n"
              "'private': Run the container in its own private cgroup namespace\n"
              "'':        Use the cgroup namespace as configured by the\n"
              "           default-cgroupns-mode option on the daemon (default)")
    fs.string("cidfile", "", "Write the container ID to the file")
    fs.int("cpu-count", "", "CPU count (Windows only)")
    fs.int("cpu-percent", "", "CPU percent (Windows only)")
    fs.int("cpu-period", "", "Limit CPU CFS (Completely Fair Scheduler) period")
    fs.int("cpu-quota", "", "Limit CPU CFS (Completely Fair Scheduler) quota")
    fs.int("cpu-rt-period", "", "Limit CPU real-time period in microseconds")
    fs.int("cpu-rt-runtime", "", "Limit CPU real-time runtime in microseconds")
    fs.int("cpu-shares", "c", "CPU shares (relative weight)")
    fs.int("cpus", "", "Number of CPUs", kind="decimal", convert=nano_cpus)
    fs.string("cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
    fs.string("cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
    fs.list("device", "", "Add a host device to the container")
    fs.list("device-cgroup-rule", "", "Add a rule to the cgroup allowed devices list")
    fs.list("device-read-bps", "", "Limit read rate (bytes per second) from a device",
            convert=throttle_bps_value, help_default="[]")
    fs.list("device-read-iops", "", "Limit read rate (IO per second) from a device",
            convert=throttle_iops_value, help_default="[]")
    fs.list("device-write-bps", "", "Limit write rate (bytes per second) to a device",
            convert=throttle_bps_value, help_default="[]")
    fs.list("device-write-iops", "", "Limit write rate (IO per second) to a device",
            convert=throttle_iops_value, help_default="[]")
    fs.list("dns", "", "Set custom DNS servers")
    fs.list("dns-option", "", "Set DNS options")
    fs.list("dns-search", "", "Set custom DNS search domains")
    fs.string("domainname", "", "Container NIS domain name")
    fs.string("entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
    fs.list("env", "e", "Set environment variables", convert=env_value)
    fs.list("env-file", "", "Read in a file of environment variables")
    fs.list("expose", "", "Expose a port or a range of ports")
    fs.list("gpus", "", "GPU devices to add to the container ('all' to pass all GPUs)",
            kind="gpu-request", convert=gpus_value)
    fs.list("group-add", "", "Add additional groups to join")
    fs.string("health-cmd", "", "Command to run to check health")
    # Hidden so that `run --help` stays docker's, byte for byte.
    fs.string("health-on-failure", "", "Action when the container turns unhealthy: none, kill, restart or "
              "stop (Berth; podman's option)", hidden=True)
    fs.int("health-interval", "", "Time between running the check (ms|s|m|h)",
           kind="duration", convert=duration_value, help_default="0s")
    fs.int("health-retries", "", "Consecutive failures needed to report unhealthy")
    fs.int("health-start-interval", "", "Time between running the check during the start period (ms|s|m|h)",
           kind="duration", convert=duration_value, help_default="0s")
    fs.int("health-start-period", "", "Start period for the container to initialize before starting "
           "health-retries countdown (ms|s|m|h)", kind="duration", convert=duration_value, help_default="0s")
    fs.int("health-timeout", "", "Maximum time to allow one check to run (ms|s|m|h)",
           kind="duration", convert=duration_value, help_default="0s")
    fs.string("hostname", "h", "Container host name")
    fs.bool("init", "", "Run an init inside the container that forwards signals and reaps processes")
    fs.bool("interactive", "i", "Keep STDIN open even if not attached")
    fs.int("io-maxbandwidth", "", "Maximum IO bandwidth limit for the system drive (Windows only)",
           kind="bytes", convert=mem_bytes)
    fs.int("io-maxiops", "", "Maximum IOps limit for the system drive (Windows only)",
           kind="uint", convert=go_parse_uint)
    fs.string("ip", "", "IPv4 address (e.g., 172.30.100.104)")
    fs.string("ip6", "", "IPv6 address (e.g., 2001:db8::33)")
    fs.string("ipc", "", "IPC mode to use")
    fs.string("isolation", "", "Container isolation technology")
    fs.int("kernel-memory", "", "Kernel memory limit", kind="bytes", convert=mem_bytes)
    fs.list("label", "l", "Set meta data on a container", convert=label_value)
    fs.list("label-file", "", "Read in a line delimited file of labels")
    fs.list("link", "", "Add link to another container")
    fs.list("link-local-ip", "", "Container IPv4/IPv6 link-local addresses")
    fs.string("log-driver", "", "Logging driver for the container")
    fs.list("log-opt", "", "Log driver options")
    fs.string("mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    fs.int("memory", "m", "Memory limit", kind="bytes", convert=mem_bytes)
    fs.int("memory-reservation", "", "Memory soft limit", kind="bytes", convert=mem_bytes)
    fs.int("memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
           kind="bytes", convert=mem_swap_bytes)
    fs.int("memory-swappiness", "", "Tune container memory swappiness (0 to 100)", default=-1)
    fs.list("mount", "", "Attach a filesystem mount to the container", kind="mount", convert=mount_value)
    fs.list("network", "", "Connect a container to a network", kind="network", convert=network_value)
    fs.list("network-alias", "", "Add network-scoped alias for the container")
    fs.bool("no-healthcheck", "", "Disable any container-specified HEALTHCHECK")
    fs.bool("oom-kill-disable", "", "Disable OOM Killer")
    fs.int("oom-score-adj", "", "Tune host's OOM preferences (-1000 to 1000)")
    fs.string("pid", "", "PID namespace to use")
    fs.int("pids-limit", "", "Tune container pids limit (set -1 for unlimited)")
    fs.bool("privileged", "", "Give extended privileges to this container")
    fs.list("publish", "p", "Publish a container's port(s) to the host")
    fs.bool("publish-all", "P", "Publish all exposed ports to random ports")
    fs.bool("read-only", "", "Mount the container's root filesystem as read only")
    fs.string("restart", "", "Restart policy to apply when a container exits", default="no")
    fs.bool("rm", "", "Automatically remove the container and its associated anonymous volumes when it exits")
    fs.string("runtime", "", "Runtime to use for this container")
    fs.list("security-opt", "", "Security Options")
    fs.int("shm-size", "", "Size of /dev/shm", kind="bytes", convert=mem_bytes)
    fs.string("stop-signal", "", "Signal to stop the container")
    fs.int("stop-timeout", "", "Timeout (in seconds) to stop a container")
    fs.list("storage-opt", "", "Storage driver options for the container")
    fs.list("sysctl", "", "Sysctl options", kind="map", convert=sysctl_value, help_default="map[]")
    fs.list("tmpfs", "", "Mount a tmpfs directory")
    fs.bool("tty", "t", "Allocate a pseudo-TTY")
    fs.list("ulimit", "", "Ulimit options", kind="ulimit", convert=ulimit_value, help_default="[]")
    fs.bool("use-api-socket", "", "Bind mount Berth API socket and required auth")
    fs.string("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])")
    fs.string("userns", "", "User namespace to use")
    fs.string("uts", "", "UTS namespace to use")
    fs.list("volume", "v", "Bind mount a volume")
    fs.string("volume-driver", "", "Optional volume driver for the container")
    fs.list("volumes-from", "", "Mount volumes from the specified container(s)")
    fs.string("workdir", "w", "Working directory inside the container")


# --- the request body ---------------------------------------------------------------------------


def _is_bind(spec: str) -> bool:
    """A -v spec with a source (host path or named volume) is a bind; "/path" alone is anonymous."""
    parts = spec.split(":")
    return len(parts) >= 2 and parts[0] != ""


def _device(spec: str) -> dict[str, str]:
    src, dst, perms = spec, "", "rwm"
    parts = spec.split(":")
    if len(parts) == 3:
        src, dst, perms = parts
    elif len(parts) == 2:
        if parts[1] and all(c in "rwm" for c in parts[1]):
            src, perms = parts
        else:
            src, dst = parts
    elif len(parts) > 3:
        raise OptionError(f"invalid device specification: {spec}")
    if not dst:
        dst = src
    if not src.startswith("/"):
        raise OptionError(f"{src} is not an absolute path")
    if not dst.startswith("/"):
        raise OptionError(f"{dst} is not an absolute path")
    if not perms or any(c not in "rwm" for c in perms):
        raise OptionError(f"bad mode specified: {perms}")
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}


def _norm_cap(cap: str) -> str:
    cap = cap.upper()
    if cap == "ALL":
        return cap
    if not cap.startswith("CAP_"):
        cap = "CAP_" + cap
    return cap


def _norm_caps(caps: list[str]) -> list[str] | None:
    if not caps:
        return None
    out: list[str] = []
    for c in caps:
        n = _norm_cap(c)
        if n not in out:
            out.append(n)
    if "ALL" in out:
        out = ["ALL"] + [c for c in out if c != "ALL"]
    return out


def _security_opts(opts: list[str]) -> list[str]:
    out = []
    for opt in opts:
        k, sep, v = opt.partition("=")
        if not sep and k != "no-new-privileges":
            k, sep, v = opt.partition(":")
        if (not sep or not v) and k != "no-new-privileges":
            raise OptionError(f'Invalid --security-opt: "{opt}"')
        if k == "seccomp" and v not in ("builtin", "unconfined"):
            try:
                import json

                with open(v, "rb") as fh:
                    profile = json.loads(fh.read())
            except OSError as exc:
                raise OptionError(f"opening seccomp profile ({v}) failed: {go_open_error(v, exc)}") from None
            except ValueError as exc:
                raise OptionError(f"compacting json for seccomp profile ({v}) failed: {exc}") from None
            opt = "seccomp=" + json.dumps(profile, separators=(",", ":"))
        out.append(opt)
    return out


_IDS = ("NetworkID", "EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "IPv6Gateway",
        "GlobalIPv6Address", "GlobalIPv6PrefixLen")


def _endpoint(ipam: dict[str, Any] | None = None, links: list[str] | None = None,
              aliases: list[str] | None = None, mac: str = "",
              driver_opts: dict[str, str] | None = None, gw_priority: int = 0) -> dict[str, Any]:
    ep: dict[str, Any] = {
        "IPAMConfig": ipam or None,
        "Links": links or None,
        "Aliases": aliases or None,
        "MacAddress": mac,
        "DriverOpts": driver_opts or None,
        "GwPriority": gw_priority,
    }
    for k in _IDS:
        ep[k] = 0 if k.endswith("Len") else ""
    ep["DNSNames"] = None
    return ep


_BUILTIN_NETWORKS = ("default", "bridge", "host", "none")


def _user_defined(mode: str) -> bool:
    return mode not in _BUILTIN_NETWORKS and not mode.startswith("container:")


class CreateSpec:
    """Everything `create`/`run` send: query (name, platform) and the JSON body."""

    def __init__(self, body: dict[str, Any], name: str = "", platform: str = "", cidfile: str = "") -> None:
        self.body = body
        self.name = name
        self.platform = platform
        self.cidfile = cidfile
        self.warnings: list[str] = []

    def query(self) -> dict[str, Any]:
        q: dict[str, Any] = {}
        if self.name:
            q["name"] = self.name
        if self.platform:
            q["platform"] = self.platform
        return q


def build_create_spec(v: Values, image: str, args: list[str], console_size: tuple[int, int] = (0, 0),
                      api_socket: str = "") -> CreateSpec:
    """Turn parsed flags into docker's ContainerCreate request (Config+HostConfig+NetworkingConfig)."""
    changed = v.changed
    attach = list(v.attach)
    attach_stdin = "stdin" in attach
    attach_stdout = "stdout" in attach
    attach_stderr = "stderr" in attach
    if v.mac_address:
        import re

        if not re.fullmatch(r"(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}", v.mac_address):
            raise OptionError(f"{v.mac_address} is not a valid mac address")
    if v.interactive:
        attach_stdin = True
    if not attach:
        attach_stdout = attach_stderr = True
    swappiness = v.memory_swappiness
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise OptionError(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100")

    binds: list[str] = []
    volumes: dict[str, dict] = {}
    for spec in v.volume:
        if _is_bind(spec):
            host_part, sep, rest = spec.partition(":")
            if host_part.startswith("."):
                import os.path

                spec = os.path.abspath(host_part) + sep + rest  # docker's CLI: ./relative host paths
            if spec not in binds:
                binds.append(spec)
        else:
            volumes[spec] = {}

    tmpfs: dict[str, str] = {}
    for t in v.tmpfs:
        path, _, opts = t.partition(":")
        tmpfs[path] = opts

    cmd = list(args) if args else None
    entrypoint: list[str] | None = None
    if v.entrypoint:
        entrypoint = [v.entrypoint]
    elif "entrypoint" in changed:
        entrypoint = [""]

    exposed, bindings = parse_port_specs(list(v.publish))
    for e in v.expose:
        if ":" in e:
            raise OptionError(f"invalid port format for --expose: {e}")
        proto, port = split_proto(e)
        try:
            start, end = parse_port_range(port)
        except ValueError as exc:
            raise OptionError(f"invalid range format for --expose: {e}, error: {exc}") from None
        for p in range(start, end + 1):
            exposed.setdefault(f"{p}/{proto}", {})

    devices = [_device(d) for d in v.device]

    env_items: list[str] = []
    for path in v.env_file:
        env_items.extend(parse_kv_file(path, lookup_env=True))
    env_items.extend(v.env)
    env = _dedupe_env(env_items) if env_items else None

    label_items: list[str] = []
    for path in v.label_file:
        label_items.extend(parse_kv_file(path, lookup_env=False))
    label_items.extend(v.label)
    labels = dict(sorted(kv_map(label_items).items()))

    if v.pid and not (v.pid in ("host",) or v.pid.startswith("container:")):
        raise OptionError("--pid: invalid PID mode")
    if v.uts and v.uts != "host":
        raise OptionError("--uts: invalid UTS mode")
    if v.userns and v.userns != "host":
        raise OptionError("--userns: invalid USER mode")
    if v.cgroupns and v.cgroupns not in ("host", "private"):
        raise OptionError("--cgroupns: invalid CGROUP mode")

    restart = restart_policy(v.restart)

    log_opts = dict(sorted(kv_map(list(v.log_opt)).items()))
    if v.log_driver == "none" and log_opts:
        raise OptionError(f"invalid logging opts for driver {v.log_driver}")

    security = _security_opts(list(v.security_opt)) if v.security_opt else None
    masked: list[str] | None = None
    readonly_paths: list[str] | None = None
    if security is not None and "systempaths=unconfined" in security:
        security = [s for s in security if s != "systempaths=unconfined"]
        masked, readonly_paths = [], []

    storage: dict[str, str] = {}
    for s in v.storage_opt:
        k, sep, val = s.partition("=")
        if not sep:
            raise OptionError("invalid storage option")
        storage[k] = val

    health = _healthcheck(v)

    config: dict[str, Any] = {
        "Hostname": v.hostname,
        "Domainname": v.domainname,
        "User": v.user,
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
    }
    if exposed:
        config["ExposedPorts"] = dict(sorted(exposed.items()))
    config["Tty"] = v.tty
    config["OpenStdin"] = v.interactive
    config["StdinOnce"] = bool(v.interactive and attach_stdin)
    config["Env"] = env
    config["Cmd"] = cmd
    if health is not None:
        config["Healthcheck"] = health
    config["Image"] = image
    config["Volumes"] = dict(sorted(volumes.items()))
    config["WorkingDir"] = v.workdir
    config["Entrypoint"] = entrypoint
    config["OnBuild"] = None
    config["Labels"] = labels
    if "stop-signal" in changed:
        config["StopSignal"] = v.stop_signal
    if "stop-timeout" in changed:
        config["StopTimeout"] = v.stop_timeout

    dns_servers = list(v.dns)
    host: dict[str, Any] = {
        "Binds": binds or None,
        "ContainerIDFile": v.cidfile,
        "LogConfig": {"Type": v.log_driver, "Config": log_opts},
        "NetworkMode": "default",
        "PortBindings": dict(sorted(bindings.items())),
        "RestartPolicy": restart,
        "AutoRemove": v.rm,
        "VolumeDriver": v.volume_driver,
        "VolumesFrom": list(v.volumes_from) or None,
        "ConsoleSize": [console_size[0], console_size[1]],
    }
    if v.annotation:
        host["Annotations"] = dict(sorted(kv_map(list(v.annotation)).items()))
    host.update({
        "CapAdd": _norm_caps(list(v.cap_add)),
        "CapDrop": _norm_caps(list(v.cap_drop)),
        "CgroupnsMode": v.cgroupns,
        "Dns": dns_servers,
        "DnsOptions": list(v.dns_option),
        "DnsSearch": list(v.dns_search),
        "ExtraHosts": list(v.add_host) or None,
        "GroupAdd": list(v.group_add) or None,
        "IpcMode": v.ipc,
        "Cgroup": "",
        "Links": list(v.link) or None,
        "OomScoreAdj": v.oom_score_adj,
        "PidMode": v.pid,
        "Privileged": v.privileged,
        "PublishAllPorts": v.publish_all,
        "ReadonlyRootfs": v.read_only,
        "SecurityOpt": security,
    })
    if storage:
        host["StorageOpt"] = storage
    if tmpfs:
        host["Tmpfs"] = tmpfs
    if v.health_on_failure:
        # Not a docker field: sent only when asked for, so docker's body stays byte-identical.
        if v.health_on_failure not in ("none", "kill", "restart", "stop"):
            raise OptionError(f"invalid argument {v.health_on_failure!r} for \"--health-on-failure\" flag: "
                              "use one of none, kill, restart, stop")
        host["HealthOnFailure"] = v.health_on_failure
    host["UTSMode"] = v.uts
    host["UsernsMode"] = v.userns
    host["ShmSize"] = v.shm_size
    if v.sysctl:
        host["Sysctls"] = dict(sorted(kv_map(list(v.sysctl)).items()))
    if v.runtime:
        host["Runtime"] = v.runtime
    host.update({
        "Isolation": v.isolation,
        "CpuShares": v.cpu_shares,
        "Memory": v.memory,
        "NanoCpus": v.cpus,
        "CgroupParent": v.cgroup_parent,
        "BlkioWeight": v.blkio_weight,
        "BlkioWeightDevice": list(v.blkio_weight_device),
        "BlkioDeviceReadBps": list(v.device_read_bps),
        "BlkioDeviceWriteBps": list(v.device_write_bps),
        "BlkioDeviceReadIOps": list(v.device_read_iops),
        "BlkioDeviceWriteIOps": list(v.device_write_iops),
        "CpuPeriod": v.cpu_period,
        "CpuQuota": v.cpu_quota,
        "CpuRealtimePeriod": v.cpu_rt_period,
        "CpuRealtimeRuntime": v.cpu_rt_runtime,
        "CpusetCpus": v.cpuset_cpus,
        "CpusetMems": v.cpuset_mems,
        "Devices": devices,
        "DeviceCgroupRules": list(v.device_cgroup_rule) or None,
        "DeviceRequests": list(v.gpus) or None,
    })
    if v.kernel_memory:
        host["KernelMemory"] = v.kernel_memory
    host.update({
        "MemoryReservation": v.memory_reservation,
        "MemorySwap": v.memory_swap,
        "MemorySwappiness": swappiness,
        "OomKillDisable": v.oom_kill_disable,
        "PidsLimit": v.pids_limit,
        "Ulimits": _dedupe_ulimits(list(v.ulimit)),
        "CpuCount": v.cpu_count,
        "CpuPercent": v.cpu_percent,
        "IOMaximumIOps": v.io_maxiops,
        "IOMaximumBandwidth": v.io_maxbandwidth,
    })
    mounts = list(v.mount)
    if v.use_api_socket and api_socket:
        mounts.append({"Type": "bind", "Source": api_socket, "Target": "/var/run/docker.sock"})
    if mounts:
        host["Mounts"] = mounts
    host["MaskedPaths"] = masked
    host["ReadonlyPaths"] = readonly_paths
    if "init" in changed:
        host["Init"] = v.init

    if v.rm and restart["Name"] not in ("", "no"):
        raise OptionError("conflicting options: cannot specify both --restart and --rm")

    networking = _networking(v, host)
    body = dict(config)
    body["HostConfig"] = host
    body["NetworkingConfig"] = networking

    return CreateSpec(body, v.name, v.platform, v.cidfile)


def _dedupe_env(items: list[str]) -> list[str]:
    """docker keeps one value per variable (the last one given)."""
    order: list[str] = []
    values: dict[str, str] = {}
    for item in items:
        key = item.partition("=")[0]
        if key not in values:
            order.append(key)
        values[key] = item
    return [values[k] for k in order]


def _dedupe_ulimits(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for u in items:
        out[u["Name"]] = u
    return list(out.values())


def restart_policy(policy: str) -> dict[str, Any]:
    """docker's opts.ParseRestartPolicy (the daemon judges the policy's name); also used by update."""
    if not policy:
        return {"Name": "", "MaximumRetryCount": 0}
    name, sep, count = policy.partition(":")
    if sep and not name:
        raise OptionError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = parse_int10(count)
        except ValueError:
            raise OptionError("invalid restart policy format: maximum retry count must be an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def _healthcheck(v: Values) -> dict[str, Any] | None:
    have = bool(v.health_cmd or v.health_interval or v.health_timeout
                or v.health_start_period or v.health_retries or v.health_start_interval)
    if v.no_healthcheck:
        if have:
            raise OptionError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not have:
        return None
    for flag, value in (("interval", v.health_interval), ("timeout", v.health_timeout),
                        ("retries", v.health_retries), ("start-period", v.health_start_period),
                        ("start-interval", v.health_start_interval)):
        if value < 0:
            raise OptionError(f"--health-{flag} cannot be negative")
    hc: dict[str, Any] = {}
    if v.health_cmd:
        hc["Test"] = ["CMD-SHELL", v.health_cmd]
    for key, value in (("Interval", v.health_interval), ("Timeout", v.health_timeout),
                       ("StartPeriod", v.health_start_period), ("StartInterval", v.health_start_interval),
                       ("Retries", v.health_retries)):
        if value:
            hc[key] = value
    return hc


def _networking(v: Values, host: dict[str, Any]) -> dict[str, Any]:
    nets: list[dict[str, Any]] = list(v.network)
    if not nets:
        if v.network_alias:
            raise OptionError("network-scoped aliases are only supported for user-defined networks")
        has_opts = v.ip or v.ip6 or v.link_local_ip or v.mac_address or v.link
        ipam = _ipam(v.ip, v.ip6, list(v.link_local_ip))
        if has_opts:
            ep = _endpoint(ipam, list(v.link) or None, None, v.mac_address)
        else:
            ep = _endpoint()
        return {"EndpointsConfig": {"default": ep}}
    host["NetworkMode"] = nets[0]["Target"]
    endpoints: dict[str, Any] = {}
    user_defined = any(_user_defined(n["Target"]) for n in nets)
    builtin = any(not _user_defined(n["Target"]) for n in nets)
    if user_defined and builtin:
        raise OptionError("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
    for i, n in enumerate(nets):
        aliases = list(n.get("Aliases") or [])
        links: list[str] = []
        ip, ip6 = n.get("IPv4Address", ""), n.get("IPv6Address", "")
        lla = list(n.get("LinkLocalIPs") or [])
        mac = n.get("MacAddress", "")
        if i == 0:
            if aliases and v.network_alias:
                raise OptionError("conflicting options: cannot specify both --network-alias and per-network alias")
            if ip and v.ip:
                raise OptionError("conflicting options: cannot specify both --ip and per-network IPv4 address")
            if ip6 and v.ip6:
                raise OptionError("conflicting options: cannot specify both --ip6 and per-network IPv6 address")
            aliases = aliases or list(v.network_alias)
            links = list(v.link)
            ip = ip or v.ip
            ip6 = ip6 or v.ip6
            lla = lla or list(v.link_local_ip)
            mac = mac or v.mac_address
        if aliases and not _user_defined(n["Target"]):
            raise OptionError("network-scoped aliases are only supported for user-defined networks")
        if n["Target"] in endpoints:
            raise OptionError(f'network "{n["Target"]}" is specified multiple times')
        ipam = _ipam(ip, ip6, lla)
        driver_opts = n.get("DriverOpts") or None
        gw = n.get("GwPriority", 0)
        empty = not (aliases or links or ipam or mac or driver_opts or gw)
        if i == 0 and len(nets) == 1 and empty:
            continue
        endpoints[n["Target"]] = _endpoint(ipam, links or None, aliases or None, mac, driver_opts, gw)
    return {"EndpointsConfig": endpoints}


def _ipam(ip: str, ip6: str, lla: list[str]) -> dict[str, Any] | None:
    ipam: dict[str, Any] = {}
    if ip:
        ipam["IPv4Address"] = ip
    if ip6:
        ipam["IPv6Address"] = ip6
    if lla:
        ipam["LinkLocalIPs"] = lla
    return ipam or None
