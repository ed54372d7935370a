"""Likes on posts and comments: idempotent, exact under any concurrency, with notifications."""

from __future__ import annotations

import asyncio

from server.keys import DB
from tests.helpers import problem_of
from tests.test_posts import new_post, scalar


async def notifications(client, **where) -> int:
    cond = " AND ".join(f"{k} = %s" for k in where)
    sql = f"SELECT COUNT(*) FROM notifications WHERE {cond}"  # noqa: S608 - column names from the tests
    return await scalar(client, sql, *where.values())


async def test_like_and_unlike_a_post(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    url = f"/api/v1/posts/{post['id']}/like"
    for _ in range(2):  # idempotent
        resp = await client.put(url, headers=bob.headers)
        assert resp.status == 200
        assert await resp.json() == {"liked": True, "likes_count": 1}
    assert await notifications(client, user_id=alice.id, type="like", actor_id=bob.id, post_id=post["id"]) == 1

    seen_by_bob = await (await client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)).json()
    assert seen_by_bob["liked"] is True and seen_by_bob["likes_count"] == 1
    seen_by_alice = await (await client.get(f"/api/v1/posts/{post['id']}", headers=alice.headers)).json()
    assert seen_by_alice["liked"] is False
    assert (await (await client.get(f"/api/v1/posts/{post['id']}")).json())["liked"] is False

    resp = await client.get(f"/api/v1/posts/{post['id']}/likes")
    page = await resp.json()
    assert [u["id"] for u in page["items"]] == [bob.id] and page["next_cursor"] is None
    assert set(page["items"][0]) == {"id", "username", "full_name", "profile_pic"}

    for _ in range(2):
        resp = await client.delete(url, headers=bob.headers)
        assert await resp.json() == {"liked": False, "likes_count": 0}
    assert await notifications(client, user_id=alice.id, type="like") == 0


async def test_undo_keeps_a_read_notification(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    await client.put(f"/api/v1/posts/{post['id']}/like", headers=bob.headers)
    await client.app[DB].execute(
        "UPDATE notifications SET is_read = TRUE WHERE user_id = %s", (alice.id,))
    await client.delete(f"/api/v1/posts/{post['id']}/like", headers=bob.headers)
    assert await notifications(client, user_id=alice.id, type="like") == 1


async def test_liking_ones_own_post_notifies_nobody(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    resp = await client.put(f"/api/v1/posts/{post['id']}/like", headers=alice.headers)
    assert await resp.json() == {"liked": True, "likes_count": 1}
    assert await scalar(client, "SELECT COUNT(*) FROM notifications") == 0


async def test_like_errors(client, make_user):
    alice = await make_user()
    await problem_of(await client.put("/api/v1/posts/424242/like", headers=alice.headers), 404)
    await problem_of(await client.delete("/api/v1/posts/424242/like", headers=alice.headers), 404)
    await problem_of(await client.get("/api/v1/posts/424242/likes"), 404)
    post = await new_post(client, alice)
    await problem_of(await client.put(f"/api/v1/posts/{post['id']}/like"), 401)
    await problem_of(await client.put("/api/v1/comments/424242/like", headers=alice.headers), 404)
    await problem_of(await client.delete("/api/v1/comments/424242/like", headers=alice.headers), 404)


async def test_likers_list_pages(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    fans = [await make_user() for _ in range(25)]
    for fan in fans:
        await client.put(f"/api/v1/posts/{post['id']}/like", headers=fan.headers)
    seen, cursor = [], None
    while True:
        resp = await client.get(f"/api/v1/posts/{post['id']}/likes",
                                params={"limit": 10, **({"before": cursor} if cursor else {})})
        page = await resp.json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f.id for f in reversed(fans)]


async def test_fifty_users_like_one_post_at_once(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    fans = await asyncio.gather(*(make_user() for _ in range(50)))
    resps = await asyncio.gather(*(client.put(f"/api/v1/posts/{post['id']}/like", headers=f.headers)
                                   for f in fans))
    assert [r.status for r in resps] == [200] * 50
    counts = sorted([(await r.json())["likes_count"] for r in resps])
    assert counts == list(range(1, 51))  # each like saw the count it made
    assert await scalar(client, "SELECT likes_count FROM posts WHERE id = %s", post["id"]) == 50
    assert await scalar(client, "SELECT COUNT(*) FROM post_likes WHERE post_id = %s", post["id"]) == 50
    assert await notifications(client, user_id=alice.id, type="like") == 50


async def test_one_user_likes_twenty_times_at_once(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    resps = await asyncio.gather(*(client.put(f"/api/v1/posts/{post['id']}/like", headers=bob.headers)
                                   for _ in range(20)))
    assert {body["likes_count"] for body in [await r.json() for r in resps]} == {1}
    assert await scalar(client, "SELECT likes_count FROM posts WHERE id = %s", post["id"]) == 1
    assert await scalar(client, "SELECT COUNT(*) FROM post_likes") == 1
    assert await notifications(client, user_id=alice.id, type="like") == 1


async def test_like_unlike_storm_ends_exact(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    users = await asyncio.gather(*(make_user() for _ in range(10)))
    calls = []
    for i in range(60):
        u = users[i % 10]
        method = client.put if (i // 10) % 2 == 0 or i % 3 == 0 else client.delete
        calls.append(method(f"/api/v1/posts/{post['id']}/like", headers=u.headers))
    resps = await asyncio.gather(*calls)
    assert all(r.status == 200 for r in resps)
    rows = await scalar(client, "SELECT COUNT(*) FROM post_likes WHERE post_id = %s", post["id"])
    assert await scalar(client, "SELECT likes_count FROM posts WHERE id = %s", post["id"]) == rows
    assert await notifications(client, user_id=alice.id, type="like") <= rows


async def test_comment_likes(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    comment = await (await client.post(f"/api/v1/posts/{post['id']}/comments", json={"content": "hi"},
                                       headers=bob.headers)).json()
    url = f"/api/v1/comments/{comment['id']}/like"
    resps = await asyncio.gather(*(client.put(url, headers=alice.headers) for _ in range(10)))
    assert {body["likes_count"] for body in [await r.json() for r in resps]} == {1}
    assert await notifications(client, user_id=bob.id, type="comment_like", comment_id=comment["id"]) == 1
    page = await (await client.get(f"/api/v1/posts/{post['id']}/comments", headers=alice.headers)).json()
    assert page["items"][0]["liked"] is True and page["items"][0]["likes_count"] == 1
    resp = await client.delete(url, headers=alice.headers)
    assert await resp.json() == {"liked": False, "likes_count": 0}
    assert await notifications(client, user_id=bob.id, type="comment_like") == 0
    assert await scalar(client, "SELECT likes_count FROM comments WHERE id = %s", comment["id"]) == 0
