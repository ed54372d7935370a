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

from server import deletion, events, moderation, search
from server.keys import DB
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)
EVERY = 600.0
# Timed suspensions lift themselves within this many seconds of their end.
FREQUENT = 5.0
# Search's index of the newest posts is looked at (and rebuilt when it spans two windows) this often.
SEARCH_INDEX = 60.0
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


async def _every(seconds: float, job, app: web.Application, what: str) -> None:
    """Run job(app) every `seconds`; log what it did, and a failure (MySQL away: next time)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            done = await job(app)
            if any(done.values()):
                log.info("%s: %s", what, done)
        except Exception as exc:
            log.warning("%s failed: %s", what, exc)


async def run_frequent(app: web.Application) -> dict[str, int]:
    """One pass of the frequent work; every worker may run it (each item is claimed under a lock)."""
    return {"suspensions_lifted": await moderation.lift_due(app),
            "accounts_deleted": await deletion.run_pending(app),
            "files_removed": await deletion.remove_orphans(app)}


async def search_index(app: web.Application) -> dict[str, int]:
    """Rebuild search's index of the newest posts when it has grown (one worker at a time)."""
    return {"search_index_rebuilt": await search.trim_index(app[DB])}


async def housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(_every(EVERY, run_once, app, "housekeeping")),
             asyncio.create_task(_every(FREQUENT, run_frequent, app, "background work")),
             asyncio.create_task(_every(SEARCH_INDEX, search_index, app, "search index"))]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
