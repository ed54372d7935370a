"""Socket.IO at /socket.io/: a second transport onto the same hub, event stream and frame handlers.

python-socketio (aiohttp mode) speaks the Socket.IO protocol; everything else is the native
socket's: a `SioSocket` is a hub `Socket` whose transport seam (enqueue, send_text, read_frames,
close_transport, abort) is Socket.IO, so registration, hello, resume/catch-up, the Redis bus,
presence, rate limits and the frame handlers of ws/frames.py serve it unchanged.

- Connect: `auth: {token}` (an access token) or `auth: {ticket}` (single-use ticket), else the
  handshake's own Authorization header or browser cookie; `auth.last_seq` resumes like ?last_seq=N.
  A refused connect is a `connect_error` whose data is {status, code, detail}. The Origin is
  checked on every HTTP request like the native socket's (a 403 before Engine.IO sees it).
- Server → client: each frame is emitted as the event named by its type with the rest of the
  frame as the argument: {seq, data} for stream events, {data} for the others. Before the
  server ends a connection it emits `close` {code, reason} with the native close code.
- Client → server: an event is a frame of that type with its argument as data; the frame's
  answer (message.ack, error or pong, as {type, data}) is the acknowledgement when one is asked
  for, else it arrives as an event like any other frame.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import socketio
from aiohttp import web

from server.accounts import redeem_ticket
from server.auth import Principal, decode_token, session_active
from server.errors import ApiError, BadRequest, Forbidden, Unauthorized
from server.http.identity import origin_allowed
from server.http.openapi import docs
from server.keys import CONFIG, PRINCIPAL
from ws.frames import on_frame
from ws.hub import GOING_AWAY, INTERNAL, FrameError, Hub, Socket, hub_of

log = logging.getLogger(__name__)

PATH = "/socket.io/"
NAMESPACE = "/"
# Engine.IO packets queued for one client beyond which the hub's writer waits (and, after the
# hub's write timeout, drops the client as too slow), as a WebSocket send would.
HIGH_WATER = 64
SOCKETIO = web.AppKey("socketio", "SocketIO")


@dataclass
class _Answer:
    sock: SioSocket
    text: str | None = None


# Set while a client event that asked for an acknowledgement is being served: the frame's answer
# is caught here instead of being queued (bus deliveries to the same socket carry a seq, answers
# never do, and other sockets are never caught).
_ANSWER: contextvars.ContextVar[_Answer | None] = contextvars.ContextVar("sio_answer", default=None)
_WANTS_ACK: contextvars.ContextVar[bool] = contextvars.ContextVar("sio_wants_ack", default=False)


class SioSocket(Socket):
    """One Socket.IO connection of a user, as the hub sees it."""

    def __init__(self, glue: SocketIO, sid: str, request: web.Request, principal: Principal, queue_size: int):
        super().__init__(None, request, principal.user_id, principal.session_id, queue_size)  # type: ignore[arg-type]
        self.glue = glue
        self.sid = sid
        self.reading = asyncio.Event()  # the hub has said hello: frames may be served
        self.gone = asyncio.Event()  # the connection has ended

    def enqueue(self, text: str) -> None:
        answer = _ANSWER.get()
        if answer is not None and answer.sock is self and answer.text is None \
                and "seq" not in orjson.loads(text):
            answer.text = text
            return
        super().enqueue(text)

    async def send_text(self, text: str) -> None:
        body = orjson.loads(text)
        event = body.pop("type")
        eio_socket = self.glue.engine_socket(self.sid)
        # Engine.IO signals no drain: poll its queue, bounded by the hub's write timeout.
        while eio_socket is not None and not eio_socket.closed and eio_socket.queue.qsize() >= HIGH_WATER:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await self.glue.server.emit(event, body, to=self.sid, namespace=NAMESPACE)

    async def send_texts(self, texts: list[str]) -> None:
        for text in texts:
            await self.send_text(text)

    async def read_frames(self, hub: Hub, on_frame_: Any) -> None:
        # Frames arrive as Socket.IO events (SocketIO._on_event); here the hub only waits.
        self.reading.set()
        await self.gone.wait()

    async def close_transport(self, code: int, reason: str) -> None:
        server = self.glue.server
        try:
            await server.emit("close", {"code": code, "reason": reason}, to=self.sid, namespace=NAMESPACE)
            if code in (GOING_AWAY, INTERNAL):
                # Engine.IO level: the client's manager reconnects by itself (with its auth.last_seq).
                eio_socket = self.glue.engine_socket(self.sid)
                if eio_socket is not None:
                    await server.eio.disconnect(eio_socket.sid)
                    if eio_socket.upgraded:
                        # Engine.IO's WebSocket writer would wait for the client to hang up: end it,
                        # which closes the WebSocket from this side after the CLOSE packet.
                        eio_socket.queue.put_nowait(None)
            else:
                # Socket.IO level ("io server disconnect"): the client does not reconnect blindly.
                await server.disconnect(self.sid, namespace=NAMESPACE)
        finally:
            self.ended()

    def abort(self) -> None:
        self.ended()  # Engine.IO's ping timeout reaps a connection that cannot even be closed

    def ended(self) -> None:
        self.gone.set()
        self.reading.set()


class _Server(socketio.AsyncServer):
    """Two hooks python-socketio has no public form for (pinned to major version 5)."""

    glue: SocketIO

    async def _handle_connect(self, eio_sid, namespace, data):
        await super()._handle_connect(eio_sid, namespace, data)
        # The CONNECT packet is queued now, so the hello and the stream come after it.
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace or NAMESPACE)
        self.glue.connected(sid)

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
        token = _WANTS_ACK.set(id is not None)
        try:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        finally:
            _WANTS_ACK.reset(token)


class SocketIO:
    """The Socket.IO server of this process and its connections (sid → SioSocket)."""

    def __init__(self, app: web.Application):
        self.app = app
        cfg = app[CONFIG].ws
        self.server = _Server(
            async_mode="aiohttp",
            # CORS answers and the Engine.IO origin check from the native socket's rule.
            cors_allowed_origins=lambda origin, environ: origin_allowed(environ["aiohttp.request"]),
            cors_credentials=True,
            # One frame at a time per connection, in order, like the native socket's reader.
            async_handlers=False,
            max_http_buffer_size=cfg.max_frame,
            logger=False, engineio_logger=False,
        )
        self.server.glue = self
        self.server.on("connect", self._on_connect)
        self.server.on("disconnect", self._on_disconnect)
        self.server.on("*", self._on_event)
        self.pending: dict[str, tuple[Principal, int | None, web.Request]] = {}
        self.sockets: dict[str, SioSocket] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def hub(self) -> Hub:
        return hub_of(self.app)

    def engine_socket(self, sid: str) -> Any:
        """The Engine.IO socket under a Socket.IO connection (None once it is gone)."""
        return self.server.eio.sockets.get(self.server.manager.eio_sid_from_sid(sid, NAMESPACE))

    # --- connect / disconnect ---------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        request: web.Request = environ["aiohttp.request"]
        auth = auth if isinstance(auth, dict) else {}
        try:
            principal = await self._principal(request, auth)
            last_seq = auth.get("last_seq")
            if last_seq is not None and (type(last_seq) is not int or last_seq < 0):
                raise BadRequest("auth.last_seq must be an integer >= 0.")
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                exc.detail or exc.title, {"status": exc.status, "code": exc.slug, "detail": exc.detail}) from None
        self.pending[sid] = (principal, last_seq, request)

    async def _principal(self, request: web.Request, auth: dict) -> Principal:
        """auth.token (validated as the native socket's Authorization header), auth.ticket, else
        the handshake request's own principal (Authorization header or browser cookie)."""
        app = self.app
        token, ticket = auth.get("token"), auth.get("ticket")
        if token is not None:
            if not isinstance(token, str) or not token:
                raise Unauthorized("auth.token must be an access token.")
            principal = decode_token(app[CONFIG], token)
            if not await session_active(app, principal):
                raise Unauthorized("The session has ended; log in again.")
            return principal
        if ticket is not None:
            principal = await redeem_ticket(app, ticket) if isinstance(ticket, str) and ticket else None
            if principal is None:
                raise Unauthorized("The ticket is not valid, expired or was already used.")
            return principal
        principal = request.get(PRINCIPAL)
        if principal is None:
            raise Unauthorized("Connect with auth: {token} or {ticket}.")
        return principal

    def connected(self, sid: str | None) -> None:
        pending = self.pending.pop(sid, None) if sid is not None else None
        if pending is None or not self.server.manager.is_connected(sid, NAMESPACE):
            return
        principal, last_seq, request = pending
        sock = SioSocket(self, sid, request, principal, self.app[CONFIG].ws.send_queue)
        self.sockets[sid] = sock
        task = asyncio.create_task(self._serve(sock, last_seq))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, sock: SioSocket, last_seq: int | None) -> None:
        try:
            await self.hub.serve(sock, last_seq, on_frame)
        except Exception:
            log.exception("Socket.IO connection of user %s failed", sock.user_id)
            await self.hub.close(sock, INTERNAL, "try again")
        finally:
            sock.ended()
            self.sockets.pop(sock.sid, None)

    async def _on_disconnect(self, sid: str, reason: str | None = None) -> None:
        self.pending.pop(sid, None)
        if reason != self.server.reason.SERVER_DISCONNECT:
            # The client hung up: answer a long-poll still held for it (Engine.IO would hold it until
            # its ping timeout, an in-flight request all that time).
            eio_socket = self.engine_socket(sid)
            if eio_socket is not None and not eio_socket.upgraded:
                eio_socket.queue.put_nowait(None)
        sock = self.sockets.get(sid)
        if sock is not None:
            sock.closing = True  # nothing more to write; the hub forgets it as serve() returns
            sock.ended()

    # --- client events = frames ----------------------------------------------------------------

    async def _on_event(self, event: str, sid: str, *args: Any) -> Any:
        sock = self.sockets.get(sid)
        if sock is None:
            return None
        await sock.reading.wait()
        answer = _Answer(sock) if _WANTS_ACK.get() else None
        token = _ANSWER.set(answer)
        try:
            await self.hub.receive(sock, lambda: _frame_of(event, args), on_frame)
        finally:
            _ANSWER.reset(token)
        return orjson.loads(answer.text) if answer is not None and answer.text is not None else None

    # --- HTTP -------------------------------------------------------------------------------------

    async def endpoint(self, request: web.Request) -> web.StreamResponse:
        if not origin_allowed(request):
            raise Forbidden("This Origin may not open a Socket.IO connection.")
        return await self.server.handle_request(request)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.shutdown()


def _frame_of(event: str, args: tuple) -> tuple[str, dict[str, Any]]:
    if len(args) > 1 or (args and args[0] is not None and not isinstance(args[0], dict)):
        raise FrameError("bad_frame", "An event carries one object: its frame's data.")
    return event, (args[0] if args and args[0] is not None else {})


def setup(app: web.Application) -> None:
    """Mount /socket.io/ (after CORS is set up: Engine.IO answers CORS for it itself)."""
    glue = SocketIO(app)
    app[SOCKETIO] = glue

    @docs("Socket.IO (Engine.IO v4) handshake, long-polling and WebSocket upgrade: the real-time "
          "stream as Socket.IO events (see API.md \"Socket.IO\"); authenticate with auth: {token} or "
          "{ticket}", tags=["real time"], responses={101: None, 200: None, 400: None, 403: None})
    async def socketio_endpoint(request: web.Request) -> web.StreamResponse:
        return await glue.endpoint(request)

    app.router.add_get(PATH, socketio_endpoint, allow_head=False)
    app.router.add_post(PATH, socketio_endpoint)
    app.router.add_route("OPTIONS", PATH, socketio_endpoint)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await glue.stop()

    app.cleanup_ctx.append(ctx)
