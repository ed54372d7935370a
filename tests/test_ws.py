"""The WebSocket: auth before the upgrade, hello, delivery to every socket, resume, close codes, abuse."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import WSMsgType

from server import events
from server.keys import DB, SERVICES
from tests.helpers import next_frame, no_frame, problem_of

WS = "/api/v1/ws"


async def send(client, sender, recipient, content="hi", **extra):
    resp = await client.post("/api/v1/messages", headers=sender.headers,
                             json={"recipient_id": recipient.id, "content": content, **extra})
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


async def connect(client, user, **params):
    ws = await client.ws_connect(WS, headers=user.headers, params=params or None)
    hello = await next_frame(ws)
    assert hello["type"] == "hello" and hello["data"]["user_id"] == user.id
    return ws, hello


async def closed_with(ws, code: int, wait: float = 5.0) -> None:
    async with asyncio.timeout(wait):
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                break
    assert ws.close_code == code, (ws.close_code, msg)


# --- handshake ------------------------------------------------------------------------------

async def test_handshake_without_auth_is_401_and_no_socket(client, make_user):
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(WS)
    assert err.value.status == 401
    resp = await client.get(WS, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                         "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    await problem_of(resp, 401)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(WS, headers={"Authorization": "Bearer not-a-token"})
    assert err.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(WS, params={"ticket": "made-up"})
    assert err.value.status == 401
    assert not client.app[SERVICES]["hub"].users


async def test_foreign_origin_is_403_allowed_origin_connects(client, make_user):
    alice = await make_user()
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(WS, headers=alice.headers, origin="https://evil.example")
    assert err.value.status == 403
    ws = await client.ws_connect(WS, headers=alice.headers, origin="http://localhost:3000")
    assert (await next_frame(ws))["type"] == "hello"
    await ws.close()


async def test_ticket_is_single_use(client, make_user):
    alice = await make_user()
    resp = await client.post("/api/v1/ws/ticket", headers=alice.headers)
    assert resp.status == 201
    body = await resp.json()
    assert body["expires_in"] == 30 and len(body["ticket"]) >= 32
    ws = await client.ws_connect(WS, params={"ticket": body["ticket"]})
    hello = await next_frame(ws)
    assert hello == {"type": "hello", "data": {"user_id": alice.id, "seq": 0}}
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(WS, params={"ticket": body["ticket"]})
    assert err.value.status == 401
    await ws.close()
    await problem_of(await client.post("/api/v1/ws/ticket"), 401)


async def test_concurrent_uses_of_one_ticket_open_one_socket(client, make_user):
    alice = await make_user()
    ticket = (await (await client.post("/api/v1/ws/ticket", headers=alice.headers)).json())["ticket"]
    results = await asyncio.gather(*(client.ws_connect(WS, params={"ticket": ticket}) for _ in range(5)),
                                   return_exceptions=True)
    opened = [r for r in results if not isinstance(r, BaseException)]
    assert len(opened) == 1
    assert all(isinstance(r, aiohttp.WSServerHandshakeError) and r.status == 401
               for r in results if r not in opened)
    await opened[0].close()


async def test_browser_cookie_opens_the_socket(client, make_user):
    alice = await make_user()
    resp = await client.post("/api/v1/auth/session", json={"login": alice.username, "password": alice.password})
    if resp.status == 404:
        pytest.skip("browser sessions are not built yet")
    assert resp.status == 200, await resp.text()
    ws = await client.ws_connect(WS, origin="http://localhost:3000")
    assert (await next_frame(ws))["data"]["user_id"] == alice.id
    await ws.close()


# --- delivery -------------------------------------------------------------------------------

async def test_message_reaches_every_socket_of_both_participants(client, make_user):
    alice, bob = await make_user(), await make_user()
    bob1, _ = await connect(client, bob)
    bob2, _ = await connect(client, bob)
    alice1, _ = await connect(client, alice)
    msg = await send(client, alice, bob, "hello bob")
    for ws in (bob1, bob2, alice1):
        frame = await next_frame(ws, "message.created")
        assert frame["data"] == msg and isinstance(frame["seq"], int)
    note = await next_frame(bob1, "notification.created")
    assert note["data"]["type"] == "message" and note["data"]["message_id"] == msg["id"]
    await no_frame(alice1, "notification.created")
    metrics = await (await client.get("/metrics")).text()
    assert "chatter_websockets_open 3.0" in metrics
    for ws in (bob1, bob2, alice1):
        await ws.close()
    await asyncio.sleep(0.05)
    assert "chatter_websockets_open 0.0" in await (await client.get("/metrics")).text()


async def test_seq_is_strictly_increasing_and_shared_by_a_users_sockets(client, make_user):
    alice, bob = await make_user(), await make_user()
    bob1, hello = await connect(client, bob)
    bob2, _ = await connect(client, bob)
    await asyncio.gather(*(send(client, alice, bob, f"m{i}") for i in range(10)))
    seqs = {}
    for ws in (bob1, bob2):
        got = [(await next_frame(ws))["seq"] for _ in range(20)]  # 10 messages + 10 notifications
        assert got == sorted(got) and len(set(got)) == 20
        seqs[ws] = got
    assert seqs[bob1] == seqs[bob2] == list(range(hello["data"]["seq"] + 1, hello["data"]["seq"] + 21))
    for ws in (bob1, bob2):
        await ws.close()


async def test_send_frame_acks_and_is_idempotent_by_client_id(client, make_user):
    alice, bob = await make_user(), await make_user()
    alice_ws, _ = await connect(client, alice)
    bob_ws, _ = await connect(client, bob)
    frame = {"type": "message.send", "data": {"to": bob.id, "content": "via socket", "client_id": "c-1"}}
    await alice_ws.send_json(frame)
    ack = await next_frame(alice_ws, "message.ack")
    assert ack["data"]["client_id"] == "c-1"
    msg = ack["data"]["message"]
    assert msg["content"] == "via socket" and msg["client_id"] == "c-1" and msg["sender_id"] == alice.id
    assert (await next_frame(bob_ws, "message.created"))["data"] == msg
    await alice_ws.send_json(frame)  # a retry
    again = await next_frame(alice_ws, "message.ack")
    assert again["data"]["message"]["id"] == msg["id"]
    await no_frame(bob_ws, "message.created")
    # REST with the same client_id returns the same message, 200
    resp = await client.post("/api/v1/messages", headers=alice.headers,
                             json={"recipient_id": bob.id, "content": "via socket", "client_id": "c-1"})
    assert resp.status == 200 and (await resp.json())["id"] == msg["id"]
    await alice_ws.send_json({"type": "message.send", "data": {"to": alice.id, "content": "me", "client_id": "c-2"}})
    err = await next_frame(alice_ws, "error")
    assert err["data"]["client_id"] == "c-2" and err["data"]["code"] == "validation"
    for ws in (alice_ws, bob_ws):
        await ws.close()


async def test_resume_replays_exactly_the_missed_events_in_order(client, make_user):
    alice, bob = await make_user(), await make_user()
    bob_ws, _ = await connect(client, bob)
    await send(client, alice, bob, "first")
    seen = await next_frame(bob_ws, "message.created")
    last = (await next_frame(bob_ws, "notification.created"))["seq"]
    assert last == seen["seq"] + 1
    await bob_ws.close()
    missed = [await send(client, alice, bob, f"while away {i}") for i in range(3)]
    resp = await client.post(f"/api/v1/conversations/{alice.id}/read", headers=bob.headers, json={})
    assert resp.status == 200

    bob_ws, hello = await connect(client, bob, last_seq=last)
    assert hello["data"]["seq"] == last + 7  # 3 × (message + notification) + read receipt
    replay = [await next_frame(bob_ws) for _ in range(7)]
    assert [f["seq"] for f in replay] == list(range(last + 1, last + 8))
    assert [f["data"]["id"] for f in replay if f["type"] == "message.created"] == [m["id"] for m in missed]
    assert replay[-1]["type"] == "message.read"
    await no_frame(bob_ws)
    live = await send(client, alice, bob, "live again")
    frame = await next_frame(bob_ws, "message.created")
    assert frame["data"]["id"] == live["id"] and frame["seq"] == last + 8
    await bob_ws.close()


async def test_events_arriving_during_replay_come_once_and_in_order(client, make_user):
    alice, bob = await make_user(), await make_user()
    for i in range(30):
        await send(client, alice, bob, f"old {i}")
    sender = asyncio.gather(*(send(client, alice, bob, f"new {i}") for i in range(10)))
    bob_ws, _ = await connect(client, bob, last_seq=0)
    await sender
    seqs = [(await next_frame(bob_ws))["seq"] for _ in range(80)]
    assert seqs == list(range(1, 81))
    await no_frame(bob_ws)
    await bob_ws.close()


async def test_resume_older_than_the_log_gets_reset(client, make_user):
    alice, bob = await make_user(), await make_user()
    for i in range(4):
        await send(client, alice, bob, f"m{i}")  # bob's seq 1..8
    await client.app[DB].execute("DELETE FROM user_events WHERE user_id = %s AND seq <= 4", (bob.id,))
    bob_ws, hello = await connect(client, bob, last_seq=2)
    reset = await next_frame(bob_ws)
    assert reset["type"] == "reset" and reset["data"]["seq"] == hello["data"]["seq"] == 8
    await no_frame(bob_ws)
    await bob_ws.close()
    # a gap-free resume from inside the log replays normally
    bob_ws, _ = await connect(client, bob, last_seq=6)
    assert [(await next_frame(bob_ws))["seq"] for _ in range(2)] == [7, 8]
    await bob_ws.close()


async def test_the_replay_log_is_capped(make_config, aiohttp_client, make_user):
    from server.app import create_app

    client = await aiohttp_client(create_app(make_config(bus={"replay_max": 4})))
    alice, bob = await make_user(), await make_user()
    for i in range(6):
        await send(client, alice, bob, f"m{i}")  # bob's seq 1..12; pruned at 4, 8, 12
    kept = await client.app[DB].fetchall("SELECT seq FROM user_events WHERE user_id = %s ORDER BY seq",
                                         (bob.id,))
    assert [r["seq"] for r in kept] == [9, 10, 11, 12]


# --- close codes and abuse ----------------------------------------------------------------------

async def test_logout_closes_that_sessions_sockets_with_4001(client, make_user):
    alice = await make_user()
    other = await client.post("/api/v1/auth/login", json={"login": alice.username, "password": alice.password})
    other_token = (await other.json())["access_token"]
    ws, _ = await connect(client, alice)
    ws_other = await client.ws_connect(WS, headers={"Authorization": f"Bearer {other_token}"})
    await next_frame(ws_other, "hello")
    resp = await client.post("/api/v1/auth/logout", headers=alice.headers)
    assert resp.status == 204
    await closed_with(ws, 4001)
    await ws_other.send_json({"type": "ping"})
    assert (await next_frame(ws_other))["type"] == "pong"  # the other session stays
    await ws_other.close()


async def test_session_revoked_event_is_not_forwarded(client, make_user):
    alice = await make_user()
    ws, _ = await connect(client, alice)
    await events.publish_transient(client.app, alice.id, "session.revoked", {"session_ids": [999999]})
    await ws.send_json({"type": "ping"})
    assert (await next_frame(ws))["type"] == "pong"
    await ws.close()


async def test_oversized_frame_closes_with_1009(client, make_user):
    alice = await make_user()
    ws, _ = await connect(client, alice)
    await ws.send_str('{"type": "ping", "data": {"x": "' + "x" * 70_000 + '"}}')
    await closed_with(ws, 1009)


async def test_malformed_frames_get_errors_and_repeated_abuse_closes_1008(client, make_user):
    alice = await make_user()
    ws, _ = await connect(client, alice)
    bad = ["not json", "[1, 2]", '{"data": {}}', '{"type": "nope"}', '{"type": "ping", "data": 3}',
           '{"type": "message.send", "data": {"to": "x"}}', '{"type": "typing", "data": {}}']
    for text in bad:
        await ws.send_str(text)
        err = await next_frame(ws)
        assert err["type"] == "error" and err["data"]["code"] and err["data"]["detail"], (text, err)
        assert "seq" not in err
    await ws.send_bytes(b"\x00\x01")
    assert (await next_frame(ws))["type"] == "error"
    await ws.send_json({"type": "ping"})
    assert (await next_frame(ws)) == {"type": "pong", "data": {}}  # still open
    for _ in range(5):
        await ws.send_str("junk")
    await closed_with(ws, 1008)


async def test_frame_rate_limit_closes_with_1008(make_config, aiohttp_client, make_user):
    from server.app import create_app

    client = await aiohttp_client(create_app(make_config(ratelimit={"enabled": True, "ws_frames": "5/60"})))
    alice = await make_user()
    ws, _ = await connect(client, alice)
    for _ in range(5):
        await ws.send_json({"type": "ping"})
        assert (await next_frame(ws))["type"] == "pong"
    await ws.send_json({"type": "ping"})
    await closed_with(ws, 1008)


async def test_slow_reader_is_dropped_while_others_keep_flowing(make_config, aiohttp_client, make_user):
    from server.app import create_app

    client = await aiohttp_client(create_app(make_config(ws={"send_queue": 8})))
    app = client.app
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    slow, _ = await connect(client, carol)  # never reads again
    bob_ws, _ = await connect(client, bob)
    pad = "x" * 60_000
    start = asyncio.get_running_loop().time()
    for _ in range(400):  # ~24 MB at carol, more than the socket buffers hold
        await events.publish_transient(app, carol.id, "typing", {"user_id": alice.id, "pad": pad})
    assert asyncio.get_running_loop().time() - start < 5  # publishing never waited for carol
    msg = await send(client, alice, bob, "still flowing")
    assert (await next_frame(bob_ws, "message.created"))["data"]["id"] == msg["id"]
    hub = app[SERVICES]["hub"]
    async with asyncio.timeout(15):
        while carol.id in hub.users:  # noqa: ASYNC110 - polling the hub's state
            await asyncio.sleep(0.05)
    await bob_ws.close()
    await slow.close()


async def test_shutdown_closes_sockets_with_1001(make_config, aiohttp_client, make_user):
    from server.app import create_app

    client = await aiohttp_client(create_app(make_config()))
    alice = await make_user()
    ws, _ = await connect(client, alice)
    closer = asyncio.create_task(client.server.close())
    await closed_with(ws, 1001)
    await asyncio.wait_for(closer, 10)


async def test_ping_pong_and_heartbeat_settings(client, make_user):
    alice = await make_user()
    ws, _ = await connect(client, alice)
    await ws.send_json({"type": "ping", "data": {}})
    assert await next_frame(ws) == {"type": "pong", "data": {}}
    await ws.close()


# --- presence and typing ------------------------------------------------------------------------

async def test_typing_and_presence_reach_conversation_peers_without_seq(client, make_user):
    alice, bob, mallory = await make_user(), await make_user(), await make_user()
    await send(client, alice, bob, "hi")
    bob_ws, _ = await connect(client, bob)
    alice_ws, _ = await connect(client, alice)
    online = await next_frame(bob_ws, "presence")
    assert online == {"type": "presence", "data": {"user_id": alice.id, "online": True}}
    assert (await next_frame(alice_ws, "presence"))["data"] == {"user_id": bob.id, "online": True}

    await alice_ws.send_json({"type": "typing", "data": {"to": bob.id}})
    typing = await next_frame(bob_ws, "typing")
    assert typing == {"type": "typing", "data": {"user_id": alice.id}}
    await alice_ws.send_json({"type": "typing", "data": {"to": bob.id}})  # throttled
    await no_frame(bob_ws, "typing")

    mallory_ws, _ = await connect(client, mallory)
    await mallory_ws.send_json({"type": "typing", "data": {"to": bob.id}})
    assert (await next_frame(mallory_ws, "error"))["data"]["code"] == "not_found"
    await no_frame(bob_ws, "typing")

    await alice_ws.close()
    offline = await next_frame(bob_ws, "presence")
    assert offline["data"] == {"user_id": alice.id, "online": False}
    for ws in (bob_ws, mallory_ws):
        await ws.close()


async def presence_frames(ws, wait: float = 1.0) -> list[dict]:
    """Every presence frame the socket gets until it has been quiet for `wait` seconds."""
    out = []
    while True:
        try:
            msg = await ws.receive(timeout=wait)
        except TimeoutError:
            return out
        if msg.type != aiohttp.WSMsgType.TEXT:
            return out
        data = json.loads(msg.data)
        if data["type"] == "presence":
            out.append(data["data"])


async def test_presence_is_announced_once_and_ends_in_the_true_state(client, make_user):
    """Two sockets of one user opening at once: one "online", not two. A reconnect racing its own
    departure (close, open at once): whatever the peer saw, the last word is "online"."""
    alice, bob = await make_user(), await make_user()
    await send(client, alice, bob, "hi")
    bob_ws, _ = await connect(client, bob)
    # Bob's snapshot of who is online follows his hello: let it pass before Alice arrives, or it
    # may list her too (the same state twice, not a second announcement).
    assert await presence_frames(bob_ws, wait=0.5) == []
    (a1, _), (a2, _) = await asyncio.gather(connect(client, alice), connect(client, alice))
    seen = await presence_frames(bob_ws)
    assert seen == [{"user_id": alice.id, "online": True}]

    hub = client.app[SERVICES]["hub"]
    for _ in range(5):
        await a1.close()
        await a2.close()
        a1, _ = await connect(client, alice)
        a2 = a1
        seen = await presence_frames(bob_ws, wait=0.5)
        # Nothing (the new socket came before the old one's departure was counted), or ends "online".
        assert not seen or seen[-1] == {"user_id": alice.id, "online": True}, seen
        assert (await hub.is_online([alice.id]))[alice.id]
    await a1.close()
    assert (await presence_frames(bob_ws))[-1] == {"user_id": alice.id, "online": False}
    await bob_ws.close()


async def test_openapi_lists_the_websocket_as_101(client):
    spec = await (await client.get("/api/openapi.json")).json()
    op = spec["paths"]["/api/v1/ws"]["get"]
    assert "101" in op["responses"]
    assert "/api/v1/ws/ticket" in spec["paths"]


async def test_hello_comes_before_any_transient_event(app, make_user):
    """A presence or typing event reaching a socket that has not said hello yet is not sent."""
    from ws.hub import Hub, Socket

    hub = Hub(app)
    sock = Socket(ws=None, request=None, user_id=7, session_id=1, queue_size=8)
    hub.users[7] = {sock}
    channel = "test:user:7"
    hub.channels[channel] = 7
    presence = '{"type": "presence", "data": {"user_id": 8, "online": true}}'
    await hub._on_bus(channel, presence)
    assert sock.queue.empty()
    sock.last_seq = 0  # hello sent
    await hub._on_bus(channel, presence)
    assert sock.queue.get_nowait() == presence
