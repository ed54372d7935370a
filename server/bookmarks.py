"""Bookmarks: a user's private list of posts (idempotent add and remove), newest bookmark first."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.db import Tx
from server.documents import post_docs
from server.errors import NotFound
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.posts import post_visible
from server.queries import QUERIES as Q


async def _set(app: web.Application, user_id: int, post_id: int, *, on: bool) -> dict[str, Any]:
    async def fn(conn: Tx) -> dict[str, Any]:
        # A post the viewer may not see (its author blocks them, or is hidden) is none to them.
        if not await post_visible(conn, post_id, user_id):
            raise NotFound("No such post.")
        await conn.execute(Q.bookmarks.add if on else Q.bookmarks.remove, {"user_id": user_id, "post_id": post_id})
        return {"bookmarked": on}

    return await app[DB].run(fn)


async def bookmark(app: web.Application, user_id: int, post_id: int) -> dict[str, Any]:
    """Bookmark a post (idempotent) → {bookmarked: True}; 404 for a post the user may not see."""
    return await _set(app, user_id, post_id, on=True)


async def unbookmark(app: web.Application, user_id: int, post_id: int) -> dict[str, Any]:
    """Remove a bookmark (idempotent) → {bookmarked: False}; 404 for a post the user may not see."""
    return await _set(app, user_id, post_id, on=False)


async def bookmarks(app: web.Application, user_id: int, p: PageParams) -> dict[str, Any]:
    """The user's bookmarked posts as a page of Post documents, newest bookmark first; the cursor is
    the bookmark's id. Posts that became invisible to the user are left out by the page query."""
    async with app[DB].connection() as c:
        rows = await c.fetchall(p.sql(Q.bookmarks.page_ids), p.args(viewer_id=user_id))
        page = make_page(rows, p, key=lambda r: r["bookmark_id"])
        page["items"] = await post_docs(app, [r["id"] for r in page["items"]], user_id, c)
    return page
