"""OpenAPI 3.1 from the route table: a @docs decorator on handlers, apispec + marshmallow for schemas."""

from __future__ import annotations

import html
import json
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
    # The docs page lists tags in this order: the native API first, the rest after.
    used = {tag for ops in paths.values() for op in ops.values() for tag in op.get("tags", [])}
    for tag in [t for t in TAG_ORDER if t in used] + sorted(used - set(TAG_ORDER)):
        spec.tag({"name": tag})
    return spec.to_dict()


TAG_ORDER = ["auth", "users", "posts", "comments", "media", "messages", "notifications", "real time",
             "operations", "conduit", "web client"]


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


# --- the interactive docs page (Swagger UI, served from this server) ----------------------------

DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def setup_docs(app: web.Application, *, spec_url: str = "/api/openapi.json", prefix: str = "/api/docs",
               title: str = "Chatter API") -> None:
    """Swagger UI at `prefix` and `prefix/`, its assets under `prefix/static/` (from swagger-ui-py).

    The page names the spec by its absolute path (a relative one resolves against /api/docs/ and
    404s), loads its initializer as a file (no inline script under the CSP), and turns off the
    online validator badge, so the page makes no request outside this server.
    """
    from swagger_ui.utils import SWAGGER_UI_PY_ROOT

    static = f"{prefix}/static"
    page = _DOCS_PAGE.format(title=html.escape(title), static=static, init=f"{prefix}/init.js").encode()
    init = _DOCS_INIT.replace("SPEC_URL", json.dumps(spec_url)).encode()
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": DOCS_CSP}

    @docs("Interactive API docs (Swagger UI, served offline)", tags=["operations"], responses={200: None})
    async def docs_page(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8", headers=headers)

    @docs("The API docs page's script", tags=["operations"], responses={200: None})
    async def docs_init(request: web.Request) -> web.Response:
        return web.Response(body=init, content_type="text/javascript", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    app.router.add_get(prefix, docs_page)
    app.router.add_get(prefix + "/", docs_page)
    app.router.add_get(prefix + "/init.js", docs_init)
    app.router.add_static(static, SWAGGER_UI_PY_ROOT / "static")


_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
<link rel="icon" type="image/png" href="{static}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""

_DOCS_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: SPEC_URL,
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayRequestDuration: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""
