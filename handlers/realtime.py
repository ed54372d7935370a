"""Real time: the WebSocket endpoint (auth before the upgrade) and single-use tickets. What client
frames mean is ws/frames.py; the hub is ws/hub.py."""

from __future__ import annotations

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server import accounts
from server.errors import BadRequest, Forbidden, Unauthorized
from server.http.identity import origin_allowed, require_principal
from server.http.openapi import docs
from server.http.responses import json_response, load_query
from server.keys import CONFIG, PRINCIPAL
from ws import hub
from ws.frames import on_frame

routes = web.RouteTableDef()
TAGS = ["real time"]


def setup(app: web.Application) -> None:
    hub.setup(app)


# --- handshake ----------------------------------------------------------------------------------

class WsQuery(Schema):
    ticket = fields.String(validate=validate.Length(min=1, max=128),
                           metadata={"description": "single-use ticket from POST /api/v1/ws/ticket"})
    last_seq = fields.Integer(validate=validate.Range(min=0),
                              metadata={"description": "resume: replay every stream event after this seq"})

    class Meta:
        unknown = EXCLUDE


class TicketSchema(Schema):
    ticket = fields.String(required=True)
    expires_in = fields.Integer(required=True)




@routes.post("/api/v1/ws/ticket")
@docs("A single-use ticket (30 s) to open the WebSocket with ?ticket=", tags=TAGS, auth="required",
      responses={201: TicketSchema})
async def ticket(request: web.Request) -> web.Response:
    return json_response(await accounts.issue_ticket(request.app, require_principal(request)), status=201)


@routes.get("/api/v1/ws")
@docs("The real-time WebSocket (see API.md \"Real time\"): authenticate with the Authorization header, "
      "?ticket= or the session cookie", tags=TAGS, query=WsQuery,
      responses={101: None, 400: None, 401: None, 403: None})
async def websocket(request: web.Request) -> web.StreamResponse:
    app = request.app
    if not origin_allowed(request):
        raise Forbidden("This Origin may not open the WebSocket.")
    query = load_query(request, WsQuery())
    principal = request[PRINCIPAL]
    if principal is None and query.get("ticket"):
        principal = await accounts.redeem_ticket(app, query["ticket"])
        if principal is None:
            raise Unauthorized("The ticket is not valid, expired or was already used.")
    if principal is None:
        raise Unauthorized()
    cfg = app[CONFIG].ws
    ws = web.WebSocketResponse(heartbeat=cfg.heartbeat, max_msg_size=hub.hub_of(app).max_msg_size)
    if not ws.can_prepare(request).ok:
        raise BadRequest("Expected a WebSocket upgrade.")
    await ws.prepare(request)
    sock = hub.Socket(ws, request, principal.user_id, principal.session_id, cfg.send_queue)
    await hub.hub_of(app).serve(sock, query.get("last_seq"), on_frame)
    return ws


