"""Comments on posts: create (the post's author is notified), edit, delete, one comment, a post's page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from server import hashtags, history, mentions
from server.blocks import refuse_between
from server.db import Tx
from server.documents import comment_docs, comment_page
from server.errors import Forbidden, NotFound
from server.events import run_and_publish
from server.http.pagination import PageParams
from server.keys import DB
from server.media.uploads import remove_files
from server.notifications import notify
from server.posts import attach_media, post_visible, require_active
from server.queries import QUERIES as Q
from server.textrefs import parse_tags

_UNSET: Any = object()


async def create_comment(app: web.Application, user_id: int, post_id: int, content: str,
                         media_ids: Sequence[int] = ()) -> int:
    """Comment on a post (comments_count + 1; the post's author is notified) → the comment id; 403
    when either of the commenter and the post's author blocks the other. Its #tags and @mentions
    are stored; the mentioned are notified (the post's author has the comment's notification)."""
    await hashtags.ensure(app, parse_tags(content))

    async def fn(conn: Tx) -> int:
        post = await conn.fetchone(Q.posts.lock, {"id": post_id})
        if post is None:
            raise NotFound("No such post.")
        await refuse_between(conn, user_id, post["user_id"], "comment on this post")
        await require_active(conn, post["user_id"], "No such post.")
        comment_id = await conn.insert(Q.comments.create, {"post_id": post_id, "user_id": user_id,
                                                           "content": content})
        await conn.execute(Q.comments.bump_post, {"post_id": post_id, "delta": 1})
        await attach_media(conn, user_id, media_ids, comment_id=comment_id)
        await hashtags.sync_comment(conn, app, comment_id, content)
        mentioned = await mentions.sync(conn, app, kind="comment", id=comment_id, author_id=user_id,
                                        content=content, post_id=post_id, notify_new=False)
        await _notify(conn, app, user_id, post_id, comment_id, post["user_id"], mentioned)
        return comment_id

    return await run_and_publish(app, fn)


async def _notify(conn: Tx, app: web.Application, actor_id: int, post_id: int, comment_id: int,
                  post_author_id: int | None, mentioned: list[int], *, new_comment: bool = True) -> None:
    """The comment's notifications, in user id order (so concurrent comments reserve the users'
    event counters in one order): the post's author is told of a new comment (not also of a
    mention in it), each newly mentioned user of the mention."""
    kinds = {u: "mention" for u in mentioned if u != post_author_id}
    if new_comment and post_author_id is not None:
        kinds[post_author_id] = "comment"
    for user_id in sorted(kinds):
        await notify(conn, app, user_id=user_id, type=kinds[user_id], actor_id=actor_id, post_id=post_id,
                     comment_id=comment_id)


async def update_comment(app: web.Application, user_id: int, comment_id: int, *, content: Any = _UNSET,
                         media_ids: Any = _UNSET) -> None:
    """Edit one's own comment; media_ids replaces its attachments; the replaced version is kept. A
    new content re-reads its #tags and @mentions: only users it did not mention before are notified."""
    if content is not _UNSET:
        await hashtags.ensure(app, parse_tags(content))

    async def fn(conn: Tx) -> None:
        row = await conn.fetchone(Q.comments.lock, {"id": comment_id})
        if row is None:
            raise NotFound("No such comment.")
        if row["user_id"] != user_id:
            raise Forbidden("Only the author may edit this comment.")
        await history.save_comment(conn, comment_id)  # the version this edit replaces
        await conn.execute(Q.comments.update, {"id": comment_id, "set_content": content is not _UNSET,
                                               "content": None if content is _UNSET else content})
        if media_ids is not _UNSET:
            await conn.execute(Q.posts.detach_comment_media, {"comment_id": comment_id})
            await attach_media(conn, user_id, media_ids or (), comment_id=comment_id)
        if content is not _UNSET:
            owner = await conn.fetchone(Q.comments.owner, {"id": comment_id})
            await hashtags.sync_comment(conn, app, comment_id, content)
            mentioned = await mentions.sync(conn, app, kind="comment", id=comment_id, author_id=user_id,
                                            content=content, post_id=row["post_id"], notify_new=False)
            await _notify(conn, app, user_id, row["post_id"], comment_id,
                          owner["post_author_id"] if owner else None, mentioned, new_comment=False)

    await run_and_publish(app, fn)


async def delete_comment(app: web.Application, user_id: int, comment_id: int) -> None:
    """Delete a comment: its author or the post's author (comments_count - 1); its media files go too."""
    async def fn(conn: Tx) -> list[dict[str, Any]]:
        owner = await conn.fetchone(Q.comments.owner, {"id": comment_id})
        if owner is None:
            raise NotFound("No such comment.")
        if user_id not in (owner["user_id"], owner["post_author_id"]):
            raise Forbidden("Only the comment's author or the post's author may delete it.")
        files = await _remove(conn, owner)
        if files is None:
            raise NotFound("No such comment.")
        return files

    await remove_files(app, await run_and_publish(app, fn))


async def _remove(conn: Tx, owner: dict[str, Any]) -> list[dict[str, Any]] | None:
    # Post row first, as in create_comment, so the two never lock in opposite orders.
    if await conn.fetchone(Q.posts.lock, {"id": owner["post_id"]}) is None:
        return None
    files = await conn.fetchall(Q.posts.comment_media_keys, {"comment_id": owner["id"]})
    if not await conn.execute(Q.comments.delete, {"id": owner["id"]}):
        return None
    await conn.execute(Q.comments.bump_post, {"post_id": owner["post_id"], "delta": -1})
    return files


async def remove_comment(conn: Tx, comment_id: int) -> list[dict[str, Any]] | None:
    """Inside a transaction: delete a comment whoever wrote it (a moderator's removal) → the files
    to remove after COMMIT (media.uploads.remove_files), or None when it is already gone."""
    owner = await conn.fetchone(Q.comments.owner, {"id": comment_id})
    return None if owner is None else await _remove(conn, owner)


async def get_comment(app: web.Application, comment_id: int, viewer: int | None) -> str:
    """The Comment as a JSON document (built by MariaDB), for raw_json; 404 when there is none."""
    docs = await comment_docs(app, [comment_id], viewer)
    if not docs:
        raise NotFound("No such comment.")
    return docs[0]


async def post_comments(app: web.Application, post_id: int, p: PageParams, viewer: int | None) -> dict[str, Any]:
    """A page of a post's comments as documents, newest first, without those of users blocked either
    way by the viewer; 404 when there is no such post or its author blocks the viewer."""
    page = await comment_page(app, p, viewer, post_id, replica=True)
    # Comments go with their post, so only an empty page needs to ask whether the post exists.
    if not page["items"] and not await post_visible(app[DB].read(), post_id, viewer):
        raise NotFound("No such post.")
    return page
