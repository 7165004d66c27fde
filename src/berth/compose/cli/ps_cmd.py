"""`compose ps`, `images`, `port`, `top`, `events`."""

from __future__ import annotations

import json
import time
from typing import Any

from ...cli.command import APIError
from ...cli.flags import FlagSet, Values
from .. import engine as L
from ..errors import ComposeError
from .context import ComposeContext
from .table import write_table

_PS_TABLE = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"
_PS_HEADER = {"Name": "NAME", "Image": "IMAGE", "Command": "COMMAND", "Service": "SERVICE",
              "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "ID": "CONTAINER ID",
              "State": "STATE", "Project": "PROJECT", "Health": "HEALTH", "ExitCode": "EXIT CODE",
              "CreatedAt": "CREATED AT", "Size": "SIZE", "Labels": "LABELS", "Networks": "NETWORKS",
              "LocalVolumes": "LOCAL VOLUMES", "Mounts": "MOUNTS", "Names": "NAMES"}
_STATES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")


def flags_ps(fs: FlagSet) -> None:
    fs.bool("all", "a", "Show all stopped containers (including those created by the run command)")
    fs.list("filter", "", "Filter services by a property (supported filters: status)", kind="string")
    fs.string("format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.", default="table")
    fs.bool("no-trunc", "", "Don't truncate output")
    fs.bool("orphans", "", "Include orphaned services (not declared by project)", default=True)
    fs.bool("quiet", "q", "Only display IDs")
    fs.bool("services", "", "Display services")
    fs.list("status", "", 'Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]', kind="stringArray")


def _row(c: dict, no_trunc: bool) -> dict:
    from ...cli.display import displayable_ports, ellipsis, since

    labels = c.get("Labels") or {}
    command = c.get("Command") or ""
    if not no_trunc:
        command = ellipsis(command, 20)
    health = ""
    status = c.get("Status") or ""
    for h in ("healthy", "unhealthy", "starting"):
        if f"({h})" in status or f"(health: {h})" in status:
            health = h
    exit_code = 0
    if c.get("State") == "exited" and "(" in status:
        try:
            exit_code = int(status.split("(", 1)[1].split(")", 1)[0])
        except ValueError:
            exit_code = 0
    name = (c.get("Names") or ["/"])[0].lstrip("/")
    publishers = [{"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort", 0),
                   "PublishedPort": p.get("PublicPort", 0), "Protocol": p.get("Type", "tcp")}
                  for p in c.get("Ports") or []]
    return {
        "ID": c.get("Id", "") if no_trunc else c.get("Id", "")[:12], "Name": name, "Names": name,
        "Image": c.get("Image", ""), "Command": json.dumps(command, ensure_ascii=False),
        "Project": labels.get(L.PROJECT, ""), "Service": labels.get(L.SERVICE, ""),
        "Created": c.get("Created", 0), "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c.get("Created", 0))),
        "RunningFor": since(c.get("Created", 0)), "State": c.get("State", ""), "Status": status,
        "Health": health, "ExitCode": exit_code, "Ports": displayable_ports(c.get("Ports") or []),
        "Publishers": publishers, "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in c.get("Mounts") or []),
        "Networks": ",".join((c.get("NetworkSettings") or {}).get("Networks") or {}),
        "Size": "0B",
    }


def run_ps(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project = ctx.project(services=args)
    ctx.services(args)
    statuses = list(v.status or [])
    for f in v.filter or []:
        key, _, val = f.partition("=")
        if key != "status":
            raise ComposeError(f"unknown filter {key}")
        statuses.append(val)
    for s in statuses:
        if s not in _STATES:
            raise ComposeError(f"invalid filter status: {s!r}")
    rows = ctx.engine().containers(project.name, all=True)
    known = set(project.services) | set(project.disabled)
    out_rows = []
    for c in rows:
        labels = c.get("Labels") or {}
        if args and labels.get(L.SERVICE) not in args:
            continue
        if labels.get(L.ONEOFF) == "True" and not v.all:
            continue
        if not v.orphans and labels.get(L.SERVICE) not in known:
            continue
        if statuses:
            if c.get("State") not in statuses:
                continue
        elif not v.all and c.get("State") not in ("running", "paused", "restarting"):
            continue
        out_rows.append(c)
    out_rows.sort(key=lambda c: (c.get("Labels") or {}).get(L.SERVICE, "") + "/" + (c.get("Names") or [""])[0])
    out = ctx.cli.out
    if v.quiet:
        for c in out_rows:
            out.write(c["Id"] + "\n")
        return 0
    if v.services:
        seen = []
        for c in out_rows:
            s = (c.get("Labels") or {}).get(L.SERVICE, "")
            if s not in seen:
                seen.append(s)
        for s in seen:
            out.write(s + "\n")
        return 0
    data = [_row(c, v.no_trunc) for c in out_rows]
    fmt = v.format or "table"
    if fmt == "json":
        for r in data:
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
        return 0
    if fmt == "table":
        fmt = _PS_TABLE
    from ...gotemplate import ExecError, TemplateError
    from ...gotemplate.docker import render

    try:
        out.write(render(fmt, data, _PS_HEADER))
    except (TemplateError, ExecError) as exc:
        raise ComposeError(f"template parsing error: {exc}") from None
    return 0


def flags_images(fs: FlagSet) -> None:
    fs.string("format", "", "Format the output. Values: [table | json]", default="table")
    fs.bool("quiet", "q", "Only display IDs")


def run_images(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    from ...cli.units import human_size

    project = ctx.project(services=args)
    engine = ctx.engine()
    rows = []
    for c in engine.containers(project.name, all=True):
        labels = c.get("Labels") or {}
        if args and labels.get(L.SERVICE) not in args:
            continue
        info = engine.image(c.get("ImageID") or c.get("Image", "")) or {}
        ref = c.get("Image", "")
        repo, tag = ref, "latest"
        if ":" in ref.split("/")[-1]:
            repo, _, tag = ref.rpartition(":")
        rows.append({"ContainerName": (c.get("Names") or ["/"])[0].lstrip("/"), "Repository": repo, "Tag": tag,
                     "ID": (info.get("Id") or "")[7:19], "Size": info.get("Size", 0)})
    out = ctx.cli.out
    if v.quiet:
        for r in rows:
            out.write(r["ID"] + "\n")
    elif v.format == "json":
        out.write(json.dumps(rows) + "\n")
    else:
        write_table(out, ["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
                    [[r["ContainerName"], r["Repository"], r["Tag"], r["ID"], human_size(r["Size"])] for r in rows])
    return 0


def flags_port(fs: FlagSet) -> None:
    fs.int("index", "", "Index of the container if service has multiple replicas", default=0)
    fs.string("protocol", "", "tcp or udp", default="tcp")


def run_port(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    if len(args) != 2:
        raise ComposeError('"berth compose port" requires exactly 2 arguments.')
    project = ctx.project(services=args[:1])
    service, port = args
    number = str(v.index or 1)
    for c in ctx.engine().containers(project.name, all=True):
        labels = c.get("Labels") or {}
        if labels.get(L.SERVICE) == service and labels.get(L.NUMBER) == number:
            for p in c.get("Ports") or []:
                if str(p.get("PrivatePort")) == port and p.get("Type") == v.protocol and p.get("PublicPort"):
                    ctx.cli.out.write(f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}\n")
                    return 0
            raise ComposeError(f"no port {port}/{v.protocol} for container {(c.get('Names') or ['/'])[0].lstrip('/')}: []")
    raise ComposeError(f"service \"{service}\" is not running")


def flags_top(fs: FlagSet) -> None:
    pass


def run_top(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project = ctx.project(services=args)
    engine = ctx.engine()
    out = ctx.cli.out
    for c in engine.containers(project.name, all=False):
        labels = c.get("Labels") or {}
        if args and labels.get(L.SERVICE) not in args:
            continue
        try:
            top = engine.call("GET", f"/containers/{c['Id']}/top")
        except APIError as exc:
            raise ComposeError(f"Error response from daemon: {exc.detail}") from None
        out.write((c.get("Names") or ["/"])[0].lstrip("/") + "\n")
        write_table(out, top.get("Titles") or [], [list(map(str, p)) for p in top.get("Processes") or []])
        out.write("\n")
    return 0


def flags_events(fs: FlagSet) -> None:
    fs.bool("json", "", "Output events as a stream of json objects")
    fs.string("since", "", "Show all events created since timestamp")
    fs.string("until", "", "Stream events until this timestamp")


def run_events(ctx: ComposeContext, v: Values, args: list[str]) -> int:
    project = ctx.project(services=args)
    params: dict[str, Any] = {"filters": json.dumps({"label": [f"{L.PROJECT}={project.name}"], "type": ["container"]})}
    if v.since:
        params["since"] = v.since
    if v.until:
        params["until"] = v.until
    resp = ctx.engine().stream("GET", "/events", params)
    out = ctx.cli.out
    for ev in resp.iter_json():
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        service = attrs.get(L.SERVICE, "")
        if args and service not in args:
            continue
        when = ev.get("timeNano", 0) / 1e9
        if v.json:
            out.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + "Z",
                                  "type": "container", "action": ev.get("Action", ""),
                                  "id": (ev.get("Actor") or {}).get("ID", ""), "service": service,
                                  "attributes": {k: val for k, val in attrs.items() if not k.startswith("com.docker")}}) + "\n")
        else:
            extra = ", ".join(f"{k}={val}" for k, val in sorted(attrs.items()) if not k.startswith("com.docker"))
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when))
            out.write(f"{stamp} container {ev.get('Action', '')} {(ev.get('Actor') or {}).get('ID', '')} ({extra})\n")
        out.flush()
    return 0
