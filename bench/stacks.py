"""py-spy's raw output (collapsed stacks) read and summarised: where a worker's samples went.

`py-spy record --format raw` writes one line per distinct stack: `frame;frame;...;frame count`, root
first, each frame `function (path:line)`. With `--threads` the first frame names the thread
(`thread (1234): MainThread`); with `--idle` the samples in which a thread was waiting are kept.
For the server's event-loop thread a waiting sample ends in the frame that entered the loop
(`run_app (aiohttp/web.py)` under uvloop, `EpollSelector.select` under the stdlib loop): those are
counted as idle and left out of the shares, which are shares of the busy samples.

Pure functions only (no processes, no files): bench/profiling.py runs py-spy and writes the reports.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# A frame as the tables show it: (function, package/module path), line numbers merged.
Frame = tuple[str, str]

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<path>.+?)(?::(?P<line>\d+))?\)$")
_THREAD = re.compile(r"^thread \((?P<tid>[^)]*)\)(?::\s*(?P<name>.*))?$")
MAIN_THREAD = "MainThread"

# The last Python frame of an event-loop thread that is waiting for I/O (the loop itself runs in C
# under uvloop, so the wait shows as the frame that entered it). Under uvloop a sample in which the
# loop does C work of its own (reading a socket, scheduling callbacks) ends there too, while a worker
# that waits for a core (a saturated machine) is caught mid-code and counts as busy: the worker's
# CPU % from /proc is the cross-check.
IDLE_FRAMES: frozenset[Frame] = frozenset({
    ("run_app", "aiohttp/web.py"),
    ("Runner.run", "asyncio/runners.py"),
    ("run", "uvloop/__init__.py"),
    ("BaseEventLoop.run_forever", "asyncio/base_events.py"),
    ("BaseEventLoop.run_until_complete", "asyncio/base_events.py"),
    # An executor's thread waiting for work (the server's "blocking" and uvloop's getaddrinfo pools).
    ("_worker", "concurrent/futures/thread.py"),
    ("Condition.wait", "threading.py"),
})
IDLE_MODULES = frozenset({"selectors.py"})  # EpollSelector.select & co: the stdlib loop's wait


@dataclass(frozen=True)
class Stack:
    thread: str | None  # "MainThread", "ThreadPoolExecutor-0_0", ... (None without --threads)
    frames: tuple[Frame, ...]  # root first
    count: int


@dataclass
class Summary:
    samples: int = 0  # samples of the profiled thread(s)
    idle: int = 0  # of which the event loop was waiting
    other_threads: int = 0  # samples of other threads, left out
    inclusive: Counter[Frame] = field(default_factory=Counter)  # busy samples with the frame on the stack
    self: Counter[Frame] = field(default_factory=Counter)  # busy samples with the frame as the leaf

    @property
    def busy(self) -> int:
        return self.samples - self.idle

    @property
    def idle_share(self) -> float | None:
        return self.idle / self.samples if self.samples else None

    def top_inclusive(self, n: int = 40) -> list[tuple[Frame, float]]:
        return _shares(self.inclusive, self.busy, n)

    def top_self(self, n: int = 25) -> list[tuple[Frame, float]]:
        return _shares(self.self, self.busy, n)


def short_path(path: str) -> str:
    """py-spy already shortens paths to the package part (`server/http/middlewares.py`); a full
    path (`--full-filenames`, or a file outside sys.path) is cut to its last two components."""
    if "site-packages/" in path:
        return path.rsplit("site-packages/", 1)[1]
    if path.startswith("/"):
        return "/".join(path.rstrip("/").split("/")[-2:])
    return path


def parse_frame(text: str) -> Frame:
    m = _FRAME.match(text.strip())
    if m is None:
        return text.strip(), ""
    return m.group("func"), short_path(m.group("path"))


def parse_raw(text: str) -> list[Stack]:
    """Every `frames count` line of py-spy's raw output; malformed lines are skipped."""
    stacks = []
    for line in text.splitlines():
        body, _, count = line.rstrip().rpartition(" ")
        if not body or not count.isdigit():
            continue
        parts = body.split(";")
        thread = None
        m = _THREAD.match(parts[0])
        if m is not None:
            thread = (m.group("name") or m.group("tid")).strip()
            parts = parts[1:]
        if parts and parts[0].startswith("process "):  # --subprocesses
            parts = parts[1:]
        stacks.append(Stack(thread, tuple(parse_frame(p) for p in parts if p.strip()), int(count)))
    return stacks


def is_idle(frames: tuple[Frame, ...]) -> bool:
    """A sample whose leaf is the frame that entered the event loop, or the selector's wait."""
    if not frames:
        return False
    leaf = frames[-1]
    return leaf in IDLE_FRAMES or leaf[1] in IDLE_MODULES


def main_thread(stacks: list[Stack]) -> str | None:
    """The thread to summarise: MainThread (the event loop) when it is named, else the busiest."""
    counts: Counter[str] = Counter()
    for s in stacks:
        if s.thread is not None:
            counts[s.thread] += s.count
    if not counts:
        return None
    return MAIN_THREAD if MAIN_THREAD in counts else counts.most_common(1)[0][0]


def summarise(stacks: list[Stack], thread: str | None = None) -> Summary:
    """Samples of `thread` (default main_thread(); every stack when py-spy ran without --threads):
    idle ones counted apart; for the busy ones, each frame's inclusive count (once per sample even
    when it recurses) and each leaf's self count."""
    thread = main_thread(stacks) if thread is None else thread
    out = Summary()
    for s in stacks:
        if thread is not None and s.thread != thread:
            out.other_threads += s.count
            continue
        out.samples += s.count
        if is_idle(s.frames):
            out.idle += s.count
            continue
        for frame in set(s.frames):
            out.inclusive[frame] += s.count
        if s.frames:
            out.self[s.frames[-1]] += s.count
    return out


@dataclass(frozen=True)
class ThreadActivity:
    name: str
    samples: int
    busy: int
    leaf: Frame | None  # the most frequent busy leaf

    def describe(self) -> str:
        if not self.busy:
            return f"{self.name} idle"
        text = f"{self.name} busy in {self.busy / self.samples * 100:.0f} % of its samples"
        return text + (f" (mostly {frame_label(self.leaf)})" if self.leaf else "")


def other_threads(stacks: list[Stack], main: str | None) -> list[ThreadActivity]:
    """What the threads left out of summarise() did (the bcrypt executor during logins...), busiest first."""
    samples: Counter[str] = Counter()
    busy: Counter[str] = Counter()
    leaves: dict[str, Counter[Frame]] = {}
    for s in stacks:
        if s.thread is None or s.thread == main:
            continue
        samples[s.thread] += s.count
        if not is_idle(s.frames) and s.frames:
            busy[s.thread] += s.count
            leaves.setdefault(s.thread, Counter())[s.frames[-1]] += s.count
    out = [ThreadActivity(name, n, busy[name], leaves[name].most_common(1)[0][0] if name in leaves else None)
           for name, n in samples.items()]
    return sorted(out, key=lambda t: (-t.busy, t.name))


def _shares(counts: Counter[Frame], total: int, n: int) -> list[tuple[Frame, float]]:
    if total <= 0:
        return []
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(frame, count / total) for frame, count in ranked]


def frame_label(frame: Frame) -> str:
    func, path = frame
    return f"{func} ({path})" if path else func


def table(rows: list[tuple[Frame, float]]) -> list[str]:
    """`   15.8 %  _docs (server/documents.py)` lines."""
    return [f"{share * 100:7.1f} %  {frame_label(frame)}" for frame, share in rows]


def reading(cpu: dict[str, float], idle_share: float | None, cores: int) -> str:
    """One sentence on what bounds the scenario, from the CPU split (100 = one core)."""
    worker, db = cpu.get("worker", 0.0), cpu.get("mariadb", 0.0)
    host = cpu.get("host", 0.0)
    idle = f", idle {idle_share * 100:.0f} % of its samples" if idle_share is not None else ""
    head = f"worker busy {worker:.0f} % of one core{idle}, MariaDB {db:.0f} %"
    if db > worker:
        return f"{head}: the database bounds this scenario"
    if worker >= 85:
        return f"{head}: the Python worker bounds this scenario (one core; see Top self)"
    if cores and host >= 90 * cores:
        return f"{head}: the machine is saturated ({host:.0f} % of {cores} cores): the load generator and " \
               "the services compete with the worker"
    return f"{head}: neither saturates a core: waits (connection pool, Redis, locks) bound this scenario"
