"""Notifications: written with the action, pushed live, listed, counted, marked read."""

from __future__ import annotations

from tests.helpers import next_frame, problem_of

WS = "/api/v1/ws"


async def send(client, sender, recipient, content="hi"):
    resp = await client.post("/api/v1/messages", headers=sender.headers,
                             json={"recipient_id": recipient.id, "content": content})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_a_message_notifies_the_recipient_live(client, make_user):
    alice, bob = await make_user(), await make_user()
    bob_ws = await client.ws_connect(WS, headers=bob.headers)
    await next_frame(bob_ws, "hello")
    msg = await send(client, alice, bob, "ping")
    event = await next_frame(bob_ws, "notification.created")
    note = event["data"]
    assert note["type"] == "message" and note["message_id"] == msg["id"] and note["is_read"] is False
    assert note["actor"] == {"id": alice.id, "username": alice.username, "full_name": None, "profile_pic": None}
    assert note["post_id"] is None and note["comment_id"] is None
    assert alice.username in note["message"]
    listed = await (await client.get("/api/v1/notifications", headers=bob.headers)).json()
    assert listed == {"items": [note], "next_cursor": None}
    assert (await (await client.get("/api/v1/notifications", headers=alice.headers)).json())["items"] == []
    await bob_ws.close()


async def test_list_unread_count_and_mark_read_three_ways(client, make_user):
    alice, bob = await make_user(), await make_user()
    for i in range(5):
        await send(client, alice, bob, f"m{i}")
    bob_ws = await client.ws_connect(WS, headers=bob.headers)
    await next_frame(bob_ws, "hello")
    count = await (await client.get("/api/v1/notifications/unread_count", headers=bob.headers)).json()
    assert count == {"count": 5}
    ids = [n["id"] for n in (await (await client.get("/api/v1/notifications", headers=bob.headers)).json())["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5

    resp = await client.post("/api/v1/notifications/read", headers=bob.headers, json={"ids": [ids[0]]})
    assert await resp.json() == {"unread_count": 4}
    assert (await next_frame(bob_ws, "notification.read"))["data"] == {"unread_count": 4}
    resp = await client.post("/api/v1/notifications/read", headers=bob.headers, json={"up_to_id": ids[2]})
    assert await resp.json() == {"unread_count": 1}
    assert (await next_frame(bob_ws, "notification.read"))["data"] == {"unread_count": 1}
    unread = await (await client.get("/api/v1/notifications?unread=true", headers=bob.headers)).json()
    assert [n["id"] for n in unread["items"]] == [ids[1]]
    page = await (await client.get("/api/v1/notifications?limit=2", headers=bob.headers)).json()
    assert [n["is_read"] for n in page["items"]] == [True, False] and page["next_cursor"] == str(ids[1])

    resp = await client.post("/api/v1/notifications/read", headers=bob.headers, json={})
    assert await resp.json() == {"unread_count": 0}
    assert (await next_frame(bob_ws, "notification.read"))["data"] == {"unread_count": 0}
    resp = await client.post("/api/v1/notifications/read", headers=bob.headers)
    assert await resp.json() == {"unread_count": 0}
    # someone else's ids change nothing
    resp = await client.post("/api/v1/notifications/read", headers=alice.headers, json={"ids": ids})
    assert await resp.json() == {"unread_count": 0}
    await bob_ws.close()


async def test_bad_requests(client, make_user):
    bob = await make_user()
    await problem_of(await client.get("/api/v1/notifications?unread=maybe", headers=bob.headers), 400)
    await problem_of(await client.post("/api/v1/notifications/read", headers=bob.headers,
                                       json={"ids": ["x"]}), 422)
    await problem_of(await client.post("/api/v1/notifications/read", headers=bob.headers,
                                       json={"everything": True}), 422)
    await problem_of(await client.get("/api/v1/notifications"), 401)


async def test_follow_notifies_and_unfollow_removes_it_while_unread(client, make_user):
    alice, bob = await make_user(), await make_user()
    bob_ws = await client.ws_connect(WS, headers=bob.headers)
    await next_frame(bob_ws, "hello")
    resp = await client.put(f"/api/v1/users/{bob.id}/follow", headers=alice.headers)
    assert resp.status == 200, await resp.text()
    note = (await next_frame(bob_ws, "notification.created"))["data"]
    assert note["type"] == "follow" and note["actor"]["id"] == alice.id
    assert (await client.delete(f"/api/v1/users/{bob.id}/follow", headers=alice.headers)).status == 200
    assert (await next_frame(bob_ws, "notification.read"))["data"] == {"unread_count": 0}
    assert (await (await client.get("/api/v1/notifications", headers=bob.headers)).json())["items"] == []
    await bob_ws.close()
