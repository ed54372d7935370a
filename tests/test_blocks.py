"""Blocks: one user blocks another, and from then on neither can follow, message, comment on or like
the other, each is hidden from the other everywhere (both APIs, the WebSocket), and the blocked one
sees the blocker as a 404."""

from __future__ import annotations

import asyncio

from server.app import create_app
from server.keys import DB
from tests.helpers import next_frame, no_frame, problem_of
from tests.test_posts import new_post
from tests.test_timeline import same_as_sql, sql_only
from tests.test_ws import connect


async def block(client, user, target, status: int = 200) -> dict:
    resp = await client.put(f"/api/v1/users/{target.id}/block", headers=user.headers)
    assert resp.status == status, await resp.text()
    return await resp.json(content_type=None)


async def follow(client, user, target):
    return await client.put(f"/api/v1/users/{target.id}/follow", headers=user.headers)


async def get(client, path, user=None, **params):
    resp = await client.get(path, headers=user.headers if user else None, params=params or None)
    return resp


async def ids_of(client, path, user=None, **params) -> list[int]:
    resp = await get(client, path, user, **params)
    assert resp.status == 200, await resp.text()
    return [item["id"] for item in (await resp.json())["items"]]


async def counts(client, user) -> tuple[int, int]:
    row = await client.app[DB].fetchone("SELECT followers_count, following_count FROM users WHERE id = %s",
                                        (user.id,))
    return row["followers_count"], row["following_count"]


async def message(client, sender, recipient, content="hi"):
    return await client.post("/api/v1/messages", headers=sender.headers,
                             json={"recipient_id": recipient.id, "content": content})


# --- the block itself ------------------------------------------------------------------------------

async def test_block_undoes_follows_both_ways_and_refuses_new_ones(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    for a, b in ((alice, bob), (bob, alice), (carol, bob)):
        assert (await follow(client, a, b)).status == 200
    assert await counts(client, bob) == (2, 1)

    assert await block(client, alice, bob) == {"blocking": True}
    assert await block(client, alice, bob) == {"blocking": True}  # idempotent
    assert await counts(client, alice) == (0, 0)
    assert await counts(client, bob) == (1, 0)  # carol still follows bob
    assert await client.app[DB].fetchval(
        "SELECT COUNT(*) FROM follows WHERE %s IN (follower_id, followee_id) AND %s IN (follower_id, followee_id)",
        (alice.id, bob.id)) == 0

    await problem_of(await follow(client, bob, alice), 403)
    await problem_of(await follow(client, alice, bob), 403)
    assert await counts(client, alice) == (0, 0)

    # The blocked user's follow notification went from the blocker's list; the blocker's follow
    # notification (unread) was retracted as an unfollow would.
    notes = await (await get(client, "/api/v1/notifications", alice)).json()
    assert all(n["actor"]["id"] != bob.id for n in notes["items"])
    notes = await (await get(client, "/api/v1/notifications", bob)).json()
    assert all(n["actor"]["id"] != alice.id for n in notes["items"])

    assert await (await client.delete(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).json() == {
        "blocking": False}
    assert (await client.delete(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 200
    assert (await follow(client, bob, alice)).status == 200  # unblocked: allowed again, nothing restored
    assert await counts(client, alice) == (1, 0)


async def test_block_errors(client, make_user):
    alice = await make_user()
    await problem_of(await client.put(f"/api/v1/users/{alice.id}/block", headers=alice.headers), 422)
    await problem_of(await client.put("/api/v1/users/999999/block", headers=alice.headers), 404)
    await problem_of(await client.delete("/api/v1/users/999999/block", headers=alice.headers), 404)
    await problem_of(await client.put(f"/api/v1/users/{alice.id}/block"), 401)
    await problem_of(await client.get("/api/v1/blocks"), 401)


async def test_blocks_list_is_keyset_paginated(client, make_user):
    me = await make_user()
    others = [await make_user() for _ in range(5)]
    for other in others:
        await block(client, me, other)
    await block(client, others[0], me)  # blocked back: still listed (with the flags as I see them)
    seen, cursor = [], None
    while True:
        page = await (await get(client, "/api/v1/blocks", me, limit=2, **({"before": cursor} if cursor else {}))).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [b["user"]["id"] for b in seen] == [o.id for o in reversed(others)]
    assert all(b["user"]["blocking"] is True and b["created_at"].endswith("Z") for b in seen)
    assert await ids_of(client, "/api/v1/blocks", others[1]) == []


# --- hidden from each other ------------------------------------------------------------------------

async def test_blocked_user_sees_the_blocker_as_404(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice, "alice's")
    await block(client, alice, bob)
    for path in (f"/api/v1/users/{alice.id}", f"/api/v1/posts/{post['id']}",
                 f"/api/v1/users/{alice.id}/posts", f"/api/v1/users/{alice.id}/followers",
                 f"/api/v1/users/{alice.id}/following", f"/api/v1/posts/{post['id']}/comments",
                 f"/api/v1/posts/{post['id']}/likes"):
        await problem_of(await get(client, path, bob), 404)
        assert (await get(client, path)).status == 200, path  # anonymous: as before
    await problem_of(await get(client, "/api/v1/users/lookup", bob, username=alice.username), 404)
    # The blocker still sees the blocked user's profile, flagged.
    seen = await (await get(client, f"/api/v1/users/{bob.id}", alice)).json()
    assert seen["blocking"] is True and seen["following"] is False


async def test_each_side_is_absent_from_the_others_lists(client, make_user):
    alice, bob, carol = await make_user("alice_b"), await make_user("alice_c"), await make_user("alice_d")
    for u in (alice, bob):
        await follow(client, u, carol)
        await follow(client, carol, u)
    carol_post = await new_post(client, carol, "carol's")
    for u in (alice, bob):
        await client.put(f"/api/v1/posts/{carol_post['id']}/like", headers=u.headers)
        resp = await client.post(f"/api/v1/posts/{carol_post['id']}/comments", headers=u.headers,
                                 json={"content": f"by {u.username}"})
        assert resp.status == 201
    bob_post = await new_post(client, bob, "bob's")
    alice_post = await new_post(client, alice, "alice's")

    await block(client, bob, alice)  # bob blocks alice; both must vanish for each other
    for viewer, other, other_post in ((alice, bob, bob_post), (bob, alice, alice_post)):
        assert other_post["id"] not in await ids_of(client, "/api/v1/posts", viewer)
        assert other_post["id"] not in await ids_of(client, "/api/v1/feed", viewer)
        comments = (await (await get(client, f"/api/v1/posts/{carol_post['id']}/comments", viewer)).json())["items"]
        assert [c["author"]["id"] for c in comments] == [viewer.id]
        assert await ids_of(client, f"/api/v1/posts/{carol_post['id']}/likes", viewer) == [viewer.id]
        assert await ids_of(client, f"/api/v1/users/{carol.id}/followers", viewer) == [viewer.id]
        assert await ids_of(client, f"/api/v1/users/{carol.id}/following", viewer) == [viewer.id]
        assert await ids_of(client, "/api/v1/users", viewer, q="alice_") == sorted(
            {alice.id, bob.id, carol.id} - {other.id}, reverse=True)
    # Everyone else still sees both; the counters count every row.
    assert len(await ids_of(client, f"/api/v1/posts/{carol_post['id']}/likes", carol)) == 2
    post = await (await get(client, f"/api/v1/posts/{carol_post['id']}", alice)).json()
    assert post["likes_count"] == 2 and post["comments_count"] == 2


async def test_filtered_pages_stay_full(client, make_user):
    """The filter is inside the page query: a page is never short because of it."""
    me, noisy, quiet = await make_user(), await make_user(), await make_user()
    kept = []
    for i in range(12):
        await new_post(client, noisy, f"noise {i}")
        kept.append((await new_post(client, quiet, f"keep {i}"))["id"])
    await block(client, me, noisy)
    pages, cursor = [], None
    while True:
        resp = await get(client, "/api/v1/posts", me, limit=5, **({"before": cursor} if cursor else {}))
        page = await resp.json()
        pages.append([p["id"] for p in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [5, 5, 2]
    assert sum(pages, []) == list(reversed(kept))


async def test_home_timeline_cache_equals_sql_after_a_block(client, make_user, aiohttp_client, make_config):
    sql = await sql_only(aiohttp_client, make_config)
    me, friend, other = await make_user(), await make_user(), await make_user()
    await follow(client, me, friend)
    await follow(client, me, other)
    for i in range(4):
        await new_post(client, friend, f"f{i}")
        await new_post(client, other, f"o{i}")
    before = await same_as_sql(client, sql, me)
    assert len(before) == 8
    await block(client, other, me)
    after = await same_as_sql(client, sql, me)
    assert len(after) == 4 and set(after) < set(before)


# --- no acting on each other ----------------------------------------------------------------------

async def test_no_comment_like_or_message_between_them(client, make_user):
    alice, bob = await make_user(), await make_user()
    alice_post, bob_post = await new_post(client, alice), await new_post(client, bob)
    resp = await client.post(f"/api/v1/posts/{alice_post['id']}/comments", headers=alice.headers,
                             json={"content": "mine"})
    alice_comment = await resp.json()
    assert (await message(client, bob, alice, "before")).status == 201
    await block(client, alice, bob)

    for actor, post in ((bob, alice_post), (alice, bob_post)):
        await problem_of(await client.put(f"/api/v1/posts/{post['id']}/like", headers=actor.headers), 403)
        await problem_of(await client.post(f"/api/v1/posts/{post['id']}/comments", headers=actor.headers,
                                           json={"content": "no"}), 403)
    await problem_of(await client.put(f"/api/v1/comments/{alice_comment['id']}/like", headers=bob.headers), 403)

    stored = await client.app[DB].fetchval("SELECT COUNT(*) FROM messages")
    body = await problem_of(await message(client, bob, alice), 403)
    assert body["type"] == "urn:chatter:problem:dm-not-allowed"  # the blocked sender learns no more
    body = await problem_of(await message(client, alice, bob), 403)
    assert body["type"] == "urn:chatter:problem:forbidden" and "unblock" in body["detail"]
    assert await client.app[DB].fetchval("SELECT COUNT(*) FROM messages") == stored

    # The conversation stays in both histories, read-only.
    for user, peer in ((alice, bob), (bob, alice)):
        history = await ids_of(client, f"/api/v1/conversations/{peer.id}/messages", user)
        assert len(history) == 1
    mid = history[0]
    await problem_of(await client.post(f"/api/v1/messages/{mid}/responses", headers=alice.headers,
                                       json={"content": "re"}), 403)
    await problem_of(await client.patch(f"/api/v1/messages/{mid}", headers=bob.headers,
                                        json={"content": "edited"}), 403)
    assert await client.app[DB].fetchval("SELECT COUNT(*) FROM notifications WHERE user_id = %s", (alice.id,)) == 0


async def test_block_racing_follows_leaves_counts_exact(client, make_user):
    for _ in range(5):
        alice, bob = await make_user(), await make_user()
        await asyncio.gather(follow(client, bob, alice), block(client, alice, bob), follow(client, alice, bob),
                             follow(client, bob, alice))
        rows = await client.app[DB].fetchval(
            "SELECT COUNT(*) FROM follows WHERE follower_id IN (%s, %s)", (alice.id, bob.id))
        assert rows == 0
        assert await counts(client, alice) == (0, 0) and await counts(client, bob) == (0, 0)


# --- real time ------------------------------------------------------------------------------------

async def test_block_on_open_sockets_stops_typing_presence_and_messages(aiohttp_client, make_config, make_user):
    # No typing throttle: a typing frame after the block is refused for the block, not the throttle.
    client = await aiohttp_client(create_app(make_config(ws={"typing_interval": 0})))
    alice, bob = await make_user(), await make_user()
    assert (await message(client, alice, bob, "we are peers")).status == 201
    alice_ws, _ = await connect(client, alice)
    bob_ws, _ = await connect(client, bob)
    assert (await next_frame(alice_ws, "presence"))["data"] == {"user_id": bob.id, "online": True}
    assert (await next_frame(bob_ws, "presence"))["data"] == {"user_id": alice.id, "online": True}

    await bob_ws.send_json({"type": "typing", "data": {"to": alice.id}})
    assert (await next_frame(alice_ws, "typing"))["data"] == {"user_id": bob.id}

    await block(client, alice, bob)
    # Each side is told the other is gone; typing stops at once (no cached peer lets it through).
    assert (await next_frame(alice_ws, "presence"))["data"] == {"user_id": bob.id, "online": False}
    assert (await next_frame(bob_ws, "presence"))["data"] == {"user_id": alice.id, "online": False}
    for ws, to in ((bob_ws, alice), (alice_ws, bob)):
        await ws.send_json({"type": "typing", "data": {"to": to.id}})
    await no_frame(alice_ws, "typing")
    await no_frame(bob_ws, "typing")
    await no_frame(bob_ws, "error")  # dropped without a word

    await bob_ws.send_json({"type": "message.send", "data": {"to": alice.id, "content": "hey", "client_id": "b1"}})
    error = await next_frame(bob_ws, "error")
    assert error["data"]["code"] == "dm-not-allowed" and error["data"]["client_id"] == "b1"
    await no_frame(alice_ws, "message.created")

    # Reconnecting: no presence between them either way.
    await bob_ws.close()
    await no_frame(alice_ws, "presence")
    bob_ws, _ = await connect(client, bob)
    await no_frame(alice_ws, "presence")
    await no_frame(bob_ws, "presence")
    for ws in (alice_ws, bob_ws):
        await ws.close()


# --- the Conduit API ------------------------------------------------------------------------------

async def test_conduit_api_keeps_the_block(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()

    def conduit(user):
        return {"Authorization": f"Token {user.access_token}"}

    resp = await client.post("/api/articles", headers=conduit(alice), json={"article": {
        "title": "Alice writes", "description": "d", "body": "b"}})
    slug = (await resp.json())["article"]["slug"]
    resp = await client.post("/api/articles", headers=conduit(carol), json={"article": {
        "title": "Carol writes", "description": "d", "body": "b"}})
    carol_slug = (await resp.json())["article"]["slug"]
    resp = await client.post(f"/api/articles/{carol_slug}/comments", headers=conduit(alice),
                             json={"comment": {"body": "alice was here"}})
    assert resp.status == 201
    await block(client, alice, bob)

    for path in (f"/api/profiles/{alice.username}", f"/api/articles/{slug}", f"/api/articles/{slug}/comments"):
        resp = await client.get(path, headers=conduit(bob))
        assert resp.status == 404, (path, await resp.text())
        assert (await client.get(path)).status == 200
    resp = await client.post(f"/api/profiles/{bob.username}/follow", headers=conduit(alice))
    assert resp.status == 403 and (await resp.json()) == {"errors": {"profile": ["forbidden"]}}
    resp = await client.post(f"/api/articles/{slug}/favorite", headers=conduit(bob))
    assert resp.status == 403
    resp = await client.post(f"/api/articles/{slug}/comments", headers=conduit(bob), json={"comment": {"body": "x"}})
    assert resp.status == 403

    listed = await (await client.get("/api/articles", headers=conduit(bob))).json()
    assert [a["slug"] for a in listed["articles"]] == [carol_slug] and listed["articlesCount"] == 1
    listed = await (await client.get("/api/articles", params={"author": alice.username},
                                     headers=conduit(bob))).json()
    assert listed == {"articles": [], "articlesCount": 0}
    assert (await (await client.get("/api/articles")).json())["articlesCount"] == 2
    comments = await (await client.get(f"/api/articles/{carol_slug}/comments", headers=conduit(bob))).json()
    assert comments == {"comments": []}


async def test_block_routes_are_in_the_openapi_document(client):
    spec = await (await client.get("/api/openapi.json")).json()
    assert {"put", "delete"} <= set(spec["paths"]["/api/v1/users/{id}/block"])
    assert "get" in spec["paths"]["/api/v1/blocks"]
    user = spec["components"]["schemas"]["User"]["properties"]
    assert {"blocking", "muting"} <= set(user)
