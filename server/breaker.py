"""A circuit breaker for one dependency: after a failure, calls fail fast for a cool-down; then one probe decides.

States. *closed*: calls go through; the first timeout or connection error opens the breaker.
*open*: calls are refused at once (the caller takes its fallback) for `cooldown` seconds.
*half_open*: one probe call runs (in the background, so no request pays for it) while calls are
still refused; success closes the breaker and runs the on-close hooks (e.g. the WebSocket hub tops
sockets up from MySQL, since publishes were skipped), failure opens it for another cool-down.

Calls already waiting when it opens (inside `breaker.waiting()`) are released at once with
TimeoutError, so during a freeze a caller waits at most until the first timeout, not a whole
timeout of its own.

A single failure opens it: a timeout of a dependency that normally answers in well under a
millisecond means it is frozen, gone or saturated, and every request that waits for it pays the
whole timeout. The probe runs by itself, so the breaker closes shortly after the dependency
answers again even when no request asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)
Hook = Callable[[], Coroutine[Any, Any, object]]


class CircuitBreaker:
    """One dependency's breaker. `probe()` is awaited (bounded by `probe_timeout`) to test it again."""

    def __init__(self, name: str, *, cooldown: float, probe: Hook | None = None, probe_timeout: float = 1.0):
        self.name = name
        self.cooldown = cooldown
        self.probe = probe
        self.probe_timeout = probe_timeout
        self.state = CLOSED
        self.since = time.monotonic()  # of the current state
        self.last_error: str | None = None
        self.transitions = dict.fromkeys(STATES, 0)  # entries into each state
        self.rejected = 0  # calls refused while not closed
        self._on_close: list[Hook] = []
        self._tasks: set[asyncio.Task] = set()
        self._waiting: set[asyncio.Timeout] = set()
        self._closed = asyncio.Event()
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self.state == CLOSED

    def allow(self) -> bool:
        """Whether a call may go to the dependency now (counts a refusal when not)."""
        if self.state == CLOSED:
            return True
        self.rejected += 1
        return False

    def failure(self, exc: BaseException) -> None:
        """A call failed with a timeout or connection error: open (once) and start recovering."""
        if self.state != CLOSED:
            return  # calls in flight when it opened: nothing new
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]
        log.warning("%s circuit breaker open for %.2fs after %s", self.name, self.cooldown, self.last_error)
        self._enter(OPEN)
        self._spawn(self._recover())

    def waiting(self) -> _Waiting:
        """`async with breaker.waiting():` around a call; TimeoutError if the breaker opens meanwhile."""
        return _Waiting(self)

    def on_close(self, hook: Hook) -> None:
        """Run hook() every time the breaker closes again (after an outage)."""
        self._on_close.append(hook)

    def remove_on_close(self, hook: Hook) -> None:
        with contextlib.suppress(ValueError):
            self._on_close.remove(hook)

    async def wait_closed(self) -> None:
        """Wait until the breaker is closed (bound it with asyncio.timeout)."""
        await self._closed.wait()

    def describe(self) -> str:
        if self.closed:
            return "closed"
        return f"{self.state} for {time.monotonic() - self.since:.1f}s after {self.last_error}"

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}-breaker")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _enter(self, state: str) -> None:
        self.state = state
        self.since = time.monotonic()
        self.transitions[state] += 1
        if state == CLOSED:
            self._closed.set()
        else:
            self._closed.clear()
        if state == OPEN and self._waiting:
            now = asyncio.get_running_loop().time()
            for timeout in list(self._waiting):
                timeout.reschedule(now)

    async def _recover(self) -> None:
        while True:
            await asyncio.sleep(self.cooldown)
            self._enter(HALF_OPEN)
            try:
                if self.probe is not None:
                    await asyncio.wait_for(self.probe(), self.probe_timeout)
            except Exception as exc:  # still down: another cool-down
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
                self._enter(OPEN)
                continue
            break
        log.warning("%s circuit breaker closed: the probe succeeded", self.name)
        self._enter(CLOSED)
        for hook in list(self._on_close):
            try:
                await hook()
            except Exception:
                log.exception("%s breaker on-close hook failed", self.name)


class _Waiting:
    """An asyncio.timeout without a deadline until the breaker opens (then: now)."""

    __slots__ = ("_breaker", "_timeout")

    def __init__(self, breaker: CircuitBreaker):
        self._breaker = breaker
        self._timeout = asyncio.timeout(None)

    async def __aenter__(self) -> None:
        await self._timeout.__aenter__()
        self._breaker._waiting.add(self._timeout)

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        self._breaker._waiting.discard(self._timeout)
        return await self._timeout.__aexit__(*exc_info)
