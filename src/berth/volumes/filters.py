"""docker's volume filters for `volume ls` and `volume prune`."""

from __future__ import annotations

from berth.engine.filters import name_matches
from berth.errors import InvalidParameter
from berth.volumes.store import Volume

LIST_FILTERS = ("dangling", "name", "label", "driver")
PRUNE_FILTERS = ("label", "label!", "all")
_TRUE = ("true", "1")
_FALSE = ("false", "0")


def _invalid(key: str, values: list[str] | None = None) -> InvalidParameter:
    suffix = "" if values is None else "=[" + " ".join(values) + "]"
    return InvalidParameter(f"invalid filter '{key}{suffix}'")


def check_list_filters(filters: dict[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in LIST_FILTERS:
            raise _invalid(key)
        if key == "dangling" and any(v.lower() not in _TRUE + _FALSE for v in values):
            raise _invalid(key, values)


def check_prune_filters(filters: dict[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in PRUNE_FILTERS:
            raise _invalid(key)
        if key == "all" and any(v.lower() not in _TRUE + _FALSE for v in values):
            raise _invalid(key, values)


def _label_match(labels: dict, spec: str) -> bool:
    key, sep, value = spec.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


def volume_matches(vol: Volume, filters: dict[str, list[str]], refs: int, prune: bool = False) -> bool:
    labels = vol.labels or {}
    for spec in filters.get("label", []):
        if not _label_match(labels, spec):
            return False
    if any(_label_match(labels, spec) for spec in filters.get("label!", [])):
        return False
    if prune:
        return True
    if "name" in filters and not any(name_matches(v, vol.name) for v in filters["name"]):
        return False
    if "driver" in filters and vol.driver not in filters["driver"]:
        return False
    if "dangling" in filters:
        want = {v.lower() in _TRUE for v in filters["dangling"]}
        if (refs == 0) not in want:
            return False
    return True
