"""The moderation API under /api/v1/admin/ (moderators and admins; anyone else 403): reports and
their resolution, suspensions, the moderation log."""

from __future__ import annotations

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server import moderation, reports
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body, load_query
from server.http.schemas import Strict, UserSummarySchema

routes = web.RouteTableDef()
TAGS = ["moderation"]
STAFF_ONLY = {401: None, 403: None}


class ReportsQuery(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]))

    class Meta:
        unknown = EXCLUDE  # limit, before, after: read by page_params


class AuditQuery(Schema):
    user_id = fields.Integer(load_default=None, validate=validate.Range(min=1),
                             metadata={"description": "only entries about this user"})

    class Meta:
        unknown = EXCLUDE


class ResolveSchema(Strict):
    action = fields.String(required=True, validate=validate.OneOf(reports.ACTIONS))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    until = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "suspend_user: when the suspension ends by itself (default: until lifted)"})


class SuspendSchema(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    until = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "when the suspension ends by itself (ISO 8601 with offset; default: until lifted)"})


class UnsuspendSchema(Strict):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ReportedUserSchema(UserSummarySchema):
    state = fields.String(validate=validate.OneOf(["active", "suspended", "deleted"]))


class TargetSchema(Schema):
    type = fields.String(validate=validate.OneOf(reports.TARGETS))
    id = fields.Integer()


class ReportSchema(Schema):
    id = fields.Integer(required=True)
    target = fields.Nested(TargetSchema)
    reason = fields.String(validate=validate.OneOf(reports.REASONS))
    comment = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(["open", "resolved"]))
    created_at = fields.String()
    reporter = fields.Nested(UserSummarySchema)
    target_user = fields.Nested(ReportedUserSchema)
    snapshot = fields.Dict(metadata={"description": "the reported thing as it was when reported"})
    action = fields.String(allow_none=True, validate=validate.OneOf(reports.ACTIONS))
    note = fields.String(allow_none=True)
    resolved_by = fields.Nested(UserSummarySchema, allow_none=True)
    resolved_at = fields.String(allow_none=True)


class ModeratedUserSchema(UserSummarySchema):
    role = fields.String(validate=validate.OneOf(moderation.ROLES))
    state = fields.String(validate=validate.OneOf(["active", "suspended"]))
    suspended_until = fields.String(allow_none=True)
    suspension_reason = fields.String(allow_none=True)
    state_changed_at = fields.String(allow_none=True)
    created_at = fields.String()
    followers_count = fields.Integer()
    following_count = fields.Integer()
    posts_count = fields.Integer()
    open_reports = fields.Integer()


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    actor = fields.Nested(UserSummarySchema, allow_none=True, metadata={"description": "null: the server"})
    action = fields.String(metadata={"description": "report.resolved, content.deleted, user.suspended, "
                                                    "user.unsuspended, role.changed"})
    subject_user_id = fields.Integer(allow_none=True)
    target = fields.Nested(TargetSchema, allow_none=True)
    report_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    details = fields.Dict()
    created_at = fields.String()


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.get("/api/v1/admin/reports")
@docs("Reports, open (default) or resolved, newest first", tags=TAGS, auth="required", paginated=True,
      query=ReportsQuery, responses={200: ReportSchema, 400: None, **STAFF_ONLY})
async def list_reports(request: web.Request) -> web.Response:
    me, p = require_user(request), page_params(request)
    status = load_query(request, ReportsQuery())["status"]
    return json_response(await reports.reports_page(request.app, me, status, p))


@routes.get(r"/api/v1/admin/reports/{id:\d+}")
@docs("One report", tags=TAGS, auth="required", responses={200: ReportSchema, 404: None, **STAFF_ONLY})
async def get_report(request: web.Request) -> web.Response:
    return json_response(await reports.get_report(request.app, require_user(request), _id(request)))


@routes.post(r"/api/v1/admin/reports/{id:\d+}/resolve")
@docs("Resolve a report (and every other open report on the same target) with an action; each reporter "
      "is notified", tags=TAGS, auth="required", body=ResolveSchema,
      responses={200: ReportSchema, 404: None, 409: None, **STAFF_ONLY})
async def resolve(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, ResolveSchema())
    return json_response(await reports.resolve(request.app, me, _id(request), **data))


@routes.get(r"/api/v1/admin/users/{id:\d+}")
@docs("A user as moderators see them (role, state, suspension), suspended ones included", tags=TAGS,
      auth="required", responses={200: ModeratedUserSchema, 404: None, **STAFF_ONLY})
async def get_user(request: web.Request) -> web.Response:
    return json_response(await moderation.user_view(request.app, require_user(request), _id(request)))


@routes.put(r"/api/v1/admin/users/{id:\d+}/suspension")
@docs("Suspend a user (again: new reason and end): sessions end, sockets close, logins are refused, "
      "their profile, posts and comments are hidden", tags=TAGS, auth="required", body=SuspendSchema,
      responses={200: ModeratedUserSchema, 404: None, **STAFF_ONLY})
async def suspend(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, SuspendSchema())
    return json_response(await moderation.suspend(request.app, me, _id(request), **data))


@routes.delete(r"/api/v1/admin/users/{id:\d+}/suspension")
@docs("Lift a suspension (optional body {note})", tags=TAGS, auth="required",
      body=UnsuspendSchema, body_required=False, responses={200: ModeratedUserSchema, 404: None, 422: None, **STAFF_ONLY})
async def unsuspend(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, UnsuspendSchema()) if request.body_exists else {}
    return json_response(await moderation.unsuspend(request.app, me, _id(request), data.get("note")))


@routes.get("/api/v1/admin/audit")
@docs("The moderation log (append-only), newest first", tags=TAGS, auth="required", paginated=True,
      query=AuditQuery, responses={200: AuditEntrySchema, 400: None, **STAFF_ONLY})
async def audit(request: web.Request) -> web.Response:
    me, p = require_user(request), page_params(request)
    subject = load_query(request, AuditQuery())["user_id"]
    return json_response(await moderation.audit_page(request.app, me, p, subject))
