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
