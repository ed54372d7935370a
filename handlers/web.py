"""The web client: static files from web/ (index.html at `/`, ES modules and CSS under /app/).

No build step: the files in the repository are what the browser runs. Client routes live in the
URL fragment (`/#/post/12`), so the server needs no fallback route and never shadows /api or /media.
Every file is revalidated (ETag / Last-Modified answer 304s), so a deploy shows at once.
The page runs under a strict Content-Security-Policy: scripts and styles only from this server, no
inline script or style attribute; images and video also from the media storage's origin.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from server.errors import NotFound
from server.http.openapi import docs
from server.keys import CONFIG, SERVICES

routes = web.RouteTableDef()
TAGS = ["web client"]
WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json",
         ".webmanifest": "application/manifest+json"}


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(request: web.Request) -> str:
    """Only this server's scripts and styles; media also from where the storage serves it."""
    media = {"'self'", "blob:", "data:"}
    storage = request.app[SERVICES].get("storage")
    for url in (getattr(storage, "url_prefix", None), request.app[CONFIG].http.public_url):
        origin = _origin(url)
        if origin:
            media.add(origin)
    scheme = "wss" if request.secure else "ws"
    sources = " ".join(sorted(media))
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {sources}",
        f"media-src {sources}",
        f"connect-src 'self' {scheme}://{request.host}",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


def _file(request: web.Request, relative: str) -> web.FileResponse:
    root = WEB_ROOT.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file() or path.suffix not in TYPES:
        raise NotFound("No such file.")
    response = web.FileResponse(path, headers={
        "Cache-Control": "no-cache",
        "Content-Type": TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
    })
    if path.suffix == ".html":
        response.headers["Content-Security-Policy"] = content_security_policy(request)
    return response


@routes.get("/")
@docs("The web client (a single page; its routes are in the URL fragment)", tags=TAGS,
      responses={200: None})
async def index(request: web.Request) -> web.FileResponse:
    return _file(request, "index.html")


@routes.get(r"/app/{path:[A-Za-z0-9_][A-Za-z0-9_./-]*}")
@docs("A file of the web client (ES modules, CSS, icons)", tags=TAGS, responses={200: None, 404: None})
async def asset(request: web.Request) -> web.FileResponse:
    return _file(request, request.match_info["path"])
