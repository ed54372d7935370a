"""The Redis client (redis.asyncio) with timeouts, and the key prefix every key goes through."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from server.config import Config


def redis_client(config: Config, **options: Any) -> aioredis.Redis:
    """A client of redis.url, or with redis.sentinels of the master of redis.service_name.

    Through Sentinel every new connection asks the sentinels where the master is, so after a
    failover the next connection (a stale one fails once, or with READONLY on a demoted master)
    reaches the new master. `options` are client options (retry, max_connections, ...).
    """
    cfg = config.redis
    options = {"socket_timeout": cfg.socket_timeout, "socket_connect_timeout": cfg.connect_timeout,
               "health_check_interval": 15, "decode_responses": True, **options}
    if not cfg.sentinels:
        return aioredis.Redis.from_url(cfg.url, **options)
    addresses = [(host, int(port)) for host, _, port in (s.rpartition(":") for s in cfg.sentinels)]
    sentinel = Sentinel(addresses, sentinel_kwargs={
        "socket_timeout": cfg.socket_timeout, "socket_connect_timeout": cfg.connect_timeout,
        "decode_responses": True, "retry": Retry(NoBackoff(), 0)})
    return sentinel.master_for(cfg.service_name, redis_class=aioredis.Redis, db=cfg.db, **options)


async def close_client(client: aioredis.Redis) -> None:
    """Close the client and, with Sentinel, its connections to the sentinels."""
    await client.aclose()
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()


class Redis:
    """A client plus the deployment's key prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_config(cls, config: Config, prefix: str | None = None) -> Redis:
        client = redis_client(
            config,
            max_connections=config.redis.max_connections,
            # Fail fast: a frozen or stopped Redis turns into a 503 or a fallback, not a hang.
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, config.redis.prefix if prefix is None else prefix)

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    async def close(self) -> None:
        await close_client(self.client)
