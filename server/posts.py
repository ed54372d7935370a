"""Posts: create (with media), edit, delete (its files after COMMIT), and one post as a document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from server import hashtags, history, mentions, search, timeline
from server.db import Conn, Tx
from server.documents import post_docs
from server.errors import Forbidden, NotFound, ValidationFailed
from server.events import run_and_publish
from server.media.uploads import remove_files
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
    await hashtags.ensure(app, parse_tags(content))

    async def fn(conn: Tx) -> int:
        mentioned = await mentions.resolve(conn, content)
        await mentions.lock_users(conn, user_id, mentioned, lambda: conn.execute(
            Q.posts.bump_user_posts, {"user_id": user_id, "delta": 1}))
        post_id = await conn.insert(Q.posts.create, {"user_id": user_id, "title": title, "content": content})
        search.index_post(conn, post_id)
        await attach_media(conn, user_id, media_ids, post_id=post_id)
        await hashtags.sync_post(conn, app, post_id)
        await mentions.sync(conn, app, kind="post", id=post_id, author_id=user_id, content=content,
                            post_id=post_id, mentioned=mentioned)
        return post_id

    post_id = await run_and_publish(app, fn)
    await timeline.post_created(app, user_id, post_id)
    return post_id


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
