"""Blocks: block and unblock a user, the list of blocked users."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields

from server import blocks
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response
from server.http.schemas import UserSchema

routes = web.RouteTableDef()
TAGS = ["users"]


class BlockStateSchema(Schema):
    blocking = fields.Boolean(required=True)


class BlockSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    created_at = fields.String(required=True)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.put(r"/api/v1/users/{id:\d+}/block")
@docs("Block a user (idempotent): the follows between you go both ways; from then on neither can follow, "
      "message, comment on or like the other, and each is hidden from the other", tags=TAGS, auth="required",
      responses={200: BlockStateSchema, 404: None, 422: None})
async def put_block(request: web.Request) -> web.Response:
    return json_response(await blocks.block(request.app, require_user(request), _id(request)))


@routes.delete(r"/api/v1/users/{id:\d+}/block")
@docs("Unblock a user (idempotent)", tags=TAGS, auth="required", responses={200: BlockStateSchema, 404: None})
async def delete_block(request: web.Request) -> web.Response:
    return json_response(await blocks.unblock(request.app, require_user(request), _id(request)))


@routes.get("/api/v1/blocks")
@docs("The users you block, newest block first", tags=TAGS, auth="required", paginated=True,
      responses={200: BlockSchema})
async def list_blocks(request: web.Request) -> web.Response:
    return json_response(await blocks.blocked_users(request.app, require_user(request), page_params(request)))
