"""Mutes: mute a user (for a while or until undone, with or without their notifications), unmute,
the list of muted users.

What a mute hides is filtered where it is served: the muted user's posts inside the home-feed and
public-timeline queries (and the Conduit lists), their notifications in notifications.create. The
muted user notices nothing: their follows, messages and everything they see stay as they were. A
timed mute ends by itself (every reader compares expires_at with the time; housekeeping deletes
the row later, and a cached home timeline is rebuilt when it ends, server/timeline.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import timeline
from server.blocks import relation_page
from server.db import Tx
from server.errors import NotFound, ValidationFailed
from server.formats import iso
from server.http.pagination import PageParams
from server.keys import DB
from server.queries import QUERIES as Q

MAX_DURATION = 366 * 24 * 3600  # seconds; longer is "until undone" (null)


class SelfMute(ValidationFailed):
    """Muting oneself (422)."""

    def __init__(self) -> None:
        super().__init__({"id": ["You cannot mute yourself."]})


def _state(row: dict[str, Any]) -> dict[str, Any]:
    return {"muting": True, "notifications": bool(row["notifications"]), "expires_at": iso(row["expires_at"])}


async def mute(app: web.Application, user_id: int, target_id: int, *, duration: int | None = None,
               notifications: bool = True) -> dict[str, Any]:
    """user_id mutes target_id for duration seconds (None: until undone), their notifications too
    when `notifications` → {muting: True, notifications, expires_at}. Muting again replaces the
    settings. The muter's cached home timeline is dropped."""
    if user_id == target_id:
        raise SelfMute()

    async def tx(conn: Tx) -> dict[str, Any]:
        if not await conn.fetchval(Q.follows.user_exists, {"id": target_id}):
            raise NotFound("No such user.")
        args = {"user_id": user_id, "target_id": target_id}
        await conn.execute(Q.mutes.upsert, {**args, "duration": duration, "notifications": notifications})
        return await conn.fetchone(Q.mutes.state, args)

    row = await app[DB].run(tx)
    await timeline.follows_changed(app, user_id)
    return _state(row)


async def unmute(app: web.Application, user_id: int, target_id: int) -> dict[str, bool]:
    """Undo a mute (idempotent) → {muting: False}; the muter's cached home timeline is dropped."""
    if not await app[DB].fetchval(Q.follows.user_exists, {"id": target_id}):
        raise NotFound("No such user.")
    if await app[DB].execute(Q.mutes.delete, {"user_id": user_id, "target_id": target_id}):
        await timeline.follows_changed(app, user_id)
    return {"muting": False}


async def muted_users(app: web.Application, user_id: int, p: PageParams) -> dict[str, Any]:
    """The users user_id mutes (mutes in force), newest mute first → a page of Mute
    {user, notifications, expires_at, created_at}."""
    async with app[DB].connection() as conn:
        return await relation_page(conn, app, Q.mutes.page, user_id, p, key="mute_id", extra=lambda r: {
            "notifications": bool(r["notifications"]), "expires_at": iso(r["expires_at"]),
            "created_at": iso(r["created_at"])})
