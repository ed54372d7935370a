"""Notifications: list (?unread=true), unread count, mark read → notification.read with the new count."""

from __future__ import annotations

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server.auth import require_user
from server.db import Tx
from server.events import emit, run_and_publish
from server.http.openapi import docs
from server.http.pagination import make_page, page_params
from server.http.responses import json_response, load_body, load_query
from server.http.schemas import Strict, UserSummarySchema
from server.keys import DB
from server.notify import present
from server.queries import QUERIES as Q

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
        ["follow", "like", "comment", "comment_like", "message", "response"]))
    actor = fields.Nested(UserSummarySchema)
    post_id = fields.Integer(allow_none=True)
    comment_id = fields.Integer(allow_none=True)
    message_id = fields.Integer(allow_none=True)
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
    query = Q.notifications.unread_page if unread else Q.notifications.page
    rows = await request.app[DB].fetchall(p.sql(query), p.args(user_id=me))
    return json_response(make_page(rows, p, dump=lambda r: present(request.app, r)))


@routes.get("/api/v1/notifications/unread_count")
@docs("How many notifications are unread", tags=TAGS, auth="required", responses={200: CountSchema})
async def unread_count(request: web.Request) -> web.Response:
    count = await request.app[DB].fetchval(Q.notifications.unread_count, {"user_id": require_user(request)})
    return json_response({"count": int(count)})


@routes.post("/api/v1/notifications/read")
@docs("Mark notifications read: by ids, up to an id, or (neither) all", tags=TAGS, auth="required",
      body=MarkReadSchema, body_required=False, responses={200: UnreadSchema})
async def mark_read(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, MarkReadSchema()) if request.body_exists else {}

    async def tx(conn: Tx) -> int:
        changed = 0
        if "ids" in data:
            changed += await conn.execute(Q.notifications.mark_ids, {"user_id": me, "ids": data["ids"]})
        if "up_to_id" in data:
            changed += await conn.execute(Q.notifications.mark_up_to, {"user_id": me, "up_to_id": data["up_to_id"]})
        if not data:
            changed = await conn.execute(Q.notifications.mark_all, {"user_id": me})
        count = int(await conn.fetchval(Q.notifications.unread_count, {"user_id": me}))
        if changed:
            await emit(conn, me, "notification.read", {"unread_count": count})
        return count

    count = await run_and_publish(request.app, tx)
    return json_response({"unread_count": count})
