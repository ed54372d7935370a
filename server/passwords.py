"""bcrypt hashing, always in the executor so the event loop never blocks, admitted through a bounded
queue: past it a fast 503 with Retry-After instead of a queue every login waits in."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import bcrypt
from aiohttp import web

from server.errors import ServiceUnavailable
from server.keys import CONFIG, EXECUTOR, SERVICES

T = TypeVar("T")

# Seconds a refused hash waits before its 503 (HashGate.check).
REFUSAL_PAUSE = 0.1
# Hashed for unknown logins so they cost the same time as a wrong password.
_DUMMY: dict[int, bytes] = {}


class HashingBusy(ServiceUnavailable):
    """503 `busy`: more password hashes are waiting than auth.hash_queue allows (logins, registrations,
    password changes and resets, account deletion). Retry-After says when the queue will have drained."""

    slug = "busy"

    def __init__(self, retry_after: int):
        super().__init__("Too many logins at once; retry shortly.", retry_after=retry_after)


class HashGate:
    """At most `threads` hashes run at once (the executor's threads: one each) and at most `queue` wait
    for them; one more is refused at once. Without the bound a burst of logins queues in the executor,
    each waiting for every hash before it, and clients time out while the server still works for them.

    Retry-After is the time the admitted hashes need (a moving average of one hash's duration)."""

    def __init__(self, threads: int, queue: int):
        self.threads, self.queue = max(1, threads), max(0, queue)
        self.slots = asyncio.Semaphore(self.threads)
        self.admitted = 0  # running + waiting
        self.seconds = 0.25  # one hash, moving average (bcrypt cost 12 on one core, to start with)

    def retry_after(self) -> int:
        return max(1, math.ceil(self.admitted / self.threads * self.seconds))

    async def check(self) -> None:
        """HashingBusy if a hash would not be admitted now: callers refuse before any other work.

        The refusal waits REFUSAL_PAUSE first. A client that ignores Retry-After and retries at once
        (a load generator, a naive script) would otherwise spin the event loop on refusals alone and
        slow every other request of the process; the pause caps each such connection's retries at a
        few per second, and 0.1 s is still an answer long before any client timeout."""
        if self.admitted >= self.threads + self.queue:
            await asyncio.sleep(REFUSAL_PAUSE)
            raise HashingBusy(self.retry_after())

    async def run(self, app: web.Application, fn: Callable[..., T], *args: Any) -> T:
        await self.check()
        self.admitted += 1
        try:
            async with self.slots:
                started = time.monotonic()
                result = await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], fn, *args)
                self.seconds = 0.8 * self.seconds + 0.2 * (time.monotonic() - started)
                return result
        finally:
            self.admitted -= 1


def gate(app: web.Application) -> HashGate:
    """This process's gate (created on first use, sized like the executor)."""
    services = app[SERVICES]
    if "hash_gate" not in services:
        config = app[CONFIG]
        threads = config.server.blocking_threads or max(1, (os.cpu_count() or 2) - 1)  # as the executor
        services["hash_gate"] = HashGate(threads, config.auth.hash_queue)
    return services["hash_gate"]


async def hash_password(app: web.Application, password: str) -> str:
    rounds = app[CONFIG].auth.bcrypt_rounds
    hashed = await gate(app).run(app, lambda: bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)))
    return hashed.decode()


async def verify_password(app: web.Application, password: str, hashed: str | None) -> bool:
    """Constant work whether or not the user exists (hashed=None checks a dummy hash)."""
    loop = asyncio.get_running_loop()
    rounds = app[CONFIG].auth.bcrypt_rounds
    if hashed is None:
        if rounds not in _DUMMY:  # once per process, outside the gate: it is not a client's hash
            _DUMMY[rounds] = await loop.run_in_executor(
                app[EXECUTOR], lambda: bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds)))
        target, real = _DUMMY[rounds], False
    else:
        target, real = hashed.encode(), True
    try:
        ok = await gate(app).run(app, bcrypt.checkpw, password.encode(), target)
    except ValueError:  # malformed stored hash
        return False
    return ok and real
