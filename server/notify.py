"""Notifications: the row and its `notification.created` event, inside the action's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from server.db import Conn
from server.events import Event, emit
from server.formats import iso
from server.present import media_url
from server.queries import QUERIES as Q

MESSAGES = {
    "follow": "{actor} started following you",
    "like": "{actor} liked your post",
    "comment": "{actor} commented on your post",
    "comment_like": "{actor} liked your comment",
    "message": "{actor} sent you a message",
    "response": "{actor} replied to your message",
}


def present(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    """A notifications row joined with its actor (Q.notifications.by_id) → Notification."""
    return {
        "id": row["id"],
        "type": row["type"],
        "actor": {"id": row["actor_id"], "username": row["actor_username"],
                  "full_name": row["actor_full_name"], "profile_pic": media_url(app, row["actor_avatar_key"])},
        "post_id": row["post_id"],
        "comment_id": row["comment_id"],
        "message_id": row["message_id"],
        "message": MESSAGES[row["type"]].format(actor=row["actor_username"]),
        "is_read": bool(row["is_read"]),
        "created_at": iso(row["created_at"]),
    }


def now_ms() -> dt.datetime:
    """UTC now at the millisecond precision of DATETIME(3) columns: the value stored is the value shown."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


async def create(conn: Conn, app: web.Application, *, user_id: int, type: str, actor_id: int,
                 post_id: int | None = None, comment_id: int | None = None,
                 message_id: int | None = None, response_id: int | None = None,
                 created_at: dt.datetime | None = None) -> dict[str, Any] | None:
    """Store a notification → the Notification (None for acting on one's own things); no event.

    The object is built from the inserted values and the actor's summary (one small query)
    instead of reading the row back.
    """
    if user_id == actor_id:
        return None
    created_at = created_at or now_ms()
    nid = await conn.insert(Q.notifications.create, {
        "user_id": user_id, "type": type, "actor_id": actor_id, "post_id": post_id,
        "comment_id": comment_id, "message_id": message_id, "response_id": response_id,
        "created_at": created_at})
    actor = await conn.fetchone(Q.notifications.actor, {"id": actor_id})
    return present(app, {
        "id": nid, "type": type, "actor_id": actor_id, "actor_username": actor["username"],
        "actor_full_name": actor["full_name"], "actor_avatar_key": actor["avatar_key"],
        "post_id": post_id, "comment_id": comment_id, "message_id": message_id, "is_read": False,
        "created_at": created_at})


async def notify(conn: Conn, app: web.Application, *, user_id: int, type: str, actor_id: int,
                 post_id: int | None = None, comment_id: int | None = None,
                 message_id: int | None = None, response_id: int | None = None) -> list[Event]:
    """Create a notification for user_id (never for acting on one's own things).

    Call inside the action's transaction; publish the returned events after COMMIT:
        events = await notify(tx, app, user_id=post_owner, type="like", actor_id=me, post_id=pid)
        ...commit...
        await events.publish(app, events)
    """
    obj = await create(conn, app, user_id=user_id, type=type, actor_id=actor_id, post_id=post_id,
                       comment_id=comment_id, message_id=message_id, response_id=response_id)
    if obj is None:
        return []
    return [await emit(conn, user_id, "notification.created", obj)]


async def retract(conn: Conn, app: web.Application, *, user_id: int, type: str, actor_id: int,
                  post_id: int | None = None, comment_id: int | None = None) -> list[Event]:
    """Undoing a like or follow removes the notification it made, if still unread.

    Returns a `notification.read` event with the new unread count when something was removed.
    """
    if user_id == actor_id:
        return []
    rows = await conn.fetchall(Q.notifications.find_unread, {
        "user_id": user_id, "type": type, "actor_id": actor_id, "post_id": post_id, "comment_id": comment_id})
    if not rows:
        return []
    await conn.execute(Q.notifications.delete_ids, {"ids": [r["id"] for r in rows]})
    count = await conn.fetchval(Q.notifications.unread_count, {"user_id": user_id})
    return [await emit(conn, user_id, "notification.read", {"unread_count": int(count)})]
