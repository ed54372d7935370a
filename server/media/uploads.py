"""The media service: the storage's lifetime, uploads stored as one's media, one's media by id,
and the files of deleted rows that nothing shares any more."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from server import present
from server.errors import NotFound
from server.keys import CONFIG, DB, EXECUTOR, SERVICES
from server.media.intake import Upload, store_upload
from server.media.storage import InvalidKey, LocalStorage, Storage, create_storage
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Called at app creation: the configured storage, opened at startup and closed at cleanup."""
    app.cleanup_ctx.append(_storage_ctx)


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    storage = await create_storage(app[CONFIG])
    app[SERVICES]["storage"] = storage
    yield
    await storage.close()


def storage_of(app: web.Application) -> Storage:
    return app[SERVICES]["storage"]


async def store(app: web.Application, upload: Upload) -> dict[str, Any]:
    """Clean and write the file (in the executor); the media row's columns (without user_id and purpose)."""
    return await store_upload(app, storage_of(app), app[EXECUTOR], upload)


async def create_media(app: web.Application, user_id: int, upload: Upload) -> dict[str, Any]:
    """Store an upload as the user's media, not yet attached to anything → Media."""
    cols = await store(app, upload)
    db = app[DB]
    media_id = await db.insert(Q.media.insert, {**cols, "user_id": user_id, "purpose": "upload"})
    row = await db.fetchone(Q.media.by_id_for_owner, {"id": media_id, "user_id": user_id})
    return present.media(app, row)


async def get_media(app: web.Application, user_id: int, media_id: int) -> dict[str, Any]:
    """One of the user's own media → Media; anyone else's is a 404."""
    row = await app[DB].fetchone(Q.media.by_id_for_owner, {"id": media_id, "user_id": user_id})
    if row is None:
        raise NotFound("No such media.")
    return present.media(app, row)


async def delete_unused_files(app: web.Application, keys: Iterable[str | None]) -> None:
    """After COMMIT: remove the files of deleted rows that no other row shares."""
    db, storage = app[DB], storage_of(app)
    for key in {k for k in keys if k}:
        if await db.fetchval(Q.media.key_in_use, {"key": key}):
            continue
        try:
            await storage.delete(key)
        except Exception:
            # The change is committed; a file left behind only costs space.
            log.warning("could not delete media file %s", key, exc_info=True)


async def remove_files(app: web.Application, rows: list[dict[str, Any]]) -> None:
    """After COMMIT: the files (storage_key, thumb_key) of deleted media rows that no other row shares."""
    keys = [k for r in rows for k in (r["storage_key"], r["thumb_key"]) if k]
    if keys:
        await delete_unused_files(app, keys)


async def local_file(app: web.Application, key: str, extensions: Iterable[str]) -> Path | None:
    """The path of a stored file (local storage) with one of these extensions, or None."""
    return await asyncio.to_thread(_local_file, storage_of(app), key, frozenset(extensions))


def _local_file(storage: LocalStorage, key: str, extensions: frozenset[str]) -> Path | None:
    try:
        path = storage.path(key)
    except InvalidKey:
        return None
    if path.suffix[1:] not in extensions or not path.is_file():
        return None
    return path
