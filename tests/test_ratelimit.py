"""Rate limits against the real Redis: windows, idents, failed logins, concurrency, outages."""

from __future__ import annotations

import asyncio
import logging

import pytest

from server.errors import TooManyRequests
from server.http.ratelimit import RateLimiter, RateState, parse_rate
from server.redis import Redis


async def keys(redis: Redis) -> list[str]:
    return [k async for k in redis.client.scan_iter(match=redis.prefix + "*")]


@pytest.fixture
async def redis(make_config):
    # make_config (conftest): the suite's Redis, a fresh random key prefix for this test.
    redis = Redis.from_config(make_config())
    yield redis
    if found := await keys(redis):
        await redis.client.delete(*found)
    await redis.close()


@pytest.fixture
async def down_redis(make_config):
    """A client pointed at a port where no Redis listens."""
    redis = Redis.from_config(make_config(redis={"url": "redis://127.0.0.1:1/0"}))
    yield redis
    await redis.close()


@pytest.fixture
def limiter(redis):
    return RateLimiter(redis, enabled=True)


async def test_limit_reached_answers_429_with_retry_after_within_the_window(limiter):
    states = [await limiter.hit("register_ip", "203.0.113.7", "3/60") for _ in range(3)]
    assert [s.remaining for s in states] == [2, 1, 0]
    assert states[0].headers()["RateLimit-Limit"] == "3"
    assert 0 < int(states[0].headers()["RateLimit-Reset"]) <= 60

    with pytest.raises(TooManyRequests) as caught:
        await limiter.hit("register_ip", "203.0.113.7", "3/60")
    exc = caught.value
    assert exc.status == 429
    assert 1 <= int(exc.headers["Retry-After"]) <= 60
    assert exc.headers["RateLimit-Remaining"] == "0"
    assert exc.headers["RateLimit-Limit"] == "3"


async def test_a_new_window_starts_when_the_old_one_ends(limiter):
    await limiter.hit("writes_user", 1, "2/1")
    await limiter.hit("writes_user", 1, "2/1")
    with pytest.raises(TooManyRequests):
        await limiter.hit("writes_user", 1, "2/1")
    await asyncio.sleep(1.1)
    assert (await limiter.hit("writes_user", 1, "2/1")).remaining == 1


async def test_refused_hits_are_not_counted(limiter):
    with pytest.raises(TooManyRequests):
        await limiter.hit("writes_user", 7, "3/60", cost=5)
    for _ in range(20):
        with pytest.raises(TooManyRequests):
            await limiter.hit("writes_user", 8, "1/60", cost=2)
    assert (await limiter.hit("writes_user", 7, "3/60", cost=3)).remaining == 0
    assert (await limiter.hit("writes_user", 8, "1/60")).remaining == 0


async def test_counters_are_separate_per_ident_and_per_name(limiter, redis):
    await limiter.hit("reset_ip", "198.51.100.1", "1/60")
    with pytest.raises(TooManyRequests):
        await limiter.hit("reset_ip", "198.51.100.1", "1/60")
    await limiter.hit("reset_ip", "198.51.100.2", "1/60")
    await limiter.hit("reset_ip", "2001:db8::1", "1/60")
    await limiter.hit("register_ip", "198.51.100.1", "1/60")
    await limiter.hit("login_account", "x" * 10_000, "1/60")  # hashed: keys stay short
    assert len(await keys(redis)) == 5
    assert max(len(k) for k in await keys(redis)) < len(redis.prefix) + 100


async def test_peek_counts_nothing_and_reset_starts_afresh(limiter):
    assert (await limiter.peek("writes_user", 3, "2/60")).remaining == 2
    await limiter.hit("writes_user", 3, "2/60")
    await limiter.hit("writes_user", 3, "2/60")
    with pytest.raises(TooManyRequests):
        await limiter.peek("writes_user", 3, "2/60")
    await limiter.reset("writes_user", 3)
    assert (await limiter.peek("writes_user", 3, "2/60")).remaining == 2


async def test_failed_logins_lock_the_account_and_a_success_clears_it(limiter):
    """Mallory guesses alice's password from one IP; alice then logs in from another."""
    account, ip = ("login_account", "alice", "5/900"), ("login_ip", "203.0.113.9", "50/900")
    for _ in range(5):
        await limiter.check_failures(*account)
        await limiter.check_failures(*ip)
        # ... wrong password ...
        await limiter.record_failure(*account)
        await limiter.record_failure(*ip)

    with pytest.raises(TooManyRequests) as caught:
        await limiter.check_failures(*account)
    assert 1 <= caught.value.retry_after <= 900
    assert (await limiter.record_failure(*account)).remaining == 0  # never raises
    await limiter.check_failures("login_account", "bob", "5/900")  # other accounts are untouched

    # The window passes (simulated by clearing it); alice logs in correctly.
    await limiter.reset(*account[:2])
    await limiter.check_failures(*account)
    await limiter.record_failure(*account)
    await limiter.clear_failures(*account[:2])
    assert (await limiter.check_failures(*account)).remaining == 5
    # The IP's failures stay: success on one account does not pardon guessing at others.
    assert (await limiter.check_failures(*ip)).remaining == 45


async def test_concurrent_hits_allow_exactly_the_limit(limiter):
    results = await asyncio.gather(
        *(limiter.hit("writes_user", 42, "10/60") for _ in range(50)), return_exceptions=True)
    assert sum(isinstance(r, RateState) for r in results) == 10
    assert sum(isinstance(r, TooManyRequests) for r in results) == 40


async def test_disabled_limits_never_raise_and_never_touch_redis(redis, down_redis):
    limiter = RateLimiter(redis, enabled=False)
    for _ in range(20):
        state = await limiter.hit("writes_user", 1, "1/60", cost=5)
        assert state.headers() == {}
        await limiter.check_failures("login_account", "alice", "1/60")
        await limiter.record_failure("login_account", "alice", "1/60")
    await limiter.peek("writes_user", 1, "1/60")
    await limiter.reset("writes_user", 1)
    assert await keys(redis) == []
    await RateLimiter(down_redis, enabled=False).hit("writes_user", 1, "1/60")


async def test_unreachable_redis_counts_per_process_with_one_warning(down_redis, caplog):
    """Redis gone: the same fixed windows, kept in this process; nobody is locked out for good."""
    limiter = RateLimiter(down_redis, enabled=True)
    with caplog.at_level(logging.WARNING, logger="server.http.ratelimit"):
        state = await limiter.hit("writes_user", 1, "2/60")
        assert state.remaining == 1 and state.headers()["RateLimit-Limit"] == "2"
        await limiter.hit("writes_user", 1, "2/60")
        with pytest.raises(TooManyRequests) as caught:
            await limiter.hit("writes_user", 1, "2/60")
        assert 1 <= caught.value.retry_after <= 60
        assert (await limiter.hit("writes_user", 2, "2/60")).remaining == 1  # per ident
        assert (await limiter.hit("writes_user", 3, "1/1")).remaining == 0
        await asyncio.sleep(1.05)
        assert (await limiter.hit("writes_user", 3, "1/1")).remaining == 0  # a new window

        for _ in range(2):
            await limiter.check_failures("login_account", "alice", "2/60")
            await limiter.record_failure("login_account", "alice", "2/60")
        with pytest.raises(TooManyRequests):
            await limiter.check_failures("login_account", "alice", "2/60")
        await limiter.clear_failures("login_account", "alice")
        assert (await limiter.check_failures("login_account", "alice", "2/60")).remaining == 2
    warnings = [r for r in caplog.records if r.name == "server.http.ratelimit"]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()


def test_rates_parse_once():
    parse_rate.cache_clear()
    assert parse_rate("5/900") == (5, 900)
    assert parse_rate("5/900") == (5, 900)
    assert parse_rate.cache_info().hits == 1
    for bad in ("5", "0/60", "5/0", "a/b"):
        with pytest.raises(ValueError):
            parse_rate(bad)
