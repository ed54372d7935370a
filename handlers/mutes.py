"""Mutes: mute and unmute a user, the list of muted users."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from server import mutes
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body
from server.http.schemas import Strict, UserSchema

routes = web.RouteTableDef()
TAGS = ["users"]


class MuteBodySchema(Strict):
    duration = fields.Integer(load_default=None, allow_none=True, strict=True,
                              validate=validate.Range(min=1, max=mutes.MAX_DURATION),
                              metadata={"description": "seconds the mute lasts; null (default): until undone"})
    notifications = fields.Boolean(load_default=True, truthy={True}, falsy={False}, metadata={
        "description": "also no notifications from this user (default true)"})


class MuteStateSchema(Schema):
    muting = fields.Boolean(required=True)
    notifications = fields.Boolean()
    expires_at = fields.String(allow_none=True)


class MuteSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    notifications = fields.Boolean(required=True)
    expires_at = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.put(r"/api/v1/users/{id:\d+}/mute")
@docs("Mute a user: their posts leave your home feed and public timeline, with notifications: true "
      "their notifications too; for duration seconds or until undone. They notice nothing. Muting again "
      "replaces the settings", tags=TAGS, auth="required", body=MuteBodySchema,
      body_required=False, responses={200: MuteStateSchema, 404: None, 422: None})
async def put_mute(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, MuteBodySchema()) if request.body_exists else MuteBodySchema().load({})
    return json_response(await mutes.mute(request.app, me, _id(request), **data))


@routes.delete(r"/api/v1/users/{id:\d+}/mute")
@docs("Unmute a user (idempotent)", tags=TAGS, auth="required", responses={200: MuteStateSchema, 404: None})
async def delete_mute(request: web.Request) -> web.Response:
    return json_response(await mutes.unmute(request.app, require_user(request), _id(request)))


@routes.get("/api/v1/mutes")
@docs("The users you mute (mutes in force), newest mute first", tags=TAGS, auth="required", paginated=True,
      responses={200: MuteSchema})
async def list_mutes(request: web.Request) -> web.Response:
    return json_response(await mutes.muted_users(request.app, require_user(request), page_params(request)))
