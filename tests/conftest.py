"""Test harness: real MariaDB and Redis (the configured ones, or private ones), a database per run."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pymysql
import pytest
from aiohttp import web

from server.app import create_app
from server.config import load_config
from server.localsvc import Private, ensure_services, start_redis
from server.migrate import migrate

TEST_SECRET = "test-secret-" + "x" * 40
DEFAULT_DB_URL = "mysql://root:@127.0.0.1:3306/chatter"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# Tables emptied before each test, children first (FK checks are off while deleting anyway).
TABLES = [
    "user_events", "user_event_seq", "idempotency_keys", "notifications", "conversations",
    "comment_likes", "post_likes", "media", "message_responses", "messages", "comments", "posts",
    "follows", "password_resets", "refresh_tokens", "sessions", "users",
]


@dataclass
class Services:
    db_url: str  # server URL without the database
    redis_url: str
    database: str
    started: list[Private] = field(default_factory=list)


def _db_url_with(url: str, database: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{database}").geturl()


@pytest.fixture(scope="session")
def services(tmp_path_factory) -> Services:
    """Configured MariaDB/Redis when reachable, else private ones; a throwaway database for this run.

    A service that can be neither reached nor started fails the run loudly (never skips).
    """
    db_url = os.environ.get("CHATTER_DATABASE__URL", DEFAULT_DB_URL)
    redis_url = os.environ.get("CHATTER_REDIS__URL", DEFAULT_REDIS_URL)
    db_url, redis_url, started = ensure_services(db_url, redis_url, tmp_path_factory.mktemp("services"))
    database = f"chatter_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    svc = Services(db_url, redis_url, database, started)
    config = load_config(overrides=_overrides(svc, "test:migrate:"), environ={},
                         secret_dir=tmp_path_factory.mktemp("secret"))
    asyncio.run(migrate(config))
    yield svc
    parts = urlsplit(db_url)
    conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                           password=parts.password or "")
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        conn.close()
    for s in started:
        s.stop()


def _overrides(svc: Services, prefix: str, tmp: Path | None = None) -> dict:
    tmp = tmp or Path("/tmp")
    return {
        "database": {"url": _db_url_with(svc.db_url, svc.database), "pool_max": 20},
        # A shared, loaded test machine can stall the event loop past the 0.1 s production default
        # and trip the Redis breaker in tests about something else; the outage tests set 0.1.
        "redis": {"url": svc.redis_url, "prefix": prefix, "request_timeout": 1.0},
        # Cost 4 hashes in about a millisecond: tests registering dozens of users at once are no
        # login storm. The hashing-queue tests set their own bound (tests/test_auth.py).
        "auth": {"secret": TEST_SECRET, "bcrypt_rounds": 4, "hash_queue": 1000},
        "ratelimit": {"enabled": False},
        "media": {"dir": str(tmp / "media")},
        "mail": {"outbox_dir": str(tmp / "outbox")},
        "log": {"json": False},
    }


def _clean_database(svc: Services) -> None:
    parts = urlsplit(svc.db_url)
    conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                           password=parts.password or "", database=svc.database, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            cur.execute("SHOW TABLES")
            present = {row[0] for row in cur.fetchall()}
            for table in TABLES + sorted(present - set(TABLES) - {"schema_migrations"}):
                if table in present:
                    cur.execute(f"DELETE FROM `{table}`")  # noqa: S608 - names from SHOW TABLES
    finally:
        conn.close()


@pytest.fixture
def make_config(services, tmp_path):
    """Build a config for this test: unique Redis prefix, its own media/outbox dirs."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"

    def make(**extra):
        overrides = _overrides(services, prefix, tmp_path)
        for section, values in extra.items():
            overrides.setdefault(section, {}).update(values)
        return load_config(overrides=overrides, environ={}, secret_dir=tmp_path)

    return make


@pytest.fixture
def config(make_config):
    return make_config()


@pytest.fixture(autouse=True)
def clean_db(request):
    """Every test starts from empty tables (only tests that use the database pay for it)."""
    if "services" in request.fixturenames:
        _clean_database(request.getfixturevalue("services"))


@pytest.fixture
def app(config) -> web.Application:
    return create_app(config)


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(app)


@dataclass
class User:
    id: int
    username: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    body: dict

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def make_user(client):
    """Register a user through the API: `alice = await make_user("alice")`."""
    counter = {"n": 0}

    async def make(username: str | None = None, password: str = "correct horse battery", **extra) -> User:
        counter["n"] += 1
        username = username or f"user{counter['n']}_{uuid.uuid4().hex[:6]}"
        email = extra.pop("email", f"{username.lower()}@example.com")
        resp = await client.post("/api/v1/auth/register",
                                 json={"username": username, "email": email, "password": password, **extra})
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        return User(body["user"]["id"], username, email, password, body["access_token"],
                    body["refresh_token"], body)

    return make


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, to stop, pause or restart."""
    svc = start_redis(tmp_path / "redis")
    yield svc
    svc.stop()
