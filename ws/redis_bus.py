"""The Redis pub/sub bus: any number of workers; a listener that reconnects and resubscribes by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.config import Config
from server.redis import Redis, RedisUnavailable, close_client, redis_client
from ws.bus import Bus

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.05
BACKOFF_MAX = 2.0
# The listener PINGs on its pub/sub connection this often; while no reply or message has come
# for STALE seconds the bus is not `delivering()` (a frozen or unreachable Redis, a dead
# connection) and caches fed by it (the session cache) go to the source. A stall or a reconnect
# changes `epoch`: whatever was published meanwhile may be lost.
HEARTBEAT = 0.2
STALE = 0.6
# With Sentinel: how often the listener asks whether the master moved. A master that died drops
# the connection anyway; one demoted to a replica (a failover it survived) keeps it, silently.
MASTER_CHECK = 2.0
# The messages of one channel handed over together go in ONE PUBLISH, each after this separator
# (a frame of orjson's never holds it raw): a bus message that starts with it is such a bundle,
# and the listener delivers its messages one by one, in order. So a message must not start with it.
BUNDLE = "\x1e"


class RedisBus(Bus):
    """One pub/sub connection per process, subscribed only to the channels of its local users.

    Given the app's Redis, publishes go through its client and circuit breaker: while the breaker
    is open they are skipped at once (the events are in MySQL). When it closes, the reconnect
    hooks run, so the hub tops every local socket up from the log, and if this process lost any
    publish it says so on the control channel, where every other worker does the same for its
    sockets (whose own breaker may never have opened). A freeze shorter than the listener's
    health check never breaks the pub/sub connection, so these are the only wake-ups.
    """

    def __init__(self, config: Config, prefix: str, redis: Redis | None = None):
        super().__init__()
        self._redis = redis
        self.skipped = 0  # publishes skipped while the breaker was open
        self._lost = False  # a publish was skipped or failed since the breaker last closed
        self._topup = f"topup {uuid.uuid4().hex}"  # this process's control message
        # One immediate retry: after a Redis restart every pooled connection is stale once.
        self._client = redis_client(config, retry=Retry(NoBackoff(), 1))
        self._sentinel = bool(config.redis.sentinels)
        # Always subscribed, so the connection exists (and is watched) even with no local users.
        self._control = f"{prefix}bus:control"
        self._pubsub: aioredis.client.PubSub | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self._heard = -math.inf  # monotonic time of the last reply or message on the pub/sub link
        self._pings = self._ponged = 0  # PINGs sent on it, the highest one answered
        self._stopping = False
        self.epoch = 0
        # publish_many: what callers handed over while a pipeline was on its way, sent next.
        self._outbox: list[tuple[list[tuple[str, str]], asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    def delivering(self) -> bool:
        return self._pubsub is not None and time.monotonic() - self._heard < STALE

    async def flush(self) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return  # the listener subscribes to every channel, then PINGs, when it connects
        number = await self._ping(pubsub)
        for _ in range(100):  # 2 s at most: the reply comes after those of the earlier SUBSCRIBEs
            if self._ponged >= number or self._pubsub is not pubsub:
                return
            await asyncio.sleep(0.02)

    async def _ping(self, pubsub: aioredis.client.PubSub) -> int:
        """PING on the pub/sub link, numbered: its reply tells what was sent before it is done."""
        async with self._lock:
            self._pings += 1
            await pubsub.ping(str(self._pings))
            return self._pings

    async def announce(self, channel: str, message: str) -> None:
        await self._client.publish(channel, message)  # the bus's own client: no breaker to skip it

    async def start(self) -> None:
        if self._redis is not None:
            self._redis.breaker.on_close(self._breaker_closed)
        self._task = asyncio.create_task(self._run(), name="redis-bus-listener")

    async def stop(self) -> None:
        if self._redis is not None:
            self._redis.breaker.remove_on_close(self._breaker_closed)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        for _, done in self._outbox:  # handed over after the last pipeline: never sent
            if not done.done():
                done.set_exception(ConnectionError("the bus stopped"))
        self._outbox = []
        if self._task is not None:
            self._stopping = True  # redis-py's PubSub commands can swallow the cancellation: checked too
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await close_client(self._client)

    async def publish(self, channel: str, message: str) -> None:
        if self._redis is None:
            await self._client.publish(channel, message)
            return
        try:
            await self._redis.client.publish(channel, message)
        except RedisUnavailable:
            self.skipped += 1  # healed by the top-ups when the breaker closes
            self._lost = True
        except Exception:
            self._lost = True
            raise

    async def publish_many(self, items: list[tuple[str, str]]) -> None:
        """One pipeline for everything published meanwhile by this process: a send's events go in
        one Redis round trip, and under load those of many sends do. Order is kept (one pipeline
        at a time, in the order handed over). A task of its own sends, so a caller that is
        cancelled never takes other callers' publishes with it."""
        if not items:
            return
        done = asyncio.get_running_loop().create_future()
        self._outbox.append((items, done))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_outbox())
        await done

    async def _send_outbox(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            error: BaseException | None = None
            try:
                await self._pipeline([item for items, _ in batch for item in items])
            except asyncio.CancelledError:
                error = ConnectionError("the bus stopped")
                raise
            except Exception as exc:
                error = exc
            finally:
                for _, done in batch:
                    if not done.done():
                        if error is None:
                            done.set_result(None)
                        else:
                            done.set_exception(error)

    async def _pipeline(self, items: list[tuple[str, str]]) -> None:
        client = self._client if self._redis is None else self._redis.client
        pipe = client.pipeline(transaction=False)
        for channel, message in _bundled(items):
            pipe.publish(channel, message)
        try:
            await pipe.execute()
        except RedisUnavailable:
            if self._redis is None:
                raise
            self.skipped += len(items)  # healed by the top-ups when the breaker closes
            self._lost = True
        except Exception:
            self._lost = True
            raise

    async def _breaker_closed(self) -> None:
        await self._reconnected()
        if self._lost:
            self._lost = False
            try:
                await self._redis.client.publish(self._control, self._topup)
            except Exception as exc:  # Redis failed again: the next close says it again
                self._lost = True
                log.warning("bus could not ask the other workers to top up: %s", exc)

    async def _listen(self, channel: str) -> None:
        await self._command("subscribe", channel)

    async def _unlisten(self, channel: str) -> None:
        await self._command("unsubscribe", channel)

    async def _command(self, name: str, channel: str) -> None:
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return  # the listener subscribes to every wanted channel when it connects
            try:
                await getattr(pubsub, name)(channel)
            except Exception as exc:  # the listener notices the broken connection and starts over
                log.warning("bus %s %s failed: %s", name, channel, exc)

    async def _check_master(self, pubsub: aioredis.client.PubSub) -> None:
        """Start over (resubscribe, top sockets up) when the sentinels name another master."""
        conn = pubsub.connection
        try:
            address = await self._client.connection_pool.get_master_address()
        except Exception as exc:  # the sentinels cannot say: keep the connection that works
            log.info("bus could not ask the sentinels for the master: %s", exc)
            return
        if conn is not None and (conn.host, conn.port) != tuple(address):
            raise ConnectionError(f"the master moved from {conn.host}:{conn.port} to {address[0]}:{address[1]}")

    async def _run(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                async with self._lock:
                    await pubsub.subscribe(self._control, *self._subscribers)
                    self._pubsub = pubsub
                self.epoch += 1
                self.connected.set()
                if delay > BACKOFF_FIRST:
                    log.info("bus reconnected to Redis")
                delay = BACKOFF_FIRST
                await self._reconnected()
                checked = pinged = -math.inf
                while not self._stopping:
                    if time.monotonic() - pinged >= HEARTBEAT:
                        pinged = time.monotonic()
                        await self._ping(pubsub)
                    response = await pubsub.parse_response(block=False, timeout=HEARTBEAT)
                    now = time.monotonic()
                    if response is not None:
                        if now - self._heard >= STALE:
                            self.epoch += 1  # a stall: messages may have been lost meanwhile
                        self._heard = now
                        if type(response) is list and len(response) == 3 and response[0] == "message":
                            # A message (no handler is ever registered): what handle_message would
                            # return, without its metrics and dict.
                            channel, data = response[1], response[2]
                        else:
                            pong = _pong(response)
                            msg = None if pong is not None else await pubsub.handle_message(response, True)
                            if pong is not None and pong.isdigit():
                                self._ponged = max(self._ponged, int(pong))
                            channel, data = ((msg["channel"], msg["data"]) if msg is not None
                                             and msg["type"] == "message" else (None, None))
                        if channel is None:
                            pass
                        elif channel != self._control:
                            if data.startswith(BUNDLE):
                                for message in data[1:].split(BUNDLE):
                                    await self._deliver(channel, message)
                            else:
                                await self._deliver(channel, data)
                        elif data.startswith("topup ") and data != self._topup:
                            await self._reconnected()  # another worker skipped publishes
                    if self._sentinel and now - checked >= MASTER_CHECK:
                        checked = now
                        await self._check_master(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus lost Redis (%s: %s); reconnecting in %.2fs", type(exc).__name__, exc, delay)
            finally:
                self.connected.clear()
                self._pubsub = None
                self._heard = -math.inf
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 1)
            if self._stopping:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)


def _bundled(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(channel, message) pairs → one per channel, the messages of a channel bundled in order
    (BUNDLE); a message that holds the separator goes on its own (with its channel's others)."""
    by_channel: dict[str, list[str]] = {}
    for channel, message in items:
        by_channel.setdefault(channel, []).append(message)
    if len(by_channel) == len(items):
        return items
    out = []
    for channel, messages in by_channel.items():
        if len(messages) == 1 or any(BUNDLE in message for message in messages):
            out += [(channel, message) for message in messages]
        else:
            out.append((channel, BUNDLE + BUNDLE.join(messages)))
    return out


def _pong(response) -> str | None:
    """The payload of a PING's reply on the pub/sub link, None for anything else.

    Under RESP3 the reply is the bare payload (redis-py's get_message() then misreads it as a
    message, so the listener reads replies itself); under RESP2 it is ["pong", payload].
    """
    if isinstance(response, str):
        return response
    if isinstance(response, list) and len(response) == 2 and response[0] in ("pong", b"pong"):
        return response[1] if isinstance(response[1], str) else response[1].decode()
    return None

