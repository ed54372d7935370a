"""Browser sessions: log in with a cookie, use it like a token, CSRF by Origin, log out."""

from __future__ import annotations

from server.app import create_app
from server.keys import CONFIG, DB
from tests.helpers import problem_of

ORIGIN = {"Origin": "http://localhost:3000"}


async def cookie_login(client, user, headers=ORIGIN):
    return await client.post("/api/v1/auth/session", headers=headers,
                             json={"login": user.username, "password": user.password})


async def test_a_browser_logs_in_with_a_cookie_and_uses_it_like_a_token(client, make_user):
    alice = await make_user("alice")
    resp = await cookie_login(client, alice)
    assert resp.status == 200
    body = await resp.json()
    assert body["user"]["id"] == alice.id and "access_token" not in body and "refresh_token" not in body
    cookie = resp.headers["Set-Cookie"]
    name = client.app[CONFIG].auth.cookie_name
    assert cookie.startswith(f"{name}=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower() and "secure" not in attributes

    resp = await client.get("/api/v1/users/me")  # the cookie jar sends it, no Authorization
    assert resp.status == 200
    assert (await resp.json())["email"] == alice.email

    # Unsafe requests with the cookie need an allowed Origin (CSRF).
    resp = await client.patch("/api/v1/users/me", json={"bio": "from the browser"}, headers=ORIGIN)
    assert resp.status == 200 and (await resp.json())["bio"] == "from the browser"
    for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        resp = await client.patch("/api/v1/users/me", json={"bio": "csrf"}, headers=headers)
        await problem_of(resp, 403)
    me = await (await client.get("/api/v1/users/me")).json()
    assert me["bio"] == "from the browser"


async def test_cookie_logout_ends_the_session(client, make_user):
    alice = await make_user("alice")
    assert (await cookie_login(client, alice)).status == 200
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    assert (await client.get("/api/v1/users/me")).status == 200

    resp = await client.delete("/api/v1/auth/session", headers={"Origin": "https://evil.example"})
    await problem_of(resp, 403)  # a cross-site page cannot log the user out either
    resp = await client.delete("/api/v1/auth/session", headers=ORIGIN)
    assert resp.status == 204
    await problem_of(await client.get("/api/v1/users/me"), 401)
    # The old cookie, replayed, is dead: its session is revoked in MySQL too.
    client.session.cookie_jar.update_cookies(cookies)
    await problem_of(await client.get("/api/v1/users/me"), 401)
    revoked = await client.app[DB].fetchval(
        "SELECT COUNT(*) FROM sessions WHERE kind = 'browser' AND revoke_reason = 'logout'")
    assert revoked == 1
    assert (await client.delete("/api/v1/auth/session", headers=ORIGIN)).status == 204


async def test_a_password_change_elsewhere_ends_the_browser_session(client, make_user):
    alice = await make_user("alice")
    assert (await cookie_login(client, alice)).status == 200
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    client.session.cookie_jar.clear()
    resp = await client.post("/api/v1/auth/password/change", headers=alice.headers,
                             json={"current_password": alice.password, "new_password": "changed it now"})
    assert resp.status == 204
    client.session.cookie_jar.update_cookies(cookies)
    await problem_of(await client.get("/api/v1/users/me"), 401)


async def test_cookie_login_errors(client, make_user):
    alice = await make_user("alice")
    resp = await client.post("/api/v1/auth/session", headers=ORIGIN,
                             json={"login": "alice", "password": "wrong password"})
    await problem_of(resp, 401)
    assert "Set-Cookie" not in resp.headers
    resp = await cookie_login(client, alice, headers={"Origin": "https://evil.example"})
    await problem_of(resp, 403)
    resp = await client.post("/api/v1/auth/session", headers=ORIGIN, json={"login": "alice"})
    await problem_of(resp, 422)
    await problem_of(await client.get("/api/v1/users/me"), 401)


async def test_secure_cookie_when_configured(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(auth={"cookie_secure": True, "cookie_name": "sid"})))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "alice", "email": "alice@example.com", "password": "the right one"})
    assert resp.status == 201
    resp = await client.post("/api/v1/auth/session", headers=ORIGIN,
                             json={"login": "alice", "password": "the right one"})
    assert resp.status == 200
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("sid=")
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}
