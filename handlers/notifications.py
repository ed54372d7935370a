"""Notifications: list (?unread=true), unread count, mark read → notification.read with the new count."""

from __future__ import annotations

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server import notifications
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body, load_query
from server.http.schemas import Strict, UserSummarySchema

routes = web.RouteTableDef()
TAGS = ["notifications"]


class ListQuery(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "true: unread only"})

    class Meta:
        unknown = EXCLUDE  # limit, before, after: read by page_params


class MarkReadSchema(Strict):
    ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)),
                      validate=validate.Length(min=1, max=100))
    up_to_id = fields.Integer(strict=True, validate=validate.Range(min=1))


class NotificationSchema(Schema):
    id = fields.Integer(required=True)
    type = fields.String(validate=validate.OneOf(
        ["follow", "like", "comment", "comment_like", "message", "response", "report.resolved", "mention"]))
    actor = fields.Nested(UserSummarySchema, allow_none=True,
                          metadata={"description": "null for report.resolved (moderators stay anonymous)"})
    post_id = fields.Integer(allow_none=True)
    comment_id = fields.Integer(allow_none=True)
    message_id = fields.Integer(allow_none=True)
    report_id = fields.Integer(allow_none=True)
    message = fields.String()
    is_read = fields.Boolean()
    created_at = fields.String()


class CountSchema(Schema):
    count = fields.Integer()


class UnreadSchema(Schema):
    unread_count = fields.Integer()


@routes.get("/api/v1/notifications")
@docs("The viewer's notifications, newest first", tags=TAGS, auth="required", paginated=True,
      query=ListQuery, responses={200: NotificationSchema, 400: None})
async def index(request: web.Request) -> web.Response:
    me, p = require_user(request), page_params(request)
    unread = load_query(request, ListQuery())["unread"]
    return json_response(await notifications.page(request.app, me, p, unread=unread))


@routes.get("/api/v1/notifications/unread_count")
@docs("How many notifications are unread", tags=TAGS, auth="required", responses={200: CountSchema})
async def unread_count(request: web.Request) -> web.Response:
    return json_response({"count": await notifications.unread_count(request.app, require_user(request))})


@routes.post("/api/v1/notifications/read")
@docs("Mark notifications read: by ids, up to an id, or (neither) all", tags=TAGS, auth="required",
      body=MarkReadSchema, body_required=False, responses={200: UnreadSchema})
async def mark_read(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, MarkReadSchema()) if request.body_exists else {}
    count = await notifications.mark_read(request.app, me, ids=data.get("ids"), up_to_id=data.get("up_to_id"))
    return json_response({"unread_count": count})
