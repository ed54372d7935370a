"""Periodic clean-up: the event log past its TTL, old idempotency records, reset tokens, sessions,
mutes that ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server import events
from server.keys import DB
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)
EVERY = 600.0
BATCH = 1000


async def _batched(app: web.Application, sql: str) -> int:
    total = 0
    while True:
        n = await app[DB].execute(sql, {"limit": BATCH})
        total += n
        if n < BATCH:
            return total


async def run_once(app: web.Application) -> dict[str, int]:
    """One pass; every worker may run it (deletes of expired rows are idempotent)."""
    return {
        "events": await events.prune_expired(app),
        "idempotency_keys": await _batched(app, Q.idempotency.purge),
        "password_resets": await _batched(app, Q.housekeeping.password_resets),
        "sessions": await _batched(app, Q.housekeeping.sessions),
        "mutes": await _batched(app, Q.housekeeping.mutes),
    }


async def _loop(app: web.Application) -> None:
    while True:
        await asyncio.sleep(EVERY)
        try:
            removed = await run_once(app)
            if any(removed.values()):
                log.info("housekeeping removed %s", removed)
        except Exception as exc:  # MySQL away: try again next time
            log.warning("housekeeping failed: %s", exc)


async def housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_loop(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
