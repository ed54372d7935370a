"""The bus contract, run on both implementations; the Redis bus heals itself after a Redis restart."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from ws.bus import MemoryBus
from ws.redis_bus import RedisBus

WAIT = 5.0


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    async def __call__(self, channel: str, message: str) -> None:
        self.items.append((channel, message))
        self.changed.set()

    async def wait_for(self, n: int, within: float = WAIT) -> list[tuple[str, str]]:
        async with asyncio.timeout(within):
            while len(self.items) < n:
                self.changed.clear()
                await self.changed.wait()
        return self.items


@pytest.fixture(params=["memory", "redis"])
async def bus(request, config):
    if request.param == "memory":
        bus = MemoryBus()
    else:
        bus = RedisBus(config, config.redis.prefix)
    await bus.start()
    if request.param == "redis":
        await asyncio.wait_for(bus.connected.wait(), WAIT)
    yield bus
    await bus.stop()


async def _settle(bus) -> None:
    # Redis SUBSCRIBE is asynchronous to PUBLISH from another connection: give it a round trip.
    if isinstance(bus, RedisBus):
        await asyncio.sleep(0.1)


async def test_subscribers_get_their_channels_only_and_in_order(bus):
    ch1, ch2 = f"t:{uuid.uuid4().hex}:a", f"t:{uuid.uuid4().hex}:b"
    a, b = Inbox(), Inbox()
    await bus.subscribe(ch1, a)
    await bus.subscribe(ch2, b)
    await _settle(bus)
    for i in range(5):
        await bus.publish(ch1, f"m{i}")
    await bus.publish(ch2, "other")
    assert [m for _, m in await a.wait_for(5)] == [f"m{i}" for i in range(5)]
    assert await b.wait_for(1) == [(ch2, "other")]
    await asyncio.sleep(0.1)
    assert len(a.items) == 5


async def test_two_subscribers_of_one_channel_and_unsubscribe(bus):
    ch = f"t:{uuid.uuid4().hex}"
    a, b = Inbox(), Inbox()
    await bus.subscribe(ch, a)
    await bus.subscribe(ch, b)
    await _settle(bus)
    await bus.publish(ch, "both")
    await a.wait_for(1)
    await b.wait_for(1)
    await bus.unsubscribe(ch, a)
    await _settle(bus)
    await bus.publish(ch, "only b")
    await b.wait_for(2)
    await asyncio.sleep(0.1)
    assert [m for _, m in a.items] == ["both"]
    await bus.unsubscribe(ch, b)
    await _settle(bus)
    await bus.publish(ch, "nobody")
    await asyncio.sleep(0.1)
    assert len(b.items) == 2


async def test_a_failing_subscriber_does_not_stop_the_others(bus):
    ch = f"t:{uuid.uuid4().hex}"
    good = Inbox()

    async def bad(channel, message):
        raise RuntimeError("boom")

    await bus.subscribe(ch, bad)
    await bus.subscribe(ch, good)
    await _settle(bus)
    await bus.publish(ch, "1")
    await bus.publish(ch, "2")
    assert [m for _, m in await good.wait_for(2)] == ["1", "2"]


async def test_redis_bus_reconnects_and_resubscribes_after_a_restart(make_config, private_redis):
    config = make_config(redis={"url": f"redis://127.0.0.1:{private_redis.port}/0"})
    listener = RedisBus(config, config.redis.prefix)
    publisher = RedisBus(config, config.redis.prefix)
    reconnects = []

    async def hook():
        reconnects.append(1)

    listener.on_reconnect(hook)
    await listener.start()
    await publisher.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), WAIT)
        inbox = Inbox()
        await listener.subscribe("chan", inbox)
        await asyncio.sleep(0.1)
        await publisher.publish("chan", "before")
        await inbox.wait_for(1)

        await asyncio.to_thread(private_redis.stop)
        async with asyncio.timeout(WAIT):
            while listener.connected.is_set():  # noqa: ASYNC110 - polling another task's state
                await asyncio.sleep(0.05)
        with pytest.raises(Exception):  # noqa: B017 - whatever redis-py raises for a refused connection
            await publisher.publish("chan", "lost")

        await asyncio.to_thread(private_redis.restart)
        await asyncio.wait_for(listener.connected.wait(), 10)
        await asyncio.sleep(0.1)
        await publisher.publish("chan", "after")
        assert [m for _, m in await inbox.wait_for(2)] == ["before", "after"]
        assert len(reconnects) >= 2  # first connect and the reconnect
    finally:
        await listener.stop()
        await publisher.stop()
