"""Notifications: created and retracted inside the acting transaction (with their events), listed,
counted and marked read (`notification.read` with the new unread count)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from server.db import Conn, Tx
from server.events import Event, emit, run_and_publish
from server.formats import iso
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.present import media_url
from server.queries import QUERIES as Q

MESSAGES = {
    "follow": "{actor} started following you",
    "like": "{actor} liked your post",
    "comment": "{actor} commented on your post",
    "comment_like": "{actor} liked your comment",
    "message": "{actor} sent you a message",
    "response": "{actor} replied to your message",
    "mention": "{actor} mentioned you",
}
# report.resolved: what the reporter is told, by the moderator's action.
REPORT_OUTCOMES = {
    "dismiss": "Your report was reviewed: no action was needed",
    "delete_content": "Your report was reviewed: the content was removed",
    "suspend_user": "Your report was reviewed: the account was suspended",
}


def present(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    """A notifications row joined with its actor (Q.notifications.by_id) → Notification.

    report.resolved has no actor (null) and says what became of the report (report_action)."""
    if row["type"] == "report.resolved":
        actor, text = None, REPORT_OUTCOMES.get(row.get("report_action"), "Your report was reviewed")
    else:
        actor = {"id": row["actor_id"], "username": row["actor_username"],
                 "full_name": row["actor_full_name"], "profile_pic": media_url(app, row["actor_avatar_key"])}
        text = MESSAGES[row["type"]].format(actor=row["actor_username"])
    return {
        "id": row["id"],
        "type": row["type"],
        "actor": actor,
        "post_id": row["post_id"],
        "comment_id": row["comment_id"],
        "message_id": row["message_id"],
        "report_id": row.get("report_id"),
        "message": text,
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
                 created_at: dt.datetime | None = None, actor: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Store a notification → the Notification; none (None) for acting on one's own things, when
    either of the two blocks the other, when user_id mutes the actor with notifications, or (a
    message or response) muted their conversation. No event.

    The object is built from the inserted values and the actor's summary (one small query, which
    also says whether the notification is suppressed; or `actor`, that row read already by the
    caller) instead of reading the row back.
    """
    if user_id == actor_id:
        return None
    if actor is None:
        actor = await conn.fetchone(Q.notifications.actor, {"id": actor_id, "user_id": user_id, "type": type})
    if actor is None or actor["suppressed"]:
        return None
    created_at = created_at or now_ms()
    nid = await conn.insert(Q.notifications.create, {
        "user_id": user_id, "type": type, "actor_id": actor_id, "post_id": post_id,
        "comment_id": comment_id, "message_id": message_id, "response_id": response_id,
        "created_at": created_at})
    return present(app, {
        "id": nid, "type": type, "actor_id": actor_id, "actor_username": actor["username"],
        "actor_full_name": actor["full_name"], "actor_avatar_key": actor["avatar_key"],
        "post_id": post_id, "comment_id": comment_id, "message_id": message_id, "is_read": False,
        "created_at": created_at})


async def notify(conn: Conn, app: web.Application, *, user_id: int, type: str, actor_id: int,
                 post_id: int | None = None, comment_id: int | None = None,
                 message_id: int | None = None, response_id: int | None = None) -> list[Event]:
    """Create a notification for user_id (never for acting on one's own things, nor one `create`
    suppresses: blocks, mutes).

    Call inside the action's transaction (the Tx of events.run_and_publish): the event goes with
    the transaction and is published after COMMIT. Returns it (or [] for one's own things).
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


async def report_resolved(conn: Conn, app: web.Application, *, user_id: int, report_id: int,
                          action: str) -> Event:
    """Inside the moderator's transaction: tell a reporter their report was resolved (its
    `notification.created` goes out after COMMIT)."""
    created_at = now_ms()
    nid = await conn.insert(Q.notifications.create_report_resolved, {
        "user_id": user_id, "report_id": report_id, "created_at": created_at})
    obj = present(app, {"id": nid, "type": "report.resolved", "report_action": action, "post_id": None,
                        "comment_id": None, "message_id": None, "report_id": report_id, "is_read": False,
                        "created_at": created_at})
    return await emit(conn, user_id, "notification.created", obj)


# --- the recipient's side ------------------------------------------------------------------------

async def page(app: web.Application, user_id: int, p: PageParams, *, unread: bool = False) -> dict[str, Any]:
    """The user's notifications, newest first (only unread ones when asked) → a page of Notification."""
    query = Q.notifications.unread_page if unread else Q.notifications.page
    rows = await app[DB].fetchall(p.sql(query), p.args(user_id=user_id))
    return make_page(rows, p, dump=lambda r: present(app, r))


async def unread_count(app: web.Application, user_id: int) -> int:
    return int(await app[DB].fetchval(Q.notifications.unread_count, {"user_id": user_id}))


async def mark_read(app: web.Application, user_id: int, *, ids: list[int] | None = None,
                    up_to_id: int | None = None) -> int:
    """Mark read by ids and/or up to an id, or (neither) all → the unread count left.

    A change sends the user `notification.read` with that count.
    """
    async def tx(conn: Tx) -> int:
        changed = 0
        if ids is not None:
            changed += await conn.execute(Q.notifications.mark_ids, {"user_id": user_id, "ids": ids})
        if up_to_id is not None:
            changed += await conn.execute(Q.notifications.mark_up_to, {"user_id": user_id, "up_to_id": up_to_id})
        if ids is None and up_to_id is None:
            changed = await conn.execute(Q.notifications.mark_all, {"user_id": user_id})
        count = int(await conn.fetchval(Q.notifications.unread_count, {"user_id": user_id}))
        if changed:
            await emit(conn, user_id, "notification.read", {"unread_count": count})
        return count

    return await run_and_publish(app, tx)
