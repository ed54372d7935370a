"""Who may message me: dm_policy everyone (default), following (the users I follow) or nobody. A refused
message is a 403 dm-not-allowed over REST and the same code in the socket's error frame: nothing is
stored or delivered, and the sender learns no more than that."""

from __future__ import annotations

from server.keys import DB
from tests.helpers import next_frame, no_frame, problem_of
from tests.test_socketio import sio_client  # noqa: F401 - the fixture
from tests.test_ws import connect


async def set_policy(client, user, policy: str) -> dict:
    resp = await client.patch("/api/v1/users/me", headers=user.headers, json={"dm_policy": policy})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def message(client, sender, recipient, content="hi"):
    return await client.post("/api/v1/messages", headers=sender.headers,
                             json={"recipient_id": recipient.id, "content": content})


async def stored(client) -> int:
    return await client.app[DB].fetchval("SELECT COUNT(*) FROM messages")


async def test_policies_over_rest(client, make_user):
    me, friend, stranger = await make_user(), await make_user(), await make_user()
    assert (await (await client.get("/api/v1/users/me", headers=me.headers)).json())["dm_policy"] == "everyone"
    assert (await message(client, stranger, me, "hello")).status == 201

    body = await set_policy(client, me, "following")
    assert body["dm_policy"] == "following" and body["email"] == me.email
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    await client.put(f"/api/v1/users/{me.id}/follow", headers=stranger.headers)  # they follow me: not enough
    before = await stored(client)
    refused = await problem_of(await message(client, stranger, me), 403)
    assert refused["type"] == "urn:chatter:problem:dm-not-allowed"
    assert set(refused) <= {"type", "title", "status", "detail", "request_id"}
    assert (await message(client, friend, me)).status == 201
    assert (await message(client, me, stranger)).status == 201  # my policy is about messages to me
    assert await stored(client) == before + 2

    await set_policy(client, me, "nobody")
    for sender in (friend, stranger):
        body = await problem_of(await message(client, sender, me), 403)
        # The same answer whatever the reason: the sender learns no more than "not allowed".
        assert {k: v for k, v in body.items() if k != "request_id"} == {
            k: v for k, v in refused.items() if k != "request_id"}
    # Responses to old messages are messages too.
    mid = (await (await client.get(f"/api/v1/conversations/{me.id}/messages", headers=stranger.headers)).json())[
        "items"][0]["id"]
    await problem_of(await client.post(f"/api/v1/messages/{mid}/responses", headers=stranger.headers,
                                       json={"content": "re"}), 403)
    assert await stored(client) == before + 2
    notes = await (await client.get("/api/v1/notifications", headers=me.headers)).json()
    assert [n["actor"]["id"] for n in notes["items"] if n["type"] == "message"] == [friend.id, stranger.id]

    await set_policy(client, me, "everyone")
    assert (await message(client, stranger, me)).status == 201


async def test_policy_validation(client, make_user):
    me = await make_user()
    for bad in ("friends", None, 1, ""):
        await problem_of(await client.patch("/api/v1/users/me", headers=me.headers, json={"dm_policy": bad}), 422)
    assert (await (await client.get("/api/v1/users/me", headers=me.headers)).json())["dm_policy"] == "everyone"
    other = await make_user()
    seen = await (await client.get(f"/api/v1/users/{me.id}", headers=other.headers)).json()
    assert "dm_policy" not in seen  # one's own setting, not shown to others


async def test_refused_over_the_websocket_and_socketio(client, make_user, sio_client):  # noqa: F811
    me, stranger = await make_user(), await make_user()
    await set_policy(client, me, "nobody")
    my_ws, _ = await connect(client, me)
    ws, _ = await connect(client, stranger)
    before = await stored(client)
    await ws.send_json({"type": "message.send", "data": {"to": me.id, "content": "hi", "client_id": "x-1"}})
    error = await next_frame(ws, "error")
    assert error["data"]["code"] == "dm-not-allowed" and error["data"]["client_id"] == "x-1"
    s = sio_client()
    await s.connect(client, token=stranger.access_token)
    answer = await s.sio.call("message.send", {"to": me.id, "content": "hi", "client_id": "x-2"}, timeout=5)
    assert answer["type"] == "error" and answer["data"]["code"] == "dm-not-allowed"
    await no_frame(my_ws, "message.created")
    await no_frame(my_ws, "notification.created")
    assert await stored(client) == before
    for w in (my_ws, ws):
        await w.close()
