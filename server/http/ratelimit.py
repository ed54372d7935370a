"""Fixed-window rate limits counted in Redis (per process while Redis is unreachable), and the
failed-login throttle built on them."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.errors import TooManyRequests
from server.redis import Redis

log = logging.getLogger(__name__)

# One round trip, atomic across workers. A refused hit is not counted, so callers hammering a
# full window neither grow the counter nor starve a later cheaper hit; the window starts at
# the first counted hit and is never extended.
# KEYS[1] counter; ARGV: limit, window ms, cost, dry run (1: only look) -> {allowed, used, ttl ms}
_SCRIPT = """
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local allowed = used + cost <= limit
if allowed and ARGV[4] == '0' then
  used = redis.call('INCRBY', KEYS[1], cost)
  if used == cost then redis.call('PEXPIRE', KEYS[1], window) end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
elseif ttl < 0 then
  ttl = window
end
return {allowed and 1 or 0, used, ttl}
"""

# Between two warnings about an unreachable Redis, so an outage does not flood the log.
_WARN_EVERY = 60.0
# Counters the per-process fallback keeps at most; past it, ended windows are dropped first.
_LOCAL_MAX = 100_000


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """ "5/900" -> (5, 900): at most 5 hits per 900 seconds."""
    count, seconds = rate.split("/")
    limit, window = int(count), int(seconds)
    if limit < 1 or window < 1:
        raise ValueError(f'bad rate {rate!r}: must look like "count/seconds"')
    return limit, window


@dataclass(frozen=True, slots=True)
class RateState:
    """Where a counter stands; limit None means not tracked (limits off, or Redis down)."""

    allowed: bool = True
    limit: int | None = None
    remaining: int = 0
    reset: int = 0  # seconds until the window ends
    window: int = 0

    def headers(self) -> dict[str, str]:
        if self.limit is None:
            return {}
        # draft-ietf-httpapi-ratelimit-headers (the three-field form most clients read)
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }


UNTRACKED = RateState()


class LocalWindows:
    """The Redis script's fixed windows, in this process's memory: the fallback while Redis is
    unreachable. Each process counts on its own, so with N workers a client may get up to N times
    a limit during an outage; far better than no limit, and nobody is locked out."""

    def __init__(self, max_keys: int = _LOCAL_MAX):
        self.max_keys = max_keys
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (used, window end on the monotonic clock)

    def run(self, key: str, limit: int, window: int, cost: int, *, dry: bool) -> tuple[bool, int, int]:
        """(allowed, used, ms until the window ends), like the script."""
        now = time.monotonic()
        used, end = self._windows.get(key, (0, 0.0))
        if end <= now:
            used, end = 0, now + window
        allowed = used + cost <= limit
        if allowed and not dry:
            used += cost
            if len(self._windows) >= self.max_keys and key not in self._windows:
                self._prune(now)
            self._windows[key] = (used, end)
        return allowed, used, max(1, math.ceil((end - now) * 1000))

    def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _prune(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        if len(self._windows) >= self.max_keys:  # a flood of idents: start over rather than grow
            self._windows.clear()


class RateLimiter:
    """Named limits ("login_ip", "writes_user", ...) per ident (user id, IP, account)."""

    def __init__(self, redis: Redis, enabled: bool):
        self.redis = redis
        self.enabled = enabled
        self._script = redis.client.register_script(_SCRIPT)
        self._local = LocalWindows()
        self._warned_at = -math.inf

    async def hit(self, name: str, ident: str | int, rate: str, *, cost: int = 1) -> RateState:
        """Count `cost` hits; raise TooManyRequests (429) when that would pass the limit."""
        return self._enforce(await self._run(name, ident, rate, cost, dry=False))

    async def peek(self, name: str, ident: str | int, rate: str, *, cost: int = 1) -> RateState:
        """Like hit(), without counting: would `cost` more hits be allowed?"""
        return self._enforce(await self._run(name, ident, rate, cost, dry=True))

    async def reset(self, name: str, ident: str | int) -> None:
        if not self.enabled:
            return
        key = self._key(name, ident)
        self._local.reset(key)
        try:
            await self.redis.client.delete(key)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self._warn(exc)

    # Failed-login throttle: only failures count, so a user who types the password right is
    # never slowed down. check first, then verify the password, then record or clear. Requests
    # already in flight when the limit is reached still finish; login_ip bounds that race.

    async def check_failures(self, name: str, ident: str | int, rate: str) -> RateState:
        """Raise TooManyRequests when `ident` has no failure left in the window; counts nothing."""
        return await self.peek(name, ident, rate)

    async def record_failure(self, name: str, ident: str | int, rate: str) -> RateState:
        """Count one failure. Never raises: the caller is already answering the failure."""
        return await self._run(name, ident, rate, 1, dry=False)

    async def clear_failures(self, name: str, ident: str | int) -> None:
        """After a success: the account starts afresh."""
        await self.reset(name, ident)

    async def _run(self, name: str, ident: str | int, rate: str, cost: int, *, dry: bool) -> RateState:
        if not self.enabled:
            return UNTRACKED
        limit, window = parse_rate(rate)
        key = self._key(name, ident)
        try:
            allowed, used, ttl = await self._script(keys=[key], args=[limit, window * 1000, cost, int(dry)])
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Redis frozen, gone or behind its open breaker: count in this process instead, so
            # limits still hold (per process) and an outage locks nobody out of the API.
            self._warn(exc)
            allowed, used, ttl = self._local.run(key, limit, window, cost, dry=dry)
        return RateState(allowed=bool(allowed), limit=limit, remaining=max(0, limit - int(used)),
                         reset=max(1, math.ceil(int(ttl) / 1000)), window=window)

    @staticmethod
    def _enforce(state: RateState) -> RateState:
        if not state.allowed:
            raise TooManyRequests(state.reset, headers=state.headers())
        return state

    def _key(self, name: str, ident: str | int) -> str:
        ident = str(ident)
        # Account idents come from request bodies; bound the key length whatever a client sends.
        if len(ident) > 64:
            ident = hashlib.sha256(ident.encode()).hexdigest()
        return self.redis.key("rl", name, ident)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("rate limits counted per process: Redis unreachable (%s: %s)", type(exc).__name__, exc)
