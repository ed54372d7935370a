"""Reactions on messages: PUT / DELETE /api/v1/messages/{id}/reactions/{emoji} (idempotent)."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields

from server import reactions
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.responses import json_response
from server.http.schemas import ReactionSummarySchema

routes = web.RouteTableDef()
TAGS = ["messages"]
# The emoji is one path segment, percent-encoded (UTF-8); an empty one reaches the handler too,
# to be answered 400 like any other segment that is not one emoji.
PATH = r"/api/v1/messages/{id:\d+}/reactions/{emoji:[^/]*}"
EMOJI = ("`emoji` is exactly one emoji, percent-encoded as UTF-8: one grapheme cluster (an emoji with a "
         "skin tone, a flag, a ZWJ sequence such as a family, a keycap are one each); anything else is a 400.")
STATUSES = {400: None, 403: None, 404: None}


class ReactionStateSchema(Schema):
    message_id = fields.Integer(required=True)
    emoji = fields.String(required=True)
    reacted = fields.Boolean(required=True, metadata={"description": "the viewer's reaction with this emoji"})
    reactions = fields.List(fields.Nested(ReactionSummarySchema), required=True)


def _args(request: web.Request) -> tuple[int, int, str]:
    return require_user(request), int(request.match_info["id"]), request.match_info["emoji"]


@routes.put(PATH)
@docs("React to a message with one emoji (participants only; idempotent). A 21st different emoji on "
      "one message is a 409 `reaction-limit`", tags=TAGS, auth="required",
      responses={200: ReactionStateSchema, **STATUSES, 409: None}, description=EMOJI)
async def add(request: web.Request) -> web.Response:
    me, message_id, emoji = _args(request)
    return json_response(await reactions.react(request.app, me, message_id, emoji, on=True))


@routes.delete(PATH)
@docs("Take back one's reaction to a message (idempotent)", tags=TAGS, auth="required",
      responses={200: ReactionStateSchema, **STATUSES}, description=EMOJI)
async def remove(request: web.Request) -> web.Response:
    me, message_id, emoji = _args(request)
    return json_response(await reactions.react(request.app, me, message_id, emoji, on=False))
