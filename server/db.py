"""MySQL access: the aiomysql pool, a transaction context, helpers named for what they return."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiomysql
import pymysql
from pymysql.cursors import RE_INSERT_VALUES

from server.config import Config, db_parts
from server.queries import Prepared

log = logging.getLogger(__name__)
T = TypeVar("T")

# Transient errors worth retrying a whole transaction for:
#   1213 ER_LOCK_DEADLOCK: InnoDB chose this transaction as the deadlock victim.
#   1205 ER_LOCK_WAIT_TIMEOUT: innodb_lock_wait_timeout elapsed.
RETRY_CODES = {1213, 1205}
# Ids are BIGINT UNSIGNED AUTO_INCREMENT: 1 .. 2**63-1 is every id there can be (and what Python,
# JavaScript's BigInt and the keyset cursors agree on). An id outside it is refused before SQL.
ID_MIN, ID_MAX = 1, 2**63 - 1
# The server is gone or unreachable (mapped to 503 by the error middleware):
#   2003 can't connect, 2006 server has gone away, 2013 lost connection during query,
#   1040 too many connections, 1053 server shutdown in progress.
UNAVAILABLE_CODES = {2003, 2006, 2013, 1040, 1053}
# 1243 ER_UNKNOWN_STMT_HANDLER: a prepared statement this connection no longer has.
UNKNOWN_STATEMENT = 1243

# Server-side prepared statements (queries.Prepared): one name per (statement, shape of its list
# arguments), with its `?` form and the order of its arguments; the names each connection has
# prepared (dropped with the connection). A list argument is prepared for one item (one document)
# and for a full page (server/http/pagination.py's default of 20 items): other lengths go as text,
# or each length would be a statement of its own on every connection. A connection prepares at
# most PREPARED_PER_CONNECTION statements (MariaDB's max_prepared_stmt_count is server-wide).
PREPARED_LENGTHS = frozenset({1, 20})
PREPARED_PER_CONNECTION = 32
_statements: dict[tuple[str, tuple], tuple[str, str, tuple[str, ...]]] = {}
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PARAM = re.compile(r"%\((\w+)\)s")


def _statement(sql: Prepared, args: dict[str, Any]) -> tuple[str, str, tuple[str, ...]] | None:
    """(name, the `?` form, argument order) for running sql with args prepared; None when a list
    argument's length is not one of PREPARED_LENGTHS."""
    shape = tuple(sorted((k, len(v)) for k, v in args.items() if isinstance(v, list | tuple)))
    if any(n not in PREPARED_LENGTHS for _, n in shape):
        return None
    found = _statements.get((sql, shape))
    if found is None:
        lists = dict(shape)
        order = tuple(_PARAM.findall(sql))
        text = _PARAM.sub(lambda m: "(" + ", ".join("?" * lists[m.group(1)]) + ")" if m.group(1) in lists else "?",
                          sql).replace("%%", "%")
        found = _statements[(sql, shape)] = (f"chatter_{len(_statements)}", text, order)
    return found


class DatabaseUnavailable(Exception):
    """MySQL cannot be reached."""


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailable | ConnectionError | asyncio.TimeoutError):
        return True
    if isinstance(exc, pymysql.err.OperationalError | pymysql.err.InterfaceError):
        code = exc.args[0] if exc.args else None
        return code in UNAVAILABLE_CODES or isinstance(exc, pymysql.err.InterfaceError)
    return False


def error_code(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


class Cursor(aiomysql.Cursor):
    """No SHOW WARNINGS round trip: INSERT IGNORE duplicates are expected, not worth a Python warning."""

    async def _show_warnings(self, conn) -> None:
        return None


class DictCursor(aiomysql.DictCursor):
    async def _show_warnings(self, conn) -> None:
        return None


class Result:
    """What one statement of a batch answered: its rows (dicts; [] when it returns none), the
    affected row count and the AUTO_INCREMENT id it assigned (0 for none)."""

    __slots__ = ("rows", "rowcount", "lastrowid")

    def __init__(self, rows: list[dict[str, Any]], rowcount: int, lastrowid: int):
        self.rows, self.rowcount, self.lastrowid = rows, rowcount, lastrowid


class Conn:
    """One connection (inside or outside a transaction) with query helpers."""

    __slots__ = ("raw",)
    _fresh = False  # a Tx whose BEGIN is still to be sent (see Tx)

    def __init__(self, raw: aiomysql.Connection):
        self.raw = raw

    async def _begin(self) -> None:
        """Send the deferred BEGIN of a Tx (only called while _fresh)."""

    async def execute(self, sql: str, args: Any = None) -> int:
        """Run a statement; return the affected row count."""
        if self._fresh:
            await self._begin()
        async with self.raw.cursor(Cursor) as cur:
            return await cur.execute(sql, args)

    async def insert(self, sql: str, args: Any = None) -> int:
        """Run an INSERT; return the new AUTO_INCREMENT id."""
        if self._fresh:
            await self._begin()
        async with self.raw.cursor(Cursor) as cur:
            await cur.execute(sql, args)
            return cur.lastrowid

    async def executemany(self, sql: str, args: list) -> int:
        if self._fresh:
            await self._begin()
        async with self.raw.cursor(Cursor) as cur:
            return await cur.executemany(sql, args)

    async def fetchone(self, sql: str, args: Any = None) -> dict[str, Any] | None:
        if self._fresh:
            await self._begin()
        async with self.raw.cursor(DictCursor) as cur:
            await cur.execute(sql, args)
            return await cur.fetchone()

    async def fetchall(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        if self._fresh:
            await self._begin()
        if type(sql) is Prepared and isinstance(args, dict):
            statement = _statement(sql, args)
            done = _prepared_on.setdefault(self.raw, set())
            if statement is not None and (statement[0] in done or len(done) < PREPARED_PER_CONNECTION):
                return await self._execute_prepared(*statement, args, done)
        async with self.raw.cursor(DictCursor) as cur:
            await cur.execute(sql, args)
            return list(await cur.fetchall())

    async def _execute_prepared(self, name: str, text: str, order: tuple[str, ...], args: dict[str, Any],
                                done: set[str]) -> list[dict[str, Any]]:
        """EXECUTE name USING the arguments (escaped as execute() binds them), after PREPARE on a
        connection that has not got it (or lost it); done: the names this connection has prepared."""
        escape = self.raw.escape
        values = []
        for value in (args[k] for k in order):
            if isinstance(value, list | tuple):
                values.extend(escape(v) for v in value)
            else:
                values.append(escape(value))
        run = f"EXECUTE {name}" + (f" USING {', '.join(values)}" if values else "")
        async with self.raw.cursor(DictCursor) as cur:
            for attempt in (1, 2):
                if name not in done:
                    await cur.execute(f"PREPARE {name} FROM {escape(text)}")
                    done.add(name)
                try:
                    await cur.execute(run)
                    return list(await cur.fetchall())
                except pymysql.err.MySQLError as exc:
                    if error_code(exc) != UNKNOWN_STATEMENT or attempt == 2:
                        raise
                    done.discard(name)
        raise AssertionError("unreachable")

    async def fetchval(self, sql: str, args: Any = None) -> Any:
        """First column of the first row, or None."""
        if self._fresh:
            await self._begin()
        async with self.raw.cursor(Cursor) as cur:
            await cur.execute(sql, args)
            row = await cur.fetchone()
            return row[0] if row else None

    def _bind(self, args: Any) -> Any:
        escape = self.raw.escape
        if isinstance(args, dict):
            return {key: escape(value) for key, value in args.items()}
        if isinstance(args, tuple | list):
            return tuple(escape(arg) for arg in args)
        return escape(args)

    def mogrify(self, sql: str, args: Any = None) -> str:
        """The statement with its arguments bound, escaped exactly as execute() binds them."""
        return sql if args is None else sql % self._bind(args)

    def mogrify_rows(self, sql: str, rows: list) -> str:
        """An `INSERT ... VALUES (%s, ...)` bound to several rows: one multi-row INSERT (as
        executemany() sends it)."""
        match = RE_INSERT_VALUES.match(sql)
        if match is None or not rows:
            raise ValueError("mogrify_rows needs an INSERT ... VALUES (...) and at least one row")
        values = match.group(2).rstrip()
        return match.group(1) + ",".join(values % self._bind(row) for row in rows) + (match.group(3) or "")

    async def batch(self, *statements: tuple[str, Any]) -> list[Result]:
        """Several statements (sql, args) in ONE round trip (a multi-statement query; aiomysql
        connections accept them), executed in order → one Result each. The first statement that
        fails raises its error and the rest are not run (a Tx then rolls back as usual). In a Tx
        whose BEGIN is still deferred, the BEGIN goes in the same round trip."""
        sqls = [self.mogrify(sql, args) for sql, args in statements]
        begin = self._fresh
        if begin:
            sqls.insert(0, "START TRANSACTION")
            self._fresh = False
        results: list[Result] = []
        async with self.raw.cursor(DictCursor) as cur:
            await cur.execute(";\n".join(sqls))
            while True:
                results.append(Result(list(await cur.fetchall()), cur.rowcount, cur.lastrowid or 0))
                if not await cur.nextset():
                    break
        if len(results) != len(sqls):
            raise pymysql.err.InterfaceError(f"a batch of {len(sqls)} statements gave {len(results)} results")
        return results[1:] if begin else results


class Tx(Conn):
    """A connection inside BEGIN ... COMMIT: the unit of work.

    BEGIN is deferred to the first statement, so a transaction that starts with a batch() sends
    it in that batch's round trip; statements given to commit_with() go in COMMIT's round trip.
    It carries the stream events emitted in it (server/events.py): their log rows are written by
    a before-commit step, in one INSERT sent with the COMMIT, and the caller publishes them after
    COMMIT.
    """

    __slots__ = ("events", "_before_commit", "_with_commit", "_fresh")

    def __init__(self, raw: aiomysql.Connection):
        super().__init__(raw)
        self.events: list[Any] = []
        self._before_commit: list[Callable[[], Awaitable[None]]] = []
        self._with_commit: list[tuple[str, Any]] = []
        self._fresh = True

    async def _begin(self) -> None:
        self._fresh = False
        await self.raw.begin()

    def before_commit(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run step() inside the transaction, after the work and just before COMMIT."""
        self._before_commit.append(step)

    def commit_with(self, sql: str, args: Any = None) -> None:
        """Send this statement in COMMIT's round trip, right before it (its failure rolls back)."""
        self._with_commit.append((sql, args))

    async def _finish(self) -> None:
        for step in self._before_commit:
            await step()

    async def _commit(self) -> None:
        if self._with_commit:
            await self.batch(*self._with_commit, ("COMMIT", None))
        elif not self._fresh:
            await self.raw.commit()
        # else: nothing was sent, there is nothing to commit


class Database:
    """The pool. Single statements run in autocommit; `transaction()` for several.

    With read replicas (server/replicas.py sets `router`), `read()` is the same helpers routed to
    a replica when that is safe, and every commit notes the session's write (read-your-writes).
    """

    def __init__(self, pool: aiomysql.Pool, retries: int = 3):
        self.pool = pool
        self.retries = retries
        # aiomysql's pool wakes waiters in no particular order, so under load some requests wait
        # far longer than others (p99 of seconds). A semaphore sized to the pool queues them FIFO.
        self._slots = asyncio.Semaphore(pool.maxsize)
        self.router: Any = None  # server.replicas.ReplicaSet when database.replicas is set

    @classmethod
    async def connect(cls, config: Config, database: str | None = None, *, url: str | None = None,
                      minsize: int | None = None, connect_timeout: float | None = None) -> Database:
        """A pool on database.url (or `url`: a replica)."""
        db = db_parts(url) if url is not None else config.db
        try:
            pool = await aiomysql.create_pool(
                host=db.host,
                port=db.port,
                user=db.user,
                password=db.password,
                db=database if database is not None else db.name,
                minsize=config.database.pool_min if minsize is None else minsize,
                maxsize=config.database.pool_max,
                pool_recycle=config.database.pool_recycle,
                connect_timeout=connect_timeout or config.database.connect_timeout,
                autocommit=True,
                charset="utf8mb4",
                # group_concat_max_len bounds JSON_ARRAYAGG: never let a server default cut a document.
                init_command="SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,"
                "NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO', group_concat_max_len = 4194304",
            )
        except (pymysql.err.OperationalError, OSError) as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        return cls(pool, config.database.retries)

    async def close(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._slots:
            try:
                raw = await self.pool.acquire()
            except (pymysql.err.OperationalError, OSError) as exc:
                raise DatabaseUnavailable(str(exc)) from exc
            try:
                yield Conn(raw)
            except (asyncio.CancelledError, pymysql.err.MySQLError, OSError):
                # A connection interrupted mid-query may hold unread results: drop it.
                raw.close()
                raise
            finally:
                self.pool.release(raw)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN ... COMMIT; ROLLBACK on any error. COMMIT/ROLLBACK are shielded from cancellation."""
        async with self.connection() as plain:
            conn = Tx(plain.raw)  # BEGIN goes with its first statement
            try:
                yield conn
                await conn._finish()
            except BaseException:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.raw.rollback())
                raise
            else:
                try:
                    await asyncio.shield(conn._commit())
                except BaseException:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.raw.rollback())
                    raise
                if self.router is not None:
                    await self.router.wrote(conn)

    async def run(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run fn(conn) in a transaction, retried on deadlock or lock wait timeout."""
        for attempt in range(self.retries + 1):
            try:
                async with self.transaction() as conn:
                    return await fn(conn)
            except pymysql.err.OperationalError as exc:
                if error_code(exc) not in RETRY_CODES or attempt == self.retries:
                    raise
                log.info("retrying transaction after MySQL error %s", error_code(exc))
                await asyncio.sleep(0.005 * (2**attempt))
        raise AssertionError("unreachable")

    def read(self) -> Any:
        """Helpers for lag-tolerant reads (fetchone/fetchall/fetchval/connection): on a replica
        when one is in rotation and the session has not just written, else on this primary."""
        return self if self.router is None else self.router.reader

    # Autocommit helpers for single statements.
    async def execute(self, sql: str, args: Any = None) -> int:
        async with self.connection() as conn:
            n = await conn.execute(sql, args)
            if self.router is not None:
                await self.router.wrote(conn)
            return n

    async def executemany(self, sql: str, args: list) -> int:
        """One statement for many rows (PyMySQL folds an INSERT ... VALUES into one)."""
        async with self.connection() as conn:
            n = await conn.executemany(sql, args)
            if self.router is not None:
                await self.router.wrote(conn)
            return n

    async def insert(self, sql: str, args: Any = None) -> int:
        async with self.connection() as conn:
            new_id = await conn.insert(sql, args)
            if self.router is not None:
                await self.router.wrote(conn)
            return new_id

    # replica=True: a lag-tolerant read, the same as read().fetch...().
    async def fetchone(self, sql: str, args: Any = None, *, replica: bool = False) -> dict[str, Any] | None:
        if replica and self.router is not None:
            return await self.router.reader.fetchone(sql, args)
        async with self.connection() as conn:
            return await conn.fetchone(sql, args)

    async def fetchall(self, sql: str, args: Any = None, *, replica: bool = False) -> list[dict[str, Any]]:
        if replica and self.router is not None:
            return await self.router.reader.fetchall(sql, args)
        async with self.connection() as conn:
            return await conn.fetchall(sql, args)

    async def fetchval(self, sql: str, args: Any = None, *, replica: bool = False) -> Any:
        if replica and self.router is not None:
            return await self.router.reader.fetchval(sql, args)
        async with self.connection() as conn:
            return await conn.fetchval(sql, args)
