"""The per-user event stream: seq reservation, the durable log written in the action's transaction,
publish after COMMIT, replay and pruning. The sockets (ws/) only read it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web

from server.db import Conn, Tx
from server.formats import dumps
from server.keys import BUS, CONFIG, DB, REDIS
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class Event:
    user_id: int
    type: str
    data: dict[str, Any]
    seq: int | None = None
    _frame: str | None = field(default=None, repr=False)

    def frame(self) -> str:
        """The WebSocket frame: {"type", "seq"?, "data"}."""
        if self._frame is None:
            body: dict[str, Any] = {"type": self.type}
            if self.seq is not None:
                body["seq"] = self.seq
            body["data"] = self.data
            self._frame = dumps(body).decode()
        return self._frame


def user_channel(app: web.Application, user_id: int) -> str:
    return app[REDIS].key("user", user_id)


async def emit(conn: Conn, user_id: int, type: str, data: dict[str, Any]) -> Event:
    """Inside the transaction: give the event the user's next seq and store it for replay."""
    return (await emit_many(conn, [(user_id, type, data)]))[0]


async def emit_many(conn: Conn, items: list[tuple[int, str, dict[str, Any]]]) -> list[Event]:
    """Several events (user_id, type, data) in one go: one seq upsert per user (in user id order, so
    concurrent transactions lock the counters in one order), one INSERT for their log rows.

    Returns the events in the order of items, each with its seq.
    """
    counts: dict[int, int] = {}
    for user_id, _, _ in items:
        counts[user_id] = counts.get(user_id, 0) + 1
    next_seq: dict[int, int] = {}
    for user_id in sorted(counts):
        last = await conn.insert(Q.events.reserve_seqs, {"user_id": user_id, "n": counts[user_id]})
        next_seq[user_id] = last - counts[user_id] + 1
    events = []
    for user_id, type_, data in items:
        events.append(Event(user_id, type_, data, next_seq[user_id]))
        next_seq[user_id] += 1
    if isinstance(conn, Tx):
        # The unit of work: log rows in one INSERT just before COMMIT, published after it.
        if not conn.events:
            conn.before_commit(lambda: _store(conn, conn.events))
        conn.events.extend(events)
    else:
        await _store(conn, events)
    return events


async def _store(conn: Conn, events: list[Event]) -> None:
    if events:
        await conn.executemany(Q.events.append, [
            (e.user_id, e.seq, e.type, dumps(e.data).decode()) for e in events])


async def publish(app: web.Application, events: list[Event] | Event | None) -> None:
    """After COMMIT: wake the users' sockets. A lost publish is recovered by resume (?last_seq)."""
    if events is None:
        return
    if isinstance(events, Event):
        events = [events]
    bus = app[BUS]
    for event in events:
        try:
            await bus.publish(user_channel(app, event.user_id), event.frame())
        except Exception as exc:  # Redis down: the event is in MySQL, clients catch up on resume
            log.warning("publish of %s to user %s failed: %s", event.type, event.user_id, exc)
        if event.seq is not None and event.seq % _prune_every(app) == 0:
            await prune(app, event.user_id, event.seq)


async def publish_transient(app: web.Application, user_id: int, type: str, data: dict[str, Any]) -> None:
    """Events outside the stream (typing, presence): no seq, not replayed."""
    await publish(app, Event(user_id, type, data))


# --- replay --------------------------------------------------------------------------------

async def latest_seq(app: web.Application, user_id: int) -> int:
    """The user's latest seq (0 before the first event)."""
    return int(await app[DB].fetchval(Q.events.latest_seq, {"user_id": user_id}) or 0)


async def since(app: web.Application, user_id: int, last_seq: int, limit: int = 500) -> list[Event]:
    """Stored events after last_seq, oldest first (at most limit). A gap before the first means pruned."""
    rows = await app[DB].fetchall(Q.events.since, {"user_id": user_id, "seq": last_seq, "limit": limit})
    return [Event(user_id, row["type"], orjson.loads(row["payload"]), int(row["seq"])) for row in rows]


def _prune_every(app: web.Application) -> int:
    return max(1, min(64, app[CONFIG].bus.replay_max))


async def prune(app: web.Application, user_id: int, seq: int) -> None:
    """Keep the user's last bus.replay_max events (older ones are a `reset` on resume)."""
    try:
        await app[DB].execute(Q.events.prune, {"user_id": user_id, "seq": seq - app[CONFIG].bus.replay_max})
    except Exception as exc:  # best effort: the next prune catches up
        log.warning("pruning events of user %s failed: %s", user_id, exc)


async def prune_expired(app: web.Application, batch: int = 5000) -> int:
    """Drop events older than bus.replay_ttl, in batches so no lock is held long."""
    total = 0
    while True:
        n = await app[DB].execute(Q.realtime.prune_expired, {"ttl": app[CONFIG].bus.replay_ttl, "limit": batch})
        total += n
        if n < batch:
            return total


async def run_and_publish(app: web.Application, fn: Callable[[Tx], Awaitable[T]]) -> T:
    """fn(tx) in one transaction (retried by db.run on deadlock); the events it emitted are
    published after COMMIT."""
    emitted: list[Event] = []

    async def attempt(tx: Tx) -> T:
        result = await fn(tx)
        emitted[:] = tx.events
        return result

    result = await app[DB].run(attempt)
    await publish(app, emitted)
    return result
