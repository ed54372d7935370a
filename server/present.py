"""Rows → API objects (plain dicts: this is the hot path, marshmallow schemas document them)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.keys import SERVICES
from server.responses import iso


def media_url(app: web.Application, key: str | None) -> str | None:
    if not key:
        return None
    storage = app[SERVICES].get("storage")
    if storage is None:
        return None
    return storage.url(key)


def user(app: web.Application, row: dict[str, Any], *, relation: dict[str, bool] | None = None,
         with_email: bool = False) -> dict[str, Any]:
    """User (public); `relation` adds following/followed_by for a viewer."""
    out = {
        "id": row["id"],
        "username": row["username"],
        "full_name": row["full_name"],
        "bio": row["bio"],
        "location": row["location"],
        "profile_pic": media_url(app, row.get("avatar_key")),
        "join_date": row["created_at"].date().isoformat(),
        "followers_count": row["followers_count"],
        "following_count": row["following_count"],
        "posts_count": row["posts_count"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
    if relation is not None:
        out["following"] = relation.get("following", False)
        out["followed_by"] = relation.get("followed_by", False)
    if with_email:
        out["email"] = row["email"]
    return out


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
