"""OpenAPI 3.1 from the route table: a @docs decorator on handlers, apispec + marshmallow for schemas."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

AUTH_REQUIRED, AUTH_OPTIONAL = "required", "optional"
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def docs(
    summary: str,
    *,
    tags: list[str] | None = None,
    auth: str | None = None,
    body: type[Schema] | Schema | None = None,
    body_content_type: str = "application/json",
    query: type[Schema] | Schema | None = None,
    responses: dict[int, Any] | None = None,
    paginated: bool = False,
    description: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Callable:
    """Describe a handler for the spec. `auth="required"` is also enforced by the auth middleware."""

    def wrap(handler: Callable) -> Callable:
        handler.__apidoc__ = {
            "summary": summary, "tags": tags or [], "auth": auth, "body": body,
            "body_content_type": body_content_type, "query": query,
            "responses": responses or {}, "paginated": paginated,
            "description": description or (handler.__doc__ or "").strip() or None,
            "extra": extra or {},
        }
        handler.__auth__ = auth
        return handler

    return wrap


_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 101: "Switching Protocols",
                400: "Bad request", 401: "Unauthenticated", 403: "Forbidden", 404: "Not found",
                409: "Conflict", 413: "Too large", 415: "Unsupported media type",
                422: "Validation failed", 429: "Rate limited", 503: "Unavailable"}


def build_spec(app: web.Application, title: str = "Chatter API", version: str = "1.0.0") -> dict:
    spec = APISpec(
        title=title, version=version, openapi_version="3.1.0", plugins=[MarshmallowPlugin()],
        info={"description": "Chatter: microblog, one-to-one chat and real-time notifications. "
                             "See docs/API.md for the contract."},
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Problem", {
        "type": "object",
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "request_id": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        },
        "required": ["type", "title", "status"],
    })
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        method = route.method.lower()
        if method in ("head", "*", "options"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path is None:
            prefix = info.get("prefix")
            if prefix is None:
                continue
            path = prefix.rstrip("/") + "/{path}"
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
        handler = route.handler
        doc = getattr(handler, "__apidoc__", None)
        paths.setdefault(path, {})[method] = _operation(spec, path, method, doc)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _schema_ref(schema: Any) -> Any:
    if isinstance(schema, dict):
        return schema
    return schema  # apispec's marshmallow plugin resolves classes and instances


def _operation(spec: APISpec, path: str, method: str, doc: dict | None) -> dict:
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "integer"} if name.endswith("id") else {"type": "string"}}
              for name in _PARAM.findall(path)]
    if doc is None:  # routes added by libraries (the Swagger UI pages and assets)
        return {"summary": f"{method.upper()} {path}", "tags": ["operations"], "parameters": params,
                "responses": {"200": {"description": "OK"}}}
    op: dict[str, Any] = {"summary": doc["summary"], "tags": doc["tags"], "parameters": params}
    if doc["description"]:
        op["description"] = doc["description"]
    if doc["query"] is not None:
        op["parameters"].append({"in": "query", "schema": doc["query"]})
    if doc["paginated"]:
        op["parameters"] += [
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 20}},
            {"name": "before", "in": "query", "schema": {"type": "string"}},
            {"name": "after", "in": "query", "schema": {"type": "string"}},
        ]
    if doc["body"] is not None:
        op["requestBody"] = {"required": True, "content": {doc["body_content_type"]: {"schema": doc["body"]}}}
    responses: dict[str, Any] = {}
    for status, schema in doc["responses"].items():
        entry: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "Response")}
        if schema is not None:
            if doc["paginated"] and status == 200:
                schema = {"type": "object", "properties": {
                    "items": {"type": "array", "items": schema},
                    "next_cursor": {"type": ["string", "null"]}}, "required": ["items", "next_cursor"]}
            entry["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = entry
    if not responses:
        responses["200"] = {"description": "OK"}
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if doc["auth"] == AUTH_REQUIRED:
        op["security"] = [{"bearerAuth": []}]
        responses.setdefault("401", {"description": "Unauthenticated", **problem})
    elif doc["auth"] == AUTH_OPTIONAL:
        op["security"] = [{}, {"bearerAuth": []}]
    if doc["body"] is not None:
        responses.setdefault("422", {"description": "Validation failed", **problem})
        responses.setdefault("400", {"description": "Malformed body", **problem})
    op["responses"] = responses
    op.update(doc["extra"])
    return op
