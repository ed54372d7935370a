"""Articles (the Conduit API's view of titled posts): slugs, descriptions and tags on top of the
posts, comments, likes and follows services, and the article, comment and tag reads.

An article is a post with a title; a favorite is a like. Writes go through the same services
as /api/v1, so counters, notifications and real-time events do not depend on the API used.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

import pymysql
from aiohttp import web

from server import comments, hashtags, likes, posts
from server.db import Conn, error_code
from server.errors import NotFound
from server.keys import DB
from server.queries import QUERIES as Q
from server.textrefs import normalize_tag

SLUG_MAX = 200  # of the 255 the column holds: room for a "-<id>" suffix
MAX_COMMENTS, MAX_TAG_CLOUD = 500, 200
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_FALLBACK = re.compile(r"^(.*)-(\d{1,19})$")
_UNSET: Any = object()


class NoSuchArticle(NotFound):
    """The slug names no article (404), told apart from the comment or post an action is about."""

    def __init__(self) -> None:
        super().__init__("No such article.")


# --- slugs and tags ---------------------------------------------------------------------------

def slugify(title: str) -> str:
    """"How to train your Dragon!" -> "how-to-train-your-dragon" (ASCII; "article" if nothing is left)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")[:SLUG_MAX].strip("-")
    return slug or "article"


def fallback_slug(title: str, post_id: int) -> str:
    """The slug of a titled post that has none stored (e.g. made through /api/v1)."""
    return f"{slugify(title)}-{post_id}"


def split_fallback(slug: str) -> tuple[str, int] | None:
    """"hello-world-42" -> ("hello-world", 42), or None."""
    match = _FALLBACK.match(slug)
    return (match.group(1), int(match.group(2))) if match else None


def normalize_tags(values: list[str] | None) -> list[str] | None:
    """Stripped, without blanks or repeats, in alphabetical order (the order clients expect)."""
    if values is None:
        return None
    return sorted({t.strip() for t in values if t.strip()}, key=lambda t: (t.lower(), t))


async def _resolve_slug(conn: Any, slug: str) -> int | None:
    """The post id a slug names: a stored slug, else "<slugified title>-<id>" of a titled post."""
    post_id = await conn.fetchval(Q.conduit.by_slug, {"slug": slug})
    if post_id is not None:
        return int(post_id)
    parts = split_fallback(slug)
    if parts is None:
        return None
    row = await conn.fetchone(Q.conduit.fallback_slug, {"id": parts[1]})
    if row is not None and slugify(row["title"]) == parts[0]:
        return int(row["id"])
    return None


async def article_id(app: web.Application, slug: str) -> int:
    """The post id of the article a slug names; NoSuchArticle otherwise."""
    post_id = await _resolve_slug(app[DB], slug)
    if post_id is None:
        raise NoSuchArticle()
    return post_id


async def _save_article(conn: Conn, app: web.Application, post_id: int, *, title: str | None = None,
                        description: Any = _UNSET, tags: list[str] | None = None,
                        new: bool = False) -> hashtags.TagChange:
    """Inside a transaction: what an article adds to its post (a new title gets a new slug).

    Locks: a new post has no tags to clear (a DELETE of absent rows would take a gap lock at the
    end of the index, where every concurrent new article inserts: deadlock). An edit locks its
    post's row first, so edits of one article queue, and then removes its old tags by primary key.
    """
    old_tags: list[int] = []
    if tags is not None and not new:
        await conn.fetchval(Q.conduit.lock_post, {"id": post_id})
        old_tags = [r["tag_id"] for r in await conn.fetchall(Q.conduit.post_tag_ids, {"post_id": post_id})]
    if title is not None:
        base = slugify(title)
        owner = await _resolve_slug(conn, base)
        slug = base if owner in (None, post_id) else f"{base}-{post_id}"
        if slug != base and await _resolve_slug(conn, slug) not in (None, post_id):
            slug = f"{base}-{post_id}-{secrets.token_hex(3)}"
        try:
            await conn.execute(Q.conduit.set_slug, {"id": post_id, "slug": slug})
        except pymysql.err.IntegrityError as exc:  # a concurrent article took it meanwhile
            if error_code(exc) != 1062:
                raise
            await conn.execute(Q.conduit.set_slug, {"id": post_id, "slug": f"{base}-{post_id}-{secrets.token_hex(3)}"})
    if description is not _UNSET:
        await conn.execute(Q.conduit.set_description, {"id": post_id, "description": description})
    if tags is not None:
        # In the dictionary already (_add_tags, before this transaction). Rows change in tag id
        # order, the order every writer uses: kept tags are updated in place, not re-inserted.
        ids = {r["name"]: r["id"] for r in await conn.fetchall(Q.conduit.tag_ids, {"names": tags})} if tags else {}
        wanted = {ids[t]: i for i, t in enumerate(tags)}
        for tag_id in sorted(set(old_tags) | set(wanted)):
            if tag_id not in wanted:
                await conn.execute(Q.conduit.delete_post_tag, {"post_id": post_id, "tag_id": tag_id})
            else:
                await conn.execute(Q.conduit.put_post_tag, {"post_id": post_id, "tag_id": tag_id,
                                                            "position": wanted[tag_id]})
        # The post's normalized tags (its hashtags and this list's), after post_tags' rows.
        return await hashtags.sync_post(conn, app, post_id)
    return hashtags.TagChange()


# --- reads --------------------------------------------------------------------------------------

async def _load(conn: Any, ids: list[int], viewer_id: int | None) -> list[dict[str, Any]]:
    """Article rows for ids, in that order, each with its `tags`: two queries whatever the page size."""
    if not ids:
        return []
    rows = await conn.fetchall(Q.conduit.articles_by_ids, {"ids": ids, "viewer_id": viewer_id})
    tags: dict[int, list[str]] = {}
    for row in await conn.fetchall(Q.conduit.tags_of_posts, {"ids": ids}):
        tags.setdefault(row["post_id"], []).append(row["name"])
    by_id = {r["id"]: r for r in rows}
    return [{**by_id[i], "tags": tags.get(i, [])} for i in ids if i in by_id]


async def article(app: web.Application, post_id: int, viewer_id: int | None) -> dict[str, Any]:
    """One article row (articles_by_ids, with `tags`); NoSuchArticle when the post is none."""
    found = await _load(app[DB].read(), [post_id], viewer_id)
    if not found:
        raise NoSuchArticle()
    return found[0]


async def get_article(app: web.Application, slug: str, viewer_id: int | None) -> dict[str, Any]:
    """The article a slug names, as article()."""
    return await article(app, await article_id(app, slug), viewer_id)


async def _page(app: web.Application, page_q: str, count_q: str, args: dict[str, Any],
                viewer_id: int | None) -> tuple[list[dict[str, Any]], int]:
    async with app[DB].read().connection() as conn:
        ids = [r["id"] for r in await conn.fetchall(page_q, args)]
        count = await conn.fetchval(count_q, args)
        return await _load(conn, ids, viewer_id), int(count or 0)


async def list_articles(app: web.Application, viewer_id: int | None, *, limit: int, offset: int,
                        tag: str | None = None, author: str | None = None,
                        favorited: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """Articles newest first, filtered by tag, author and favoriting username → (rows, total count).

    What the viewer does not see is left out in the SQL (conduit.sql): a user who blocks the viewer
    names no one; users blocked either way and, in the unfiltered and tag lists, muted users.
    """
    args: dict[str, Any] = {"author_id": None, "fav_id": None, "tag_id": None, "limit": limit, "offset": offset,
                            "viewer_id": viewer_id}
    # A tag by its normalized form: tagList values as sent and #hashtags in bodies are one tag.
    lookups = ((author, "author_id", Q.conduit.user_id_by_username, "username"),
               (favorited, "fav_id", Q.conduit.user_id_by_username, "username"),
               (tag and normalize_tag(tag), "tag_id", Q.hashtags.id_of, "name"))
    for value, key, query, name in lookups:
        if value:
            args[key] = await app[DB].read().fetchval(query, {name: value, "viewer_id": viewer_id})
            if args[key] is None:  # nobody by that name: nothing matches
                return [], 0
    if args["tag_id"] is not None:
        page, count = Q.conduit.page_by_tag, Q.conduit.count_by_tag
    elif args["fav_id"] is not None:
        page, count = Q.conduit.page_by_favorited, Q.conduit.count_by_favorited
    elif args["author_id"] is not None:
        page, count = Q.conduit.page_by_author, Q.conduit.count_by_author
    else:
        page, count = Q.conduit.page_all, Q.conduit.count_all
    return await _page(app, page, count, args, viewer_id)


async def feed(app: web.Application, viewer_id: int, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Articles by the users the viewer follows (but does not mute), newest first → (rows, total count)."""
    args = {"viewer_id": viewer_id, "limit": limit, "offset": offset}
    return await _page(app, Q.conduit.page_feed, Q.conduit.count_feed, args, viewer_id)


async def popular_tags(app: web.Application) -> list[str]:
    """Tags in use (their normalized forms, articles' and posts' hashtags alike), most used first
    (at most MAX_TAG_CLOUD)."""
    return await hashtags.popular(app, MAX_TAG_CLOUD)


async def _add_tags(app: web.Application, tags: list[str] | None) -> None:
    """Tags are a dictionary every article shares, and never deleted: new names go in first, in one
    autocommit statement in name order, before the article's transaction. Inside it, the article
    then only reads tag ids and takes the foreign key's shared record locks, which never conflict.
    (Inserting them inside the transaction held the duplicate's shared next-key lock until COMMIT:
    concurrent articles sharing one tag deadlocked on each other's new tags, MariaDB 1213.)"""
    if tags:
        await hashtags.ensure(app, tags)  # the names as sent and their normalized forms


# --- writes ---------------------------------------------------------------------------------------

async def create_article(app: web.Application, user_id: int, *, title: str, description: str, body: str,
                         tags: list[str] | None = None) -> dict[str, Any]:
    """A post with a title, plus slug, description and tags, all or nothing → the article row."""
    tags = normalize_tags(tags) or []
    await _add_tags(app, tags)
    post_id = await posts.create_post(app, user_id, body, title=title)
    try:
        change = await app[DB].run(lambda tx: _save_article(tx, app, post_id, title=title,
                                                            description=description, tags=tags, new=True))
    except Exception:
        await posts.delete_post(app, user_id, post_id)  # all or nothing, as one create
        raise
    await posts.tags_changed(app, post_id, change)
    return await article(app, post_id, user_id)


async def update_article(app: web.Application, user_id: int, slug: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Edit one's article: title, description, body, tags (the ones given); a new title gets a new
    slug → the article row."""
    post_id = await article_id(app, slug)
    head = await app[DB].fetchone(Q.conduit.head, {"id": post_id})
    if head is None:
        raise NoSuchArticle()
    edits = {k: changes[v] for k, v in (("content", "body"), ("title", "title")) if v in changes}
    # Also when only description or tags change: checks ownership and marks the post edited.
    await posts.update_post(app, user_id, post_id, **edits)
    new_title = changes.get("title")
    reslug = new_title is not None and (new_title != head["title"] or head["slug"] is None)
    tags = normalize_tags(changes.get("tags"))
    await _add_tags(app, tags)
    change = await app[DB].run(lambda tx: _save_article(
        tx, app, post_id, title=new_title if reslug else None,
        description=changes["description"] if "description" in changes else _UNSET, tags=tags))
    await posts.tags_changed(app, post_id, change)
    return await article(app, post_id, user_id)


async def delete_article(app: web.Application, user_id: int, slug: str) -> None:
    """Delete one's article: its comments, favorites and notifications go with it."""
    await posts.delete_post(app, user_id, await article_id(app, slug))


async def favorite(app: web.Application, user_id: int, slug: str, *, on: bool = True) -> dict[str, Any]:
    """Favorite (on) or unfavorite an article: the same like as /api/v1 → the article row."""
    post_id = await article_id(app, slug)
    await (likes.like_post if on else likes.unlike_post)(app, user_id, post_id)
    return await article(app, post_id, user_id)


async def article_comments(app: web.Application, slug: str, viewer_id: int | None) -> list[dict[str, Any]]:
    """An article's comments, newest first (at most MAX_COMMENTS), as comment_by_id rows, without
    those of users blocked either way by the viewer; NoSuchArticle when its author blocks the viewer."""
    post_id = await article_id(app, slug)
    if not await posts.post_visible(app[DB].read(), post_id, viewer_id):
        raise NoSuchArticle()
    return await app[DB].read().fetchall(Q.conduit.comments_of_post, {
        "post_id": post_id, "viewer_id": viewer_id, "limit": MAX_COMMENTS})


async def add_comment(app: web.Application, user_id: int, slug: str, body: str) -> dict[str, Any]:
    """Comment on an article: the same comment as /api/v1 → its row (comment_by_id)."""
    post_id = await article_id(app, slug)
    comment_id = await comments.create_comment(app, user_id, post_id, body)
    return await app[DB].fetchone(Q.conduit.comment_by_id, {"id": comment_id, "viewer_id": user_id})


async def delete_comment(app: web.Application, user_id: int, slug: str, comment_ref: str) -> None:
    """Delete a comment of this article (its author or the article's author); comment_ref is the
    id as sent, anything not an id matching nothing."""
    post_id = await article_id(app, slug)
    comment_id = int(comment_ref) if comment_ref.isdigit() and len(comment_ref) < 19 else 0
    row = await app[DB].fetchone(Q.conduit.comment_by_id, {"id": comment_id, "viewer_id": user_id})
    if row is None or row["post_id"] != post_id:
        raise NotFound("No such comment.")
    await comments.delete_comment(app, user_id, row["id"])
