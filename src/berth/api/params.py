"""Query-string values the way docker's daemon reads them."""

from __future__ import annotations

from aiohttp import web

from berth.errors import InvalidParameter


def qbool(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    return value.lower() not in ("0", "false", "no", "off")


def qint(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {value!r}") from None


async def json_body(request: web.Request) -> dict:
    raw = await request.read()
    if not raw.strip():
        return {}
    content_type = request.headers.get("Content-Type", "")
    if content_type and content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidParameter(f"unsupported Content-Type header ({content_type}): must be 'application/json'")
    import json

    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise InvalidParameter(f"invalid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidParameter("invalid JSON: expected an object")
    return doc


def reply(data: object, status: int = 200) -> web.Response:
    """JSON with docker's exact Content-Type: clients compare it verbatim
    before they decode an error body."""
    import json

    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json"})
