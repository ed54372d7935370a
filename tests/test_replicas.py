"""Read replicas (server/replicas.py): routing, read-your-writes, leaving and rejoining the rotation.

The "replica" here is the test database itself (one MariaDB), with its replication status
stubbed; real GTID replication is exercised by the cluster test (tests/cluster/).
"""

from __future__ import annotations

import pytest

from server.app import create_app
from server.keys import DB, METRICS, REDIS
from server.replicas import ReplicaSet
from tests.conftest import _db_url_with


@pytest.fixture
def lag(monkeypatch):
    """The stubbed replication status of every replica: {"lag": seconds or None, "problem": str}."""
    state = {"lag": 0.0, "problem": None}

    async def status(self, replica):
        async with replica.db.connection() as conn:  # still a real round trip: down is down
            await conn.fetchval("SELECT 1")
        return state["lag"], state["problem"]

    monkeypatch.setattr(ReplicaSet, "replica_status", status)
    return state


@pytest.fixture
def replica_url(services):
    return _db_url_with(services.db_url, services.database)


@pytest.fixture
async def rclient(aiohttp_client, make_config, replica_url, lag):
    config = make_config(database={"replicas": [replica_url], "read_target_header": True,
                                   "replica_probe_interval": 60})
    return await aiohttp_client(create_app(config))


def reads(client, target: str) -> float:
    return client.app[METRICS].db_reads.labels(target)._value.get()


def fallbacks(client, reason: str) -> float:
    return client.app[METRICS].db_read_fallbacks.labels(reason)._value.get()


async def test_without_replicas_read_is_the_primary(client):
    db = client.app[DB]
    assert db.read() is db and db.router is None
    resp = await client.get("/api/v1/posts")
    assert resp.status == 200 and "X-Read-From" not in resp.headers


async def test_lag_tolerant_reads_go_to_the_replica(rclient, make_user, replica_url):
    rs = rclient.app[DB].router
    name = rs.replicas[0].name
    assert rs.replicas[0].in_rotation
    resp = await rclient.get("/api/v1/posts")
    assert resp.status == 200 and resp.headers["X-Read-From"] == "replica"
    assert reads(rclient, name) == 1  # the ids (an empty page needs no documents)
    # A read that is not lag-tolerant (the event log, sessions, the home feed) stays on the primary.
    bob = await make_user("bob")
    resp = await rclient.get("/api/v1/feed", headers=bob.headers)
    assert resp.status == 200 and "X-Read-From" not in resp.headers


async def test_read_your_writes(rclient, make_user):
    """Right after writing, the writer reads the primary (the write's GTID is unknown here: no
    binary log); anybody else still reads the replica."""
    alice, bob = await make_user("alice"), await make_user("bob")
    resp = await rclient.post("/api/v1/posts", json={"content": "mine"}, headers=alice.headers)
    assert resp.status == 201
    post_id = (await resp.json())["id"]
    for path in ("/api/v1/posts", f"/api/v1/posts/{post_id}", f"/api/v1/users/{alice.id}/posts",
                 f"/api/v1/users/{alice.id}"):
        resp = await rclient.get(path, headers=alice.headers)
        assert resp.status == 200 and resp.headers["X-Read-From"] == "primary", path
        resp = await rclient.get(path, headers=bob.headers)
        assert resp.status == 200 and resp.headers["X-Read-From"] == "replica", path
    assert fallbacks(rclient, "read_your_writes") >= 4
    # The write's marker expires with the window: then alice reads the replica again.
    r = rclient.app[REDIS]
    await r.client.delete(r.key("rw", alice.id))
    resp = await rclient.get("/api/v1/posts", headers=alice.headers)
    assert resp.headers["X-Read-From"] == "replica"


async def test_read_your_writes_waits_for_the_gtid(rclient, make_user):
    """With a GTID noted, the replica serves the read once MASTER_GTID_WAIT says it has applied it."""
    alice = await make_user("alice")
    r = rclient.app[REDIS]
    # The empty position is reached at once: the replica may serve.
    await r.client.set(r.key("rw", alice.id), "", ex=30)
    resp = await rclient.get("/api/v1/posts", headers=alice.headers)
    assert resp.headers["X-Read-From"] == "replica"
    # A position this server never reaches: the wait times out, the primary serves.
    await r.client.set(r.key("rw", alice.id), "0-1-999999999", ex=30)
    before = fallbacks(rclient, "read_your_writes")
    resp = await rclient.get("/api/v1/posts", headers=alice.headers)
    assert resp.status == 200 and resp.headers["X-Read-From"] == "primary"
    assert fallbacks(rclient, "read_your_writes") == before + 1


async def test_newest_gtid_is_kept(rclient, make_user):
    rs = rclient.app[DB].router
    r = rclient.app[REDIS]
    key = r.key("rw", 7)
    note = r.client.register_script(__import__("server.replicas", fromlist=["_NOTE_WRITE"])._NOTE_WRITE)
    await note(keys=[key], args=["0-1-20", rs.window])
    await note(keys=[key], args=["0-1-9", rs.window])
    assert await r.client.get(key) == "0-1-20"
    await note(keys=[key], args=["0-1-21", rs.window])
    assert await r.client.get(key) == "0-1-21"


async def test_lagging_replica_leaves_and_rejoins(rclient, lag):
    rs = rclient.app[DB].router
    replica = rs.replicas[0]
    lag["lag"] = rs.max_lag + 1
    await rs.probe_all()
    assert not replica.in_rotation
    resp = await rclient.get("/api/v1/posts")
    assert resp.status == 200 and resp.headers["X-Read-From"] == "primary"
    assert fallbacks(rclient, "no_replica") >= 1
    metrics = (await (await rclient.get("/metrics")).text())
    assert f'chatter_db_replica_in_rotation{{replica="{replica.name}"}} 0.0' in metrics
    assert f'chatter_db_replica_lag_seconds{{replica="{replica.name}"}} {rs.max_lag + 1}' in metrics
    lag["lag"] = 0.0
    await rs.probe_all()
    assert not replica.in_rotation  # one good probe is not enough
    await rs.probe_all()
    assert replica.in_rotation
    resp = await rclient.get("/api/v1/posts")
    assert resp.headers["X-Read-From"] == "replica"
    lag["lag"], lag["problem"] = None, "not replicating"
    await rs.probe_all()
    assert not replica.in_rotation


async def test_replica_down_reads_fall_back_without_errors(aiohttp_client, make_config, lag, make_user):
    """A replica that cannot be reached is never in rotation; one that dies under a read is left
    for the primary within that read."""
    config = make_config(database={"replicas": ["mysql://root:@127.0.0.1:1/chatter"],
                                   "read_target_header": True, "replica_probe_interval": 60})
    client = await aiohttp_client(create_app(config))
    rs = client.app[DB].router
    replica = rs.replicas[0]
    assert not replica.in_rotation and "DatabaseUnavailable" in replica.reason
    resp = await client.get("/api/v1/posts")
    assert resp.status == 200 and resp.headers["X-Read-From"] == "primary"
    # Forced into rotation (as if it had just died): the read still succeeds, on the primary.
    rs._set(replica, True, "ok")
    resp = await client.get("/api/v1/users?q=a")
    assert resp.status == 200 and resp.headers["X-Read-From"] == "primary"
    assert not replica.in_rotation and fallbacks(client, "replica_failed") == 1


async def test_writes_and_transactions_stay_on_the_primary(rclient, make_user):
    alice = await make_user("alice")
    resp = await rclient.patch("/api/v1/users/me", json={"bio": "hi"}, headers=alice.headers)
    assert resp.status == 200 and (await resp.json())["bio"] == "hi"
    assert resp.headers["X-Read-From"] == "primary"  # the request wrote: its reads see the write


def test_config_keys(make_config):
    config = make_config(database={"replicas": ["mysql://u:secret@10.0.0.2:3306/chatter"]},
                         redis={"sentinels": ["10.0.0.3:26379"]})
    assert config.redacted()["database"]["replicas"] == ["mysql://u:***@10.0.0.2:3306/chatter"]
    from server.config import ConfigError
    with pytest.raises(ConfigError, match="database.replicas"):
        make_config(database={"replicas": ["http://x"]})
    with pytest.raises(ConfigError, match="redis.sentinels"):
        make_config(redis={"sentinels": ["nohostport"]})
