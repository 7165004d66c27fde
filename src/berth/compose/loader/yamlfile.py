"""YAML parsing with compose's typing rules and tags.

compose-go reads YAML with YAML 1.2 rules: `22:22` and `yes` stay strings and only
`true`/`false` are booleans. PyYAML implements 1.1, so the implicit resolvers are
replaced by 1.2-style ones on a CSafeLoader subclass (the C scanner keeps it fast).
`!reset` and `!override` become marker objects the merge step understands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import ComposeError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Reset:
    """`!reset`: the key is removed from what it is merged onto."""

    def __repr__(self) -> str:
        return "!reset"


@dataclass
class Override:
    """`!override value`: the value replaces what it is merged onto instead of merging."""

    value: Any


class ComposeYAMLLoader(_Base):  # type: ignore[misc,valid-type]
    pass


ComposeYAMLLoader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    ("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")),
    ("tag:yaml.org,2002:float", re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
     list("-+0123456789.")),
    ("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"]),
]
for _tag, _rx, _first in _RESOLVERS:
    ComposeYAMLLoader.add_implicit_resolver(_tag, _rx, _first)


def _int(loader: Any, node: Any) -> Any:
    """Integers as go-yaml reads them (strconv.ParseInt with base 0): `0o17`, `0x1f`, and a
    leading zero is octal too, so `mode: 0440` means what compose files mean by it."""
    text = loader.construct_scalar(node).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.startswith("0o"):
        return sign * int(body[2:], 8)
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    if len(body) > 1 and body.startswith("0"):
        try:
            return sign * int(body, 8)
        except ValueError:
            return text  # `09` is no number in Go either: it stays a string
    return int(text)


def _reset(loader: Any, node: Any) -> Reset:
    return Reset()


def _override(loader: Any, node: Any) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


def _mapping(loader: Any, node: Any) -> dict:
    """Mappings that refuse duplicate keys (compose does; PyYAML would keep the last)."""
    explicit: set = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in explicit:
                raise yaml.constructor.ConstructorError(
                    None, None, f"mapping key {key_node.value!r} already defined", key_node.start_mark)
            explicit.add(key_node.value)
    loader.flatten_mapping(node)  # merged keys first, explicit ones after: the explicit win
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (list, dict)) or key is None:
            raise yaml.constructor.ConstructorError(None, None, "invalid map key", key_node.start_mark)
        if isinstance(key, bool):  # keys are strings in compose's model, as Go decodes them
            key = "true" if key else "false"
        elif isinstance(key, (int, float)):
            key = str(key)
        elif not isinstance(key, str):
            raise yaml.constructor.ConstructorError(None, None, "invalid map key", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
    return out


ComposeYAMLLoader.add_constructor("tag:yaml.org,2002:map", _mapping)
ComposeYAMLLoader.add_constructor("tag:yaml.org,2002:int", _int)
ComposeYAMLLoader.add_constructor("!reset", _reset)
ComposeYAMLLoader.add_constructor("!override", _override)


def parse_yaml(text: str, source: str) -> Any:
    """Parse one compose document; errors name the file, line and column (1-based)."""
    try:
        docs = list(yaml.load_all(text, Loader=ComposeYAMLLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ComposeError(f"parsing {source}: yaml: {where}{problem}") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"parsing {source}: yaml: {exc}") from None
    docs = [d for d in docs if d is not None]
    if not docs:
        return {}
    if len(docs) > 1:
        merged: dict = {}
        from .merge import merge_dicts

        for d in docs:
            merged = merge_dicts(merged, d) if isinstance(d, dict) else d
        return merged
    return docs[0]
