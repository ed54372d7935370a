"""Likes on posts and comments: idempotent like/unlike with exact counters and notifications, likers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import present
from server.blocks import refuse_between
from server.db import Tx
from server.errors import Forbidden, NotFound
from server.events import run_and_publish
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.notifications import notify, retract
from server.posts import post_visible, require_active
from server.queries import QUERIES as Q


async def _post_like(app: web.Application, user_id: int, post_id: int, *, on: bool) -> dict[str, Any]:
    args = {"post_id": post_id, "user_id": user_id, "delta": 1 if on else -1}

    async def fn(conn: Tx) -> dict[str, Any]:
        # One round trip (with the BEGIN): the post row locked first (likers queue on it instead
        # of deadlocking on the shared FK lock that INSERT would otherwise take before the
        # counter's exclusive one), its author's state, the blocks between the two and the liker's
        # summary for the notification, the like itself, the counter moved by the rows it changed,
        # and the count. A refusal (no post, author not active, a block) rolls it all back.
        found, target, _, _, _, counted = await conn.batch(
            (Q.posts.lock, {"id": post_id}),
            (Q.likes.post_target, args),
            (Q.likes.like_post if on else Q.likes.unlike_post, args),
            (Q.likes.mark_changed, None),
            (Q.likes.bump_post_changed, args),
            (Q.likes.post_likes_changed, args))
        if not found.rows or not target.rows or target.rows[0]["author_state"] != "active":
            raise NotFound("No such post.")
        row = target.rows[0]
        if on and row["blocking"]:
            raise Forbidden("You have blocked this user: unblock them to like this post.")
        if on and row["blocked_by"]:
            raise Forbidden("You may not like this post.")
        if counted.rows[0]["changed"]:
            author_id = row["author_id"]
            if on:
                actor = {**row, "suppressed": row["blocking"] or row["blocked_by"] or row["muted"]}
                await notify(conn, app, user_id=author_id, type="like", actor_id=user_id, post_id=post_id,
                             actor=actor)
            else:
                await retract(conn, app, user_id=author_id, type="like", actor_id=user_id, post_id=post_id)
        return {"liked": on, "likes_count": int(counted.rows[0]["likes_count"])}

    return await run_and_publish(app, fn)


async def like_post(app: web.Application, user_id: int, post_id: int) -> dict[str, Any]:
    """Like (idempotent) → {liked: True, likes_count}; 403 when either of the liker and the author
    blocks the other."""
    return await _post_like(app, user_id, post_id, on=True)


async def unlike_post(app: web.Application, user_id: int, post_id: int) -> dict[str, Any]:
    """Unlike (idempotent) → {liked: False, likes_count}."""
    return await _post_like(app, user_id, post_id, on=False)


async def likers(app: web.Application, post_id: int, p: PageParams, viewer_id: int | None = None) -> dict[str, Any]:
    """Who liked a post, newest like first, without users blocked either way by the viewer → a page
    of UserSummary; 404 when there is no such post or its author blocks the viewer
    (or is hidden from the viewer)."""
    async with app[DB].connection() as conn:
        if not await post_visible(conn, post_id, viewer_id):
            raise NotFound("No such post.")
        rows = await conn.fetchall(p.sql(Q.likes.post_likers), p.args(post_id=post_id, viewer_id=viewer_id))
    return make_page(rows, p, key=lambda r: r["like_id"], dump=lambda r: present.user_summary(app, r))


async def _comment_like(app: web.Application, user_id: int, comment_id: int, *, on: bool) -> dict[str, Any]:
    async def fn(conn: Tx) -> dict[str, Any]:
        row = await conn.fetchone(Q.comments.lock, {"id": comment_id})
        if row is None:
            raise NotFound("No such comment.")
        await require_active(conn, row["user_id"], "No such comment.")
        if on:
            await refuse_between(conn, user_id, row["user_id"], "like this comment")
        args = {"comment_id": comment_id, "user_id": user_id}
        if await conn.execute(Q.likes.like_comment if on else Q.likes.unlike_comment, args):
            await conn.execute(Q.likes.bump_comment, {"comment_id": comment_id, "delta": 1 if on else -1})
            change = notify if on else retract
            await change(conn, app, user_id=row["user_id"], type="comment_like",
                         actor_id=user_id, post_id=row["post_id"], comment_id=comment_id)
        count = await conn.fetchval(Q.likes.comment_likes_count, {"comment_id": comment_id})
        return {"liked": on, "likes_count": int(count)}

    return await run_and_publish(app, fn)


async def like_comment(app: web.Application, user_id: int, comment_id: int) -> dict[str, Any]:
    """Like a comment (idempotent) → {liked: True, likes_count}."""
    return await _comment_like(app, user_id, comment_id, on=True)


async def unlike_comment(app: web.Application, user_id: int, comment_id: int) -> dict[str, Any]:
    """Unlike a comment (idempotent) → {liked: False, likes_count}."""
    return await _comment_like(app, user_id, comment_id, on=False)
