"""A container's configuration at create: docker's defaults, merges and checks.

The body of POST /containers/create becomes the Config and HostConfig that
inspect shows; what docker refuses at create is refused here, with its words.
"""

from __future__ import annotations

import json

from berth.errors import InvalidParameter

SUPPORTED_LOG_DRIVERS = ("json-file", "none")


HOST_CONFIG_DEFAULTS: dict = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0],
    "CapAdd": None, "CapDrop": None, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [],
    "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "",
    "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
    "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
    "Runtime": "", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
    "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0,
    "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": None,
    "Ulimits": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
    "MaskedPaths": None, "ReadonlyPaths": None, "Init": None,
}

CONFIG_KEYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
               "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck",
               "ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint", "NetworkDisabled",
               "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell")


def container_config(body: dict) -> dict:
    cfg = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
           "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False,
           "Env": None, "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "",
           "Entrypoint": None, "OnBuild": None, "Labels": {}}
    for key in CONFIG_KEYS:
        if key in body and body[key] is not None:
            cfg[key] = body[key]
    for key in ("Cmd", "Entrypoint"):
        if isinstance(cfg.get(key), str):
            cfg[key] = [cfg[key]]
    return cfg


def host_config(given: dict, default_log: tuple[str, dict]) -> dict:
    hc = json.loads(json.dumps(HOST_CONFIG_DEFAULTS))
    for key, value in given.items():
        if value is not None or key in ("Init", "PidsLimit", "OomKillDisable", "MemorySwappiness"):
            hc[key] = value
    given_log = hc.get("LogConfig") or {}
    log_type = given_log.get("Type") or default_log[0]
    log_opts = dict(default_log[1]) if log_type == default_log[0] else {}
    log_opts.update(given_log.get("Config") or {})
    hc["LogConfig"] = {"Type": log_type, "Config": log_opts}
    if not hc.get("RestartPolicy") or not hc["RestartPolicy"].get("Name"):
        hc["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
    return hc


def validate_host_config(hc: dict, runtimes: dict[str, str], networks: bool = False) -> list[str]:
    """docker's create-time checks; returns its warnings."""
    from berth.runtime.spec import validate_host_config as runtime_checks

    log_type = hc["LogConfig"]["Type"]
    if log_type not in SUPPORTED_LOG_DRIVERS:
        raise InvalidParameter(f"logger: no log driver named '{log_type}' is registered")
    log_limits(hc["LogConfig"]["Config"])
    runtime = hc.get("Runtime")
    if runtime and runtime not in runtimes:
        raise InvalidParameter(f"unknown or invalid runtime name: {runtime}")
    mode = hc.get("NetworkMode") or "bridge"
    if not networks and mode not in ("bridge", "default", "host", "none") and not mode.startswith("container:"):
        raise InvalidParameter(f"network {mode} not found")
    if hc.get("AutoRemove") and (hc.get("RestartPolicy") or {}).get("Name") not in ("", "no", None):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    if (hc.get("HealthOnFailure") or "none") not in ("none", "kill", "restart", "stop"):
        raise InvalidParameter(f"invalid health-on-failure action {hc['HealthOnFailure']!r}: "
                               "use one of none, kill, restart, stop")
    policy = (hc.get("RestartPolicy") or {}).get("Name")
    if policy not in ("", "no", "always", "unless-stopped", "on-failure", None):
        raise InvalidParameter(f"invalid restart policy: unknown policy '{policy}'; "
                               "use one of 'no', 'always', 'on-failure', or 'unless-stopped'")
    return runtime_checks(hc)


DEFAULT_LOG_OPTS = {"max-size": "20m", "max-file": "3"}


def log_limits(opts: dict) -> tuple[int, int]:
    """Rotation limits; Berth rotates by default (20 MB x 3) where docker's json-file never does."""
    from berth.logs.jsonfile import parse_log_opts

    merged = dict(opts)
    if "max-size" not in merged:
        merged.update(DEFAULT_LOG_OPTS if "max-file" not in merged else {"max-size": "20m"})
    try:
        return parse_log_opts(merged)
    except ValueError as e:
        raise InvalidParameter(str(e)) from None


def network_settings(mode: str) -> dict:
    networks = {}
    if mode in ("bridge", "default", "host", "none"):
        name = "bridge" if mode == "default" else mode
        networks[name] = {
            "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None,
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
        }
    return {
        "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "MacAddress": "", "Networks": networks,
    }
