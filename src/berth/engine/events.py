"""The daemon's event bus: what `docker events` streams."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Event:
    type: str
    action: str
    actor_id: str
    attributes: dict = field(default_factory=dict)
    time_ns: int = field(default_factory=time.time_ns)

    def to_api(self) -> dict:
        secs = self.time_ns // 1_000_000_000
        doc = {
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": self.attributes},
            "scope": "local",
            "time": secs,
            "timeNano": self.time_ns,
        }
        if self.type == "container":
            doc["status"] = self.action
            doc["id"] = self.actor_id
            doc["from"] = self.attributes.get("image", "")
        return doc


class EventBus:
    def __init__(self, keep: int = 1024) -> None:
        self.recent: deque[Event] = deque(maxlen=keep)
        self.subscribers: set[asyncio.Queue[Event]] = set()

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict | None = None) -> None:
        event = Event(type_, action, actor_id, dict(attributes or {}))
        self.recent.append(event)
        for q in self.subscribers:
            q.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue()
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event]) -> None:
        self.subscribers.discard(q)
