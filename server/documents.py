"""Post and comment documents: ids -> JSON built by MariaDB, pages of them, in a bounded number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from server.db import Conn
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.present import media_base
from server.queries import QUERIES as Q


async def _docs(app: web.Application, query: str, media_query: str, ids: Sequence[int],
                viewer_id: int | None, conn: Conn | None) -> list[str]:
    """MariaDB builds each object as a JSON document (one query whatever the page size) and their
    media lists (a second query, only when a row has media); the lists are appended here as text.
    (A JSON_ARRAYAGG subquery would cost an on-disk temporary table per statement: feed.sql.)"""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    args = {"ids": ids, "viewer_id": viewer_id, "url_prefix": media_base(app)}
    db = conn or app[DB]
    rows = await db.fetchall(query, args)
    media: dict[int, list[str]] = {}
    with_media = [r["id"] for r in rows if r["has_media"]]
    if with_media:
        for m in await db.fetchall(media_query, dict(args, ids=with_media)):
            media.setdefault(m["owner_id"], []).append(m["doc"])
    by_id = {r["id"]: f'{r["doc"][:-1]}, "media": [{", ".join(media.get(r["id"], ()))}]}}' for r in rows}
    return [by_id[i] for i in ids if i in by_id]


async def post_docs(app: web.Application, ids: Sequence[int], viewer_id: int | None,
                    conn: Conn | None = None, replica: bool = False) -> list[str]:
    """Post JSON documents for ids, in the order given (missing ones left out)."""
    return await _docs(app, Q.feed.post_docs, Q.feed.post_media, ids, viewer_id,
                       conn or (app[DB].read() if replica else None))


async def comment_docs(app: web.Application, ids: Sequence[int], viewer_id: int | None,
                       conn: Conn | None = None) -> list[str]:
    """Comment JSON documents for ids, in the order given (missing ones left out)."""
    return await _docs(app, Q.feed.comment_docs, Q.feed.comment_media, ids, viewer_id, conn)


async def post_page(app: web.Application, query: str, p: PageParams, viewer_id: int | None,
                    replica: bool = False, **args: Any) -> dict[str, Any]:
    """A page of Post from an id query with {cmp}/{dir} markers (and %(viewer_id)s, for the query to
    filter by): {"items": [JSON document], "next_cursor"}, sent with responses.raw_page. Two
    queries: ids, then documents.
    replica: a lag-tolerant page, read from a replica when one may serve it (server/replicas.py)."""
    async with (app[DB].read() if replica else app[DB]).connection() as c:
        rows = await c.fetchall(p.sql(query), p.args(viewer_id=viewer_id, **args))
        page = make_page(rows, p)
        page["items"] = await post_docs(app, [r["id"] for r in page["items"]], viewer_id, c)
    return page


async def comment_page(app: web.Application, p: PageParams, viewer_id: int | None,
                       post_id: int, replica: bool = False) -> dict[str, Any]:
    """A page of Comment on a post: {"items": [JSON document], "next_cursor"}, like post_page."""
    async with (app[DB].read() if replica else app[DB]).connection() as c:
        rows = await c.fetchall(p.sql(Q.feed.comment_ids), p.args(post_id=post_id, viewer_id=viewer_id))
        page = make_page(rows, p)
        page["items"] = await comment_docs(app, [r["id"] for r in page["items"]], viewer_id, c)
    return page
