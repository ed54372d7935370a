"""One-to-one chat over REST: send, idempotency, conversations, history, read, edit, delete, responses."""

from __future__ import annotations

import asyncio

from server.keys import DB
from tests.helpers import next_frame, problem_of

WS = "/api/v1/ws"


async def send(client, sender, recipient, content="hi", status=201, **extra):
    resp = await client.post("/api/v1/messages", headers=sender.headers,
                             json={"recipient_id": recipient.id, "content": content, **extra})
    assert resp.status == status, await resp.text()
    return await resp.json()


async def add_media(client, user, media_type="image") -> int:
    return await client.app[DB].insert(
        "INSERT INTO media (user_id, media_type, storage_key, content_type, width, height, size) "
        "VALUES (%s, %s, %s, %s, 10, 10, 1234)",
        (user.id, media_type, f"ab/{user.id}-{media_type}.bin",
         "image/png" if media_type == "image" else "video/mp4"))


async def socket(client, user):
    ws = await client.ws_connect(WS, headers=user.headers)
    assert (await next_frame(ws))["type"] == "hello"
    return ws


async def test_send_a_message(client, make_user):
    alice, bob = await make_user(), await make_user()
    msg = await send(client, alice, bob, "Hello Bob")
    assert set(msg) == {"id", "sender_id", "recipient_id", "message_type", "content", "media", "client_id",
                        "read_at", "responses_count", "created_at", "edited_at", "reactions"}
    assert msg["sender_id"] == alice.id and msg["recipient_id"] == bob.id
    assert msg["message_type"] == "text" and msg["content"] == "Hello Bob" and msg["media"] is None
    assert msg["read_at"] is None and msg["edited_at"] is None and msg["responses_count"] == 0
    assert msg["created_at"].endswith("Z")


async def test_bad_sends(client, make_user):
    alice, bob = await make_user(), await make_user()
    body = await problem_of(await client.post("/api/v1/messages", headers=alice.headers,
                                              json={"recipient_id": alice.id, "content": "me"}), 422)
    assert "recipient_id" in body["errors"]
    body = await problem_of(await client.post("/api/v1/messages", headers=alice.headers,
                                              json={"recipient_id": 987654321, "content": "x"}), 422)
    assert "recipient_id" in body["errors"]
    await problem_of(await client.post("/api/v1/messages", headers=alice.headers,
                                       json={"recipient_id": bob.id, "content": "x", "admin": True}), 422)
    await problem_of(await client.post("/api/v1/messages", headers=alice.headers,
                                       json={"recipient_id": bob.id, "content": "   "}), 422)
    await problem_of(await client.post("/api/v1/messages", headers=alice.headers,
                                       json={"recipient_id": bob.id, "content": "x", "message_type": "gif"}), 422)
    await problem_of(await client.post("/api/v1/messages", json={"recipient_id": bob.id, "content": "x"}), 401)
    assert await client.app[DB].fetchval("SELECT COUNT(*) FROM messages") == 0


async def test_client_id_makes_sending_idempotent(client, make_user):
    alice, bob = await make_user(), await make_user()
    first = await send(client, alice, bob, "once", client_id="abc-1")
    again = await send(client, alice, bob, "once", status=200, client_id="abc-1")
    assert again == first
    other = await send(client, bob, alice, "mine", client_id="abc-1")  # unique per sender
    assert other["id"] != first["id"]


async def test_thirty_concurrent_sends_with_one_client_id_make_one_row(client, make_user):
    alice, bob = await make_user(), await make_user()

    async def one():
        resp = await client.post("/api/v1/messages", headers=alice.headers,
                                 json={"recipient_id": bob.id, "content": "race", "client_id": "same"})
        return resp.status, (await resp.json())["id"]

    results = await asyncio.gather(*(one() for _ in range(30)))
    assert sorted(s for s, _ in results) == [200] * 29 + [201]
    assert len({mid for _, mid in results}) == 1
    db = client.app[DB]
    assert await db.fetchval("SELECT COUNT(*) FROM messages") == 1
    conv = await db.fetchone("SELECT unread_count FROM conversations WHERE user_id = %s", (bob.id,))
    assert conv["unread_count"] == 1
    assert await db.fetchval("SELECT COUNT(*) FROM notifications WHERE user_id = %s", (bob.id,)) == 1


async def test_idempotency_key_header_replays_the_first_answer(client, make_user):
    alice, bob = await make_user(), await make_user()
    headers = {**alice.headers, "Idempotency-Key": "k-1"}
    body = {"recipient_id": bob.id, "content": "once"}
    r1 = await client.post("/api/v1/messages", headers=headers, json=body)
    r2 = await client.post("/api/v1/messages", headers=headers, json=body)
    assert r1.status == r2.status == 201
    assert (await r1.json())["id"] == (await r2.json())["id"]
    assert await client.app[DB].fetchval("SELECT COUNT(*) FROM messages") == 1


async def test_conversations_with_unread_counts_most_recent_first(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    await send(client, bob, alice, "from bob 1")
    await send(client, bob, alice, "from bob 2")
    await send(client, alice, bob, "reply")
    last = await send(client, carol, alice, "from carol")
    resp = await client.get("/api/v1/conversations", headers=alice.headers)
    page = await resp.json()
    assert [c["peer"]["id"] for c in page["items"]] == [carol.id, bob.id]
    carol_conv, bob_conv = page["items"]
    assert carol_conv["last_message"] == last and carol_conv["unread_count"] == 1
    assert bob_conv["unread_count"] == 2 and bob_conv["last_read_id"] == 0
    assert bob_conv["last_message"]["content"] == "reply"
    assert set(bob_conv["peer"]) == {"id", "username", "full_name", "profile_pic"}
    first = await (await client.get("/api/v1/conversations?limit=1", headers=alice.headers)).json()
    assert first["next_cursor"] is not None
    rest = await (await client.get(f"/api/v1/conversations?limit=1&before={first['next_cursor']}",
                                   headers=alice.headers)).json()
    assert [c["peer"]["id"] for c in rest["items"]] == [bob.id] and rest["next_cursor"] is None
    bob_view = await (await client.get("/api/v1/conversations", headers=bob.headers)).json()
    assert bob_view["items"][0]["unread_count"] == 1  # alice's reply


async def test_history_pages_both_ways_and_strangers_see_nothing(client, make_user):
    alice, bob, eve = await make_user(), await make_user(), await make_user()
    ids = [(await send(client, alice if i % 2 else bob, bob if i % 2 else alice, f"m{i}"))["id"]
           for i in range(5)]
    page = await (await client.get(f"/api/v1/conversations/{bob.id}/messages?limit=2",
                                   headers=alice.headers)).json()
    assert [m["id"] for m in page["items"]] == ids[:-3:-1]
    older = await (await client.get(f"/api/v1/conversations/{bob.id}/messages?limit=10&before={page['next_cursor']}",
                                    headers=alice.headers)).json()
    assert [m["id"] for m in older["items"]] == ids[2::-1] and older["next_cursor"] is None
    newer = await (await client.get(f"/api/v1/conversations/{alice.id}/messages?after={ids[1]}",
                                    headers=bob.headers)).json()
    assert [m["id"] for m in newer["items"]] == ids[2:]
    eve_view = await (await client.get(f"/api/v1/conversations/{bob.id}/messages", headers=eve.headers)).json()
    assert eve_view["items"] == []
    await problem_of(await client.get("/api/v1/conversations/999999/messages", headers=alice.headers), 404)


async def test_mark_read_and_the_peer_hears_it(client, make_user):
    alice, bob = await make_user(), await make_user()
    m1 = await send(client, alice, bob, "one")
    m2 = await send(client, alice, bob, "two")
    alice_ws = await socket(client, alice)
    resp = await client.post(f"/api/v1/conversations/{alice.id}/read", headers=bob.headers,
                             json={"up_to_id": m1["id"]})
    assert await resp.json() == {"unread_count": 1, "last_read_id": m1["id"]}
    event = await next_frame(alice_ws, "message.read")
    assert event["data"] == {"reader_id": bob.id, "peer_id": alice.id, "last_read_id": m1["id"]}
    resp = await client.post(f"/api/v1/conversations/{alice.id}/read", headers=bob.headers)
    assert await resp.json() == {"unread_count": 0, "last_read_id": m2["id"]}
    history = await (await client.get(f"/api/v1/conversations/{alice.id}/messages", headers=bob.headers)).json()
    assert all(m["read_at"] for m in history["items"])
    conv = (await (await client.get("/api/v1/conversations", headers=bob.headers)).json())["items"][0]
    assert conv["unread_count"] == 0 and conv["last_read_id"] == m2["id"]
    await problem_of(await client.post("/api/v1/conversations/999999/read", headers=bob.headers, json={}), 404)
    await alice_ws.close()


async def test_edit_and_delete_by_the_sender_only(client, make_user):
    alice, bob, eve = await make_user(), await make_user(), await make_user()
    first = await send(client, alice, bob, "first")
    msg = await send(client, alice, bob, "typo")
    bob_ws = await socket(client, bob)
    await problem_of(await client.patch(f"/api/v1/messages/{msg['id']}", headers=bob.headers,
                                        json={"content": "x"}), 403)
    await problem_of(await client.patch(f"/api/v1/messages/{msg['id']}", headers=eve.headers,
                                        json={"content": "x"}), 404)
    resp = await client.patch(f"/api/v1/messages/{msg['id']}", headers=alice.headers, json={"content": "fixed"})
    edited = await resp.json()
    assert resp.status == 200 and edited["content"] == "fixed" and edited["edited_at"]
    assert (await next_frame(bob_ws, "message.updated"))["data"] == edited

    await problem_of(await client.delete(f"/api/v1/messages/{msg['id']}", headers=bob.headers), 403)
    await problem_of(await client.delete(f"/api/v1/messages/{msg['id']}", headers=eve.headers), 404)
    assert (await client.delete(f"/api/v1/messages/{msg['id']}", headers=alice.headers)).status == 204
    deleted = await next_frame(bob_ws, "message.deleted")
    assert deleted["data"] == {"id": msg["id"], "sender_id": alice.id, "recipient_id": bob.id}
    assert (await next_frame(bob_ws, "notification.read"))["data"] == {"unread_count": 1}
    conv = (await (await client.get("/api/v1/conversations", headers=bob.headers)).json())["items"][0]
    assert conv["last_message"]["id"] == first["id"] and conv["unread_count"] == 1
    await problem_of(await client.get(f"/api/v1/messages/{msg['id']}", headers=alice.headers), 404)
    assert (await client.delete(f"/api/v1/messages/{first['id']}", headers=alice.headers)).status == 204
    assert (await (await client.get("/api/v1/conversations", headers=bob.headers)).json())["items"] == []
    await bob_ws.close()


async def test_responses_between_participants(client, make_user):
    alice, bob, eve = await make_user(), await make_user(), await make_user()
    msg = await send(client, alice, bob, "question?")
    alice_ws = await socket(client, alice)
    resp = await client.post(f"/api/v1/messages/{msg['id']}/responses", headers=bob.headers,
                             json={"content": "answer"})
    assert resp.status == 201
    reply = await resp.json()
    assert set(reply) == {"id", "message_id", "author_id", "response_type", "content", "media", "created_at"}
    assert reply["message_id"] == msg["id"] and reply["author_id"] == bob.id
    assert (await next_frame(alice_ws, "response.created"))["data"] == reply
    note = await next_frame(alice_ws, "notification.created")
    assert note["data"]["type"] == "response" and note["data"]["message_id"] == msg["id"]
    own = await client.post(f"/api/v1/messages/{msg['id']}/responses", headers=alice.headers,
                            json={"content": "thanks"})
    assert own.status == 201
    await problem_of(await client.post(f"/api/v1/messages/{msg['id']}/responses", headers=eve.headers,
                                       json={"content": "me too"}), 404)
    await problem_of(await client.get(f"/api/v1/messages/{msg['id']}/responses", headers=eve.headers), 404)
    page = await (await client.get(f"/api/v1/messages/{msg['id']}/responses", headers=bob.headers)).json()
    assert [r["content"] for r in page["items"]] == ["thanks", "answer"]
    again = await (await client.get(f"/api/v1/messages/{msg['id']}", headers=bob.headers)).json()
    assert again["responses_count"] == 2
    types = await client.app[DB].fetchall("SELECT type FROM notifications WHERE user_id = %s", (alice.id,))
    assert [r["type"] for r in types] == ["response"]  # not for responding to one's own message
    await alice_ws.close()


async def test_media_must_be_the_senders_own_unattached_upload(client, make_user):
    alice, bob = await make_user(), await make_user()
    image = await add_media(client, alice)
    bobs = await add_media(client, bob)
    video = await add_media(client, alice, "video")
    msg = await send(client, alice, bob, "", message_type="image", media_id=image)
    assert msg["media"]["id"] == image and msg["media"]["type"] == "image" and msg["media"]["size"] == 1234
    body = await problem_of(await client.post("/api/v1/messages", headers=alice.headers, json={
        "recipient_id": bob.id, "content": "again", "message_type": "image", "media_id": image}), 422)
    assert "media_id" in body["errors"]
    await problem_of(await client.post("/api/v1/messages", headers=alice.headers, json={
        "recipient_id": bob.id, "content": "x", "message_type": "image", "media_id": bobs}), 422)
    await problem_of(await client.post("/api/v1/messages", headers=alice.headers, json={
        "recipient_id": bob.id, "content": "x", "message_type": "image", "media_id": video}), 422)
    await problem_of(await client.post("/api/v1/messages", headers=alice.headers, json={
        "recipient_id": bob.id, "content": "x", "media_id": video}), 422)
    await problem_of(await client.post("/api/v1/messages", headers=alice.headers, json={
        "recipient_id": bob.id, "content": "x", "message_type": "video"}), 422)
    clip = await send(client, alice, bob, "clip", message_type="video", media_id=video)
    assert clip["media"]["type"] == "video"
    reply_media = await add_media(client, bob)
    resp = await client.post(f"/api/v1/messages/{msg['id']}/responses", headers=bob.headers,
                             json={"content": "", "response_type": "image", "media_id": reply_media})
    assert resp.status == 201 and (await resp.json())["media"]["id"] == reply_media
    history = await (await client.get(f"/api/v1/conversations/{bob.id}/messages", headers=alice.headers)).json()
    assert [m["media"]["id"] for m in history["items"]] == [video, image]
