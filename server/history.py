"""Edit history of posts, comments and messages: the version an edit replaces is saved in the edit's
own transaction (save_*), and read back a page at a time by whoever may see the original."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from server.db import Conn
from server.errors import NotFound
from server.formats import iso
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.present import media_url
from server.queries import QUERIES as Q

# --- writes: inside the edit's transaction, after the edited row is locked, before it changes -------


def _snapshot(rows: list[dict[str, Any]]) -> str:
    """Media rows → the JSON kept with a version (storage keys, not URLs: those are made when read)."""
    return orjson.dumps([{
        "id": m["id"], "media_type": m["media_type"], "storage_key": m["storage_key"],
        "thumb_key": m["thumb_key"] or None, "width": m["width"], "height": m["height"],
        "duration": m["duration"], "size": m["size"], "content_type": m["content_type"],
        "created_at": iso(m["created_at"]),
    } for m in rows]).decode()


async def save_post(conn: Conn, post_id: int) -> None:
    """Keep the post's current title, content and attachments as a version."""
    media = _snapshot(await conn.fetchall(Q.history.post_media, {"id": post_id}))
    await conn.execute(Q.history.save_post, {"id": post_id, "media": media})


async def save_comment(conn: Conn, comment_id: int) -> None:
    """Keep the comment's current content and attachments as a version."""
    media = _snapshot(await conn.fetchall(Q.history.comment_media, {"id": comment_id}))
    await conn.execute(Q.history.save_comment, {"id": comment_id, "media": media})


async def save_message(conn: Conn, message_id: int) -> None:
    """Keep the message's current content as a version."""
    await conn.execute(Q.history.save_message, {"id": message_id})


# --- reads ----------------------------------------------------------------------------------------

def _media(app: web.Application, snapshot: str | bytes | None) -> list[dict[str, Any]]:
    """A version's media snapshot (JSON made by history.sql) → [Media]."""
    return [{
        "id": m["id"], "type": m["media_type"], "url": media_url(app, m["storage_key"]),
        "thumbnail_url": media_url(app, m.get("thumb_key")), "width": m["width"], "height": m["height"],
        "duration": m["duration"], "size": m["size"], "content_type": m["content_type"],
        "created_at": m["created_at"],
    } for m in orjson.loads(snapshot or "[]")]


def _version(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"]}
    if "title" in row:
        out["title"] = row["title"]
    out["content"] = row["content"]
    if "media" in row:
        out["media"] = _media(app, row["media"])
    out["created_at"] = iso(row["created_at"])
    out["replaced_at"] = iso(row["replaced_at"])
    return out


async def post_history(app: web.Application, post_id: int, viewer_id: int | None, p: PageParams) -> dict[str, Any]:
    """A post's earlier versions (PostVersion), newest first (?after: oldest first); 404 when there
    is no such post or the viewer may not see it (its author blocks them, or is hidden)."""
    async with app[DB].read().connection() as c:
        if not await c.fetchval(Q.posts.visible, {"id": post_id, "viewer_id": viewer_id}):
            raise NotFound("No such post.")
        rows = await c.fetchall(p.sql(Q.history.post_page), p.args(post_id=post_id))
    return make_page(rows, p, dump=lambda r: _version(app, r))


async def comment_history(app: web.Application, comment_id: int, viewer_id: int | None,
                          p: PageParams) -> dict[str, Any]:
    """A comment's earlier versions (CommentVersion), like post_history; 404 when the viewer may not
    see the comment or its post."""
    async with app[DB].read().connection() as c:
        if not await c.fetchval(Q.history.comment_visible, {"id": comment_id, "viewer_id": viewer_id}):
            raise NotFound("No such comment.")
        rows = await c.fetchall(p.sql(Q.history.comment_page), p.args(comment_id=comment_id))
    return make_page(rows, p, dump=lambda r: _version(app, r))


async def message_history(app: web.Application, user_id: int, message_id: int, p: PageParams) -> dict[str, Any]:
    """A message's earlier versions (MessageVersion), like post_history; the two participants only
    (anyone else: 404)."""
    async with app[DB].connection() as c:
        head = await c.fetchone(Q.messages.head, {"id": message_id})
        if head is None or user_id not in (head["sender_id"], head["recipient_id"]):
            raise NotFound("No such message.")
        rows = await c.fetchall(p.sql(Q.history.message_page), p.args(message_id=message_id))
    return make_page(rows, p, dump=lambda r: _version(app, r))
