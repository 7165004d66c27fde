"""Type checks of JSON request bodies, worded as Go's decoder words them.

docker decodes bodies into typed structs, so `"Memory": "lots"` is a 400
naming the field, never a 500 from deep inside the engine.
"""

from __future__ import annotations

from berth.errors import InvalidParameter

STR, BOOL, INT, STRS, STRMAP, OBJ, CMD = "string", "bool", "int64", "[]string", "map[string]string", "object", "strslice"

CONFIG_FIELDS = {
    "Hostname": STR, "Domainname": STR, "User": STR, "Image": STR, "WorkingDir": STR, "StopSignal": STR,
    "MacAddress": STR, "AttachStdin": BOOL, "AttachStdout": BOOL, "AttachStderr": BOOL, "Tty": BOOL,
    "OpenStdin": BOOL, "StdinOnce": BOOL, "NetworkDisabled": BOOL, "ArgsEscaped": BOOL,
    "Env": STRS, "OnBuild": STRS, "Shell": STRS, "Cmd": CMD, "Entrypoint": CMD, "Labels": STRMAP,
    "ExposedPorts": OBJ, "Volumes": OBJ, "StopTimeout": INT, "Healthcheck": OBJ, "HostConfig": OBJ,
    "NetworkingConfig": OBJ,
}
HOST_CONFIG_FIELDS = {
    "Memory": INT, "MemorySwap": INT, "MemoryReservation": INT, "NanoCpus": INT, "CpuShares": INT,
    "CpuQuota": INT, "CpuPeriod": INT, "PidsLimit": INT, "ShmSize": INT, "OomScoreAdj": INT,
    "BlkioWeight": INT, "Privileged": BOOL, "ReadonlyRootfs": BOOL, "AutoRemove": BOOL,
    "PublishAllPorts": BOOL, "Init": BOOL, "CapAdd": STRS, "CapDrop": STRS, "SecurityOpt": STRS,
    "Dns": STRS, "DnsSearch": STRS, "DnsOptions": STRS, "ExtraHosts": STRS, "Binds": STRS, "Links": STRS,
    "GroupAdd": STRS, "VolumesFrom": STRS, "NetworkMode": STR, "Runtime": STR, "IpcMode": STR,
    "PidMode": STR, "UTSMode": STR, "CgroupParent": STR, "CpusetCpus": STR, "CpusetMems": STR,
    "Sysctls": STRMAP, "LogConfig": OBJ, "RestartPolicy": OBJ, "PortBindings": OBJ,
}


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _ok(kind: str, value: object) -> bool:
    if value is None:
        return True
    if kind == STR:
        return isinstance(value, str)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == STRS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == CMD:
        return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    if kind == STRMAP:
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return isinstance(value, dict)


def check(body: dict, fields: dict[str, str], struct: str) -> None:
    for key, kind in fields.items():
        if key in body and not _ok(kind, body[key]):
            go_type = "[]string" if kind == CMD else ("struct" if kind == OBJ else kind)
            raise InvalidParameter(f"json: cannot unmarshal {_json_kind(body[key])} into Go struct field "
                                   f"{struct}.{key} of type {go_type}")


def check_create(body: dict) -> None:
    check(body, CONFIG_FIELDS, "ContainerConfigWrapper")
    if isinstance(body.get("HostConfig"), dict):
        check(body["HostConfig"], HOST_CONFIG_FIELDS, "ContainerConfigWrapper.HostConfig")
