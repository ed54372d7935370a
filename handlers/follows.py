"""Follows: follow/unfollow, follower and following lists."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields

from server import follows
from server.http.identity import require_user, viewer_id
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, raw_page
from server.http.schemas import UserSchema

routes = web.RouteTableDef()
TAGS = ["users"]


class FollowStateSchema(Schema):
    following = fields.Boolean(required=True)
    followers_count = fields.Integer(required=True)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.put(r"/api/v1/users/{id:\d+}/follow")
@docs("Follow a user (403 between users who block one another)", tags=TAGS, auth="required",
      responses={200: FollowStateSchema, 403: None, 404: None, 422: None})
async def put_follow(request: web.Request) -> web.Response:
    return json_response(await follows.follow(request.app, require_user(request), _id(request)))


@routes.delete(r"/api/v1/users/{id:\d+}/follow")
@docs("Stop following a user", tags=TAGS, auth="required",
      responses={200: FollowStateSchema, 404: None, 422: None})
async def delete_follow(request: web.Request) -> web.Response:
    return json_response(await follows.unfollow(request.app, require_user(request), _id(request)))


@routes.get(r"/api/v1/users/{id:\d+}/followers")
@docs("Users following this user (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: UserSchema, 404: None})
async def followers(request: web.Request) -> web.Response:
    page = await follows.followers(request.app, _id(request), page_params(request), viewer_id(request))
    return raw_page(page["items"], page["next_cursor"])


@routes.get(r"/api/v1/users/{id:\d+}/following")
@docs("Users this user follows (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: UserSchema, 404: None})
async def following(request: web.Request) -> web.Response:
    page = await follows.following(request.app, _id(request), page_params(request), viewer_id(request))
    return raw_page(page["items"], page["next_cursor"])
