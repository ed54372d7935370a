"""Socket.IO at /socket.io/ with python-socketio's client: auth, origins, frames and acks, resume.

The same hub serves it: these tests mix it with the native socket. socket.io-client (npm) across
two workers is tests/test_socketio_js.py.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest
import socketio

from server.keys import SERVICES
from tests.helpers import next_frame
from tests.test_ws import connect, send

EVENTS = ["hello", "reset", "message.created", "message.updated", "message.deleted", "message.read",
          "notification.created", "notification.read", "typing", "presence", "message.ack", "error",
          "pong", "close"]


class Client:
    """A python-socketio AsyncClient that records every event as a native-like frame."""

    def __init__(self):
        self.sio = socketio.AsyncClient(reconnection=False)
        self.frames: asyncio.Queue[dict] = asyncio.Queue()
        for name in EVENTS:
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str):
        async def record(payload=None):
            await self.frames.put({"type": name, **(payload or {})})
        return record

    async def connect(self, client, transports=("websocket",), headers=None, **auth) -> dict:
        await self.sio.connect(str(client.make_url("/")), auth=auth, transports=list(transports),
                               headers=headers or {}, wait_timeout=5)
        return await self.next("hello")

    async def next(self, type: str | None = None, wait: float = 5.0) -> dict:
        async with asyncio.timeout(wait):
            while True:
                frame = await self.frames.get()
                if type is None or frame["type"] == type:
                    return frame

    async def nothing(self, wait: float = 0.3) -> None:
        with contextlib.suppress(TimeoutError):
            frame = await self.next(wait=wait)
            raise AssertionError(f"unexpected event {frame}")

    async def close(self) -> None:
        await self.sio.disconnect()


@pytest.fixture
async def sio_client():
    made: list[Client] = []

    def make() -> Client:
        made.append(Client())
        return made[-1]

    yield make
    for c in made:
        await c.close()


async def refused(client, **kwargs) -> str:
    """Connect and expect a refusal; the reason the server gave (connect_error's message)."""
    c = socketio.AsyncClient(reconnection=False)
    reasons: list = []
    c.on("connect_error", lambda data=None: reasons.append(data))
    try:
        with pytest.raises(socketio.exceptions.ConnectionError) as err:
            await c.connect(str(client.make_url("/")), transports=["websocket"], wait_timeout=5, **kwargs)
    finally:
        await c.disconnect()
    if not reasons or not isinstance(reasons[0], dict):  # refused before Socket.IO (HTTP)
        return f"{err.value} {reasons}"
    data = reasons[0]
    assert data["data"]["status"] in (400, 401) and data["data"]["detail"] == data["message"], data
    return data["message"]


async def test_bad_or_missing_credentials_are_refused(client, make_user):
    alice = await make_user()
    assert "not valid" in await refused(client, auth={"token": "not-a-token"})
    assert "auth" in await refused(client, auth={})
    assert "auth" in await refused(client)
    assert "ticket" in await refused(client, auth={"ticket": "made-up"})
    assert "last_seq" in await refused(client, auth={"token": alice.access_token, "last_seq": -1})
    resp = await client.post("/api/v1/auth/logout", headers=alice.headers)
    assert resp.status == 204
    assert "session has ended" in await refused(client, auth={"token": alice.access_token})
    assert not client.app[SERVICES]["hub"].users


async def test_foreign_origin_is_refused_allowed_origin_connects(client, make_user, sio_client):
    alice = await make_user()
    await refused(client, auth={"token": alice.access_token}, headers={"Origin": "https://evil.example"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/socket.io/", params={"EIO": "4", "transport": "websocket"},
                                origin="https://evil.example")
    assert err.value.status == 403
    assert not client.app[SERVICES]["hub"].users
    resp = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"},
                            headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    resp = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"},
                            headers={"Origin": "http://localhost:3000"})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    c = sio_client()
    hello = await c.connect(client, token=alice.access_token, headers={"Origin": "http://localhost:3000"})
    assert hello == {"type": "hello", "data": {"user_id": alice.id, "seq": 0}}


async def test_ticket_is_single_use_and_header_auth_works(client, make_user, sio_client):
    alice = await make_user()
    ticket = (await (await client.post("/api/v1/ws/ticket", headers=alice.headers)).json())["ticket"]
    hello = await sio_client().connect(client, ticket=ticket)
    assert hello["data"]["user_id"] == alice.id
    assert "ticket" in await refused(client, auth={"ticket": ticket})
    hello = await sio_client().connect(client, headers=alice.headers)
    assert hello["data"]["user_id"] == alice.id


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_frames_with_acks_and_events_shared_with_the_native_socket(client, make_user, sio_client, transport):
    alice, bob = await make_user(), await make_user()
    a = sio_client()
    await a.connect(client, transports=[transport], token=alice.access_token)
    bob_ws, _ = await connect(client, bob)  # native
    bob_sio = sio_client()
    await bob_sio.connect(client, transports=[transport], token=bob.access_token)

    answer = await a.sio.call("message.send", {"to": bob.id, "content": "over socket.io", "client_id": "s-1"},
                              timeout=5)
    assert answer["type"] == "message.ack" and answer["data"]["client_id"] == "s-1"
    msg = answer["data"]["message"]
    native = await next_frame(bob_ws, "message.created")
    assert native["data"] == msg
    created = await bob_sio.next("message.created")
    assert created == native  # same event name, same {seq, data}
    assert (await bob_sio.next("notification.created"))["seq"] == native["seq"] + 1
    assert (await a.next("message.created"))["data"] == msg  # the sender's own stream
    await a.nothing()  # the answer came as the ack, not as an event

    err = await a.sio.call("message.send", {"to": alice.id, "content": "me", "client_id": "s-3"}, timeout=5)
    assert err["type"] == "error" and err["data"]["client_id"] == "s-3" and err["data"]["code"] == "validation"
    assert (await a.sio.call("nope", {}, timeout=5))["data"]["code"] == "unknown_type"
    assert (await a.sio.call("typing", [1, 2], timeout=5))["data"]["code"] == "bad_frame"
    assert await a.sio.call("ping", timeout=5) == {"type": "pong", "data": {}}

    # typing: no answer (an empty ack); the peer gets {data} without seq, on both transports
    assert await a.sio.call("typing", {"to": bob.id}, timeout=5) is None
    assert await bob_sio.next("typing") == {"type": "typing", "data": {"user_id": alice.id}}
    assert (await next_frame(bob_ws, "typing"))["data"] == {"user_id": alice.id}

    # without an acknowledgement the answer arrives as an event, as on the native socket
    await a.sio.emit("ping")
    assert await a.next("pong") == {"type": "pong", "data": {}}
    await a.sio.emit("typing", {"to": 999999})
    assert (await a.next("error"))["data"]["code"] == "not_found"
    await bob_ws.close()


async def test_resume_with_auth_last_seq_and_reset(client, make_user, sio_client):
    alice, bob = await make_user(), await make_user()
    b = sio_client()
    await b.connect(client, token=bob.access_token)
    await send(client, alice, bob, "first")
    await b.next("message.created")
    last = (await b.next("notification.created"))["seq"]
    await b.close()
    missed = [await send(client, alice, bob, f"away {i}") for i in range(3)]

    b2 = sio_client()
    hello = await b2.connect(client, token=bob.access_token, last_seq=last)
    assert hello["data"]["seq"] == last + 6
    replay = [await b2.next() for _ in range(6)]
    assert [f["seq"] for f in replay] == list(range(last + 1, last + 7))
    assert [f["data"]["id"] for f in replay if f["type"] == "message.created"] == [m["id"] for m in missed]
    live = await send(client, alice, bob, "live")
    frame = await b2.next("message.created")
    assert frame["seq"] == last + 7 and frame["data"]["id"] == live["id"]
    await b2.next("notification.created")
    await b2.nothing()

    b3 = sio_client()
    hello = await b3.connect(client, token=bob.access_token, last_seq=10_000)
    assert await b3.next() == {"type": "reset", "data": {"seq": hello["data"]["seq"]}}


async def test_presence_counts_a_socketio_connection(client, make_user, sio_client):
    alice, bob = await make_user(), await make_user()
    await send(client, alice, bob, "so we are peers")
    bob_ws, _ = await connect(client, bob)
    a = sio_client()
    await a.connect(client, token=alice.access_token)
    assert (await next_frame(bob_ws, "presence"))["data"] == {"user_id": alice.id, "online": True}
    hub = client.app[SERVICES]["hub"]
    assert (await hub.is_online([alice.id]))[alice.id]
    await a.close()
    # Under load a repeated "online" (the same state again) may come first; then "offline".
    frame = await next_frame(bob_ws, "presence")
    while frame["data"] == {"user_id": alice.id, "online": True}:
        frame = await next_frame(bob_ws, "presence")
    assert frame["data"] == {"user_id": alice.id, "online": False}
    await bob_ws.close()


async def test_logout_closes_the_socketio_connection_with_4001(client, make_user, sio_client):
    alice = await make_user()
    a = sio_client()
    await a.connect(client, token=alice.access_token)
    resp = await client.post("/api/v1/auth/logout", headers=alice.headers)
    assert resp.status == 204
    assert await a.next("close") == {"type": "close", "code": 4001, "reason": "session revoked"}
    async with asyncio.timeout(5):
        while a.sio.connected:  # noqa: ASYNC110 - polling the client's state
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    assert not client.app[SERVICES]["hub"].users


async def test_frame_rate_limit_and_shutdown_close_like_the_native_socket(make_config, aiohttp_client, make_user,
                                                                         sio_client):
    from server.app import create_app

    client = await aiohttp_client(create_app(make_config(ratelimit={"enabled": True, "ws_frames": "3/60"})))
    alice = await make_user()
    a = sio_client()
    await a.connect(client, token=alice.access_token)
    for _ in range(3):
        assert (await a.sio.call("ping", timeout=5))["type"] == "pong"
    await a.sio.emit("ping")
    assert await a.next("close") == {"type": "close", "code": 1008, "reason": "too many frames"}

    b = sio_client()
    await b.connect(client, token=alice.access_token)
    closer = asyncio.create_task(client.server.close())
    assert await b.next("close") == {"type": "close", "code": 1001, "reason": "server shutting down"}
    await asyncio.wait_for(closer, 10)
