"""The per-user event stream: seq + durable log written inside the transaction, published after COMMIT."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.db import Conn
from server.keys import BUS, REDIS
from server.queries import QUERIES as Q
from server.responses import dumps

log = logging.getLogger(__name__)


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
    seq = await conn.insert(Q.events.next_seq, {"user_id": user_id})
    event = Event(user_id, type, data, seq)
    await conn.execute(Q.events.append, {"user_id": user_id, "seq": seq, "type": type,
                                         "payload": dumps(data).decode()})
    return event


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


async def publish_transient(app: web.Application, user_id: int, type: str, data: dict[str, Any]) -> None:
    """Events outside the stream (typing, presence): no seq, not replayed."""
    await publish(app, Event(user_id, type, data))
