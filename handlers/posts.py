"""Posts, post likes and the feeds; the write paths are plain functions shared with the Conduit API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web
from marshmallow import Schema, ValidationError, fields, validate, validates

from server import present
from server import timeline as home_timelines
from server.auth import require_user, viewer_id
from server.db import Conn, Tx
from server.documents import post_docs, post_page
from server.errors import Forbidden, NotFound, ValidationFailed
from server.events import run_and_publish
from server.http.idempotency import idempotent
from server.http.openapi import docs
from server.http.pagination import make_page, page_params
from server.http.responses import json_response, load_body, raw_json, raw_page
from server.http.schemas import MediaSchema, NotBlank, Strict, UserSummarySchema
from server.keys import DB
from server.notify import notify, retract
from server.queries import QUERIES as Q
from server.timeline import home_page

routes = web.RouteTableDef()
TAGS = ["posts"]


def setup(app: web.Application) -> None:
    home_timelines.setup(app)  # the home timeline cache the write paths below keep current
MAX_MEDIA = 4
_UNSET = object()


not_blank = NotBlank("Must not be blank.")


def media_ids_field() -> fields.List:
    return fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)),
                       validate=validate.Length(max=MAX_MEDIA), metadata={"uniqueItems": True})


class MediaIdsMixin:
    @validates("media_ids")
    def _distinct(self, value: list[int], **_: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Media ids must be distinct.")


class PostCreateSchema(MediaIdsMixin, Strict):
    content = fields.String(required=True, validate=[validate.Length(min=1, max=5000), not_blank])
    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    media_ids = media_ids_field()


class PostUpdateSchema(MediaIdsMixin, Strict):
    json_schema = {"minProperties": 1}
    content = fields.String(validate=[validate.Length(min=1, max=5000), not_blank])
    title = fields.String(allow_none=True, validate=validate.Length(max=100))
    media_ids = media_ids_field()


class PostSchema(Schema):
    id = fields.Integer(required=True)
    author = fields.Nested(UserSummarySchema)
    title = fields.String(allow_none=True)
    content = fields.String()
    media = fields.List(fields.Nested(MediaSchema))
    likes_count = fields.Integer()
    comments_count = fields.Integer()
    liked = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    edited = fields.Boolean()


class LikeStateSchema(Schema):
    liked = fields.Boolean(required=True)
    likes_count = fields.Integer(required=True)


# --- shared write paths -------------------------------------------------------------------

async def attach_media(conn: Conn, user_id: int, media_ids: Sequence[int], *, post_id: int | None = None,
                       comment_id: int | None = None) -> None:
    """Attach the author's own unattached uploads, all or none (422), in the caller's transaction."""
    ids = list(media_ids)
    if not ids:
        return
    if len(set(ids)) != len(ids) or len(ids) > MAX_MEDIA:
        raise ValidationFailed({"media_ids": [f"At most {MAX_MEDIA} distinct media ids."]})
    attached = await conn.execute(Q.posts.attach_media, {
        "ids": ids, "order": ",".join(map(str, ids)), "user_id": user_id,
        "post_id": post_id, "comment_id": comment_id})
    if attached != len(ids):
        raise ValidationFailed({"media_ids": ["Each media id must be one of your own uploads, not yet attached."]})


async def create_post(app: web.Application, user_id: int, content: str, title: str | None = None,
                      media_ids: Sequence[int] = ()) -> int:
    """Create a post (posts_count + 1, media attached) → its id."""
    async def fn(conn: Tx) -> int:
        await conn.execute(Q.posts.bump_user_posts, {"user_id": user_id, "delta": 1})
        post_id = await conn.insert(Q.posts.create, {"user_id": user_id, "title": title, "content": content})
        await attach_media(conn, user_id, media_ids, post_id=post_id)
        return post_id

    post_id = await run_and_publish(app, fn)
    await home_timelines.post_created(app, user_id, post_id)
    return post_id


async def _lock_own_post(conn: Conn, user_id: int, post_id: int) -> dict[str, Any]:
    row = await conn.fetchone(Q.posts.lock, {"id": post_id})
    if row is None:
        raise NotFound("No such post.")
    if row["user_id"] != user_id:
        raise Forbidden("Only the author may change this post.")
    return row


async def update_post(app: web.Application, user_id: int, post_id: int, *, content: Any = _UNSET,
                      title: Any = _UNSET, media_ids: Any = _UNSET) -> None:
    """Edit one's own post: only the given fields change; media_ids replaces the attachments."""
    async def fn(conn: Tx) -> None:
        await _lock_own_post(conn, user_id, post_id)
        await conn.execute(Q.posts.update, {
            "id": post_id, "set_content": content is not _UNSET, "content": None if content is _UNSET else content,
            "set_title": title is not _UNSET, "title": None if title is _UNSET else title})
        if media_ids is not _UNSET:
            await conn.execute(Q.posts.detach_post_media, {"post_id": post_id})
            await attach_media(conn, user_id, media_ids or (), post_id=post_id)

    await run_and_publish(app, fn)


async def remove_files(app: web.Application, rows: list[dict[str, Any]]) -> None:
    """After COMMIT: the files of deleted media rows that no other row shares."""
    from handlers.media import delete_unused_files  # the media area owns storage

    keys = [k for r in rows for k in (r["storage_key"], r["thumb_key"]) if k]
    if keys:
        await delete_unused_files(app, keys)


async def delete_post(app: web.Application, user_id: int, post_id: int) -> None:
    """Delete one's own post; comments, likes, attachments (and their files) and notifications go with it."""
    async def fn(conn: Tx) -> list[dict[str, Any]]:
        owner = await conn.fetchone(Q.posts.owner, {"id": post_id})
        if owner is None:
            raise NotFound("No such post.")
        if owner["user_id"] != user_id:
            raise Forbidden("Only the author may delete this post.")
        # The author's row first (as in create_post), then the post.
        await conn.execute(Q.posts.bump_user_posts, {"user_id": user_id, "delta": -1})
        await _lock_own_post(conn, user_id, post_id)
        files = await conn.fetchall(Q.posts.post_media_keys, {"post_id": post_id})
        await conn.execute(Q.posts.delete, {"id": post_id})
        return files

    files = await run_and_publish(app, fn)
    await home_timelines.post_deleted(app, user_id, post_id)
    await remove_files(app, files)


async def _post_like(app: web.Application, user_id: int, post_id: int, *, on: bool) -> dict[str, Any]:
    async def fn(conn: Tx) -> dict[str, Any]:
        # The post row locked first: likers queue on it instead of deadlocking on the
        # shared FK lock that INSERT would otherwise take before the counter's exclusive one.
        post = await conn.fetchone(Q.posts.lock, {"id": post_id})
        if post is None:
            raise NotFound("No such post.")
        args = {"post_id": post_id, "user_id": user_id}
        if await conn.execute(Q.likes.like_post if on else Q.likes.unlike_post, args):
            await conn.execute(Q.likes.bump_post, {"post_id": post_id, "delta": 1 if on else -1})
            change = notify if on else retract
            await change(conn, app, user_id=post["user_id"], type="like", actor_id=user_id,
                                       post_id=post_id)
        count = await conn.fetchval(Q.likes.post_likes_count, {"post_id": post_id})
        return {"liked": on, "likes_count": int(count)}

    return await run_and_publish(app, fn)


async def like_post(app: web.Application, user_id: int, post_id: int) -> dict[str, Any]:
    """Like (idempotent) → {liked: True, likes_count}."""
    return await _post_like(app, user_id, post_id, on=True)


async def unlike_post(app: web.Application, user_id: int, post_id: int) -> dict[str, Any]:
    """Unlike (idempotent) → {liked: False, likes_count}."""
    return await _post_like(app, user_id, post_id, on=False)


async def post_doc(app: web.Application, post_id: int, viewer: int | None) -> str:
    """The Post as a JSON document (built by MariaDB), for raw_json."""
    docs = await post_docs(app, [post_id], viewer)
    if not docs:
        raise NotFound("No such post.")
    return docs[0]


# --- HTTP -----------------------------------------------------------------------------------

def _post_id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.post("/api/v1/posts")
@docs("Create a post", tags=TAGS, auth="required", body=PostCreateSchema,
      responses={201: PostSchema, 409: None, 422: None},
      extra={"parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]})
async def create(request: web.Request) -> web.Response:
    me = require_user(request)

    async def run() -> web.Response:
        data = await load_body(request, PostCreateSchema())
        post_id = await create_post(request.app, me, data["content"], data["title"], data.get("media_ids", ()))
        return raw_json(await post_doc(request.app, post_id, me), status=201)

    return await idempotent(request, me, run)


@routes.get("/api/v1/posts")
@docs("Public timeline: every post, newest first", tags=TAGS, auth="optional", paginated=True,
      responses={200: PostSchema})
async def timeline(request: web.Request) -> web.Response:
    page = await post_page(request.app, Q.feed.public_ids, page_params(request), viewer_id(request))
    return raw_page(page["items"], page["next_cursor"])


@routes.get("/api/v1/feed")
@docs("Home timeline: posts of followed users and one's own", tags=TAGS, auth="required", paginated=True,
      responses={200: PostSchema})
async def home(request: web.Request) -> web.Response:
    me = require_user(request)
    page = await home_page(request.app, page_params(request), me)
    return raw_page(page["items"], page["next_cursor"])


@routes.get(r"/api/v1/users/{id:\d+}/posts")
@docs("A user's posts, newest first", tags=["users"], auth="optional", paginated=True,
      responses={200: PostSchema, 404: None})
async def user_posts(request: web.Request) -> web.Response:
    user_id, p = int(request.match_info["id"]), page_params(request)
    page = await post_page(request.app, Q.feed.user_ids, p, viewer_id(request), user_id=user_id)
    # Posts go with their author, so only an empty page needs to ask whether the user exists.
    if not page["items"] and not await request.app[DB].fetchval(Q.follows.user_exists, {"id": user_id}):
        raise NotFound("No such user.")
    return raw_page(page["items"], page["next_cursor"])


@routes.get(r"/api/v1/posts/{id:\d+}")
@docs("A post", tags=TAGS, auth="optional", responses={200: PostSchema, 404: None})
async def show(request: web.Request) -> web.Response:
    return raw_json(await post_doc(request.app, _post_id(request), viewer_id(request)))


@routes.patch(r"/api/v1/posts/{id:\d+}")
@docs("Edit one's own post", tags=TAGS, auth="required", body=PostUpdateSchema,
      responses={200: PostSchema, 403: None, 404: None, 422: None})
async def edit(request: web.Request) -> web.Response:
    me, post_id = require_user(request), _post_id(request)
    data = await load_body(request, PostUpdateSchema())
    if not data:
        raise ValidationFailed({"_body": ["Send at least one of content, title, media_ids."]})
    await update_post(request.app, me, post_id, **data)
    return raw_json(await post_doc(request.app, post_id, me))


@routes.delete(r"/api/v1/posts/{id:\d+}")
@docs("Delete one's own post", tags=TAGS, auth="required", responses={204: None, 403: None, 404: None})
async def delete(request: web.Request) -> web.Response:
    await delete_post(request.app, require_user(request), _post_id(request))
    return web.Response(status=204)


@routes.put(r"/api/v1/posts/{id:\d+}/like")
@docs("Like a post", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def like(request: web.Request) -> web.Response:
    return json_response(await like_post(request.app, require_user(request), _post_id(request)))


@routes.delete(r"/api/v1/posts/{id:\d+}/like")
@docs("Unlike a post", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def unlike(request: web.Request) -> web.Response:
    return json_response(await unlike_post(request.app, require_user(request), _post_id(request)))


@routes.get(r"/api/v1/posts/{id:\d+}/likes")
@docs("Who liked a post (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: UserSummarySchema, 404: None})
async def likers(request: web.Request) -> web.Response:
    app, post_id, p = request.app, _post_id(request), page_params(request)
    async with app[DB].connection() as conn:
        if await conn.fetchone(Q.posts.owner, {"id": post_id}) is None:
            raise NotFound("No such post.")
        rows = await conn.fetchall(p.sql(Q.likes.post_likers), p.args(post_id=post_id))
    return json_response(make_page(rows, p, key=lambda r: r["like_id"],
                                   dump=lambda r: present.user_summary(app, r)))
