"""OpenAPI 3.1 from the route table: a @docs decorator on handlers, apispec + marshmallow for schemas.

The document is meant to be exactly true, and `make fuzz` (tools/fuzz.sh) holds it to that: a
request it allows is accepted, a request it forbids is refused, and every status an operation
can answer is listed. Handlers state what only they know (their bodies, success and domain
statuses); the statuses the shared HTTP pipeline adds to every operation of a kind (a path that
names nothing, a body that is not JSON, a bad query parameter or Idempotency-Key, a token, the
write budget, an unavailable dependency) are added here, by `_pipeline_statuses`.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_instance
from marshmallow import Schema, fields

from server.http import pagination
from server.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from server.http.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from server.http.schemas import ID_MAX, ID_MIN, EmailRule, NotBlank, PasswordRule

AUTH_REQUIRED, AUTH_OPTIONAL = "required", "optional"
BEARER = "bearerAuth"
PROBLEM_TYPE = "application/problem+json"
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_UNSAFE = frozenset({"post", "put", "patch", "delete"})


def docs(
    summary: str,
    *,
    tags: list[str] | None = None,
    auth: str | None = None,
    body: type[Schema] | Schema | None = None,
    body_content_type: str = "application/json",
    body_required: bool = True,
    query: type[Schema] | Schema | None = None,
    responses: dict[int, Any] | None = None,
    paginated: bool = False,
    description: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Callable:
    """Describe a handler for the spec. `auth="required"` is also enforced by the auth middleware.

    body_required=False: the handler also takes a request without a body (it checks
    `request.body_exists`). extra: merged into the operation; its "parameters" are added to the
    generated ones (an Idempotency-Key header gets the one shared definition).
    """

    def wrap(handler: Callable) -> Callable:
        handler.__apidoc__ = {
            "summary": summary, "tags": tags or [], "auth": auth, "body": body,
            "body_content_type": body_content_type, "body_required": body_required, "query": query,
            "responses": responses or {}, "paginated": paginated,
            "description": description or (handler.__doc__ or "").strip() or None,
            "extra": extra or {},
        }
        handler.__auth__ = auth
        return handler

    return wrap


_STATUS_TEXT = {
    101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    400: "Bad request: malformed body, query parameter or header",
    401: "Unauthenticated: no token where one is required, or a token that is invalid, expired or revoked",
    403: "Forbidden", 404: "Not found (also: a path parameter that names nothing)",
    409: "Conflict", 413: "Too large", 415: "Unsupported media type",
    422: "Validation failed", 429: "Rate limited (see Retry-After)",
    503: "A dependency is unavailable, or the server is overloaded (see Retry-After)",
}

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "request_id": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["type", "title", "status"],
}


# --- field rules as JSON Schema -------------------------------------------------------------

def _rules(self, field: fields.Field, ret: dict, **_: Any) -> dict:
    """JSON Schema for the validator classes of server/http/schemas.py (apispec knows the rest)."""
    out: dict[str, Any] = {}
    for rule in field.validators:
        if isinstance(rule, NotBlank) and "pattern" not in ret and "format" not in ret:
            out["pattern"] = rule.PATTERN.pattern
        elif isinstance(rule, PasswordRule):
            # Characters are 1–4 bytes: the widest character bounds that the byte rule implies.
            out.update(minLength=-(-rule.MIN_BYTES // 4), maxLength=rule.MAX_BYTES)
            out.setdefault("description", f"{rule.MIN_BYTES}–{rule.MAX_BYTES} bytes of UTF-8")
        elif isinstance(rule, EmailRule):
            out.update(format="email", maxLength=rule.MAX_LENGTH)
    return out


class _Plugin(MarshmallowPlugin):
    """A schema class's `json_schema` extras (rules across fields, see Strict) join its component."""

    def schema_helper(self, name, definition, schema=None, **kwargs):
        out = super().schema_helper(name, definition, schema=schema, **kwargs)
        extra = getattr(type(resolve_schema_instance(schema)), "json_schema", None) if schema is not None else None
        if out is not None and extra:
            out.update(copy.deepcopy(extra))
        return out


def _mark_read_only(doc: dict) -> None:
    """Properties of components no request uses are answers only: readOnly."""
    components = doc.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = [op.get("requestBody", {}) for ops in doc["paths"].values() for op in ops.values()]
    pending += [p for ops in doc["paths"].values() for op in ops.values() for p in op.get("parameters", [])]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] not in used:
                used.add(ref.rsplit("/", 1)[1])
                pending.append(components.get(ref.rsplit("/", 1)[1], {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    for name, component in components.items():
        if name not in used:
            for prop in component.get("properties", {}).values():
                prop["readOnly"] = True


# --- the document ---------------------------------------------------------------------------

def build_spec(app: web.Application, title: str = "Chatter API", version: str = "1.0.0") -> dict:
    plugin = _Plugin()
    spec = APISpec(
        title=title, version=version, openapi_version="3.1.0", plugins=[plugin],
        info={"description": "Chatter: microblog, one-to-one chat and real-time notifications. "
                             "See docs/API.md for the contract."},
    )
    plugin.converter.add_attribute_function(_rules)
    spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Problem", PROBLEM)
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        method = route.method.lower()
        if method in ("head", "*", "options") or hasattr(route.handler, "__alias_of__"):
            continue  # an alias answers for a documented path (e.g. Conduit's trailing slashes)
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path is None:
            prefix = info.get("prefix")
            if prefix is None:
                continue
            path = prefix.rstrip("/") + "/{path}"
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
        paths.setdefault(path, {})[method] = _operation(spec, path, method, route.handler)
    _add_links(paths)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    # The docs page lists tags in this order: the native API first, the rest after.
    used = {tag for ops in paths.values() for op in ops.values() for tag in op.get("tags", [])}
    for tag in [t for t in TAG_ORDER if t in used] + sorted(used - set(TAG_ORDER)):
        spec.tag({"name": tag})
    doc = spec.to_dict()
    _mark_read_only(doc)
    return doc


TAG_ORDER = ["auth", "users", "posts", "comments", "media", "messages", "notifications", "real time",
             "operations", "conduit", "web client"]


def path_parameter(name: str) -> dict[str, Any]:
    """`id` and `*_id` are row ids (an id out of range is a 404, see middlewares.check_path_ids)."""
    if is_id_name(name):
        schema: dict[str, Any] = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}
    else:
        schema = {"type": "string", "minLength": 1}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def is_id_name(name: str) -> bool:
    return name == "id" or name.endswith("_id")


def page_parameters() -> list[dict[str, Any]]:
    """?limit, ?before, ?after exactly as pagination.page_params reads them (else a 400)."""
    return [
        {"name": "limit", "in": "query", "description": f"default {pagination.DEFAULT_LIMIT}; "
         f"above {pagination.MAX_LIMIT} is clamped to {pagination.MAX_LIMIT}",
         "schema": {"type": "integer", "minimum": 1, "maximum": pagination.MAX_CURSOR,
                    "default": pagination.DEFAULT_LIMIT}},
        {"name": "before", "in": "query", "description": "older items, newest first: a next_cursor "
         "(not together with after)", "schema": {"type": "integer", "minimum": 1, "maximum": pagination.MAX_CURSOR}},
        {"name": "after", "in": "query", "description": "newer items, oldest first (not together with before)",
         "schema": {"type": "integer", "minimum": 0, "maximum": pagination.MAX_CURSOR}},
    ]


def idempotency_parameter() -> dict[str, Any]:
    return {"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
            "description": "the same key and body within 24 h replay the first answer; another body is a 422",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN}}


def _operation(spec: APISpec, path: str, method: str, handler: Callable) -> dict:
    doc = getattr(handler, "__apidoc__", None)
    # A route may render its own 4xx bodies (server/http/conduit.py); its renderer says how.
    render = getattr(handler, "__render_error__", None)
    style = getattr(render, "__apidoc__", {})
    params = [path_parameter(name) for name in _PARAM.findall(path)]
    if doc is None:  # routes added by libraries (the Swagger UI pages and assets): no promised bodies
        style = {"library": True}
        doc = {"summary": f"{method.upper()} {path}", "tags": ["operations"], "auth": None, "body": None,
               "query": None, "responses": {200: None}, "paginated": False, "description": None,
               "extra": {}}
    op: dict[str, Any] = {"summary": doc["summary"], "tags": doc["tags"], "parameters": params}
    if doc["description"]:
        op["description"] = doc["description"]
    if doc["query"] is not None:
        op["parameters"].append({"in": "query", "schema": doc["query"]})
    if doc["paginated"]:
        op["parameters"] += page_parameters()
    if doc["body"] is not None:
        op["requestBody"] = {"required": doc.get("body_required", True),
                             "content": {doc["body_content_type"]: {"schema": doc["body"]}}}
    extra = dict(doc["extra"])
    for param in extra.pop("parameters", []):
        if param.get("in") == "path":
            continue  # path parameters come from the route, with their rules
        if param.get("in") == "header" and param.get("name") == IDEMPOTENCY_HEADER:
            param = idempotency_parameter()
        op["parameters"] = [p for p in op["parameters"]
                            if (p.get("name"), p.get("in")) != (param.get("name"), param.get("in"))]
        op["parameters"].append(param)

    security = style.get("security", BEARER)
    if security not in spec.components.security_schemes:
        spec.components.security_scheme(security, style["security_scheme"])
    if doc["auth"] == AUTH_REQUIRED:
        op["security"] = [{security: []}]
    elif doc["auth"] == AUTH_OPTIONAL:
        op["security"] = [{}, {security: []}]

    declared = dict(doc["responses"])
    statuses = set(declared) | _pipeline_statuses(path, method, doc, op, style)
    responses: dict[str, Any] = {}
    for status in sorted(statuses):
        entry: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "Response")}
        schema = declared.get(status)
        if status >= 400:
            content = _error_content(status, schema, style)
            if content is not None:
                entry["content"] = content
        elif schema is not None:
            if doc["paginated"] and status == 200:
                schema = {"type": "object", "properties": {
                    "items": {"type": "array", "items": schema},
                    "next_cursor": {"type": ["string", "null"], "pattern": r"^[0-9]+$"}},
                    "required": ["items", "next_cursor"]}
            entry["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = entry
    op["responses"] = responses
    extra = dict(extra)
    # Response entries in `extra` (e.g. a zip's content type) replace those statuses only.
    responses.update(extra.pop("responses", {}))
    op.update(extra)
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


def _pipeline_statuses(path: str, method: str, doc: dict, op: dict, style: dict) -> set[int]:
    """What the shared pipeline can answer for this operation, whatever the handler does."""
    out = {401, 503}  # any request may carry a bad token; any may meet a dependency that is down
    if _PARAM.search(path):
        out.add(404)  # a path parameter that names nothing (or no id at all)
    if doc["body"] is not None:
        out |= {400, 413, 415, 422}  # not JSON/multipart, too large, wrong type, invalid
    if doc["query"] is not None or doc["paginated"]:
        out.add(style.get("query_status", 400))
    if any(p.get("name") == IDEMPOTENCY_HEADER for p in op["parameters"]):
        out |= {400, 409, 422}  # a malformed key; the same key in flight; the key with another body
    if method in _UNSAFE and not path.startswith("/api/v1/auth/"):
        out.add(429)  # the per-user write budget (ratelimit.writes_user)
    return out


def _error_content(status: int, schema: Any, style: dict) -> dict[str, Any] | None:
    if style.get("library") and status < 500:
        return None  # e.g. the static files' own 404
    if status < 500 and "errors" in style:
        return {"application/json": {"schema": style["errors"]}}
    if schema is None or status >= 500:
        schema = {"$ref": "#/components/schemas/Problem"}
    return {PROBLEM_TYPE: {"schema": schema}}


# --- links for stateful testing ---------------------------------------------------------------

# (operation, status, what its answer names, parameter it fills, operations under this path)
# e.g. the post a POST /api/v1/posts made is the {id} of every /api/v1/posts/{id}... operation.
LINKS: list[tuple[str, int, str, str, str]] = [
    ("POST /api/v1/posts", 201, "$response.body#/id", "id", "/api/v1/posts/{id}"),
    ("POST /api/v1/posts/{id}/comments", 201, "$response.body#/id", "id", "/api/v1/comments/{id}"),
    ("POST /api/v1/messages", 201, "$response.body#/id", "id", "/api/v1/messages/{id}"),
    ("POST /api/v1/messages", 201, "$response.body#/recipient_id", "user_id", "/api/v1/conversations/{user_id}"),
    ("POST /api/v1/media", 201, "$response.body#/id", "id", "/api/v1/media/{id}"),
    ("POST /api/v1/auth/register", 201, "$response.body#/user/id", "id", "/api/v1/users/{id}"),
    ("POST /api/articles", 201, "$response.body#/article/slug", "slug", "/api/articles/{slug}"),
    ("POST /api/articles/{slug}/comments", 201, "$response.body#/comment/id", "id",
     "/api/articles/{slug}/comments/{id}"),
    ("POST /api/users", 201, "$response.body#/user/username", "username", "/api/profiles/{username}"),
]


def _add_links(paths: dict[str, dict[str, Any]]) -> None:
    for source, status, value, param, prefix in LINKS:
        method, _, source_path = source.partition(" ")
        operation = paths.get(source_path, {}).get(method.lower())
        if operation is None or str(status) not in operation["responses"]:
            continue
        links = operation["responses"][str(status)].setdefault("links", {})
        for path, operations in sorted(paths.items()):
            if path != prefix and not path.startswith(prefix + "/"):
                continue
            for target_method in operations:
                parameters = {param: value}
                # Parameters the source shares with the target (e.g. {slug}) come from its request.
                for other in _PARAM.findall(path):
                    if other != param and "{" + other + "}" in source_path:
                        parameters[other] = f"$request.path.{other}"
                if set(_PARAM.findall(path)) - set(parameters):
                    continue
                name = f"{target_method.upper()} {path}"
                links[name] = {"operationRef": "#/paths/" + _pointer(path) + "/" + target_method,
                               "parameters": parameters}


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
