"""Mentions: the accounts a post or comment names with @username, stored when it is written, and
the `mention` notification of each newly mentioned user.

Resolved when written: an @name of no active account is plain text (and stays so if such an
account appears later). An edit notifies only users its previous version did not mention; the
notification is suppressed as every notification is (blocks either way, a mute with
notifications: server/notifications.create), and one's own name notifies nobody.
"""

from __future__ import annotations

from aiohttp import web

from server.db import Conn
from server.notifications import notify
from server.queries import QUERIES as Q
from server.textrefs import parse_mentions

_KINDS = {
    "post": (Q.mentions.post_rows, Q.mentions.post_add, Q.mentions.post_move, Q.mentions.post_remove),
    "comment": (Q.mentions.comment_rows, Q.mentions.comment_add, Q.mentions.comment_move, Q.mentions.comment_remove),
}


async def resolve(conn: Conn, content: str) -> list[int]:
    """The active accounts `content` mentions, in order of first mention (non-locking read)."""
    names = parse_mentions(content)
    found = await conn.fetchall(Q.mentions.resolve, {"names": names}) if names else []
    by_name = {r["username"].lower(): r["id"] for r in found}
    return list(dict.fromkeys(by_name[n.lower()] for n in names if n.lower() in by_name))


async def lock_users(conn: Conn, author_id: int, mentioned: list[int], lock_author) -> None:
    """Inside a post's creation: the author's row (lock_author, an X lock) and a shared lock on each
    mentioned user's row, in user id order. The notifications' foreign keys take those shared
    locks anyway; taken in one order, two users' posts mentioning each other queue instead of
    deadlocking (each holding its author's row and waiting for the other's)."""
    for user_id in sorted({author_id, *mentioned}):
        if user_id == author_id:
            await lock_author()
        else:
            await conn.fetchval(Q.mentions.share_lock, {"id": user_id})


async def sync(conn: Conn, app: web.Application, *, kind: str, id: int, author_id: int, content: str,
               post_id: int, mentioned: list[int] | None = None, notify_new: bool = True) -> list[int]:
    """Inside the writing transaction (the post or comment row locked or new): store who `content`
    mentions (`mentioned`: resolved already) and, with notify_new, notify the newly mentioned in
    user id order → their ids, ascending. kind: "post" or "comment"; post_id: the post (the
    comment's post)."""
    rows_q, add_q, move_q, remove_q = _KINDS[kind]
    if mentioned is None:
        mentioned = await resolve(conn, content)
    wanted = {user_id: i for i, user_id in enumerate(mentioned)}
    have = {r["user_id"]: r["position"] for r in await conn.fetchall(rows_q, {"id": id})}
    new = []
    for user_id in sorted(set(have) | set(wanted)):
        args = {"id": id, "user_id": user_id}
        if user_id not in wanted:
            await conn.execute(remove_q, args)
        elif user_id not in have:
            await conn.execute(add_q, {**args, "position": min(wanted[user_id], 255)})
            new.append(user_id)
        elif have[user_id] != wanted[user_id]:
            await conn.execute(move_q, {**args, "position": min(wanted[user_id], 255)})
    if notify_new:
        for user_id in new:
            await notify(conn, app, user_id=user_id, type="mention", actor_id=author_id, post_id=post_id,
                         comment_id=id if kind == "comment" else None)
    return new
