"""The hub: user id → this process's open sockets; ordered, gap-free delivery; presence.

Each socket has exactly one reader (its handler) and one writer task draining a bounded send queue
(the frames queued at a time go out in one write).
Stream events (with seq) reach a socket strictly in order and at most once: `last_seq` is the last
seq queued, `target` the highest known to exist, and a gap is filled from the durable log in MySQL —
which is also how a resume (?last_seq=N), a lost Redis publish and a bus reconnect heal.

Flow control. The send queue is shared by three kinds of frames, each with its own ceiling, so one
kind never crowds out another and a full queue is never a reason to close:
- stream events fill it up to `stream_limit` (3/4 of it). A live event is queued at once when it is
  the next seq and there is room; otherwise it only raises `target`, and the socket's catch-up task
  reads it from MySQL in its turn. Publishing therefore never waits for a socket and never drops an
  event: overflow spills to the durable log, which is replayed in seq order. The catch-up (resume,
  gap fill, bus-reconnect top-up) fetches CATCHUP_BATCH events at a time and, whenever the queue is
  at `stream_limit`, waits until the writer has drained it to `low_water` before queueing more, so
  a backlog of any size up to bus.replay_max goes out as fast as the client reads it;
- frames outside the stream from the bus (typing, presence) fill it up to `transient_limit` (7/8);
  beyond that a socket misses them, as it would while reconnecting (they are never replayed);
- the socket's own frames (hello, presence at connect, replies to its frames) use the rest: the
  reader waits for room before it serves the client's next frame, so a client that sends without
  reading slows itself down, never anyone else.
Only the writer decides that a client stopped reading: a send that does not complete within
WRITE_TIMEOUT closes the socket 1008 "too slow", and closing wakes whatever waited for room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiohttp import WSMessage, WSMsgType, web

from server import events
from server.formats import dumps
from server.http.ratelimit import parse_rate
from server.keys import BUS, CONFIG, DB, METRICS, REDIS, SERVICES
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)

# Close codes (API.md "Real time").
GOING_AWAY, POLICY, TOO_BIG, INTERNAL, REVOKED = 1001, 1008, 1009, 1011, 4001
CATCHUP_BATCH = 500
TOP_UP_CONCURRENCY = 8  # users looked up at once after a bus reconnect
# A send that takes longer than this means the client stopped reading.
WRITE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
WRITE_BATCH = 64  # frames at most in one write
# Bad frames tolerated per window before the socket is closed with 1008.
MAX_ERRORS, ERROR_WINDOW = 10, 60.0
PRESENCE_PEERS = 100

FrameHandler = Callable[["Socket", str, dict[str, Any]], Awaitable[None]]


class FrameError(Exception):
    """A client frame that cannot be served: answered with an `error` frame."""

    def __init__(self, code: str, detail: str, client_id: str | None = None, **extra: Any):
        super().__init__(detail)
        self.code, self.detail, self.client_id, self.extra = code, detail, client_id, extra

    def frame(self) -> str:
        data: dict[str, Any] = {"code": self.code, "detail": self.detail, **self.extra}
        if self.client_id is not None:
            data["client_id"] = self.client_id
        return frame("error", data)


def frame(type: str, data: dict[str, Any] | None = None) -> str:
    return dumps({"type": type, "data": data or {}}).decode()


class Socket:
    """One open WebSocket of a user (one device)."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, user_id: int, session_id: int,
                 queue_size: int):
        self.ws = ws
        self.request = request
        self.user_id = user_id
        self.session_id = session_id
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        # Ceilings of the send queue (see the module docstring); at least one frame each.
        self.transient_limit = max(1, queue_size - max(1, queue_size // 8))
        self.stream_limit = max(1, min(self.transient_limit, queue_size * 3 // 4))
        self.low_water = self.stream_limit // 2
        self.drained = asyncio.Event()  # set when the queue is at low_water or the socket closes
        self.writer: asyncio.Task | None = None
        self.catchup: asyncio.Task | None = None
        self.last_seq: int | None = None  # last stream seq queued; None until hello
        self.target = 0  # highest seq known to exist
        self.closing = False
        self.errors: deque[float] = deque()
        self.frames: deque[float] = deque()
        self.typing_at: dict[int, float] = {}

    # The transport seam: a native WebSocket here; ws/socketio.py implements the same five over
    # Socket.IO, so the hub and the frame handlers serve both transports alike.

    def enqueue(self, text: str) -> None:
        """Queue an outgoing frame (asyncio.QueueFull when the socket does not keep up)."""
        self.queue.put_nowait(text)

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_texts(self, texts: list[str]) -> None:
        """Several frames that are ready at once, in order, in ONE write to the connection (a
        write is the costliest thing a frame does; with compression, or should aiohttp's writer
        not look as expected, one send_text each)."""
        writer = getattr(self.ws, "_writer", None)
        transport = getattr(writer, "transport", None)
        protocol = getattr(writer, "protocol", None)
        if (len(texts) == 1 or self.ws.compress or getattr(writer, "compress", 1)
                or transport is None or not hasattr(protocol, "_drain_helper")):
            for text in texts:
                await self.send_text(text)
            return
        if transport.is_closing() or getattr(writer, "_closing", False):
            raise ConnectionResetError("Cannot write to closing transport")
        transport.write(b"".join(_text_frame(text.encode()) for text in texts))
        if protocol._paused:  # the client reads slower than we write: wait, as send_str does
            await protocol._drain_helper()

    async def read_frames(self, hub: Hub, on_frame: FrameHandler) -> None:
        """Serve the client's frames until the socket closes."""
        await hub._read(self, on_frame)

    async def close_transport(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, message=reason.encode())

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class Hub:
    def __init__(self, app: web.Application):
        self.app = app
        self.config = app[CONFIG]
        self.users: dict[int, set[Socket]] = {}
        self.channels: dict[str, int] = {}
        self.instance = uuid.uuid4().hex
        self._tasks: set[asyncio.Task] = set()
        # One presence change at a time per user in this process (arrive vs gone), each paired with
        # its Redis read in one MULTI: see _presence_arrive.
        self._presence_locks: dict[int, list] = {}
        self._rate = parse_rate(self.config.ratelimit.ws_frames) if self.config.ratelimit.enabled else None
        # API.md: a frame may be at most ws.max_frame bytes. aiohttp refuses a message of exactly its
        # max_msg_size (its check is `>=`), so the socket is opened with one byte more and _read
        # holds the exact limit (aiohttp lets a decompressed message of max_msg_size bytes through).
        self.max_frame = self.config.ws.max_frame
        self.max_msg_size = self.max_frame + 1

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.app[BUS].on_reconnect(self._bus_reconnected)
        self._spawn(self._presence_refresher())

    async def shutdown(self) -> None:
        """Close every socket with 1001 (server shutting down)."""
        await asyncio.gather(*(self.close(s, GOING_AWAY, "server shutting down")
                               for socks in list(self.users.values()) for s in list(socks)))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- one socket's life ----------------------------------------------------------------

    async def serve(self, sock: Socket, last_seq: int | None, on_frame: FrameHandler) -> None:
        """Register, say hello (+ replay), then read frames until the socket closes."""
        sock.writer = asyncio.create_task(self._writer(sock))
        first_here = await self._add(sock)
        try:
            # Marked online before hello, so whoever connects after this hello sees this user.
            was_online = await self._presence_arrive(sock, first_here)
            try:
                await self._start_stream(sock, last_seq)
            except Exception as exc:  # MySQL down: the client reconnects with its last_seq later
                log.warning("stream of user %s could not start: %s", sock.user_id, exc)
                await self.close(sock, INTERNAL, "try again")
                return
            await self._presence_connected(sock, was_online)
            await sock.read_frames(self, on_frame)
        finally:
            await self._remove(sock)
            if sock.writer is not None:
                sock.writer.cancel()
            if sock.catchup is not None:
                sock.catchup.cancel()

    async def _add(self, sock: Socket) -> bool:
        socks = self.users.setdefault(sock.user_id, set())
        first = not socks
        socks.add(sock)
        self.app[METRICS].sockets.inc()
        if first:
            channel = events.user_channel(self.app, sock.user_id)
            self.channels[channel] = sock.user_id
            await self.app[BUS].subscribe(channel, self._on_bus)
        return first

    async def _remove(self, sock: Socket) -> None:
        socks = self.users.get(sock.user_id)
        if socks is None or sock not in socks:
            return
        socks.discard(sock)
        self.app[METRICS].sockets.dec()
        if not socks:
            del self.users[sock.user_id]
            channel = events.user_channel(self.app, sock.user_id)
            with contextlib.suppress(Exception):
                await self.app[BUS].unsubscribe(channel, self._on_bus)
            if sock.user_id not in self.users:
                self.channels.pop(channel, None)
                await self._presence_gone(sock.user_id)

    async def _read(self, sock: Socket, on_frame: FrameHandler) -> None:
        async for msg in sock.ws:
            if sock.closing:
                break
            if self._too_big(msg):
                await self.close(sock, TOO_BIG, "frame too big")
                break
            if not await self.receive(sock, lambda msg=msg: _parse_message(msg), on_frame):
                break
        # aiohttp has already closed with 1009 (too big) or answered the client's close.

    def _too_big(self, msg: WSMessage) -> bool:
        data = msg.data
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or len(data) <= self.max_frame // 4:
            return False  # at most 4 bytes a character
        return len(data.encode() if isinstance(data, str) else data) > self.max_frame

    async def receive(self, sock: Socket, parse: Callable[[], tuple[str, dict[str, Any]]],
                      on_frame: FrameHandler) -> bool:
        """One client frame, whatever the transport; False once the socket is being closed."""
        if sock.queue.qsize() >= sock.transient_limit:
            # Its replies pile up: serve its next frame once it has read ours.
            await self._drain(sock)
        if sock.closing:
            return False
        if not self._within_rate(sock):
            await self.close(sock, POLICY, "too many frames")
            return False
        try:
            type_, data = parse()
            await on_frame(sock, type_, data)
        except FrameError as exc:
            self.push(sock, exc.frame())
            if self._too_many_errors(sock):
                await self.close(sock, POLICY, "too many bad frames")
                return False
        except Exception:  # a failing frame never takes the socket (or the process) down
            log.exception("frame of user %s failed", sock.user_id)
            self.push(sock, FrameError("internal", "The frame could not be served; retry.").frame())
        return True

    def _within_rate(self, sock: Socket) -> bool:
        if self._rate is None:
            return True
        limit, window = self._rate
        return _window_hit(sock.frames, limit, window)

    def _too_many_errors(self, sock: Socket) -> bool:
        return not _window_hit(sock.errors, MAX_ERRORS, ERROR_WINDOW)

    # --- writing --------------------------------------------------------------------------

    def push(self, sock: Socket, text: str) -> None:
        """Queue one of the socket's own frames (hello, reset, a reply), never waiting.

        The other kinds stop below transient_limit and the reader waits for room, so only a client
        that does not read at all can fill the queue; it is dropped rather than buffered without end.
        """
        if sock.closing:
            return
        try:
            sock.enqueue(text)
        except asyncio.QueueFull:
            log.info("closing slow socket of user %s (send queue full)", sock.user_id)
            self._spawn(self.close(sock, POLICY, "too slow"))

    async def send(self, sock: Socket, text: str) -> None:
        """Queue one of the socket's own frames from its own task, waiting for room first."""
        if sock.queue.qsize() >= sock.transient_limit:
            await self._drain(sock)
        self.push(sock, text)

    def _push_transient(self, sock: Socket, text: str) -> None:
        """typing, presence: never replayed, so a socket with no room for them misses them."""
        if not sock.closing and sock.queue.qsize() < sock.transient_limit:
            sock.queue.put_nowait(text)

    async def _drain(self, sock: Socket) -> None:
        """Wait until the writer has drained the queue to low_water (or the socket closed).

        Needs no timeout of its own: the writer closes a socket whose send stalls for WRITE_TIMEOUT,
        and closing wakes every waiter.
        """
        while not sock.closing and sock.queue.qsize() > sock.low_water:
            sock.drained.clear()
            await sock.drained.wait()

    async def _writer(self, sock: Socket) -> None:
        queue = sock.queue
        try:
            while True:
                texts = [await queue.get()]
                # Whatever else is queued goes in the same write (e.g. message.created and its
                # notification.created, which arrive together).
                while queue.qsize() and len(texts) < WRITE_BATCH:
                    texts.append(queue.get_nowait())
                if queue.qsize() <= sock.low_water:
                    sock.drained.set()
                # asyncio.timeout, not wait_for: no task per write (a write that does not block
                # completes at once; only a drain waits).
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await sock.send_texts(texts)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            log.info("closing slow socket of user %s (a send took over %.0f s)", sock.user_id, WRITE_TIMEOUT)
            self._spawn(self.close(sock, POLICY, "too slow"))
        except Exception:  # the peer went away; the reader sees it too
            self._spawn(self.close(sock, INTERNAL, ""))

    async def close(self, sock: Socket, code: int, reason: str) -> None:
        """Close once; abort the connection when even the close frame cannot be sent."""
        if sock.closing:
            return
        sock.closing = True
        sock.drained.set()
        if sock.writer is not None and sock.writer is not asyncio.current_task():
            sock.writer.cancel()
        try:
            await asyncio.wait_for(sock.close_transport(code, reason), CLOSE_TIMEOUT)
        except asyncio.CancelledError:
            # After a timed-out send, aiohttp's drain waiter is cancelled and every later drain
            # (the close frame's too) raises CancelledError: abort, unless we are cancelled ourselves.
            sock.abort()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except Exception:
            sock.abort()

    # --- the event stream -----------------------------------------------------------------

    async def _start_stream(self, sock: Socket, last_seq: int | None) -> None:
        latest = await events.latest_seq(self.app, sock.user_id)
        self.push(sock, frame("hello", {"user_id": sock.user_id, "seq": latest}))
        if last_seq is None or last_seq >= latest:
            if last_seq is not None and last_seq > latest:
                self.push(sock, frame("reset", {"seq": latest}))
            sock.last_seq = latest
        else:
            sock.last_seq = last_seq
            sock.target = max(sock.target, latest)
        if sock.target > sock.last_seq:
            self._catch_up(sock)

    async def _on_bus(self, channel: str, message: str) -> None:
        user_id = self.channels.get(channel)
        socks = self.users.get(user_id) if user_id is not None else None
        if not socks:
            return
        try:
            head = orjson.loads(message)
            type_, seq = head["type"], head.get("seq")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("dropping a malformed bus message on %s", channel)
            return
        if type_ == "session.revoked":
            revoked = set((head.get("data") or {}).get("session_ids") or ())
            for sock in list(socks):
                if sock.session_id in revoked:
                    self._spawn(self.close(sock, REVOKED, "session revoked"))
            return
        for sock in list(socks):
            if seq is None:
                # Transient (typing, presence): never before the socket's hello, which API.md
                # makes the first frame; such events are not replayed, so skipping loses nothing.
                if sock.last_seq is not None:
                    self._push_transient(sock, message)
            else:
                self.offer(sock, int(seq), message)

    def offer_local(self, evs: list[events.Event]) -> None:
        """Stream events this process just committed and published (events.deliver_local): offered
        to its sockets of their users now, as the bus's copies will be (which then find them queued)."""
        for event in evs:
            socks = self.users.get(event.user_id)
            if socks:
                text = event.frame()
                for sock in list(socks):
                    self.offer(sock, event.seq, text)

    def offer(self, sock: Socket, seq: int, text: str) -> None:
        """A live stream event, never waited for: the next one with room → queued; already queued →
        dropped; ahead, or no room → left to the catch-up, which reads it from MySQL in its turn."""
        last = sock.last_seq
        if last is not None and seq <= last:
            return
        room = not sock.closing and sock.queue.qsize() < sock.stream_limit
        if last is not None and seq == last + 1 and room:
            sock.queue.put_nowait(text)
            sock.last_seq = seq
            return
        sock.target = max(sock.target, seq)
        if last is not None:
            self._catch_up(sock)

    def _catch_up(self, sock: Socket) -> None:
        if sock.catchup is None and not sock.closing:
            sock.catchup = asyncio.create_task(self._run_catch_up(sock))

    async def _stream_room(self, sock: Socket) -> bool:
        """Room for one more stream event, waiting for the reader if need be; False once closing."""
        if sock.queue.qsize() >= sock.stream_limit:
            await self._drain(sock)
        return not sock.closing

    async def _run_catch_up(self, sock: Socket) -> None:
        """Queue the stored events after last_seq up to target, in order, as fast as the client reads.

        Live events go on meanwhile: the next one in seq order may be queued by offer() while this
        waits, so every event is checked against last_seq right before it is queued.
        """
        try:
            while not sock.closing and sock.last_seq is not None and sock.last_seq < sock.target:
                batch = await events.since(self.app, sock.user_id, sock.last_seq, CATCHUP_BATCH)
                if not batch or batch[0].seq > sock.last_seq + 1:
                    # Older than the replay log: the client re-reads over REST.
                    latest = max(sock.target, await events.latest_seq(self.app, sock.user_id))
                    if not await self._stream_room(sock):
                        return
                    latest = max(latest, sock.last_seq)
                    sock.queue.put_nowait(frame("reset", {"seq": latest}))
                    sock.last_seq = latest
                    break
                for event in batch:
                    if not await self._stream_room(sock):
                        return
                    if event.seq <= sock.last_seq:
                        continue  # queued live while we waited
                    if event.seq != sock.last_seq + 1:
                        break  # not contiguous (pruned meanwhile): fetch again from last_seq
                    sock.queue.put_nowait(event.frame())
                    sock.last_seq = event.seq
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("catch-up of user %s failed: %s", sock.user_id, exc)
            self._spawn(self.close(sock, INTERNAL, "try again"))
        finally:
            sock.catchup = None

    async def _bus_reconnected(self) -> None:
        """Publishes may have been lost while the bus was down: top every socket up from MySQL."""
        if self.users:
            self._spawn(self._top_up(list(self.users)))

    async def _top_up(self, user_ids: list[int]) -> None:
        # A few users at a time: the catch-ups it starts then run side by side, each at the pace of
        # its own socket, while most of the MySQL pool stays free for requests.
        room = asyncio.Semaphore(TOP_UP_CONCURRENCY)

        async def top_up(user_id: int) -> None:
            async with room:
                try:
                    latest = await events.latest_seq(self.app, user_id)
                except Exception as exc:
                    log.warning("top-up of user %s failed: %s", user_id, exc)
                    return
            for sock in list(self.users.get(user_id, ())):
                if sock.last_seq is not None and latest > sock.last_seq:
                    sock.target = max(sock.target, latest)
                    self._catch_up(sock)

        await asyncio.gather(*(top_up(user_id) for user_id in user_ids))

    # --- presence (transient, kept in Redis with a TTL) ------------------------------------

    def _presence_key(self, user_id: int) -> str:
        return self.app[REDIS].key("presence", user_id)

    async def is_online(self, user_ids: list[int]) -> dict[int, bool]:
        r = self.app[REDIS]
        now = time.time()
        async with r.client.pipeline(transaction=False) as pipe:
            for uid in user_ids:
                pipe.zcount(self._presence_key(uid), now, "+inf")
            counts = await pipe.execute()
        return {uid: bool(c) for uid, c in zip(user_ids, counts, strict=True)}

    @contextlib.asynccontextmanager
    async def _presence_turn(self, user_id: int):
        entry = self._presence_locks.setdefault(user_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._presence_locks[user_id]

    async def _presence_arrive(self, sock: Socket, first_here: bool) -> bool:
        """Mark the user online; whether they already were (on another socket or worker).

        Only the user's first socket in this process marks and may announce (a second one finds them
        online here). The mark and the count of the other live entries are one MULTI, and a user's
        arrive and gone in this process take turns, so two changes never both read "offline" (a
        doubled "online") nor does a reconnect race its own departure (an "offline" left standing
        while connected)."""
        if not first_here:
            return True
        try:
            async with self._presence_turn(sock.user_id):
                key, now, ttl = self._presence_key(sock.user_id), time.time(), self.config.ws.presence_ttl
                async with self.app[REDIS].client.pipeline(transaction=True) as pipe:
                    pipe.zremrangebyscore(key, "-inf", now)
                    pipe.zcount(key, now, "+inf")
                    pipe.zadd(key, {self.instance: now + ttl})
                    pipe.expire(key, ttl)
                    _, live, _, _ = await pipe.execute()
                return bool(live)
        except Exception as exc:  # presence is best effort (Redis down)
            log.info("presence unavailable: %s", exc)
            return True

    async def _presence_connected(self, sock: Socket, was_online: bool) -> None:
        """Tell the new socket which peers are online, and the peers that this user came online."""
        try:
            peers = [r["peer_id"] for r in await self.app[DB].fetchall(
                Q.realtime.recent_peers, {"user_id": sock.user_id, "limit": PRESENCE_PEERS})]
            online = [p for p, on in (await self.is_online(peers)).items() if on] if peers else []
            for peer in online:
                await self.send(sock, frame("presence", {"user_id": peer, "online": True}))
            if not was_online:
                await self._announce(sock.user_id, online, True)
        except Exception as exc:  # presence is best effort (Redis or MySQL down)
            log.info("presence unavailable: %s", exc)

    async def _presence_gone(self, user_id: int) -> None:
        try:
            async with self._presence_turn(user_id):
                if user_id in self.users:
                    return  # back on a new socket here meanwhile: still online
                key = self._presence_key(user_id)
                async with self.app[REDIS].client.pipeline(transaction=True) as pipe:
                    pipe.zrem(key, self.instance)
                    pipe.zcount(key, time.time(), "+inf")
                    _, live = await pipe.execute()
                if live:
                    return  # still connected on another worker
                peers = [row["peer_id"] for row in await self.app[DB].fetchall(
                    Q.realtime.recent_peers, {"user_id": user_id, "limit": PRESENCE_PEERS})]
                online = await self.is_online(peers) if peers else {}
                await self._announce(user_id, [p for p, on in online.items() if on], False)
        except Exception as exc:
            log.info("presence update failed: %s", exc)

    async def _mark(self, *user_ids: int) -> None:
        r = self.app[REDIS]
        ttl = self.config.ws.presence_ttl
        now = time.time()
        async with r.client.pipeline(transaction=False) as pipe:
            for uid in user_ids:
                key = self._presence_key(uid)
                pipe.zadd(key, {self.instance: now + ttl})
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.expire(key, ttl)
            await pipe.execute()

    async def _announce(self, user_id: int, peers: list[int], online: bool) -> None:
        for peer in peers:
            await events.publish_transient(self.app, peer, "presence", {"user_id": user_id, "online": online})

    async def _presence_refresher(self) -> None:
        # A dead worker stops refreshing: its users go offline when their entries expire.
        interval = max(1.0, self.config.ws.presence_ttl / 3)
        while True:
            await asyncio.sleep(interval)
            if self.users:
                try:
                    await self._mark(*self.users)
                except Exception as exc:
                    log.info("presence refresh failed: %s", exc)

def _text_frame(payload: bytes) -> bytes:
    """A final, unmasked, uncompressed text frame (RFC 6455 5.2), as a server sends it."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x81, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def _window_hit(stamps: deque[float], limit: int, window: float) -> bool:
    """Sliding-window count: record a hit; False when it is over the limit."""
    now = time.monotonic()
    while stamps and stamps[0] <= now - window:
        stamps.popleft()
    stamps.append(now)
    return len(stamps) <= limit


def _parse_message(msg: Any) -> tuple[str, dict[str, Any]]:
    if msg.type != WSMsgType.TEXT:
        raise FrameError("bad_frame", "Frames are JSON text.")
    return parse_frame(msg.data)


def parse_frame(text: str) -> tuple[str, dict[str, Any]]:
    """`{"type": "...", "data": {...}}` → (type, data); anything else is a FrameError."""
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise FrameError("bad_frame", "The frame is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise FrameError("bad_frame", 'A frame is an object {"type": "...", "data": {...}}.')
    data = body.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict) or set(body) - {"type", "data"}:
        raise FrameError("bad_frame", '"data" must be an object; no other keys are allowed.')
    return body["type"], data


def setup(app: web.Application) -> None:
    """One hub per process, started and stopped with the app."""
    hub = Hub(app)
    app[SERVICES]["hub"] = hub
    app[SERVICES]["local_events"] = hub.offer_local  # events.deliver_local

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
