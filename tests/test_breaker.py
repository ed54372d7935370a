"""The Redis circuit breaker against a real, frozen (SIGSTOP) private Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.exceptions

from server.app import create_app
from server.auth import decode_token, session_key
from server.keys import CONFIG, REDIS
from server.redis import Redis, RedisUnavailable

pytestmark = pytest.mark.slow


async def test_a_frozen_redis_opens_the_breaker_and_its_probe_closes_it(make_config, private_redis):
    r = Redis.from_config(make_config(redis={"url": f"redis://127.0.0.1:{private_redis.port}/0",
                                             "request_timeout": 0.1}))
    loop = asyncio.get_running_loop()
    closes: list[str] = []

    async def closed() -> None:
        closes.append(r.breaker.state)

    r.breaker.on_close(closed)
    try:
        await r.client.set(r.key("k"), "v")
        private_redis.pause()
        try:
            start = loop.time()

            async def get(delay: float) -> tuple[float, str]:
                await asyncio.sleep(delay)
                try:
                    await r.client.get(r.key("k"))
                except (redis.exceptions.TimeoutError, RedisUnavailable) as exc:
                    return loop.time() - start, type(exc).__name__
                raise AssertionError("a frozen Redis answered")

            # Five callers arrive 20 ms apart: the first waits request_timeout, and its timeout
            # opens the breaker, which releases the others at that moment.
            ended = await asyncio.gather(*(get(i * 0.02) for i in range(5)))
            assert ended[0][1] == "TimeoutError" and "RedisUnavailable" in {name for _, name in ended}
            assert max(t for t, _ in ended) < 0.1 + 0.15, ended
            assert r.breaker.state == "open" and not r.available

            start = loop.time()
            for _ in range(100):
                with pytest.raises(RedisUnavailable):  # a ConnectionError: every fallback takes it
                    await r.client.get(r.key("k"))
            with pytest.raises(RedisUnavailable):
                async with r.client.pipeline(transaction=False) as pipe:
                    pipe.incr(r.key("n"))
                    await pipe.execute()
            assert loop.time() - start < 0.1
            assert r.breaker.rejected >= 101

            await asyncio.sleep(1.5)  # a probe ran after the cool-down, and failed
            assert r.breaker.transitions["half_open"] >= 1 and not r.breaker.closed and closes == []
        finally:
            private_redis.resume()
        async with asyncio.timeout(3):
            await r.breaker.wait_closed()
        await asyncio.sleep(0)
        assert closes == ["closed"]
        assert await r.client.get(r.key("k")) == "v"
    finally:
        private_redis.resume()
        await r.close()


async def test_a_session_revoked_while_redis_is_frozen_stays_revoked_after(make_config, aiohttp_client,
                                                                           private_redis):
    """Alice logs out on her laptop while Redis is frozen. Redis still caches the laptop session as
    active when it comes back; the token must not work again for a moment."""
    client = await aiohttp_client(create_app(make_config(
        redis={"url": f"redis://127.0.0.1:{private_redis.port}/0"})))
    app = client.app
    resp = await client.post("/api/v1/auth/register", json={
        "username": "alice", "email": "alice@example.com", "password": "correct horse battery"})
    laptop_token = (await resp.json())["access_token"]
    resp = await client.post("/api/v1/auth/login", json={"login": "alice", "password": "correct horse battery"})
    laptop = {"Authorization": f"Bearer {laptop_token}"}
    phone = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
    for headers in (laptop, phone):
        assert (await client.get("/api/v1/users/me", headers=headers)).status == 200  # cached active
    laptop_key = session_key(app, decode_token(app[CONFIG], laptop_token).session_id)
    assert await app[REDIS].client.get(laptop_key) not in (None, "0")

    private_redis.pause()
    try:
        assert (await client.post("/api/v1/auth/logout", headers=laptop)).status == 204
        assert (await client.get("/api/v1/users/me", headers=laptop)).status == 401
        assert (await client.get("/api/v1/users/me", headers=phone)).status == 200
        assert not app[REDIS].available
    finally:
        private_redis.resume()
    async with asyncio.timeout(3):
        await app[REDIS].breaker.wait_closed()
    assert (await client.get("/api/v1/users/me", headers=laptop)).status == 401
    assert (await client.get("/api/v1/users/me", headers=phone)).status == 200
    async with asyncio.timeout(2):
        while await app[REDIS].client.get(laptop_key) != "0":  # noqa: ASYNC110 - marked on close
            await asyncio.sleep(0.02)
    assert (await client.get("/api/v1/users/me", headers=laptop)).status == 401
