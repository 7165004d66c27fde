"""A container as the daemon keeps it: docker's inspect document.

`doc` is the desired state (Config, HostConfig, names, paths) and changes only
on create/rename; `state` is the observed State object. Both are stored as
JSON, so inspect serves them with little translation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from berth.humanize import human_duration
from berth.timefmt import ZERO_TIME, unix_from_iso

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def new_state() -> dict:
    return {
        "Status": "created", "Running": False, "Paused": False, "Restarting": False,
        "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
        "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME,
    }


@dataclass
class Container:
    doc: dict
    state: dict
    # runtime-only: futures woken on exit / removal, pending attach requests
    exit_waiters: list[asyncio.Future] = field(default_factory=list)
    remove_waiters: list[asyncio.Future] = field(default_factory=list)
    pending_attach: list = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    watch_task: asyncio.Task | None = None
    restart_task: asyncio.Task | None = None
    stop_requested: bool = False

    @property
    def id(self) -> str:
        return self.doc["Id"]

    @property
    def name(self) -> str:
        return self.doc["Name"]

    @property
    def running(self) -> bool:
        return bool(self.state.get("Running"))

    @property
    def config(self) -> dict:
        return self.doc["Config"]

    @property
    def host_config(self) -> dict:
        return self.doc["HostConfig"]

    def inspect(self, size_rw: int | None = None) -> dict:
        out = {k: v for k, v in self.doc.items() if not k.startswith("_")}
        state = {k: v for k, v in self.state.items() if not k.startswith("_")}
        out["State"] = state
        if size_rw is not None:
            out["SizeRw"] = size_rw
            out["SizeRootFs"] = size_rw + self.doc.get("_ImageSize", 0)
        return out

    def status_text(self, now: float) -> str:
        """The human Status column of `docker ps`."""
        s = self.state
        if s.get("Status") == "removing":
            return "Removal In Progress"
        if s.get("Running"):
            from berth.engine.health import status_suffix

            # docker shows either "(Paused)" or the health, never both
            suffix = " (Paused)" if s.get("Paused") else status_suffix(s)
            return "Up " + human_duration(now - unix_from_iso(s["StartedAt"])) + suffix
        if s.get("Status") == "created":
            return "Created"
        if s.get("Status") == "dead":
            return "Dead"
        finished = s.get("FinishedAt", ZERO_TIME)
        if finished == ZERO_TIME:
            return f"Exited ({s.get('ExitCode', 0)})"
        return f"Exited ({s.get('ExitCode', 0)}) {human_duration(now - unix_from_iso(finished))} ago"

    def summary(self, now: float, image_name: str | None = None) -> dict:
        """The list entry; image_name is None when the container's reference no longer
        names its image (docker then shows the image id)."""
        cfg, hc = self.config, self.host_config
        # docker quotes the arguments that hold a space: "sh -c 'exit 3'"
        args = [f"'{a}'" if " " in a else a for a in self.doc["Args"]]
        command = " ".join([self.doc["Path"], *args]) if self.doc.get("Path") else ""
        return {
            "Id": self.id,
            "Names": ["/" + n for n in self.all_names()],
            "Image": image_name if image_name is not None else self.doc.get("Image", ""),
            "ImageID": self.doc.get("Image", ""),
            "Command": command,
            "Created": unix_from_iso(self.doc["Created"]),
            "Ports": summary_ports(self.doc.get("NetworkSettings") or {}),
            "Labels": cfg.get("Labels") or {},
            "State": self.state.get("Status", ""),
            "Status": self.status_text(now),
            "HostConfig": {"NetworkMode": hc.get("NetworkMode", "default")},
            "NetworkSettings": {"Networks": self.doc.get("NetworkSettings", {}).get("Networks", {})},
            "Mounts": self.doc.get("Mounts", []),
        }

    def all_names(self) -> list[str]:
        return [self.name.lstrip("/")]


def summary_ports(ns: dict) -> list[dict]:
    """`GET /containers/json` Ports from NetworkSettings.Ports (network/docs.py)."""
    from berth.network.docs import summary_ports as ports

    return ports(ns)


def merge_image_config(image_cfg: dict, cfg: dict) -> dict:
    """Fill a container's Config from its image's config, docker's way."""
    merged = dict(cfg)
    img_env = image_cfg.get("Env") or []
    env: dict[str, str] = {}
    order: list[str] = []
    for item in [*img_env, *(cfg.get("Env") or [])]:
        key = item.split("=", 1)[0]
        if key not in env:
            order.append(key)
        env[key] = item
    merged["Env"] = [env[k] for k in order] or None
    entry_set = cfg.get("Entrypoint") is not None
    if not entry_set:
        merged["Entrypoint"] = image_cfg.get("Entrypoint")
        if not cfg.get("Cmd"):
            merged["Cmd"] = image_cfg.get("Cmd")
    elif cfg.get("Entrypoint") == [""] or cfg.get("Entrypoint") == []:
        merged["Entrypoint"] = None
    for key in ("WorkingDir", "User", "StopSignal", "Domainname"):
        if not cfg.get(key) and image_cfg.get(key):
            merged[key] = image_cfg[key]
    for key in ("ExposedPorts", "Volumes"):
        combined = dict(image_cfg.get(key) or {})
        combined.update(cfg.get(key) or {})
        merged[key] = combined or None
    labels = dict(image_cfg.get("Labels") or {})
    labels.update(cfg.get("Labels") or {})
    merged["Labels"] = labels
    image_health = image_cfg.get("Healthcheck")
    if image_health:
        # Fields the container leaves unset come from the image (docker merges them one by one).
        mine = dict(cfg.get("Healthcheck") or {})
        for key, value in image_health.items():
            if not mine.get(key):
                mine[key] = value
        merged["Healthcheck"] = mine
    if image_cfg.get("OnBuild"):
        merged["OnBuild"] = None
    return merged
