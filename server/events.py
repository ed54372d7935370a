"""The per-user event stream: seq reservation, the durable log written in the action's transaction,
publish after COMMIT, replay and pruning. The sockets (ws/) only read it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web

from server.db import Conn, Result, Tx
from server.formats import dumps
from server.keys import BUS, CONFIG, DB, REDIS, SERVICES
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
    _payload: str | None = field(default=None, repr=False)

    def payload(self) -> str:
        """data as JSON, encoded once: the log row and the frame (sent to every socket) share it."""
        if self._payload is None:
            self._payload = dumps(self.data).decode()
        return self._payload

    def frame(self) -> str:
        """The WebSocket frame: {"type", "seq"?, "data"}."""
        if self._frame is None:
            head = {"type": self.type} if self.seq is None else {"type": self.type, "seq": self.seq}
            self._frame = f'{dumps(head).decode()[:-1]},"data":{self.payload()}}}'
        return self._frame


def user_channel(app: web.Application, user_id: int) -> str:
    return app[REDIS].key("user", user_id)


async def emit(conn: Conn, user_id: int, type: str, data: dict[str, Any]) -> Event:
    """Inside the transaction: give the event the user's next seq and store it for replay."""
    return (await emit_many(conn, [(user_id, type, data)]))[0]


async def emit_many(conn: Conn, items: list[tuple[int, str, dict[str, Any]]]) -> list[Event]:
    """Several events (user_id, type, data) in one go: the seqs of all their users in one round
    trip (in user id order, so concurrent transactions lock the counters in one order), one
    INSERT for their log rows (in a Tx: sent with the COMMIT).

    Returns the events in the order of items, each with its seq.
    """
    reserved = await conn.batch(*reservation(conn, [user_id for user_id, _, _ in items]))
    events = emitted(conn, items, reserved)
    if not isinstance(conn, Tx):
        await conn.execute(_log_rows(conn, events))
    return events


def reservation(conn: Conn, user_ids: list[int]) -> list[tuple[str, dict[str, int]]]:
    """The statements that reserve a seq for each event of these users (one user id per event),
    one per user in user id order, to run in one Tx.batch(); emitted() reads their results."""
    counts: dict[int, int] = {}
    for user_id in user_ids:
        counts[user_id] = counts.get(user_id, 0) + 1
    return [(Q.events.reserve_seqs, {"user_id": user_id, "n": n}) for user_id, n in sorted(counts.items())]


def emitted(conn: Conn, items: list[tuple[int, str, dict[str, Any]]], reserved: list[Result]) -> list[Event]:
    """The events of items, numbered from the results of their reservation() (each user's last
    seq reserved is its statement's insert id); in a Tx they are logged with its COMMIT (and
    published after it by run_and_publish)."""
    counts: dict[int, int] = {}
    for user_id, _, _ in items:
        counts[user_id] = counts.get(user_id, 0) + 1
    next_seq = {user_id: result.lastrowid - n + 1
                for (user_id, n), result in zip(sorted(counts.items()), reserved, strict=True)}
    events = []
    payloads: dict[int, str] = {}  # id(data) → its JSON: events that share their data share its encoding
    for user_id, type_, data in items:
        event = Event(user_id, type_, data, next_seq[user_id])
        next_seq[user_id] += 1
        payload = payloads.get(id(data))
        if payload is None:
            payloads[id(data)] = event.payload()
        else:
            event._payload = payload
        events.append(event)
    if isinstance(conn, Tx):
        # The unit of work: log rows in one INSERT sent with the COMMIT, published after it.
        if not conn.events:
            conn.before_commit(lambda: _log_at_commit(conn))
        conn.events.extend(events)
    return events


async def _log_at_commit(conn: Tx) -> None:
    if conn.events:
        conn.commit_with(_log_rows(conn, conn.events))


def _log_rows(conn: Conn, events: list[Event]) -> str:
    return conn.mogrify_rows(Q.events.append, [(e.user_id, e.seq, e.type, e.payload()) for e in events])


async def publish(app: web.Application, events: list[Event] | Event | None, *, local: bool = False) -> None:
    """After COMMIT: wake the users' sockets. A lost publish is recovered by resume (?last_seq).

    local: the stream events are also queued at once on this process's own sockets of their users
    (deliver_local), once the bus has them."""
    if events is None:
        return
    if isinstance(events, Event):
        events = [events]
    if not events:
        return
    try:  # all in one go (one Redis round trip), in order
        await app[BUS].publish_many([(user_channel(app, e.user_id), e.frame()) for e in events])
    except Exception as exc:  # Redis down: the events are in MySQL, clients catch up on resume
        log.warning("publish of %d event(s) (%s, ...) failed: %s", len(events), events[0].type, exc)
    if local:
        deliver_local(app, events)
    every = _prune_every(app)
    for event in events:
        if event.seq is not None and event.seq % every == 0:
            await prune(app, event.user_id, event.seq)


def deliver_local(app: web.Application, events: list[Event]) -> None:
    """Stream events committed and published: queued now on this process's sockets of their users,
    through the hub's in-order, at-most-once offer (the bus's copy, when it comes, finds them queued
    and is dropped). A sender's socket thus gets its message.created in the same write as its ack,
    without waiting for the bus."""
    offer = app[SERVICES].get("local_events")
    if offer is not None:
        offer([e for e in events if e.seq is not None])


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


async def run_and_publish(app: web.Application, fn: Callable[[Tx], Awaitable[T]], *, local: bool = False,
                          later: list[Event] | None = None) -> T:
    """fn(tx) in one transaction (retried by db.run on deadlock); the events it emitted are
    published after COMMIT (local: and queued on this process's sockets, see publish; or, given
    `later`, added to it for the caller's deliver_local)."""
    emitted: list[Event] = []

    async def attempt(tx: Tx) -> T:
        result = await fn(tx)
        emitted[:] = tx.events
        return result

    result = await app[DB].run(attempt)
    await publish(app, emitted, local=local and later is None)
    if later is not None:
        later.extend(emitted)
    return result
