"""The Redis client (redis.asyncio) behind a circuit breaker, and the key prefix every key goes through.

Every command and pipeline of the app's client passes the breaker (server/breaker.py): with
short timeouts (`redis.request_timeout`), the first timeout or connection error opens it, and
then calls raise RedisUnavailable at once instead of waiting on a frozen or dead Redis. It is a
redis ConnectionError, so every caller's existing fallback takes it: session checks read MySQL,
rate limits count per process, home timelines come from SQL, bus publishes are skipped (the
durable event log heals them), presence is best effort, and anything else answers 503.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from server.breaker import CircuitBreaker
from server.config import Config

# What opens the breaker: Redis did not answer (a reply, even an error reply, is an answer).
FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError, asyncio.TimeoutError)


class RedisUnavailable(redis.exceptions.ConnectionError):
    """The Redis circuit breaker is open: the call was refused at once, or released when it opened."""


class GuardedRedis(aioredis.Redis):
    """A redis.asyncio client whose commands and pipelines pass a circuit breaker."""

    breaker: CircuitBreaker

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        breaker = self.breaker
        if not breaker.allow():
            raise RedisUnavailable(f"Redis circuit breaker is {breaker.state}")
        try:
            async with breaker.waiting():
                return await super().execute_command(*args, **options)
        except TimeoutError as exc:  # released: another call's timeout opened the breaker meanwhile
            breaker.failure(exc)  # (nothing new when it is open, as it is then)
            raise RedisUnavailable("Redis circuit breaker opened during the call") from None
        except FAILURES as exc:
            breaker.failure(exc)
            raise

    async def execute_unguarded(self, *args: Any, **options: Any) -> Any:
        """The breaker's own probe: a command sent whatever its state."""
        return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> GuardedPipeline:
        pipe = GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.breaker = self.breaker
        return pipe


class GuardedPipeline(Pipeline):
    breaker: CircuitBreaker

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        breaker = self.breaker
        if not breaker.allow():
            await self.reset()
            raise RedisUnavailable(f"Redis circuit breaker is {breaker.state}")
        try:
            async with breaker.waiting():
                return await super().execute(raise_on_error)
        except TimeoutError as exc:
            breaker.failure(exc)
            raise RedisUnavailable("Redis circuit breaker opened during the call") from None
        except FAILURES as exc:
            breaker.failure(exc)
            raise


def redis_client(config: Config, *, redis_class: type[aioredis.Redis] = aioredis.Redis,
                 **options: Any) -> aioredis.Redis:
    """A client of redis.url, or with redis.sentinels of the master of redis.service_name.

    Through Sentinel every new connection asks the sentinels where the master is, so after a
    failover the next connection (a stale one fails once, or with READONLY on a demoted master)
    reaches the new master. `options` are client options (retry, max_connections, ...).
    """
    cfg = config.redis
    options = {"socket_timeout": cfg.socket_timeout, "socket_connect_timeout": cfg.connect_timeout,
               "health_check_interval": 15, "decode_responses": True, **options}
    if not cfg.sentinels:
        return redis_class.from_url(cfg.url, **options)
    addresses = [(host, int(port)) for host, _, port in (s.rpartition(":") for s in cfg.sentinels)]
    sentinel = Sentinel(addresses, sentinel_kwargs={
        "socket_timeout": cfg.socket_timeout, "socket_connect_timeout": cfg.connect_timeout,
        "decode_responses": True, "retry": Retry(NoBackoff(), 0)})
    return sentinel.master_for(cfg.service_name, redis_class=redis_class, db=cfg.db, **options)


async def close_client(client: aioredis.Redis) -> None:
    """Close the client and, with Sentinel, its connections to the sentinels."""
    await client.aclose()
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()


class Redis:
    """A client plus the deployment's key prefix and the breaker its calls pass."""

    def __init__(self, client: GuardedRedis, prefix: str, breaker: CircuitBreaker):
        self.client = client
        self.prefix = prefix
        self.breaker = breaker

    @classmethod
    def from_config(cls, config: Config, prefix: str | None = None) -> Redis:
        section = config.redis
        client = redis_client(
            config,
            redis_class=GuardedRedis,
            # Request-path calls: Redis answers in well under a millisecond, so a call that takes
            # request_timeout means it is frozen or gone; the breaker then spares everyone else.
            socket_timeout=section.request_timeout,
            socket_connect_timeout=min(section.connect_timeout, section.request_timeout),
            max_connections=section.max_connections,
            # Fail fast: a frozen or stopped Redis turns into a fallback or a 503, not a hang.
            retry=Retry(NoBackoff(), 0),
        )
        breaker = CircuitBreaker("redis", cooldown=section.breaker_cooldown,
                                 probe=lambda: client.execute_unguarded("PING"),
                                 probe_timeout=max(1.0, 3 * section.request_timeout))
        client.breaker = breaker
        return cls(client, section.prefix if prefix is None else prefix, breaker)

    @property
    def available(self) -> bool:
        """False while the breaker refuses calls: take the fallback without trying."""
        return self.breaker.closed

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    async def close(self) -> None:
        await self.breaker.stop()
        await close_client(self.client)
