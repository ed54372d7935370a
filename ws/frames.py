"""Client frames of the real-time socket (native WebSocket and Socket.IO alike): validate a frame,
make one service call, answer with a frame. The transport (ws/hub.py, ws/socketio.py) reads and
writes; this module is what a frame means."""

from __future__ import annotations

import re
import time

from marshmallow import Schema, ValidationError, fields, validate

from server import chat
from server.db import ID_MAX, ID_MIN
from server.errors import ApiError, NotFound
from server.formats import dumps
from server.http.schemas import Strict
from server.keys import CONFIG
from ws.hub import FrameError, Socket, frame, hub_of


class SendFrame(Strict):
    to = fields.Integer(required=True, strict=True)
    content = fields.String(required=True)
    message_type = fields.String(load_default="text", validate=validate.OneOf(["text", "image", "video"]))
    media_id = fields.Integer(load_default=None, allow_none=True, strict=True)
    client_id = fields.String(required=True, validate=validate.Regexp(r"^[\x21-\x7e]{1,64}$"))


class TypingFrame(Strict):
    to = fields.Integer(required=True, strict=True)


# One instance each: building a marshmallow schema copies its fields, dearer than a load.
SEND_FRAME, TYPING_FRAME = SendFrame(), TypingFrame()


_SEND_KEYS = frozenset(("to", "content", "message_type", "media_id", "client_id"))
_MESSAGE_TYPES = frozenset(("text", "image", "video"))
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}")


def _send_body(data: dict) -> dict | None:
    """The `message.send` data as SEND_FRAME loads it, for a frame that is plainly valid (the
    common case, without marshmallow's cost); None when anything needs SEND_FRAME's judgement
    (which also words the errors)."""
    to, content, client_id = data.get("to"), data.get("content"), data.get("client_id")
    message_type, media_id = data.get("message_type", "text"), data.get("media_id")
    if (type(to) is int and ID_MIN <= to <= ID_MAX and type(content) is str and type(client_id) is str
            and _CLIENT_ID.fullmatch(client_id) and type(message_type) is str and message_type in _MESSAGE_TYPES
            and (media_id is None or (type(media_id) is int and ID_MIN <= media_id <= ID_MAX))
            and _SEND_KEYS.issuperset(data)):
        return {"to": to, "content": content, "message_type": message_type, "media_id": media_id,
                "client_id": client_id}
    return None


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
    body = _send_body(data) or _load(SEND_FRAME, data, client_id)
    app = sock.request.app
    try:
        msg, _ = await chat.send_message(app, sock.user_id, recipient_id=body["to"], content=body["content"],
                                         message_type=body["message_type"], media_id=body["media_id"],
                                         client_id=body["client_id"])
    except ApiError as exc:
        extra = {"errors": exc.errors} if exc.errors else {}
        raise FrameError(exc.slug, exc.detail or exc.title, body["client_id"], **extra) from None
    # The Message is encoded once: its message.created events carry the same text (chat.encoded).
    encoded = chat.encoded(msg)
    hub_of(app).push(sock, frame("message.ack", {"client_id": body["client_id"], "message": msg}) if encoded is None
                     else f'{{"type":"message.ack","data":{{"client_id":{dumps(body["client_id"]).decode()},'
                          f'"message":{encoded}}}}}')


async def _typing(sock: Socket, data: dict) -> None:
    to = _load(TYPING_FRAME, data)["to"]
    app = sock.request.app
    now = time.monotonic()
    if now - sock.typing_at.get(to, -1e9) < app[CONFIG].ws.typing_interval:
        return  # throttled: the peer already knows
    # Asked every time (at most once per interval): a block made meanwhile stops typing at once.
    try:
        await chat.typing(app, sock.user_id, to)
    except NotFound as exc:
        raise FrameError("not_found", exc.detail or exc.title) from None
    sock.typing_at[to] = now


FRAMES = {"ping": _ping, "message.send": _send, "typing": _typing}
