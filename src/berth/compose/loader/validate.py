"""Validation of one compose document against the compose specification's JSON schema.

Messages follow docker compose v2: `validating FILE: services.web Additional property foo
is not allowed`, with the path of the offending key spelled with dots.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from ..errors import ComposeError

# The compose specification's schema ships with the package (a copy of
# ../shared/specs/compose/compose-spec.json); BERTH_COMPOSE_SCHEMA points at another one.
SCHEMA_PATHS = (
    os.environ.get("BERTH_COMPOSE_SCHEMA", ""),
    os.path.join(os.path.dirname(__file__), "compose-spec.json"),
)

_TYPE_NAMES = {"object": "a mapping", "array": "an array", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "a boolean", "null": "null"}


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    for path in SCHEMA_PATHS:
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                schema = json.load(fh)
            return jsonschema.Draft7Validator(schema)
    raise ComposeError("compose schema not found (compose-spec.json)")


def _path(parts: Any) -> str:
    return ".".join(str(p) for p in parts)


def _type_text(types: Any) -> str:
    if isinstance(types, str):
        types = [types]
    return " or ".join(_TYPE_NAMES.get(t, t) for t in types)


def _deepest(error: Any) -> Any:
    """For oneOf/anyOf failures, the sub-error that went deepest into the document
    (the alternative the author most likely meant)."""
    while error.context:
        candidates = sorted(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"),
                            reverse=True)
        best = candidates[0]
        if len(best.absolute_path) <= len(error.absolute_path) and best.validator == "type":
            # every alternative failed on the type of this very value: say so once
            types: list[str] = []
            for e in error.context:
                if e.validator == "type" and len(e.absolute_path) == len(error.absolute_path):
                    t = e.validator_value
                    types.extend([t] if isinstance(t, str) else t)
            return ("type", error, sorted(set(types), key=types.index))
        error = best
    return ("plain", error, None)


def describe(error: Any) -> str:
    kind, err, types = _deepest(error)
    where = _path(err.absolute_path)
    if kind == "type":
        msg = f"must be {_type_text(types)}"
    elif err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        patterns = err.schema.get("patternProperties", {})
        import re

        extra = [k for k in extra if not any(re.search(p, str(k)) for p in patterns)]
        if len(extra) == 1:
            msg = f"Additional property {extra[0]} is not allowed"
        else:
            msg = f"Additional properties {', '.join(map(str, extra))} are not allowed"
    elif err.validator == "type":
        msg = f"must be {_type_text(err.validator_value)}"
    elif err.validator == "enum":
        msg = "must be one of the following: " + ", ".join(f'"{v}"' for v in err.validator_value)
    elif err.validator == "required":
        msg = err.message.replace("'", "")
    elif err.validator == "pattern":
        msg = f"does not match pattern {err.validator_value!r}: {err.instance!r}"
    elif err.validator in ("minimum", "maximum", "minItems", "maxItems", "uniqueItems", "minLength"):
        msg = err.message
    else:
        msg = err.message
    return f"{where} {msg}" if where else msg


def _cache_path(doc: Any) -> str | None:
    """Documents that passed once are remembered by content hash: the next `up` of an
    unchanged file skips jsonschema entirely (its import and first run cost ~100 ms)."""
    import hashlib

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    schema = next((p for p in SCHEMA_PATHS if p and os.path.exists(p)), "")
    try:
        text = json.dumps(doc, sort_keys=True, default=repr)
        stamp = f"{schema}:{os.stat(schema).st_mtime_ns}" if schema else ""
    except (TypeError, ValueError, OSError):
        return None
    key = hashlib.sha256((stamp + "\0" + text).encode()).hexdigest()
    return os.path.join(base, "berth", "compose-valid", key[:2], key[2:])


def validate_document(doc: Any, source: str) -> None:
    if not isinstance(doc, dict):
        raise ComposeError(f"validating {source}: Top-level object must be a mapping")
    cached = _cache_path(doc)
    if cached and os.path.exists(cached):
        return
    errors = list(_validator().iter_errors(doc))
    if not errors:
        if cached:
            try:
                os.makedirs(os.path.dirname(cached), exist_ok=True)
                with open(cached, "w"):
                    pass
            except OSError:
                pass
        return
    errors.sort(key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    raise ComposeError(f"validating {source}: {describe(errors[0])}")
