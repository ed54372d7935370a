"""Articles (the Conduit API's view of titled posts): slugs, descriptions and tags on top of the
posts, comments, likes and follows services, and the article, comment and tag reads.

An article is a post with a title; a favorite is a like. Writes go through the same services
as /api/v1, so counters, notifications and real-time events do not depend on the API used.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pymysql
from aiohttp import web

from server import comments, hashtags, likes, posts, timeline
from server.db import Conn, Tx, error_code
from server.errors import NotFound
from server.events import run_and_publish
from server.keys import CONFIG, DB, SERVICES
from server.present import media_base
from server.queries import QUERIES as Q
from server.queries import Prepared
from server.textrefs import normalize_tag, parse_tags

SLUG_MAX = 200  # of the 255 the column holds: room for a "-<id>" suffix
MAX_COMMENTS, MAX_TAG_CLOUD = 500, 200
# Deepest offset a list pages to: past it a page is empty (OFFSET reads and drops every row before the
# page, so an unbounded one is a scan a client can ask for).
MAX_OFFSET = 1_000
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

# Article documents are built by MariaDB (conduit.sql article_docs); lists leave the body out.
_DOCS = {True: Prepared(Q.conduit.article_docs.format(body="'body', p.content,")),
         False: Prepared(Q.conduit.article_docs.format(body=""))}
_NO_SLUG = '{"slug": null'


def _with_slug(doc: str, slug: str) -> str:
    """The document of a titled post without a stored slug, with its fallback slug written in."""
    if doc.startswith(_NO_SLUG):  # 'slug' is the first key (article_docs)
        return '{"slug": ' + orjson.dumps(slug).decode() + doc[len(_NO_SLUG):]
    data = orjson.loads(doc)
    data["slug"] = slug
    return orjson.dumps(data).decode()


async def _docs(app: web.Application, conn: Any, ids: list[int], viewer_id: int | None, *,
                with_body: bool) -> list[str]:
    """Article JSON documents for ids, in that order (ones the viewer may not see left out): one query,
    and one more for the tag lists when a row has tags."""
    if not ids:
        return []
    rows = await conn.fetchall(_DOCS[with_body], {"ids": ids, "viewer_id": viewer_id, "url_prefix": media_base(app)})
    tags: dict[int, list[str]] = {}
    if tagged := [r["id"] for r in rows if r["has_tags"]]:
        for t in await conn.fetchall(Q.conduit.article_tags, {"ids": tagged}):
            tags.setdefault(t["post_id"], []).append(t["tag"])
    by_id = {}
    for r in rows:
        doc = f'{r["doc"][:-1]}, "tagList": [{", ".join(tags.get(r["id"], ()))}]}}'
        by_id[r["id"]] = doc if r["fallback_title"] is None else _with_slug(
            doc, fallback_slug(r["fallback_title"], r["id"]))
    return [by_id[i] for i in ids if i in by_id]


async def article(app: web.Application, post_id: int, viewer_id: int | None) -> str:
    """One Article as a JSON document (with its body); NoSuchArticle when the post is none."""
    found = await _docs(app, app[DB].read(), [post_id], viewer_id, with_body=True)
    if not found:
        raise NoSuchArticle()
    return found[0]


async def get_article(app: web.Application, slug: str, viewer_id: int | None) -> str:
    """The article a slug names, as article()."""
    return await article(app, await article_id(app, slug), viewer_id)


class ArticleCounts:
    """articlesCount without counting every article on each request.

    The articles a list holds for everyone (every article, a tag's, a user's favorites, each maybe
    narrowed by author) are counted once per list and kept `ttl` seconds in this process (config
    conduit.count_ttl), one load at a time per list; each request subtracts the articles of the
    authors hidden from its viewer (conduit.sql count_hidden: blocks, mutes, suspended and deleted
    accounts), exactly and at once.

    Staleness: writes through this module keep the kept counts exact (a new or deleted article
    moves the counts of all articles and of its author by one and drops those of tags; a tag or body
    edit drops those of tags, a favorite those of the user's favorites). A
    titled post, a deletion or a like through /api/v1, the rows an account-deletion job removes, or a
    write served by another worker process, shows within `ttl` seconds. A count loaded while a write ran is kept for a second only.
    """

    SIZE = 4096  # kept counts per process; past it, expired ones go, then the oldest

    def __init__(self, ttl: float):
        self.ttl = ttl
        self.values: dict[tuple, list] = {}  # key -> [count, expires at]
        self.loading: dict[tuple, asyncio.Future] = {}
        self.writes = 0

    async def get(self, key: tuple, load: Callable[[], Awaitable[int]]) -> int:
        now = time.monotonic()
        kept = self.values.get(key)
        if kept is not None and kept[1] > now:
            return kept[0]
        pending = self.loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        writes = self.writes
        task = asyncio.ensure_future(load())
        self.loading[key] = task
        try:
            value = await asyncio.shield(task)
        finally:
            if self.loading.get(key) is task:
                del self.loading[key]
        if self.ttl > 0:
            if len(self.values) >= self.SIZE:
                self._evict(now)
            self.values[key] = [value, now + (self.ttl if self.writes == writes else min(self.ttl, 1.0))]
        return value

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self.values.items() if v[1] <= now] or list(self.values)[: self.SIZE // 4]:
            del self.values[key]

    def moved(self, author_id: int, delta: int) -> None:
        """An article by author_id was created (+1) or deleted (-1): the counts of every article and of
        the author's move by one; those of tags (its tag list and its body's #hashtags) and, for a
        deletion, of favorites are dropped."""
        self.writes += 1
        for key in list(self.values):
            _, tag, author, fav = key
            if tag is not None or (fav is not None and delta < 0):
                del self.values[key]
            elif fav is None and (author is None or author == author_id):
                self.values[key][0] += delta

    def drop(self, *, tags: bool = False, fav_id: int | None = None) -> None:
        """Forget the counts of tag lists (tags), or of the lists of fav_id's favorites."""
        self.writes += 1
        for key in list(self.values):
            if (tags and key[1] is not None) or (fav_id is not None and key[3] == fav_id):
                del self.values[key]


def counts(app: web.Application) -> ArticleCounts:
    services = app[SERVICES]
    if "article_counts" not in services:
        services["article_counts"] = ArticleCounts(app[CONFIG].conduit.count_ttl)
    return services["article_counts"]


async def _count(app: web.Application, kind: str, args: dict[str, Any], viewer_id: int | None) -> int:
    """articlesCount of the list `kind` (all, tag, fav) for this viewer: the kept count of the list
    minus what the viewer does not see of it."""
    async def load() -> int:
        query = {"all": Q.conduit.count_articles, "tag": Q.conduit.count_tagged,
                 "fav": Q.conduit.count_favorited}[kind]
        return int(await app[DB].read().fetchval(query, args) or 0)

    total = await counts(app).get((kind, args["tag"], args["author_id"], args["fav_id"]), load)
    hidden = await app[DB].read().fetchval(Q.conduit.count_hidden, {**args, "mutes": kind != "fav"})
    return max(total - int(hidden or 0), 0)


def _offset(offset: int) -> int | None:
    """None past MAX_OFFSET: the page is empty (articlesCount is still the total)."""
    return offset if offset <= MAX_OFFSET else None


async def list_articles(app: web.Application, viewer_id: int | None, *, limit: int, offset: int,
                        tag: str | None = None, author: str | None = None,
                        favorited: str | None = None) -> tuple[list[str], int]:
    """Articles newest first, filtered by tag, author and favoriting username → (JSON documents without
    the body, articlesCount). An offset past MAX_OFFSET gives an empty page.

    What the viewer does not see is left out in the SQL (conduit.sql): a user who blocks the viewer
    names no one; users blocked either way and, in the unfiltered and tag lists, muted users.
    """
    # A tag by its normalized form: tagList values as sent and #hashtags in bodies are one tag.
    norm = normalize_tag(tag) if tag else None
    args: dict[str, Any] = {"author_id": None, "fav_id": None, "tag_id": None, "tag": norm or None,
                            "limit": limit, "offset": offset, "viewer_id": viewer_id}
    lookups = ((author, "author_id", Q.conduit.user_id_by_username, "username"),
               (favorited, "fav_id", Q.conduit.user_id_by_username, "username"),
               (norm, "tag_id", Q.hashtags.id_of, "name"))
    for value, key, query, name in lookups:
        if value:
            args[key] = await app[DB].read().fetchval(query, {name: value, "viewer_id": viewer_id})
            if args[key] is None:  # nobody by that name: nothing matches
                return [], 0
    if args["tag_id"] is not None:
        page, kind = Q.conduit.page_by_tag, "tag"
    elif args["fav_id"] is not None:
        page, kind = Q.conduit.page_by_favorited, "fav"
    elif args["author_id"] is not None:
        page, kind = Q.conduit.page_by_author, None  # one author's rows: counted exactly
    else:
        page, kind = Q.conduit.page_all, "all"
    async with app[DB].read().connection() as conn:
        ids = [r["id"] for r in await conn.fetchall(page, args)] if _offset(offset) is not None else []
        docs = await _docs(app, conn, ids, viewer_id, with_body=False)
        if kind is None:
            return docs, int(await conn.fetchval(Q.conduit.count_by_author, args) or 0)
    return docs, await _count(app, kind, args, viewer_id)


async def feed(app: web.Application, viewer_id: int, *, limit: int, offset: int) -> tuple[list[str], int]:
    """Articles by the users the viewer follows (but does not mute), newest first → (JSON documents
    without the body, articlesCount: exact, it reads the same rows as the page)."""
    args = {"viewer_id": viewer_id, "limit": limit, "offset": offset}
    async with app[DB].read().connection() as conn:
        rows = await conn.fetchall(Q.conduit.page_feed, args) if _offset(offset) is not None else []
        docs = await _docs(app, conn, [r["id"] for r in rows], viewer_id, with_body=False)
        total = rows[0]["total"] if rows else await conn.fetchval(Q.conduit.count_feed, args)
        return docs, int(total or 0)


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
                         tags: list[str] | None = None) -> str:
    """A post with a title, plus slug, description and tags, all or nothing (one transaction) →
    the Article document.

    Tags: the tagList names as sent and every normalized form (the body's #hashtags too) go into
    the dictionary first, in one autocommit statement (_add_tags). The transaction then takes
    three round trips: BEGIN, the author's row, the post (with its description and slug) and the
    tag ids (posts.write_post); its post_tags and post_hashtags rows (in tag id order); the
    COMMIT. A slug taken already (the INSERT fails alone on uq_posts_slug and is sent again
    without it), or one that may be the fallback slug of a slugless titled post ("...-<digits>",
    read first), is resolved as _save_article does and set after the INSERT. The post's normalized tags are its #hashtags, then its
    tagList's normalized forms in list order, as hashtags.sync_post reads them."""
    tags = normalize_tags(tags) or []
    norms = parse_tags(body)
    for tag in tags:
        norm = normalize_tag(tag)
        if norm and norm not in norms:
            norms.append(norm)
    await _add_tags(app, [*tags, *parse_tags(body)])
    base = slugify(title)
    # A slug only a stored slug can own ("<title>-<id>" of a titled post without one can own a
    # slug ending in -<digits>) goes into the INSERT: uq_posts_slug tells whether it is free.
    optimistic = split_fallback(base) is None
    reads = [] if optimistic else [(Q.conduit.by_slug, {"slug": base})]
    if tags:
        reads.append((Q.conduit.tag_ids, {"names": tags}))

    async def fn(conn: Tx) -> posts.NewPost:
        new = await posts.write_post(conn, app, user_id, body, title, (), norms, reads=reads,
                                     columns={"description": description, "slug": base if optimistic else None})
        post_id = new.id
        statements = list(new.pending)
        if tags:
            ids = {r["name"]: r["id"] for r in new.reads[-1].rows}
            if len(ids) < len(tags):  # not in the dictionary after all (should not happen)
                hashtags.forget(app)
                await hashtags.ensure(app, tags)
                ids = {r["name"]: r["id"] for r in await conn.fetchall(Q.conduit.tag_ids, {"names": tags})}
            wanted = {ids[t]: i for i, t in enumerate(tags)}
            statements.append((conn.mogrify_rows(Q.conduit.post_tag_rows, [
                (post_id, tag_id, wanted[tag_id]) for tag_id in sorted(wanted)]), None))
        if not optimistic or new.slug_taken:
            if new.slug_taken:
                owner: int | None = -1  # a stored slug
            else:
                owner = new.reads[0].rows[0]["id"] if new.reads[0].rows else await _fallback_owner(conn, base)
            slug = base if owner is None else f"{base}-{post_id}"
            if slug != base and await _resolve_slug(conn, slug) not in (None, post_id):
                slug = f"{base}-{post_id}-{secrets.token_hex(3)}"
            statements.append((Q.conduit.set_slug, {"id": post_id, "slug": slug}))  # last: it may fail alone
        try:
            if statements:
                await conn.batch(*statements)
        except pymysql.err.IntegrityError as exc:  # a concurrent article took the slug meanwhile
            if error_code(exc) != 1062 or statements[-1][0] is not Q.conduit.set_slug:
                raise
            await conn.execute(Q.conduit.set_slug, {"id": post_id, "slug": f"{base}-{post_id}-{secrets.token_hex(3)}"})
        return new

    new = await run_and_publish(app, fn)
    counts(app).moved(user_id, +1)
    # The document's statements (_docs') run after COMMIT with the fan-out's reads.
    reads = [(_DOCS[True], {"ids": [new.id], "viewer_id": user_id, "url_prefix": media_base(app)})]
    if tags:
        reads.append((Q.conduit.article_tags, {"ids": [new.id]}))
    results = await timeline.post_created(app, user_id, new.id, new.tag_ids, reads)
    found = await _docs(app, posts.Prefetched(app, reads, results), [new.id], user_id, with_body=True)
    if not found:
        raise NoSuchArticle()
    return found[0]


async def _fallback_owner(conn: Any, slug: str) -> int | None:
    """The titled post without a stored slug that answers to this slug ("<title>-<id>"), if any."""
    parts = split_fallback(slug)
    if parts is None:
        return None
    row = await conn.fetchone(Q.conduit.fallback_slug, {"id": parts[1]})
    return int(row["id"]) if row is not None and slugify(row["title"]) == parts[0] else None


async def update_article(app: web.Application, user_id: int, slug: str, changes: dict[str, Any]) -> str:
    """Edit one's article: title, description, body, tags (the ones given); a new title gets a new
    slug → the Article document."""
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
    if tags is not None or "body" in changes:  # the tag list, or #hashtags in the body
        counts(app).drop(tags=True)
    return await article(app, post_id, user_id)


async def delete_article(app: web.Application, user_id: int, slug: str) -> None:
    """Delete one's article: its comments, favorites and notifications go with it."""
    post_id = await article_id(app, slug)
    await posts.delete_post(app, user_id, post_id)
    counts(app).moved(user_id, -1)


async def favorite(app: web.Application, user_id: int, slug: str, *, on: bool = True) -> str:
    """Favorite (on) or unfavorite an article: the same like as /api/v1 → the Article document."""
    post_id = await article_id(app, slug)
    await (likes.like_post if on else likes.unlike_post)(app, user_id, post_id)
    counts(app).drop(fav_id=user_id)
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
