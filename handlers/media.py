"""Media: uploads (POST /api/v1/media), one's own media by id, and the local files under /media/."""

from __future__ import annotations

from aiohttp import web

from server.errors import NotFound
from server.http.idempotency import fingerprint, idempotent
from server.http.identity import require_user
from server.http.openapi import docs
from server.http.responses import json_response
from server.http.schemas import MediaSchema
from server.keys import CONFIG
from server.media import uploads
from server.media.intake import EXTENSIONS, THUMB_TYPE, UploadSchema, read_upload

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
    config = app[CONFIG]
    if config.media.backend == "local":
        app.router.add_get(config.media.url_path.rstrip("/") + "/{key:.+}", serve_file)


@routes.post("/api/v1/media")
@docs("Upload an image or a video (multipart field `file`)", tags=TAGS, auth="required",
      body=UploadSchema, body_content_type="multipart/form-data",
      responses={201: MediaSchema, 409: None, 413: None, 415: None}, extra=IDEMPOTENCY_HEADER)
async def upload_media(request: web.Request) -> web.Response:
    me = require_user(request)
    upload = await read_upload(request)

    async def create() -> web.Response:
        return json_response(await uploads.create_media(request.app, me, upload), status=201)

    # The multipart framing differs on every send: the same request means the same file.
    request_hash = fingerprint(request.method, request.path, upload.data)
    return await idempotent(request, me, create, request_hash=request_hash)


@routes.get(r"/api/v1/media/{id:\d+}")
@docs("One of the viewer's own media", tags=TAGS, auth="required", responses={200: MediaSchema, 404: None})
async def get_media(request: web.Request) -> web.Response:
    media_id = int(request.match_info["id"])
    return json_response(await uploads.get_media(request.app, require_user(request), media_id))


@docs("A stored media file (local storage); immutable, served with nosniff", tags=TAGS,
      responses={200: None, 404: None})
async def serve_file(request: web.Request) -> web.StreamResponse:
    path = await uploads.local_file(request.app, request.match_info["key"], CONTENT_TYPES)
    if path is None:
        raise NotFound("No such file.")
    return web.FileResponse(path, headers={
        **FILE_HEADERS, "Content-Type": CONTENT_TYPES[path.suffix[1:]], "X-Content-Type-Options": "nosniff",
    })
