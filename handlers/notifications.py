"""Notifications: list (?unread=true, ?grouped=true), unread count, mark read → notification.read with
the new count; the per-type settings."""

from __future__ import annotations

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server import notifications
from server.errors import BadRequest, ValidationFailed
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body, load_query, read_json
from server.http.responses import validate as validate_body
from server.http.schemas import Strict, UserSummarySchema

routes = web.RouteTableDef()
TAGS = ["notifications"]


class ListQuery(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "true: unread only"})
    grouped = fields.Boolean(load_default=False, metadata={
        "description": "true: a page of NotificationGroup (likes per post or comment and UTC day, follows "
                       "per UTC day, the rest one by one), keyset on each group's latest_notification_id; "
                       "not together with unread"})

    class Meta:
        unknown = EXCLUDE  # limit, before, after: read by page_params


class MarkReadSchema(Strict):
    ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)),
                      validate=validate.Length(min=1, max=100))
    up_to_id = fields.Integer(strict=True, validate=validate.Range(min=1))
    group_key = fields.String(validate=validate.Regexp(
        f"^(?:{notifications.GROUP_KEY_PATTERN})$", error="A group_key of the grouped list."), metadata={
        "description": "one group of ?grouped=true: all its notifications"})


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


class NotificationGroupSchema(Schema):
    group_key = fields.String(required=True, metadata={
        "description": "like:<post_id>:<YYYY-MM-DD>, comment_like:<comment_id>:<YYYY-MM-DD>, follow:<YYYY-MM-DD> "
                       "(UTC days) or notification:<id> (a group of one)"})
    type = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "distinct actors (1 for a group of one)"})
    actors = fields.List(fields.Nested(UserSummarySchema), required=True, metadata={
        "description": "the latest actors, at most 3, newest first (none for report.resolved)"})
    latest_notification_id = fields.Integer(required=True, metadata={"description": "the page's cursor"})
    latest_at = fields.String(required=True)
    day = fields.String(allow_none=True, metadata={"description": "the UTC day of a grouped group"})
    post_id = fields.Integer(allow_none=True)
    comment_id = fields.Integer(allow_none=True)
    message_id = fields.Integer(allow_none=True)
    report_id = fields.Integer(allow_none=True)
    message = fields.String(metadata={"description": "e.g. \"alice, bob and 12 others liked your post\""})
    unread_count = fields.Integer()
    is_read = fields.Boolean(metadata={"description": "every notification of the group is read"})


TYPES = notifications.TYPES


class JsonBoolean(fields.Boolean):
    """true or false only (0, 1, "true" and the like are a 422)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class NotificationSettingsSchema(Strict):
    """Every notification type: true (on) or false (off: neither stored nor pushed)."""

    follow = JsonBoolean()
    like = JsonBoolean()
    comment = JsonBoolean()
    comment_like = JsonBoolean()
    message = JsonBoolean()
    response = JsonBoolean()
    mention = JsonBoolean()
    report_resolved = JsonBoolean(data_key="report.resolved")


# Loaded attribute → type name (the body's key).
_SETTING = {name: f.data_key or name for name, f in NotificationSettingsSchema().fields.items()}
assert sorted(_SETTING.values()) == sorted(TYPES)


class CountSchema(Schema):
    count = fields.Integer()


class UnreadSchema(Schema):
    unread_count = fields.Integer()


@routes.get("/api/v1/notifications")
@docs("The viewer's notifications, newest first (?grouped=true: grouped)", tags=TAGS, auth="required",
      paginated=True, query=ListQuery,
      responses={200: {"anyOf": [NotificationSchema, NotificationGroupSchema]}, 400: None})
async def index(request: web.Request) -> web.Response:
    me, p = require_user(request), page_params(request)
    query = load_query(request, ListQuery())
    if query["grouped"]:
        if query["unread"]:
            raise BadRequest("Pass either 'grouped' or 'unread', not both.")
        return json_response(await notifications.grouped_page(request.app, me, p))
    return json_response(await notifications.page(request.app, me, p, unread=query["unread"]))


@routes.get("/api/v1/notifications/unread_count")
@docs("How many notifications are unread", tags=TAGS, auth="required", responses={200: CountSchema})
async def unread_count(request: web.Request) -> web.Response:
    return json_response({"count": await notifications.unread_count(request.app, require_user(request))})


@routes.post("/api/v1/notifications/read")
@docs("Mark notifications read: by ids, up to an id, one group (group_key), or (none of them) all",
      tags=TAGS, auth="required", body=MarkReadSchema, body_required=False,
      responses={200: UnreadSchema, 400: None, 422: None})
async def mark_read(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, MarkReadSchema()) if request.body_exists else {}
    count = await notifications.mark_read(request.app, me, ids=data.get("ids"), up_to_id=data.get("up_to_id"),
                                          group_key=data.get("group_key"))
    return json_response({"unread_count": count})


@routes.get("/api/v1/users/me/notification_settings")
@docs("Which notification types the viewer gets (every type, true: on)", tags=TAGS, auth="required",
      responses={200: NotificationSettingsSchema})
async def get_settings(request: web.Request) -> web.Response:
    return json_response(await notifications.settings(request.app, require_user(request)))


@routes.patch("/api/v1/users/me/notification_settings")
@docs("Switch notification types on or off (any subset; an unknown type is a 400). A type switched off "
      "is neither stored nor pushed", tags=TAGS, auth="required", body=NotificationSettingsSchema,
      responses={200: NotificationSettingsSchema, 400: None, 422: None})
async def patch_settings(request: web.Request) -> web.Response:
    me = require_user(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ValidationFailed({"_body": ["Send a JSON object."]})
    if unknown := sorted(set(body) - set(TYPES)):
        raise BadRequest(f"Unknown notification types: {', '.join(unknown)}. Known: {', '.join(TYPES)}.")
    changes = validate_body(NotificationSettingsSchema(), body)
    return json_response(await notifications.update_settings(
        request.app, me, {_SETTING[name]: on for name, on in changes.items()}))
