"""Hashtags: a tag's posts, trending tags, following tags and the followed list."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from server import hashtags
from server.http.identity import require_user, viewer_id
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_query, raw_page

routes = web.RouteTableDef()
TAGS = ["tags"]


class TrendingQuery(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=hashtags.TRENDING_MAX))


class TrendingTagSchema(Schema):
    tag = fields.String(required=True, metadata={"description": "normalized (case-folded) tag, without '#'"})
    authors = fields.Integer(required=True, metadata={"description": "distinct authors in the last 24 hours"})
    posts = fields.Integer(required=True, metadata={"description": "posts carrying it in the last 24 hours"})


class TrendingSchema(Schema):
    items = fields.List(fields.Nested(TrendingTagSchema), required=True)


class TagFollowStateSchema(Schema):
    tag = fields.String(required=True)
    following = fields.Boolean(required=True)


class FollowedTagSchema(Schema):
    tag = fields.String(required=True)
    followed_at = fields.String(required=True)


@routes.get("/api/v1/tags/trending")
@docs("Trending tags: used by the most distinct authors in the last 24 hours", tags=TAGS, auth="optional",
      query=TrendingQuery, responses={200: TrendingSchema, 400: None})
async def trending(request: web.Request) -> web.Response:
    limit = load_query(request, TrendingQuery())["limit"]
    return json_response({"items": await hashtags.trending(request.app, limit)})


@routes.get("/api/v1/tags/followed")
@docs("The tags one follows (newest follow first)", tags=TAGS, auth="required", paginated=True,
      responses={200: FollowedTagSchema})
async def followed(request: web.Request) -> web.Response:
    return json_response(await hashtags.followed(request.app, require_user(request), page_params(request)))


@routes.get("/api/v1/tags/{tag}/posts")
@docs("A tag's posts, newest first (the tag in any case, with or without '#')", tags=TAGS, auth="optional",
      paginated=True, responses={200: "PostSchema", 422: None})  # by name: handlers/posts.py declares it
async def tag_posts(request: web.Request) -> web.Response:
    page = await hashtags.tag_posts(request.app, request.match_info["tag"], page_params(request), viewer_id(request))
    return raw_page(page["items"], page["next_cursor"])


@routes.put("/api/v1/tags/{tag}/follow")
@docs("Follow a tag: its posts join one's home timeline (idempotent)", tags=TAGS, auth="required",
      responses={200: TagFollowStateSchema, 422: None})
async def follow(request: web.Request) -> web.Response:
    return json_response(await hashtags.follow(request.app, require_user(request), request.match_info["tag"]))


@routes.delete("/api/v1/tags/{tag}/follow")
@docs("Stop following a tag (idempotent)", tags=TAGS, auth="required",
      responses={200: TagFollowStateSchema, 422: None})
async def unfollow(request: web.Request) -> web.Response:
    return json_response(await hashtags.follow(request.app, require_user(request), request.match_info["tag"],
                                               on=False))
