"""The send path is built from the values it stores: what a sender and recipient are told equals what
is stored (and read back later), in few SQL statements."""

from __future__ import annotations

import aiomysql

from server import chat
from server.keys import DB
from tests.helpers import next_frame
from tests.test_messages import add_media, send, socket


async def _get(client, user, path):
    resp = await client.get(path, headers=user.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_what_is_sent_and_pushed_equals_what_is_stored(client, make_user):
    alice, bob = await make_user(), await make_user()
    bob_ws = await socket(client, bob)
    msg = await send(client, alice, bob, "stored as shown", client_id="c-1")
    assert await _get(client, bob, f"/api/v1/messages/{msg['id']}") == msg
    pushed = await next_frame(bob_ws, "message.created")
    assert pushed["data"] == msg
    note = await next_frame(bob_ws, "notification.created")
    assert note["seq"] == pushed["seq"] + 1
    listed = (await _get(client, bob, "/api/v1/notifications"))["items"][0]
    assert note["data"] == listed
    assert listed["created_at"] == msg["created_at"] and listed["message_id"] == msg["id"]
    assert listed["actor"]["username"] == alice.username
    # Replayed from MySQL after a reconnect: the same events, the same seqs.
    await bob_ws.close()
    ws = await client.ws_connect(f"/api/v1/ws?last_seq={pushed['seq'] - 1}", headers=bob.headers)
    assert (await next_frame(ws))["type"] == "hello"
    assert await next_frame(ws, "message.created") == pushed
    assert await next_frame(ws, "notification.created") == note
    await ws.close()


async def test_a_media_message_is_shown_as_stored(client, make_user):
    alice, bob = await make_user(), await make_user()
    media_id = await add_media(client, alice, "image")
    msg = await send(client, alice, bob, "", message_type="image", media_id=media_id)
    assert msg["media"]["id"] == media_id and msg["media"]["width"] == 10
    assert await _get(client, alice, f"/api/v1/messages/{msg['id']}") == msg


async def test_conversations_follow_both_directions(client, make_user):
    alice, bob = await make_user(), await make_user()
    for sender, recipient in ((alice, bob), (bob, alice), (bob, alice)):
        last = await send(client, sender, recipient, "x")
    db = client.app[DB]
    rows = {r["user_id"]: r for r in await db.fetchall(
        "SELECT user_id, last_message_id, unread_count FROM conversations WHERE user_id IN %s",
        ([alice.id, bob.id],))}
    assert rows[alice.id]["unread_count"] == 2 and rows[bob.id]["unread_count"] == 1
    assert rows[alice.id]["last_message_id"] == rows[bob.id]["last_message_id"] == last["id"]


async def test_a_new_message_costs_three_round_trips(client, make_user, monkeypatch):
    alice, bob = await make_user(), await make_user()
    await send(client, alice, bob, "warm up")
    trips: list[str] = []
    execute_command = aiomysql.Connection._execute_command

    async def counting(self, command, sql):
        trips.append(sql if isinstance(sql, str) else sql.decode(errors="replace"))
        return await execute_command(self, command, sql)

    monkeypatch.setattr(aiomysql.Connection, "_execute_command", counting)
    msg, created = await chat.send_message(client.app, alice.id, recipient_id=bob.id, content="count me",
                                           client_id="count-1")
    assert created
    # Every packet sent to MySQL is one round trip: BEGIN with the gate and the message; both
    # conversation rows, the notification and the seqs of the three events; their log rows
    # with the COMMIT.
    assert len(trips) == 3, trips
    assert trips[0].startswith("START TRANSACTION;") and "INSERT INTO messages" in trips[0]
    assert "INSERT INTO notifications" in trips[1] and "user_event_seq" in trips[1]
    assert "INSERT INTO user_events" in trips[2] and trips[2].endswith("COMMIT")
    assert trips[2].count("message.created") == 2 and trips[2].count("notification.created") == 1
    trips.clear()
    again, created = await chat.send_message(client.app, alice.id, recipient_id=bob.id, content="count me",
                                             client_id="count-1")
    assert not created and again == msg
