"""RealWorld "Conduit" API 2.0 under /api: the same rows and services as /api/v1.

A Conduit user is a Chatter user, an article a post with a title, a favorite a like, a comment
a comment and following is following: writes go through the same services (server/articles.py
and the services it builds on), so counters, notifications and real-time events are the same
whichever API a client uses. This module only translates: Conduit bodies in, Conduit shapes
and `{"errors": {...}}` out.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web
from marshmallow import EXCLUDE, ValidationError, fields, validate, validates

from server import accounts, articles, follows, users
from server.articles import MAX_COMMENTS, MAX_OFFSET, MAX_TAG_CLOUD, NoSuchArticle
from server.auth import CONDUIT
from server.errors import AccountSuspended, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from server.http import conduit as shape
from server.http.conduit import conduit
from server.http.identity import bearer_token, client_of, require_principal, require_user, viewer_id
from server.http.openapi import docs
from server.http.responses import json_response, load_body
from server.http.schemas import USERNAME, NotBlank, Strict, email_rule, password_rule

routes = web.RouteTableDef()
TAGS = ["conduit"]
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
MAX_TAGS = 20
BLANK = {"required": "can't be blank", "null": "can't be blank"}
ERRORS = {401: shape.ConduitErrorsSchema, 422: shape.ConduitErrorsSchema}
BODY_ERRORS = {**ERRORS, 400: shape.ConduitErrorsSchema}  # 400: the body is not JSON
T = TypeVar("T")


# --- request bodies -------------------------------------------------------------------------

not_blank = NotBlank("can't be blank")


def text(max_len: int, **kw: Any) -> fields.String:
    return fields.String(validate=[not_blank, validate.Length(max=max_len,
                                   error=f"is too long (maximum is {max_len} characters)")],
                         error_messages=BLANK, **kw)


class Lenient(Strict):
    """Conduit request bodies: unknown and read-only fields are dropped, not refused. Front ends send
    the whole object back on edit (an article with its slug, dates and author); the native API
    stays strict."""

    class Meta:
        unknown = EXCLUDE


# "" (remove) or an absolute http(s) URL with a host (and a port, a path, a query, a fragment), no
# spaces or control characters: the rule and the document's pattern are this one expression.
IMAGE_URL = (r"^(?:[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#@:\[\]\\]+(?::[0-9]{1,5})?"
             r"(?:[/?#][^\x00-\x20\x7f]*)?)?$")
IMAGE_URL_MAX = 2048


def image_url(value: str) -> None:
    if len(value) > IMAGE_URL_MAX or not re.fullmatch(IMAGE_URL, value):
        raise ValidationError(f"must be an http(s) URL (at most {IMAGE_URL_MAX} characters)")


class LoginUser(Lenient):
    email = text(254, required=True)
    password = text(1024, required=True)


class LoginBody(Lenient):
    user = fields.Nested(LoginUser, required=True, error_messages=BLANK)


class NewUser(Lenient):
    username = fields.String(required=True, validate=[not_blank, USERNAME], error_messages=BLANK)
    email = fields.String(required=True, validate=[not_blank, email_rule], error_messages=BLANK)
    password = fields.String(required=True, validate=[not_blank, password_rule], error_messages=BLANK)


class NewUserBody(Lenient):
    user = fields.Nested(NewUser, required=True, error_messages=BLANK)


class UpdateUser(Lenient):
    json_schema = {"minProperties": 1}
    username = fields.String(validate=[not_blank, USERNAME], error_messages=BLANK)
    email = fields.String(validate=[not_blank, email_rule], error_messages=BLANK)
    # "" leaves the password as it is: the reference front end always sends the field, empty unless
    # the user typed a new one. (Checked in _password, so the document's rule is the anyOf below.)
    password = fields.String(error_messages=BLANK, metadata={
        "description": "a new password; \"\" leaves it unchanged",
        "anyOf": [{"const": ""}, {"minLength": -(-password_rule.MIN_BYTES // 4),
                                  "maxLength": password_rule.MAX_BYTES, "pattern": NotBlank.PATTERN.pattern}]})
    bio = fields.String(allow_none=True, validate=validate.Length(max=500))
    image = fields.String(allow_none=True, validate=image_url, metadata={
        "pattern": IMAGE_URL, "maxLength": IMAGE_URL_MAX,
        "description": "an http(s) URL (at most 2,048 characters) to use as the profile picture; "
                       "null or \"\" removes it (uploads: PUT /api/v1/users/me/avatar)"})


    @validates("password")
    def _password(self, value: str, **_: Any) -> None:
        if value:
            not_blank(value)
            password_rule(value)


class UpdateUserBody(Lenient):
    user = fields.Nested(UpdateUser, required=True, error_messages=BLANK)


def tag_list() -> fields.List:
    return fields.List(fields.String(validate=validate.Length(max=100, error="is too long (maximum is 100 characters)")),
                       validate=validate.Length(max=MAX_TAGS, error=f"has too many tags (maximum is {MAX_TAGS})"),
                       error_messages=BLANK)


class NewArticle(Lenient):
    title = text(100, required=True)
    description = text(500, required=True)
    body = text(5000, required=True)
    tagList = tag_list()  # noqa: N815 - the Conduit field name


class NewArticleBody(Lenient):
    article = fields.Nested(NewArticle, required=True, error_messages=BLANK)


class UpdateArticle(Lenient):
    title = text(100)
    description = text(500)
    body = text(5000)
    tagList = tag_list()  # noqa: N815


class UpdateArticleBody(Lenient):
    article = fields.Nested(UpdateArticle, required=True, error_messages=BLANK)


class NewComment(Lenient):
    body = text(2000, required=True)


class NewCommentBody(Lenient):
    comment = fields.Nested(NewComment, required=True, error_messages=BLANK)


class ArticlesQuery(Strict):
    tag = fields.String(metadata={"description": "articles with this tag"})
    author = fields.String(metadata={"description": "articles by this username"})
    favorited = fields.String(metadata={"description": "articles favorited by this username"})
    limit = fields.Integer(validate=validate.Range(1, 2**62),
                           metadata={"description": f"default {DEFAULT_LIMIT}, at most {MAX_LIMIT}"})
    offset = fields.Integer(validate=validate.Range(0, 2**62), metadata={
        "description": f"articles to skip (default 0); past {MAX_OFFSET:,} the page is empty"})


class FeedQuery(Strict):
    limit = fields.Integer(validate=validate.Range(1, 2**62),
                           metadata={"description": f"default {DEFAULT_LIMIT}, at most {MAX_LIMIT}"})
    offset = fields.Integer(validate=validate.Range(0, 2**62), metadata={
        "description": f"articles to skip (default 0); past {MAX_OFFSET:,} the page is empty"})


# --- helpers --------------------------------------------------------------------------------

def _int_query(request: web.Request, name: str, default: int, minimum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):  # int() would also take " 7", "+7", "1_0"
        raise ValidationFailed({name: ["must be an integer"]})
    value = int(raw) if len(raw) <= 40 else 2**62 + 1
    if value < minimum or value > 2**62:
        raise ValidationFailed({name: [f"must be at least {minimum}"]})
    return value


def _paging(request: web.Request) -> dict[str, int]:
    limit = min(_int_query(request, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    return {"limit": limit, "offset": _int_query(request, "offset", 0, 0)}


async def _as(resource: str, call: Awaitable[T]) -> T:
    """Run a service call; its 403/404 name the Conduit resource (a missing article always "article")."""
    try:
        return await call
    except NoSuchArticle:
        raise NotFound(errors={"article": ["not found"]}) from None
    except Forbidden:
        raise Forbidden(errors={resource: ["forbidden"]}) from None
    except NotFound:
        raise NotFound(errors={resource: ["not found"]}) from None


def _taken(exc: accounts.Taken) -> dict[str, list[str]]:
    errors = {field: ["has already been taken"] for field in ("username", "email") if field in exc.found}
    return errors or {"username or email": ["has already been taken"]}


def _native_user(row: dict[str, Any], token: str) -> dict[str, Any]:
    """Conduit User from the native User object /api/v1 answers with."""
    return {"email": row["email"], "token": token, "username": row["username"],
            "bio": row["bio"] or None, "image": row["profile_pic"]}


# --- users and authentication -----------------------------------------------------------------

@routes.post("/api/users/login")
@docs("Conduit: log in (email + password)", tags=TAGS, body=LoginBody,
      responses={200: shape.ConduitUserResponse, **BODY_ERRORS, 403: shape.ConduitErrorsSchema,
                 429: shape.ConduitErrorsSchema})
@conduit
async def login(request: web.Request) -> web.Response:
    data = (await load_body(request, LoginBody()))["user"]
    try:
        body = await accounts.login(request.app, client_of(request), data["email"], data["password"], kind=CONDUIT)
    except Unauthorized:
        raise Unauthorized(errors={"credentials": ["invalid"]}) from None
    except AccountSuspended as exc:
        raise Forbidden(errors={"account": [f"is suspended until {exc.until}" if exc.until else "is suspended"]}) from None
    return json_response({"user": _native_user(body["user"], body["access_token"])})


@routes.post("/api/users")
@docs("Conduit: register (the token lives as long as its session, config auth.conduit_ttl)", tags=TAGS,
      body=NewUserBody, responses={201: shape.ConduitUserResponse, 409: shape.ConduitErrorsSchema,
                                   422: shape.ConduitErrorsSchema, 400: shape.ConduitErrorsSchema,
                                   429: shape.ConduitErrorsSchema})
@conduit
async def register(request: web.Request) -> web.Response:
    client = client_of(request)
    await accounts.throttle_registration(request.app, client)  # before the body: bad bodies count too
    data = (await load_body(request, NewUserBody()))["user"]
    try:
        body = await accounts.register(request.app, client, username=data["username"],
                                       email=data["email"].strip(), password=data["password"], kind=CONDUIT)
    except accounts.Taken as exc:
        raise Conflict(errors=_taken(exc)) from None
    return json_response({"user": _native_user(body["user"], body["access_token"])}, status=201)


@routes.get("/api/user")
@docs("Conduit: the current user", tags=TAGS, auth="required",
      responses={200: shape.ConduitUserResponse, **ERRORS})
@conduit
async def current_user(request: web.Request) -> web.Response:
    row = await accounts.account(request.app, require_user(request))
    if row is None:
        raise Unauthorized()
    return json_response({"user": shape.user(request.app, row, bearer_token(request) or "")})


@routes.put("/api/user")
@docs("Conduit: update the current user (a new password revokes every other session)", tags=TAGS,
      auth="required", body=UpdateUserBody, responses={200: shape.ConduitUserResponse, **BODY_ERRORS})
@conduit
async def update_user(request: web.Request) -> web.Response:
    principal = require_principal(request)
    data = (await load_body(request, UpdateUserBody()))["user"]
    if not data:
        raise ValidationFailed({"user": ["must have at least one field"]})
    try:
        row = await accounts.update_account(request.app, principal, data)
    except accounts.Taken as exc:
        raise ValidationFailed(_taken(exc)) from None
    return json_response({"user": shape.user(request.app, row, bearer_token(request) or "")})


# --- profiles ---------------------------------------------------------------------------------

@routes.get("/api/profiles/{username}")
@docs("Conduit: a profile", tags=TAGS, auth="optional",
      responses={200: shape.ConduitProfileResponse, 403: shape.ConduitErrorsSchema,
                 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def get_profile(request: web.Request) -> web.Response:
    row = await _as("profile", users.profile_by_username(request.app, request.match_info["username"],
                                                         viewer_id(request)))
    return json_response({"profile": shape.profile(request.app, row, row["following"])})


async def _follow(request: web.Request, on: bool) -> web.Response:
    me, username = require_user(request), request.match_info["username"]
    try:
        row, state = await _as("profile", follows.follow_by_username(request.app, me, username, on=on))
    except follows.SelfFollow:
        raise ValidationFailed({"username": ["can't be yourself"]}) from None
    return json_response({"profile": shape.profile(request.app, row, state["following"])})


@routes.post("/api/profiles/{username}/follow")
@docs("Conduit: follow a user (the same follow as PUT /api/v1/users/{id}/follow)", tags=TAGS,
      auth="required", responses={200: shape.ConduitProfileResponse, 403: shape.ConduitErrorsSchema,
                                  404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def follow(request: web.Request) -> web.Response:
    return await _follow(request, True)


@routes.delete("/api/profiles/{username}/follow")
@docs("Conduit: unfollow a user", tags=TAGS, auth="required",
      responses={200: shape.ConduitProfileResponse, 403: shape.ConduitErrorsSchema,
                 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def unfollow(request: web.Request) -> web.Response:
    return await _follow(request, False)


# --- articles ---------------------------------------------------------------------------------

@routes.get("/api/articles/feed")
@docs("Conduit: articles by the users the viewer follows, newest first", tags=TAGS, auth="required",
      query=FeedQuery, responses={200: shape.ConduitArticlesResponse, **ERRORS})
@conduit
async def feed(request: web.Request) -> web.Response:
    return shape.articles_response(*await articles.feed(request.app, require_user(request), **_paging(request)))


@routes.get("/api/articles")
@docs("Conduit: articles (posts with a title), newest first, filtered by tag, author or favorited",
      tags=TAGS, auth="optional", query=ArticlesQuery,
      responses={200: shape.ConduitArticlesResponse, **ERRORS})
@conduit
async def list_articles(request: web.Request) -> web.Response:
    q = request.query
    filters = {name: q.get(name) for name in ("tag", "author", "favorited")}
    return shape.articles_response(*await articles.list_articles(request.app, viewer_id(request), **filters,
                                                                 **_paging(request)))


@routes.post("/api/articles")
@docs("Conduit: create an article (a post with a title, same as POST /api/v1/posts)", tags=TAGS,
      auth="required", body=NewArticleBody, responses={201: shape.ConduitArticleResponse, **BODY_ERRORS})
@conduit
async def create_article(request: web.Request) -> web.Response:
    me = require_user(request)
    data = (await load_body(request, NewArticleBody()))["article"]
    doc = await articles.create_article(request.app, me, title=data["title"], description=data["description"],
                                        body=data["body"], tags=data.get("tagList"))
    return shape.article_response(doc, status=201)


@routes.get("/api/articles/{slug}")
@docs("Conduit: an article", tags=TAGS, auth="optional",
      responses={200: shape.ConduitArticleResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def get_article(request: web.Request) -> web.Response:
    return shape.article_response(await _as("article", articles.get_article(
        request.app, request.match_info["slug"], viewer_id(request))))


@routes.put("/api/articles/{slug}")
@docs("Conduit: update one's article (a new title gives a new slug)", tags=TAGS, auth="required",
      body=UpdateArticleBody, responses={200: shape.ConduitArticleResponse, 403: shape.ConduitErrorsSchema,
                                         404: shape.ConduitErrorsSchema, **BODY_ERRORS})
@conduit
async def update_article(request: web.Request) -> web.Response:
    me = require_user(request)
    data = (await load_body(request, UpdateArticleBody()))["article"]
    changes = {("tags" if k == "tagList" else k): v for k, v in data.items()}
    return shape.article_response(await _as("article", articles.update_article(
        request.app, me, request.match_info["slug"], changes)))


@routes.delete("/api/articles/{slug}")
@docs("Conduit: delete one's article (its comments, favorites and notifications go with it)", tags=TAGS,
      auth="required", responses={204: None, 403: shape.ConduitErrorsSchema, 404: shape.ConduitErrorsSchema,
                                  **ERRORS})
@conduit
async def delete_article(request: web.Request) -> web.Response:
    me = require_user(request)
    await _as("article", articles.delete_article(request.app, me, request.match_info["slug"]))
    return web.Response(status=204)


async def _favorite(request: web.Request, on: bool) -> web.Response:
    me = require_user(request)
    return shape.article_response(await _as("article", articles.favorite(
        request.app, me, request.match_info["slug"], on=on)))


@routes.post("/api/articles/{slug}/favorite")
@docs("Conduit: favorite an article (the same like as PUT /api/v1/posts/{id}/like)", tags=TAGS,
      auth="required", responses={200: shape.ConduitArticleResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def favorite(request: web.Request) -> web.Response:
    return await _favorite(request, True)


@routes.delete("/api/articles/{slug}/favorite")
@docs("Conduit: unfavorite an article", tags=TAGS, auth="required",
      responses={200: shape.ConduitArticleResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def unfavorite(request: web.Request) -> web.Response:
    return await _favorite(request, False)


# --- comments and tags --------------------------------------------------------------------------

@routes.get("/api/articles/{slug}/comments")
@docs(f"Conduit: an article's comments, newest first (at most {MAX_COMMENTS})", tags=TAGS, auth="optional",
      responses={200: shape.ConduitCommentsResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def list_comments(request: web.Request) -> web.Response:
    rows = await _as("article", articles.article_comments(request.app, request.match_info["slug"],
                                                          viewer_id(request)))
    return json_response({"comments": [shape.comment(request.app, r) for r in rows]})


@routes.post("/api/articles/{slug}/comments")
@docs("Conduit: comment on an article (the same comment as POST /api/v1/posts/{id}/comments)", tags=TAGS,
      auth="required", body=NewCommentBody,
      responses={201: shape.ConduitCommentResponse, 404: shape.ConduitErrorsSchema, **BODY_ERRORS})
@conduit
async def add_comment(request: web.Request) -> web.Response:
    me = require_user(request)
    data = (await load_body(request, NewCommentBody()))["comment"]
    row = await _as("article", articles.add_comment(request.app, me, request.match_info["slug"], data["body"]))
    return json_response({"comment": shape.comment(request.app, row)}, status=201)


@routes.delete("/api/articles/{slug}/comments/{id}")
@docs("Conduit: delete a comment (its author or the article's author)", tags=TAGS, auth="required",
      responses={204: None, 403: shape.ConduitErrorsSchema, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def delete_comment(request: web.Request) -> web.Response:
    me, slug = require_user(request), request.match_info["slug"]
    await _as("comment", articles.delete_comment(request.app, me, slug, request.match_info["id"]))
    return web.Response(status=204)


@routes.get("/api/tags")
@docs(f"Conduit: tags in use, most used first (at most {MAX_TAG_CLOUD})", tags=TAGS,
      responses={200: shape.ConduitTagsResponse, 422: shape.ConduitErrorsSchema})
@conduit
async def tags(request: web.Request) -> web.Response:
    return json_response({"tags": await articles.popular_tags(request.app)})


def setup(app: web.Application) -> None:
    """Every Conduit path also answers with a trailing slash: the reference Angular front end posts
    new articles to `/api/articles/`, and a 404 there (no CORS headers on its preflight either)
    left its "Publish" button dead. The same handlers; the OpenAPI document lists each path once."""
    for route in routes:
        if isinstance(route, web.RouteDef) and not route.path.endswith("/"):
            alias = _alias(route.handler)
            app.router.add_route(route.method, route.path + "/", alias, **route.kwargs)


def _alias(handler: Any) -> Any:
    async def alias(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    alias.__wrapped__ = handler  # type: ignore[attr-defined]
    alias.__alias_of__ = handler  # type: ignore[attr-defined]  # openapi.py: not listed twice
    for name in ("__auth__", "__render_error__"):  # what the pipeline reads off a handler
        if hasattr(handler, name):
            setattr(alias, name, getattr(handler, name))
    return alias
