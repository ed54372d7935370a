"""Follows: idempotent follow/unfollow with exact counters, lists with relation flags, notifications."""

from __future__ import annotations

import asyncio

from server.follows import follow, relation, unfollow
from server.keys import DB
from tests.helpers import problem_of
from tests.test_posts import scalar, user_row


async def follow_notifications(client, user, actor=None) -> int:
    if actor is None:
        return await scalar(client, "SELECT COUNT(*) FROM notifications WHERE user_id = %s AND type = 'follow'",
                            user.id)
    return await scalar(client, "SELECT COUNT(*) FROM notifications WHERE user_id = %s AND type = 'follow'"
                        " AND actor_id = %s", user.id, actor.id)


async def test_follow_and_unfollow(client, make_user):
    alice, bob = await make_user(), await make_user()
    url = f"/api/v1/users/{bob.id}/follow"
    for _ in range(2):  # idempotent
        resp = await client.put(url, headers=alice.headers)
        assert resp.status == 200
        assert await resp.json() == {"following": True, "followers_count": 1}
    assert (await user_row(client, bob))["followers_count"] == 1
    assert (await user_row(client, alice))["following_count"] == 1
    assert await follow_notifications(client, bob, alice) == 1

    for _ in range(2):
        resp = await client.delete(url, headers=alice.headers)
        assert resp.status == 200
        assert await resp.json() == {"following": False, "followers_count": 0}
    assert (await user_row(client, bob))["followers_count"] == 0
    assert (await user_row(client, alice))["following_count"] == 0
    assert await follow_notifications(client, bob) == 0


async def test_follow_errors(client, make_user):
    alice = await make_user()
    problem = await problem_of(await client.put(f"/api/v1/users/{alice.id}/follow", headers=alice.headers), 422)
    assert problem["errors"]
    await problem_of(await client.put("/api/v1/users/999999/follow", headers=alice.headers), 404)
    await problem_of(await client.delete("/api/v1/users/999999/follow", headers=alice.headers), 404)
    await problem_of(await client.put(f"/api/v1/users/{alice.id}/follow"), 401)
    await problem_of(await client.delete(f"/api/v1/users/{alice.id}/follow"), 401)
    await problem_of(await client.get("/api/v1/users/999999/followers"), 404)
    await problem_of(await client.get("/api/v1/users/999999/following"), 404)
    assert await scalar(client, "SELECT COUNT(*) FROM follows") == 0


async def test_lists_with_relation_flags(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    await client.put(f"/api/v1/users/{bob.id}/follow", headers=alice.headers)
    await client.put(f"/api/v1/users/{carol.id}/follow", headers=alice.headers)
    await client.put(f"/api/v1/users/{alice.id}/follow", headers=bob.headers)

    page = await (await client.get(f"/api/v1/users/{alice.id}/following", headers=bob.headers)).json()
    assert [u["id"] for u in page["items"]] == [carol.id, bob.id] and page["next_cursor"] is None
    carol_seen, bob_seen = page["items"]
    assert carol_seen["following"] is False and carol_seen["followed_by"] is False
    assert bob_seen["following"] is False and bob_seen["followed_by"] is False  # bob looking at himself
    assert bob_seen["followers_count"] == 1 and bob_seen["following_count"] == 1

    page = await (await client.get(f"/api/v1/users/{alice.id}/following", headers=alice.headers)).json()
    flags = {u["id"]: (u["following"], u["followed_by"]) for u in page["items"]}
    assert flags == {bob.id: (True, True), carol.id: (True, False)}

    page = await (await client.get(f"/api/v1/users/{alice.id}/followers")).json()
    assert [u["id"] for u in page["items"]] == [bob.id]
    assert "following" not in page["items"][0] and "email" not in page["items"][0]

    rel = await relation(client.app[DB], alice.id, [bob.id, carol.id, alice.id])
    assert rel == {bob.id: {"following": True, "followed_by": True},
                   carol.id: {"following": True, "followed_by": False},
                   alice.id: {"following": False, "followed_by": False}}
    assert await relation(client.app[DB], None, [bob.id]) == {}


async def test_follower_pages(client, make_user):
    star = await make_user()
    fans = [await make_user() for _ in range(25)]
    for fan in fans:
        await client.put(f"/api/v1/users/{star.id}/follow", headers=fan.headers)
    seen, cursor, cursors = [], None, []
    while True:
        params = {"limit": 10, **({"before": cursor} if cursor else {})}
        page = await (await client.get(f"/api/v1/users/{star.id}/followers", params=params)).json()
        assert len(page["items"]) <= 10
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    assert seen == [f.id for f in reversed(fans)] and len(cursors) == 2
    # 'after' the first page's cursor: only the newer follows, oldest first.
    newer = await (await client.get(f"/api/v1/users/{star.id}/followers",
                                    params={"after": cursors[0], "limit": 100})).json()
    assert [u["id"] for u in newer["items"]] == [f.id for f in fans[16:]]
    assert newer["next_cursor"] is None


async def test_reads_notification_survives_unfollow(client, make_user):
    alice, bob = await make_user(), await make_user()
    await follow(client.app, alice.id, bob.id)
    await client.app[DB].execute("UPDATE notifications SET is_read = TRUE")
    assert await unfollow(client.app, alice.id, bob.id) == {"following": False, "followers_count": 0}
    assert await follow_notifications(client, bob) == 1


async def test_follow_storms_end_exact(client, make_user):
    star = await make_user()
    fans = await asyncio.gather(*(make_user() for _ in range(30)))
    fickle = fans[0]
    calls = [client.put(f"/api/v1/users/{star.id}/follow", headers=f.headers) for f in fans]
    # One user following and unfollowing over and over while everyone else follows.
    calls += [(client.put if i % 2 else client.delete)(f"/api/v1/users/{star.id}/follow", headers=fickle.headers)
              for i in range(20)]
    # Mutual follows at the same time (opposite lock orders if done naively).
    calls += [client.put(f"/api/v1/users/{f.id}/follow", headers=star.headers) for f in fans[1:11]]
    resps = await asyncio.gather(*calls)
    assert all(r.status == 200 for r in resps), [r.status for r in resps]
    rows = await scalar(client, "SELECT COUNT(*) FROM follows WHERE followee_id = %s", star.id)
    assert rows in (29, 30)
    star_row = await user_row(client, star)
    assert star_row["followers_count"] == rows
    assert star_row["following_count"] == 10
    bad = await client.app[DB].fetchall(
        "SELECT u.id FROM users u WHERE u.followers_count <> (SELECT COUNT(*) FROM follows f WHERE"
        " f.followee_id = u.id) OR u.following_count <> (SELECT COUNT(*) FROM follows f WHERE"
        " f.follower_id = u.id)")
    assert bad == []
    assert await follow_notifications(client, star) == rows
