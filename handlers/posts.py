"""Posts: create, show, edit, delete; likes on posts and their likers; bookmarks; the public, home and user
timelines."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from server import bookmarks, likes, posts, timeline
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
TAGS = ["posts"]


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
    bookmarked = fields.Boolean(metadata={"description": "Whether the viewer bookmarked it (false anonymously)."})
    created_at = fields.String()
    updated_at = fields.String()
    edited_at = fields.String(allow_none=True, metadata={"description": "The last edit; null: never edited."})
    edited = fields.Boolean()
    tags = tags_field()
    mentions = mentions_field()


class BookmarkStateSchema(Schema):
    bookmarked = fields.Boolean(required=True)


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
        return raw_json(await posts.create_post_document(request.app, me, data["content"], data["title"],
                                                         data.get("media_ids", ())), status=201)

    return await idempotent(request, me, run)


@routes.get("/api/v1/posts")
@docs("Public timeline: every post, newest first", tags=TAGS, auth="optional", paginated=True,
      responses={200: PostSchema})
async def public(request: web.Request) -> web.Response:
    page = await timeline.public_page(request.app, page_params(request), viewer_id(request))
    return raw_page(page["items"], page["next_cursor"])


@routes.get("/api/v1/feed")
@docs("Home timeline: posts of followed users and one's own", tags=TAGS, auth="required", paginated=True,
      responses={200: PostSchema})
async def home(request: web.Request) -> web.Response:
    page = await timeline.home_page(request.app, page_params(request), require_user(request))
    return raw_page(page["items"], page["next_cursor"])


@routes.get(r"/api/v1/users/{id:\d+}/posts")
@docs("A user's posts, newest first", tags=["users"], auth="optional", paginated=True,
      responses={200: PostSchema, 404: None})
async def user_posts(request: web.Request) -> web.Response:
    user_id, p = int(request.match_info["id"]), page_params(request)
    page = await timeline.user_page(request.app, user_id, p, viewer_id(request))
    return raw_page(page["items"], page["next_cursor"])


@routes.get(r"/api/v1/posts/{id:\d+}")
@docs("A post", tags=TAGS, auth="optional", responses={200: PostSchema, 404: None})
async def show(request: web.Request) -> web.Response:
    return raw_json(await posts.get_post(request.app, _post_id(request), viewer_id(request)))


@routes.patch(r"/api/v1/posts/{id:\d+}")
@docs("Edit one's own post", tags=TAGS, auth="required", body=PostUpdateSchema,
      responses={200: PostSchema, 403: None, 404: None, 422: None})
async def edit(request: web.Request) -> web.Response:
    me, post_id = require_user(request), _post_id(request)
    data = await load_body(request, PostUpdateSchema())
    if not data:
        raise ValidationFailed({"_body": ["Send at least one of content, title, media_ids."]})
    await posts.update_post(request.app, me, post_id, **data)
    return raw_json(await posts.get_post(request.app, post_id, me))


@routes.delete(r"/api/v1/posts/{id:\d+}")
@docs("Delete one's own post", tags=TAGS, auth="required", responses={204: None, 403: None, 404: None})
async def delete(request: web.Request) -> web.Response:
    await posts.delete_post(request.app, require_user(request), _post_id(request))
    return web.Response(status=204)


@routes.put(r"/api/v1/posts/{id:\d+}/like")
@docs("Like a post", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def like(request: web.Request) -> web.Response:
    return json_response(await likes.like_post(request.app, require_user(request), _post_id(request)))


@routes.delete(r"/api/v1/posts/{id:\d+}/like")
@docs("Unlike a post", tags=TAGS, auth="required", responses={200: LikeStateSchema, 404: None})
async def unlike(request: web.Request) -> web.Response:
    return json_response(await likes.unlike_post(request.app, require_user(request), _post_id(request)))


@routes.get(r"/api/v1/posts/{id:\d+}/likes")
@docs("Who liked a post (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: UserSummarySchema, 404: None})
async def likers(request: web.Request) -> web.Response:
    return json_response(await likes.likers(request.app, _post_id(request), page_params(request),
                                            viewer_id(request)))


@routes.put(r"/api/v1/posts/{id:\d+}/bookmark")
@docs("Bookmark a post (idempotent)", tags=TAGS, auth="required", responses={200: BookmarkStateSchema, 404: None})
async def bookmark(request: web.Request) -> web.Response:
    return json_response(await bookmarks.bookmark(request.app, require_user(request), _post_id(request)))


@routes.delete(r"/api/v1/posts/{id:\d+}/bookmark")
@docs("Remove a bookmark (idempotent)", tags=TAGS, auth="required", responses={200: BookmarkStateSchema, 404: None})
async def unbookmark(request: web.Request) -> web.Response:
    return json_response(await bookmarks.unbookmark(request.app, require_user(request), _post_id(request)))


@routes.get("/api/v1/bookmarks")
@docs("One's bookmarked posts, newest bookmark first (the cursor is the bookmark's)", tags=TAGS,
      auth="required", paginated=True, responses={200: PostSchema})
async def bookmarked(request: web.Request) -> web.Response:
    page = await bookmarks.bookmarks(request.app, require_user(request), page_params(request))
    return raw_page(page["items"], page["next_cursor"])
