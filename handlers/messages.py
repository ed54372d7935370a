"""One-to-one chat over REST: send, conversations, history, read, edit, delete, responses."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from server import chat
from server.http.idempotency import idempotent
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body
from server.http.schemas import MediaSchema, ReactionSummarySchema, Strict, UserSummarySchema, media_or_text

routes = web.RouteTableDef()
TAGS = ["messages"]
KINDS = validate.OneOf(["text", "image", "video"])
CLIENT_ID = validate.Regexp(r"^[\x21-\x7e]{1,64}$", error="1–64 printable ASCII characters.")


class MessageCreateSchema(Strict):
    json_schema = media_or_text("message_type")
    recipient_id = fields.Integer(required=True, strict=True)
    content = fields.String(required=True, validate=validate.Length(max=chat.MAX_CONTENT))
    message_type = fields.String(load_default="text", validate=KINDS)
    media_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    client_id = fields.String(load_default=None, allow_none=True, validate=CLIENT_ID)


class MessageEditSchema(Strict):
    content = fields.String(required=True, validate=validate.Length(max=chat.MAX_CONTENT))


class ReadSchema(Strict):
    up_to_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))


class ResponseCreateSchema(Strict):
    json_schema = media_or_text("response_type")
    content = fields.String(required=True, validate=validate.Length(max=chat.MAX_CONTENT))
    response_type = fields.String(load_default="text", validate=KINDS)
    media_id = fields.Integer(load_default=None, allow_none=True, strict=True)


class MessageSchema(Schema):
    id = fields.Integer(required=True)
    sender_id = fields.Integer()
    recipient_id = fields.Integer()
    message_type = fields.String()
    content = fields.String()
    media = fields.Nested(MediaSchema, allow_none=True)
    client_id = fields.String(allow_none=True)
    read_at = fields.String(allow_none=True)
    responses_count = fields.Integer()
    created_at = fields.String()
    edited_at = fields.String(allow_none=True)
    reactions = fields.List(fields.Nested(ReactionSummarySchema), metadata={
        "description": "emoji reactions, in order of first use, as the viewer sees them (`me`)"})


class ResponseSchema(Schema):
    id = fields.Integer(required=True)
    message_id = fields.Integer()
    author_id = fields.Integer()
    response_type = fields.String()
    content = fields.String()
    media = fields.Nested(MediaSchema, allow_none=True)
    created_at = fields.String()


class ConversationSchema(Schema):
    peer = fields.Nested(UserSummarySchema)
    last_message = fields.Nested(MessageSchema)
    unread_count = fields.Integer(metadata={"description": "0 while the conversation is muted"})
    last_read_id = fields.Integer()
    muted = fields.Boolean(metadata={"description": "the viewer muted this conversation"})


class ReadStateSchema(Schema):
    unread_count = fields.Integer()
    last_read_id = fields.Integer()


class ConversationMuteSchema(Schema):
    muted = fields.Boolean(required=True)


def _id(request: web.Request, name: str = "id") -> int:
    return int(request.match_info[name])


@routes.post("/api/v1/messages")
@docs("Send a message (client_id makes it idempotent: a retry returns the existing message, 200)",
      tags=TAGS, auth="required", body=MessageCreateSchema,
      responses={201: MessageSchema, 200: MessageSchema, 403: None, 422: None},
      extra={"parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]})
async def send(request: web.Request) -> web.Response:
    me = require_user(request)

    async def run() -> web.Response:
        data = await load_body(request, MessageCreateSchema())
        msg, created = await chat.send_message(request.app, me, **data)
        return json_response(msg, status=201 if created else 200)

    return await idempotent(request, me, run)


@routes.get("/api/v1/conversations")
@docs("The viewer's conversations, most recent first", tags=TAGS, auth="required", paginated=True,
      responses={200: ConversationSchema})
async def conversations(request: web.Request) -> web.Response:
    return json_response(await chat.conversations(request.app, require_user(request), page_params(request)))


@routes.get(r"/api/v1/conversations/{user_id:\d+}/messages")
@docs("Messages between the viewer and a user (newest first; ?after= for newer)", tags=TAGS,
      auth="required", paginated=True, responses={200: MessageSchema, 404: None})
async def history(request: web.Request) -> web.Response:
    me, peer, p = require_user(request), _id(request, "user_id"), page_params(request)
    return json_response(await chat.history(request.app, me, peer, p))


@routes.post(r"/api/v1/conversations/{user_id:\d+}/read")
@docs("Mark the peer's messages read up to up_to_id (default: newest); the peer gets message.read",
      tags=TAGS, auth="required", body=ReadSchema, body_required=False, responses={200: ReadStateSchema, 404: None})
async def read(request: web.Request) -> web.Response:
    me, peer = require_user(request), _id(request, "user_id")
    data = await load_body(request, ReadSchema()) if request.body_exists else {"up_to_id": None}
    return json_response(await chat.mark_read(request.app, me, peer, data["up_to_id"]))


@routes.put(r"/api/v1/conversations/{user_id:\d+}/mute")
@docs("Mute the conversation with a user: messages still arrive and are stored, but make no notification "
      "and no unread badge; the user notices nothing", tags=TAGS, auth="required",
      responses={200: ConversationMuteSchema, 404: None})
async def mute(request: web.Request) -> web.Response:
    me, peer = require_user(request), _id(request, "user_id")
    return json_response(await chat.mute_conversation(request.app, me, peer, on=True))


@routes.delete(r"/api/v1/conversations/{user_id:\d+}/mute")
@docs("Unmute the conversation with a user", tags=TAGS, auth="required",
      responses={200: ConversationMuteSchema, 404: None})
async def unmute(request: web.Request) -> web.Response:
    me, peer = require_user(request), _id(request, "user_id")
    return json_response(await chat.mute_conversation(request.app, me, peer, on=False))


@routes.get(r"/api/v1/messages/{id:\d+}")
@docs("A message (participants only)", tags=TAGS, auth="required", responses={200: MessageSchema, 404: None})
async def show(request: web.Request) -> web.Response:
    return json_response(await chat.get_message(request.app, require_user(request), _id(request)))


@routes.patch(r"/api/v1/messages/{id:\d+}")
@docs("Edit one's own message", tags=TAGS, auth="required", body=MessageEditSchema,
      responses={200: MessageSchema, 403: None, 404: None, 422: None})
async def edit(request: web.Request) -> web.Response:
    data = await load_body(request, MessageEditSchema())
    return json_response(await chat.edit_message(request.app, require_user(request), _id(request),
                                                 data["content"]))


@routes.delete(r"/api/v1/messages/{id:\d+}")
@docs("Delete one's own message; both sides get message.deleted", tags=TAGS, auth="required",
      responses={204: None, 403: None, 404: None})
async def delete(request: web.Request) -> web.Response:
    await chat.delete_message(request.app, require_user(request), _id(request))
    return web.Response(status=204)


@routes.get(r"/api/v1/messages/{id:\d+}/responses")
@docs("Responses to a message (participants only)", tags=TAGS, auth="required", paginated=True,
      responses={200: ResponseSchema, 404: None})
async def responses(request: web.Request) -> web.Response:
    me, message_id, p = require_user(request), _id(request), page_params(request)
    return json_response(await chat.responses(request.app, me, message_id, p))


@routes.post(r"/api/v1/messages/{id:\d+}/responses")
@docs("Respond to a message (participants only)", tags=TAGS, auth="required", body=ResponseCreateSchema,
      responses={201: ResponseSchema, 403: None, 404: None, 422: None},
      extra={"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]})
async def respond(request: web.Request) -> web.Response:
    me = require_user(request)

    async def run() -> web.Response:
        data = await load_body(request, ResponseCreateSchema())
        return json_response(await chat.add_response(request.app, me, _id(request), **data), status=201)

    return await idempotent(request, me, run)
