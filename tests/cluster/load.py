"""The cluster test's clients: chat pairs over WebSockets and HTTP readers/writers, all through HAProxy.

A chat user sends to its peer at a steady rate; every message has a client_id and is resent
(same client_id: the server answers with the stored message) until it is acknowledged. A socket
that drops reconnects through the load balancer with ?last_seq=. Every stream frame's seq is
checked (no gap, no repeat) and every message the peer receives is counted, so lost and
duplicated messages are exact counts.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

PHASES: list[str] = []  # the current phase is PHASES[-1]


def phase() -> str:
    return PHASES[-1] if PHASES else "setup"


@dataclass
class Sent:
    client_id: str
    phase: str
    first_sent: float
    last_try: float = 0.0
    tries: int = 0
    message_id: int | None = None
    acked_at: float | None = None


@dataclass
class ChatUser:
    user_id: int
    token: str
    url: str  # ws://lb/api/v1/ws
    peer: int = 0
    # New users: their stream starts at 0, so the first socket replays whatever a peer sent
    # before it was open (a client without last_seq only gets what comes after its hello).
    last_seq: int | None = 0
    ws: aiohttp.ClientWebSocketResponse | None = None
    host: str = ""  # app host of the current socket (X-Served-By)
    hosts: list[str] = field(default_factory=list)
    connects: int = 0
    connect_failures: int = 0
    resets: int = 0
    seq_gaps: int = 0
    seq_repeats: int = 0
    errors: Counter = field(default_factory=Counter)
    sent: dict[str, Sent] = field(default_factory=dict)
    received: Counter = field(default_factory=Counter)  # message id -> times received from the peer
    received_at: dict[int, float] = field(default_factory=dict)
    disconnected_at: float | None = None
    last_frame_at: float = 0.0
    reconnect_times: list[float] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._session(session, stop)
            except (TimeoutError, aiohttp.ClientError, ConnectionError, OSError) as exc:
                self.connect_failures += 1
                self.errors[type(exc).__name__] += 1
            if self.disconnected_at is None:
                self.disconnected_at = time.monotonic()
            self.ws = None
            if not stop.is_set():
                await asyncio.sleep(0.2 + random.random() * 0.3)

    async def _session(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        url = self.url + (f"?last_seq={self.last_seq}" if self.last_seq is not None else "")
        async with session.ws_connect(url, headers={"Authorization": f"Bearer {self.token}"},
                                      heartbeat=10, timeout=aiohttp.ClientWSTimeout(ws_close=2)) as ws:
            self.host = ws._response.headers.get("X-Served-By", "?")
            self.hosts.append(self.host)
            self.connects += 1
            if self.disconnected_at is not None:
                self.reconnect_times.append(time.monotonic() - self.disconnected_at)
                self.disconnected_at = None
            self.ws = ws
            for item in self.sent.values():  # unacknowledged ones go again on the new socket
                if item.message_id is None:
                    await self._send(item)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                self._on_frame(json.loads(msg.data))
                if stop.is_set():
                    break

    def _on_frame(self, frame: dict) -> None:
        self.last_frame_at = time.monotonic()
        type_, data, seq = frame.get("type"), frame.get("data") or {}, frame.get("seq")
        if type_ == "hello":
            if self.last_seq is None:
                self.last_seq = data["seq"]
            return
        if type_ == "reset":
            self.resets += 1
            self.last_seq = data["seq"]
            return
        if seq is not None:
            if self.last_seq is not None and seq <= self.last_seq:
                self.seq_repeats += 1
                return
            if self.last_seq is not None and seq != self.last_seq + 1:
                self.seq_gaps += 1
            self.last_seq = seq
        if type_ == "message.ack":
            self._acked(data.get("client_id"), (data.get("message") or {}).get("id"))
        elif type_ == "message.created":
            if data.get("sender_id") == self.peer and data.get("recipient_id") == self.user_id:
                self.received[data["id"]] += 1
                self.received_at.setdefault(data["id"], time.monotonic())
            elif data.get("sender_id") == self.user_id:
                self._acked(data.get("client_id"), data.get("id"))
        elif type_ == "error":
            self.errors[f"frame:{data.get('code')}"] += 1

    def _acked(self, client_id: str | None, message_id: int | None) -> None:
        item = self.sent.get(client_id or "")
        if item is not None and item.message_id is None and message_id is not None:
            item.message_id, item.acked_at = message_id, time.monotonic()

    async def _send(self, item: Sent) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        item.last_try, item.tries = time.monotonic(), item.tries + 1
        try:
            await ws.send_json({"type": "message.send", "data": {
                "to": self.peer, "content": f"m {item.client_id}", "client_id": item.client_id}})
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            pass  # the reader notices; the message goes again after the reconnect

    async def sender(self, interval: float, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.random() * interval)
        while not stop.is_set():
            now = time.monotonic()
            client_id = f"{self.user_id}-{next(self._counter)}"
            item = self.sent[client_id] = Sent(client_id, phase(), now)
            await self._send(item)
            await self.resend(3.0)
            await asyncio.sleep(interval)

    async def resend(self, older_than: float) -> None:
        now = time.monotonic()
        for item in self.sent.values():
            if item.message_id is None and now - item.last_try > older_than:
                await self._send(item)


@dataclass
class Request:
    phase: str
    kind: str
    start: float
    end: float
    status: int | None  # None: no HTTP answer (connection error)
    error: str | None
    served_by: str | None
    read_from: str | None


class HttpUser:
    """Reads the public timeline, the home feed and profiles, writes posts, at a steady rate."""

    def __init__(self, user_id: int, token: str, base: str, others: list[int], log: list[Request]):
        self.user_id, self.token, self.base, self.others, self.log = user_id, token, base, others, log
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, session: aiohttp.ClientSession, kind: str, method: str, path: str,
                   body: dict | None = None) -> tuple[int | None, dict | list | None]:
        start = time.monotonic()
        status = served = read_from = error = None
        payload = None
        try:
            async with session.request(method, self.base + path, json=body, headers=self.headers,
                                       timeout=aiohttp.ClientTimeout(total=15)) as resp:
                status = resp.status
                served, read_from = resp.headers.get("X-Served-By"), resp.headers.get("X-Read-From")
                if resp.content_type == "application/json":
                    payload = await resp.json()
                else:
                    await resp.read()
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            error = type(exc).__name__
        self.log.append(Request(phase(), kind, start, time.monotonic(), status, error, served, read_from))
        return status, payload

    async def run(self, session: aiohttp.ClientSession, interval: float, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.random() * interval)
        n = 0
        while not stop.is_set():
            n += 1
            pick = random.random()
            if pick < 0.45:
                await self.call(session, "timeline", "GET", "/api/v1/posts?limit=20")
            elif pick < 0.6:
                await self.call(session, "feed", "GET", "/api/v1/feed?limit=20")
            elif pick < 0.8:
                await self.call(session, "profile", "GET", f"/api/v1/users/{random.choice(self.others)}")
            else:
                await self.call(session, "post", "POST", "/api/v1/posts", {"content": f"post {self.user_id}-{n}"})
            await asyncio.sleep(interval)


async def register(session: aiohttp.ClientSession, base: str, name: str) -> tuple[int, str]:
    body = {"username": name, "email": f"{name}@example.com", "password": "cluster password 1"}
    for attempt in range(5):
        try:
            async with session.post(base + "/api/v1/auth/register", json=body) as resp:
                if resp.status == 201:
                    data = await resp.json()
                    return data["user"]["id"], data["access_token"]
                text = await resp.text()
        except aiohttp.ClientError as exc:
            text = repr(exc)
        await asyncio.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"could not register {name}: {text}")
