"""Who sent a request: its principal (bearer token; the cookie is browser_session's) and its client."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from server.accounts import Client
from server.auth import Principal, decode_token, session_active
from server.errors import Unauthorized
from server.keys import CONFIG, PRINCIPAL


def bearer_token(request: web.Request) -> str | None:
    """The token from `Authorization: Bearer <t>` (or Conduit's `Token <t>`)."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token.strip():
        raise Unauthorized("Use 'Authorization: Bearer <access token>'.")
    return token.strip()


async def authenticate(request: web.Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    app = request.app
    principal = decode_token(app[CONFIG], token)
    if not await session_active(app, principal):
        raise Unauthorized("The session has ended; log in again.")
    return principal


def viewer_id(request: web.Request) -> int | None:
    principal = request.get(PRINCIPAL)
    return principal.user_id if principal else None


def require_user(request: web.Request) -> int:
    principal = request.get(PRINCIPAL)
    if principal is None:
        raise Unauthorized()
    return principal.user_id


def require_principal(request: web.Request) -> Principal:
    principal = request.get(PRINCIPAL)
    if principal is None:
        raise Unauthorized()
    return principal


def client_ip(request: web.Request) -> str | None:
    if request.app[CONFIG].http.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45]
    return request.remote


def client_of(request: web.Request) -> Client:
    """The client a new session records, and the address throttles count."""
    return Client(user_agent=request.headers.get("User-Agent"), ip=client_ip(request))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(request: web.Request) -> bool:
    """No Origin (not a browser) or an allowed one; a browser elsewhere may not borrow the cookie."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    config = request.app[CONFIG]
    allowed = {_origin(o) for o in config.http.cors_origins}
    allowed.add(_origin(config.http.public_url))
    allowed.add(f"{request.scheme}://{request.host}".lower())
    return origin.rstrip("/").lower() in allowed
