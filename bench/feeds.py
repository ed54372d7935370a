"""Home-feed measurement: steady state (timelines warmed first) versus cold first reads.

The server keeps one Redis timeline per user, built from SQL on that user's first read and fanned
out on write afterwards. The feed scenarios pick among ~1,000 tokens, so an unwarmed 10 s run would
mostly time cold builds. `warm` reads every scenario user's first page once before the measured run
(steady state); `feed_cold` instead bumps the timeline generation (`<prefix>tl:gen`, the server's own
invalidation: every cached timeline is then cold) right before its run, and its script walks, in
order, users that no other scenario reads (`cold_tokens`), so every measured read is a first read
until the walk wraps around (Notes say whether it did).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import aiohttp

FEED_PATH = "/api/v1/feed"
WARM_CONCURRENCY = 16
WARM_LIMIT = 60.0  # seconds, the whole warm-up
WARM_REQUEST_TIMEOUT = 10.0


async def warm(base: str, tokens: list[str], concurrency: int = WARM_CONCURRENCY, limit: float = WARM_LIMIT,
               path: str = FEED_PATH) -> dict:
    """GET base+path once per token (bounded: `limit` seconds in all); a summary with every failure counted."""
    todo = list(reversed(tokens))
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=WARM_REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def worker() -> None:
            while todo:
                token = todo.pop()
                try:
                    async with session.get(base + path, headers={"Authorization": f"Bearer {token}"}) as resp:
                        await resp.read()
                        statuses[str(resp.status)] += 1
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    errors[type(exc).__name__] += 1

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return summarize(len(tokens), statuses, errors, time.monotonic() - started)


def summarize(users: int, statuses: dict[str, int], errors: dict[str, int], seconds: float) -> dict:
    """What a warm-up did: answered (any status), ok (2xx), failures by status or exception, and
    how many users were never answered (the time limit ran out first, or the request failed)."""
    answered = sum(statuses.values())
    ok = sum(n for code, n in statuses.items() if 200 <= int(code) < 300)
    failures = {code: n for code, n in statuses.items() if not 200 <= int(code) < 300}
    failures.update(errors)
    return {"users": users, "answered": answered, "ok": ok, "failures": dict(sorted(failures.items())),
            "unanswered": max(users - answered, 0), "seconds": round(seconds, 2),
            "complete": ok == users}


def warm_note(summary: dict) -> str:
    """One Notes phrase, e.g. 'warmed 1,000 timelines in 6.2 s, 0 errors'."""
    failures = summary.get("failures") or {}
    errs = ", ".join(f"{k}×{v}" for k, v in failures.items()) if failures else "0 errors"
    if summary["complete"]:
        return f"warmed {summary['users']:,} timelines in {summary['seconds']:.1f} s, {errs}"
    missing = summary["users"] - summary["ok"]
    return (f"warm-up INCOMPLETE: {summary['ok']:,}/{summary['users']:,} timelines in {summary['seconds']:.1f} s "
            f"({missing:,} not warmed: {errs}; {summary['unanswered']:,} unanswered) — partly cold reads")


def all_reads_cold(requests: int, users: int) -> bool:
    """feed_cold walks `users` in order after one generation bump: every read is a user's first
    read of the new generation until the walk wraps around."""
    return users > 0 and requests <= users


def gen_key(prefix: str) -> str:
    return f"{prefix}tl:gen"


class Generation:
    """The server's timeline generation (`<prefix>tl:gen`): INCR it and every cached timeline is cold."""

    def __init__(self, redis_url: str, prefix: str):
        import redis

        self.client = redis.Redis.from_url(redis_url, socket_timeout=5)
        self.key = gen_key(prefix)
        self.prefix = prefix
        self.gens: list[int] = []  # what each bump returned
        self.errors: list[str] = []

    def bump(self) -> int | None:
        try:
            gen = int(self.client.incr(self.key))
        except Exception as exc:  # noqa: BLE001 - reported in Notes, the run goes on
            self.errors.append(f"{type(exc).__name__}: {exc}"[:120])
            return None
        self.gens.append(gen)
        return gen

    def drop_stale(self, limit: int = 2_000_000) -> int:
        """Delete the timelines of the generations this object left behind (unreachable: they would only
        hold Redis memory until their TTL). Returns how many keys went."""
        deleted = 0
        try:
            for gen in stale_generations(self.gens):
                batch = []
                for n, key in enumerate(self.client.scan_iter(match=f"{self.prefix}tl:{gen}:*", count=1000)):
                    batch.append(key)
                    if len(batch) >= 1000:
                        deleted += self.client.delete(*batch)
                        batch = []
                    if n > limit:
                        break
                if batch:
                    deleted += self.client.delete(*batch)
        except Exception as exc:  # noqa: BLE001 - only housekeeping
            self.errors.append(f"{type(exc).__name__}: {exc}"[:120])
        return deleted

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


def stale_generations(gens: list[int]) -> list[int]:
    """Generations left behind by bumps that returned `gens`: from the one in use before the first
    bump (0 when the key did not exist) up to, not including, the current one."""
    if not gens:
        return []
    return list(range(max(min(gens) - 1, 0), max(gens)))


def cold_note(bumped: bool, requests: int, users: int, threads: int, errors: list[str]) -> str:
    """Notes for a feed_cold row: how it was made cold and whether every read was a first read."""
    if not bumped:
        return "NOT cold: the timeline generation could not be bumped (" + "; ".join(errors) + ")"
    text = (f"cold: timeline generation bumped at the start, {threads} wrk thread(s) walk {users:,} users "
            "no other scenario reads")
    if all_reads_cold(requests, users):
        return text + f": all {requests:,} reads were first reads"
    return text + f": the walk wrapped, {max(requests - users, 0):,} of {requests:,} reads may have been warm"
