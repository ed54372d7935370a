"""Blocks: block and unblock (idempotent; a block undoes the follows between the two with exact
counters), the list of blocked users, and the pair check the write paths make.

What a block hides is filtered inside the queries that serve each page (feeds, comments, likers,
follower lists, search, profiles); the write paths (follow, message, comment, like, notification)
refuse through `pair`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from server import present, timeline
from server.db import Conn, Tx
from server.errors import Forbidden, NotFound, ValidationFailed
from server.events import emit, publish_transient, run_and_publish
from server.formats import iso
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.notifications import retract
from server.queries import QUERIES as Q


class SelfBlock(ValidationFailed):
    """Blocking oneself (422)."""

    def __init__(self) -> None:
        super().__init__({"id": ["You cannot block yourself."]})


async def pair(conn: Any, a: int, b: int) -> tuple[bool, bool]:
    """(a blocks b, b blocks a); conn is the Database or a Conn (inside the acting transaction)."""
    row = await conn.fetchone(Q.blocks.pair, {"a": a, "b": b})
    return bool(row["blocking"]), bool(row["blocked_by"])


async def refuse_between(conn: Any, a: int, b: int, what: str) -> None:
    """Forbidden (403) when either of the two blocks the other: `what` names the refused act."""
    blocking, blocked_by = await pair(conn, a, b)
    if blocking:
        raise Forbidden(f"You have blocked this user: unblock them to {what}.")
    if blocked_by:
        raise Forbidden(f"You may not {what}.")


async def block(app: web.Application, user_id: int, target_id: int) -> dict[str, bool]:
    """user_id blocks target_id (idempotent) → {blocking: True}.

    In one transaction, under the same user-row locks as a follow (so a racing follow is either
    undone here or refused after): the follows between the two go both ways with their counters,
    the blocker's follow notification to the target is retracted as an unfollow would, and the
    blocker's notifications made by the target are deleted. Both home timelines are invalidated
    (as for any follow change) and each side is told the other went offline.
    """
    if user_id == target_id:
        raise SelfBlock()

    async def tx(conn: Tx) -> bool:
        locked = await conn.fetchall(Q.follows.lock_pair, {"ids": [user_id, target_id]})
        if len(locked) != 2:
            raise NotFound("No such user.")
        if not await conn.execute(Q.blocks.insert, {"user_id": user_id, "target_id": target_id}):
            return False  # already blocked: nothing else to undo
        for follower, followee in ((user_id, target_id), (target_id, user_id)):
            edge = {"follower_id": follower, "followee_id": followee}
            if await conn.execute(Q.follows.delete, edge):
                await conn.execute(Q.follows.bump_counts, {**edge, "delta": -1})
                if follower == user_id:
                    await retract(conn, app, user_id=target_id, type="follow", actor_id=user_id)
        if await conn.execute(Q.blocks.clear_notifications, {"user_id": user_id, "target_id": target_id}):
            count = await conn.fetchval(Q.notifications.unread_count, {"user_id": user_id})
            await emit(conn, user_id, "notification.read", {"unread_count": int(count)})
        return True

    if await run_and_publish(app, tx):
        await timeline.follows_changed(app, user_id, target_id)
        if await app[DB].fetchval(Q.realtime.is_peer, {"user_id": user_id, "peer_id": target_id}):
            # Presence stops between the two: whatever either was shown last, the other is offline now.
            await publish_transient(app, user_id, "presence", {"user_id": target_id, "online": False})
            await publish_transient(app, target_id, "presence", {"user_id": user_id, "online": False})
    return {"blocking": True}


async def unblock(app: web.Application, user_id: int, target_id: int) -> dict[str, bool]:
    """Undo a block (idempotent) → {blocking: False}. Follows undone by the block stay undone."""
    if not await app[DB].fetchval(Q.follows.user_exists, {"id": target_id}):
        raise NotFound("No such user.")
    await app[DB].execute(Q.blocks.delete, {"user_id": user_id, "target_id": target_id})
    return {"blocking": False}


async def blocked_users(app: web.Application, user_id: int, p: PageParams) -> dict[str, Any]:
    """The users user_id blocks, newest block first → a page of Block {user, created_at}."""
    async with app[DB].connection() as conn:
        return await relation_page(conn, app, Q.blocks.page, user_id, p, key="block_id",
                                   extra=lambda r: {"created_at": iso(r["created_at"])})


async def relation_page(conn: Conn, app: web.Application, query: str, user_id: int, p: PageParams, *,
                        key: str, extra: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """A page of {user: User (as user_id sees them), **extra(row)} from a keyset query of user ids
    (the blocks and mutes lists): the user documents are spliced in as JSON text, unparsed."""
    rows = await conn.fetchall(p.sql(query), p.args(user_id=user_id))
    page = make_page(rows, p, key=lambda r: r[key])
    docs = await present.user_docs(conn, app, [r["id"] for r in page["items"]], viewer_id=user_id,
                                   include_blockers=True)
    page["items"] = [{"user": orjson.Fragment(docs[r["id"]]), **extra(r)}
                     for r in page["items"] if r["id"] in docs]
    return page
