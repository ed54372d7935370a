"""Avatars: the viewer's profile picture, replaced by an upload or removed."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handlers.media import UploadSchema, delete_unused_files, store
from server import present
from server.auth import require_user
from server.db import Conn
from server.http.openapi import docs
from server.http.responses import json_response
from server.http.schemas import UserSchema
from server.keys import DB
from server.media.intake import read_upload
from server.queries import QUERIES as Q

routes = web.RouteTableDef()
TAGS = ["users"]


async def set_avatar(app: web.Application, user_id: int, cols: dict[str, Any] | None) -> None:
    """Make `cols` (a stored file's media columns; None removes it) the avatar.

    The old avatar's row goes in the same transaction; its files after COMMIT, if unshared.
    """
    old: dict[str, Any] = {}

    async def change(tx: Conn) -> None:
        old.clear()
        old.update(await tx.fetchone(Q.media.lock_avatar, {"user_id": user_id}) or {})
        media_id = None
        if cols is not None:
            media_id = await tx.insert(Q.media.insert, {**cols, "user_id": user_id, "purpose": "avatar"})
        await tx.execute(Q.media.set_avatar, {"user_id": user_id, "media_id": media_id})
        if old.get("avatar_media_id"):
            await tx.execute(Q.media.delete_avatar, {"id": old["avatar_media_id"], "user_id": user_id})

    await app[DB].run(change)
    await delete_unused_files(app, [old.get("storage_key"), old.get("thumb_key")])


@routes.put("/api/v1/users/me/avatar")
@docs("Replace the profile picture (multipart field `file`: JPEG, PNG, WebP or GIF)", tags=TAGS,
      auth="required", body=UploadSchema, body_content_type="multipart/form-data",
      responses={200: UserSchema, 413: None, 415: None})
async def put_avatar(request: web.Request) -> web.Response:
    me = require_user(request)
    upload = await read_upload(request, kinds=("image",))
    await set_avatar(request.app, me, await store(request.app, upload))
    return json_response(await present.user(request.app[DB], request.app, me, with_email=True))


@routes.delete("/api/v1/users/me/avatar")
@docs("Remove the profile picture", tags=TAGS, auth="required", responses={200: UserSchema})
async def delete_avatar(request: web.Request) -> web.Response:
    me = require_user(request)
    await set_avatar(request.app, me, None)
    return json_response(await present.user(request.app[DB], request.app, me, with_email=True))
