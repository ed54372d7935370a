"""Comments on posts and comment likes; the write paths are plain functions shared with the Conduit API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web
from marshmallow import Schema, fields, validate

from handlers.posts import (
    LikeStateSchema,
    MediaIdsMixin,
    attach_media,
    media_ids_field,
    not_blank,
    remove_files,
)
from server.auth import require_user, viewer_id
from server.db import Tx
from server.documents import comment_docs, comment_page
from server.errors import Forbidden, NotFound, ValidationFailed
from server.events import run_and_publish
from server.http.idempotency import idempotent
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body, raw_json, raw_page
from server.http.schemas import MediaSchema, Strict, UserSummarySchema
from server.keys import DB
from server.notify import notify, retract
from server.queries import QUERIES as Q

routes = web.RouteTableDef()
TAGS = ["comments"]
_UNSET = object()


class CommentCreateSchema(MediaIdsMixin, Strict):
    content = fields.String(required=True, validate=[validate.Length(min=1, max=2000), not_blank])
    media_ids = media_ids_field()


class CommentUpdateSchema(MediaIdsMixin, Strict):
    json_schema = {"minProperties": 1}
    content = fields.String(validate=[validate.Length(min=1, max=2000), not_blank])
    media_ids = media_ids_field()


class CommentSchema(Schema):
    id = fields.Integer(required=True)
    post_id = fields.Integer()
    author = fields.Nested(UserSummarySchema)
    content = fields.String()
    media = fields.List(fields.Nested(MediaSchema))
    likes_count = fields.Integer()
    liked = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    edited = fields.Boolean()


# --- shared write paths -------------------------------------------------------------------

async def create_comment(app: web.Application, user_id: int, post_id: int, content: str,
                         media_ids: Sequence[int] = ()) -> int:
    """Comment on a post (comments_count + 1; the post's author is notified) → the comment id."""
    async def fn(conn: Tx) -> int:
        post = await conn.fetchone(Q.posts.lock, {"id": post_id})
        if post is None:
            raise NotFound("No such post.")
        comment_id = await conn.insert(Q.comments.create, {"post_id": post_id, "user_id": user_id,
                                                           "content": content})
        await conn.execute(Q.comments.bump_post, {"post_id": post_id, "delta": 1})
        await attach_media(conn, user_id, media_ids, comment_id=comment_id)
        await notify(conn, app, user_id=post["user_id"], type="comment", actor_id=user_id,
                                   post_id=post_id, comment_id=comment_id)
        return comment_id

    return await run_and_publish(app, fn)


async def update_comment(app: web.Application, user_id: int, comment_id: int, *, content: Any = _UNSET,
                         media_ids: Any = _UNSET) -> None:
    """Edit one's own comment; media_ids replaces its attachments."""
    async def fn(conn: Tx) -> None:
        row = await conn.fetchone(Q.comments.lock, {"id": comment_id})
        if row is None:
            raise NotFound("No such comment.")
        if row["user_id"] != user_id:
            raise Forbidden("Only the author may edit this comment.")
        await conn.execute(Q.comments.update, {"id": comment_id, "set_content": content is not _UNSET,
                                               "content": None if content is _UNSET else content})
        if media_ids is not _UNSET:
            await conn.execute(Q.posts.detach_comment_media, {"comment_id": comment_id})
            await attach_media(conn, user_id, media_ids or (), comment_id=comment_id)

    await run_and_publish(app, fn)


async def delete_comment(app: web.Application, user_id: int, comment_id: int) -> None:
    """Delete a comment: its author or the post's author (comments_count - 1); its media files go too."""
    async def fn(conn: Tx) -> list[dict[str, Any]]:
        owner = await conn.fetchone(Q.comments.owner, {"id": comment_id})
        if owner is None:
            raise NotFound("No such comment.")
        if user_id not in (owner["user_id"], owner["post_author_id"]):
            raise Forbidden("Only the comment's author or the post's author may delete it.")
        # Post row first, as in create_comment, so the two never lock in opposite orders.
        if await conn.fetchone(Q.posts.lock, {"id": owner["post_id"]}) is None:
            raise NotFound("No such comment.")
        files = await conn.fetchall(Q.posts.comment_media_keys, {"comment_id": comment_id})
        if not await conn.execute(Q.comments.delete, {"id": comment_id}):
            raise NotFound("No such comment.")
        await conn.execute(Q.comments.bump_post, {"post_id": owner["post_id"], "delta": -1})
        return files

    await remove_files(app, await run_and_publish(app, fn))


async def _comment_like(app: web.Application, user_id: int, comment_id: int, *, on: bool) -> dict[str, Any]:
    async def fn(conn: Tx) -> dict[str, Any]:
        row = await conn.fetchone(Q.comments.lock, {"id": comment_id})
        if row is None:
            raise NotFound("No such comment.")
        args = {"comment_id": comment_id, "user_id": user_id}
        if await conn.execute(Q.likes.like_comment if on else Q.likes.unlike_comment, args):
            await conn.execute(Q.likes.bump_comment, {"comment_id": comment_id, "delta": 1 if on else -1})
            change = notify if on else retract
            await change(conn, app, user_id=row["user_id"], type="comment_like",
                                       actor_id=user_id, post_id=row["post_id"], comment_id=comment_id)
        count = await conn.fetchval(Q.likes.comment_likes_count, {"comment_id": comment_id})
        return {"liked": on, "likes_count": int(count)}

    return await run_and_publish(app, fn)


async def like_comment(app: web.Application, user_id: int, comment_id: int) -> dict[str, Any]:
    """Like a comment (idempotent) → {liked: True, likes_count}."""
    return await _comment_like(app, user_id, comment_id, on=True)


async def unlike_comment(app: web.Application, user_id: int, comment_id: int) -> dict[str, Any]:
    """Unlike a comment (idempotent) → {liked: False, likes_count}."""
    return await _comment_like(app, user_id, comment_id, on=False)


async def comment_doc(app: web.Application, comment_id: int, viewer: int | None) -> str:
    """The Comment as a JSON document (built by MariaDB), for raw_json."""
    docs = await comment_docs(app, [comment_id], viewer)
    if not docs:
        raise NotFound("No such comment.")
    return docs[0]


# --- HTTP -----------------------------------------------------------------------------------

def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.get(r"/api/v1/posts/{id:\d+}/comments")
@docs("Comments on a post (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: CommentSchema, 404: None})
async def list_comments(request: web.Request) -> web.Response:
    post_id, p = _id(request), page_params(request)
    page = await comment_page(request.app, p, viewer_id(request), post_id)
    # Comments go with their post, so only an empty page needs to ask whether the post exists.
    if not page["items"] and await request.app[DB].fetchone(Q.posts.owner, {"id": post_id}) is None:
        raise NotFound("No such post.")
    return raw_page(page["items"], page["next_cursor"])


@routes.post(r"/api/v1/posts/{id:\d+}/comments")
@docs("Comment on a post", tags=TAGS, auth="required", body=CommentCreateSchema,
      responses={201: CommentSchema, 404: None, 409: None, 422: None},
      extra={"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]})
async def create(request: web.Request) -> web.Response:
    me = require_user(request)

    async def run() -> web.Response:
        data = await load_body(request, CommentCreateSchema())
        comment_id = await create_comment(request.app, me, _id(request), data["content"],
                                          data.get("media_ids", ()))
        return raw_json(await comment_doc(request.app, comment_id, me), status=201)

    return await idempotent(request, me, run)


@routes.patch(r"/api/v1/comments/{id:\d+}")
@docs("Edit one's own comment", tags=TAGS, auth="required", body=CommentUpdateSchema,
      responses={200: CommentSchema, 403: None, 404: None, 422: None})
async def edit(request: web.Request) -> web.Response:
    me, comment_id = require_user(request), _id(request)
    data = await load_body(request, CommentUpdateSchema())
    if not data:
        raise ValidationFailed({"_body": ["Send content or media_ids."]})
    await update_comment(request.app, me, comment_id, **data)
    return raw_json(await comment_doc(request.app, comment_id, me))


@routes.delete(r"/api/v1/comments/{id:\d+}")
@docs("Delete a comment (its author or the post's author)", tags=TAGS, auth="required",
      responses={204: None, 403: None, 404: None})
async def delete(request: web.Request) -> web.Response:
    await delete_comment(request.app, require_user(request), _id(request))
    return web.Response(status=204)


@routes.put(r"/api/v1/comments/{id:\d+}/like")
@docs("Like a comment", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def like(request: web.Request) -> web.Response:
    return json_response(await like_comment(request.app, require_user(request), _id(request)))


@routes.delete(r"/api/v1/comments/{id:\d+}/like")
@docs("Unlike a comment", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def unlike(request: web.Request) -> web.Response:
    return json_response(await unlike_comment(request.app, require_user(request), _id(request)))
