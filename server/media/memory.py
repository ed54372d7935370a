"""Image work's memory: bounded while pictures are worked on, given back to the system after.

Cleaning a picture holds full-size copies of it (Pillow keeps RGB at 4 bytes a pixel: 160 MB a
copy at 40 megapixels) and the encoder's buffers. Freed, that memory stayed in the process: glibc
raises its mmap threshold to the size of the largest block freed (up to 32 MB), so from the
second picture on Pillow's 16 MB pixel blocks came from the heap, and each executor thread has a
heap (arena) of its own. So:

- blocks of 1 MB and more are always mmapped (setting M_MMAP_THRESHOLD also stops glibc from
  raising it): freeing pixels, an upload's bytes or an encoder's buffers unmaps them at once;
- malloc_trim after each picture hands back what smaller allocations left free in any arena;
- at most media.image_jobs pictures are worked on at once per process. intake drops each copy of
  a picture as soon as the next exists (a photo peaks at about 8 bytes a pixel), so this bounds
  what uploads add to a process while they run, whatever server.blocking_threads is.

Measured (tests/test_upload_memory.py, 20 maximal uploads, JPEG and PNG, two at a time, four
executor threads): RSS 88 -> peak 1129 -> 888 MB after, before this; 89 -> 727 -> 96 MB with it,
for 2% more server CPU (memory is faulted in afresh for each picture instead of reused).

Not chosen:
- a process pool recycled after N tasks (tried): its forkserver (26 MB) and multiprocessing's
  resource tracker (12 MB) stay for good, and the upload and result crossing the pipe left
  +30 MB in the server by the same glibc behaviour, so it needed this module anyway, plus a copy
  each way and, on Python 3.11, its own recycling (max_tasks_per_child deadlocks, gh-115634);
- JPEG draft()/reduce(): the stored picture is full size, so it is decoded whole anyway;
- a lower pixel limit: it would refuse photos accepted today.
Without glibc (musl, jemalloc) the calls below do nothing; those allocators give large blocks back
by themselves.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")

try:
    _LIBC: Any = ctypes.CDLL(None)  # the process's own symbols, libc's among them
except OSError:  # pragma: no cover - not a POSIX system
    _LIBC = None
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20

# One semaphore per event loop (an asyncio.Semaphore belongs to the loop it first waits on);
# tests run many loops in one process.
_limits: dict[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = {}


@functools.cache
def _mmap_large_blocks() -> bool:
    """Process-wide, so set on the first picture rather than on import; True when applied."""
    mallopt = getattr(_LIBC, "mallopt", None)
    return bool(mallopt is not None and mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def trim_heap() -> None:
    """Return free heap pages to the system (glibc's malloc_trim; elsewhere nothing)."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _trimmed(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    finally:
        trim_heap()


def _limit(jobs: int) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    held = _limits.get(loop)
    if held is None or held[0] != jobs:
        for old in [old for old in _limits if old.is_closed()]:
            del _limits[old]
        held = _limits[loop] = (jobs, asyncio.Semaphore(jobs))
    return held[1]


async def run_image_work(media, executor: Executor | None, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in `executor`, at most media.image_jobs at a time in this process, the heap
    trimmed after. media: the media config section."""
    _mmap_large_blocks()
    async with _limit(media.image_jobs):
        return await asyncio.get_running_loop().run_in_executor(executor, _trimmed, fn, *args)
