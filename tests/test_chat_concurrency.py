"""Many concurrent sends across two processes: what the send path batches (statements in one round
trip, every event of a commit and of concurrent commits in one Redis pipeline, frames ready at once
in one socket write) never delivers a message before it is stored, never loses or repeats one, and
keeps every user's stream gap-free and in seq order, live and on resume."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.helpers import next_frame
from tests.test_multiworker import _register, _socket, start_servers  # noqa: F401, F811 - the fixture

pytestmark = pytest.mark.slow

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
