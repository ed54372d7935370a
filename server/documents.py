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

# The lists of a document, in the order they are appended: (name, post query, comment query).
_LISTS = (("media", Q.feed.post_media, Q.feed.comment_media),
          ("tags", Q.feed.post_tags, Q.feed.comment_tags),
          ("mentions", Q.feed.post_mentions, Q.feed.comment_mentions))


async def _docs(app: web.Application, query: str, lists: Sequence[tuple[str, str]], ids: Sequence[int],
                viewer_id: int | None, conn: Conn | None) -> list[str]:
    """MariaDB builds each object as a JSON document (one query whatever the page size) and the
    items of its lists (one more query per list, only when some row has items: `has_<name>`); the
    lists are appended here as text. (A JSON_ARRAYAGG subquery would cost an on-disk temporary
    table per statement: feed.sql.)"""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    args = {"ids": ids, "viewer_id": viewer_id, "url_prefix": media_base(app)}
    db = conn or app[DB]
    rows = await db.fetchall(query, args)
    tails = {r["id"]: [] for r in rows}
    for name, list_query in lists:
        items: dict[int, list[str]] = {}
        owners = [r["id"] for r in rows if r[f"has_{name}"]]
        if owners:
            for item in await db.fetchall(list_query, dict(args, ids=owners)):
                items.setdefault(item["owner_id"], []).append(item["doc"])
        for owner, tail in tails.items():
            tail.append(f'"{name}": [{", ".join(items.get(owner, ()))}]')
    by_id = {r["id"]: f'{r["doc"][:-1]}, {", ".join(tails[r["id"]])}}}' for r in rows}
    return [by_id[i] for i in ids if i in by_id]


async def post_docs(app: web.Application, ids: Sequence[int], viewer_id: int | None,
                    conn: Conn | None = None, replica: bool = False) -> list[str]:
    """Post JSON documents for ids, in the order given (missing ones left out)."""
    return await _docs(app, Q.feed.post_docs, [(n, q) for n, q, _ in _LISTS], ids, viewer_id,
                       conn or (app[DB].read() if replica else None))


async def comment_docs(app: web.Application, ids: Sequence[int], viewer_id: int | None,
                       conn: Conn | None = None) -> list[str]:
    """Comment JSON documents for ids, in the order given (missing ones left out)."""
    return await _docs(app, Q.feed.comment_docs, [(n, q) for n, _, q in _LISTS], ids, viewer_id, conn)


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
