"""Users and profiles: one user, lookup by username, prefix search, profile edits, the avatar, and
the profile as the Conduit API shows it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import present
from server.db import Conn
from server.errors import NotFound
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.media.intake import Upload
from server.media.uploads import delete_unused_files, store
from server.queries import QUERIES as Q

PROFILE_FIELDS = ("full_name", "bio", "location")


async def get_user(app: web.Application, user_id: int | None, viewer_id: int | None = None, *,
                   with_email: bool = False) -> str:
    """One User as a JSON document (built by MariaDB), with the viewer's relation flags; 404 for none.

    with_email: the account itself (its owner asking), shown without relation flags.
    """
    docs = await present.user_docs(app[DB].read(), app, [user_id] if user_id else [],
                                   viewer_id=None if with_email else viewer_id, with_email=with_email)
    if user_id not in docs:
        raise NotFound("No such user.")
    return docs[user_id]


async def lookup(app: web.Application, username: str, viewer_id: int | None) -> str:
    """The User with this username (case-insensitive), as get_user."""
    return await get_user(app, await app[DB].read().fetchval(Q.users.id_by_username, {"username": username}), viewer_id)


async def search(app: web.Application, q: str, p: PageParams, viewer_id: int | None) -> dict[str, Any]:
    """Users whose username or full name starts with q → a page of User documents."""
    prefix = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    db = app[DB].read()
    rows = await db.fetchall(p.sql(Q.users.search), p.args(prefix=prefix, viewer_id=viewer_id))
    page = make_page(rows, p)
    docs = await present.user_docs(db, app, [r["id"] for r in page["items"]], viewer_id=viewer_id)
    return {"items": [docs[r["id"]] for r in page["items"] if r["id"] in docs], "next_cursor": page["next_cursor"]}


async def update_profile(app: web.Application, user_id: int, changes: dict[str, Any]) -> str:
    """Set the given PROFILE_FIELDS (the others stay) → the account's User document."""
    args: dict[str, Any] = {"id": user_id}
    for name in PROFILE_FIELDS:
        args[f"set_{name}"] = name in changes
        args[name] = changes.get(name)
    await app[DB].execute(Q.users.update_profile, args)
    return await get_user(app, user_id, with_email=True)


async def replace_avatar(tx: Conn, user_id: int, *, cols: dict[str, Any] | None = None,
                         url: str | None = None) -> list[str | None]:
    """Inside a transaction: make an upload (`cols`, a stored file's media columns) or an outside
    http(s) `url` the profile picture, or neither (remove it). The old avatar's row goes; the keys
    of its files are returned, to delete after COMMIT if unshared (delete_unused_files)."""
    old = await tx.fetchone(Q.media.lock_avatar, {"user_id": user_id}) or {}
    media_id = None
    if cols is not None:
        media_id = await tx.insert(Q.media.insert, {**cols, "user_id": user_id, "purpose": "avatar"})
    await tx.execute(Q.media.set_avatar, {"user_id": user_id, "media_id": media_id, "image_url": url})
    if old.get("avatar_media_id"):
        await tx.execute(Q.media.delete_avatar, {"id": old["avatar_media_id"], "user_id": user_id})
    return [old.get("storage_key"), old.get("thumb_key")]


async def _set_avatar(app: web.Application, user_id: int, cols: dict[str, Any] | None) -> None:
    """Make `cols` (a stored file's media columns; None removes it) the avatar; old files go after
    COMMIT, if unshared."""
    old: list[str | None] = []

    async def change(tx: Conn) -> None:
        old[:] = await replace_avatar(tx, user_id, cols=cols)

    await app[DB].run(change)
    await delete_unused_files(app, old)


async def set_avatar(app: web.Application, user_id: int, upload: Upload) -> dict[str, Any]:
    """Store an image upload and make it the avatar (the old one goes) → the account's User."""
    await _set_avatar(app, user_id, await store(app, upload))
    return await present.user(app[DB], app, user_id, with_email=True)


async def remove_avatar(app: web.Application, user_id: int) -> dict[str, Any]:
    """Remove the avatar (its row now, its files if unshared) → the account's User."""
    await _set_avatar(app, user_id, None)
    return await present.user(app[DB], app, user_id, with_email=True)


async def profile_by_username(app: web.Application, username: str, viewer_id: int | None) -> dict[str, Any]:
    """id, username, bio, avatar_key and whether the viewer follows them (Conduit's Profile); 404 for none."""
    row = await app[DB].read().fetchone(Q.conduit.profile_by_username, {"username": username, "viewer_id": viewer_id})
    if row is None:
        raise NotFound("No such user.")
    return row
