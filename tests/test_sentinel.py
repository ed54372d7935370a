"""Redis Sentinel (redis.sentinels + redis.service_name): the app's client, the browser-session
client and the bus follow a failover, graceful (the old master survives as a replica) or not."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
import redis as syncredis

from server.app import create_app
from server.localsvc import Private, _binary, _wait_port, free_port, start_redis
from server.redis import Redis
from tests.test_bus import Inbox
from ws.redis_bus import RedisBus

SERVICE = "chatter"


def start_sentinel(directory: Path, master_port: int) -> Private:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = directory / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 500\n"
        f"sentinel failover-timeout {SERVICE} 3000\n"
        f"sentinel parallel-syncs {SERVICE} 1\n")
    args = [_binary("redis-server", package="redis-server"), str(conf), "--sentinel"]
    with open(directory / "sentinel.log", "ab") as logf:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=logf)
    _wait_port(port, proc, "redis-sentinel")
    return Private("sentinel", port, proc, directory, args)


def master_of(sentinel: Private) -> int | None:
    with syncredis.Redis(port=sentinel.port, socket_timeout=1) as s:
        addr = s.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
    return int(addr[1]) if addr else None


def role(port: int) -> str | None:
    try:
        with syncredis.Redis(port=port, socket_timeout=1) as r:
            return r.info("replication")["role"]
    except syncredis.ConnectionError:
        return None


def wait_master(sentinel: Private, port: int, old: int, timeout: float = 20) -> float:
    """Until `port` is the master and the old one a replica (or gone): writes that reach the old
    master before the sentinel demotes it are lost, in any Redis failover."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if master_of(sentinel) == port and role(port) == "master" and role(old) != "master":
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"sentinel did not promote {port} within {timeout} s")


@pytest.fixture
def sentinel_set(tmp_path):
    master = start_redis(tmp_path / "master")
    replica = start_redis(tmp_path / "replica")
    with syncredis.Redis(port=replica.port) as r:
        r.replicaof("127.0.0.1", master.port)
    deadline = time.monotonic() + 10
    with syncredis.Redis(port=master.port) as r:
        while r.info("replication").get("connected_slaves", 0) < 1:
            assert time.monotonic() < deadline, "the replica did not connect"
            time.sleep(0.05)
    sentinel = start_sentinel(tmp_path / "sentinel", master.port)
    deadline = time.monotonic() + 10
    while True:  # the sentinel learns the replica from the master's INFO (every 10 s at first)
        with syncredis.Redis(port=sentinel.port) as s:
            if s.execute_command("SENTINEL", "replicas", SERVICE):
                break
        assert time.monotonic() < deadline + 10, "the sentinel did not find the replica"
        time.sleep(0.1)
    yield master, replica, sentinel
    for svc in (sentinel, replica, master):
        svc.stop()


async def until(check, within: float = 15.0):
    """Retry check() (a coroutine function) until it returns without raising."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_clients_and_bus_follow_failovers(make_config, sentinel_set, aiohttp_client):
    master, replica, sentinel = sentinel_set
    config = make_config(redis={"url": "redis://127.0.0.1:1/0", "sentinels": [f"127.0.0.1:{sentinel.port}"],
                                "service_name": SERVICE, "socket_timeout": 0.5})
    r = Redis.from_config(config)
    listener, publisher = RedisBus(config, config.redis.prefix), RedisBus(config, config.redis.prefix)
    reconnects: list[float] = []

    async def hook():
        reconnects.append(time.monotonic())

    listener.on_reconnect(hook)
    await listener.start()
    await publisher.start()
    client = await aiohttp_client(create_app(config))
    try:
        # Everything talks to the master the sentinel names (redis.url is unreachable on purpose).
        await r.client.set(r.key("k"), "1")
        with syncredis.Redis(port=master.port, decode_responses=True) as direct:
            assert direct.get(r.key("k")) == "1"
        assert (await client.get("/readyz")).status == 200
        await asyncio.wait_for(listener.connected.wait(), 5)
        inbox = Inbox()
        await listener.subscribe("chan", inbox)
        await asyncio.sleep(0.1)
        await publisher.publish("chan", "m1")
        await inbox.wait_for(1)

        # Graceful failover: the old master lives on as a replica, so nothing drops the bus's
        # connection; the listener notices the move by asking the sentinels.
        before = len(reconnects)
        with syncredis.Redis(port=sentinel.port) as s:
            s.execute_command("SENTINEL", "failover", SERVICE)
        await asyncio.to_thread(wait_master, sentinel, replica.port, master.port)
        await until(lambda: r.client.set(r.key("k"), "2"))
        with syncredis.Redis(port=replica.port, decode_responses=True) as direct:
            assert direct.get(r.key("k")) == "2"
        await until(lambda: _reconnected(reconnects, before))
        await until(lambda: publisher.publish("chan", "m2"))
        await inbox.wait_for(2)

        # Hard failover: the master dies; the sentinel promotes the other one.
        killed = time.monotonic()
        before = len(reconnects)
        replica.proc.kill()
        await asyncio.to_thread(wait_master, sentinel, master.port, replica.port)
        await until(lambda: r.client.set(r.key("k"), "3"))
        await until(lambda: _reconnected(reconnects, before))
        await until(lambda: publisher.publish("chan", "m3"))
        got = [m for _, m in await inbox.wait_for(3)]
        assert got == ["m1", "m2", "m3"]
        assert time.monotonic() - killed < 15
        assert (await until(lambda: _ready(client))) == 200
    finally:
        await listener.stop()
        await publisher.stop()
        await r.close()


async def _reconnected(reconnects: list[float], before: int) -> None:
    assert len(reconnects) > before


async def _ready(client) -> int:
    resp = await client.get("/readyz")
    assert resp.status == 200
    return resp.status
