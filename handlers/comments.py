"""Comments on posts and comment likes."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from server import comments, likes
from server.errors import ValidationFailed
from server.http.idempotency import idempotent
from server.http.identity import require_user, viewer_id
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body, raw_json, raw_page
from server.http.schemas import (
    LikeStateSchema,
    MediaIdsMixin,
    MediaSchema,
    Strict,
    UserSummarySchema,
    media_ids_field,
    mentions_field,
    not_blank,
    tags_field,
)

routes = web.RouteTableDef()
TAGS = ["comments"]


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
    edited_at = fields.String(allow_none=True, metadata={"description": "The last edit; null: never edited."})
    edited = fields.Boolean()
    tags = tags_field()
    mentions = mentions_field()


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.get(r"/api/v1/posts/{id:\d+}/comments")
@docs("Comments on a post (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: CommentSchema, 404: None})
async def list_comments(request: web.Request) -> web.Response:
    page = await comments.post_comments(request.app, _id(request), page_params(request), viewer_id(request))
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
        comment_id = await comments.create_comment(request.app, me, _id(request), data["content"],
                                                   data.get("media_ids", ()))
        return raw_json(await comments.get_comment(request.app, comment_id, me), status=201)

    return await idempotent(request, me, run)


@routes.patch(r"/api/v1/comments/{id:\d+}")
@docs("Edit one's own comment", tags=TAGS, auth="required", body=CommentUpdateSchema,
      responses={200: CommentSchema, 403: None, 404: None, 422: None})
async def edit(request: web.Request) -> web.Response:
    me, comment_id = require_user(request), _id(request)
    data = await load_body(request, CommentUpdateSchema())
    if not data:
        raise ValidationFailed({"_body": ["Send content or media_ids."]})
    await comments.update_comment(request.app, me, comment_id, **data)
    return raw_json(await comments.get_comment(request.app, comment_id, me))


@routes.delete(r"/api/v1/comments/{id:\d+}")
@docs("Delete a comment (its author or the post's author)", tags=TAGS, auth="required",
      responses={204: None, 403: None, 404: None})
async def delete(request: web.Request) -> web.Response:
    await comments.delete_comment(request.app, require_user(request), _id(request))
    return web.Response(status=204)


@routes.put(r"/api/v1/comments/{id:\d+}/like")
@docs("Like a comment", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def like(request: web.Request) -> web.Response:
    return json_response(await likes.like_comment(request.app, require_user(request), _id(request)))


@routes.delete(r"/api/v1/comments/{id:\d+}/like")
@docs("Unlike a comment", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def unlike(request: web.Request) -> web.Response:
    return json_response(await likes.unlike_comment(request.app, require_user(request), _id(request)))
