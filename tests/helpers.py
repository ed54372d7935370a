"""Assertions shared by the tests."""

from __future__ import annotations


async def problem_of(resp, status: int) -> dict:
    """Assert a problem+json answer with `status` and return its body."""
    assert resp.status == status, f"{resp.status} != {status}: {await resp.text()}"
    assert resp.content_type == "application/problem+json", resp.content_type
    body = await resp.json(content_type=None)
    assert body["status"] == status
    assert body["title"]
    assert "X-Request-ID" in resp.headers
    return body


async def next_frame(ws, type: str | None = None, wait: float = 5.0) -> dict:
    """The next JSON frame from a WebSocket client (of `type`, skipping others); fails after `wait` seconds."""
    import asyncio

    import aiohttp

    async with asyncio.timeout(wait):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a frame, got {msg.type} {msg.data!r}"
            frame = msg.json()
            if type is None or frame["type"] == type:
                return frame


async def no_frame(ws, type: str | None = None, wait: float = 0.3) -> None:
    """Assert that no frame (of `type`) arrives within `wait` seconds."""
    try:
        frame = await next_frame(ws, type, wait=wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame {frame}")


async def closed_with(ws, code: int, wait: float = 5.0) -> None:
    """Assert that the server closes a WebSocket client with `code` within `wait` seconds.

    The code is read from the CLOSE frame itself: the client's own close_code may say 1006 when
    the server drops the connection before the client's closing handshake is written."""
    import asyncio

    import aiohttp

    async with asyncio.timeout(wait):
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.CLOSE:
                assert msg.data == code, (msg.data, msg.extra)
                return
            if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                assert ws.close_code == code, (ws.close_code, msg)
                return
