"""Values of `run`/`create` options, parsed and validated the way docker's opts package does.

Each function turns one flag value (or file) into what the API body needs, raising
ValueError with docker's exact message for values pflag rejects at parse time
("invalid argument ... for ... flag: <message>"), or OptionError for problems
docker reports after parsing ("docker: <message>", exit 125).
"""

from __future__ import annotations

import errno as _errno
import posix

from .command import CliError, getenv
from .units import go_parse_bool, go_parse_int, go_parse_uint, parse_duration, ram_in_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class OptionError(CliError):
    """A run/create option that parsed as a flag but makes no sense (docker: exit 125)."""

    status = 125

# --- flag-time validators (errors appear as 'invalid argument "x" for "--flag" flag: ...') ---


def env_value(value: str) -> str:
    key, sep, _ = value.partition("=")
    if not key:
        raise ValueError(f"invalid environment variable: {value}")
    if sep:
        return value
    found = getenv(key)
    if found is not None:
        return f"{key}={found}"
    return value


def label_value(value: str) -> str:
    key = value.partition("=")[0].strip()
    if not key:
        raise ValueError(f"invalid label '{value}': empty name")
    return value


def attach_value(value: str) -> str:
    low = value.lower()
    if low in ("stdin", "stdout", "stderr"):
        return low
    raise ValueError("valid streams are STDIN, STDOUT and STDERR")


_ULIMIT_NAMES = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}


def parse_int10(text: str) -> int:
    t = text[1:] if text[:1] in "+-" else text
    if not t.isdigit() or not t.isascii():
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def ulimit_value(value: str) -> dict[str, Any]:
    name, sep, limits = value.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {value}")
    if name not in _ULIMIT_NAMES:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise ValueError(
            f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
        )
    hard = parse_int10(parts[1]) if len(parts) == 2 else None
    soft = parse_int10(parts[0])
    if hard is None:
        hard = soft
    if hard != -1 and soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


def _ip(text: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(text) from None
    return text


def extra_host_value(value: str) -> str:
    key, sep, val = value.partition("=")
    if not sep:
        key, sep, val = value.partition(":")
    if not sep or not key or ":" in key:
        raise ValueError(f'bad format for add-host: "{value}"')
    if val != "host-gateway":
        if len(val) > 2 and val[0] == "[" and val[-1] == "]":
            val = val[1:-1]
        try:
            _ip(val)
        except ValueError:
            raise ValueError(f'invalid IP address in add-host: "{val}"') from None
    return f"{key}:{val}"


_SYSCTL_EXACT = {
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}


def sysctl_value(value: str) -> str:
    key, sep, _ = value.partition("=")
    if sep and key and (key in _SYSCTL_EXACT or key.startswith(("fs.mqueue.", "net."))):
        return value
    raise ValueError(f"sysctl '{value}' is not allowed")


def throttle_bps_value(value: str) -> dict[str, Any]:
    parts = value.split(":")
    if len(parts) != 2:
        raise ValueError(f"bad format: {value}")
    if not parts[0].startswith("/dev/"):
        raise ValueError(f"bad format for device path: {value}")
    try:
        rate = ram_in_bytes(parts[1])
    except ValueError:
        rate = -1
    if rate < 0:
        raise ValueError(
            f"invalid rate for device: {value}. The correct format is <device-path>:<number>[<unit>]. "
            "Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        )
    return {"Path": parts[0], "Rate": rate}


def throttle_iops_value(value: str) -> dict[str, Any]:
    parts = value.split(":")
    if len(parts) != 2:
        raise ValueError(f"bad format: {value}")
    if not parts[0].startswith("/dev/"):
        raise ValueError(f"bad format for device path: {value}")
    try:
        rate = go_parse_uint(parts[1])
    except ValueError:
        raise ValueError(
            f"invalid rate for device: {value}. The correct format is <device-path>:<number>. "
            "Number must be a positive integer"
        ) from None
    return {"Path": parts[0], "Rate": rate}


def weight_device_value(value: str) -> dict[str, Any]:
    parts = value.split(":")
    if len(parts) != 2:
        raise ValueError(f"bad format: {value}")
    if not parts[0].startswith("/dev/"):
        raise ValueError(f"bad format for device path: {value}")
    try:
        weight = go_parse_uint(parts[1], 16)
    except ValueError:
        weight = -1
    if weight != 0 and not 10 <= weight <= 1000:
        raise ValueError(f"invalid weight for device: {value}")
    return {"Path": parts[0], "Weight": weight}


def uint16_value(text: str) -> int:
    return go_parse_uint(text, 16)


def duration_value(text: str) -> int:
    return parse_duration(text)


def _bool_value(key: str, val: str) -> bool:
    try:
        return go_parse_bool(val)
    except ValueError:
        raise ValueError(f"invalid value for {key}: {val}") from None


def mount_value(value: str) -> dict[str, Any]:
    """docker's --mount CSV syntax → an API Mount object."""
    import csv

    fields = next(csv.reader([value]), [])
    mtype = "volume"
    m: dict[str, Any] = {}
    bind: dict[str, Any] = {}
    vol: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    image: dict[str, Any] = {}
    for f in fields:
        key, sep, val = f.partition("=")
        low = key.strip().lower()
        if not sep and low not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise ValueError(f"invalid field '{f}' must be a key=value pair")
        if low == "type":
            mtype = val
        elif low in ("source", "src"):
            m["Source"] = val
        elif low in ("target", "dst", "destination"):
            m["Target"] = val
        elif low in ("readonly", "ro"):
            m["ReadOnly"] = _bool_value(key, val) if sep else True
        elif low == "consistency":
            m["Consistency"] = val
        elif low == "bind-propagation":
            bind["Propagation"] = val
        elif low == "bind-nonrecursive":
            bind["NonRecursive"] = _bool_value(key, val) if sep else True
        elif low == "bind-recursive":
            if val == "enabled":
                pass
            elif val == "disabled":
                bind["NonRecursive"] = True
            elif val == "writable":
                bind["ReadOnlyNonRecursive"] = True
            elif val == "readonly":
                bind["ReadOnlyForceRecursive"] = True
            else:
                raise ValueError(f'invalid value for {key}: {val} (must be "enabled", "disabled", "writable", or "readonly")')
        elif low == "bind-create-src":
            bind["CreateMountpoint"] = _bool_value(key, val) if sep else True
        elif low == "volume-nocopy":
            vol["NoCopy"] = _bool_value(key, val) if sep else True
        elif low == "volume-label":
            k, _, v = val.partition("=")
            vol.setdefault("Labels", {})[k] = v
        elif low == "volume-subpath":
            vol["Subpath"] = val
        elif low == "volume-driver":
            vol.setdefault("DriverConfig", {})["Name"] = val
        elif low == "volume-opt":
            k, _, v = val.partition("=")
            vol.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif low == "tmpfs-size":
            tmpfs["SizeBytes"] = ram_in_bytes(val)
        elif low == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(val, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif low == "image-subpath":
            image["Subpath"] = val
        else:
            raise ValueError(f"unexpected key '{key}' in '{f}'")
    if not m.get("Target"):
        raise ValueError("target is required")
    if mtype == "bind" and m.get("Source", "").startswith("."):
        import os.path

        m["Source"] = os.path.abspath(m["Source"])  # docker's CLI makes ./relative sources absolute
    out: dict[str, Any] = {"Type": mtype}
    for k in ("Source", "Target", "ReadOnly", "Consistency"):
        if m.get(k):
            out[k] = m[k]
    if bind:
        out["BindOptions"] = {k: bind[k] for k in ("Propagation", "NonRecursive", "CreateMountpoint",
                                                   "ReadOnlyNonRecursive", "ReadOnlyForceRecursive") if k in bind}
    if vol:
        ordered = {k: vol[k] for k in ("NoCopy", "Labels", "Subpath") if k in vol}
        if "DriverConfig" in vol:
            dc = vol["DriverConfig"]
            ordered["DriverConfig"] = {k: dc[k] for k in ("Name", "Options") if k in dc}
        out["VolumeOptions"] = ordered
    if image:
        out["ImageOptions"] = image
    if tmpfs:
        out["TmpfsOptions"] = {k: tmpfs[k] for k in ("SizeBytes", "Mode") if k in tmpfs}
    return out


def network_value(value: str) -> dict[str, Any]:
    """--network NAME or the advanced "name=n,alias=a,ip=..." syntax."""
    if "=" not in value:
        return {"Target": value}
    import csv

    net: dict[str, Any] = {"Aliases": [], "DriverOpts": {}}
    for f in next(csv.reader([value]), []):
        key, sep, val = f.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ValueError(f"invalid field '{f}' must be a key=value pair")
        if key == "name":
            net["Target"] = val
        elif key == "alias":
            net["Aliases"].append(val)
        elif key == "ip":
            net["IPv4Address"] = val
        elif key == "ip6":
            net["IPv6Address"] = val
        elif key == "mac-address":
            net["MacAddress"] = val
        elif key == "link-local-ip":
            net.setdefault("LinkLocalIPs", []).append(val)
        elif key == "driver-opt":
            k, _, v = val.partition("=")
            net["DriverOpts"][k] = v
        elif key == "gw-priority":
            net["GwPriority"] = go_parse_int(val)
        else:
            raise ValueError(f"invalid field key {key}")
    if not net.get("Target"):
        raise ValueError("network name is required")
    return net


def gpus_value(value: str) -> dict[str, Any]:
    """docker's --gpus: "all", a count, or "count=2,driver=x,device=0,capabilities=compute"."""
    import csv

    req: dict[str, Any] = {"Driver": "", "Count": 0, "DeviceIDs": None, "Capabilities": None, "Options": {}}
    caps: list[str] = []
    for f in next(csv.reader([value]), []):
        key, sep, val = f.partition("=")
        if not sep:
            key, val = "count", f
        key = key.strip().lower()
        if key == "count":
            req["Count"] = -1 if val == "all" else go_parse_int(val)
        elif key == "driver":
            req["Driver"] = val
        elif key == "device":
            req["DeviceIDs"] = [d for d in val.split(",") if d]
        elif key == "capabilities":
            caps.extend(c for c in val.split(",") if c)
        elif key == "options":
            k, _, v = val.partition("=")
            req["Options"][k] = v
        else:
            raise ValueError(f'unexpected key "{key}" in "{f}"')
    if req["Count"] and req["DeviceIDs"]:
        raise ValueError("cannot set both Count and DeviceIDs on device request")
    req["Capabilities"] = [sorted(set(caps + ["gpu"]))]
    return req


def annotation_value(value: str) -> str:
    return value


def platform_value(value: str) -> str:
    norm = value.strip().lower()
    if norm in ("linux/amd64", "amd64", "linux/x86_64", "x86_64", "linux/amd64/v1", "linux"):
        return "linux/amd64"
    raise ValueError(f"platform {value} is not supported: this engine runs linux/amd64 only")


# --- files of KEY=VALUE lines ---------------------------------------------------------------


def go_open_error(path: str, exc: OSError) -> str:
    text = posix.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno == _errno.ENOENT:
        text = "no such file or directory"
    elif exc.errno == _errno.EACCES:
        text = "permission denied"
    elif exc.errno == _errno.EISDIR:
        return f"read {path}: is a directory"
    return f"open {path}: {text[:1].lower() + text[1:]}"


def parse_kv_file(path: str, lookup_env: bool) -> list[str]:
    """docker's env-file/label-file format.

    One KEY=VALUE per line; leading whitespace and blank/#-comment lines are
    ignored; the value is kept verbatim (no quotes processing, no trimming);
    a bare KEY takes its value from our environment (env files only) and is
    dropped when unset there.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise OptionError(go_open_error(path, exc)) from None
    out: list[str] = []
    for lineno, line_b in enumerate(raw.split(b"\n"), 1):
        if line_b.endswith(b"\r"):
            line_b = line_b[:-1]
        if lineno == 1 and line_b.startswith(b"\xef\xbb\xbf"):
            line_b = line_b[3:]
        try:
            line = line_b.decode("utf-8")
        except UnicodeDecodeError:
            shown = " ".join(str(b) for b in line_b)
            raise OptionError(
                f"invalid env file ({path}): invalid utf8 bytes at line {lineno}: [{shown}]"
            ) from None
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.lstrip(" \t\n\v\f\r")
        if any(c in key for c in " \t\n\v\f\r"):
            raise OptionError(f"invalid env file ({path}): variable '{key}' contains whitespaces")
        if not key:
            raise OptionError(f"invalid env file ({path}): no variable name on line '{line}'")
        if sep:
            out.append(f"{key}={value}")
        elif lookup_env and getenv(key) is not None:
            out.append(f"{key.strip()}={getenv(key)}")
    return out


def kv_map(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


# --- ports ------------------------------------------------------------------------------------


def parse_port_range(text: str) -> tuple[int, int]:
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        v = go_parse_uint(text, 16) if text.isdigit() else _bad()
        return v, v
    a, _, b = text.partition("-")
    start = go_parse_uint(a, 16) if a.isdigit() else _bad()
    end = go_parse_uint(b, 16) if b.isdigit() else _bad()
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def _bad() -> int:
    raise ValueError("invalid syntax")


def split_proto(raw: str) -> tuple[str, str]:
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1:
        return "tcp", raw
    if not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _long_publish(value: str) -> str:
    """docker's long --publish syntax "published=8080,target=80,protocol=tcp"."""
    import csv

    published = target = ""
    proto = "tcp"
    for f in next(csv.reader([value]), []):
        key, sep, val = f.partition("=")
        key = key.strip().lower()
        if not sep:
            raise OptionError(f"invalid field '{f}' must be a key=value pair")
        if key == "published":
            published = val
        elif key == "target":
            target = val
        elif key == "protocol":
            proto = val
        elif key == "mode":
            if val not in ("host", "ingress"):
                raise OptionError(f"invalid publish mode value ({val}); must be either 'ingress' or 'host'")
        else:
            raise OptionError(f"invalid field key {key}")
    if not target:
        raise OptionError("missing mandatory field 'target'")
    return f"{published}:{target}/{proto}" if published else f"{target}/{proto}"


def parse_port_specs(specs: list[str]) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    """nat.ParsePortSpecs: ("80/tcp" → {}), ("80/tcp" → [{"HostIp", "HostPort"}])."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for raw in specs:
        if "=" in raw:
            raw = _long_publish(raw)
        parts = raw.split(":")
        container = parts[-1]
        if len(parts) == 1:
            ip, host = "", ""
        elif len(parts) == 2:
            ip, host = "", parts[0]
        elif len(parts) == 3:
            ip, host = parts[0], parts[1]
        else:
            ip, host = ":".join(parts[:-2]), parts[-2]
        proto, container = split_proto(container)
        if ip.startswith("["):
            if not ip.endswith("]"):
                raise OptionError(f"invalid IP address {ip}: missing ']' in address")
            ip = ip[1:-1]
        if ip:
            try:
                _ip(ip)
            except ValueError:
                raise OptionError(f"invalid IP address: {ip}") from None
        if not container:
            raise OptionError(f"no port specified: {raw}<empty>")
        try:
            start, end = parse_port_range(container)
        except ValueError:
            raise OptionError(f"invalid containerPort: {container}") from None
        hstart = hend = 0
        if host:
            try:
                hstart, hend = parse_port_range(host)
            except ValueError:
                raise OptionError(f"invalid hostPort: {host}") from None
            if (end - start) != (hend - hstart) and end != start:
                raise OptionError(
                    f"invalid ranges specified for container and host Ports: {container} and {host}"
                )
        proto = proto.lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise OptionError(f"invalid proto: {proto}")
        count = end - start + 1
        for i in range(count):
            port = f"{start + i}/{proto}"
            hport = ""
            if host:
                hport = str(hstart + i)
                if count == 1 and hstart != hend:
                    hport += f"-{hend}"
            exposed[port] = {}
            bindings.setdefault(port, []).append({"HostIp": ip, "HostPort": hport})
    return exposed, bindings
