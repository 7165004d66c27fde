"""`.env` files with compose-go's rules (learned from its parser and fixtures).

Keys are `[A-Za-z0-9_.-]` (plus `[`/`]`), optionally after `export`; `KEY=value` or the yaml-ish
`KEY: value`; a bare `KEY` is inherited from the environment (dropped when unset). Unquoted
values end at the line, lose a `#` comment and trailing blanks, and are interpolated.
Single quotes are literal (except `\\'`); double quotes expand `\\n`, `\\r`, escaped
characters and variables; both may span lines.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from ..errors import ComposeError
from .interpolate import InterpolationError, substitute

Lookup = Callable[[str], Optional[str]]
_SPACE = "\t\v\f\r \x85\xa0"
_ESCAPE = re.compile(r"\\.", re.S)


class DotenvError(ComposeError):
    pass


def _no_lookup(name: str) -> Optional[str]:
    return None


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def parse_dotenv(text: str, lookup: Lookup | None = None, source: str = "") -> dict[str, str]:
    """Parse `text`; `lookup` resolves inherited keys and variables the file does not define."""
    lookup = lookup or _no_lookup
    if text.startswith("\ufeff"):
        text = text[1:]
    out: dict[str, str] = {}

    def resolve(name: str) -> Optional[str]:
        value = lookup(name)
        if value is not None:
            return value
        return out.get(name)

    prefix = f"failed to read {source}: " if source else ""
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        if text[i] == "#":
            nl = text.find("\n", i)
            if nl < 0:
                break
            i = nl
            continue
        start = i
        if text.startswith("export", i) and i + 6 < n and text[i + 6] in _SPACE:
            i += 6
            while i < n and text[i] in _SPACE:
                i += 1
        key_start = i
        inherited = False
        while True:
            if i >= n:
                inherited = True
                key = text[key_start:i]
                break
            c = text[i]
            if c in "=:\n":
                key = text[key_start:i]
                inherited = c == "\n"
                i += 1
                break
            if c in _SPACE or c in "_.-[]" or c.isalnum():
                i += 1
                continue
            raise DotenvError(
                f"{prefix}line {_line_of(text, start)}: unexpected character {c!r} in variable name "
                f"{text[key_start:text.find(chr(10), key_start) if chr(10) in text[key_start:] else n]!r}")
        key = key.rstrip()
        if any(ch in _SPACE for ch in key):
            raise DotenvError(f"{prefix}line {_line_of(text, start)}: key cannot contain a space")
        if inherited:
            value = lookup(key)
            if value is not None:
                out[key] = value
            continue
        while i < n and text[i] in _SPACE:
            i += 1
        try:
            value, i = _value(text, i, resolve)
        except InterpolationError as exc:
            raise DotenvError(f"{prefix}line {_line_of(text, start)}: {exc.message}") from None
        except DotenvError as exc:
            raise DotenvError(f"{prefix}line {_line_of(text, start)}: {exc.message}") from None
        out[key] = value
    return out


def _value(text: str, i: int, resolve: Lookup) -> tuple[str, int]:
    n = len(text)
    if i < n and text[i] in "'\"":
        quote = text[i]
        j = i + 1
        while j < n:
            if text[j] == quote and text[j - 1] != "\\":
                break
            j += 1
        else:
            end = text.find("\n", i)
            raise DotenvError(f"unterminated quoted value {text[i:end if end >= 0 else n]}")
        raw = text[i + 1:j]
        rest = j + 1
        nl = text.find("\n", rest)  # anything after the closing quote on its line is ignored
        rest = n if nl < 0 else nl
        if quote == "'":
            return raw.replace("\\'", "'"), rest
        return substitute(_unescape(raw), resolve), rest
    end = text.find("\n", i)
    end = n if end < 0 else end
    raw = text[i:end]
    hash_at = _comment_start(raw)
    if hash_at >= 0:
        raw = raw[:hash_at]
    return substitute(raw.rstrip(), resolve), end


def _comment_start(raw: str) -> int:
    """An inline comment starts at a `#` that begins the value or follows a blank."""
    for k, c in enumerate(raw):
        if c == "#" and (k == 0 or raw[k - 1] in " \t"):
            return k
    return -1


def _unescape(raw: str) -> str:
    """Double-quote escapes: \\n and \\r are controls, \\$ stays a literal dollar, any
    other escaped character is itself."""

    def repl(m: re.Match) -> str:
        c = m.group(0)[1]
        return {"n": "\n", "r": "\r", "$": "$$"}.get(c, c)

    return _ESCAPE.sub(repl, raw)


def read_dotenv(path: str, lookup: Lookup | None = None) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except IsADirectoryError:
        raise DotenvError(f"failed to read {path}: is a directory") from None
    except FileNotFoundError:
        raise DotenvError(f"couldn't find env file: {path}") from None
    except OSError as exc:
        raise DotenvError(f"failed to read {path}: {exc.strerror}") from None
    return parse_dotenv(text, lookup, path)
