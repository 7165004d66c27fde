"""`events` (`system events`): the daemon's event stream, as docker prints it.

Default lines are docker's: local time with nanoseconds, type, action, actor
id and the attributes sorted by key:

    2026-11-28T08:00:00.123456789Z container create 3f0c... (image=busybox, name=x)

`--format json` is `{{json .}}`; other formats are Go templates over docker's
events.Message (fields Status, ID, From, Type, Action, Actor.ID,
Actor.Attributes, Scope, Time, TimeNano), checked once over an empty message
before anything is requested, as docker does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .command import FORMAT_USAGE_NO_TABLE, Cli, CliError, Command, StatusError, filter_flag, filters_query
from .flags import FlagSet, Values
from .units import UnitError, get_timestamp

from typing import Any


def _flags(fs: FlagSet) -> None:
    filter_flag(fs)
    fs.string("format", "", FORMAT_USAGE_NO_TABLE)
    fs.string("since", "", "Show all events created since timestamp")
    fs.string("until", "", "Stream events until this timestamp")


def fixed_time(ns: int) -> str:
    """Go's time.Unix(0, ns).Format("2006-01-02T15:04:05.000000000Z07:00"), local time."""
    secs, nanos = divmod(ns, 1_000_000_000)
    t = time.localtime(secs)
    off = t.tm_gmtoff or 0
    if off == 0:
        zone = "Z"
    else:
        sign = "+" if off > 0 else "-"
        off = abs(off)
        zone = f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{nanos:09d}" + zone


def pretty(ev: dict[str, Any]) -> str:
    actor = ev.get("Actor") or {}
    parts = []
    if ev.get("timeNano"):
        parts.append(fixed_time(int(ev["timeNano"])) + " ")
    elif ev.get("time"):
        parts.append(fixed_time(int(ev["time"]) * 1_000_000_000) + " ")
    parts.append(f"{ev.get('Type', '')} {ev.get('Action', '')} {actor.get('ID', '')}")
    attrs = actor.get("Attributes") or {}
    if attrs:
        parts.append(" (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")")
    return "".join(parts) + "\n"


@dataclass
class EventActor:
    __gotype__ = "events.Actor"
    ID: str = ""
    Attributes: Any = field(default_factory=dict)  # a Go nil map reads like an empty one


@dataclass
class EventMessage:
    """docker's events.Message as template data: Go field names, its json tags."""

    __gotype__ = "*events.Message"
    Status: str = field(default="", metadata={"json": "status,omitempty"})
    ID: str = field(default="", metadata={"json": "id,omitempty"})
    From: str = field(default="", metadata={"json": "from,omitempty"})
    Type: str = ""
    Action: str = ""
    Actor: Any = field(default_factory=EventActor)
    Scope: str = field(default="", metadata={"json": "scope,omitempty"})
    Time: int = field(default=0, metadata={"json": "time,omitempty"})
    TimeNano: int = field(default=0, metadata={"json": "timeNano,omitempty"})

    @classmethod
    def from_api(cls, ev: dict[str, Any]) -> EventMessage:
        a = ev.get("Actor") or {}
        return cls(Status=ev.get("status", ""), ID=ev.get("id", ""), From=ev.get("from", ""),
                   Type=ev.get("Type", ""), Action=ev.get("Action", ""),
                   Actor=EventActor(ID=a.get("ID", ""), Attributes=a.get("Attributes") or {}),
                   Scope=ev.get("scope", ""), Time=int(ev.get("time") or 0),
                   TimeNano=int(ev.get("timeNano") or 0))


def _template(fmt: str) -> Any:
    """Parsed, and run once over an empty message (docker's check for bad fields)."""
    from berth.gotemplate import ExecError, TemplateError

    from .formatter import parse

    if fmt == "json":
        fmt = "{{json .}}"
    try:
        tmpl = parse(fmt)
        tmpl.execute(EventMessage())
    except (TemplateError, ExecError) as exc:
        raise StatusError(64, f"Error parsing format: {exc}") from None
    return tmpl


def _events(cli: Cli, v: Values, args: list[str]) -> int:
    render = None
    if v.format:
        tmpl = _template(v.format)

        def render(ev: dict[str, Any]) -> str:
            from berth.gotemplate import ExecError

            try:
                return tmpl.execute(EventMessage.from_api(ev)) + "\n"
            except ExecError as exc:
                raise CliError(str(exc)) from None

    params: dict[str, Any] = {}
    try:
        if v.since:
            params["since"] = get_timestamp(v.since)
        if v.until:
            params["until"] = get_timestamp(v.until)
    except UnitError as exc:
        raise CliError(str(exc)) from None
    filters = filters_query(list(v.filter))
    if filters:
        params["filters"] = filters
    client = cli.client()
    resp = client.request("GET", "/events", params)
    from . import fastjson as json
    from .formatter import write

    out = cli.out
    buf = b""
    try:
        for chunk in resp.iter_raw():
            buf += chunk
            if b"\n" not in buf:
                continue
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                ev = json.loads(line)
                write(out, render(ev) if render is not None else pretty(ev))
            out.flush()
    except KeyboardInterrupt:
        return 130
    finally:
        resp.close()
    return 0


def events_command() -> Command:
    return Command("events", "[OPTIONS]", "Get real time events from the server", _events, _flags, ("none",),
                   aliases="system events, events")
