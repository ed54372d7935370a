"""Edit history: the earlier versions of a post, a comment or a message."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields

from server import history
from server.http.identity import require_user, viewer_id
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response
from server.http.schemas import MediaSchema

routes = web.RouteTableDef()


class MessageVersionSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "The version's id (the page cursor)."})
    content = fields.String()
    created_at = fields.String(metadata={"description": "When this version was written."})
    replaced_at = fields.String(metadata={"description": "When the next edit replaced it."})


class CommentVersionSchema(MessageVersionSchema):
    media = fields.List(fields.Nested(MediaSchema), metadata={"description": "The media attached then."})


class PostVersionSchema(CommentVersionSchema):
    title = fields.String(allow_none=True)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.get(r"/api/v1/posts/{id:\d+}/history")
@docs("A post's earlier versions, newest first (?after=0: oldest first)", tags=["posts"], auth="optional",
      paginated=True, responses={200: PostVersionSchema, 404: None})
async def post_history(request: web.Request) -> web.Response:
    return json_response(await history.post_history(request.app, _id(request), viewer_id(request),
                                                    page_params(request)))


@routes.get(r"/api/v1/comments/{id:\d+}/history")
@docs("A comment's earlier versions, newest first (?after=0: oldest first)", tags=["comments"],
      auth="optional", paginated=True, responses={200: CommentVersionSchema, 404: None})
async def comment_history(request: web.Request) -> web.Response:
    return json_response(await history.comment_history(request.app, _id(request), viewer_id(request),
                                                       page_params(request)))


@routes.get(r"/api/v1/messages/{id:\d+}/history")
@docs("A message's earlier versions (participants only), newest first (?after=0: oldest first)",
      tags=["messages"], auth="required", paginated=True, responses={200: MessageVersionSchema, 404: None})
async def message_history(request: web.Request) -> web.Response:
    return json_response(await history.message_history(request.app, require_user(request), _id(request),
                                                       page_params(request)))
