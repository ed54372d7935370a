"""Periodic work: clean-up of the event log past its TTL, old idempotency records, reset tokens and
sessions, mutes that ended, usernames of long deleted accounts (every EVERY seconds); and, every
FREQUENT seconds, timed suspensions that ran out, account deletions not done yet (a restart resumes
them) and files left to remove."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server import deletion, events, moderation
from server.keys import DB
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)
EVERY = 600.0
# Timed suspensions lift themselves within this many seconds of their end.
FREQUENT = 5.0
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
        "usernames_released": await deletion.release_usernames(app),
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


async def run_frequent(app: web.Application) -> dict[str, int]:
    """One pass of the frequent work; every worker may run it (each item is claimed under a lock)."""
    return {"suspensions_lifted": await moderation.lift_due(app),
            "accounts_deleted": await deletion.run_pending(app),
            "files_removed": await deletion.remove_orphans(app)}


async def _frequent_loop(app: web.Application) -> None:
    while True:
        await asyncio.sleep(FREQUENT)
        try:
            done = await run_frequent(app)
            if any(done.values()):
                log.info("background work done: %s", done)
        except Exception as exc:  # MySQL away: try again next time
            log.warning("background work failed: %s", exc)


async def housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(_loop(app)), asyncio.create_task(_frequent_loop(app))]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
