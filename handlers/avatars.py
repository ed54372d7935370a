"""Avatars: the viewer's profile picture, replaced by an upload or removed."""

from __future__ import annotations

from aiohttp import web

from server import users
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.responses import json_response
from server.http.schemas import UserSchema
from server.media.intake import UploadSchema, read_upload

routes = web.RouteTableDef()
TAGS = ["users"]


@routes.put("/api/v1/users/me/avatar")
@docs("Replace the profile picture (multipart field `file`: JPEG, PNG, WebP or GIF)", tags=TAGS,
      auth="required", body=UploadSchema, body_content_type="multipart/form-data",
      responses={200: UserSchema, 413: None, 415: None})
async def put_avatar(request: web.Request) -> web.Response:
    me = require_user(request)
    upload = await read_upload(request, kinds=("image",))
    return json_response(await users.set_avatar(request.app, me, upload))


@routes.delete("/api/v1/users/me/avatar")
@docs("Remove the profile picture", tags=TAGS, auth="required", responses={200: UserSchema})
async def delete_avatar(request: web.Request) -> web.Response:
    return json_response(await users.remove_avatar(request.app, require_user(request)))
