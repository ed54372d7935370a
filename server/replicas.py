"""MariaDB read replicas: lag-tolerant reads in rotation over healthy replicas, read-your-writes.

- `app[DB].read()` (or `replica=True` on a fetch helper) routes a read to a replica in rotation;
  everything else, and every read once the request has written, stays on the primary.
- Read-your-writes: after a commit in a request by a signed-in user, the write's GTID
  (@@last_gtid) is kept in Redis for database.read_your_writes_window seconds. A later read by
  that user goes to a replica only after `MASTER_GTID_WAIT(gtid, database.replica_wait)` says the
  replica has applied it; else to the primary. When the GTID is unknown (no binary log) or Redis
  cannot tell, the user reads from the primary.
- Health: each process probes each replica every database.replica_probe_interval seconds (SHOW
  SLAVE STATUS). A replica that is down, not replicating or lagging past database.replica_max_lag
  leaves the rotation; it comes back after two good probes. A read that fails on a replica because
  it went away is retried on the primary at once (reads are idempotent), so a replica stopping
  costs no error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pymysql
from aiohttp import web

from server.config import db_parts
from server.db import Conn, Database, is_unavailable
from server.keys import CONFIG, DB, METRICS, PRINCIPAL, REDIS
from server.metrics import Metrics

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 1.0  # a replica that does not answer quickly is skipped, not waited for
PROBE_TIMEOUT = 2.0
RISE = 2  # good probes in a row before a replica rejoins the rotation
PRIMARY = "primary"
_UNKNOWN = "-"  # stored when the write's GTID is unknown: read the primary for the window

# Keep the newest GTID (the highest sequence number) of the user's writes; refresh the window.
_NOTE_WRITE = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= '-' and ARGV[1] ~= '-' then
  local old = tonumber(string.match(cur, '(%d+)$'))
  local new = tonumber(string.match(ARGV[1], '(%d+)$'))
  if old and new and old > new then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


@dataclass(slots=True)
class ReadSession:
    """Per request: who reads, whether the request wrote, the GTID the user last wrote."""

    user_id: int | None
    wrote: bool = False
    floor: str | None = None
    floor_loaded: bool = False
    waited: set[str] = field(default_factory=set)  # replicas known to have applied `floor`
    targets: set[str] = field(default_factory=set)


_session: ContextVar[ReadSession | None] = ContextVar("chatter_read_session", default=None)


@dataclass(eq=False)
class Replica:
    name: str  # host:port, the metrics label
    db: Database
    in_rotation: bool = False
    lag: float | None = None
    good: int = 0
    reason: str = "not probed yet"


class ReplicaSet:
    """The replicas of one process, their probe task, and the router `Database.read()` returns."""

    def __init__(self, primary: Database, replicas: list[Replica], app: web.Application):
        self.primary = primary
        self.replicas = replicas
        self.app = app
        cfg = app[CONFIG].database
        self.max_lag = cfg.replica_max_lag
        self.wait = cfg.replica_wait
        self.window = max(1, int(round(cfg.read_your_writes_window)))
        self.interval = cfg.replica_probe_interval
        self.metrics: Metrics = app[METRICS]
        self.reader = Reader(self)
        self._turn = itertools.count()
        self._task: asyncio.Task | None = None
        self._chores: set[asyncio.Task] = set()
        self._note = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.probe_all()
        self._task = asyncio.create_task(self._probe_loop(), name="replica-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for r in self.replicas:
            with contextlib.suppress(Exception):
                await r.db.close()

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.probe_all()

    async def probe_all(self) -> None:
        await asyncio.gather(*(self.probe(r) for r in self.replicas))

    async def probe(self, replica: Replica) -> None:
        try:
            lag, problem = await asyncio.wait_for(self.replica_status(replica), PROBE_TIMEOUT)
        except Exception as exc:  # down or unreachable
            lag, problem = None, f"{type(exc).__name__}: {exc}"[:200]
        replica.lag = lag
        self.metrics.replica_lag.labels(replica.name).set(-1 if lag is None else lag)
        if problem is None and lag is not None and lag > self.max_lag:
            problem = f"lagging {lag:.0f} s (max {self.max_lag:g} s)"
        if problem is None:
            replica.good += 1
            first = replica.reason == "not probed yet"
            if not replica.in_rotation and (replica.good >= RISE or first):
                log.info("replica %s joins the rotation (lag %s s)", replica.name, lag)
                self._set(replica, True, "ok")
        else:
            replica.good = 0
            if replica.in_rotation or replica.reason != problem:
                self._out(replica, problem)

    async def replica_status(self, replica: Replica) -> tuple[float | None, str | None]:
        """(lag in seconds, None) when replicating, else (None, what is wrong)."""
        async with replica.db.connection() as conn:
            row = await conn.fetchone("SHOW SLAVE STATUS")
        if row is None:
            return None, "not a replica (SHOW SLAVE STATUS is empty)"
        if row.get("Slave_SQL_Running") != "Yes" or row.get("Slave_IO_Running") != "Yes":
            return None, (f"not replicating (IO {row.get('Slave_IO_Running')}, "
                          f"SQL {row.get('Slave_SQL_Running')}: {row.get('Last_Error') or ''})")
        lag = row.get("Seconds_Behind_Master")
        if lag is None:
            return None, "lag unknown"
        return float(lag), None

    def _set(self, replica: Replica, on: bool, reason: str) -> None:
        replica.in_rotation, replica.reason = on, reason
        self.metrics.replica_up.labels(replica.name).set(1 if on else 0)

    def _out(self, replica: Replica, reason: str) -> None:
        if replica.in_rotation:
            log.warning("replica %s leaves the rotation: %s", replica.name, reason)
        self._set(replica, False, reason)
        replica.good = 0

    def failed(self, replica: Replica, exc: BaseException) -> None:
        """A read found the replica gone: out of rotation until probes say it is back."""
        self._out(replica, f"read failed: {type(exc).__name__}: {exc}"[:200])
        # Its idle pooled connections are most likely dead too: close them.
        task = asyncio.create_task(replica.db.pool.clear())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    # --- routing --------------------------------------------------------------------------

    def _next(self) -> Replica | None:
        live = [r for r in self.replicas if r.in_rotation]
        if not live:
            return None
        return live[next(self._turn) % len(live)]

    def _key(self, user_id: int) -> str:
        return self.app[REDIS].key("rw", user_id)

    async def choose(self) -> tuple[Replica | None, str | None, str]:
        """(replica or None for the primary, GTID to wait for on it, reason when primary)."""
        replica = self._next()
        if replica is None:
            return None, None, "no_replica"
        s = _session.get()
        if s is None or s.user_id is None:
            return replica, None, ""
        if s.wrote:
            return None, None, "wrote"
        if not s.floor_loaded:
            try:
                s.floor = await self.app[REDIS].client.get(self._key(s.user_id))
            except Exception as exc:  # cannot tell whether the user just wrote: be safe
                log.info("read-your-writes state unavailable (%s): reading the primary", exc)
                s.floor = _UNKNOWN
            s.floor_loaded = True
        if s.floor is None or replica.name in s.waited:
            return replica, None, ""
        if s.floor == _UNKNOWN:
            return None, None, "read_your_writes"
        return replica, s.floor, ""

    async def wrote(self, conn: Conn) -> None:
        """After a commit: note the session's write (never raises: the commit has happened)."""
        s = _session.get()
        if s is None:
            return
        s.wrote = True
        if s.user_id is None:
            return
        try:
            gtid = await conn.fetchval("SELECT @@last_gtid") or _UNKNOWN
        except Exception:
            gtid = _UNKNOWN
        try:
            if self._note is None:
                self._note = self.app[REDIS].client.register_script(_NOTE_WRITE)
            await self._note(keys=[self._key(s.user_id)], args=[gtid, self.window])
        except Exception as exc:  # this request reads the primary anyway; later ones may lag
            log.warning("could not note the write of user %s for read-your-writes: %s", s.user_id, exc)

    def count(self, target: str) -> None:
        self.metrics.db_reads.labels(target).inc()
        s = _session.get()
        if s is not None:
            s.targets.add(PRIMARY if target == PRIMARY else "replica")


def replica_failed(exc: BaseException) -> bool:
    """An error that says the replica (not the query) is the problem: the primary serves instead.
    Wider than db.is_unavailable: a replica shutting down also kills its queries (1927)."""
    return is_unavailable(exc) or isinstance(
        exc, pymysql.err.OperationalError | pymysql.err.InterfaceError | pymysql.err.InternalError)


class ReadConn:
    """A connection for a few reads: bound on first use to a replica (or the primary); a replica
    that fails under it is left for the primary, and the read retried there."""

    def __init__(self, rs: ReplicaSet):
        self.rs = rs
        self._cm: Any = None
        self._conn: Conn | None = None
        self._replica: Replica | None = None

    async def _open(self, db: Database) -> None:
        cm = db.connection()
        self._conn = await cm.__aenter__()
        self._cm = cm

    async def _close(self, exc: BaseException | None = None) -> None:
        cm, self._cm, self._conn = self._cm, None, None
        if cm is not None:
            if exc is None:
                await cm.__aexit__(None, None, None)
            else:
                with contextlib.suppress(BaseException):
                    await cm.__aexit__(type(exc), exc, exc.__traceback__)

    async def _bind(self) -> None:
        rs = self.rs
        replica, gtid, reason = await rs.choose()
        if replica is not None:
            try:
                await self._open(replica.db)
                if gtid is not None:
                    done = await self._conn.fetchval("SELECT MASTER_GTID_WAIT(%s, %s)", (gtid, rs.wait))
                    if done != 0:
                        await self._close()
                        replica, reason = None, "read_your_writes"
                    else:
                        s = _session.get()
                        if s is not None:
                            s.waited.add(replica.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._close(exc)
                if not replica_failed(exc):
                    raise
                rs.failed(replica, exc)
                replica, reason = None, "replica_failed"
        self._replica = replica
        if replica is None:
            rs.metrics.db_read_fallbacks.labels(reason).inc()
            await self._open(rs.primary)

    async def _attempt(self, method: str, sql: str, args: Any) -> Any:
        try:
            return await getattr(self._conn, method)(sql, args)
        except BaseException as exc:
            await self._close(exc)  # a connection interrupted mid-query is dropped, not pooled
            raise

    async def _do(self, method: str, sql: str, args: Any) -> Any:
        if self._conn is None:
            await self._bind()
        replica = self._replica
        try:
            result = await self._attempt(method, sql, args)
        except Exception as exc:
            if replica is None or not replica_failed(exc):
                raise
            self.rs.failed(replica, exc)
            self.rs.metrics.db_read_fallbacks.labels("replica_failed").inc()
            self._replica = replica = None
            await self._open(self.rs.primary)
            result = await self._attempt(method, sql, args)
        self.rs.count(PRIMARY if replica is None else replica.name)
        return result

    async def fetchone(self, sql: str, args: Any = None) -> dict[str, Any] | None:
        return await self._do("fetchone", sql, args)

    async def fetchall(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        return await self._do("fetchall", sql, args)

    async def fetchval(self, sql: str, args: Any = None) -> Any:
        return await self._do("fetchval", sql, args)


class Reader:
    """What `Database.read()` returns with replicas: the read helpers of Database, routed."""

    def __init__(self, rs: ReplicaSet):
        self.rs = rs

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[ReadConn]:
        conn = ReadConn(self.rs)
        try:
            yield conn
        finally:
            await conn._close()

    async def fetchone(self, sql: str, args: Any = None) -> dict[str, Any] | None:
        async with self.connection() as conn:
            return await conn.fetchone(sql, args)

    async def fetchall(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        async with self.connection() as conn:
            return await conn.fetchall(sql, args)

    async def fetchval(self, sql: str, args: Any = None) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(sql, args)


# --- wiring (server/app.py) ---------------------------------------------------------------

@web.middleware
async def middleware(request: web.Request, handler):
    """Per request: the reader's identity (for read-your-writes); runs inside authentication."""
    principal = request.get(PRINCIPAL)
    session = ReadSession(principal.user_id if principal is not None else None)
    token = _session.set(session)
    try:
        response = await handler(request)
    finally:
        _session.reset(token)
    if session.targets and request.app[CONFIG].database.read_target_header and not response.prepared:
        response.headers["X-Read-From"] = ",".join(sorted(session.targets))
    return response


async def ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: connect the replicas (lazily: one that is down does not stop startup)."""
    config = app[CONFIG]
    urls = config.database.replicas
    if not urls:
        yield
        return
    primary: Database = app[DB]
    replicas = []
    for url in urls:
        parts = db_parts(url)
        db = await Database.connect(config, url=url, minsize=0,
                                    connect_timeout=min(CONNECT_TIMEOUT, config.database.connect_timeout))
        replicas.append(Replica(f"{parts.host}:{parts.port}", db))
    rs = ReplicaSet(primary, replicas, app)
    await rs.start()
    primary.router = rs
    log.info("read replicas: %s (in rotation: %s)", ", ".join(r.name for r in replicas),
             ", ".join(r.name for r in replicas if r.in_rotation) or "none yet")
    yield
    primary.router = None
    await rs.stop()
