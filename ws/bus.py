"""Pub/sub between worker processes: one interface, an in-memory and a Redis implementation."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
Callback = Callable[[str, str], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


class Bus(ABC):
    """Channels carry strings; subscribers are called with (channel, message)."""

    #: Changes whenever messages to this process may have been lost (a reconnect, a stall):
    #: state kept up to date by bus messages (the session cache) is stale once it changes.
    epoch = 0

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Callback]] = defaultdict(set)
        self._reconnect_hooks: list[Hook] = []

    def delivering(self) -> bool:
        """True while a message published now reaches this process's subscribers (the link is
        known to be up); False tells caches fed by the bus to go to the source instead."""
        return True

    async def flush(self) -> None:  # noqa: B027 - backends with a connection override
        """Return once the subscriptions made so far are in force (bounded)."""

    async def announce(self, channel: str, message: str) -> None:
        """Publish a rare message that must not be skipped (a session revocation): past any
        circuit breaker, raising when it cannot be sent so the caller can retry."""
        await self.publish(channel, message)

    def on_reconnect(self, hook: Hook) -> None:
        """Call hook after the bus (re)connects: messages published meanwhile may have been lost."""
        self._reconnect_hooks.append(hook)

    async def _reconnected(self) -> None:
        for hook in list(self._reconnect_hooks):
            try:
                await hook()
            except Exception:
                log.exception("bus reconnect hook failed")

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def stop(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def publish(self, channel: str, message: str) -> None: ...

    async def publish_many(self, items: list[tuple[str, str]]) -> None:
        """Publish (channel, message) pairs in this order (a backend may send them together)."""
        for channel, message in items:
            await self.publish(channel, message)

    async def subscribe(self, channel: str, callback: Callback) -> None:
        first = not self._subscribers[channel]
        self._subscribers[channel].add(callback)
        if first:
            await self._listen(channel)

    async def unsubscribe(self, channel: str, callback: Callback) -> None:
        subs = self._subscribers.get(channel)
        if not subs:
            return
        subs.discard(callback)
        if not subs:
            del self._subscribers[channel]
            await self._unlisten(channel)

    async def _listen(self, channel: str) -> None:  # noqa: B027 - backends that need it override
        pass

    async def _unlisten(self, channel: str) -> None:  # noqa: B027
        pass

    async def _deliver(self, channel: str, message: str) -> None:
        for callback in list(self._subscribers.get(channel, ())):
            try:
                await callback(channel, message)
            except Exception:
                log.exception("bus subscriber failed on %s", channel)


class MemoryBus(Bus):
    """Single process: publish calls the subscribers directly."""

    async def publish(self, channel: str, message: str) -> None:
        await self._deliver(channel, message)
        await asyncio.sleep(0)
