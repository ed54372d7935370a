"""RealWorld "Conduit" API 2.0 under /api: the same rows and write paths as /api/v1.

A Conduit user is a Chatter user, an article a post with a title, a favorite a like, a comment
a comment and following is following: writes go through the social area's functions, so
counters, notifications and real-time events are the same whichever API a client uses.
"""

from __future__ import annotations

import secrets
from typing import Any

import pymysql
from aiohttp import web
from marshmallow import fields, validate

from handlers import comments as comment_service
from handlers import follows as follow_service
from handlers import posts as post_service
from handlers.auth import check_credentials, client_ip, issue_session, limiter
from server.auth import bearer_token, require_user, revoke_user_sessions, sessions_revoked, viewer_id
from server.db import Conn, error_code
from server.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from server.http import conduit as shape
from server.http.conduit import conduit
from server.http.openapi import docs
from server.http.responses import json_response, load_body
from server.http.schemas import USERNAME, NotBlank, Strict, email_rule, password_rule
from server.keys import CONFIG, DB, PRINCIPAL
from server.passwords import hash_password
from server.present import media_url
from server.queries import QUERIES as Q

routes = web.RouteTableDef()
TAGS = ["conduit"]
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
MAX_TAGS, MAX_COMMENTS, MAX_TAG_CLOUD = 20, 500, 200
BLANK = {"required": "can't be blank", "null": "can't be blank"}
ERRORS = {401: shape.ConduitErrorsSchema, 422: shape.ConduitErrorsSchema}
BODY_ERRORS = {**ERRORS, 400: shape.ConduitErrorsSchema}  # 400: the body is not JSON
_UNSET = object()


# --- request bodies -------------------------------------------------------------------------

not_blank = NotBlank("can't be blank")


def text(max_len: int, **kw: Any) -> fields.String:
    return fields.String(validate=[not_blank, validate.Length(max=max_len,
                                   error=f"is too long (maximum is {max_len} characters)")],
                         error_messages=BLANK, **kw)


class LoginUser(Strict):
    email = text(254, required=True)
    password = text(1024, required=True)


class LoginBody(Strict):
    user = fields.Nested(LoginUser, required=True, error_messages=BLANK)


class NewUser(Strict):
    username = fields.String(required=True, validate=[not_blank, USERNAME], error_messages=BLANK)
    email = fields.String(required=True, validate=[not_blank, email_rule], error_messages=BLANK)
    password = fields.String(required=True, validate=[not_blank, password_rule], error_messages=BLANK)


class NewUserBody(Strict):
    user = fields.Nested(NewUser, required=True, error_messages=BLANK)


class UpdateUser(Strict):
    json_schema = {"minProperties": 1}
    username = fields.String(validate=[not_blank, USERNAME], error_messages=BLANK)
    email = fields.String(validate=[not_blank, email_rule], error_messages=BLANK)
    password = fields.String(validate=[not_blank, password_rule], error_messages=BLANK)
    bio = fields.String(allow_none=True, validate=validate.Length(max=500))
    image = fields.String(allow_none=True, metadata={
        "description": "only null/\"\" (remove the avatar) or the current URL; upload a new avatar "
                       "with PUT /api/v1/users/me/avatar"})


class UpdateUserBody(Strict):
    user = fields.Nested(UpdateUser, required=True, error_messages=BLANK)


def tag_list() -> fields.List:
    return fields.List(fields.String(validate=validate.Length(max=100, error="is too long (maximum is 100 characters)")),
                       validate=validate.Length(max=MAX_TAGS, error=f"has too many tags (maximum is {MAX_TAGS})"),
                       error_messages=BLANK)


class NewArticle(Strict):
    title = text(100, required=True)
    description = text(500, required=True)
    body = text(5000, required=True)
    tagList = tag_list()  # noqa: N815 - the Conduit field name


class NewArticleBody(Strict):
    article = fields.Nested(NewArticle, required=True, error_messages=BLANK)


class UpdateArticle(Strict):
    title = text(100)
    description = text(500)
    body = text(5000)
    tagList = tag_list()  # noqa: N815


class UpdateArticleBody(Strict):
    article = fields.Nested(UpdateArticle, required=True, error_messages=BLANK)


class NewComment(Strict):
    body = text(2000, required=True)


class NewCommentBody(Strict):
    comment = fields.Nested(NewComment, required=True, error_messages=BLANK)


class ArticlesQuery(Strict):
    tag = fields.String(metadata={"description": "articles with this tag"})
    author = fields.String(metadata={"description": "articles by this username"})
    favorited = fields.String(metadata={"description": "articles favorited by this username"})
    limit = fields.Integer(validate=validate.Range(1, 2**62),
                           metadata={"description": f"default {DEFAULT_LIMIT}, at most {MAX_LIMIT}"})
    offset = fields.Integer(validate=validate.Range(0, 2**62), metadata={"description": "articles to skip (default 0)"})


class FeedQuery(Strict):
    limit = fields.Integer(validate=validate.Range(1, 2**62),
                           metadata={"description": f"default {DEFAULT_LIMIT}, at most {MAX_LIMIT}"})
    offset = fields.Integer(validate=validate.Range(0, 2**62), metadata={"description": "articles to skip (default 0)"})


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


def _tags(values: list[str] | None) -> list[str] | None:
    """Stripped, without blanks or repeats, in alphabetical order (the order clients expect)."""
    if values is None:
        return None
    return sorted({t.strip() for t in values if t.strip()}, key=lambda t: (t.lower(), t))


async def _as(resource: str, call):
    """Run a shared write path; its 403/404 name the Conduit resource."""
    try:
        return await call
    except Forbidden:
        raise Forbidden(errors={resource: ["forbidden"]}) from None
    except NotFound:
        raise NotFound(errors={resource: ["not found"]}) from None


async def _resolve_slug(conn: Any, slug: str) -> int | None:
    """The post id a slug names: a stored slug, else "<slugified title>-<id>" of a titled post."""
    post_id = await conn.fetchval(Q.conduit.by_slug, {"slug": slug})
    if post_id is not None:
        return int(post_id)
    parts = shape.split_fallback(slug)
    if parts is None:
        return None
    row = await conn.fetchone(Q.conduit.fallback_slug, {"id": parts[1]})
    if row is not None and shape.slugify(row["title"]) == parts[0]:
        return int(row["id"])
    return None


async def _article_id(request: web.Request) -> int:
    post_id = await _resolve_slug(request.app[DB], request.match_info["slug"])
    if post_id is None:
        raise NotFound(errors={"article": ["not found"]})
    return post_id


async def _save_article(conn: Conn, post_id: int, *, title: str | None = None,
                        description: Any = _UNSET, tags: list[str] | None = None) -> None:
    """Inside a transaction: what an article adds to its post (a new title gets a new slug)."""
    if title is not None:
        base = shape.slugify(title)
        owner = await _resolve_slug(conn, base)
        slug = base if owner in (None, post_id) else f"{base}-{post_id}"
        if slug != base and await _resolve_slug(conn, slug) not in (None, post_id):
            slug = f"{base}-{post_id}-{secrets.token_hex(3)}"
        try:
            await conn.execute(Q.conduit.set_slug, {"id": post_id, "slug": slug})
        except pymysql.err.IntegrityError as exc:  # a concurrent article took it meanwhile
            if error_code(exc) != 1062:
                raise
            await conn.execute(Q.conduit.set_slug, {"id": post_id, "slug": f"{base}-{post_id}-{secrets.token_hex(3)}"})
    if description is not _UNSET:
        await conn.execute(Q.conduit.set_description, {"id": post_id, "description": description})
    if tags is not None:
        await conn.execute(Q.conduit.clear_post_tags, {"post_id": post_id})
        if tags:
            await conn.executemany(Q.conduit.add_tags, [{"name": t} for t in tags])
            ids = {r["name"]: r["id"] for r in await conn.fetchall(Q.conduit.tag_ids, {"names": tags})}
            await conn.executemany(Q.conduit.add_post_tag, [
                {"post_id": post_id, "tag_id": ids[t], "position": i} for i, t in enumerate(tags)])


async def _load_articles(app: web.Application, conn: Any, ids: list[int], viewer: int | None, *,
                         with_body: bool) -> list[dict[str, Any]]:
    """Articles for ids, in that order: two queries whatever the page size."""
    if not ids:
        return []
    rows = await conn.fetchall(Q.conduit.articles_by_ids, {"ids": ids, "viewer_id": viewer})
    tags: dict[int, list[str]] = {}
    for row in await conn.fetchall(Q.conduit.tags_of_posts, {"ids": ids}):
        tags.setdefault(row["post_id"], []).append(row["name"])
    by_id = {r["id"]: r for r in rows}
    return [shape.article(app, by_id[i], tags.get(i, []), with_body=with_body) for i in ids if i in by_id]


async def _article_response(request: web.Request, post_id: int, status: int = 200) -> web.Response:
    found = await _load_articles(request.app, request.app[DB], [post_id], viewer_id(request), with_body=True)
    if not found:
        raise NotFound(errors={"article": ["not found"]})
    return json_response({"article": found[0]}, status=status)


async def _article_list(request: web.Request, page_q: str, count_q: str, args: dict[str, Any]) -> web.Response:
    app = request.app
    async with app[DB].connection() as conn:
        ids = [r["id"] for r in await conn.fetchall(page_q, args)]
        count = await conn.fetchval(count_q, args)
        articles = await _load_articles(app, conn, ids, viewer_id(request), with_body=False)
    return json_response({"articles": articles, "articlesCount": int(count or 0)})


def _native_user(row: dict[str, Any], token: str) -> dict[str, Any]:
    """Conduit User from the native User object /api/v1 answers with."""
    return {"email": row["email"], "token": token, "username": row["username"],
            "bio": row["bio"] or None, "image": row["profile_pic"]}


async def _taken(request: web.Request, username: str | None, email: str | None) -> dict[str, list[str]]:
    rows = await request.app[DB].fetchall(Q.users.taken, {"username": username, "email": email})
    errors: dict[str, list[str]] = {}
    if any(r["username_taken"] for r in rows):
        errors["username"] = ["has already been taken"]
    if any(r["email_taken"] for r in rows):
        errors["email"] = ["has already been taken"]
    return errors or {"username or email": ["has already been taken"]}


# --- users and authentication -----------------------------------------------------------------

@routes.post("/api/users/login")
@docs("Conduit: log in (email + password)", tags=TAGS, body=LoginBody,
      responses={200: shape.ConduitUserResponse, **BODY_ERRORS, 429: shape.ConduitErrorsSchema})
@conduit
async def login(request: web.Request) -> web.Response:
    data = (await load_body(request, LoginBody()))["user"]
    try:
        user_id = await check_credentials(request, data["email"], data["password"])
    except Unauthorized:
        raise Unauthorized(errors={"email or password": ["is invalid"]}) from None
    body = await issue_session(request, user_id, kind="conduit")
    return json_response({"user": _native_user(body["user"], body["access_token"])})


@routes.post("/api/users")
@docs("Conduit: register (the token lives as long as its session, config auth.conduit_ttl)", tags=TAGS,
      body=NewUserBody, responses={201: shape.ConduitUserResponse, 409: shape.ConduitErrorsSchema,
                                   422: shape.ConduitErrorsSchema, 400: shape.ConduitErrorsSchema,
                                   429: shape.ConduitErrorsSchema})
@conduit
async def register(request: web.Request) -> web.Response:
    app = request.app
    await limiter(app).hit("register_ip", client_ip(request) or "-", app[CONFIG].ratelimit.register_ip)
    data = (await load_body(request, NewUserBody()))["user"]
    password_hash = await hash_password(app, data["password"])
    try:
        async with app[DB].transaction() as tx:
            user_id = await tx.insert(Q.users.create, {
                "username": data["username"], "email": data["email"].strip(),
                "password_hash": password_hash, "full_name": None})
            body = await issue_session(request, user_id, kind="conduit", conn=tx)
    except pymysql.err.IntegrityError as exc:
        if error_code(exc) != 1062:  # ER_DUP_ENTRY
            raise
        raise Conflict(errors=await _taken(request, data["username"], data["email"].strip())) from None
    return json_response({"user": _native_user(body["user"], body["access_token"])}, status=201)


@routes.get("/api/user")
@docs("Conduit: the current user", tags=TAGS, auth="required",
      responses={200: shape.ConduitUserResponse, **ERRORS})
@conduit
async def current_user(request: web.Request) -> web.Response:
    row = await request.app[DB].fetchone(Q.conduit.account, {"id": require_user(request)})
    if row is None:
        raise Unauthorized()
    return json_response({"user": shape.user(request.app, row, bearer_token(request) or "")})


@routes.put("/api/user")
@docs("Conduit: update the current user (a new password revokes every other session)", tags=TAGS,
      auth="required", body=UpdateUserBody, responses={200: shape.ConduitUserResponse, **BODY_ERRORS})
@conduit
async def update_user(request: web.Request) -> web.Response:
    app, principal = request.app, request[PRINCIPAL]
    data = (await load_body(request, UpdateUserBody()))["user"]
    if not data:
        raise ValidationFailed({"user": ["must have at least one field"]})
    row = await app[DB].fetchone(Q.conduit.account, {"id": principal.user_id})
    clear_image = False
    if "image" in data:
        current = media_url(app, row["avatar_key"])
        if not data["image"]:
            clear_image = current is not None
        elif data["image"] != current:
            raise ValidationFailed({"image": [
                "can't be set to a URL: upload an avatar with PUT /api/v1/users/me/avatar"]})
    password_hash = await hash_password(app, data["password"]) if "password" in data else None
    args = {"id": principal.user_id, "clear_image": clear_image,
            "set_bio": "bio" in data, "bio": (data.get("bio") or "").strip() or None}
    for name in ("username", "email"):
        args[f"set_{name}"] = name in data
        args[name] = data[name].strip() if name in data else None
    try:
        async with app[DB].transaction() as tx:
            await tx.execute(Q.conduit.update_account, args)
            revoked: list[int] = []
            if password_hash is not None:
                await tx.execute(Q.users.set_password, {"id": principal.user_id, "password_hash": password_hash})
                revoked = await revoke_user_sessions(tx, principal.user_id, "password_change",
                                                     keep=principal.session_id)
    except pymysql.err.IntegrityError as exc:
        if error_code(exc) != 1062:
            raise
        taken = await _taken(request, args["username"] if args["set_username"] else None,
                             args["email"] if args["set_email"] else None)
        raise ValidationFailed(taken) from None
    await sessions_revoked(app, principal.user_id, revoked)
    row = await app[DB].fetchone(Q.conduit.account, {"id": principal.user_id})
    return json_response({"user": shape.user(app, row, bearer_token(request) or "")})


# --- profiles ---------------------------------------------------------------------------------

async def _profile_row(request: web.Request) -> dict[str, Any]:
    row = await request.app[DB].fetchone(Q.conduit.profile_by_username, {
        "username": request.match_info["username"], "viewer_id": viewer_id(request)})
    if row is None:
        raise NotFound(errors={"profile": ["not found"]})
    return row


@routes.get("/api/profiles/{username}")
@docs("Conduit: a profile", tags=TAGS, auth="optional",
      responses={200: shape.ConduitProfileResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def get_profile(request: web.Request) -> web.Response:
    row = await _profile_row(request)
    return json_response({"profile": shape.profile(request.app, row, row["following"])})


async def _follow(request: web.Request, on: bool) -> web.Response:
    me = require_user(request)
    row = await _profile_row(request)
    if row["id"] == me:
        raise ValidationFailed({"username": ["can't be yourself"]})
    change = follow_service.follow if on else follow_service.unfollow
    result = await _as("profile", change(request.app, me, row["id"]))
    return json_response({"profile": shape.profile(request.app, row, result["following"])})


@routes.post("/api/profiles/{username}/follow")
@docs("Conduit: follow a user (the same follow as PUT /api/v1/users/{id}/follow)", tags=TAGS,
      auth="required", responses={200: shape.ConduitProfileResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def follow(request: web.Request) -> web.Response:
    return await _follow(request, True)


@routes.delete("/api/profiles/{username}/follow")
@docs("Conduit: unfollow a user", tags=TAGS, auth="required",
      responses={200: shape.ConduitProfileResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def unfollow(request: web.Request) -> web.Response:
    return await _follow(request, False)


# --- articles ---------------------------------------------------------------------------------

@routes.get("/api/articles/feed")
@docs("Conduit: articles by the users the viewer follows, newest first", tags=TAGS, auth="required",
      query=FeedQuery, responses={200: shape.ConduitArticlesResponse, **ERRORS})
@conduit
async def feed(request: web.Request) -> web.Response:
    args = {"viewer_id": require_user(request), **_paging(request)}
    return await _article_list(request, Q.conduit.page_feed, Q.conduit.count_feed, args)


@routes.get("/api/articles")
@docs("Conduit: articles (posts with a title), newest first, filtered by tag, author or favorited",
      tags=TAGS, auth="optional", query=ArticlesQuery,
      responses={200: shape.ConduitArticlesResponse, **ERRORS})
@conduit
async def list_articles(request: web.Request) -> web.Response:
    q, db = request.query, request.app[DB]
    args: dict[str, Any] = {"author_id": None, "fav_id": None, "tag_id": None, **_paging(request)}
    lookups = (("author", "author_id", Q.conduit.user_id_by_username, "username"),
               ("favorited", "fav_id", Q.conduit.user_id_by_username, "username"),
               ("tag", "tag_id", Q.conduit.tag_id, "name"))
    for param, key, query, name in lookups:
        if q.get(param):
            args[key] = await db.fetchval(query, {name: q[param]})
            if args[key] is None:  # nobody by that name: nothing matches
                return json_response({"articles": [], "articlesCount": 0})
    if args["tag_id"] is not None:
        page, count = Q.conduit.page_by_tag, Q.conduit.count_by_tag
    elif args["fav_id"] is not None:
        page, count = Q.conduit.page_by_favorited, Q.conduit.count_by_favorited
    elif args["author_id"] is not None:
        page, count = Q.conduit.page_by_author, Q.conduit.count_by_author
    else:
        page, count = Q.conduit.page_all, Q.conduit.count_all
    return await _article_list(request, page, count, args)


@routes.post("/api/articles")
@docs("Conduit: create an article (a post with a title, same as POST /api/v1/posts)", tags=TAGS,
      auth="required", body=NewArticleBody, responses={201: shape.ConduitArticleResponse, **BODY_ERRORS})
@conduit
async def create_article(request: web.Request) -> web.Response:
    me, app = require_user(request), request.app
    data = (await load_body(request, NewArticleBody()))["article"]
    post_id = await post_service.create_post(app, me, data["body"], title=data["title"])
    try:
        await app[DB].run(lambda tx: _save_article(tx, post_id, title=data["title"],
                                                   description=data["description"],
                                                   tags=_tags(data.get("tagList")) or []))
    except Exception:
        await post_service.delete_post(app, me, post_id)  # all or nothing, as one create
        raise
    return await _article_response(request, post_id, status=201)


@routes.get("/api/articles/{slug}")
@docs("Conduit: an article", tags=TAGS, auth="optional",
      responses={200: shape.ConduitArticleResponse, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def get_article(request: web.Request) -> web.Response:
    return await _article_response(request, await _article_id(request))


@routes.put("/api/articles/{slug}")
@docs("Conduit: update one's article (a new title gives a new slug)", tags=TAGS, auth="required",
      body=UpdateArticleBody, responses={200: shape.ConduitArticleResponse, 403: shape.ConduitErrorsSchema,
                                         404: shape.ConduitErrorsSchema, **BODY_ERRORS})
@conduit
async def update_article(request: web.Request) -> web.Response:
    me, app = require_user(request), request.app
    data = (await load_body(request, UpdateArticleBody()))["article"]
    post_id = await _article_id(request)
    head = await app[DB].fetchone(Q.conduit.head, {"id": post_id})
    if head is None:
        raise NotFound(errors={"article": ["not found"]})
    changes = {k: data[v] for k, v in (("content", "body"), ("title", "title")) if v in data}
    # Also when only description or tags change: checks ownership and marks the post edited.
    await _as("article", post_service.update_post(app, me, post_id, **changes))
    new_title = data.get("title")
    reslug = new_title is not None and (new_title != head["title"] or head["slug"] is None)
    await app[DB].run(lambda tx: _save_article(
        tx, post_id, title=new_title if reslug else None,
        description=data["description"] if "description" in data else _UNSET,
        tags=_tags(data.get("tagList"))))
    return await _article_response(request, post_id)


@routes.delete("/api/articles/{slug}")
@docs("Conduit: delete one's article (its comments, favorites and notifications go with it)", tags=TAGS,
      auth="required", responses={204: None, 403: shape.ConduitErrorsSchema, 404: shape.ConduitErrorsSchema,
                                  **ERRORS})
@conduit
async def delete_article(request: web.Request) -> web.Response:
    post_id = await _article_id(request)
    await _as("article", post_service.delete_post(request.app, require_user(request), post_id))
    return web.Response(status=204)


async def _favorite(request: web.Request, on: bool) -> web.Response:
    post_id = await _article_id(request)
    change = post_service.like_post if on else post_service.unlike_post
    await _as("article", change(request.app, require_user(request), post_id))
    return await _article_response(request, post_id)


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
    post_id = await _article_id(request)
    rows = await request.app[DB].fetchall(Q.conduit.comments_of_post, {
        "post_id": post_id, "viewer_id": viewer_id(request), "limit": MAX_COMMENTS})
    return json_response({"comments": [shape.comment(request.app, r) for r in rows]})


@routes.post("/api/articles/{slug}/comments")
@docs("Conduit: comment on an article (the same comment as POST /api/v1/posts/{id}/comments)", tags=TAGS,
      auth="required", body=NewCommentBody,
      responses={201: shape.ConduitCommentResponse, 404: shape.ConduitErrorsSchema, **BODY_ERRORS})
@conduit
async def add_comment(request: web.Request) -> web.Response:
    me, app = require_user(request), request.app
    data = (await load_body(request, NewCommentBody()))["comment"]
    post_id = await _article_id(request)
    comment_id = await _as("article", comment_service.create_comment(app, me, post_id, data["body"]))
    row = await app[DB].fetchone(Q.conduit.comment_by_id, {"id": comment_id, "viewer_id": me})
    return json_response({"comment": shape.comment(app, row)}, status=201)


@routes.delete("/api/articles/{slug}/comments/{id}")
@docs("Conduit: delete a comment (its author or the article's author)", tags=TAGS, auth="required",
      responses={204: None, 403: shape.ConduitErrorsSchema, 404: shape.ConduitErrorsSchema, **ERRORS})
@conduit
async def delete_comment(request: web.Request) -> web.Response:
    me = require_user(request)
    post_id = await _article_id(request)
    raw = request.match_info["id"]
    row = await request.app[DB].fetchone(Q.conduit.comment_by_id, {
        "id": int(raw) if raw.isdigit() and len(raw) < 19 else 0, "viewer_id": me})
    if row is None or row["post_id"] != post_id:
        raise NotFound(errors={"comment": ["not found"]})
    await _as("comment", comment_service.delete_comment(request.app, me, row["id"]))
    return web.Response(status=204)


@routes.get("/api/tags")
@docs(f"Conduit: tags in use, most used first (at most {MAX_TAG_CLOUD})", tags=TAGS,
      responses={200: shape.ConduitTagsResponse, 422: shape.ConduitErrorsSchema})
@conduit
async def tags(request: web.Request) -> web.Response:
    rows = await request.app[DB].fetchall(Q.conduit.popular_tags, {"limit": MAX_TAG_CLOUD})
    return json_response({"tags": [r["name"] for r in rows]})
