"""Fault: Redis restarts in the middle of a busy chat between two users on two worker processes.

No healthy socket is closed, every message arrives once — live, or by the catch-up after the bus
reconnects — within 5 s of Redis answering again, and what arrived is what the REST API stored.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.test_multiworker import Server, _env, _register, _socket

pytestmark = pytest.mark.slow

RATE = 50  # messages a second, each way (at most WINDOW unacked: a slow machine sends fewer)
WINDOW = 25
CHAT_FOR = 9.0  # seconds of chat
REDIS_DOWN_AT, REDIS_DOWN_FOR = 2.5, 3.0
# Each socket gets 3 stream events a message pair (its own message, the peer's and its
# notification): even a slow machine leaves it a backlog larger than this send queue.
SEND_QUEUE = 64
HEAL = 5.0  # every message is in within this long of Redis answering again (or of its ack)


@dataclass
class Side:
    """One user with one socket: sends, and records everything that comes back."""

    user: dict
    ws: aiohttp.ClientWebSocketResponse
    sent: dict[str, float] = field(default_factory=dict)  # client_id → when the frame went out
    acked: dict[int, float] = field(default_factory=dict)  # message id → when its ack came
    received: dict[int, list[float]] = field(default_factory=dict)  # the peer's message id → arrivals
    seqs: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    acks: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        while (msg := await self.ws.receive()).type == WSMsgType.TEXT:
            frame, now = msg.json(), time.monotonic()
            if "seq" in frame:
                self.seqs.append(frame["seq"])
            if frame["type"] == "message.ack":
                self.acked[frame["data"]["message"]["id"]] = now
                self.acks.set()
            elif frame["type"] == "message.created" and frame["data"]["sender_id"] != self.user["id"]:
                self.received.setdefault(frame["data"]["id"], []).append(now)
            elif frame["type"] == "error":
                self.errors.append(frame["data"])
        self.closes.append(f"{msg.type.name} {self.ws.close_code} {msg.extra!r}")
        self.acks.set()

    async def chat(self, to: int, until: float) -> None:
        start, tag, i = time.monotonic(), uuid.uuid4().hex[:6], 0
        while (now := time.monotonic()) < until:
            await asyncio.sleep(max(0.0, start + i / RATE - now))
            while len(self.sent) - len(self.acked) >= WINDOW and not self.closes:
                self.acks.clear()
                await self.acks.wait()
            if self.closes:
                return  # counted as closed (and unacked) below
            client_id = f"{tag}-{i}"
            self.sent[client_id] = time.monotonic()
            await self.ws.send_json({"type": "message.send",
                                     "data": {"to": to, "content": f"m{i}", "client_id": client_id}})
            i += 1


async def _worker_sockets(url: str) -> int:
    """Open sockets on the worker process that answers this (new) connection."""
    async with aiohttp.ClientSession() as fresh, fresh.get(url + "/metrics") as resp:
        text = await resp.text()
    return int(float(re.search(r"^chatter_websockets_open (\S+)$", text, re.M).group(1)))


async def _on_other_worker(session, url: str, user: dict, tries: int = 30):
    """A socket of user on the worker that does not hold the only other open socket.

    With exactly two sockets open, any worker holding exactly one proves they are on different ones.
    """
    for _ in range(tries):
        ws = await _socket(session, url, user)
        if await _worker_sockets(url) == 1:  # 0 or 2: both on one worker
            return ws
        await ws.close()
        await asyncio.sleep(0.1)  # the closed socket leaves the hub
    raise AssertionError("every new connection landed on the same worker")


def _count(side: Side, peer: Side, stored: list[int], down_at: float, up_at: float) -> dict:
    """What side sent and peer got, against what the REST API stored."""
    def lag(mid: int) -> float:  # arrival after the later of its ack and Redis answering again
        first = peer.received[mid][0]
        return first - max(side.acked.get(mid, first), up_at)

    while_down = [mid for mid, t in side.acked.items() if down_at <= t <= up_at]
    seqs = peer.seqs
    return {
        "sent": len(side.sent), "acked": len(side.acked), "stored": len(stored),
        "delivered": len(set(peer.received) & set(stored)),
        "lost": len(set(stored) - set(peer.received)),
        "duplicated": sum(len(times) - 1 for times in peer.received.values()),
        "not_stored": len(set(side.acked) - set(stored)) + len(set(peer.received) - set(stored)),
        "late": sum(1 for mid in peer.received if lag(mid) > HEAL),
        "seq_gaps": sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b != a + 1),
        "acked_while_down": len(while_down),
        "healed_in_s": round(max((lag(m) for m in while_down if m in peer.received), default=0.0), 2),
        "max_lag_s": round(max((lag(mid) for mid in peer.received), default=0.0), 2),
        "sockets_closed": len(side.closes) + len(peer.closes), "errors": len(side.errors),
    }


async def _stored(session, url: str, viewer: dict, peer: dict) -> list[dict]:
    items, after = [], 0
    while True:
        async with session.get(f"{url}/api/v1/conversations/{peer['id']}/messages",
                               params={"after": after, "limit": 100}, headers=viewer["headers"]) as resp:
            assert resp.status == 200, await resp.text()
            page = await resp.json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        after = page["next_cursor"]


async def test_redis_restart_mid_chat_closes_no_socket_and_loses_nothing(services, tmp_path, private_redis):
    env = _env(services, tmp_path, f"test:{uuid.uuid4().hex[:12]}:")
    env["CHATTER_REDIS__URL"] = f"redis://127.0.0.1:{private_redis.port}/0"
    env["CHATTER_WS__SEND_QUEUE"] = str(SEND_QUEUE)
    t0 = time.monotonic()
    server = Server(env, tmp_path, workers=2)
    try:
        await asyncio.to_thread(server.wait_ready)
        t1 = time.monotonic()
        async with aiohttp.ClientSession() as session:
            await _chat_through_a_restart(session, server.url, private_redis)
        t2 = time.monotonic()
    finally:
        await asyncio.to_thread(server.stop)
    print(f"  start {t1 - t0:.1f} s, chat {t2 - t1:.1f} s, stop {time.monotonic() - t2:.1f} s")


async def _chat_through_a_restart(session, url: str, redis) -> None:
    x_user, y_user = await _register(session, url), await _register(session, url)
    x_ws = await _socket(session, url, x_user)
    y_ws = await _on_other_worker(session, url, y_user)
    x, y = (Side(u, ws) for u, ws in ((x_user, x_ws), (y_user, y_ws)))
    readers = [asyncio.create_task(s.read()) for s in (x, y)]
    await asyncio.sleep(0.3)  # SUBSCRIBEs reach Redis

    until = time.monotonic() + CHAT_FOR
    chatting = asyncio.gather(x.chat(y.user["id"], until), y.chat(x.user["id"], until))
    await asyncio.sleep(REDIS_DOWN_AT)
    await asyncio.to_thread(redis.stop)
    down_at = time.monotonic()
    await asyncio.sleep(REDIS_DOWN_FOR)
    await asyncio.to_thread(redis.restart)  # returns once Redis accepts connections again
    up_at = time.monotonic()
    await chatting

    # Every frame is acked, then every acked message reaches the peer; or a deadline passes.
    async def settled(done, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not (x.closes or y.closes) and not done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await settled(lambda: all(len(s.acked) == len(s.sent) for s in (x, y)), 15)
    last_ack = max((t for s in (x, y) for t in s.acked.values()), default=up_at)
    await settled(lambda: all(set(s.acked) <= set(p.received) for s, p in ((x, y), (y, x))),
                  max(up_at, last_ack) + HEAL + 1 - time.monotonic())
    await asyncio.sleep(0.3)  # duplicates, if any, would arrive now

    counts = {}
    for side, peer, name in ((x, y, "x→y"), (y, x, "y→x")):
        stored = [m["id"] for m in await _stored(session, url, peer.user, side.user)
                  if m["sender_id"] == side.user["id"]]
        counts[name] = _count(side, peer, stored, down_at, up_at)
    print(f"\nRedis down {up_at - down_at:.2f} s, {REDIS_DOWN_AT} s into {CHAT_FOR} s of chat "
          f"at up to {RATE} msg/s each way, 2 workers, send queue {SEND_QUEUE}:\n"
          + "\n".join(f"  {name}: {c}" for name, c in counts.items()))
    for c in counts.values():
        assert c["sockets_closed"] == 0 and c["errors"] == 0  # 0 healthy sockets closed, every frame served
        assert c["sent"] == c["acked"] == c["stored"] == c["delivered"] > 0
        assert c["lost"] == c["duplicated"] == c["not_stored"] == c["late"] == c["seq_gaps"] == 0
        assert c["acked_while_down"] > 0  # the outage did hit the chat

    for side in (x, y):
        await side.ws.close()
    await asyncio.gather(*readers)
