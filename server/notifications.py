"""Notifications: created and retracted inside the acting transaction (with their events), listed
(one by one or grouped), counted and marked read (`notification.read` with the new unread count);
the per-type settings every creation obeys."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web

from server.db import ID_MAX, Conn, Tx
from server.errors import BadRequest
from server.events import Event, emit, emitted, reservation, run_and_publish
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
# Every notification type, in the order the settings list them: a user may switch each off
# (notification_settings).
TYPES = ("follow", "like", "comment", "comment_like", "message", "response", "mention", "report.resolved")
# Grouped notifications: these types group per target and UTC day (the verb after the actors).
GROUPED = {"like": "liked your post", "comment_like": "liked your comment", "follow": "started following you"}
GROUP_ACTORS = 3  # actors shown per group, newest first
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
    # The recipient's settings: read with the actor (both queries that read it carry `disabled`),
    # or on its own by primary key for an actor row from elsewhere.
    disabled = actor["disabled"] if "disabled" in actor else await conn.fetchval(
        Q.notifications.disabled, {"user_id": user_id})
    if switched_off(disabled, type):
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
                 message_id: int | None = None, response_id: int | None = None,
                 actor: dict[str, Any] | None = None) -> list[Event]:
    """Create a notification for user_id (never for acting on one's own things, nor one `create`
    suppresses: blocks, mutes).

    Call inside the action's transaction (the Tx of events.run_and_publish): the event goes with
    the transaction and is published after COMMIT. Returns it (or [] for one's own things, or a
    type user_id switched off: nothing stored, nothing pushed). `actor`: as for create.

    In a Tx the INSERT and the reservation of the event's seq go in one round trip.
    """
    if not isinstance(conn, Tx):
        obj = await create(conn, app, user_id=user_id, type=type, actor_id=actor_id, post_id=post_id,
                           comment_id=comment_id, message_id=message_id, response_id=response_id, actor=actor)
        return [] if obj is None else [await emit(conn, user_id, "notification.created", obj)]
    if user_id == actor_id:
        return []
    if actor is None:
        actor = await conn.fetchone(Q.notifications.actor, {"id": actor_id, "user_id": user_id, "type": type})
    if actor is None or actor["suppressed"]:
        return []
    disabled = actor["disabled"] if "disabled" in actor else await conn.fetchval(
        Q.notifications.disabled, {"user_id": user_id})
    if switched_off(disabled, type):
        return []
    created_at = now_ms()
    row = {"user_id": user_id, "type": type, "actor_id": actor_id, "post_id": post_id, "comment_id": comment_id,
           "message_id": message_id, "response_id": response_id, "created_at": created_at}
    results = await conn.batch((Q.notifications.create, row), *reservation(conn, [user_id]))
    obj = present(app, {
        "id": results[0].lastrowid, "type": type, "actor_id": actor_id, "actor_username": actor["username"],
        "actor_full_name": actor["full_name"], "actor_avatar_key": actor["avatar_key"],
        "post_id": post_id, "comment_id": comment_id, "message_id": message_id, "is_read": False,
        "created_at": created_at})
    return emitted(conn, [(user_id, "notification.created", obj)], results[1:])


async def retract(conn: Conn, app: web.Application, *, user_id: int, type: str, actor_id: int,
                  post_id: int | None = None, comment_id: int | None = None) -> list[Event]:
    """Undoing a like or follow removes the notification it made, if still unread.

    Returns a `notification.read` event with the new unread count when something was removed
    (in a Tx: the DELETE, the count and the event's seq in one round trip).
    """
    if user_id == actor_id:
        return []
    rows = await conn.fetchall(Q.notifications.find_unread, {
        "user_id": user_id, "type": type, "actor_id": actor_id, "post_id": post_id, "comment_id": comment_id})
    if not rows:
        return []
    delete = (Q.notifications.delete_ids, {"ids": [r["id"] for r in rows]})
    if not isinstance(conn, Tx):
        await conn.execute(*delete)
        count = await conn.fetchval(Q.notifications.unread_count, {"user_id": user_id})
        return [await emit(conn, user_id, "notification.read", {"unread_count": int(count)})]
    results = await conn.batch(delete, (Q.notifications.unread_count, {"user_id": user_id}),
                               *reservation(conn, [user_id]))
    count = next(iter(results[1].rows[0].values()))
    return emitted(conn, [(user_id, "notification.read", {"unread_count": int(count)})], results[2:])


async def report_resolved(conn: Conn, app: web.Application, *, user_id: int, report_id: int,
                          action: str) -> Event | None:
    """Inside the moderator's transaction: tell a reporter their report was resolved (its
    `notification.created` goes out after COMMIT); nothing when they switched report.resolved off."""
    if switched_off(await conn.fetchval(Q.notifications.disabled, {"user_id": user_id}), "report.resolved"):
        return None
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
                    up_to_id: int | None = None, group_key: str | None = None) -> int:
    """Mark read by ids, up to an id and/or one group of the grouped page (group_key), or (none of
    them) all → the unread count left.

    A change sends the user `notification.read` with that count.
    """
    group = parse_group_key(group_key) if group_key is not None else None

    async def tx(conn: Tx) -> int:
        changed = 0
        if group is not None:
            if "id" in group:
                changed += await conn.execute(Q.notifications.mark_ids, {"user_id": user_id, "ids": [group["id"]]})
            else:
                changed += await conn.execute(Q.notifications.mark_group, {"user_id": user_id, **group})
        if ids is not None:
            changed += await conn.execute(Q.notifications.mark_ids, {"user_id": user_id, "ids": ids})
        if up_to_id is not None:
            changed += await conn.execute(Q.notifications.mark_up_to, {"user_id": user_id, "up_to_id": up_to_id})
        if ids is None and up_to_id is None and group is None:
            changed = await conn.execute(Q.notifications.mark_all, {"user_id": user_id})
        count = int(await conn.fetchval(Q.notifications.unread_count, {"user_id": user_id}))
        if changed:
            await emit(conn, user_id, "notification.read", {"unread_count": count})
        return count

    return await run_and_publish(app, tx)


# --- grouped --------------------------------------------------------------------------------------

_GROUP_KEY = re.compile(r"(?:(like|comment_like):([0-9]{1,19}):|(follow):)([0-9]{4}-[0-9]{2}-[0-9]{2})"
                        r"|notification:([0-9]{1,19})")
GROUP_KEY_PATTERN = _GROUP_KEY.pattern


def group_key(row: dict[str, Any]) -> str:
    """The key of a notification's group: `like:<post_id>:<day>`, `comment_like:<comment_id>:<day>`,
    `follow:<day>` (day: YYYY-MM-DD, UTC) or, for every other type, `notification:<id>`."""
    day = row["created_at"].date().isoformat()
    if row["type"] == "like":
        return f"like:{row['post_id']}:{day}"
    if row["type"] == "comment_like":
        return f"comment_like:{row['comment_id']}:{day}"
    if row["type"] == "follow":
        return f"follow:{day}"
    return f"notification:{row['id']}"


def parse_group_key(key: str) -> dict[str, Any]:
    """A group key → the arguments of Q.notifications.mark_group (or {"id"} for a group of one).
    The handler checked the pattern; a day that is no date, or an id out of range, is a 400."""
    match = _GROUP_KEY.fullmatch(key)
    if match is None:
        raise BadRequest("Not a group key.")
    kind, target, follow, day, single = match.groups()
    if single is not None:
        if not 1 <= int(single) <= ID_MAX:
            raise BadRequest("Not a group key.")
        return {"id": int(single)}
    try:
        start = dt.date.fromisoformat(day)
    except ValueError:
        raise BadRequest("Not a group key: the day is not a date.") from None
    if target is not None and not 1 <= int(target) <= ID_MAX:
        raise BadRequest("Not a group key.")
    type_ = kind or follow
    return {"type": type_, "day": start,
            "post_id": int(target) if type_ == "like" else None,
            "comment_id": int(target) if type_ == "comment_like" else None}


def _actors_text(names: list[str], count: int) -> str:
    if count <= 1:
        return names[0]
    if count == 2:
        return f"{names[0]} and {names[1]}"
    if count == 3:
        return f"{names[0]}, {names[1]} and {names[2]}"
    return f"{names[0]}, {names[1]} and {count - 2} others"


async def grouped_page(app: web.Application, user_id: int, p: PageParams) -> dict[str, Any]:
    """The user's notifications grouped (likes per post or comment and UTC day, follows per UTC
    day; every other one alone), newest group first → a page of NotificationGroup, keyset on
    each group's latest notification id (latest_notification_id; next_cursor is the last one's).

    Two queries whatever the page size: the groups' newest notifications, then the actors, counts
    and unread counts of the grouped ones (at most GROUP_ACTORS rows per group)."""
    async with app[DB].connection() as conn:
        rows = await conn.fetchall(p.sql(Q.notifications.grouped_page), p.args(user_id=user_id))
        page = make_page(rows, p)
        heads = [r for r in page["items"] if r["type"] in GROUPED]
        details: dict[int, list[dict[str, Any]]] = {}
        if heads:
            for d in await conn.fetchall(Q.notifications.group_details, {
                    "ids": [r["id"] for r in heads], "user_id": user_id, "actors": GROUP_ACTORS}):
                details.setdefault(d["head_id"], []).append(d)
    page["items"] = [_group(app, r, details.get(r["id"])) for r in page["items"]]
    return page


def _group(app: web.Application, head: dict[str, Any], details: list[dict[str, Any]] | None) -> dict[str, Any]:
    note = present(app, head)
    if details:
        actors = [{"id": d["actor_id"], "username": d["username"], "full_name": d["full_name"],
                   "profile_pic": media_url(app, d["avatar_key"])} for d in details]
        count, unread = int(details[0]["actors_count"]), int(details[0]["unread_count"])
        text = f"{_actors_text([a['username'] for a in actors], count)} {GROUPED[head['type']]}"
    else:
        actors = [note["actor"]] if note["actor"] else []
        count, unread, text = 1, int(not head["is_read"]), note["message"]
    return {
        "group_key": group_key(head),
        "type": head["type"],
        "count": count,
        "actors": actors,
        "latest_notification_id": head["id"],
        "latest_at": note["created_at"],
        "day": head["created_at"].date().isoformat() if head["type"] in GROUPED else None,
        "post_id": head["post_id"],
        "comment_id": head["comment_id"],
        "message_id": head["message_id"],
        "report_id": head.get("report_id"),
        "message": text,
        "unread_count": unread,
        "is_read": unread == 0,
    }


# --- settings -------------------------------------------------------------------------------------

def switched_off(disabled: str | None, type: str) -> bool:
    """Whether `type` is among a user's disabled types (notification_settings.disabled)."""
    return bool(disabled) and type in disabled.split(",")


def _settings(disabled: str | None) -> dict[str, bool]:
    return {t: not switched_off(disabled, t) for t in TYPES}


async def settings(app: web.Application, user_id: int) -> dict[str, bool]:
    """{type: on} for every notification type (a user who never changed them: all on)."""
    return _settings(await app[DB].fetchval(Q.notifications.disabled, {"user_id": user_id}))


async def update_settings(app: web.Application, user_id: int, changes: dict[str, bool]) -> dict[str, bool]:
    """Switch types on (True) or off (False); the others stay as they were → every type's state.
    Keys are type names (TYPES; the handler refused any other). From COMMIT on, a type switched
    off is neither stored nor pushed, whoever makes it."""
    async def fn(conn: Tx) -> dict[str, bool]:
        await conn.execute(Q.notifications.settings_row, {"user_id": user_id})
        state = _settings(await conn.fetchval(Q.notifications.lock_settings, {"user_id": user_id}))
        state.update(changes)
        disabled = ",".join(t for t in TYPES if not state[t])
        await conn.execute(Q.notifications.set_disabled, {"user_id": user_id, "disabled": disabled})
        return state

    return await app[DB].run(fn)
