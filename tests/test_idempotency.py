"""Idempotency-Key on creates: replay the first answer, refuse a different body, never two rows."""

from __future__ import annotations

import asyncio

from server.keys import DB
from tests.helpers import problem_of
from tests.test_posts import new_post, scalar, user_row


def keyed(user, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def test_same_key_and_body_replays_the_first_response(client, make_user):
    alice = await make_user()
    first = await client.post("/api/v1/posts", json={"content": "once"}, headers=keyed(alice, "k-1"))
    assert first.status == 201
    body = await first.json()
    again = await client.post("/api/v1/posts", json={"content": "once"}, headers=keyed(alice, "k-1"))
    assert again.status == 201
    assert await again.json() == body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await scalar(client, "SELECT COUNT(*) FROM posts") == 1
    assert (await user_row(client, alice))["posts_count"] == 1
    # Without a key, or with another one, it is a new post.
    await new_post(client, alice, "once")
    resp = await client.post("/api/v1/posts", json={"content": "once"}, headers=keyed(alice, "k-2"))
    assert resp.status == 201 and (await resp.json())["id"] != body["id"]
    assert await scalar(client, "SELECT COUNT(*) FROM posts") == 3


async def test_same_key_different_body_is_422(client, make_user):
    alice = await make_user()
    resp = await client.post("/api/v1/posts", json={"content": "one"}, headers=keyed(alice, "k"))
    assert resp.status == 201
    problem = await problem_of(await client.post("/api/v1/posts", json={"content": "two"},
                                                 headers=keyed(alice, "k")), 422)
    assert "Idempotency-Key" in problem["errors"]
    # The same key on another route is another request too.
    post_id = (await resp.json())["id"]
    await problem_of(await client.post(f"/api/v1/posts/{post_id}/comments", json={"content": "one"},
                                       headers=keyed(alice, "k")), 422)
    assert await scalar(client, "SELECT COUNT(*) FROM posts") == 1
    assert await scalar(client, "SELECT COUNT(*) FROM comments") == 0


async def test_keys_belong_to_their_user(client, make_user):
    alice, bob = await make_user(), await make_user()
    a = await client.post("/api/v1/posts", json={"content": "x"}, headers=keyed(alice, "shared"))
    b = await client.post("/api/v1/posts", json={"content": "x"}, headers=keyed(bob, "shared"))
    assert a.status == b.status == 201
    assert (await b.json())["author"]["id"] == bob.id


async def test_concurrent_duplicates_create_one_row(client, make_user):
    alice = await make_user()
    resps = await asyncio.gather(*(client.post("/api/v1/posts", json={"content": "race"},
                                               headers=keyed(alice, "race-key")) for _ in range(15)))
    statuses = [r.status for r in resps]
    assert set(statuses) <= {201, 409}, statuses
    ids = {(await r.json())["id"] for r in resps if r.status == 201}
    assert len(ids) == 1
    assert await scalar(client, "SELECT COUNT(*) FROM posts") == 1
    assert (await user_row(client, alice))["posts_count"] == 1


async def test_a_failed_create_releases_the_key(client, make_user):
    alice = await make_user()
    await problem_of(await client.post("/api/v1/posts", json={"content": ""}, headers=keyed(alice, "k")), 422)
    await problem_of(await client.post("/api/v1/posts/999999/comments", json={"content": "x"},
                                       headers=keyed(alice, "c")), 404)
    resp = await client.post("/api/v1/posts", json={"content": "fixed"}, headers=keyed(alice, "k"))
    assert resp.status == 201
    assert await scalar(client, "SELECT COUNT(*) FROM idempotency_keys WHERE state = 'pending'") == 0


async def test_key_expires_after_24_hours(client, make_user):
    alice = await make_user()
    first = await client.post("/api/v1/posts", json={"content": "x"}, headers=keyed(alice, "old"))
    await client.app[DB].execute("UPDATE idempotency_keys SET created_at = created_at - INTERVAL 25 HOUR")
    second = await client.post("/api/v1/posts", json={"content": "x"}, headers=keyed(alice, "old"))
    assert second.status == 201 and "Idempotent-Replayed" not in second.headers
    assert (await second.json())["id"] != (await first.json())["id"]
    assert await scalar(client, "SELECT COUNT(*) FROM idempotency_keys") == 1


async def test_comment_creation_is_idempotent(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    url = f"/api/v1/posts/{post['id']}/comments"
    resps = await asyncio.gather(*(client.post(url, json={"content": "hi"}, headers=keyed(bob, "c-1"))
                                   for _ in range(5)))
    assert {r.status for r in resps} <= {201, 409}
    replay = await client.post(url, json={"content": "hi"}, headers=keyed(bob, "c-1"))
    assert replay.status == 201
    assert await scalar(client, "SELECT COUNT(*) FROM comments") == 1
    assert await scalar(client, "SELECT comments_count FROM posts WHERE id = %s", post["id"]) == 1
    assert await scalar(client, "SELECT COUNT(*) FROM notifications WHERE type = 'comment'") == 1


async def test_bad_key_is_400(client, make_user):
    alice = await make_user()
    for key in ("x" * 256, "tab\there"):
        await problem_of(await client.post("/api/v1/posts", json={"content": "x"}, headers=keyed(alice, key)), 400)
    assert await scalar(client, "SELECT COUNT(*) FROM posts") == 0
