"""Page assembly for posts and comments: ids → API objects in a bounded number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from server import present
from server.db import Conn
from server.keys import DB
from server.pagination import PageParams, make_page
from server.queries import QUERIES as Q
from server.responses import iso


def _summary(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    return present.user_summary(app, {"id": row["user_id"], "username": row["username"],
                                      "full_name": row["full_name"], "avatar_key": row["avatar_key"]})


def _media_by_owner(app: web.Application, rows: list[dict[str, Any]], owner: str) -> dict[int, list]:
    out: dict[int, list] = {}
    for row in rows:
        out.setdefault(row[owner], []).append(present.media(app, row))
    return out


def post(app: web.Application, row: dict[str, Any], media: list, liked: bool) -> dict[str, Any]:
    """Post from a Q.feed.posts_by_ids row."""
    return {
        "id": row["id"],
        "author": _summary(app, row),
        "title": row["title"],
        "content": row["content"],
        "media": media,
        "likes_count": row["likes_count"],
        "comments_count": row["comments_count"],
        "liked": liked,
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "edited": row["edited_at"] is not None,
    }


def comment(app: web.Application, row: dict[str, Any], media: list, liked: bool) -> dict[str, Any]:
    """Comment from a Q.feed.comments_by_ids row."""
    return {
        "id": row["id"],
        "post_id": row["post_id"],
        "author": _summary(app, row),
        "content": row["content"],
        "media": media,
        "likes_count": row["likes_count"],
        "liked": liked,
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "edited": row["edited_at"] is not None,
    }


async def _load(app: web.Application, ids: Sequence[int], viewer_id: int | None, conn: Conn | None,
                *, rows_q: str, media_q: str, liked_q: str, owner: str, build) -> list[dict[str, Any]]:
    """Three queries whatever the page size: rows with authors, their media, the viewer's likes."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []

    async def run(c: Conn) -> list[dict[str, Any]]:
        rows = await c.fetchall(rows_q, {"ids": ids})
        media_rows = await c.fetchall(media_q, {"ids": ids})
        liked = set()
        if viewer_id is not None:
            liked = {r["id"] for r in await c.fetchall(liked_q, {"viewer_id": viewer_id, "ids": ids})}
        media = _media_by_owner(app, media_rows, owner)
        by_id = {r["id"]: r for r in rows}
        return [build(app, by_id[i], media.get(i, []), i in liked) for i in ids if i in by_id]

    if conn is not None:
        return await run(conn)
    async with app[DB].connection() as c:
        return await run(c)


async def load_posts(app: web.Application, ids: Sequence[int], viewer_id: int | None,
                     conn: Conn | None = None) -> list[dict[str, Any]]:
    """Posts for ids, in the order given (missing ones left out)."""
    return await _load(app, ids, viewer_id, conn, rows_q=Q.feed.posts_by_ids, media_q=Q.feed.media_of_posts,
                       liked_q=Q.likes.viewer_liked_posts, owner="post_id", build=post)


async def load_comments(app: web.Application, ids: Sequence[int], viewer_id: int | None,
                        conn: Conn | None = None) -> list[dict[str, Any]]:
    """Comments for ids, in the order given (missing ones left out)."""
    return await _load(app, ids, viewer_id, conn, rows_q=Q.feed.comments_by_ids,
                       media_q=Q.feed.media_of_comments, liked_q=Q.likes.viewer_liked_comments,
                       owner="comment_id", build=comment)


async def post_page(app: web.Application, query: str, p: PageParams, viewer_id: int | None,
                    **args: Any) -> dict[str, Any]:
    """A page of Post from an id query with {cmp}/{dir} markers: {"items", "next_cursor"}."""
    async with app[DB].connection() as c:
        rows = await c.fetchall(p.sql(query), p.args(**args))
        page = make_page(rows, p)
        page["items"] = await load_posts(app, [r["id"] for r in page["items"]], viewer_id, c)
    return page


# Id spans the home feed tries before reading the whole (user_id, id) ranges. Post ids grow
# with time, so when the newest window already holds a full page those are the newest posts,
# found without touching the followed users' older posts; a sparse window (followed users who
# rarely post) falls back to the full ranges. Measured with 1,000 followed users and 205k
# posts: a dense feed page 52 ms -> 0.6 ms; a sparse one 5 ms -> 12 ms (two queries).
HOME_WINDOWS: tuple[int, ...] = (2_000,)
_MAX_ID = 2**63 - 1


async def home_page(app: web.Application, p: PageParams, viewer_id: int) -> dict[str, Any]:
    """The home timeline (followed users' posts and one's own) as a page of Post."""
    query = p.sql(Q.feed.home_ids)
    async with app[DB].connection() as c:
        max_id = int(await c.fetchval(Q.feed.max_post_id) or 0)
        rows: list[dict[str, Any]] = []
        for span in (*HOME_WINDOWS, None):
            if p.newest_first:
                hi = min(p.cursor, max_id + 1)
                lo = 0 if span is None else max(hi - span, 0)
                complete = lo == 0
            else:
                lo = p.cursor
                complete = span is None or lo + span >= max_id
                hi = _MAX_ID if complete else lo + span + 1
            rows = await c.fetchall(query, {"viewer_id": viewer_id, "lo": lo, "hi": hi, "limit": p.limit + 1})
            if complete or len(rows) > p.limit:
                break
        page = make_page(rows, p)
        page["items"] = await load_posts(app, [r["id"] for r in page["items"]], viewer_id, c)
    return page


async def comment_page(app: web.Application, p: PageParams, viewer_id: int | None,
                       post_id: int) -> dict[str, Any]:
    async with app[DB].connection() as c:
        rows = await c.fetchall(p.sql(Q.feed.comment_ids), p.args(post_id=post_id))
        page = make_page(rows, p)
        page["items"] = await load_comments(app, [r["id"] for r in page["items"]], viewer_id, c)
    return page
