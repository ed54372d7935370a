"""Faults: Redis stops mid-conversation; REST keeps storing, live delivery heals, nothing is lost or doubled."""

from __future__ import annotations

import asyncio

import pytest

from server.app import create_app
from server.keys import BUS
from tests.helpers import next_frame, no_frame

pytestmark = pytest.mark.slow
WS = "/api/v1/ws"


async def send(client, sender, recipient, content):
    resp = await client.post("/api/v1/messages", headers=sender.headers,
                             json={"recipient_id": recipient.id, "content": content})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_redis_restart_mid_conversation_loses_nothing(make_config, aiohttp_client, private_redis,
                                                            make_user):
    config = make_config(redis={"url": f"redis://127.0.0.1:{private_redis.port}/0"}, bus={"backend": "redis"})
    client = await aiohttp_client(create_app(config))
    bus = client.app[BUS]
    await asyncio.wait_for(bus.connected.wait(), 10)
    alice, bob = await make_user(), await make_user()
    bob_ws = await client.ws_connect(WS, headers=bob.headers)
    await next_frame(bob_ws, "hello")
    await asyncio.sleep(0.2)  # SUBSCRIBE reaches Redis

    m1 = await send(client, alice, bob, "before")
    first = await next_frame(bob_ws, "message.created")
    assert first["data"]["id"] == m1["id"]
    last_seq = first["seq"]

    await asyncio.to_thread(private_redis.stop)
    async with asyncio.timeout(10):
        while bus.connected.is_set():  # noqa: ASYNC110 - polling the listener's state
            await asyncio.sleep(0.05)
    during = [await send(client, alice, bob, f"during {i}") for i in range(3)]  # REST keeps answering

    await asyncio.to_thread(private_redis.restart)
    await asyncio.wait_for(bus.connected.wait(), 15)
    healed = [await next_frame(bob_ws, "message.created", wait=10) for _ in during]
    assert [f["data"]["id"] for f in healed] == [m["id"] for m in during]  # without restarting the server
    await asyncio.sleep(0.2)
    m5 = await send(client, alice, bob, "after")
    assert (await next_frame(bob_ws, "message.created", wait=10))["data"]["id"] == m5["id"]
    await bob_ws.close()

    resumed = await client.ws_connect(WS, headers=bob.headers, params={"last_seq": last_seq})
    hello = await next_frame(resumed)
    assert hello["type"] == "hello"
    replay = []
    while not replay or replay[-1]["seq"] < hello["data"]["seq"]:
        replay.append(await next_frame(resumed))
    seqs = [f["seq"] for f in replay]
    assert seqs == list(range(last_seq + 1, hello["data"]["seq"] + 1))
    created = [f["data"]["id"] for f in replay if f["type"] == "message.created"]
    assert created == [m["id"] for m in [*during, m5]]
    await no_frame(resumed)
    await resumed.close()

    history = await (await client.get(f"/api/v1/conversations/{alice.id}/messages?after=0",
                                      headers=bob.headers)).json()
    assert [m["id"] for m in history["items"]] == [m["id"] for m in [m1, *during, m5]]
