"""The daemon's event bus: what `docker events` streams.

A bounded history (the last `keep` events) serves `since`/`until`; live
subscribers each get a bounded queue, and one that falls that far behind is
cut off (its stream ends) rather than letting the daemon's memory grow.
`EventFilter` is docker's event filter: every key given must match, values of
one key are alternatives.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from berth.errors import InvalidParameter

SUBSCRIBER_BACKLOG = 10_000

# docker's acceptedEventFilters
EVENT_FILTERS = ("config", "container", "daemon", "event", "image", "label", "network", "node",
                 "plugin", "scope", "secret", "service", "type", "volume")
# Keys matched against the actor's ID or its name attribute, by prefix (docker's fuzzy match).
_NAMED_FILTERS = ("container", "plugin", "volume", "network", "node", "service", "secret", "config")
# Actions that carry a suffix ("exec_create: sh -c ...") and match their bare name.
_SUFFIXED_ACTIONS = ("health_status", "exec_create", "exec_start")


@dataclass
class Event:
    type: str
    action: str
    actor_id: str
    attributes: dict = field(default_factory=dict)
    time_ns: int = field(default_factory=time.time_ns)
    scope: str = "local"

    def to_api(self) -> dict:
        doc: dict = {}
        # the deprecated fields docker still fills for container and image events
        if self.type in ("container", "image"):
            doc["status"] = self.action
            doc["id"] = self.actor_id
            if self.type == "container":
                doc["from"] = self.attributes.get("image", "")
        doc.update({
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": self.attributes},
            "scope": self.scope,
            "time": self.time_ns // 1_000_000_000,
            "timeNano": self.time_ns,
        })
        return doc


class Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.overflowed = False

    def put(self, event: Event) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= SUBSCRIBER_BACKLOG:
            self.overflowed = True
            self.queue.put_nowait(None)  # ends the stream: the reader is too slow
            return
        self.queue.put_nowait(event)

    async def get(self) -> Event | None:
        return await self.queue.get()


class EventBus:
    def __init__(self, keep: int = 1024) -> None:
        self.recent: deque[Event] = deque(maxlen=keep)
        self.subscribers: set[Subscription] = set()

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict | None = None) -> None:
        event = Event(type_, action, actor_id, {k: str(v) for k, v in (attributes or {}).items()})
        if self.recent and event.time_ns <= self.recent[-1].time_ns:
            event.time_ns = self.recent[-1].time_ns + 1  # keep the history strictly ordered
        self.recent.append(event)
        for sub in self.subscribers:
            sub.put(event)

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    def history(self, since_ns: int | None, until_ns: int | None) -> list[Event]:
        """Past events in [since, until] (either bound optional), oldest first."""
        out = []
        for ev in reversed(self.recent):
            if since_ns is not None and ev.time_ns < since_ns:
                break
            if until_ns is not None and ev.time_ns > until_ns:
                continue
            out.append(ev)
        out.reverse()
        return out


def parse_event_time(value: str) -> int | None:
    """docker's timetypes.ParseTimestamps for since/until: "seconds[.nanoseconds]"
    (what clients send; the CLI turns durations and dates into it). None if empty."""
    if value == "":
        return None
    secs, dot, frac = value.partition(".")
    try:
        seconds = int(secs)
    except ValueError:
        raise InvalidParameter(f'strconv.ParseInt: parsing "{secs}": invalid syntax') from None
    nanos = 0
    if dot:
        try:
            nanos = int((frac + "000000000")[:9])
        except ValueError:
            raise InvalidParameter(f'strconv.ParseInt: parsing "{frac}": invalid syntax') from None
    return seconds * 1_000_000_000 + nanos


class EventFilter:
    """docker's events.Filter over {"key": ["value", ...]} filters."""

    def __init__(self, filters: dict[str, list[str]]) -> None:
        for key in filters:
            if key not in EVENT_FILTERS:
                raise InvalidParameter(f"invalid filter '{key}'")
        self.f = {k: set(v) for k, v in filters.items() if v}
        self._stripped: dict[str, str] = {}

    def matches(self, ev: Event) -> bool:
        f = self.f
        if not f:
            return True
        if "type" in f and ev.type not in f["type"]:
            return False
        if "event" in f and not self._match_event(ev.action):
            return False
        if "scope" in f and ev.scope not in f["scope"]:
            return False
        attrs = ev.attributes
        for key in _NAMED_FILTERS:
            if key in f and not (_fuzzy(f[key], ev.actor_id) or _fuzzy(f[key], attrs.get("name", ""))):
                return False
        if "daemon" in f and not (_fuzzy(f["daemon"], ev.actor_id) or _fuzzy(f["daemon"], attrs.get("name", ""))):
            return False
        if "image" in f and not self._match_image(ev):
            return False
        if "label" in f and not _match_labels(f["label"], attrs):
            return False
        return True

    def _match_event(self, action: str) -> bool:
        wanted = self.f["event"]
        if action in wanted:
            return True
        if any(w in _SUFFIXED_ACTIONS for w in wanted):
            return any(action.startswith(w) for w in wanted)  # docker then matches by prefix
        return False

    def _match_image(self, ev: Event) -> bool:
        """The actor's ID, or its image (container events) / name (image events),
        as given or without its tag, in familiar form."""
        wanted = self.f["image"]
        name = ev.attributes.get("name" if ev.type == "image" else "image", "")
        for value in (ev.actor_id, name):
            if value in wanted or self._strip_tag(value) in wanted:
                return True
        return False

    def _strip_tag(self, image: str) -> str:
        out = self._stripped.get(image)
        if out is None:
            from berth.errors import BerthError
            from berth.images.reference import parse

            try:
                out = parse(image, default_tag=False).familiar_name
            except BerthError:
                out = image
            self._stripped[image] = out
        return out


def _fuzzy(wanted: set[str], value: str) -> bool:
    return value in wanted or any(value.startswith(w) for w in wanted)


def _match_labels(wanted: set[str], attrs: dict) -> bool:
    """Every label filter must hold: `key` present, or `key=value` equal."""
    for item in wanted:
        key, has_value, value = item.partition("=")
        if key not in attrs:
            return False
        if has_value and attrs[key] != value:
            return False
    return True
