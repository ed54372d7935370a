"""Hashtags: the tags posts and comments carry (from their text and, for articles, the Conduit
tagList), tag pages, followed tags and trending tags.

One tag store for both APIs (migration 0011): a tag is the `tags` row named by its normalized form
(server/textrefs.normalize_tag). post_hashtags holds every normalized tag of a post, so a tag page,
Conduit's ?tag=, GET /api/tags, follows and trending all read one table.

Locks, as in the Conduit tag path (server/articles.py): dictionary rows are inserted in autocommit
before the writing transaction (ensure); inside it a post's row is locked first, then its
post_hashtags rows change in tag id order, each by primary key (never a DELETE of absent rows).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis.exceptions
from aiohttp import web

from server import timeline
from server.db import Conn
from server.documents import post_page
from server.errors import ValidationFailed
from server.formats import iso
from server.http.pagination import PageParams, make_page
from server.keys import DB, REDIS, SERVICES
from server.queries import QUERIES as Q
from server.textrefs import MAX_TAG, normalize_tag, parse_tags

log = logging.getLogger(__name__)

TRENDING_MAX = 50  # tags GET /api/v1/tags/trending can list
TRENDING_SCAN = 20_000  # newest tag uses read per computation
TRENDING_TTL = 30  # seconds a computed list is kept in Redis
KNOWN_TAGS = 50_000  # tag names ensure() remembers as in the dictionary


@dataclass
class TagChange:
    """What a sync changed on a post: for the home timelines (server/timeline.py), after COMMIT."""
    author_id: int = 0
    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)


def tag_param(value: str) -> str:
    """A tag as given in a path (a leading '#' allowed) → its normalized form; 422 when empty or long."""
    raw = value[1:] if value.startswith("#") else value
    tag = normalize_tag(raw)
    if not tag or len(raw.strip()) > MAX_TAG:
        raise ValidationFailed({"tag": [f"A tag has 1 to {MAX_TAG} characters."]})
    return tag


async def ensure(app: web.Application, names: Iterable[str]) -> None:
    """Autocommit, before a writing transaction: the dictionary rows for these names (as sent, or
    normalized) and their normalized forms, inserted in name order."""
    rows = {}
    for name in names:
        norm = normalize_tag(name)
        if norm:
            rows[name] = norm
            rows[norm] = norm
    # Tags are never deleted: names this process added (or found) once need no statement again.
    known: set[str] = app[SERVICES].setdefault("known_tags", set())
    if rows and not known.issuperset(rows):
        await app[DB].executemany(Q.hashtags.add_tags, [{"name": n, "norm": rows[n]} for n in sorted(rows)])
        if len(known) > KNOWN_TAGS:
            known.clear()
        known.update(rows)


def forget(app: web.Application) -> None:
    """Ensure every tag again from now on (a tag thought to be in the dictionary was not)."""
    app[SERVICES].pop("known_tags", None)


async def tag_ids(conn: Conn, app: web.Application, tags: list[str]) -> dict[str, int]:
    """{normalized tag: id} of these normalized tags (any not in the dictionary yet are added,
    autocommit)."""
    return await _ids(conn, app, tags)


async def _ids(conn: Conn, app: web.Application, tags: list[str]) -> dict[str, int]:
    if not tags:
        return {}
    ids = {r["name"]: r["id"] for r in await conn.fetchall(Q.hashtags.ids_of, {"names": tags})}
    if len(ids) < len(tags):  # not ensured beforehand (should not happen): add them now, autocommit
        await ensure(app, [t for t in tags if t not in ids])
        ids = {r["name"]: r["id"] for r in await conn.fetchall(Q.hashtags.ids_of, {"names": tags})}
    return ids


async def _sync(conn: Conn, rows: list[dict[str, Any]], wanted: dict[int, int], key: dict[str, Any],
                add: str, move: str, remove: str, extra: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Make the stored (tag_id, position) rows equal `wanted`, in tag id order → (added, removed)."""
    have = {r["tag_id"]: r["position"] for r in rows}
    added, removed = [], []
    for tag_id in sorted(set(have) | set(wanted)):
        args = {**key, "tag_id": tag_id}
        if tag_id not in wanted:
            await conn.execute(remove, args)
            removed.append(tag_id)
        elif tag_id not in have:
            await conn.execute(add, {**args, **extra, "position": wanted[tag_id]})
            added.append(tag_id)
        elif have[tag_id] != wanted[tag_id]:
            await conn.execute(move, {**args, "position": wanted[tag_id]})
    return added, removed


async def sync_post(conn: Conn, app: web.Application, post_id: int) -> TagChange:
    """Inside the writing transaction: the post's tags again from its text and Conduit tagList."""
    post = await conn.fetchone(Q.hashtags.lock_post, {"id": post_id})
    if post is None:
        return TagChange()
    tags = parse_tags(post["content"] or "")
    for row in await conn.fetchall(Q.hashtags.list_norms, {"post_id": post_id}):
        if row["norm"] and row["norm"] not in tags:
            tags.append(row["norm"])
    ids = await _ids(conn, app, tags)
    wanted = {ids[t]: min(i, 255) for i, t in enumerate(tags) if t in ids}
    rows = await conn.fetchall(Q.hashtags.post_rows, {"post_id": post_id})
    added, removed = await _sync(conn, rows, wanted, {"post_id": post_id}, Q.hashtags.post_add,
                                 Q.hashtags.post_move, Q.hashtags.post_remove, {"user_id": post["user_id"]})
    return TagChange(post["user_id"], added, removed)


async def sync_comment(conn: Conn, app: web.Application, comment_id: int, content: str) -> None:
    """Inside the writing transaction (the comment's row locked or new): its tags from its text."""
    tags = parse_tags(content)
    ids = await _ids(conn, app, tags)
    wanted = {ids[t]: min(i, 255) for i, t in enumerate(tags) if t in ids}
    rows = await conn.fetchall(Q.hashtags.comment_rows, {"comment_id": comment_id})
    await _sync(conn, rows, wanted, {"comment_id": comment_id}, Q.hashtags.comment_add,
                Q.hashtags.comment_move, Q.hashtags.comment_remove, {})


async def post_tag_ids(conn: Conn, post_id: int) -> list[int]:
    return [r["tag_id"] for r in await conn.fetchall(Q.hashtags.post_tag_ids, {"post_id": post_id})]


# --- reads ------------------------------------------------------------------------------------------

async def tag_posts(app: web.Application, tag: str, p: PageParams, viewer_id: int | None) -> dict[str, Any]:
    """A tag's posts, newest first, as a page of Post documents (an unknown tag: an empty page)."""
    tag_id = await app[DB].read().fetchval(Q.hashtags.id_of, {"name": tag_param(tag)})
    if tag_id is None:
        return {"items": [], "next_cursor": None}
    return await post_page(app, Q.hashtags.tag_ids, p, viewer_id, replica=True, tag_id=tag_id)


async def popular(app: web.Application, limit: int) -> list[str]:
    """Tags in use, most used first (Conduit's GET /api/tags)."""
    return [r["name"] for r in await app[DB].read().fetchall(Q.hashtags.popular, {"limit": limit})]


async def trending(app: web.Application, limit: int) -> list[dict[str, Any]]:
    """Tags used by the most distinct authors in the last 24 hours: [{tag, authors, posts}].

    The top TRENDING_MAX are kept in Redis for TRENDING_TTL seconds; without Redis, computed."""
    r = app[REDIS]
    key = r.key("tags", "trending")
    if r.available:
        try:
            cached = await r.client.get(key)
            if cached is not None:
                return json.loads(cached)[:limit]
        except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
            log.info("trending tags: Redis read failed (%s), computing", exc)
    rows = await app[DB].read().fetchall(Q.hashtags.trending, {"scan": TRENDING_SCAN, "limit": TRENDING_MAX})
    found = [{"tag": row["tag"], "authors": int(row["authors"]), "posts": int(row["posts"])} for row in rows]
    if r.available:
        try:
            await r.client.set(key, json.dumps(found), ex=TRENDING_TTL)
        except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
            log.info("trending tags: Redis write failed (%s)", exc)
    return found[:limit]


# --- followed tags --------------------------------------------------------------------------------

async def follow(app: web.Application, user_id: int, tag: str, *, on: bool = True) -> dict[str, Any]:
    """Follow (on) or unfollow a tag, idempotent → {tag, following}. The follower's home timeline
    changes, so its cache is dropped (server/timeline.py)."""
    norm = tag_param(tag)
    if on:
        await ensure(app, [norm])
    tag_id = await app[DB].fetchval(Q.hashtags.id_of, {"name": norm})
    changed = 0
    if tag_id is not None:
        query = Q.hashtags.follow if on else Q.hashtags.unfollow
        changed = await app[DB].execute(query, {"user_id": user_id, "tag_id": tag_id})
    if changed:
        await timeline.follows_changed(app, user_id)
    return {"tag": norm, "following": on}


async def followed(app: web.Application, user_id: int, p: PageParams) -> dict[str, Any]:
    """The tags the user follows, newest follow first → a page of {tag, followed_at}."""
    rows = await app[DB].fetchall(p.sql(Q.hashtags.followed), p.args(user_id=user_id))
    return make_page(rows, p, dump=lambda r: {"tag": r["tag"], "followed_at": iso(r["created_at"])})
