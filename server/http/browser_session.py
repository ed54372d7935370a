"""Browser sessions: an aiohttp-session cookie (Redis storage) that authenticates like a bearer token."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from aiohttp_session import Session
from aiohttp_session.redis_storage import RedisStorage

from server import auth
from server.config import Config
from server.errors import Forbidden
from server.http.middlewares import COOKIE_AUTH
from server.keys import CONFIG
from server.redis import close_client, redis_client

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# aiohttp_session's own middleware and get_session() keep their state under plain string
# request keys (a NotAppKeyWarning on every request), so this module drives the storage itself.
SESSION = web.RequestKey("browser_session", Session)
STORAGE = web.AppKey("browser_session_storage", RedisStorage)


class _PrefixedKeys:
    """The two calls RedisStorage makes, with the deployment's key prefix in front."""

    def __init__(self, client: aioredis.Redis, prefix: str):
        self.client, self.prefix = client, prefix

    async def get(self, key: str) -> Any:
        return await self.client.get(self.prefix + key)

    async def set(self, key: str, value: str, ex: int | None = None) -> Any:
        return await self.client.set(self.prefix + key, value, ex=ex)


def make_storage(config: Config) -> tuple[RedisStorage, aioredis.Redis]:
    # A client of its own: RedisStorage decodes bytes itself, the app's client returns str.
    # Request path: the short timeout (cookie sessions live only in Redis; down, they answer 503).
    client = redis_client(config, decode_responses=False, health_check_interval=0,
                          socket_timeout=config.redis.request_timeout)
    storage = RedisStorage(
        client,
        cookie_name=config.auth.cookie_name,
        max_age=config.auth.refresh_ttl,
        secure=config.auth.cookie_secure,
        httponly=True,
        samesite="Lax",
    )
    storage._redis = _PrefixedKeys(client, config.redis.prefix + "websess:")
    return storage, client


def setup(app: web.Application) -> None:
    """Install the session middleware just outside authentication, and the cookie authenticator."""
    storage, client = make_storage(app[CONFIG])
    app[STORAGE] = storage
    app[COOKIE_AUTH] = cookie_auth

    async def close(app: web.Application) -> None:
        await close_client(client)

    app.on_cleanup.append(close)


async def get_session(request: web.Request) -> Session:
    session = request.get(SESSION)
    if session is None:
        session = request[SESSION] = await request.app[STORAGE].load_session(request)
    return session


def origin_allowed(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is not None and origin.rstrip("/") in {
        o.rstrip("/") for o in request.app[CONFIG].http.cors_origins}


def check_origin(request: web.Request) -> None:
    """CSRF: a cookie-authenticated unsafe request must come from an allowed Origin."""
    if request.method not in SAFE_METHODS and not origin_allowed(request):
        raise Forbidden("Cookie-authenticated requests must come from an allowed Origin.")


async def cookie_auth(request: web.Request) -> auth.Principal | None:
    """The principal of the browser session cookie, or None (no cookie, or its session has ended)."""
    if request.app[CONFIG].auth.cookie_name not in request.cookies:
        return None
    session = await get_session(request)
    user_id, session_id = session.get("uid"), session.get("sid")
    if not user_id or not session_id:
        return None
    check_origin(request)
    principal = auth.Principal(int(user_id), int(session_id), auth.BROWSER)
    if not await auth.session_active(request.app, principal):
        return None
    return principal


async def start(request: web.Request, response: web.StreamResponse, user_id: int, session_id: int) -> None:
    """Bind a fresh cookie session (new identity: no fixation) to a DB session; set its cookie."""
    session = request[SESSION] = await request.app[STORAGE].new_session()
    session["uid"] = user_id
    session["sid"] = session_id
    await request.app[STORAGE].save_session(request, response, session)


async def end(request: web.Request, response: web.StreamResponse) -> tuple[int, int] | None:
    """Clear the cookie session (and the cookie); return (user id, DB session id) it was bound to."""
    if request.app[CONFIG].auth.cookie_name not in request.cookies:
        return None
    session = await get_session(request)
    user_id, session_id = session.get("uid"), session.get("sid")
    session.invalidate()
    await request.app[STORAGE].save_session(request, response, session)
    return (int(user_id), int(session_id)) if user_id and session_id else None
