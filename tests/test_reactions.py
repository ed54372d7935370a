"""Reactions on messages: one emoji each, the two participants only, at most 20 different emoji,
summaries in every Message document, live `message.reaction` events that replay on resume."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest
from yarl import URL

from tests.helpers import next_frame, no_frame, problem_of

WS = "/api/v1/ws"
# 20 different single-code-point emoji, and more for the limit.
MANY = [chr(c) for c in range(0x1F600, 0x1F600 + 30)]


def url(message_id: int, emoji: str) -> str:
    return f"/api/v1/messages/{message_id}/reactions/{quote(emoji, safe='')}"


async def send(client, sender, recipient, content="hi"):
    resp = await client.post("/api/v1/messages", headers=sender.headers,
                             json={"recipient_id": recipient.id, "content": content})
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def react(client, user, message_id, emoji, status=200, method="put"):
    resp = await getattr(client, method)(url(message_id, emoji), headers=user.headers)
    if status != 200:
        return await problem_of(resp, status)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def connect(client, user, **params):
    ws = await client.ws_connect(WS, headers=user.headers, params=params or None)
    hello = await next_frame(ws, "hello")
    return ws, hello


@pytest.fixture
async def chat(client, make_user):
    alice, bob = await make_user("alice"), await make_user("bob")
    msg = await send(client, alice, bob, "hello bob")
    return alice, bob, msg


VALID = ["👍", "👍🏽", "🇫🇷", "👨\u200d👩\u200d👧", "1️⃣", "#️⃣", "❤️", "❤", "🏳️\u200d🌈", "👩🏽\u200d💻",
         "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "©"]
INVALID = ["ab", "👍👍", "", "text", "a", "1", "🇫", "🇫🇷🇩🇪", "👍a", " 👍", "a\u0301", "\u200d", "👍\u200d",
           "%", "👍" * 40]


@pytest.mark.parametrize("emoji", VALID)
async def test_one_emoji_grapheme_cluster_is_a_reaction(client, chat, emoji):
    alice, bob, msg = chat
    body = await react(client, bob, msg["id"], emoji)
    assert body == {"message_id": msg["id"], "emoji": emoji, "reacted": True,
                    "reactions": [{"emoji": emoji, "count": 1, "me": True}]}


@pytest.mark.parametrize("emoji", INVALID)
async def test_anything_else_is_a_400(client, chat, emoji):
    alice, bob, msg = chat
    for method in ("put", "delete"):
        problem = await react(client, bob, msg["id"], emoji, 400, method)
        assert problem["type"] == "urn:chatter:problem:bad-request"
    shown = await (await client.get(f"/api/v1/messages/{msg['id']}", headers=bob.headers)).json()
    assert shown["reactions"] == []


@pytest.mark.parametrize("raw", ["%FF", "%F0%9F", "%2F", "%F0%9F%91%8D%2F", "%00", "%F0%9F%91%8D%20", "%25"])
async def test_percent_encoded_bytes_that_are_no_emoji_are_a_400(client, chat, raw):
    alice, bob, msg = chat
    resp = await client.put(URL(f"/api/v1/messages/{msg['id']}/reactions/{raw}", encoded=True), headers=bob.headers)
    await problem_of(resp, 400)
    resp = await client.put(URL(f"/api/v1/messages/{msg['id']}/reactions/%F0%9F%91%8D", encoded=True),
                            headers=bob.headers)
    assert (await resp.json())["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]


async def test_put_and_delete_are_idempotent_and_counts_follow(client, chat):
    alice, bob, msg = chat
    mid = msg["id"]
    await react(client, bob, mid, "👍")
    body = await react(client, bob, mid, "👍")  # again: nothing changes
    assert body["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]
    await react(client, alice, mid, "🎉")
    body = await react(client, alice, mid, "👍")
    # In order of first use: 👍 (bob) before 🎉 (alice).
    assert body["reactions"] == [{"emoji": "👍", "count": 2, "me": True}, {"emoji": "🎉", "count": 1, "me": True}]
    # A skin tone is another emoji.
    body = await react(client, bob, mid, "👍🏽")
    assert [r["emoji"] for r in body["reactions"]] == ["👍", "🎉", "👍🏽"]
    # Bob, who used 👍 first, withdraws: it keeps its place (alice's is still there).
    body = await react(client, bob, mid, "👍", method="delete")
    assert body["reacted"] is False
    assert body["reactions"] == [{"emoji": "👍", "count": 1, "me": False}, {"emoji": "🎉", "count": 1, "me": False},
                                 {"emoji": "👍🏽", "count": 1, "me": True}]
    body = await react(client, bob, mid, "👍", method="delete")  # again: still not reacted
    assert body["reacted"] is False and body["reactions"][0] == {"emoji": "👍", "count": 1, "me": False}
    # Deleting one's reaction never takes the other's.
    body = await react(client, alice, mid, "👍🏽", method="delete")
    assert {"emoji": "👍🏽", "count": 1, "me": False} in body["reactions"]


async def test_only_the_two_participants(client, chat, make_user):
    alice, bob, msg = chat
    carol = await make_user("carol")
    problem = await react(client, carol, msg["id"], "👍", 404)
    assert problem["type"] == "urn:chatter:problem:not-found"
    await react(client, carol, msg["id"], "👍", 404, "delete")
    await react(client, alice, 999999999, "👍", 404)
    resp = await client.put(url(msg["id"], "👍"))
    await problem_of(resp, 401)


async def test_at_most_20_different_emoji_per_message(client, chat):
    alice, bob, msg = chat
    mid = msg["id"]
    for i, emoji in enumerate(MANY[:20]):
        await react(client, alice if i % 2 else bob, mid, emoji)
    problem = await react(client, bob, mid, MANY[20], 409)
    assert problem["type"] == "urn:chatter:problem:reaction-limit"
    # One of the 20 again, by the other participant: not a new emoji, allowed.
    body = await react(client, alice, mid, MANY[0])
    assert len(body["reactions"]) == 20 and body["reactions"][0] == {"emoji": MANY[0], "count": 2, "me": True}
    # Once one of them is gone, another fits.
    await react(client, alice, mid, MANY[1], method="delete")
    body = await react(client, bob, mid, MANY[20])
    assert len(body["reactions"]) == 20 and body["reactions"][-1]["emoji"] == MANY[20]


async def test_concurrent_reactions_keep_the_limit_and_counts_exact(client, chat):
    alice, bob, msg = chat
    mid = msg["id"]
    # 30 different emoji from both sides at once: exactly 20 are taken.
    results = await asyncio.gather(*(
        client.put(url(mid, emoji), headers=(alice if i % 2 else bob).headers) for i, emoji in enumerate(MANY)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 20 and statuses.count(409) == 10, statuses
    shown = await (await client.get(f"/api/v1/messages/{mid}", headers=alice.headers)).json()
    assert len(shown["reactions"]) == 20 and all(r["count"] == 1 for r in shown["reactions"])
    taken = [r["emoji"] for r in shown["reactions"]]

    # The same emoji put and deleted concurrently by both, many times: the end state is exact.
    emoji = taken[0]
    calls = []
    for i in range(12):
        for user in (alice, bob):
            calls.append(client.put(url(mid, emoji), headers=user.headers) if i % 2 == 0
                         else client.delete(url(mid, emoji), headers=user.headers))
    assert all(r.status == 200 for r in await asyncio.gather(*calls))

    async def view(user):
        body = await (await client.get(f"/api/v1/messages/{mid}", headers=user.headers)).json()
        return {r["emoji"]: r for r in body["reactions"]}

    a, b = await view(alice), await view(bob)
    a_me, b_me = a.get(emoji, {}).get("me", False), b.get(emoji, {}).get("me", False)
    assert a.get(emoji, {}).get("count", 0) == b.get(emoji, {}).get("count", 0) == int(a_me) + int(b_me)
    # Then both put it at once: 2; both take it back at once: gone, the 19 others untouched.
    await asyncio.gather(*(client.put(url(mid, emoji), headers=u.headers) for u in (alice, bob)))
    assert (await view(alice))[emoji]["count"] == 2
    await asyncio.gather(*(client.delete(url(mid, emoji), headers=u.headers) for u in (alice, bob)))
    left = await view(bob)
    assert emoji not in left and len(left) == 19 and all(r["count"] == 1 for r in left.values())
    # Concurrent new emoji against the one free place: exactly one fits.
    results = await asyncio.gather(*(
        client.put(url(mid, e), headers=(alice if i % 2 else bob).headers)
        for i, e in enumerate(e for e in MANY if e not in taken)))
    assert sorted(r.status for r in results) == [200] + [409] * 9
    assert len(await view(alice)) == 20


async def test_blocks_either_way_refuse_reactions(client, chat):
    alice, bob, msg = chat
    await react(client, bob, msg["id"], "👍")
    assert (await client.put(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 200
    for user in (alice, bob):
        problem = await react(client, user, msg["id"], "🎉", 403)
        assert problem["type"] == "urn:chatter:problem:forbidden"
        await react(client, user, msg["id"], "👍", 403, "delete")
    assert (await client.delete(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 200
    await react(client, bob, msg["id"], "🎉")


async def test_every_message_document_carries_the_reactions(client, chat):
    alice, bob, msg = chat
    assert msg["reactions"] == []  # the send response
    mid = msg["id"]
    await react(client, bob, mid, "👍")
    await react(client, alice, mid, "👍")
    await react(client, alice, mid, "🎉")
    alice_view = [{"emoji": "👍", "count": 2, "me": True}, {"emoji": "🎉", "count": 1, "me": True}]
    bob_view = [{"emoji": "👍", "count": 2, "me": True}, {"emoji": "🎉", "count": 1, "me": False}]
    for user, view in ((alice, alice_view), (bob, bob_view)):
        one = await (await client.get(f"/api/v1/messages/{mid}", headers=user.headers)).json()
        assert one["reactions"] == view
        peer = bob if user is alice else alice
        history = await (await client.get(f"/api/v1/conversations/{peer.id}/messages", headers=user.headers)).json()
        assert history["items"][0]["reactions"] == view
        convs = await (await client.get("/api/v1/conversations", headers=user.headers)).json()
        assert convs["items"][0]["last_message"]["reactions"] == view
    # An edit keeps them; a retried send (same client_id) returns them.
    resp = await client.patch(f"/api/v1/messages/{mid}", headers=alice.headers, json={"content": "edited"})
    assert (await resp.json())["reactions"] == alice_view
    first = await (await client.post("/api/v1/messages", headers=bob.headers,
                                     json={"recipient_id": alice.id, "content": "x", "client_id": "c-1"})).json()
    assert first["reactions"] == []
    await react(client, alice, first["id"], "😂")
    again = await client.post("/api/v1/messages", headers=bob.headers,
                              json={"recipient_id": alice.id, "content": "x", "client_id": "c-1"})
    assert again.status == 200
    assert (await again.json())["reactions"] == [{"emoji": "😂", "count": 1, "me": False}]


async def test_reaction_events_reach_both_sides_and_replay_on_resume(client, chat):
    alice, bob, msg = chat
    mid = msg["id"]
    alice_ws, _ = await connect(client, alice)
    bob_ws, hello = await connect(client, bob)
    seen = hello["data"]["seq"]
    await react(client, alice, mid, "👍")
    for ws, me in ((alice_ws, True), (bob_ws, False)):
        event = await next_frame(ws, "message.reaction")
        assert event["seq"] > 0
        assert event["data"] == {"message_id": mid, "sender_id": alice.id, "recipient_id": bob.id,
                                 "user_id": alice.id, "emoji": "👍", "reacted": True,
                                 "reactions": [{"emoji": "👍", "count": 1, "me": me}]}
        if ws is bob_ws:
            seen = event["seq"]
    # An idempotent repeat sends nothing.
    await react(client, alice, mid, "👍")
    await no_frame(bob_ws, "message.reaction")
    # The edit's message.updated carries each side's view.
    await client.patch(f"/api/v1/messages/{mid}", headers=alice.headers, json={"content": "edited"})
    updated = await next_frame(bob_ws, "message.updated")
    assert updated["data"]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    seen = updated["seq"]
    await bob_ws.close()

    # Bob is away: three reaction changes happen.
    await react(client, bob, mid, "🎉")
    await react(client, alice, mid, "👍", method="delete")
    await react(client, bob, mid, "👍")
    bob_ws, _ = await connect(client, bob, last_seq=seen)
    replayed = [await next_frame(bob_ws, "message.reaction") for _ in range(3)]
    assert [(e["data"]["user_id"], e["data"]["emoji"], e["data"]["reacted"]) for e in replayed] == [
        (bob.id, "🎉", True), (alice.id, "👍", False), (bob.id, "👍", True)]
    seqs = [e["seq"] for e in replayed]
    assert seqs == sorted(seqs) and seqs[0] == seen + 1 and len(set(seqs)) == 3
    # 👍 was gone a moment: back, it goes after 🎉.
    assert replayed[-1]["data"]["reactions"] == [{"emoji": "🎉", "count": 1, "me": True},
                                                 {"emoji": "👍", "count": 1, "me": True}]
    await no_frame(bob_ws, "message.reaction")
    # A message sent over the socket: its ack and message.created carry (empty) reactions too.
    await bob_ws.send_json({"type": "message.send", "data": {"to": alice.id, "content": "yo", "client_id": "w-1"}})
    ack = await next_frame(bob_ws, "message.ack")
    assert ack["data"]["message"]["reactions"] == []
    assert (await next_frame(alice_ws, "message.created"))["data"]["reactions"] == []
    await alice_ws.close()
    await bob_ws.close()


async def test_deleting_the_message_takes_its_reactions(client, chat):
    alice, bob, msg = chat
    await react(client, bob, msg["id"], "👍")
    assert (await client.delete(f"/api/v1/messages/{msg['id']}", headers=alice.headers)).status == 204
    await react(client, bob, msg["id"], "👍", 404)


async def test_a_deleted_account_takes_its_reactions_and_takes_no_more(client, chat):
    from tests.test_deletion import finish

    alice, bob, msg = chat
    await react(client, alice, msg["id"], "👍")
    await react(client, bob, msg["id"], "👍")
    await react(client, alice, msg["id"], "🎉")
    resp = await client.delete("/api/v1/users/me", json={"password": alice.password}, headers=alice.headers)
    assert resp.status == 202
    await react(client, bob, msg["id"], "😂", 404)  # no reacting to a deleted account's messages
    row = await finish(client, alice.id)
    assert row["last_error"] is None
    shown = await (await client.get(f"/api/v1/messages/{msg['id']}", headers=bob.headers)).json()
    assert shown["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]
    # Bob may still take his back.
    body = await react(client, bob, msg["id"], "👍", method="delete")
    assert body["reactions"] == []
