"""Reports: a user reports a user, post, comment or message to the moderators."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from server import reports
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.responses import json_response, load_body
from server.http.schemas import Strict

routes = web.RouteTableDef()
TAGS = ["moderation"]


class ReportCreateSchema(Strict):
    target = fields.String(required=True, validate=validate.OneOf(reports.TARGETS))
    id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=validate.OneOf(reports.REASONS))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ReportTargetSchema(Schema):
    type = fields.String(validate=validate.OneOf(reports.TARGETS))
    id = fields.Integer()


class FiledReportSchema(Schema):
    id = fields.Integer(required=True)
    target = fields.Nested(ReportTargetSchema)
    reason = fields.String(validate=validate.OneOf(reports.REASONS))
    comment = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(["open", "resolved"]))
    created_at = fields.String()


@routes.post("/api/v1/reports")
@docs("Report a user, post, comment or message (a message only if one took part in it); a second open "
      "report on the same target returns the first (200)", tags=TAGS, auth="required", body=ReportCreateSchema,
      responses={201: FiledReportSchema, 200: FiledReportSchema, 404: None, 429: None})
async def create(request: web.Request) -> web.Response:
    me = require_user(request)
    data = await load_body(request, ReportCreateSchema())
    body, created = await reports.file_report(request.app, me, target_type=data["target"], target_id=data["id"],
                                              reason=data["reason"], comment=data["comment"])
    return json_response(body, status=201 if created else 200)
