"""Forward-only migrations from sql/migrations/NNNN_name.sql, applied under GET_LOCK."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import aiomysql

from server.config import Config
from server.db import Cursor

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_NAME = "chatter_migrate"  # + ":<database>": one database's long ALTER does not hold up another's


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: migrations are named NNNN_name.sql")
        found.append((int(match.group(1)), match.group(2), path))
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError("two migrations share a version number")
    return found


def split_statements(sql: str) -> list[str]:
    """Split on ';' at line ends, ignoring comment lines (our DDL has no procedures)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements, current = [], []
    for line in lines:
        current.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(current).strip().rstrip(";").strip()
            if stmt:
                statements.append(stmt)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements


async def ensure_database(config: Config, name: str | None = None) -> None:
    db = config.db
    conn = await aiomysql.connect(
        host=db.host, port=db.port, user=db.user, password=db.password,
        connect_timeout=config.database.connect_timeout, autocommit=True, charset="utf8mb4",
    )
    try:
        async with conn.cursor(Cursor) as cur:
            await cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{_ident(name or db.name)}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
        raise ValueError(f"bad database name {name!r}")
    return name


async def migrate(config: Config, database: str | None = None) -> list[str]:
    """Create the database if missing and apply pending migrations; return what was applied."""
    await ensure_database(config, database)
    db = config.db
    conn = await aiomysql.connect(
        host=db.host, port=db.port, user=db.user, password=db.password, db=database or db.name,
        connect_timeout=config.database.connect_timeout, autocommit=True, charset="utf8mb4",
        init_command="SET time_zone = '+00:00'",
    )
    applied: list[str] = []
    try:
        async with conn.cursor(Cursor) as cur:
            lock = f"{LOCK_NAME}:{database or db.name}"[:64]  # GET_LOCK names: at most 64 characters
            await cur.execute("SELECT GET_LOCK(%s, 60)", (lock,))
            (got,) = await cur.fetchone()
            if got != 1:
                raise RuntimeError("could not take the migration lock within 60 s")
            try:
                await cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INT UNSIGNED NOT NULL PRIMARY KEY,"
                    " name VARCHAR(100) NOT NULL,"
                    " checksum CHAR(64) NOT NULL,"
                    " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
                    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
                )
                await cur.execute("SELECT version, checksum FROM schema_migrations")
                done = dict(await cur.fetchall())
                for version, name, path in migration_files():
                    text = path.read_text(encoding="utf-8")
                    checksum = hashlib.sha256(text.encode()).hexdigest()
                    if version in done:
                        if done[version] != checksum:
                            log.warning("migration %04d_%s changed after it was applied", version, name)
                        continue
                    log.info("applying migration %04d_%s", version, name)
                    for statement in split_statements(text):
                        await cur.execute(statement)
                    await cur.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (version, name, checksum),
                    )
                    applied.append(f"{version:04d}_{name}")
            finally:
                await cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
    finally:
        conn.close()
    return applied
