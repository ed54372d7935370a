"""RealWorld "Conduit" shapes: presenters, and `{"errors": {...}}` instead of problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from marshmallow import Schema, fields

from server.errors import ApiError, NotFound, Unauthorized
from server.http.responses import iso, json_response, raw_json
from server.present import media_url

# --- presenters (rows -> Conduit objects) ---------------------------------------------------

def profile(app: web.Application, row: dict[str, Any], following: bool = False) -> dict[str, Any]:
    """Profile from a row with username, bio, avatar_key."""
    return {
        "username": row["username"],
        "bio": row["bio"] or None,
        "image": media_url(app, row.get("avatar_key")),
        "following": bool(following),
    }


def user(app: web.Application, row: dict[str, Any], token: str) -> dict[str, Any]:
    """User (the account itself) from an accounts.account() row."""
    return {
        "email": row["email"],
        "token": token,
        "username": row["username"],
        "bio": row["bio"] or None,
        "image": media_url(app, row.get("avatar_key")),
    }


def article_response(doc: str, status: int = 200) -> web.Response:
    """{"article": Article} around an Article document built by MariaDB (server/articles.py), not re-encoded."""
    return raw_json('{"article":' + doc + "}", status=status)


def articles_response(docs: list[str], count: int) -> web.Response:
    """{"articles": [Article], "articlesCount": n} spliced from Article documents."""
    return raw_json('{"articles":[' + ",".join(docs) + '],"articlesCount":' + str(int(count)) + "}")


def comment(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    """Comment from an articles.article_comments() / add_comment() row."""
    return {
        "id": row["id"],
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "body": row["content"],
        "author": profile(app, row, row["following"]),
    }


# --- errors ---------------------------------------------------------------------------------

# marshmallow's wording -> the Rails wording Conduit clients show next to the field.
_MESSAGES = {
    "Missing data for required field.": "can't be blank",
    "Field may not be null.": "can't be blank",
    "Unknown field.": "is not a known field",
    "Not a valid string.": "must be a string",
    "Not a valid list.": "must be a list",
    "Not a valid mapping type.": "must be an object",
}
_WRAPPERS = ("user.", "article.", "comment.")


def conduit_errors(exc: ApiError, token_sent: bool = False) -> dict[str, list[str]]:
    """The `errors` object for an ApiError: field errors when it has them, else one keyed line."""
    if exc.errors:
        out: dict[str, list[str]] = {}
        for field, messages in exc.errors.items():
            for wrapper in _WRAPPERS:
                if field.startswith(wrapper):
                    field = field[len(wrapper):]
                    break
            if field == "_body":
                field = "body"
            out.setdefault(field, []).extend(_MESSAGES.get(m, m) for m in messages)
        return out
    if isinstance(exc, Unauthorized):
        return {"token": ["is invalid" if token_sent else "is missing"]}
    if isinstance(exc, NotFound) and exc.resource:
        return {exc.resource: ["not found"]}
    return {_KEYS.get(exc.status, "request"): [exc.detail or exc.title]}


_KEYS = {400: "body", 403: "resource", 404: "resource", 413: "body", 415: "body", 429: "rate",
         503: "server"}


def conduit(handler: Callable) -> Callable:
    """Mark a handler as a Conduit route: the pipeline renders its 4xx errors with render_error."""
    handler.__render_error__ = render_error
    return handler


def render_error(request: web.Request, exc: ApiError) -> web.Response:
    """A 4xx (including the auth middleware's 401) as `{"errors": {"field": ["message"]}}`, with
    the same status and headers; 5xx keep the shared problem answer with its request id."""
    headers = dict(exc.headers)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Token realm="conduit"'
    token_sent = "Authorization" in request.headers
    return json_response({"errors": conduit_errors(exc, token_sent)}, status=exc.status, headers=headers)


# --- documented shapes (OpenAPI only; responses are built by the functions above) ------------

class ConduitErrorsSchema(Schema):
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


# How the OpenAPI document describes Conduit routes (server/http/openapi.py): their 4xx bodies,
# their token (`Authorization: Token <jwt>`; `Bearer` works too) and the status of a bad query
# parameter (?limit, ?offset: 422, as Conduit clients expect).
TOKEN_SCHEME = "conduitToken"
render_error.__apidoc__ = {
    "errors": ConduitErrorsSchema,
    "security": TOKEN_SCHEME,
    "security_scheme": {"type": "apiKey", "in": "header", "name": "Authorization",
                        "description": "`Token <jwt>` (the Conduit spelling; `Bearer <jwt>` also works)"},
    "query_status": 422,
}


class ConduitProfileSchema(Schema):
    username = fields.String(required=True)
    bio = fields.String(required=True, allow_none=True)
    image = fields.String(required=True, allow_none=True)
    following = fields.Boolean(required=True)


class ConduitUserSchema(Schema):
    email = fields.String(required=True)
    token = fields.String(required=True)
    username = fields.String(required=True)
    bio = fields.String(required=True, allow_none=True)
    image = fields.String(required=True, allow_none=True)


class ConduitArticleSchema(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    body = fields.String(metadata={"description": "left out of lists"})
    tagList = fields.List(fields.String(), required=True)  # noqa: N815 - the Conduit field name
    createdAt = fields.String(required=True)  # noqa: N815
    updatedAt = fields.String(required=True)  # noqa: N815
    favorited = fields.Boolean(required=True)
    favoritesCount = fields.Integer(required=True)  # noqa: N815
    author = fields.Nested(ConduitProfileSchema, required=True)


class ConduitCommentSchema(Schema):
    id = fields.Integer(required=True)
    createdAt = fields.String(required=True)  # noqa: N815
    updatedAt = fields.String(required=True)  # noqa: N815
    body = fields.String(required=True)
    author = fields.Nested(ConduitProfileSchema, required=True)


class ConduitUserResponse(Schema):
    user = fields.Nested(ConduitUserSchema, required=True)


class ConduitProfileResponse(Schema):
    profile = fields.Nested(ConduitProfileSchema, required=True)


class ConduitArticleResponse(Schema):
    article = fields.Nested(ConduitArticleSchema, required=True)


class ConduitArticlesResponse(Schema):
    articles = fields.List(fields.Nested(ConduitArticleSchema), required=True)
    articlesCount = fields.Integer(required=True)  # noqa: N815


class ConduitCommentResponse(Schema):
    comment = fields.Nested(ConduitCommentSchema, required=True)


class ConduitCommentsResponse(Schema):
    comments = fields.List(fields.Nested(ConduitCommentSchema), required=True)


class ConduitTagsResponse(Schema):
    tags = fields.List(fields.String(), required=True)
