"""JSON in and out: responses (plain, pre-encoded, problem+json) and strict body parsing."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from marshmallow import Schema, ValidationError

from server.errors import BadRequest, UnsupportedMediaType, ValidationFailed
from server.formats import dumps, iso  # noqa: F401 - re-exported for handlers

JSON = "application/json"
PROBLEM = "application/problem+json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type=JSON, headers=headers)


def raw_json(doc: str | bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A body that already is JSON text (built by MariaDB), sent without re-encoding."""
    return web.Response(body=doc.encode() if isinstance(doc, str) else doc, status=status, content_type=JSON,
                        headers=headers)


def raw_page(docs: list[str | bytes], next_cursor: str | None) -> web.Response:
    """{"items": [...], "next_cursor": ...} spliced from JSON texts, without parsing them."""
    items = b",".join(d.encode() if isinstance(d, str) else d for d in docs)
    return web.Response(body=b'{"items":[' + items + b'],"next_cursor":' + dumps(next_cursor) + b"}",
                        content_type=JSON)


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(body), status=body["status"], content_type=PROBLEM, headers=headers)


async def read_json(request: web.Request) -> Any:
    """The parsed body: 415 if it is not JSON, 400 if it does not parse, 413 if too large."""
    if request.content_type not in (JSON, "application/merge-patch+json") and request.body_exists:
        raise UnsupportedMediaType(f"Send the body as {JSON}.")
    raw = await request.read()  # client_max_size turns an oversized body into 413
    if not raw:
        raise BadRequest("The request body is empty; send a JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from None


async def load_body(request: web.Request, schema: Schema, *, partial: bool = False) -> dict[str, Any]:
    """Parse and validate a JSON object body; unknown fields are a 422."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ValidationFailed({"_body": ["Send a JSON object."]})
    return validate(schema, data, partial=partial)


def validate(schema: Schema, data: Any, *, partial: bool = False) -> dict[str, Any]:
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages) from None


def load_query(request: web.Request, schema: Schema) -> dict[str, Any]:
    """Validate query parameters; a bad one is a 400 (API.md)."""
    try:
        return schema.load(dict(request.query))
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_query": exc.messages}
        detail = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                           for k, v in messages.items())
        raise BadRequest(f"Bad query parameter: {detail}") from None
