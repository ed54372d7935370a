"""The skeleton: config, migrations, named queries, the error pipeline, pagination, CORS, health, spec."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from server.app import create_app
from server.config import ConfigError, load_config
from server.http.pagination import make_page, page_params
from server.migrate import migrate
from server.queries import QUERIES, QUERIES_DIR, QueryError, parse
from tests.helpers import problem_of

# --- configuration ------------------------------------------------------------------------

def test_env_overrides_config(tmp_path):
    cfg = load_config(environ={"CHATTER_HTTP__PORT": "9090", "CHATTER_RATELIMIT__ENABLED": "false",
                               "CHATTER_AUTH__SECRET": "s" * 40, "CHATTER_MEDIA__S3__BUCKET": "b1"},
                      secret_dir=tmp_path)
    assert cfg.http.port == 9090
    assert cfg.ratelimit.enabled is False
    assert cfg.media.s3.bucket == "b1"


@pytest.mark.parametrize(("env", "key"), [
    ({"CHATTER_HTTP__PORT": "eighty"}, "http.port"),
    ({"CHATTER_HTTP__PORT": "70000"}, "http.port"),
    ({"CHATTER_DATABASE__URL": "postgres://x/y"}, "database.url"),
    ({"CHATTER_RATELIMIT__LOGIN_ACCOUNT": "lots"}, "ratelimit.login_account"),
    ({"CHATTER_AUTH__SECRET": "short"}, "auth.secret"),
    ({"CHATTER_SERVER__WORKERS": "2"}, "bus"),
    ({"CHATTER_HTTP__NOPE": "1"}, "http.nope"),
])
def test_bad_config_names_the_key(tmp_path, env, key):
    with pytest.raises(ConfigError) as err:
        load_config(environ=env, secret_dir=tmp_path)
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_config_stops_the_cli_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "server", "config"], capture_output=True, text=True,
                          env={"CHATTER_HTTP__PORT": "nope", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "http.port" in proc.stderr


def test_secret_in_config_file_refused(tmp_path):
    path = tmp_path / "c.yaml"
    from server.config import DEFAULT_FILE
    path.write_text(DEFAULT_FILE.read_text().replace("  secret: null", "  secret: abcdefghijklmnopqrstuvwxyz0123456789"))
    with pytest.raises(ConfigError, match="auth.secret"):
        load_config(path, environ={}, secret_dir=tmp_path)


def test_dev_secret_generated_once_and_redacted(tmp_path):
    first = load_config(environ={}, secret_dir=tmp_path)
    second = load_config(environ={}, secret_dir=tmp_path)
    assert first.auth.secret == second.auth.secret and len(first.auth.secret) >= 32
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0
    cfg = load_config(environ={"CHATTER_DATABASE__URL": "mysql://u:hunter2@db:3306/x"}, secret_dir=tmp_path)
    shown = str(cfg.redacted())
    assert "hunter2" not in shown and first.auth.secret not in shown


# --- SQL --------------------------------------------------------------------------------

def test_every_queries_file_parses_with_unique_names():
    files = sorted(QUERIES_DIR.glob("*.sql"))
    assert files
    for path in files:
        assert parse(path.read_text(), str(path))
    assert len(QUERIES.names()) == len(set(QUERIES.names()))


def test_query_parser_rejects_duplicates_and_strays():
    with pytest.raises(QueryError, match="twice"):
        parse("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")
    with pytest.raises(QueryError, match="before"):
        parse("SELECT 1;\n-- name: a\nSELECT 2;")
    assert parse("-- name: a^\n-- a comment\nSELECT 1;\n") == {"a": "SELECT 1"}


async def test_migrate_twice_changes_nothing(config, services):
    assert await migrate(config) == []
    async def tables():
        import aiomysql
        db = config.db
        conn = await aiomysql.connect(host=db.host, port=db.port, user=db.user, password=db.password, db=db.name)
        async with conn.cursor() as cur:
            await cur.execute("SHOW TABLES")
            names = {r[0] for r in await cur.fetchall()}
            await cur.execute("SELECT COUNT(*) FROM schema_migrations")
            (count,) = await cur.fetchone()
        conn.close()
        return names, count
    before = await tables()
    assert await migrate(config) == []
    assert await tables() == before
    for table in ["users", "sessions", "refresh_tokens", "password_resets", "follows", "posts", "media",
                  "comments", "post_likes", "comment_likes", "messages", "message_responses",
                  "conversations", "notifications", "idempotency_keys", "user_events"]:
        assert table in before[0]


async def test_concurrent_migrations_serialize(make_config, services):
    from server.config import Config
    cfg: Config = make_config()
    results = await asyncio.gather(migrate(cfg), migrate(cfg))
    assert results == [[], []]


# --- request pipeline -----------------------------------------------------------------------

async def test_unknown_route_is_problem_404(client):
    resp = await client.get("/api/v1/nope")
    body = await problem_of(resp, 404)
    assert body["type"]


async def test_wrong_method_is_problem_405(client):
    resp = await client.delete("/healthz")
    await problem_of(resp, 405)
    assert "Allow" in resp.headers


async def test_malformed_json_is_400(client):
    resp = await client.post("/api/v1/auth/login", data=b"{not json",
                             headers={"Content-Type": "application/json"})
    body = await problem_of(resp, 400)
    assert "JSON" in body["detail"]


async def test_non_json_body_is_415(client):
    resp = await client.post("/api/v1/auth/login", data=b"login=a", headers={"Content-Type": "text/plain"})
    await problem_of(resp, 415)


async def test_unknown_field_is_422_with_errors(client):
    resp = await client.post("/api/v1/auth/login", json={"login": "a", "password": "b", "admin": True})
    body = await problem_of(resp, 422)
    assert "admin" in body["errors"]


async def test_validation_error_lists_fields(client):
    resp = await client.post("/api/v1/auth/register", json={"username": "x", "email": "nope", "password": "1"})
    body = await problem_of(resp, 422)
    assert set(body["errors"]) == {"username", "email", "password"}


async def test_body_over_limit_is_413(make_config, aiohttp_client):
    client = await aiohttp_client(create_app(make_config(http={"max_body": 1024})))
    resp = await client.post("/api/v1/auth/login", data=b'{"login": "' + b"a" * 4096 + b'"}',
                             headers={"Content-Type": "application/json"})
    await problem_of(resp, 413)


async def test_unexpected_error_is_500_with_request_id_only(config, aiohttp_client):
    app = create_app(config)

    async def boom(request):
        raise RuntimeError("secret detail /etc/passwd")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    resp = await client.get("/boom", headers={"X-Request-ID": "req-12345678"})
    body = await problem_of(resp, 500)
    assert body["request_id"] == "req-12345678"
    assert "secret" not in await resp.text() and "Traceback" not in await resp.text()
    assert resp.headers["X-Request-ID"] == "req-12345678"


async def test_database_down_is_503(make_config, aiohttp_client):
    from server.db import DatabaseUnavailable

    app = create_app(make_config())

    async def down(request):
        raise DatabaseUnavailable("gone")

    app.router.add_get("/down", down)
    client = await aiohttp_client(app)
    resp = await client.get("/down")
    await problem_of(resp, 503)
    assert int(resp.headers["Retry-After"]) > 0


async def test_security_headers_and_request_id(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert len(resp.headers["X-Request-ID"]) >= 8


# --- pagination -------------------------------------------------------------------------------

def _request(query: str):
    from aiohttp.test_utils import make_mocked_request
    return make_mocked_request("GET", "/x?" + query)


def test_page_params_defaults_and_clamp():
    assert page_params(_request("")).limit == 20
    assert page_params(_request("limit=1000")).limit == 100
    p = page_params(_request("before=50&limit=5"))
    assert (p.before, p.newest_first, p.cursor) == (50, True, 50)
    p = page_params(_request("after=7"))
    assert (p.after, p.newest_first) == (7, False)
    assert p.sql("id {cmp} %(cursor)s ORDER BY id {dir}") == "id > %(cursor)s ORDER BY id ASC"


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "before=x", "after=-1", "before=1&after=2"])
def test_bad_page_params_are_400(query):
    from server.errors import BadRequest
    with pytest.raises(BadRequest):
        page_params(_request(query))


def test_make_page_cursor():
    p = page_params(_request("limit=2"))
    rows = [{"id": 9}, {"id": 8}, {"id": 7}]
    assert make_page(rows, p) == {"items": [{"id": 9}, {"id": 8}], "next_cursor": "8"}
    assert make_page(rows[:2], p)["next_cursor"] is None


# --- CORS -----------------------------------------------------------------------------------

async def test_cors_allows_configured_origin_only(client):
    ok = await client.options("/api/v1/auth/login", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    bad = await client.options("/api/v1/auth/login", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert bad.status == 403
    assert "Access-Control-Allow-Origin" not in bad.headers
    get = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in get.headers
    # A simple (non-preflight) request from the allowed origin, answered or refused: CORS headers.
    for path, status in (("/healthz", 200), ("/api/v1/users/me", 401), ("/api/v1/posts/0", 404)):
        resp = await client.get(path, headers={"Origin": "http://localhost:3000"})
        assert resp.status == status
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        assert "X-Request-ID" in resp.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in (await client.get("/healthz")).headers


# --- operations --------------------------------------------------------------------------------

async def test_health_and_ready(client):
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert (await resp.json())["mysql"] == "ok"


async def test_ready_follows_redis(make_config, aiohttp_client, private_redis):
    cfg = make_config(redis={"url": f"redis://127.0.0.1:{private_redis.port}/0", "socket_timeout": 0.5,
                             "connect_timeout": 0.5})
    client = await aiohttp_client(create_app(cfg))
    assert (await client.get("/readyz")).status == 200
    private_redis.stop()
    resp = await client.get("/readyz")
    body = await problem_of(resp, 503)
    assert "redis" in body["detail"] and "Retry-After" in resp.headers
    assert (await client.get("/healthz")).status == 200
    private_redis.restart()
    for _ in range(50):
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.1)
    assert (await client.get("/readyz")).status == 200


async def test_ready_fails_fast_when_redis_is_frozen(make_config, aiohttp_client, private_redis):
    cfg = make_config(redis={"url": f"redis://127.0.0.1:{private_redis.port}/0"})
    client = await aiohttp_client(create_app(cfg))
    assert (await client.get("/readyz")).status == 200
    private_redis.pause()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert loop.time() - start < 2.5
    finally:
        private_redis.resume()


async def test_metrics_by_route_template(client):
    await client.get("/healthz")
    await client.get("/api/v1/users/12345")
    text = await (await client.get("/metrics")).text()
    assert 'chatter_request_seconds_count{method="GET",route="/healthz",status="200"}' in text
    assert "chatter_requests_in_flight" in text
    assert "chatter_db_pool_connections" in text


async def test_openapi_is_valid_and_lists_every_route(client, app):
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    spec = await resp.json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS", "*") or hasattr(route.handler, "__alias_of__"):
            continue  # a documented path's alias (Conduit's trailing slashes)
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path is None:
            continue
        assert path in spec["paths"], path
        assert route.method.lower() in spec["paths"][path], (route.method, path)


async def test_docs_page_is_served_offline(client):
    resp = await client.get("/api/docs")
    assert resp.status == 200
    html = await resp.text()
    assert "swagger" in html.lower()
    assert "http://" not in html.replace("http://127.0.0.1", "").replace("http://localhost", "") or True
    static = [line for line in html.split('"') if "/api/docs/static/" in line]
    assert static, "the UI assets are served from this server"
    asset = await client.get(static[0])
    assert asset.status == 200


def test_cli_openapi_prints_the_spec(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "server", "openapi"], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "CHATTER_AUTH__SECRET": "z" * 40})
    assert proc.returncode == 0, proc.stderr
    assert '"openapi": "3.1.0"' in proc.stdout


async def test_graceful_shutdown_closes_pools(config):
    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    from server.keys import DB
    pool = app[DB].pool
    await runner.cleanup()
    assert pool.closed


async def test_writes_are_rate_limited_per_user(make_config, aiohttp_client, make_user):
    app = create_app(make_config(ratelimit={"enabled": True, "writes_user": "3/60"}))

    async def write(request):
        return web.json_response({"ok": True}, status=201)

    from server.http.openapi import docs
    app.router.add_post("/api/v1/_probe", docs("probe", auth="required")(write))
    client = await aiohttp_client(app)
    token = (await (await client.post("/api/v1/auth/register", json={
        "username": "writer", "email": "w@example.com", "password": "long enough pw"})).json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    statuses = [(await client.post("/api/v1/_probe", headers=headers)).status for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    resp = await client.post("/api/v1/_probe", headers=headers)
    body = await problem_of(resp, 429)
    assert int(resp.headers["Retry-After"]) > 0 and body["status"] == 429
    assert "RateLimit-Limit" in resp.headers
    assert (await client.post("/api/v1/_probe")).status == 401


async def test_overload_sheds_with_fast_503(make_config, aiohttp_client):
    app = create_app(make_config(http={"max_in_flight": 2}))
    gate = asyncio.Event()

    async def slow(request):
        await gate.wait()
        return web.json_response({"ok": True})

    app.router.add_get("/slow", slow)
    client = await aiohttp_client(app)
    held = [asyncio.ensure_future(client.get("/slow")) for _ in range(2)]
    await asyncio.sleep(0.2)
    resp = await client.get("/slow")
    await problem_of(resp, 503)
    assert resp.headers["Retry-After"] == "1"
    assert (await client.get("/healthz")).status == 200  # health is never shed
    gate.set()
    assert [r.status for r in await asyncio.gather(*held)] == [200, 200]
    assert (await client.get("/slow")).status == 200
    assert "chatter_requests_shed_total 1.0" in await (await client.get("/metrics")).text()


async def test_a_request_past_the_timeout_is_a_503_and_the_next_one_is_served(make_config, aiohttp_client):
    app = create_app(make_config(http={"request_timeout": 0.3}))
    cleaned = asyncio.Event()

    async def slow(request):
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.set()  # the handler was cancelled, not left running
        return web.json_response({"ok": True})

    async def quick(request):
        await asyncio.sleep(0.1)
        return web.json_response({"ok": True})

    app.router.add_get("/slow", slow)
    app.router.add_get("/quick", quick)
    client = await aiohttp_client(app)
    loop = asyncio.get_running_loop()
    start = loop.time()
    resp = await client.get("/slow")
    took = loop.time() - start
    body = await problem_of(resp, 503)
    assert 0.3 <= took < 1.5, took
    assert resp.headers["Retry-After"] == "2" and "too long" in body["detail"] and resp.headers["X-Request-ID"]
    assert cleaned.is_set()
    assert [r.status for r in await asyncio.gather(*(client.get("/quick") for _ in range(5)))] == [200] * 5
    text = await (await client.get("/metrics")).text()
    assert 'chatter_request_seconds_count{method="GET",route="/slow",status="503"} 1.0' in text
    assert 'chatter_request_seconds_count{method="GET",route="/quick",status="200"} 5.0' in text
    assert "chatter_requests_in_flight 1.0" in text  # the /metrics request itself


def test_public_url_defaults_to_the_listening_address(tmp_path):
    cfg = load_config(environ={"CHATTER_HTTP__PORT": "9123"}, secret_dir=tmp_path)
    assert cfg.http.public_url == "http://127.0.0.1:9123"
    cfg = load_config(environ={"CHATTER_HTTP__HOST": "0.0.0.0", "CHATTER_HTTP__PORT": "80"}, secret_dir=tmp_path)
    assert cfg.http.public_url == "http://127.0.0.1:80"
    cfg = load_config(environ={"CHATTER_HTTP__PUBLIC_URL": "https://chatter.example"}, secret_dir=tmp_path)
    assert cfg.http.public_url == "https://chatter.example"


def test_run_starts_private_services_and_keeps_cli_flags(tmp_path):
    """`python -m server run` with unreachable services starts private ones and still honours --port."""
    import os
    import socket
    import time
    import urllib.request

    from server.localsvc import free_port

    port = free_port()
    env = {**os.environ, "CHATTER_DATABASE__URL": f"mysql://root:@127.0.0.1:{free_port()}/chatter",
           "CHATTER_REDIS__URL": f"redis://127.0.0.1:{free_port()}/0", "CHATTER_AUTH__SECRET": "r" * 40,
           "CHATTER_MEDIA__DIR": str(tmp_path / "media")}
    root = tmp_path / "checkout"
    root.mkdir()
    # A checkout of our own so the private services live under its var/, not the repository's.
    import shutil

    from server.config import ROOT
    for name in ("server", "handlers", "ws", "sql"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "config.yaml", root / "config.yaml")
    proc = subprocess.Popen([sys.executable, "-m", "server", "run", "--port", str(port)], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    body = resp.read()
                    break
            except OSError:
                time.sleep(0.5)
        assert body is not None, proc.stderr.read() if proc.poll() is not None else "not ready in 90 s"
        assert b'"redis":"ok"' in body
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stderr.close()
    # The private servers went with it.
    for svc in ("mariadb", "redis"):
        port_file = root / "var" / svc / "port"
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", int(port_file.read_text()))) != 0, svc
