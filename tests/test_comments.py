"""Comments: create with notifications, pages, edit by the author, delete by the author or the post's author."""

from __future__ import annotations

import asyncio

from tests.helpers import problem_of
from tests.test_posts import add_media, new_post, scalar


async def comment_on(client, user, post_id: int, content: str = "nice", **extra) -> dict:
    resp = await client.post(f"/api/v1/posts/{post_id}/comments", json={"content": content, **extra},
                             headers=user.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def comments_count(client, post_id: int) -> int:
    return await scalar(client, "SELECT comments_count FROM posts WHERE id = %s", post_id)


async def test_comment_on_a_post(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    m = await add_media(client, bob)
    comment = await comment_on(client, bob, post["id"], "great shot", media_ids=[m])
    assert set(comment) == {"id", "post_id", "author", "content", "media", "likes_count", "liked",
                            "created_at", "updated_at", "edited", "edited_at", "tags", "mentions"}
    assert comment["post_id"] == post["id"] and comment["author"]["id"] == bob.id
    assert comment["content"] == "great shot" and [x["id"] for x in comment["media"]] == [m]
    assert comment["likes_count"] == 0 and comment["liked"] is False and comment["edited"] is False
    assert await comments_count(client, post["id"]) == 1
    assert await scalar(client, "SELECT COUNT(*) FROM notifications WHERE user_id = %s AND type = 'comment'"
                        " AND comment_id = %s AND actor_id = %s", alice.id, comment["id"], bob.id) == 1
    shown = await (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert shown["comments_count"] == 1

    await comment_on(client, alice, post["id"], "thanks")  # on one's own post: no notification
    assert await scalar(client, "SELECT COUNT(*) FROM notifications WHERE user_id = %s", alice.id) == 1


async def test_comment_errors(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    url = f"/api/v1/posts/{post['id']}/comments"
    await problem_of(await client.post(url, json={"content": "x"}), 401)
    await problem_of(await client.post("/api/v1/posts/777777/comments", json={"content": "x"},
                                       headers=bob.headers), 404)
    await problem_of(await client.get("/api/v1/posts/777777/comments"), 404)
    alices = await add_media(client, alice)
    for body in ({"content": ""}, {"content": "x" * 2001}, {"content": "x", "extra": 1},
                 {"content": "x", "media_ids": [alices]}):
        await problem_of(await client.post(url, json=body, headers=bob.headers), 422)
    assert await comments_count(client, post["id"]) == 0
    assert await scalar(client, "SELECT COUNT(*) FROM comments") == 0


async def test_comment_pages(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    ids = [(await comment_on(client, alice, post["id"], f"c{i}"))["id"] for i in range(25)]
    seen, cursor = [], None
    while True:
        params = {"limit": 10, **({"before": cursor} if cursor else {})}
        page = await (await client.get(f"/api/v1/posts/{post['id']}/comments", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    page = await (await client.get(f"/api/v1/posts/{post['id']}/comments",
                                   params={"after": ids[19], "limit": 10})).json()
    assert [c["id"] for c in page["items"]] == ids[20:] and page["next_cursor"] is None


async def test_author_edits_comment_others_cannot(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    comment = await comment_on(client, bob, post["id"], "typo")
    url = f"/api/v1/comments/{comment['id']}"
    # Not even the post's author may edit someone else's comment.
    await problem_of(await client.patch(url, json={"content": "hacked"}, headers=alice.headers), 403)
    page = await (await client.get(f"/api/v1/posts/{post['id']}/comments")).json()
    assert page["items"][0] == comment
    await asyncio.sleep(0.01)
    resp = await client.patch(url, json={"content": "fixed"}, headers=bob.headers)
    assert resp.status == 200
    edited = await resp.json()
    assert edited["content"] == "fixed" and edited["edited"] is True
    assert edited["updated_at"] > comment["updated_at"]
    await problem_of(await client.patch(url, json={}, headers=bob.headers), 422)
    await problem_of(await client.patch("/api/v1/comments/999999", json={"content": "x"},
                                        headers=bob.headers), 404)


async def test_delete_by_comment_author_or_post_author(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    post = await new_post(client, alice)
    c1 = await comment_on(client, bob, post["id"])
    c2 = await comment_on(client, bob, post["id"])
    await client.put(f"/api/v1/comments/{c1['id']}/like", headers=carol.headers)
    assert await comments_count(client, post["id"]) == 2

    await problem_of(await client.delete(f"/api/v1/comments/{c1['id']}", headers=carol.headers), 403)
    assert await comments_count(client, post["id"]) == 2
    assert await scalar(client, "SELECT COUNT(*) FROM comments WHERE id = %s", c1["id"]) == 1

    assert (await client.delete(f"/api/v1/comments/{c1['id']}", headers=bob.headers)).status == 204
    assert (await client.delete(f"/api/v1/comments/{c2['id']}", headers=alice.headers)).status == 204
    assert await comments_count(client, post["id"]) == 0
    assert await scalar(client, "SELECT COUNT(*) FROM comment_likes") == 0
    assert await scalar(client, "SELECT COUNT(*) FROM notifications WHERE comment_id IS NOT NULL") == 0
    await problem_of(await client.delete(f"/api/v1/comments/{c1['id']}", headers=bob.headers), 404)


async def test_comments_count_exact_under_concurrency(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    users = await asyncio.gather(*(make_user() for _ in range(10)))
    created = await asyncio.gather(*(comment_on(client, u, post["id"]) for u in users for _ in range(3)))
    deletes = await asyncio.gather(*(client.delete(f"/api/v1/comments/{c['id']}", headers=alice.headers)
                                     for c in created[:12] + created[:6]))
    assert sorted(r.status for r in deletes) == [204] * 12 + [404] * 6
    rows = await scalar(client, "SELECT COUNT(*) FROM comments WHERE post_id = %s", post["id"])
    assert rows == 18 == await comments_count(client, post["id"])
