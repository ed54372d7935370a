"""Many concurrent sends across two processes: what the send path batches (statements in one round
trip, every event of a commit and of concurrent commits in one Redis pipeline, frames ready at once
in one socket write) never delivers a message before it is stored, never loses or repeats one, and
keeps every user's stream gap-free and in seq order, live and on resume."""

from __future__ import annotations

import asyncio

import aiohttp
import aiomysql
import pytest

from server import chat
from server.errors import DmNotAllowed
from tests.helpers import next_frame
from tests.test_multiworker import _register, _socket, start_servers  # noqa: F401, F811 - the fixture

PAIRS, PER_SENDER = 6, 25


async def _read_stream(ws, frames: list[dict], done: asyncio.Event, expected: int, session, url, me) -> None:
    """Collect stream frames; each message.created is looked up over REST at once (must be stored)."""
    created = 0
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        frame = msg.json()
        if "seq" not in frame:
            continue
        frames.append(frame)
        if frame["type"] == "message.created" and frame["data"]["recipient_id"] == me["id"]:
            async with session.get(f"{url}/api/v1/messages/{frame['data']['id']}", headers=me["headers"]) as resp:
                frame["stored_status"] = resp.status
            created += 1
            if created == expected:
                done.set()


@pytest.mark.slow
async def test_concurrent_sends_across_processes_are_stored_then_delivered_once_in_order(start_servers):  # noqa: F811
    a, b = await asyncio.to_thread(start_servers, 2)
    async with aiohttp.ClientSession() as session:
        senders = [await _register(session, a.url) for _ in range(PAIRS)]
        recipients = [await _register(session, b.url) for _ in range(PAIRS)]
        # Every sender on process a, every recipient on process b.
        out = [await _socket(session, a.url, s) for s in senders]
        into = [await _socket(session, b.url, r) for r in recipients]
        await asyncio.sleep(0.3)  # SUBSCRIBEs reach Redis
        received: list[list[dict]] = [[] for _ in range(PAIRS)]
        all_in = [asyncio.Event() for _ in range(PAIRS)]
        readers = [asyncio.create_task(_read_stream(ws, received[i], all_in[i], PER_SENDER, session, b.url,
                                                    recipients[i]))
                   for i, ws in enumerate(into)]

        async def send_all(i: int) -> dict[str, int]:
            ws, to = out[i], recipients[i]["id"]
            for n in range(PER_SENDER):  # without waiting for acks: the sends overlap
                await ws.send_json({"type": "message.send",
                                    "data": {"to": to, "content": f"m{n}", "client_id": f"c{i}-{n}"}})
            acks: dict[str, int] = {}
            while len(acks) < PER_SENDER:
                frame = await next_frame(ws, wait=30)
                assert frame["type"] != "error", frame
                if frame["type"] == "message.ack":
                    acks[frame["data"]["client_id"]] = frame["data"]["message"]["id"]
            return acks

        acks = await asyncio.gather(*(send_all(i) for i in range(PAIRS)))
        async with asyncio.timeout(30):
            for event in all_in:
                await event.wait()

        for i in range(PAIRS):
            me = recipients[i]
            frames = received[i]
            seqs = [f["seq"] for f in frames]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "gap-free, in order, once"
            created = [f for f in frames if f["type"] == "message.created"]
            assert len(created) == PER_SENDER
            assert {f["data"]["client_id"]: f["data"]["id"] for f in created} == acks[i], "each ack delivered once"
            assert all(f["stored_status"] == 200 for f in created), "delivered only once stored"
            # A sender's messages arrive in the order it sent them.
            assert [f["data"]["content"] for f in created] == [f"m{n}" for n in range(PER_SENDER)]
            assert sum(1 for f in frames if f["type"] == "notification.created") == PER_SENDER
            # Stored: the conversation holds every acknowledged message, nothing else.
            async with session.get(f"{b.url}/api/v1/conversations/{senders[i]['id']}/messages?limit=100",
                                   headers=me["headers"]) as resp:
                assert resp.status == 200
                stored = {m["client_id"]: m["id"] for m in (await resp.json())["items"]}
            assert stored == acks[i]
            # Resume by seq replays exactly what was delivered live, on the other process too.
            again = await session.ws_connect(f"{a.url}/api/v1/ws?last_seq={seqs[0] - 1}", headers=me["headers"])
            assert (await next_frame(again, wait=10))["type"] == "hello"
            replayed = []
            while len(replayed) < len(frames):
                frame = await next_frame(again, wait=10)
                if "seq" in frame:  # not presence
                    replayed.append(frame)
            assert [(f["seq"], f["type"], f["data"]) for f in replayed] == \
                   [(f["seq"], f["type"], f["data"]) for f in frames]
            await again.close()

        for ws in out + into:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)


async def test_concurrent_sends_of_a_process_share_their_round_trips(client, make_user, monkeypatch):
    bob = await make_user()
    senders = [await make_user() for _ in range(8)]
    bob_ws = await client.ws_connect("/api/v1/ws", headers=bob.headers)
    assert (await next_frame(bob_ws))["type"] == "hello"
    trips: list[str] = []
    execute_command = aiomysql.Connection._execute_command

    async def counting(self, command, sql):
        text = sql if isinstance(sql, str) else sql.decode(errors="replace")
        if not text.upper().startswith("SET "):  # a new pooled connection's session settings
            trips.append(text)
        return await execute_command(self, command, sql)

    monkeypatch.setattr(aiomysql.Connection, "_execute_command", counting)
    sent = await asyncio.gather(*(chat.send_message(client.app, s.id, recipient_id=bob.id, content=f"g{i}",
                                                    client_id=f"g{i}") for i, s in enumerate(senders)))
    # The first FLIGHTS are stored at once, each on its own; the others, which arrived meanwhile,
    # together: the three round trips of a send (messages; conversations, notifications and seqs;
    # log rows and COMMIT) happened FLIGHTS + 1 times for the eight.
    for statement in ("INSERT INTO messages", "INSERT INTO conversations", "INSERT INTO user_events"):
        assert sum(1 for trip in trips if statement in trip) == chat.FLIGHTS + 1, (statement, trips)
    group = next(trip for trip in trips if "INSERT INTO messages" in trip and "'g7'" in trip)
    assert group.count("INSERT INTO messages") == len(senders) - chat.FLIGHTS
    assert all(created for _, created in sent)
    frames = [await next_frame(bob_ws, wait=10) for _ in range(2 * len(senders))]
    assert [f["seq"] for f in frames] == list(range(frames[0]["seq"], frames[0]["seq"] + len(frames)))
    pushed = {f["data"]["id"]: f["data"] for f in frames if f["type"] == "message.created"}
    assert pushed == {msg["id"]: msg for msg, _ in sent}
    notes = [f["data"] for f in frames if f["type"] == "notification.created"]
    assert sorted(n["message_id"] for n in notes) == sorted(pushed)
    for msg, _ in sent:  # stored as pushed
        resp = await client.get(f"/api/v1/messages/{msg['id']}", headers=bob.headers)
        assert resp.status == 200 and await resp.json() == msg


async def test_a_refused_or_retried_send_in_a_group_gets_its_own_answer(client, make_user):
    bob = await make_user()
    senders = [await make_user() for _ in range(5)]
    resp = await client.put(f"/api/v1/users/{senders[2].id}/block", headers=bob.headers)
    assert resp.status == 200
    first, _ = await chat.send_message(client.app, senders[3].id, recipient_id=bob.id, content="once",
                                       client_id="again")
    results = await asyncio.gather(
        *(chat.send_message(client.app, s.id, recipient_id=bob.id, content=f"r{i}",
                            client_id="again" if i == 3 else f"r{i}") for i, s in enumerate(senders)),
        return_exceptions=True)
    assert isinstance(results[2], DmNotAllowed)
    assert results[3] == (first, False)  # the retry: the stored message, not a new one
    for i in (0, 1, 4):
        msg, created = results[i]
        assert created and msg["content"] == f"r{i}"
    resp = await client.get(f"/api/v1/conversations/{senders[2].id}/messages", headers=bob.headers)
    assert resp.status == 200 and (await resp.json())["items"] == []  # nothing of the refused one
    resp = await client.get(f"/api/v1/conversations/{senders[3].id}/messages", headers=bob.headers)
    assert [m["id"] for m in (await resp.json())["items"]] == [first["id"]]
