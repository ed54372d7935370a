"""Tokens and session state: JWT access tokens, opaque tokens, and whether a session is still live.

Issuing, rotating and revoking sessions is the accounts service's job (server/accounts.py); reading
the principal off a request is the HTTP layer's (server/http/identity.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import jwt
import redis.exceptions
from aiohttp import web

from server.config import Config
from server.errors import ServiceUnavailable, Unauthorized
from server.keys import BUS, DB, METRICS, REDIS, SERVICES
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)

ALGORITHM = "HS256"  # pinned on decode: alg=none or RS/HS confusion never verifies
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud", "typ", "sid"]
# Session state is cached this long in Redis; revocation overwrites it at once.
SESSION_CACHE_TTL = 300
# ... and this long in each process (SessionCache), where revocation events on the bus drop it.
LOCAL_TTL = 60.0
LOCAL_MAX = 100_000
_UNSYNCED = "sessions_unsynced"  # app[SERVICES] key: see forget_sessions
SESSION_CACHE = "session_cache"  # app[SERVICES] key: this process's SessionCache
# Revocations that could not be announced on the bus are retried this long (then given up: the
# other processes' entries end with LOCAL_TTL at the latest).
ANNOUNCE_FOR = 60.0
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


class SessionCache:
    """Session id → its state, in this process: an authenticated request costs no Redis round trip.

    An entry is trusted only while the bus is `delivering()` (its link to the other processes is
    known to be up) and only in the bus `epoch` it was made in: every revocation is announced on
    the bus (`revoked_channel`) and drops the entry in every process, and while the bus cannot
    tell (Redis frozen or away, a reconnect) every request checks the store again, failing closed.
    A lookup that raced a revocation (any revocation heard meanwhile) is not stored. Entries also
    end after LOCAL_TTL, so a session's expiry is seen within a minute (Redis's cache: 5).
    """

    def __init__(self, app: web.Application):
        self.app = app
        self.enabled = False  # once this process listens to revocations
        self._entries: dict[int, tuple[int, float, int]] = {}  # id → (user id or 0, cached at, epoch)
        self._revocations = 0  # revocations heard: a lookup that overlaps one is not stored
        self.checks = {"local": 0, "redis": 0, "mysql": 0}  # where session checks were answered

    def _bus(self):
        bus = self.app.get(BUS)
        return bus if self.enabled and bus is not None and bus.delivering() else None

    def get(self, session_id: int) -> int | None:
        """The user id of a live session, 0 for an ended one, None when not known here."""
        bus = self._bus()
        if bus is None:
            return None
        entry = self._entries.get(session_id)
        if entry is None or entry[2] != bus.epoch or time.monotonic() - entry[1] > LOCAL_TTL:
            return None
        self.checks["local"] += 1
        return entry[0]

    def ticket(self) -> tuple[int, int] | None:
        """Taken before a lookup in the store; put() stores its answer only if it is still good."""
        bus = self._bus()
        return None if bus is None else (bus.epoch, self._revocations)

    def put(self, session_id: int, user_id: int, ticket: tuple[int, int] | None) -> None:
        bus = self._bus()
        if ticket is None or bus is None or ticket != (bus.epoch, self._revocations):
            return
        if len(self._entries) >= LOCAL_MAX:
            self._entries.clear()
        self._entries[session_id] = (user_id, time.monotonic(), bus.epoch)

    def drop(self, session_ids) -> None:
        self._revocations += 1
        for sid in session_ids:
            self._entries.pop(sid, None)


def _cache(app: web.Application) -> SessionCache | None:
    return app[SERVICES].get(SESSION_CACHE)


def revoked_channel(app: web.Application) -> str:
    return app[REDIS].key("sessions", "revoked")


async def session_cache_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after the bus's): listen to revocations, then trust the local cache."""
    cache = app[SERVICES][SESSION_CACHE] = SessionCache(app)
    app[SERVICES]["session_announcements"] = set()
    bus, channel = app[BUS], revoked_channel(app)

    async def on_revoked(_channel: str, message: str) -> None:
        cache.drop(int(sid) for sid in message.split(",") if sid.isdigit())

    await bus.subscribe(channel, on_revoked)
    try:
        await bus.flush()
    except Exception as exc:  # the link is down: delivering() says so until it is back
        log.info("session cache: bus not flushed (%s)", exc)
    cache.enabled = True
    app[METRICS].watch_sessions(cache.checks)
    yield
    cache.enabled = False
    tasks = app[SERVICES]["session_announcements"]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await bus.unsubscribe(channel, on_revoked)


async def session_active(app: web.Application, principal: Principal) -> bool:
    """This process's cache (SessionCache), then the Redis-cached session state, then MySQL when
    Redis is unreachable (or its breaker is open, so the check costs no timeout): fail closed,
    never open."""
    unsynced = app[SERVICES].get(_UNSYNCED)
    if unsynced and principal.session_id in unsynced:
        return False  # revoked while Redis was unreachable; its cache may not know yet
    cache = _cache(app)
    ticket = None
    if cache is not None:
        known = cache.get(principal.session_id)
        if known is not None:
            return known == principal.user_id
        ticket = cache.ticket()
    r = app[REDIS]
    key = session_key(app, principal.session_id)
    try:
        cached = await r.client.get(key)
        if cached is not None:
            if cache is not None:
                cache.checks["redis"] += 1
                cache.put(principal.session_id, int(cached) if cached.isdigit() else 0, ticket)
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
    if cache is not None:
        cache.checks["mysql"] += 1
        cache.put(principal.session_id, row["user_id"] if row and row["active"] else 0, ticket)
    if redis_up:
        try:
            await r.client.set(key, str(principal.user_id) if active else "0", ex=SESSION_CACHE_TTL)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            pass
    return active


async def forget_sessions(app: web.Application, session_ids: list[int]) -> None:
    """After a revocation commits (MySQL already says so): this process forgets the sessions at
    once, the Redis-cached states say revoked, and the bus tells every other process to forget
    them too.

    When Redis cannot be told, its cache may still say "active" once it is back: this process
    refuses those sessions itself and marks them in Redis when the breaker closes again; the
    announcement is retried in the background (other processes meanwhile see their bus stall,
    stop trusting their caches and check the store).
    """
    if not session_ids:
        return
    cache = _cache(app)
    if cache is not None:
        cache.drop(session_ids)
    marked = await _mark_revoked(app, session_ids)
    if not marked:
        _unsynced(app).update(session_ids)
    bus = app.get(BUS)
    if bus is None:
        return
    message = ",".join(map(str, session_ids))
    if marked:
        try:
            await bus.announce(revoked_channel(app), message)
            return
        except Exception as exc:
            log.warning("could not announce the revocation of sessions %s: %s; retrying", session_ids, exc)
    tasks = app[SERVICES].setdefault("session_announcements", set())
    task = asyncio.create_task(_announce_later(app, bus, message))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _announce_later(app: web.Application, bus, message: str) -> None:
    delay, deadline = 0.1, time.monotonic() + ANNOUNCE_FOR
    while True:
        await asyncio.sleep(delay)
        try:
            await bus.announce(revoked_channel(app), message)
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                log.warning("gave up announcing the revocation of sessions %s: %s", message, exc)
                return
        delay = min(delay * 2, 1.0)


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
