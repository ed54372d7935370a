"""Media: uploads (POST /api/v1/media), one's own media by id, and the local files under /media/."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from server import present
from server.auth import require_user
from server.errors import NotFound
from server.http.idempotency import fingerprint, idempotent
from server.http.openapi import docs
from server.http.responses import json_response
from server.http.schemas import MediaSchema
from server.keys import CONFIG, DB, EXECUTOR, SERVICES
from server.media.intake import EXTENSIONS, THUMB_TYPE, Upload, UploadSchema, read_upload, store_upload
from server.media.storage import InvalidKey, LocalStorage, Storage, create_storage
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
TAGS = ["media"]
# Only what intake writes is ever served, with the type it was stored as.
CONTENT_TYPES = {ext: ctype for ctype, ext in EXTENSIONS.items()} | {THUMB_TYPE[1]: THUMB_TYPE[0]}
FILE_HEADERS = {
    # Content-addressed: the bytes behind a key never change.
    "Cache-Control": "public, max-age=31536000, immutable",
    # Opened directly, a file must not run anything in this origin.
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
IDEMPOTENCY_HEADER = {"parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]}


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_storage_ctx)
    config = app[CONFIG]
    if config.media.backend == "local":
        app.router.add_get(config.media.url_path.rstrip("/") + "/{key:.+}", serve_file)


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    storage = await create_storage(app[CONFIG])
    app[SERVICES]["storage"] = storage
    yield
    await storage.close()


def storage_of(app: web.Application) -> Storage:
    return app[SERVICES]["storage"]


# --- shared with avatars ---------------------------------------------------------------------

async def store(app: web.Application, upload: Upload) -> dict[str, Any]:
    """Clean and write the file; the media row's columns (without user_id and purpose)."""
    return await store_upload(app, storage_of(app), app[EXECUTOR], upload)


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


# --- HTTP ------------------------------------------------------------------------------------

@routes.post("/api/v1/media")
@docs("Upload an image or a video (multipart field `file`)", tags=TAGS, auth="required",
      body=UploadSchema, body_content_type="multipart/form-data",
      responses={201: MediaSchema, 409: None, 413: None, 415: None}, extra=IDEMPOTENCY_HEADER)
async def upload_media(request: web.Request) -> web.Response:
    me = require_user(request)
    upload = await read_upload(request)

    async def create() -> web.Response:
        cols = await store(request.app, upload)
        db = request.app[DB]
        media_id = await db.insert(Q.media.insert, {**cols, "user_id": me, "purpose": "upload"})
        row = await db.fetchone(Q.media.by_id_for_owner, {"id": media_id, "user_id": me})
        return json_response(present.media(request.app, row), status=201)

    # The multipart framing differs on every send: the same request means the same file.
    request_hash = fingerprint(request.method, request.path, upload.data)
    return await idempotent(request, me, create, request_hash=request_hash)


@routes.get(r"/api/v1/media/{id:\d+}")
@docs("One of the viewer's own media", tags=TAGS, auth="required", responses={200: MediaSchema, 404: None})
async def get_media(request: web.Request) -> web.Response:
    me = require_user(request)
    row = await request.app[DB].fetchone(Q.media.by_id_for_owner, {"id": int(request.match_info["id"]), "user_id": me})
    if row is None:
        raise NotFound("No such media.")
    return json_response(present.media(request.app, row))


@docs("A stored media file (local storage); immutable, served with nosniff", tags=TAGS,
      responses={200: None, 404: None})
async def serve_file(request: web.Request) -> web.StreamResponse:
    path = await asyncio.to_thread(_stored_file, storage_of(request.app), request.match_info["key"])
    if path is None:
        raise NotFound("No such file.")
    return web.FileResponse(path, headers={
        **FILE_HEADERS, "Content-Type": CONTENT_TYPES[path.suffix[1:]], "X-Content-Type-Options": "nosniff",
    })


def _stored_file(storage: LocalStorage, key: str) -> Path | None:
    try:
        path = storage.path(key)
    except InvalidKey:
        return None
    if path.suffix[1:] not in CONTENT_TYPES or not path.is_file():
        return None
    return path
