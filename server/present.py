"""Rows → API objects (plain dicts: this is the hot path, marshmallow schemas document them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from server.formats import iso
from server.keys import SERVICES
from server.queries import QUERIES as Q


def media_url(app: web.Application, key: str | None) -> str | None:
    """The URL of a stored file; an outside profile picture (users.image_url) is its own URL."""
    if not key:
        return None
    if key[:8].lower().startswith(("https://", "http://")):  # the scheme in any case (RFC 3986)
        return key
    storage = app[SERVICES].get("storage")
    if storage is None:
        return None
    return storage.url(key)


def media_base(app: web.Application) -> str | None:
    """What media URLs start with (storage.url(key) == media_base + key); None without storage."""
    storage = app[SERVICES].get("storage")
    return storage.url_prefix if storage is not None else None


async def user_docs(db: Any, app: web.Application, ids: Iterable[int], *, viewer_id: int | None = None,
                    with_email: bool = False, include_blockers: bool = False) -> dict[int, str]:
    """{id: User JSON text} built by MariaDB (Q.users.docs); missing ids are left out, and so are
    users who block the viewer (to them the viewer is a 404), unless include_blockers (the viewer's
    own block and mute lists, which show whom they block even when blocked back).

    `db` is the Database or a Conn (inside a transaction, to read one's own writes).
    """
    ids = list(ids)
    if not ids:
        return {}
    rows = await db.fetchall(Q.users.docs, {"ids": ids, "viewer_id": viewer_id, "with_email": with_email,
                                            "include_blockers": include_blockers,
                                            "media_base": media_base(app)})
    return {r["id"]: r["doc"] for r in rows}


async def user(db: Any, app: web.Application, user_id: int, *, viewer_id: int | None = None,
               with_email: bool = False) -> dict[str, Any] | None:
    """One User as a dict (for bodies that embed it); None if there is no such user."""
    doc = (await user_docs(db, app, [user_id], viewer_id=viewer_id, with_email=with_email)).get(user_id)
    return orjson.loads(doc) if doc is not None else None


def user_summary(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    """UserSummary: id, username, full_name, profile_pic."""
    return {
        "id": row["id"],
        "username": row["username"],
        "full_name": row["full_name"],
        "profile_pic": media_url(app, row.get("avatar_key")),
    }


def media(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    """Media from a `media` row."""
    return {
        "id": row["id"],
        "type": row["media_type"],
        "url": media_url(app, row["storage_key"]),
        "thumbnail_url": media_url(app, row.get("thumb_key")),
        "width": row["width"],
        "height": row["height"],
        "duration": row["duration"],
        "size": row["size"],
        "content_type": row["content_type"],
        "created_at": iso(row["created_at"]),
    }
