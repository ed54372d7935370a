"""Follows: follow/unfollow (idempotent, exact counters, notified), follower and following pages,
relation flags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from server import blocks, present, timeline, users
from server.db import Conn, Database, Tx
from server.errors import NotFound, ValidationFailed
from server.events import run_and_publish
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.notifications import notify, retract
from server.queries import QUERIES as Q


class SelfFollow(ValidationFailed):
    """Following oneself (422)."""

    def __init__(self) -> None:
        super().__init__({"id": ["You cannot follow yourself."]})


async def relation(db_or_conn: Database | Conn, viewer_id: int | None,
                   user_ids: Iterable[int]) -> dict[int, dict[str, bool]]:
    """{user_id: {"following": viewer follows them, "followed_by": they follow the viewer}}."""
    ids = list(dict.fromkeys(user_ids))
    if viewer_id is None or not ids:
        return {}
    args = {"viewer_id": viewer_id, "ids": ids}
    following = {r["id"] for r in await db_or_conn.fetchall(Q.follows.viewer_follows, args)}
    followed_by = {r["id"] for r in await db_or_conn.fetchall(Q.follows.follows_viewer, args)}
    return {i: {"following": i in following, "followed_by": i in followed_by} for i in ids}


async def _change(app: web.Application, follower_id: int, followee_id: int, *, on: bool) -> dict[str, Any]:
    if follower_id == followee_id:
        raise SelfFollow()

    async def tx(conn: Tx) -> dict[str, Any]:
        locked = await conn.fetchall(Q.follows.lock_pair, {"ids": [follower_id, followee_id]})
        if len(locked) != 2:
            raise NotFound("No such user.")
        if on and any(r["state"] != "active" for r in locked):  # suspended or deleted: hidden
            raise NotFound("No such user.")
        if on:
            # Under the user-row locks a block takes too: a block and a follow of the same pair run
            # one after the other, so either the block undoes this follow or this follow sees it.
            await blocks.refuse_between(conn, follower_id, followee_id, "follow this user")
        pair = {"follower_id": follower_id, "followee_id": followee_id}
        if await conn.execute(Q.follows.insert if on else Q.follows.delete, pair):
            await conn.execute(Q.follows.bump_counts, {**pair, "delta": 1 if on else -1})
            change = notify if on else retract
            await change(conn, app, user_id=followee_id, type="follow", actor_id=follower_id)
        count = await conn.fetchval(Q.follows.followers_count, {"id": followee_id})
        return {"following": on, "followers_count": int(count)}

    result = await run_and_publish(app, tx)
    await timeline.follows_changed(app, follower_id)
    return result


async def follow(app: web.Application, follower_id: int, followee_id: int) -> dict[str, Any]:
    """follower follows followee (idempotent) → {following: True, followers_count}."""
    return await _change(app, follower_id, followee_id, on=True)


async def unfollow(app: web.Application, follower_id: int, followee_id: int) -> dict[str, Any]:
    """Undo a follow (idempotent) → {following: False, followers_count}."""
    return await _change(app, follower_id, followee_id, on=False)


async def follow_by_username(app: web.Application, follower_id: int, username: str, *,
                             on: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Follow (on) or unfollow a user named by username (the Conduit way) → (their profile row as
    users.profile_by_username read it, {following, followers_count}); 404 before SelfFollow."""
    row = await users.profile_by_username(app, username, follower_id)
    return row, await _change(app, follower_id, row["id"], on=on)


async def _user_page(app: web.Application, query: str, user_id: int, p: PageParams,
                     viewer_id: int | None) -> dict[str, Any]:
    async with app[DB].read().connection() as conn:
        if not await conn.fetchval(Q.users.visible, {"id": user_id, "viewer_id": viewer_id}):
            raise NotFound("No such user.")
        rows = await conn.fetchall(p.sql(query), p.args(user_id=user_id, viewer_id=viewer_id))
        page = make_page(rows, p, key=lambda r: r["follow_id"])
        docs = await present.user_docs(conn, app, [r["id"] for r in page["items"]], viewer_id=viewer_id)
    return {"items": [docs[r["id"]] for r in page["items"] if r["id"] in docs], "next_cursor": page["next_cursor"]}


async def followers(app: web.Application, user_id: int, p: PageParams, viewer_id: int | None) -> dict[str, Any]:
    """Users following user_id, newest follow first → a page of User documents (without users blocked
    either way by the viewer); 404 for no such user or one who blocks the viewer."""
    return await _user_page(app, Q.follows.followers, user_id, p, viewer_id)


async def following(app: web.Application, user_id: int, p: PageParams, viewer_id: int | None) -> dict[str, Any]:
    """Users user_id follows, newest follow first → a page of User documents, as followers()."""
    return await _user_page(app, Q.follows.following, user_id, p, viewer_id)
