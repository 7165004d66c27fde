"""Compose's `${VAR}` interpolation (compose-go's template rules, written from its behaviour).

`$$` is a literal `$`; `$NAME`/`${NAME}`; `${NAME:-d}` (unset or empty → d), `${NAME-d}`
(unset → d), `${NAME:?err}`/`${NAME?err}` (error), `${NAME:+x}`/`${NAME+x}` (x when set);
defaults and alternatives are interpolated themselves, so they nest.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..errors import ComposeError

Lookup = Callable[[str], Optional[str]]


class InterpolationError(ComposeError):
    pass


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or c.isdigit() and c.isascii()


def _closing_brace(text: str, start: int) -> int:
    """Index of the `}` closing the `${` whose body starts at `start`, or -1."""
    depth = 1
    i = start
    while i < len(text):
        c = text[i]
        if c == "$" and i + 1 < len(text) and text[i + 1] == "$":
            i += 2
            continue
        if c == "$" and i + 1 < len(text) and text[i + 1] == "{":
            depth += 1
            i += 2
            continue
        if c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def substitute(text: str, lookup: Lookup, warnings: list[str] | None = None) -> str:
    """Interpolate `text`; raise InterpolationError on `?` errors and broken templates."""
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise InterpolationError(f'Invalid template: "{text}"')
            out.append(_braced(text[i + 2:end], text, lookup, warnings))
            i = end + 1
            continue
        if _is_name_start(nxt):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            name = text[i + 1:j]
            out.append(_value(name, lookup, warnings))
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _value(name: str, lookup: Lookup, warnings: list[str] | None) -> str:
    value = lookup(name)
    if value is None:
        if warnings is not None:
            msg = f'The "{name}" variable is not set. Defaulting to a blank string.'
            if msg not in warnings:
                warnings.append(msg)
        return ""
    return value


def _braced(body: str, whole: str, lookup: Lookup, warnings: list[str] | None) -> str:
    j = 0
    if not body or not _is_name_start(body[0]):
        raise InterpolationError(f'Invalid template: "{whole}"')
    while j < len(body) and _is_name_char(body[j]):
        j += 1
    name, rest = body[:j], body[j:]
    if not rest:
        return _value(name, lookup, warnings)
    colon = rest.startswith(":")
    op_text = rest[1:] if colon else rest
    if not op_text or op_text[0] not in "-?+":
        raise InterpolationError(f'Invalid template: "{whole}"')
    op, arg = op_text[0], op_text[1:]
    value = lookup(name)
    is_set = value is not None and (value != "" or not colon)
    if op == "-":
        return value if is_set else substitute(arg, lookup, warnings)  # type: ignore[return-value]
    if op == "+":
        return substitute(arg, lookup, warnings) if is_set else ""
    if is_set:
        return value  # type: ignore[return-value]
    message = substitute(arg, lookup, warnings)
    if message:
        raise InterpolationError(f"required variable {name} is missing a value: {message}")
    raise InterpolationError(f"required variable {name} is missing a value")


def interpolate_tree(node: Any, lookup: Lookup, path: str = "", warnings: list[str] | None = None) -> Any:
    """Interpolate every string value (not keys) of a parsed YAML tree."""
    if isinstance(node, str):
        try:
            return substitute(node, lookup, warnings)
        except InterpolationError as exc:
            where = path or "value"
            raise InterpolationError(f"error while interpolating {where}: {exc.message}") from None
    if isinstance(node, dict):
        return {k: interpolate_tree(v, lookup, f"{path}.{k}" if path else str(k), warnings)
                for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, lookup, f"{path}.[]", warnings) for v in node]
    from .yamlfile import Override

    if isinstance(node, Override):
        return Override(interpolate_tree(node.value, lookup, path, warnings))
    return node
