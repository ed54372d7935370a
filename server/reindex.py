"""`python -m server reindex`: the #tags and @mentions of posts and comments written before they were
parsed (a database from before migration 0011), read again from their text, as an edit would, but
without notifying anyone (a mention found now is months old). Idempotent: a post whose stored tags
and mentions match its text changes nothing; run it again at will. A batch of ids at a time, each
post or comment in its own short transaction, so the server may keep serving meanwhile. Posts whose
tags change join (or leave) the home timelines of the tags' followers, as after an edit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from server import hashtags, mentions, posts
from server.db import Tx
from server.keys import DB
from server.queries import QUERIES as Q
from server.textrefs import parse_tags

log = logging.getLogger(__name__)
BATCH = 1000  # ids read per statement


async def reindex(app: web.Application, batch: int = BATCH) -> dict[str, int]:
    """Every post and comment → {"posts": read again, "comments": read again, "tags_changed":
    posts whose tags changed, "mentions_added": mention rows added}."""
    done = {"posts": 0, "comments": 0, "tags_changed": 0, "mentions_added": 0}
    async for row in _rows(app, Q.reindex.last_post_in_batch, Q.reindex.posts_in, batch, "posts"):
        await _post(app, row, done)
    async for row in _rows(app, Q.reindex.last_comment_in_batch, Q.reindex.comments_in, batch, "comments"):
        await _comment(app, row, done)
    return done


async def _rows(app: web.Application, last_q: str, rows_q: str, batch: int, what: str) -> AsyncIterator[dict[str, Any]]:
    """The rows of rows_q, a batch of ids (last_q: the batch's last id) at a time, in id order."""
    after = 0
    while (last := await app[DB].fetchval(last_q, {"after": after, "limit": batch})) is not None:
        for row in await app[DB].fetchall(rows_q, {"after": after, "last": last}):
            yield row
        after = last
        log.info("reindex: %s up to %s", what, last)


async def _post(app: web.Application, row: dict[str, Any], done: dict[str, int]) -> None:
    await hashtags.ensure(app, parse_tags(row["content"] or ""))

    async def fn(conn: Tx) -> tuple[hashtags.TagChange, list[int]]:
        if await conn.fetchone(Q.hashtags.lock_post, {"id": row["id"]}) is None:
            return hashtags.TagChange(), []  # deleted meanwhile
        change = await hashtags.sync_post(conn, app, row["id"])
        new = await mentions.sync(conn, app, kind="post", id=row["id"], author_id=row["user_id"],
                                  content=row["content"] or "", post_id=row["id"], notify_new=False)
        return change, new

    change, new = await app[DB].run(fn)
    await posts.tags_changed(app, row["id"], change)
    done["posts"] += 1
    done["tags_changed"] += bool(change.added or change.removed)
    done["mentions_added"] += len(new)


async def _comment(app: web.Application, row: dict[str, Any], done: dict[str, int]) -> None:
    await hashtags.ensure(app, parse_tags(row["content"] or ""))

    async def fn(conn: Tx) -> list[int]:
        if await conn.fetchval(Q.reindex.lock_comment, {"id": row["id"]}) is None:
            return []  # deleted meanwhile
        await hashtags.sync_comment(conn, app, row["id"], row["content"] or "")
        return await mentions.sync(conn, app, kind="comment", id=row["id"], author_id=row["user_id"],
                                   content=row["content"] or "", post_id=row["post_id"], notify_new=False)

    new = await app[DB].run(fn)
    done["comments"] += 1
    done["mentions_added"] += len(new)
