"""WebSocket flow control: a resume replays a backlog as large as the replay log, in order and once,
to fast and slow readers alike; the 64 KiB frame limit is exact."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType

from server.app import create_app
from server.keys import CONFIG, SERVICES
from tests.helpers import next_frame, no_frame

WS = "/api/v1/ws"
MAX_FRAME = 65_536


async def connect(client, user, **params):
    ws = await client.ws_connect(WS, headers=user.headers, params=params or None)
    hello = await next_frame(ws)
    assert hello["type"] == "hello" and hello["data"]["user_id"] == user.id
    return ws, hello


async def send_over_socket(ws, to: int, contents: list[str], window: int = 25) -> list[dict]:
    """Send the messages as `message.send` frames, `window` at a time, and return their acks in order.

    A client that only writes while the server's replies pile up unread would stop being read itself.
    """
    tag, acks = uuid.uuid4().hex[:8], []
    async with asyncio.timeout(60):
        for start in range(0, len(contents), window):
            chunk = contents[start:start + window]
            for i, content in enumerate(chunk, start):
                await ws.send_json({"type": "message.send",
                                    "data": {"to": to, "content": content, "client_id": f"{tag}-{i}"}})
            while len(acks) < start + len(chunk):
                frame = await next_frame(ws, wait=30)
                assert frame["type"] != "error", frame
                if frame["type"] == "message.ack":
                    acks.append(frame["data"]["message"])
    return acks


async def read_stream(ws, until_seq: int, *, pause: float = 0.0, wait: float = 30.0) -> list[dict]:
    """Every stream frame up to until_seq (pausing after each one to read slowly); fails on a close."""
    frames = []
    async with asyncio.timeout(wait):
        while not frames or frames[-1]["seq"] < until_seq:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, (msg.type, msg.data, ws.close_code, len(frames))
            frame = msg.json()
            if "seq" in frame:
                frames.append(frame)
            if pause:
                await asyncio.sleep(pause)
    return frames


async def backlog(client, make_user, messages: int, content: str = ""):
    """X says hello and leaves; Y sends X `messages` messages (two stream events each) meanwhile."""
    x, y = await make_user(), await make_user()
    x_ws, hello = await connect(client, x)
    await x_ws.close()
    y_ws, _ = await connect(client, y)
    sent = await send_over_socket(y_ws, x.id, [f"while away {i} {content}" for i in range(messages)])
    return x, y, y_ws, hello["data"]["seq"], sent


def small_receive_buffer(addr_info) -> socket.socket:
    """A client socket with a small kernel receive buffer: what it does not read stays at the server."""
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    return sock


def send_buffer_max() -> int:
    """The most a server socket's kernel send buffer grows to (Linux: tcp_wmem)."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


async def test_resume_after_a_1000_event_backlog_replays_everything_in_order(client, make_user):
    assert client.app[CONFIG].bus.replay_max == 1000  # the backlog is as large as the replay log
    x, y, y_ws, last_seq, sent = await backlog(client, make_user, 500)

    started = time.monotonic()
    x_ws, hello = await connect(client, x, last_seq=last_seq)
    assert hello["data"]["seq"] == last_seq + 1000  # message.created + notification.created each
    replay = await read_stream(x_ws, hello["data"]["seq"])
    took = time.monotonic() - started
    seqs = [f["seq"] for f in replay]
    assert seqs == list(range(last_seq + 1, last_seq + 1001))  # every event, in order, none twice
    created = [f["data"]["id"] for f in replay if f["type"] == "message.created"]
    assert created == [m["id"] for m in sent]
    await no_frame(x_ws)
    assert not x_ws.closed
    print(f"\nresume of 1000 events: delivered {len(replay)}, lost 0, duplicated 0, closed 0, {took:.2f} s")

    live = (await send_over_socket(y_ws, x.id, ["back online"]))[0]
    frame = await next_frame(x_ws, "message.created")
    assert frame["data"]["id"] == live["id"] and frame["seq"] == last_seq + 1001
    await x_ws.close()
    await y_ws.close()


async def test_a_slow_reader_is_not_dropped_during_catch_up_and_live_events_stay_in_order(
        make_config, aiohttp_client, make_user):
    client = await aiohttp_client(create_app(make_config(ws={"send_queue": 16})))
    hub = client.app[SERVICES]["hub"]
    # ~20 KB message frames, more of them than the kernel buffers hold: the catch-up has to wait
    # for the reader, again and again (a send queue of 16).
    big = "\U0001f600" * 4980
    messages = min(450, send_buffer_max() // len(big.encode()) + 50)
    x, y, y_ws, last_seq, sent = await backlog(client, make_user, messages, big)

    connector = aiohttp.TCPConnector(socket_factory=small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as session:
        x_ws = await session.ws_connect(client.make_url(WS), headers=x.headers, params={"last_seq": last_seq})
        hello = await next_frame(x_ws)
        assert hello["type"] == "hello" and hello["data"]["seq"] == last_seq + 2 * messages
        started = time.monotonic()
        reader = asyncio.create_task(read_stream(x_ws, hello["data"]["seq"] + 40, pause=0.004))
        await asyncio.sleep(0.3)
        (sock,) = hub.users[x.id]
        live, during = [], 0
        for i in range(20):  # live messages while the catch-up waits for the reader
            during += sock.catchup is not None
            live += await send_over_socket(y_ws, x.id, [f"live {i}"])
        replay = await reader
        took = time.monotonic() - started
        seqs = [f["seq"] for f in replay]
        assert seqs == list(range(last_seq + 1, hello["data"]["seq"] + 41))  # in order, once each
        created = [f["data"]["id"] for f in replay if f["type"] == "message.created"]
        assert created == [m["id"] for m in sent + live]
        await no_frame(x_ws)
        assert not x_ws.closed
        assert during > 0, "the catch-up was over before the live messages: too few bytes to slow it"
        print(f"\nslow reader: delivered {len(replay)} ({2 * messages} replayed, ~20 KB each, + 40 live, "
              f"{during} sent during the catch-up), lost 0, duplicated 0, closed 0, {took:.2f} s")
        await x_ws.close()
    await y_ws.close()


# --- the frame size limit (API.md: a frame may be at most 64 KiB) ---------------------------------

def frame_of_size(size: int, type_: str = "ping", key: str = "pad") -> str:
    """A JSON text frame of exactly `size` bytes: {"type": type_, "data": {key: "xxx…"}}."""
    head, tail = f'{{"type": "{type_}", "data": {{"{key}": "', '"}}'
    text = head + "x" * (size - len(head) - len(tail)) + tail
    assert len(text.encode()) == size
    return text


@pytest.mark.parametrize("compress", [0, 15], ids=["plain", "deflate"])
async def test_a_frame_of_exactly_64_kib_is_served_one_byte_more_closes_1009(client, make_user, compress):
    alice = await make_user()
    ws = await client.ws_connect(WS, headers=alice.headers, compress=compress)
    assert (await next_frame(ws))["type"] == "hello"
    await ws.send_str(frame_of_size(MAX_FRAME))
    assert await next_frame(ws) == {"type": "pong", "data": {}}

    # Exactly 64 KiB of an invalid frame is an ordinary error frame, not a close.
    await ws.send_str(frame_of_size(MAX_FRAME, "typing", "to"))
    assert (await next_frame(ws, "error"))["data"]["code"] == "validation"

    await ws.send_str(frame_of_size(MAX_FRAME + 1))
    async with asyncio.timeout(5):
        while (msg := await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            assert msg.type == WSMsgType.TEXT and msg.json()["type"] != "pong", msg
    assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
