"""Accounts: registration, login, token refresh and revocation, password change, forgot and reset."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import statistics
import time
from pathlib import Path

import bcrypt
import jwt
import orjson

from server.app import create_app
from server.auth import encode_token
from server.events import user_channel
from server.keys import BUS, CONFIG, DB
from tests.helpers import problem_of

RESET_LINK = re.compile(r"(http://localhost:3000/reset-password\?token=)([A-Za-z0-9_-]+)")


async def login(client, login: str, password: str):
    return await client.post("/api/v1/auth/login", json={"login": login, "password": password})


async def me(client, token: str):
    return await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})


def read_outbox(outbox: Path) -> list[str]:
    return [m.read_text() for m in sorted(outbox.glob("*.eml"))] if outbox.exists() else []


async def wait_for_mail(outbox: Path, count: int = 1) -> list[str]:
    """The outbox's mails (oldest first) once at least `count` are there (sent in the background)."""
    deadline = time.monotonic() + 5
    while True:
        mails = await asyncio.to_thread(read_outbox, outbox)
        if len(mails) >= count:
            return mails
        assert time.monotonic() < deadline, f"expected {count} mail(s) in {outbox}, found {len(mails)}"
        await asyncio.sleep(0.02)


async def reset_token(client, email: str, count: int = 1) -> str:
    resp = await client.post("/api/v1/auth/password/forgot", json={"email": email})
    assert resp.status == 202, await resp.text()
    mail = (await wait_for_mail(Path(client.app[CONFIG].mail.outbox_dir), count))[-1]
    match = RESET_LINK.search(mail)
    assert match, mail
    return match.group(2)


# --- registration -----------------------------------------------------------------------------

async def test_register_returns_the_user_and_a_working_token_pair(client):
    resp = await client.post("/api/v1/auth/register", json={
        "username": "Alice_1", "email": "alice@example.com", "password": "s3cret-enough",
        "full_name": "Alice A."})
    assert resp.status == 201
    body = await resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"]["username"] == "Alice_1" and body["user"]["email"] == "alice@example.com"
    assert body["user"]["full_name"] == "Alice A." and body["user"]["followers_count"] == 0
    assert body["refresh_token"] and "session_id" not in body
    assert (await me(client, body["access_token"])).status == 200


async def test_taken_username_or_email_is_409_case_insensitively(client, make_user):
    await make_user("bob", email="bob@example.com")
    resp = await client.post("/api/v1/auth/register", json={
        "username": "BOB", "email": "other@example.com", "password": "s3cret-enough"})
    assert "username" in (await problem_of(resp, 409))["errors"]
    resp = await client.post("/api/v1/auth/register", json={
        "username": "bobby", "email": "Bob@Example.com", "password": "s3cret-enough"})
    assert "email" in (await problem_of(resp, 409))["errors"]


async def test_registration_validates_every_field(client):
    good = {"username": "carol", "email": "carol@example.com", "password": "s3cret-enough"}
    for field, value in [("username", "ab"), ("username", "has space"), ("username", "x" * 31),
                         ("email", "not-an-email"), ("password", "short"),
                         ("password", "é" * 36 + "a"),  # 73 UTF-8 bytes
                         ("full_name", "n" * 101)]:
        resp = await client.post("/api/v1/auth/register", json={**good, field: value})
        assert field in (await problem_of(resp, 422))["errors"], (field, value)
    resp = await client.post("/api/v1/auth/register", json={**good, "is_admin": True})
    assert "is_admin" in (await problem_of(resp, 422))["errors"]
    # 72 bytes is still fine
    resp = await client.post("/api/v1/auth/register", json={**good, "password": "é" * 36})
    assert resp.status == 201


# --- login --------------------------------------------------------------------------------------

async def test_login_by_username_or_email_in_any_case(client, make_user):
    alice = await make_user("Alice", email="Alice@Example.com")
    for name in ("Alice", "alice", "ALICE", "alice@example.com", "ALICE@EXAMPLE.COM"):
        resp = await login(client, name, alice.password)
        assert resp.status == 200, name
        body = await resp.json()
        assert body["user"]["id"] == alice.id and body["token_type"] == "Bearer"
        assert (await me(client, body["access_token"])).status == 200


async def test_unknown_user_is_answered_exactly_like_a_wrong_password(client, make_user):
    alice = await make_user("alice")
    wrong = await login(client, "alice", "not the password")
    unknown = await login(client, "nobody", "not the password")
    bodies = []
    for resp in (wrong, unknown):
        body = await problem_of(resp, 401)
        body.pop("request_id", None)
        bodies.append(body)
    assert bodies[0] == bodies[1]
    assert wrong.headers.get("WWW-Authenticate") == unknown.headers.get("WWW-Authenticate")
    assert (await login(client, "alice", alice.password)).status == 200


async def test_a_73_byte_password_at_login_is_refused_not_a_500(client, make_user):
    await make_user("alice")
    await problem_of(await login(client, "alice", "é" * 36 + "a"), 401)


# --- tokens ---------------------------------------------------------------------------------

def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_tokens_are_refused(client, make_user):
    alice = await make_user("alice")
    config = client.app[CONFIG]
    claims = jwt.decode(alice.access_token, options={"verify_signature": False})
    now = int(time.time())
    header, payload, signature = alice.access_token.split(".")
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "another key": jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256"),
        "tampered payload": f"{header}.{_b64({**claims, 'sub': str(alice.id + 1)})}.{signature}",
        "expired": jwt.encode({**claims, "iat": now - 3600, "exp": now - 600}, config.auth.secret,
                              algorithm="HS256"),
        "wrong audience": jwt.encode({**claims, "aud": "someone-else"}, config.auth.secret, algorithm="HS256"),
        "wrong issuer": jwt.encode({**claims, "iss": "someone-else"}, config.auth.secret, algorithm="HS256"),
        "no jti": jwt.encode({k: v for k, v in claims.items() if k != "jti"}, config.auth.secret,
                             algorithm="HS256"),
        "HS384": jwt.encode(claims, config.auth.secret, algorithm="HS384"),
        "ws ticket": encode_token(config, user_id=alice.id, session_id=claims["sid"], typ="ws"),
        "reset": encode_token(config, user_id=alice.id, session_id=claims["sid"], typ="reset"),
        "refresh token": alice.refresh_token,
        "garbage": "abc.def.ghi",
    }
    for name, token in forged.items():
        resp = await me(client, token)
        assert resp.status == 401, name
        await problem_of(resp, 401)
    assert (await me(client, alice.access_token)).status == 200
    resp = await client.get("/api/v1/users/me", headers={"Authorization": "Basic abc"})
    await problem_of(resp, 401)


async def test_an_access_token_is_not_a_refresh_token(client, make_user):
    alice = await make_user("alice")
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.access_token})
    await problem_of(resp, 401)


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(client, make_user):
    alice = await make_user("alice")
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert resp.status == 200
    second = await resp.json()
    assert second["refresh_token"] != alice.refresh_token and second["user"]["id"] == alice.id
    assert (await me(client, second["access_token"])).status == 200

    # The thief (or a replay) presents the rotated token: the whole session ends.
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    await problem_of(resp, 401)
    await problem_of(await me(client, second["access_token"]), 401)
    await problem_of(await me(client, alice.access_token), 401)
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    await problem_of(resp, 401)

    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": "never-issued"})
    await problem_of(resp, 401)
    # Another session of the same user is untouched.
    assert (await login(client, "alice", alice.password)).status == 200


async def test_logout_ends_the_session_at_once(client, make_user):
    alice = await make_user("alice")
    other = await (await login(client, "alice", alice.password)).json()
    seen: list[dict] = []

    async def collect(channel: str, message: str) -> None:
        seen.append(orjson.loads(message))

    await client.app[BUS].subscribe(user_channel(client.app, alice.id), collect)
    assert (await me(client, alice.access_token)).status == 200  # the session state is now cached
    resp = await client.post("/api/v1/auth/logout", headers=alice.headers)
    assert resp.status == 204
    await problem_of(await me(client, alice.access_token), 401)
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    await problem_of(resp, 401)
    await problem_of(await client.post("/api/v1/auth/logout", headers=alice.headers), 401)
    assert (await me(client, other["access_token"])).status == 200
    sid = jwt.decode(alice.access_token, options={"verify_signature": False})["sid"]
    assert seen == [{"type": "session.revoked", "data": {"session_ids": [sid]}}]


async def test_logout_needs_a_token(client):
    await problem_of(await client.post("/api/v1/auth/logout"), 401)


# --- password change ----------------------------------------------------------------------

async def test_password_change_keeps_this_session_and_ends_the_others(client, make_user):
    alice = await make_user("alice")
    phone = await (await login(client, "alice", alice.password)).json()
    change = {"current_password": alice.password, "new_password": "a brand new one"}

    resp = await client.post("/api/v1/auth/password/change", headers=alice.headers,
                             json={**change, "current_password": "wrong guess"})
    await problem_of(resp, 403)
    assert (await me(client, phone["access_token"])).status == 200

    resp = await client.post("/api/v1/auth/password/change", headers=alice.headers,
                             json={**change, "new_password": "x" * 73})
    assert "new_password" in (await problem_of(resp, 422))["errors"]

    assert (await me(client, phone["access_token"])).status == 200  # cached as active
    resp = await client.post("/api/v1/auth/password/change", headers=alice.headers, json=change)
    assert resp.status == 204
    await problem_of(await me(client, phone["access_token"]), 401)
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    await problem_of(resp, 401)
    assert (await me(client, alice.access_token)).status == 200
    await problem_of(await login(client, "alice", alice.password), 401)
    assert (await login(client, "alice", "a brand new one")).status == 200


# --- forgot and reset -----------------------------------------------------------------------

async def test_forgotten_password_is_reset_from_the_mailed_link(client, make_user):
    alice = await make_user("alice")
    phone = await (await login(client, "alice", alice.password)).json()
    outbox = Path(client.app[CONFIG].mail.outbox_dir)

    resp = await client.post("/api/v1/auth/password/forgot", json={"email": "nobody@example.com"},
                             headers={"Host": "evil.example"})
    assert resp.status == 202
    token = await reset_token(client, "ALICE@example.com")
    mails = await wait_for_mail(outbox)
    assert len(mails) == 1  # nothing was sent for the unknown address
    assert "To: alice@example.com" in mails[0] and "evil.example" not in mails[0]
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    stored = await client.app[DB].fetchval("SELECT token_hash FROM password_resets")
    assert token.encode() not in stored and len(stored) == 32

    resp = await client.post("/api/v1/auth/password/reset",
                             json={"token": token, "new_password": "reset and better"})
    assert resp.status == 204
    await problem_of(await me(client, alice.access_token), 401)
    await problem_of(await me(client, phone["access_token"]), 401)
    await problem_of(await login(client, "alice", alice.password), 401)
    assert (await login(client, "alice", "reset and better")).status == 200

    resp = await client.post("/api/v1/auth/password/reset",
                             json={"token": token, "new_password": "once more please"})
    await problem_of(resp, 400)
    assert (await login(client, "alice", "reset and better")).status == 200


async def test_reset_token_rules(client, make_user):
    alice = await make_user("alice")
    older = await reset_token(client, alice.email, 1)
    newer = await reset_token(client, alice.email, 2)
    assert older != newer
    resp = await client.post("/api/v1/auth/password/reset", json={"token": older, "new_password": "p" * 10})
    await problem_of(resp, 400)  # a newer token voids older ones
    resp = await client.post("/api/v1/auth/password/reset", json={"token": "made-up", "new_password": "p" * 10})
    await problem_of(resp, 400)
    resp = await client.post("/api/v1/auth/password/reset", json={"token": newer, "new_password": "p" * 73})
    assert "new_password" in (await problem_of(resp, 422))["errors"]

    await client.app[DB].execute(
        "UPDATE password_resets SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND")
    resp = await client.post("/api/v1/auth/password/reset", json={"token": newer, "new_password": "p" * 10})
    await problem_of(resp, 400)  # expired
    assert (await login(client, "alice", alice.password)).status == 200
    resp = await client.post("/api/v1/auth/password/forgot", json={"email": "not an email"})
    assert "email" in (await problem_of(resp, 422))["errors"]


async def test_concurrent_redemptions_of_one_token_exactly_one_wins(client, make_user):
    alice = await make_user("alice")
    token = await reset_token(client, alice.email)
    answers = await asyncio.gather(*[
        client.post("/api/v1/auth/password/reset", json={"token": token, "new_password": f"winner number {i}"})
        for i in range(6)])
    statuses = sorted(r.status for r in answers)
    assert statuses == [204, 400, 400, 400, 400, 400]
    winner = next(i for i, r in enumerate(answers) if r.status == 204)
    assert (await login(client, "alice", f"winner number {winner}")).status == 200


# --- throttling -----------------------------------------------------------------------------

async def test_failed_logins_are_throttled_and_a_reset_still_works(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(ratelimit={"enabled": True})))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "alice", "email": "alice@example.com", "password": "the right one"})
    assert resp.status == 201
    for _ in range(5):
        await problem_of(await login(client, "alice", "wrong"), 401)
    resp = await login(client, "ALICE", "the right one")
    body = await problem_of(resp, 429)
    assert 1 <= int(resp.headers["Retry-After"]) <= 900, body
    # An unknown account is throttled the same way (no enumeration through 429 either).
    for _ in range(5):
        await problem_of(await login(client, "ghost", "wrong"), 401)
    await problem_of(await login(client, "ghost", "wrong"), 429)

    token = await reset_token(client, "alice@example.com")
    resp = await client.post("/api/v1/auth/password/reset",
                             json={"token": token, "new_password": "after the storm"})
    assert resp.status == 204
    assert (await login(client, "alice", "after the storm")).status == 200


# --- bcrypt off the event loop ---------------------------------------------------------------

async def test_health_stays_fast_while_logins_hash(aiohttp_client, make_config):
    # At cost 12 one hash takes ~0.3 s: a hash on the event loop would stall /healthz at least that
    # long, far above the bound below, so the bound separates "in the executor" from "blocking".
    # (A queue long enough for all ten: the bound past it is the next test's.)
    client = await aiohttp_client(create_app(make_config(auth={"bcrypt_rounds": 12, "hash_queue": 16})))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "alice", "email": "alice@example.com", "password": "the right one"})
    assert resp.status == 201
    logins = asyncio.gather(*[login(client, "alice", "the right one") for _ in range(10)])
    await asyncio.sleep(0)
    timings = []
    while not logins.done():
        start = time.perf_counter()
        assert (await client.get("/healthz")).status == 200
        timings.append(time.perf_counter() - start)
    assert all(r.status == 200 for r in await logins)
    assert len(timings) >= 3, timings
    # Compared with one hash timed now, on this machine under its current load: a login hashing
    # on the loop would stall /healthz for a whole hash at least.
    start = time.perf_counter()
    bcrypt.hashpw(b"calibration", bcrypt.gensalt(12))
    one_hash = time.perf_counter() - start
    # Hashing on the loop would put a whole hash in front of almost every /healthz; a busy machine
    # only delays a few of them, so the median tells the two apart.
    assert statistics.median(timings) < one_hash / 4, (timings, one_hash)


async def test_revocation_holds_while_redis_is_down(aiohttp_client, make_config, private_redis):
    config = make_config(redis={"url": f"redis://127.0.0.1:{private_redis.port}/0", "socket_timeout": 0.5,
                                "connect_timeout": 0.5})
    client = await aiohttp_client(create_app(config))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "alice", "email": "alice@example.com", "password": "the right one"})
    laptop = await resp.json()
    phone = await (await login(client, "alice", "the right one")).json()
    assert (await me(client, laptop["access_token"])).status == 200  # cached as active in Redis

    private_redis.stop()
    # MySQL answers instead: the session check fails closed, never open.
    resp = await client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {laptop['access_token']}"})
    assert resp.status == 204
    await problem_of(await me(client, laptop["access_token"]), 401)
    assert (await me(client, phone["access_token"])).status == 200


async def test_logins_past_the_hash_queue_are_refused_at_once_and_queued_ones_succeed(aiohttp_client, make_config):
    # One hashing thread and two places in the queue: of twelve logins at once three are admitted
    # (one hashing, two waiting; at cost 12 a hash takes ~0.3 s) and nine are refused before any
    # hash is done, with Retry-After, the native ones as problem+json, the Conduit ones too (a 5xx).
    client = await aiohttp_client(create_app(make_config(auth={"bcrypt_rounds": 12, "hash_queue": 2},
                                                         server={"blocking_threads": 1})))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "alice", "email": "alice@example.com", "password": "the right one"})
    assert resp.status == 201

    async def timed(call):
        start = time.perf_counter()
        resp = await call
        return resp, await resp.read(), time.perf_counter() - start

    for attempt in (lambda: login(client, "alice", "the right one"),
                    lambda: client.post("/api/users/login", json={"user": {"email": "alice@example.com",
                                                                           "password": "the right one"}})):
        results = await asyncio.gather(*[timed(attempt()) for _ in range(12)])
        ok = [r for r in results if r[0].status == 200]
        busy = [r for r in results if r[0].status == 503]
        assert len(ok) == 3 and len(busy) == 9, [r[0].status for r in results]
        for resp, body, _ in busy:
            assert resp.content_type == "application/problem+json"
            assert orjson.loads(body)["type"] == "urn:chatter:problem:busy"
            assert int(resp.headers["Retry-After"]) >= 1
        # Refused before the first admitted login's hash was done: no client waits for a refusal.
        assert max(t for *_, t in busy) < min(t for *_, t in ok), ([t for *_, t in busy], [t for *_, t in ok])
        assert all("token" in orjson.loads(body).get("user", {}) or "access_token" in orjson.loads(body)
                   for _, body, _ in ok)
    # The queue drained: one more login goes through.
    assert (await login(client, "alice", "the right one")).status == 200


async def test_registration_past_the_hash_queue_is_refused_too(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(auth={"bcrypt_rounds": 12, "hash_queue": 0},
                                                         server={"blocking_threads": 1})))
    results = await asyncio.gather(*[client.post("/api/v1/auth/register", json={
        "username": f"user{i}", "email": f"user{i}@example.com", "password": "the right one"}) for i in range(4)])
    statuses = sorted(r.status for r in results)
    assert statuses == [201, 503, 503, 503], statuses
    refused = next(r for r in results if r.status == 503)
    assert refused.headers["Retry-After"].isdigit()
    # Nothing was half-made by a refused registration: its name is free.
    name = next(f"user{i}" for i, r in enumerate(results) if r.status == 503)
    resp = await client.post("/api/v1/auth/register", json={
        "username": name, "email": f"{name}@example.com", "password": "the right one"})
    assert resp.status == 201, await resp.text()
