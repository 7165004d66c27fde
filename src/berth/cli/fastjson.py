"""JSON for the CLI's hot paths, straight from the C accelerator `_json`.

`import json` costs several milliseconds at start-up: it imports `re` (and with
it `enum`, `functools`, `collections`) and compiles regular expressions that
only its pure-Python fallbacks use. The C scanner and encoder behind json.loads
and json.dumps need none of that, so this module drives them directly. The
results are the same as json's (same C code, same options); on any input the
fast path does not take (a decoding error, a BOM or UTF-16/32 bytes, an
indented dump) it hands over to the `json` module itself, so error messages and
edge cases stay json's own.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _Context:
    """What json.scanner.make_scanner reads from a JSONDecoder (json's defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Context())


def _slow() -> Any:
    import json

    return json


def loads(data: str | bytes | bytearray) -> Any:
    """json.loads."""
    if not isinstance(data, str):
        # json.loads sniffs UTF-16/32 and a UTF-8 BOM; leave those to it.
        if not data or data[0] in (0, 0xEF, 0xFE, 0xFF) or (len(data) > 1 and data[1] == 0):
            return _slow().loads(data)
        try:
            data = data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return _slow().loads(data)
    start = len(data) - len(data.lstrip(_WS))
    try:
        value, end = _scan(data, start)
    except (StopIteration, ValueError):
        return _slow().loads(data)  # raises json's own JSONDecodeError
    if end != len(data) and data[end:].strip(_WS):
        return _slow().loads(data)
    return value


def raw_decode(text: str, idx: int = 0) -> tuple[Any, int]:
    """json.JSONDecoder().raw_decode: one value starting exactly at `idx`, and where it ended."""
    try:
        return _scan(text, idx)
    except StopIteration as exc:
        import json

        raise json.JSONDecodeError("Expecting value", text, exc.value) from None


def _default(obj: Any) -> Any:
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


def _encoder(ensure_ascii: bool, sort_keys: bool, separators: tuple[str, str]) -> Any:
    return _json.make_encoder(
        {}, _default, _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
        None, separators[1], separators[0], sort_keys, False, True,
    )


def dumps(obj: Any, *, ensure_ascii: bool = True, sort_keys: bool = False,
          separators: tuple[str, str] = (", ", ": "), indent: int | None = None) -> str:
    """json.dumps(obj, ensure_ascii=..., sort_keys=..., separators=..., indent=...)."""
    if indent is not None:
        return _slow().dumps(obj, ensure_ascii=ensure_ascii, sort_keys=sort_keys, indent=indent,
                             separators=separators if separators != (", ", ": ") else None)
    return "".join(_encoder(ensure_ascii, sort_keys, separators)(obj, 0))
