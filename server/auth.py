"""Tokens and session state: JWT access tokens, opaque tokens, and whether a session is still live.

Issuing, rotating and revoking sessions is the accounts service's job (server/accounts.py); reading
the principal off a request is the HTTP layer's (server/http/identity.py).
"""

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

from server.config import Config
from server.errors import ServiceUnavailable, Unauthorized
from server.keys import DB, REDIS, SERVICES
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)

ALGORITHM = "HS256"  # pinned on decode: alg=none or RS/HS confusion never verifies
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud", "typ", "sid"]
# Session state is cached this long in Redis; revocation overwrites it at once.
SESSION_CACHE_TTL = 300
_UNSYNCED = "sessions_unsynced"  # app[SERVICES] key: see forget_sessions
TOKEN_TYPES = {"access", "refresh", "ws", "reset"}
# Session kinds: "api" (bearer tokens), "conduit" (longer-lived Conduit tokens), and "browser"
# (an HttpOnly cookie bound to the session; its refresh token is never handed out).
BROWSER = "browser"
CONDUIT = "conduit"


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
