"""Home timeline cache: every feed page served through Redis equals the SQL answer, warm, cold or down."""

from __future__ import annotations

import asyncio

from server import timeline
from server.app import create_app
from server.follows import follow
from server.keys import REDIS
from server.posts import create_post, delete_post
from tests.test_posts import new_post


async def walk(client, user, limit: int, direction: str = "before") -> list[dict]:
    """Every page of the viewer's home feed, newest first (before) or oldest first (after=0)."""
    pages, cursor = [], None if direction == "before" else "0"
    while True:
        params = {"limit": limit, **({direction: cursor} if cursor is not None else {})}
        resp = await client.get("/api/v1/feed", params=params, headers=user.headers)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


async def same_as_sql(client, sql_client, user, limits=(1, 3, 20)) -> list[int]:
    """Walk both ways at several page sizes through the cache and through SQL only: identical pages."""
    for limit in limits:
        for direction in ("before", "after"):
            assert await walk(client, user, limit, direction) == await walk(sql_client, user, limit, direction)
    pages = await walk(client, user, 100)
    return [p["id"] for page in pages for p in page["items"]]


async def cached(app, user_id) -> list[int] | None:
    """The post ids in the user's cached timeline (newest first), None when cold."""
    r = app[REDIS]
    key = r.key("tl", await r.client.get(r.key("tl", "gen")) or "0", user_id)
    if not await r.client.exists(key):
        return None
    return [int(m) for m in await r.client.zrevrangebyscore(key, "+inf", "(0")]


async def sql_only(aiohttp_client, make_config, **extra):
    return await aiohttp_client(create_app(make_config(timeline={"enabled": False}, **extra)))


def count_builds(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = timeline.build_ids

    async def counting(conn, p, viewer_id):
        calls.append(viewer_id)
        return await original(conn, p, viewer_id)

    monkeypatch.setattr(timeline, "build_ids", counting)
    return calls


async def test_cached_feed_equals_sql_through_posts_deletes_and_follows(client, make_user, aiohttp_client,
                                                                         make_config, monkeypatch):
    sql = await sql_only(aiohttp_client, make_config)
    me, alice, bob, carol = [await make_user() for _ in range(4)]
    for friend in (alice, bob):
        await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    posts = {u.id: [] for u in (me, alice, bob, carol)}
    for i in range(12):
        author = (me, alice, bob, carol)[i % 4]
        posts[author.id].append((await new_post(client, author, f"post {i}"))["id"])

    home = await same_as_sql(client, sql, me)
    assert home == sorted(posts[me.id] + posts[alice.id] + posts[bob.id], reverse=True)
    assert await cached(client.app, me.id) == home  # served from the cache, not SQL

    # New posts by a followed user and by oneself reach the warm timeline by fan-out, no rebuild.
    builds = count_builds(monkeypatch)
    fresh = [(await new_post(client, alice, "fresh"))["id"], (await new_post(client, me, "mine"))["id"],
             (await new_post(client, carol, "not followed"))["id"]]
    assert (await cached(client.app, me.id))[:2] == fresh[1::-1]
    home = await same_as_sql(client, sql, me)
    assert home[:2] == fresh[1::-1] and fresh[2] not in home
    assert builds == []

    # A deleted post leaves every timeline it was in.
    victim = posts[bob.id][1]
    assert (await client.delete(f"/api/v1/posts/{victim}", headers=bob.headers)).status == 204
    assert victim not in await cached(client.app, me.id)
    assert victim not in await same_as_sql(client, sql, me)

    # Following drops the timeline; the next read rebuilds it with the new account's posts.
    await client.put(f"/api/v1/users/{carol.id}/follow", headers=me.headers)
    assert await cached(client.app, me.id) is None
    home = await same_as_sql(client, sql, me)
    assert set(posts[carol.id]) < set(home) and fresh[2] in home
    # ... and unfollowing takes them out again.
    await client.delete(f"/api/v1/users/{alice.id}/follow", headers=me.headers)
    home = await same_as_sql(client, sql, me)
    assert not set(posts[alice.id]) & set(home) and fresh[0] not in home
    assert await cached(client.app, me.id) == home


async def test_user_following_nobody(client, make_user, aiohttp_client, make_config):
    sql = await sql_only(aiohttp_client, make_config)
    loner, other = await make_user(), await make_user()
    assert await same_as_sql(client, sql, loner) == []
    assert await cached(client.app, loner.id) == []  # an empty timeline is cached too
    mine = [(await new_post(client, loner, f"p{i}"))["id"] for i in range(3)]
    await new_post(client, other, "someone else")
    assert await same_as_sql(client, sql, loner) == mine[::-1]


async def test_more_posts_than_the_cache_holds(make_user, aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(timeline={"size": 10})))
    sql = await sql_only(aiohttp_client, make_config)
    me, friend = await make_user(), await make_user()
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    ids = [(await new_post(client, friend if i % 3 else me, f"p{i}"))["id"] for i in range(25)]

    # Pages beyond the newest 10 come from SQL; the walks are still the SQL answer exactly.
    assert await same_as_sql(client, sql, me, limits=(1, 4, 7, 30)) == ids[::-1]
    assert await cached(client.app, me.id) == ids[:-11:-1]
    # Fan-out keeps the newest 10 and moves the floor up; deleting leaves a gap above the floor.
    more = [(await new_post(client, friend, f"more {i}"))["id"] for i in range(4)]
    assert (await client.delete(f"/api/v1/posts/{more[1]}", headers=friend.headers)).status == 204
    assert (await client.delete(f"/api/v1/posts/{ids[-4]}", headers=me.headers)).status == 204
    expected = [i for i in ids + more if i not in (more[1], ids[-4])][::-1]
    assert await cached(client.app, me.id) == [i for i in expected if i > ids[-7]]
    assert await same_as_sql(client, sql, me, limits=(1, 4, 9)) == expected


async def test_concurrent_first_reads_build_once(client, make_user, aiohttp_client, make_config, monkeypatch):
    sql = await sql_only(aiohttp_client, make_config)
    me, friend = await make_user(), await make_user()
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    for i in range(30):
        await new_post(client, friend if i % 2 else me, f"p{i}")
    builds = count_builds(monkeypatch)

    async def first_page():
        resp = await client.get("/api/v1/feed", headers=me.headers)
        assert resp.status == 200
        return await resp.json()

    pages = await asyncio.gather(*(first_page() for _ in range(64)))
    assert builds == [me.id]
    expected = (await walk(sql, me, 20))[0]
    assert all(page == expected for page in pages)


async def test_writes_during_a_build_are_not_lost(client, make_user, aiohttp_client, make_config, monkeypatch):
    """A post created, a post deleted and a follow made while the timeline is built from SQL."""
    sql = await sql_only(aiohttp_client, make_config)
    me, friend, carol = await make_user(), await make_user(), await make_user()
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    victim = (await new_post(client, friend, "soon gone"))["id"]
    await new_post(client, carol, "carol's")
    original, calls, race = timeline.build_ids, [], {}

    async def racing(conn, p, viewer_id):
        rows = await original(conn, p, viewer_id)  # the snapshot the build is made of
        calls.append(len(rows))
        if race:
            await race.pop("write")()
        return rows

    async def post_and_delete():
        await create_post(client.app, friend.id, "posted during the build")
        await delete_post(client.app, friend.id, victim)

    monkeypatch.setattr(timeline, "build_ids", racing)
    race["write"] = post_and_delete
    home = await same_as_sql(client, sql, me)  # the build's snapshot is stale: fan-out and tombstone fix it
    assert calls == [1] and victim not in home and len(home) == 1
    assert await cached(client.app, me.id) == home

    await timeline.of(client.app).invalidate(me.id)
    race["write"] = lambda: follow(client.app, me.id, carol.id)  # drops the timeline being built
    home = await same_as_sql(client, sql, me)
    assert calls == [1, 1, 2]  # the build that lost its lock wrote nothing; the next one has carol's post
    assert len(home) == 2 and await cached(client.app, me.id) == home


async def test_redis_outage_falls_back_to_sql_and_forgets_stale_timelines(make_user, aiohttp_client, make_config,
                                                                          private_redis):
    client = await aiohttp_client(create_app(make_config(redis={"url": f"redis://127.0.0.1:{private_redis.port}/0"})))
    sql = await sql_only(aiohttp_client, make_config)
    me, friend = await make_user(), await make_user()
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    before = [(await new_post(client, friend, f"p{i}"))["id"] for i in range(3)]
    assert await same_as_sql(client, sql, me) == before[::-1]
    r = client.app[REDIS].client
    await r.save()  # the snapshot the restarted Redis loads: timelines without the outage's posts

    await asyncio.to_thread(private_redis.stop)
    during = [(await new_post(client, friend, f"during {i}"))["id"] for i in range(2)]  # fan-out fails
    assert await same_as_sql(client, sql, me) == (before + during)[::-1]  # SQL answers, never an error

    await asyncio.to_thread(private_redis.restart)
    async with asyncio.timeout(5):
        await client.app[REDIS].breaker.wait_closed()  # its probe finds Redis back
    assert await r.zcard(r_key := client.app[REDIS].key("tl", "0", me.id)) > 0, r_key  # stale one is back
    assert await same_as_sql(client, sql, me) == (before + during)[::-1]
    assert await cached(client.app, me.id) == (before + during)[::-1]  # rebuilt under a new generation
    after = (await new_post(client, friend, "after"))["id"]
    assert await same_as_sql(client, sql, me) == [after, *(before + during)[::-1]]
