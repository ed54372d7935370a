"""Posts: create (with media), edit, delete (its files after COMMIT), and one post as a document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql
from aiohttp import web

from server import hashtags, history, mentions, search, timeline
from server.db import Conn, Result, Tx, error_code
from server.documents import post_docs
from server.errors import Forbidden, NotFound, ValidationFailed
from server.events import run_and_publish
from server.keys import DB
from server.media.uploads import remove_files
from server.present import media_base
from server.queries import QUERIES as Q
from server.textrefs import parse_tags

MAX_MEDIA = 4  # attachments per post or comment
_UNSET: Any = object()


async def attach_media(conn: Conn, user_id: int, media_ids: Sequence[int], *, post_id: int | None = None,
                       comment_id: int | None = None) -> None:
    """Attach the author's own unattached uploads, all or none (422), in the caller's transaction."""
    ids = list(media_ids)
    if not ids:
        return
    if len(set(ids)) != len(ids) or len(ids) > MAX_MEDIA:
        raise ValidationFailed({"media_ids": [f"At most {MAX_MEDIA} distinct media ids."]})
    attached = await conn.execute(Q.posts.attach_media, {
        "ids": ids, "order": ",".join(map(str, ids)), "user_id": user_id,
        "post_id": post_id, "comment_id": comment_id})
    if attached != len(ids):
        raise ValidationFailed({"media_ids": ["Each media id must be one of your own uploads, not yet attached."]})


async def create_post(app: web.Application, user_id: int, content: str, title: str | None = None,
                      media_ids: Sequence[int] = ()) -> int:
    """Create a post (posts_count + 1, media attached, its #tags and @mentions stored, the
    mentioned notified) → its id; it joins the home timelines."""
    return (await _create(app, user_id, content, title, media_ids, document=False))[0]


async def create_post_document(app: web.Application, user_id: int, content: str, title: str | None = None,
                               media_ids: Sequence[int] = ()) -> str:
    """create_post → the new Post as its author sees it (get_post's document), read after the
    COMMIT in the round trip that reads the readers of its fan-out."""
    return (await _create(app, user_id, content, title, media_ids, document=True))[1]


async def _create(app: web.Application, user_id: int, content: str, title: str | None,
                  media_ids: Sequence[int], *, document: bool) -> tuple[int, str]:
    tags = parse_tags(content)
    await hashtags.ensure(app, tags)

    async def fn(conn: Tx) -> NewPost:
        new = await write_post(conn, app, user_id, content, title, media_ids, tags)
        if new.pending:
            await conn.batch(*new.pending)
        return new

    new = await run_and_publish(app, fn)
    if not document:
        await timeline.post_created(app, user_id, new.id, new.tag_ids)
        return new.id, ""
    # The document's statements (post_docs' own, the lists the new post may have) after COMMIT.
    args = {"ids": [new.id], "viewer_id": user_id, "url_prefix": media_base(app)}
    reads = [(Q.feed.post_docs, args)]
    reads += [(q, args) for q, wanted in ((Q.feed.post_media, media_ids), (Q.feed.post_tags, new.tag_ids),
                                          (Q.feed.post_mentions, new.mentioned)) if wanted]
    results = await timeline.post_created(app, user_id, new.id, new.tag_ids, reads)
    docs = await post_docs(app, [new.id], user_id, Prefetched(app, reads, results))
    if not docs:
        raise NotFound("No such post.")
    return new.id, docs[0]


class Prefetched:
    """A stand-in for a connection (fetchall only) that answers the statements already run, with
    the same arguments, from their results, and asks the database for anything else: lets
    post_docs and article documents be built from reads batched with other work."""

    def __init__(self, app: web.Application, statements: Sequence[tuple[str, Any]], results: Sequence[Result]):
        self.db = app[DB]
        self.answers = [(sql, args, result.rows) for (sql, args), result in zip(statements, results, strict=True)]

    async def fetchall(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        for i, (known, known_args, rows) in enumerate(self.answers):
            if known == sql and known_args == args:
                del self.answers[i]
                return rows
        return await self.db.fetchall(sql, args)


@dataclass
class NewPost:
    """What write_post did: the post's id, the ids of the tags it carries (post_hashtags), the
    results of the caller's reads, and statements still to send in the transaction (its
    post_hashtags rows: the caller sends them, alone or in a batch of its own)."""
    id: int
    tag_ids: list[int] = field(default_factory=list)
    reads: list[Result] = field(default_factory=list)
    mentioned: list[int] = field(default_factory=list)
    slug_taken: bool = False  # columns' slug belonged to another post: the post has none
    pending: list[tuple[str, Any]] = field(default_factory=list)


async def write_post(conn: Tx, app: web.Application, user_id: int, content: str, title: str | None,
                     media_ids: Sequence[int], tags: list[str], *, columns: dict[str, Any] | None = None,
                     reads: Sequence[tuple[str, Any]] = ()) -> NewPost:
    """Inside the creating transaction: the author's posts_count, the post, its search row (sent
    with the COMMIT), media, @mentions (with their notifications) → NewPost.

    `tags`: the post's normalized tags in order (its #hashtags, then any others, e.g. an
    article's tagList), all in the dictionary already (hashtags.ensure before the transaction);
    their post_hashtags rows are left in NewPost.pending, in tag id order. `columns`: slug and
    description of an article (a slug taken by another post is left out: NewPost.slug_taken). `reads`: statements that do not depend on the post, run in the
    round trip that inserts it (their results in NewPost.reads).

    Round trips: the BEGIN, the author's row, the INSERT, the tag ids and `reads` go in one; a
    text with no @mention, #tag or media sends nothing else before the COMMIT. With mentions, the
    mentioned users' rows are share-locked with the author's in user id order first (see
    mentions.lock_users)."""
    cols = {"slug": None, "description": None, **(columns or {})}
    insert = (Q.posts.create, {"user_id": user_id, "title": title, "content": content, **cols})
    tail = [*reads, (Q.hashtags.ids_of, {"names": tags})] if tags else list(reads)
    mentioned = await mentions.resolve(conn, content)
    bumped = False
    if mentioned:
        await mentions.lock_users(conn, user_id, mentioned, lambda: conn.execute(
            Q.posts.bump_user_posts, {"user_id": user_id, "delta": 1}))
        bumped = True
    slug_taken = False
    try:
        if bumped:
            results = await conn.batch(insert, *tail)
        else:
            results = (await conn.batch((Q.posts.bump_user_posts, {"user_id": user_id, "delta": 1}),
                                        insert, *tail))[1:]
    except pymysql.err.IntegrityError as exc:
        # A slug another post has (uq_posts_slug): the INSERT failed alone, after the author's row
        # was bumped (a statement's error does not end the transaction). The post goes in without
        # it; the caller gives it another (NewPost.slug_taken).
        if error_code(exc) != 1062 or cols["slug"] is None:
            raise
        slug_taken = True
        results = await conn.batch((Q.posts.create, {**insert[1], "slug": None}), *tail)
    post_id = results[0].lastrowid
    new = NewPost(post_id, reads=results[1:1 + len(reads)], mentioned=mentioned, slug_taken=slug_taken)
    search.index_post(conn, post_id)
    await attach_media(conn, user_id, media_ids, post_id=post_id)
    if tags:
        ids = {r["name"]: r["id"] for r in results[-1].rows}
        if len(ids) < len(tags):  # not ensured beforehand (should not happen)
            hashtags.forget(app)
            ids = await hashtags.tag_ids(conn, app, tags)
        wanted = {ids[t]: min(i, 255) for i, t in enumerate(tags) if t in ids}
        new.tag_ids = sorted(wanted)
        new.pending.append((conn.mogrify_rows(Q.hashtags.post_add_rows, [
            (post_id, tag_id, user_id, wanted[tag_id]) for tag_id in new.tag_ids]), None))
    if mentioned:
        await mentions.sync(conn, app, kind="post", id=post_id, author_id=user_id, content=content,
                            post_id=post_id, mentioned=mentioned)
    return new


async def _lock_own_post(conn: Conn, user_id: int, post_id: int) -> dict[str, Any]:
    row = await conn.fetchone(Q.posts.lock, {"id": post_id})
    if row is None:
        raise NotFound("No such post.")
    if row["user_id"] != user_id:
        raise Forbidden("Only the author may change this post.")
    return row


async def update_post(app: web.Application, user_id: int, post_id: int, *, content: Any = _UNSET,
                      title: Any = _UNSET, media_ids: Any = _UNSET) -> None:
    """Edit one's own post: only the given fields change; media_ids replaces the attachments. The
    version it replaces is kept (server/history.py), all or nothing with the edit. A new content
    re-reads its #tags and @mentions: only users it did not mention before are notified."""
    if content is not _UNSET:
        await hashtags.ensure(app, parse_tags(content))

    async def fn(conn: Tx) -> hashtags.TagChange:
        await _lock_own_post(conn, user_id, post_id)
        await history.save_post(conn, post_id)  # the version this edit replaces, in its transaction
        await conn.execute(Q.posts.update, {
            "id": post_id, "set_content": content is not _UNSET, "content": None if content is _UNSET else content,
            "set_title": title is not _UNSET, "title": None if title is _UNSET else title})
        if content is not _UNSET or title is not _UNSET:
            search.index_post(conn, post_id)
        if media_ids is not _UNSET:
            await conn.execute(Q.posts.detach_post_media, {"post_id": post_id})
            await attach_media(conn, user_id, media_ids or (), post_id=post_id)
        if content is _UNSET:
            return hashtags.TagChange()
        await mentions.sync(conn, app, kind="post", id=post_id, author_id=user_id, content=content, post_id=post_id)
        return await hashtags.sync_post(conn, app, post_id)

    change = await run_and_publish(app, fn)
    await tags_changed(app, post_id, change)


async def tags_changed(app: web.Application, post_id: int, change: hashtags.TagChange) -> None:
    """After COMMIT of a change of a post's tags: the timelines of the tags' followers follow."""
    if change.added or change.removed:
        await timeline.post_tags_changed(app, change.author_id, post_id, change.added, change.removed)


async def delete_post(app: web.Application, user_id: int, post_id: int) -> None:
    """Delete one's own post; comments, likes, attachments (and their files) and notifications go with it."""
    async def fn(conn: Tx) -> Removed:
        owner = await conn.fetchone(Q.posts.owner, {"id": post_id})
        if owner is None:
            raise NotFound("No such post.")
        if owner["user_id"] != user_id:
            raise Forbidden("Only the author may delete this post.")
        return await _remove(conn, user_id, post_id)

    files = await run_and_publish(app, fn)
    await post_removed(app, user_id, post_id, files)


class Removed(list):
    """The files a post's deletion leaves to remove after COMMIT, and the tags it carried (whose
    followers' timelines it leaves)."""
    tag_ids: list[int] = []


async def _remove(conn: Conn, author_id: int, post_id: int) -> Removed:
    # The author's row first (as in create_post), then the post.
    await conn.execute(Q.posts.bump_user_posts, {"user_id": author_id, "delta": -1})
    await _lock_own_post(conn, author_id, post_id)
    files = Removed(await conn.fetchall(Q.posts.post_media_keys, {"post_id": post_id}))
    files.tag_ids = await hashtags.post_tag_ids(conn, post_id)
    await conn.execute(Q.posts.delete, {"id": post_id})
    await search.unindex_posts(conn, [post_id])
    return files


async def remove_post(conn: Conn, post_id: int) -> tuple[int, Removed] | None:
    """Inside a transaction: delete a post whoever wrote it (a moderator's removal) → (author id,
    files for post_removed after COMMIT), or None when it is already gone."""
    owner = await conn.fetchone(Q.posts.owner, {"id": post_id})
    if owner is None:
        return None
    return owner["user_id"], await _remove(conn, owner["user_id"], post_id)


async def post_removed(app: web.Application, author_id: int, post_id: int, files: Removed) -> None:
    """After COMMIT of a post's deletion: out of the home timelines, its unshared files gone."""
    await timeline.post_deleted(app, author_id, post_id, files.tag_ids)
    await remove_files(app, files)


async def get_post(app: web.Application, post_id: int, viewer: int | None) -> str:
    """The Post as a JSON document (built by MariaDB), for raw_json; 404 when there is none or its
    author blocks the viewer."""
    docs = await post_docs(app, [post_id], viewer, replica=True)
    if not docs:
        raise NotFound("No such post.")
    return docs[0]


async def post_visible(conn: Any, post_id: int, viewer_id: int | None) -> bool:
    """Whether the post exists and its author does not block the viewer (conn: the Database or a Conn)."""
    return bool(await conn.fetchval(Q.posts.visible, {"id": post_id, "viewer_id": viewer_id}))


async def require_active(conn: Conn, user_id: int, detail: str) -> None:
    """Inside a write: 404 (with detail) unless user_id's account is active. Someone's things are
    out of reach while the account is suspended or deleted, as they are out of sight."""
    if await conn.fetchval(Q.users.state, {"id": user_id}) != "active":
        raise NotFound(detail)


async def post_exists(conn: Any, post_id: int) -> bool:
    """Whether the post exists (conn: the Database or a Conn)."""
    return await conn.fetchone(Q.posts.owner, {"id": post_id}) is not None
