"""Real time: the WebSocket endpoint (auth before the upgrade), single-use tickets, client frames."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from server import chat, events
from server.auth import Principal, session_active
from server.errors import ApiError, BadRequest, Forbidden, Unauthorized
from server.http.openapi import docs
from server.http.responses import json_response, load_query
from server.http.schemas import Strict
from server.keys import CONFIG, DB, PRINCIPAL, REDIS, SERVICES
from server.queries import QUERIES as Q
from ws.hub import FrameError, Hub, Socket, frame

routes = web.RouteTableDef()
TAGS = ["real time"]


def setup(app: web.Application) -> None:
    hub = Hub(app)
    app[SERVICES]["hub"] = hub

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await hub.start()
        yield
        await hub.stop()

    async def on_shutdown(app: web.Application) -> None:
        await hub.shutdown()

    app.cleanup_ctx.append(ctx)
    app.on_shutdown.append(on_shutdown)


def hub_of(app: web.Application) -> Hub:
    return app[SERVICES]["hub"]


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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(request: web.Request) -> bool:
    """No Origin (not a browser) or an allowed one; a browser elsewhere may not borrow the cookie."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    config = request.app[CONFIG]
    allowed = {_origin(o) for o in config.http.cors_origins}
    allowed.add(_origin(config.http.public_url))
    allowed.add(f"{request.scheme}://{request.host}".lower())
    return origin.rstrip("/").lower() in allowed


def _ticket_key(app: web.Application, ticket: str) -> str:
    return app[REDIS].key("wst", ticket)


async def consume_ticket(app: web.Application, ticket: str) -> Principal | None:
    # GETDEL: of two concurrent uses exactly one gets the value.
    value = await app[REDIS].client.getdel(_ticket_key(app, ticket))
    if not value:
        return None
    user_id, session_id, kind = value.split(":", 2)
    principal = Principal(int(user_id), int(session_id), kind)
    return principal if await session_active(app, principal) else None


@routes.post("/api/v1/ws/ticket")
@docs("A single-use ticket (30 s) to open the WebSocket with ?ticket=", tags=TAGS, auth="required",
      responses={201: TicketSchema})
async def ticket(request: web.Request) -> web.Response:
    principal: Principal = request[PRINCIPAL]
    app = request.app
    ttl = app[CONFIG].auth.ws_ticket_ttl
    value = secrets.token_urlsafe(32)
    await app[REDIS].client.set(_ticket_key(app, value),
                                f"{principal.user_id}:{principal.session_id}:{principal.kind}", ex=ttl)
    return json_response({"ticket": value, "expires_in": ttl}, status=201)


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
        principal = await consume_ticket(app, query["ticket"])
        if principal is None:
            raise Unauthorized("The ticket is not valid, expired or was already used.")
    if principal is None:
        raise Unauthorized()
    cfg = app[CONFIG].ws
    ws = web.WebSocketResponse(heartbeat=cfg.heartbeat, max_msg_size=hub_of(app).max_msg_size)
    if not ws.can_prepare(request).ok:
        raise BadRequest("Expected a WebSocket upgrade.")
    await ws.prepare(request)
    sock = Socket(ws, request, principal.user_id, principal.session_id, cfg.send_queue)
    await hub_of(app).serve(sock, query.get("last_seq"), on_frame)
    return ws


# --- client frames ------------------------------------------------------------------------------

class SendFrame(Strict):
    to = fields.Integer(required=True, strict=True)
    content = fields.String(required=True)
    message_type = fields.String(load_default="text", validate=validate.OneOf(["text", "image", "video"]))
    media_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    client_id = fields.String(required=True, validate=validate.Regexp(r"^[\x21-\x7e]{1,64}$"))


class TypingFrame(Strict):
    to = fields.Integer(required=True, strict=True)


def _load(schema: Schema, data: dict, client_id: str | None = None) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise FrameError("validation", "The frame did not validate.", client_id, errors=exc.messages) from None


async def on_frame(sock: Socket, type_: str, data: dict) -> None:
    handler = FRAMES.get(type_)
    if handler is None:
        raise FrameError("unknown_type", f"Unknown frame type {type_!r}; send message.send, typing or ping.")
    await handler(sock, data)


async def _ping(sock: Socket, data: dict) -> None:
    hub_of(sock.request.app).push(sock, frame("pong"))


async def _send(sock: Socket, data: dict) -> None:
    client_id = data.get("client_id") if isinstance(data.get("client_id"), str) else None
    body = _load(SendFrame(), data, client_id)
    app = sock.request.app
    try:
        msg, _ = await chat.send_message(app, sock.user_id, recipient_id=body["to"], content=body["content"],
                                         message_type=body["message_type"], media_id=body["media_id"],
                                         client_id=body["client_id"])
    except ApiError as exc:
        extra = {"errors": exc.errors} if exc.errors else {}
        raise FrameError(exc.slug, exc.detail or exc.title, body["client_id"], **extra) from None
    sock.peers.add(body["to"])
    hub_of(app).push(sock, frame("message.ack", {"client_id": body["client_id"], "message": msg}))


async def _typing(sock: Socket, data: dict) -> None:
    to = _load(TypingFrame(), data)["to"]
    app = sock.request.app
    if to not in sock.peers:
        if not await app[DB].fetchval(Q.realtime.is_peer, {"user_id": sock.user_id, "peer_id": to}):
            raise FrameError("not_found", "No conversation with this user.")
        sock.peers.add(to)
    now = time.monotonic()
    if now - sock.typing_at.get(to, -1e9) < app[CONFIG].ws.typing_interval:
        return  # throttled: the peer already knows
    sock.typing_at[to] = now
    await events.publish_transient(app, to, "typing", {"user_id": sock.user_id})


FRAMES = {"ping": _ping, "message.send": _send, "typing": _typing}
