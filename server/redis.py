"""The Redis client (redis.asyncio) with timeouts, and the key prefix every key goes through."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.config import Config


class Redis:
    """A client plus the deployment's key prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_config(cls, config: Config, prefix: str | None = None) -> Redis:
        client = aioredis.Redis.from_url(
            config.redis.url,
            socket_timeout=config.redis.socket_timeout,
            socket_connect_timeout=config.redis.connect_timeout,
            max_connections=config.redis.max_connections,
            health_check_interval=15,
            decode_responses=True,
            # Fail fast: a frozen or stopped Redis turns into a 503 or a fallback, not a hang.
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, config.redis.prefix if prefix is None else prefix)

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    async def close(self) -> None:
        await self.client.aclose()
