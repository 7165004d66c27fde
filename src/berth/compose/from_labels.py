"""A project rebuilt from its containers' labels, for commands given only `-p NAME` and no
compose file (`berth compose -p app ps`, `stop`, `logs` ...), as docker compose allows."""

from __future__ import annotations

from . import engine as L
from .engine import Engine
from .model import Project, Service


def project_from_labels(engine: Engine, name: str) -> Project:
    services: dict[str, Service] = {}
    working_dir, files = "", []
    for c in engine.containers(name, all=True):
        labels = c.get("Labels") or {}
        svc = labels.get(L.SERVICE)
        if not svc or labels.get(L.ONEOFF) == "True":
            continue
        working_dir = working_dir or labels.get(L.WORKING_DIR, "")
        files = files or [f for f in labels.get(L.CONFIG_FILES, "").split(",") if f]
        if svc in services:
            continue
        deps: dict[str, dict] = {}
        for item in filter(None, labels.get(L.DEPENDS_ON, "").split(",")):
            parts = item.split(":")
            deps[parts[0]] = {"condition": parts[1] if len(parts) > 1 else "service_started",
                              "restart": len(parts) > 2 and parts[2] == "true", "required": True}
        config = {"image": c.get("Image", "")}
        if deps:
            config["depends_on"] = deps
        services[svc] = Service(svc, config)
    for s in services.values():  # dependencies on services without containers are dropped
        deps = s.config.get("depends_on") or {}
        s.config["depends_on"] = {d: v for d, v in deps.items() if d in services}
    project = Project(name=name, working_dir=working_dir, config_files=files, environment={})
    project.services = dict(sorted(services.items()))
    return project
