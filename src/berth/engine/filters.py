"""docker's `--filter key=value` semantics for containers."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from berth.errors import InvalidParameter
from berth.timefmt import parse_rfc3339

if TYPE_CHECKING:
    from berth.engine.containers import ContainerService
    from berth.engine.model import Container

def name_matches(pattern: str, name: str) -> bool:
    """docker's filters.Match: the value is a regular expression searched in the name
    (an invalid one matches nothing)."""
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


CONTAINER_FILTERS = {"id", "name", "label", "status", "ancestor", "exited", "before", "since",
                     "health", "isolation", "network", "publish", "expose", "volume", "is-task"}
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def parse_filters(raw: str | None) -> dict[str, list[str]]:
    """The `filters` query parameter: {"key": ["v"]} or the old {"key": {"v": true}}."""
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidParameter(f"invalid filter: {raw}") from None
    if not isinstance(doc, dict):
        raise InvalidParameter(f"invalid filter: {raw}")
    out: dict[str, list[str]] = {}
    for key, values in doc.items():
        if isinstance(values, dict):
            out[key] = [v for v, on in values.items() if on]
        elif isinstance(values, list):
            out[key] = [str(v) for v in values]
        else:
            out[key] = [str(values)]
    return out


def label_matches(labels: dict, wanted: list[str]) -> bool:
    for item in wanted:
        key, has_value, value = item.partition("=")
        if key not in labels:
            return False
        if has_value and labels[key] != value:
            return False
    return True


def prune_filters_ok(filters: dict[str, list[str]]) -> None:
    for key in filters:
        if key not in ("label", "label!", "until"):
            raise InvalidParameter(f"invalid filter '{key}'")


def _until_ok(created_iso: str, values: list[str]) -> bool:
    created = parse_rfc3339(created_iso)
    for v in values:
        limit = _time_value(v)
        if created >= limit:
            return False
    return True


def _time_value(v: str) -> float:
    import time

    try:
        return float(v)
    except ValueError:
        pass
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", v)
    if m:
        mult = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        return time.time() - float(m.group(1)) * mult
    try:
        return parse_rfc3339(v if "T" in v else v + "T00:00:00Z")
    except ValueError:
        raise InvalidParameter(f"invalid time value: {v}") from None


def check_container_filters(filters: dict[str, list[str]], svc: "ContainerService") -> None:
    """Refuse a bad filter before listing, as docker does (even with nothing to list)."""
    for key, values in filters.items():
        if key not in CONTAINER_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
        for v in values:
            if key == "status" and v not in STATUSES:
                raise InvalidParameter(f"invalid filter 'status={v}'")
            if key == "exited":
                try:
                    int(v)
                except ValueError:
                    raise InvalidParameter(f"invalid filter 'exited={v}'") from None
            if key in ("before", "since"):
                svc.get(v)


def container_matches(c: "Container", filters: dict[str, list[str]], svc: "ContainerService",
                      prune: bool = False) -> bool:
    if prune:
        if "label" in filters and not label_matches(c.config.get("Labels") or {}, filters["label"]):
            return False
        if "label!" in filters and label_matches(c.config.get("Labels") or {}, filters["label!"]):
            return False
        return "until" not in filters or _until_ok(c.doc["Created"], filters["until"])
    for key, values in filters.items():
        if key not in CONTAINER_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
        if not values:
            continue
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(re.search(v, c.name) or re.search(v, c.name.lstrip("/")) for v in values):
            return False
        if key == "label" and not label_matches(c.config.get("Labels") or {}, values):
            return False
        if key == "status":
            for v in values:
                if v not in STATUSES:
                    raise InvalidParameter(f"invalid filter 'status={v}'")
            if c.state.get("Status") not in values:
                return False
        if key == "exited":
            if c.running or c.state.get("Status") != "exited":
                return False
            try:
                codes = {int(v) for v in values}
            except ValueError:
                raise InvalidParameter(f"invalid filter 'exited={values[0]}'") from None
            if int(c.state.get("ExitCode", 0)) not in codes:
                return False
        if key == "ancestor" and not _ancestor_matches(c, values, svc):
            return False
        if key in ("network", "publish", "expose"):
            from berth.network.docs import container_filter_matches  # network/docs.py

            if not container_filter_matches(c.doc, key, values):
                return False
        if key == "volume":
            from berth.engine.mounts import volume_filter_matches  # engine/mounts.py

            if not volume_filter_matches(c.doc, values):
                return False
        if key in ("before", "since"):
            other = svc.get(values[0])
            if key == "before" and not c.doc["Created"] < other.doc["Created"]:
                return False
            if key == "since" and not c.doc["Created"] > other.doc["Created"]:
                return False
    return True


def _ancestor_matches(c: "Container", values: list[str], svc: "ContainerService") -> bool:
    for v in values:
        image = svc.images.lookup(v)
        if image is not None and image.id == c.doc["Image"]:
            return True
        if c.config.get("Image") == v:
            return True
    return False
