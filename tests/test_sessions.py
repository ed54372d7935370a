"""Sessions: a user lists the devices logged in to the account and ends one of them; its tokens and
sockets (WebSocket and Socket.IO) stop at once, and nobody can end anyone else's."""

from __future__ import annotations

import asyncio

import jwt

from server.keys import SERVICES
from tests.helpers import closed_with, next_frame, problem_of
from tests.test_socketio import sio_client  # noqa: F401 - fixture
from tests.test_ws import WS, connect


async def login(client, user, agent: str = "phone-app/1.0", path: str = "/api/v1/auth/login") -> dict:
    resp = await client.post(path, json={"login": user.username, "password": user.password},
                             headers={"User-Agent": agent})
    assert resp.status == 200, await resp.text()
    return await resp.json()


def sid(token: str) -> int:
    return jwt.decode(token, options={"verify_signature": False})["sid"]


async def sessions(client, token: str) -> list[dict]:
    resp = await client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["next_cursor"] is None
    return body["items"]


async def test_a_user_sees_every_device_with_the_current_one_marked(client, make_user):
    alice = await make_user()
    phone = await login(client, alice, "phone-app/1.0")
    resp = await client.post("/api/users/login", json={"user": {"email": alice.email, "password": alice.password}},
                             headers={"User-Agent": "conduit-web"})
    conduit_token = (await resp.json())["user"]["token"]

    items = await sessions(client, alice.access_token)
    assert [s["id"] for s in items] == sorted([sid(alice.access_token), sid(phone["access_token"]),
                                               sid(conduit_token)], reverse=True)
    by_id = {s["id"]: s for s in items}
    mine = by_id[sid(alice.access_token)]
    assert mine["current"] is True and mine["kind"] == "api" and mine["ip"] == "127.0.0.1"
    assert set(mine) == {"id", "kind", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "current"}
    assert by_id[sid(phone["access_token"])] | {"current": None} == by_id[sid(phone["access_token"])] | {
        "current": None, "user_agent": "phone-app/1.0", "kind": "api"}
    assert by_id[sid(phone["access_token"])]["current"] is False
    assert by_id[sid(conduit_token)]["kind"] == "conduit"
    assert by_id[sid(conduit_token)]["user_agent"] == "conduit-web"
    # Seen from the phone, the phone is the current one; the Conduit token lists them too.
    assert [s["id"] for s in await sessions(client, phone["access_token"]) if s["current"]] == [
        sid(phone["access_token"])]
    assert len(await sessions(client, conduit_token)) == 3

    # Used sessions move their last_used_at; an unused one keeps it.
    before = {s["id"]: s["last_used_at"] for s in await sessions(client, alice.access_token)}
    await asyncio.sleep(0.01)
    assert (await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {phone['access_token']}"})).status == 200
    await client.app[SERVICES]["seen_sessions"].flush()
    after = {s["id"]: s["last_used_at"] for s in await sessions(client, alice.access_token)}
    assert after[sid(phone["access_token"])] > before[sid(phone["access_token"])]
    assert after[sid(conduit_token)] == before[sid(conduit_token)]


async def test_ending_a_session_kills_its_tokens_and_sockets_and_nothing_else(client, make_user, sio_client):  # noqa: F811
    alice = await make_user()
    phone = await login(client, alice)
    phone_headers = {"Authorization": f"Bearer {phone['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=phone_headers)).status == 200  # state cached
    phone_ws = await client.ws_connect(WS, headers=phone_headers)
    await next_frame(phone_ws, "hello")
    phone_sio = sio_client()
    await phone_sio.connect(client, token=phone["access_token"])
    laptop_ws, _ = await connect(client, alice)

    resp = await client.delete(f"/api/v1/auth/sessions/{sid(phone['access_token'])}", headers=alice.headers)
    assert resp.status == 204
    await closed_with(phone_ws, 4001)
    assert await phone_sio.next("close") == {"type": "close", "code": 4001, "reason": "session revoked"}
    await problem_of(await client.get("/api/v1/users/me", headers=phone_headers), 401)
    await problem_of(await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}), 401)
    # The session doing the ending goes on, socket included.
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status == 200
    await laptop_ws.send_json({"type": "ping"})
    assert (await next_frame(laptop_ws))["type"] == "pong"
    assert [s["id"] for s in await sessions(client, alice.access_token)] == [sid(alice.access_token)]
    # Ended already: 404.
    resp = await client.delete(f"/api/v1/auth/sessions/{sid(phone['access_token'])}", headers=alice.headers)
    await problem_of(resp, 404)
    await laptop_ws.close()


async def test_only_ones_own_sessions_can_be_ended(client, make_user):
    alice, mallory = await make_user(), await make_user()
    resp = await client.delete(f"/api/v1/auth/sessions/{sid(alice.access_token)}", headers=mallory.headers)
    await problem_of(resp, 404)
    await problem_of(await client.delete("/api/v1/auth/sessions/999999999", headers=mallory.headers), 404)
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status == 200
    assert [s["id"] for s in await sessions(client, mallory.access_token)] == [sid(mallory.access_token)]
    await problem_of(await client.get("/api/v1/auth/sessions"), 401)
    await problem_of(await client.delete(f"/api/v1/auth/sessions/{sid(alice.access_token)}"), 401)


async def test_ending_the_current_session_is_a_logout(client, make_user):
    alice = await make_user()
    ws, _ = await connect(client, alice)
    resp = await client.delete(f"/api/v1/auth/sessions/{sid(alice.access_token)}", headers=alice.headers)
    assert resp.status == 204
    await closed_with(ws, 4001)
    await problem_of(await client.get("/api/v1/users/me", headers=alice.headers), 401)


async def test_sessions_list_pages(client, make_user):
    alice = await make_user()
    for _ in range(3):
        await login(client, alice)
    resp = await client.get("/api/v1/auth/sessions", params={"limit": 2}, headers=alice.headers)
    first = await resp.json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    resp = await client.get("/api/v1/auth/sessions", params={"limit": 2, "before": first["next_cursor"]},
                            headers=alice.headers)
    second = await resp.json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    assert {s["id"] for s in first["items"] + second["items"]} == {s["id"] for s in await sessions(client, alice.access_token)}
