"""Tokens and sessions: JWT access tokens, opaque rotating refresh tokens, revocation checks."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt
import redis.exceptions
from aiohttp import web

from server import events
from server.config import Config
from server.db import Conn
from server.errors import ServiceUnavailable, Unauthorized
from server.keys import CONFIG, DB, PRINCIPAL, REDIS, SERVICES
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)

ALGORITHM = "HS256"  # pinned on decode: alg=none or RS/HS confusion never verifies
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud", "typ", "sid"]
# Session state is cached this long in Redis; revocation overwrites it at once.
SESSION_CACHE_TTL = 300
_UNSYNCED = "sessions_unsynced"  # app[SERVICES] key: see forget_sessions
TOKEN_TYPES = {"access", "refresh", "ws", "reset"}


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    session_id: int
    kind: str = "api"


def check_secret(config: Config) -> None:
    if len(config.auth.secret.encode()) < 32:
        raise ValueError("auth.secret must be at least 32 bytes")


def encode_token(config: Config, *, user_id: int, session_id: int, typ: str = "access",
                 ttl: int | None = None, kind: str = "api") -> str:
    now = int(time.time())
    claims = {
        "iss": config.auth.issuer,
        "aud": config.auth.audience,
        "sub": str(user_id),
        "sid": session_id,
        "typ": typ,
        "knd": kind,
        "iat": now,
        "exp": now + (ttl or config.auth.access_ttl),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, config.auth.secret, algorithm=ALGORITHM)


# Verified access tokens: (secret, issuer, audience, token) -> (principal, exp). Verifying a JWT
# costs ~90 µs, a dict lookup nothing; the result can only change by expiry, which is checked on
# every hit. Revocation is the session check's job, not this cache's.
_VERIFIED: dict[tuple[str, str, str, str], tuple[Principal, int]] = {}
_VERIFIED_MAX = 50_000


def decode_token(config: Config, token: str, typ: str = "access") -> Principal:
    """Verify signature, algorithm, claims and type; any failure is a 401."""
    cache_key = (config.auth.secret, config.auth.issuer, config.auth.audience, token)
    if typ == "access":
        hit = _VERIFIED.get(cache_key)
        if hit is not None and time.time() < hit[1] + config.auth.leeway:
            return hit[0]
    try:
        claims = jwt.decode(
            token,
            config.auth.secret,
            algorithms=[ALGORITHM],
            audience=config.auth.audience,
            issuer=config.auth.issuer,
            leeway=config.auth.leeway,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired.") from None
    except jwt.PyJWTError:
        raise Unauthorized("The token is not valid.") from None
    if claims.get("typ") != typ:
        raise Unauthorized("The token is not valid.")
    try:
        principal = Principal(int(claims["sub"]), int(claims["sid"]), str(claims.get("knd", "api")))
        exp = int(claims["exp"])
    except (TypeError, ValueError):
        raise Unauthorized("The token is not valid.") from None
    if typ == "access":
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[cache_key] = (principal, exp)
    return principal


def new_opaque_token() -> tuple[str, bytes]:
    """(token for the client, SHA-256 to store)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def session_key(app: web.Application, session_id: int) -> str:
    return app[REDIS].key("sess", session_id)


async def session_active(app: web.Application, principal: Principal) -> bool:
    """Redis-cached session state, MySQL when Redis is unreachable (or its breaker is open, so the
    check costs no timeout): fail closed, never open."""
    unsynced = app[SERVICES].get(_UNSYNCED)
    if unsynced and principal.session_id in unsynced:
        return False  # revoked while Redis was unreachable; its cache may not know yet
    r = app[REDIS]
    key = session_key(app, principal.session_id)
    try:
        cached = await r.client.get(key)
        if cached is not None:
            return cached == str(principal.user_id)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        cached = None
        redis_up = False
    else:
        redis_up = True
    try:
        row = await app[DB].fetchone(Q.sessions.state, {"id": principal.session_id})
    except Exception as exc:
        log.warning("session check failed: %s", exc)
        raise ServiceUnavailable() from exc
    active = bool(row and row["active"] and row["user_id"] == principal.user_id)
    if redis_up:
        try:
            await r.client.set(key, str(principal.user_id) if active else "0", ex=SESSION_CACHE_TTL)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            pass
    return active


async def create_session(conn: Conn, config: Config, *, user_id: int, kind: str = "api",
                         user_agent: str | None = None, ip: str | None = None) -> dict:
    """Insert a session and its first refresh token; return the token response body parts."""
    ttl = config.auth.conduit_ttl if kind == "conduit" else config.auth.refresh_ttl
    session_id = await conn.insert(Q.sessions.create, {
        "user_id": user_id, "kind": kind, "user_agent": (user_agent or "")[:255] or None,
        "ip": ip, "ttl": ttl})
    refresh, refresh_hash = new_opaque_token()
    await conn.execute(Q.sessions.add_refresh, {"token_hash": refresh_hash, "session_id": session_id})
    return token_pair(config, user_id=user_id, session_id=session_id, refresh=refresh, kind=kind)


def token_pair(config: Config, *, user_id: int, session_id: int, refresh: str, kind: str = "api") -> dict:
    ttl = config.auth.conduit_ttl if kind == "conduit" else config.auth.access_ttl
    return {
        "access_token": encode_token(config, user_id=user_id, session_id=session_id, ttl=ttl, kind=kind),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": ttl,
        "session_id": session_id,
    }


async def forget_sessions(app: web.Application, session_ids: list[int]) -> None:
    """After a revocation commits: mark the cached states revoked (MySQL already says so).

    When Redis cannot be told, its cache may still say "active" once it is back: this process
    refuses those sessions itself and marks them in Redis when the breaker closes again.
    """
    if session_ids and not await _mark_revoked(app, session_ids):
        _unsynced(app).update(session_ids)


async def _mark_revoked(app: web.Application, session_ids: list[int]) -> bool:
    try:
        async with app[REDIS].client.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                pipe.set(session_key(app, sid), "0", ex=SESSION_CACHE_TTL)
            await pipe.execute()
        return True
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        log.warning("could not mark sessions %s revoked in Redis: %s", session_ids, exc)
        return False


def _unsynced(app: web.Application) -> set[int]:
    """Sessions revoked while Redis was unreachable, not yet marked there (this process)."""
    services = app[SERVICES]
    if _UNSYNCED not in services:
        services[_UNSYNCED] = set()
        app[REDIS].breaker.on_close(lambda: _resync(app))
    return services[_UNSYNCED]


async def _resync(app: web.Application) -> None:
    pending = _unsynced(app)
    ids = sorted(pending)
    if ids and await _mark_revoked(app, ids):
        pending.difference_update(ids)  # only now: until then session_active refuses them


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


async def revoke_session(conn: Conn, session_id: int, reason: str) -> list[int]:
    """Inside a transaction: revoke one session; [id] if it was live, else []."""
    changed = await conn.execute(Q.sessions.revoke, {"id": session_id, "reason": reason})
    return [session_id] if changed else []


async def revoke_user_sessions(conn: Conn, user_id: int, reason: str, *, keep: int = 0) -> list[int]:
    """Inside a transaction: revoke every live session of user_id except `keep`; their ids."""
    rows = await conn.fetchall(Q.sessions.active_ids_except, {"user_id": user_id, "keep": keep})
    await conn.execute(Q.sessions.revoke_all_of_user, {"user_id": user_id, "reason": reason, "keep": keep})
    return [row["id"] for row in rows]


async def sessions_revoked(app: web.Application, user_id: int, session_ids: list[int]) -> None:
    """After the revocation commits: the cache says revoked at once, open sockets close.

    Emits the transient event {"type": "session.revoked", "data": {"session_ids": [...]}}
    that the WebSocket hub consumes (close code 4001).
    """
    if not session_ids:
        return
    await forget_sessions(app, session_ids)
    await events.publish_transient(app, user_id, "session.revoked", {"session_ids": list(session_ids)})
