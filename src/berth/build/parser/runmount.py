"""`RUN --mount=...` values, as buildkit's instructions package reads them.

A value is one CSV record of `key=value` fields (`type=cache,target=/root/.cache`).
buildkit reads it twice: when the Dockerfile is parsed (no variables yet:
only the CSV syntax, bare keys and `from=` are checked, and `from` may not
hold a variable), and when the step runs, with the stage's variables
expanded in every value. `parse_mount(value)` is the first pass,
`parse_mount(value, expand)` the second; both raise ValueError with
buildkit's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RunMount", "parse_mount", "MOUNT_TYPES"]

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING = ("shared", "private", "locked")
_ALL_KEYS = ["type", "from", "source", "target", "readonly", "id", "sharing", "required",
             "mode", "uid", "gid", "src", "dst", "ro", "rw", "readwrite"]
_VARIABLE = re.compile(r"\$.")


@dataclass
class RunMount:
    type: str = "bind"
    from_: str = ""
    source: str = ""
    target: str = ""
    readonly: bool = False
    cache_id: str = ""
    sharing: str = ""
    required: bool = False
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def _csv_record(value: str) -> list[str]:
    """One record of Go's encoding/csv (comma-separated, RFC 4180 quotes,
    no lazy quotes), with its error texts."""
    if value == "":
        raise ValueError("failed to parse csv mounts: EOF")
    data = value.split("\n", 1)[0].rstrip("\r")
    raw = data.encode("utf-8", "surrogateescape")
    fields: list[str] = []
    i, n = 0, len(raw)
    while True:
        if i < n and raw[i:i + 1] == b'"':
            # quoted field
            j = i + 1
            buf = bytearray()
            while True:
                k = raw.find(b'"', j)
                if k < 0:
                    raise ValueError(
                        f'failed to parse csv mounts: parse error on line 1, column {n + 1}: '
                        'extraneous or missing " in quoted-field')
                buf += raw[j:k]
                if raw[k + 1:k + 2] == b'"':
                    buf += b'"'
                    j = k + 2
                    continue
                j = k + 1
                break
            fields.append(buf.decode("utf-8", "surrogateescape"))
            if j >= n:
                return fields
            if raw[j:j + 1] != b",":
                raise ValueError(
                    f"failed to parse csv mounts: parse error on line 1, column {j + 1}: "
                    'extraneous or missing " in quoted-field')
            i = j + 1
            continue
        k = raw.find(b",", i)
        end = n if k < 0 else k
        field = raw[i:end]
        q = field.find(b'"')
        if q >= 0:
            raise ValueError(
                f"failed to parse csv mounts: parse error on line 1, column {i + q + 1}: "
                'bare " in non-quoted-field')
        fields.append(field.decode("utf-8", "surrogateescape"))
        if k < 0:
            return fields
        i = k + 1


def _parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def _suggest(err: str, value: str, options: list[str]) -> str:
    from berth.build.parser.checks import _levenshtein

    best, dist = "", 3
    for opt in options:
        if opt == value:
            return err
        d = _levenshtein(value, opt)
        if d < dist:
            best, dist = opt, d
    return f"{err} (did you mean {best}?)" if best else err


_DIGITS = {8: re.compile(r"[0-7]+\Z"), 10: re.compile(r"[0-9]+\Z")}


def _uint(text: str, base: int, what: str) -> int:
    """Go's strconv.ParseUint(text, base, 32)."""
    if not _DIGITS[base].match(text) or int(text, base) >= 2**32:
        raise ValueError(f"invalid value {text} for {what}")
    return int(text, base)


def parse_mount(value: str, expand: Callable[[str], str] | None = None) -> RunMount:
    m = RunMount()
    ro_auto = True
    for field in _csv_record(value):
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                m.readonly, ro_auto = True, False
                continue
            if key in ("readwrite", "rw"):
                m.readonly, ro_auto = False, False
                continue
            if key == "required":
                if m.type in ("secret", "ssh"):
                    m.required = True
                    continue
                raise ValueError(f"unexpected key '{key}' for mount type '{m.type}'")
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        if expand is not None:
            val = expand(val)
        elif key == "from":
            if _VARIABLE.search(val):
                raise ValueError(
                    f"'{key}' doesn't support variable expansion, define alias stage instead")
        else:
            continue  # checked when the step runs, with variables expanded
        if key == "type":
            if val.lower() not in MOUNT_TYPES:
                raise ValueError(_suggest(f'unsupported mount type "{val}"', val, list(MOUNT_TYPES)))
            m.type = val.lower()
        elif key == "from":
            m.from_ = val
        elif key in ("source", "src"):
            m.source = val
        elif key in ("target", "dst", "destination"):
            m.target = val
        elif key in ("readonly", "ro", "readwrite", "rw"):
            b = _parse_bool(val)
            if b is None:
                raise ValueError(f"invalid value for {key}: {val}")
            m.readonly = b if key in ("readonly", "ro") else not b
            ro_auto = False
        elif key == "required":
            if m.type not in ("secret", "ssh"):
                raise ValueError(f"unexpected key '{key}' for mount type '{m.type}'")
            b = _parse_bool(val)
            if b is None:
                raise ValueError(f"invalid value for {key}: {val}")
            m.required = b
        elif key == "id":
            m.cache_id = val
        elif key == "sharing":
            if val.lower() not in _SHARING:
                raise ValueError(f'unsupported sharing value "{val}"')
            m.sharing = val.lower()
        elif key == "mode":
            m.mode = _uint(val, 8, "mode")
        elif key == "uid":
            m.uid = _uint(val, 10, "uid")
        elif key == "gid":
            m.gid = _uint(val, 10, "gid")
        else:
            raise ValueError(_suggest(f"unexpected key '{key}' in '{field}'", key, _ALL_KEYS))
    file_info = m.type in ("secret", "ssh", "cache")
    for name in ("mode", "uid", "gid"):
        if getattr(m, name) is not None and not file_info:
            raise ValueError(f'{name} not allowed for "{m.type}" type mounts')
    if ro_auto:
        m.readonly = m.type not in ("cache", "tmpfs")
    if m.sharing and m.type != "cache":
        raise ValueError(f"invalid cache sharing set for {m.type} mount")
    if m.type == "secret":
        if m.from_:
            raise ValueError("secret mount should not have a from")
        if m.sharing:
            raise ValueError("secret mount should not define sharing")
        if not m.source and not m.target and not m.cache_id:
            raise ValueError("invalid secret mount. one of source, target required")
        if m.source and m.cache_id:
            raise ValueError("both source and id can't be set")
    return m
