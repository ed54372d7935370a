"""Reports, moderators and suspensions: users report what they see, moderators resolve reports and
suspend accounts, a suspended account disappears from every page (native, Conduit) and its sockets
close at once, everything moderators do lands in an append-only log."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

from server import housekeeping, moderation
from server.app import create_app
from server.keys import DB
from tests.conftest import _db_url_with
from tests.helpers import closed_with, next_frame, problem_of
from tests.test_posts import new_post
from tests.test_socketio import sio_client  # noqa: F401 - fixture
from tests.test_timeline import same_as_sql, sql_only
from tests.test_ws import connect, send

ROOT = Path(__file__).resolve().parent.parent


async def make_moderator(client, make_user, role: str = "moderator"):
    mod = await make_user()
    await moderation.set_role(client.app[DB], mod.username, role)
    return mod


async def report(client, user, target: str, target_id: int, reason: str = "spam", status: int = 201, **extra):
    resp = await client.post("/api/v1/reports", headers=user.headers,
                             json={"target": target, "id": target_id, "reason": reason, **extra})
    assert resp.status == status, await resp.text()
    return await resp.json()


async def admin(client, mod, method: str, path: str, status: int = 200, **kw):
    resp = await client.request(method, f"/api/v1/admin{path}", headers=mod.headers, **kw)
    if status >= 400:
        return await problem_of(resp, status)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def comment(client, user, post_id: int, content: str = "a comment") -> dict:
    resp = await client.post(f"/api/v1/posts/{post_id}/comments", json={"content": content}, headers=user.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


def in_future(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


# --- roles -------------------------------------------------------------------------------------------

async def test_set_role_from_the_command_line(client, make_user, services):
    alice = await make_user()
    env = {**os.environ, "CHATTER_DATABASE__URL": _db_url_with(services.db_url, services.database),
           "CHATTER_REDIS__URL": services.redis_url, "CHATTER_AUTH__SECRET": "s" * 40}
    run = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "server", "--no-local-services", "set-role",
                                                    alice.username, "moderator"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert re.search(rf"{alice.username} \(id {alice.id}\): user -> moderator", run.stdout)
    me = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    assert me["role"] == "moderator"
    assert (await client.get("/api/v1/admin/reports", headers=alice.headers)).status == 200
    run = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "server", "--no-local-services", "set-role",
                                                    "nobody_like_that", "admin"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "No user named" in run.stderr
    log = await client.app[DB].fetchall("SELECT actor_id, action, subject_user_id FROM moderation_log")
    assert log == [{"actor_id": None, "action": "role.changed", "subject_user_id": alice.id}]


async def test_the_moderation_api_is_for_moderators_only(client, make_user):
    alice = await make_user()
    for method, path in (("GET", "/reports"), ("GET", "/reports/1"), ("POST", "/reports/1/resolve"),
                         ("GET", f"/users/{alice.id}"), ("PUT", f"/users/{alice.id}/suspension"),
                         ("DELETE", f"/users/{alice.id}/suspension"), ("GET", "/audit")):
        body = {"action": "dismiss"} if "resolve" in path else {"reason": "x"} if method == "PUT" else None
        await problem_of(await client.request(method, f"/api/v1/admin{path}", headers=alice.headers, json=body), 403)
        await problem_of(await client.request(method, f"/api/v1/admin{path}", json=body), 401)
    spec = await (await client.get("/api/openapi.json")).json()
    for path in ("/api/v1/reports", "/api/v1/admin/reports", "/api/v1/admin/reports/{id}/resolve",
                 "/api/v1/admin/users/{id}/suspension", "/api/v1/admin/audit", "/api/v1/auth/sessions/{id}"):
        assert path in spec["paths"], path


# --- reports ------------------------------------------------------------------------------------------

async def test_users_report_what_they_see_once_per_target(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    post = await new_post(client, bob, "buy cheap watches")
    note = await comment(client, bob, post["id"], "really cheap")
    msg = await send(client, bob, alice, "psst")

    first = await report(client, alice, "post", post["id"], "spam", comment="an ad")
    assert first | {"id": 0, "created_at": ""} == {"id": 0, "target": {"type": "post", "id": post["id"]},
                                                    "reason": "spam", "comment": "an ad", "status": "open",
                                                    "created_at": ""}
    again = await report(client, alice, "post", post["id"], "abuse", status=200)
    assert again["id"] == first["id"] and again["reason"] == "spam"
    assert (await report(client, carol, "post", post["id"]))["id"] != first["id"]  # another reporter
    await report(client, alice, "comment", note["id"], "abuse")
    await report(client, alice, "user", bob.id, "other", comment="spam account")
    await report(client, alice, "message", msg["id"], "abuse")

    # Only messages one took part in; only things one can see; never one's own.
    await problem_of(await client.post("/api/v1/reports", headers=carol.headers,
                                       json={"target": "message", "id": msg["id"], "reason": "spam"}), 404)
    await problem_of(await client.post("/api/v1/reports", headers=carol.headers,
                                       json={"target": "post", "id": 99999999, "reason": "spam"}), 404)
    await problem_of(await client.post("/api/v1/reports", headers=bob.headers,
                                       json={"target": "post", "id": post["id"], "reason": "spam"}), 422)
    await problem_of(await client.post("/api/v1/reports", headers=bob.headers,
                                       json={"target": "user", "id": bob.id, "reason": "spam"}), 422)
    errors = (await problem_of(await client.post("/api/v1/reports", headers=carol.headers, json={
        "target": "song", "id": 1, "reason": "boring", "extra": 1}), 422))["errors"]
    assert {"target", "reason", "extra"} <= set(errors)
    await problem_of(await client.post("/api/v1/reports", json={"target": "user", "id": bob.id, "reason": "spam"}), 401)


async def test_reports_are_rate_limited(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(ratelimit={"enabled": True, "reports_user": "2/60"})))
    users = []
    for i in range(4):
        resp = await client.post("/api/v1/auth/register", json={
            "username": f"rl{i}_{os.getpid()}", "email": f"rl{i}_{os.getpid()}@example.com", "password": "password123"})
        body = await resp.json()
        users.append((body["user"]["id"], {"Authorization": f"Bearer {body['access_token']}"}))
    (_, headers), targets = users[0], [u for u, _ in users[1:]]
    for target in targets[:2]:
        resp = await client.post("/api/v1/reports", headers=headers, json={"target": "user", "id": target, "reason": "spam"})
        assert resp.status == 201
    resp = await client.post("/api/v1/reports", headers=headers, json={"target": "user", "id": targets[2], "reason": "spam"})
    await problem_of(resp, 429)
    assert int(resp.headers["Retry-After"]) >= 1


async def test_a_reported_message_stays_reviewable_after_it_is_deleted(client, make_user):
    alice, bob = await make_user(), await make_user()
    mod = await make_moderator(client, make_user)
    msg = await send(client, bob, alice, "something nasty")
    filed = await report(client, alice, "message", msg["id"], "abuse")
    assert (await client.delete(f"/api/v1/messages/{msg['id']}", headers=bob.headers)).status == 204
    seen = await admin(client, mod, "GET", f"/reports/{filed['id']}")
    assert seen["snapshot"]["content"] == "something nasty" and seen["snapshot"]["sender_id"] == bob.id
    assert seen["reporter"]["id"] == alice.id and seen["target_user"]["id"] == bob.id
    assert seen["target_user"]["state"] == "active" and seen["status"] == "open"


async def test_moderators_page_through_open_and_resolved_reports(client, make_user):
    mod = await make_moderator(client, make_user)
    reporter = await make_user()
    targets = [await make_user() for _ in range(5)]
    ids = [(await report(client, reporter, "user", t.id))["id"] for t in targets]
    first = await admin(client, mod, "GET", "/reports", params={"limit": 3})
    assert [r["id"] for r in first["items"]] == ids[::-1][:3] and first["next_cursor"]
    rest = await admin(client, mod, "GET", "/reports", params={"limit": 3, "before": first["next_cursor"]})
    assert [r["id"] for r in rest["items"]] == ids[::-1][3:] and rest["next_cursor"] is None
    oldest_first = await admin(client, mod, "GET", "/reports", params={"after": 0})
    assert [r["id"] for r in oldest_first["items"]] == ids
    await admin(client, mod, "POST", f"/reports/{ids[0]}/resolve", json={"action": "dismiss", "note": "fine"})
    assert [r["id"] for r in (await admin(client, mod, "GET", "/reports"))["items"]] == ids[::-1][:4]
    resolved = (await admin(client, mod, "GET", "/reports", params={"status": "resolved"}))["items"]
    assert [r["id"] for r in resolved] == [ids[0]]
    assert resolved[0]["resolved_by"]["id"] == mod.id and resolved[0]["note"] == "fine"
    await problem_of(await client.get("/api/v1/admin/reports", params={"status": "maybe"}, headers=mod.headers), 400)


async def test_resolving_notifies_every_reporter_live_and_is_logged(client, make_user):
    alice, carol, bob = await make_user(), await make_user(), await make_user()
    mod = await make_moderator(client, make_user)
    post = await new_post(client, bob, "spam spam spam")
    first = await report(client, alice, "post", post["id"])
    second = await report(client, carol, "post", post["id"], "abuse")
    ws, _ = await connect(client, alice)

    done = await admin(client, mod, "POST", f"/reports/{first['id']}/resolve",
                       json={"action": "dismiss", "note": "satire"})
    assert done["status"] == "resolved" and done["action"] == "dismiss" and done["resolved_at"]
    frame = await next_frame(ws, "notification.created")
    assert frame["seq"] and frame["data"] | {"id": 0, "created_at": ""} == {
        "id": 0, "type": "report.resolved", "actor": None, "post_id": None, "comment_id": None, "message_id": None,
        "report_id": first["id"], "message": "Your report was reviewed: no action was needed", "is_read": False,
        "created_at": ""}
    # Both reports on the post are resolved together; each reporter is told.
    assert (await admin(client, mod, "GET", f"/reports/{second['id']}"))["status"] == "resolved"
    listed = (await (await client.get("/api/v1/notifications", headers=carol.headers)).json())["items"]
    assert [(n["type"], n["report_id"], n["actor"]) for n in listed] == [("report.resolved", second["id"], None)]
    assert (await (await client.get("/api/v1/notifications/unread_count", headers=carol.headers)).json()) == {"count": 1}
    await admin(client, mod, "POST", f"/reports/{first['id']}/resolve", 409, json={"action": "dismiss"})
    await admin(client, mod, "POST", "/reports/99999999/resolve", 404, json={"action": "dismiss"})
    assert (await client.get(f"/api/v1/posts/{post['id']}")).status == 200  # dismissed: nothing happened

    audit = [e for e in (await admin(client, mod, "GET", "/audit"))["items"] if e["action"] != "role.changed"]
    assert [(e["action"], e["actor"]["id"], e["report_id"], e["note"]) for e in audit] == [
        ("report.resolved", mod.id, first["id"], "satire")]
    assert audit[0]["target"] == {"type": "post", "id": post["id"]} and audit[0]["subject_user_id"] == bob.id
    assert sorted(audit[0]["details"]["report_ids"]) == sorted([first["id"], second["id"]])
    await ws.close()


async def test_delete_content_removes_the_reported_post_comment_or_message(client, make_user):
    alice, bob = await make_user(), await make_user()
    mod = await make_moderator(client, make_user)
    post = await new_post(client, bob, "bad post")
    mine = await new_post(client, alice, "my post")
    bad = await comment(client, bob, mine["id"], "bad comment")
    msg = await send(client, bob, alice, "bad message")
    bob_ws, _ = await connect(client, bob)

    for kind, target in (("post", post), ("comment", bad), ("message", msg)):
        filed = await report(client, alice, kind, target["id"], "abuse")
        done = await admin(client, mod, "POST", f"/reports/{filed['id']}/resolve", json={"action": "delete_content"})
        assert done["action"] == "delete_content"
    await problem_of(await client.get(f"/api/v1/posts/{post['id']}"), 404)
    assert (await (await client.get(f"/api/v1/posts/{mine['id']}")).json())["comments_count"] == 0
    assert (await (await client.get(f"/api/v1/posts/{mine['id']}/comments")).json())["items"] == []
    assert (await next_frame(bob_ws, "message.deleted"))["data"]["id"] == msg["id"]
    row = await client.app[DB].fetchone("SELECT posts_count FROM users WHERE id = %s", (bob.id,))
    assert row["posts_count"] == 0
    actions = [e["action"] for e in (await admin(client, mod, "GET", "/audit"))["items"]]
    assert actions.count("content.deleted") == 3 and actions.count("report.resolved") == 3
    # A user has no content to delete.
    filed = await report(client, alice, "user", bob.id)
    await admin(client, mod, "POST", f"/reports/{filed['id']}/resolve", 422, json={"action": "delete_content"})
    await bob_ws.close()


# --- suspension ----------------------------------------------------------------------------------------

async def pages_see(client, viewer_headers: dict, bob, post: dict, note: dict, host_post: dict) -> dict[str, bool]:
    """Whether each page shows bob (his profile, post, comment) to this viewer."""
    async def ok(path, **params) -> bool:
        resp = await client.get(path, headers=viewer_headers, params=params or None)
        return resp.status == 200

    async def items(path, **params) -> list:
        resp = await client.get(path, headers=viewer_headers, params=params or None)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return body.get("items", body.get("articles", body.get("comments")))

    slug = post["slug"]
    return {
        "profile": await ok(f"/api/v1/users/{bob.id}"),
        "lookup": await ok("/api/v1/users/lookup", username=bob.username),
        "user posts": await ok(f"/api/v1/users/{bob.id}/posts"),
        "post": await ok(f"/api/v1/posts/{post['id']}"),
        "public": post["id"] in [p["id"] for p in await items("/api/v1/posts")],
        "search": bob.id in [u["id"] for u in await items("/api/v1/users", q=bob.username)],
        "comments": note["id"] in [c["id"] for c in await items(f"/api/v1/posts/{host_post['id']}/comments")],
        "likers": bob.id in [u["id"] for u in await items(f"/api/v1/posts/{host_post['id']}/likes")],
        "conduit profile": await ok(f"/api/profiles/{bob.username}"),
        "conduit article": await ok(f"/api/articles/{slug}"),
        "conduit list": slug in [a["slug"] for a in await items("/api/articles")],
        "conduit by author": slug in [a["slug"] for a in await items("/api/articles", author=bob.username)],
        "conduit comments": note["id"] in [c["id"] for c in await items(f"/api/articles/{host_post['slug']}/comments")],
    }


async def article(client, user, title: str) -> dict:
    resp = await client.post("/api/articles", headers={"Authorization": f"Token {user.access_token}"},
                             json={"article": {"title": title, "description": "d", "body": "b", "tagList": ["t"]}})
    assert resp.status == 201, await resp.text()
    body = (await resp.json())["article"]
    row = await client.app[DB].fetchone("SELECT id FROM posts WHERE slug = %s", (body["slug"],))
    return {"id": row["id"], "slug": body["slug"]}


async def test_a_suspended_account_vanishes_everywhere_until_lifted(client, make_user, aiohttp_client,
                                                                    make_config, sio_client):  # noqa: F811
    sql = await sql_only(aiohttp_client, make_config)
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    mod = await make_moderator(client, make_user)
    await client.put(f"/api/v1/users/{bob.id}/follow", headers=alice.headers)
    await client.put(f"/api/v1/users/{alice.id}/follow", headers=bob.headers)
    host = await article(client, carol, "Carol's article")
    post = await article(client, bob, "Bob's article")
    note = await comment(client, bob, host["id"], "bob was here")
    await client.put(f"/api/v1/posts/{host['id']}/like", headers=bob.headers)
    await new_post(client, alice, "alice's own")
    before_home = await same_as_sql(client, sql, alice)
    assert post["id"] in before_home
    everyone = {k: True for k in await pages_see(client, carol.headers, bob, post, note, host)}
    assert await pages_see(client, carol.headers, bob, post, note, host) == everyone

    bob_ws, _ = await connect(client, bob)
    bob_sio = sio_client()
    await bob_sio.connect(client, token=bob.access_token)
    resp = await client.put(f"/api/v1/admin/users/{bob.id}/suspension", headers=mod.headers,
                            json={"reason": "spam wave"})
    assert resp.status == 200, await resp.text()
    view = await resp.json()
    assert view["state"] == "suspended" and view["suspension_reason"] == "spam wave" and view["suspended_until"] is None

    # Sockets close with 4001 within 5 s; tokens and logins stop.
    await closed_with(bob_ws, 4001, wait=5)
    assert await bob_sio.next("close", wait=5) == {"type": "close", "code": 4001, "reason": "session revoked"}
    await problem_of(await client.get("/api/v1/users/me", headers=bob.headers), 401)
    await problem_of(await client.post("/api/v1/auth/refresh", json={"refresh_token": bob.refresh_token}), 401)
    refused = await problem_of(await client.post("/api/v1/auth/login", json={"login": bob.username,
                                                                             "password": bob.password}), 403)
    assert refused["type"] == "urn:chatter:problem:account-suspended"
    resp = await client.post("/api/users/login", json={"user": {"email": bob.email, "password": bob.password}})
    assert resp.status == 403 and (await resp.json()) == {"errors": {"account": ["is suspended"]}}
    await problem_of(await client.post("/api/v1/auth/session", json={"login": bob.username,
                                                                     "password": bob.password}), 403)
    # A wrong password says nothing about the suspension.
    await problem_of(await client.post("/api/v1/auth/login", json={"login": bob.username, "password": "wrong one!"}), 401)

    # Hidden from everyone (anonymous included) ...
    nothing = {k: False for k in everyone}
    assert await pages_see(client, carol.headers, bob, post, note, host) == nothing
    assert await pages_see(client, {}, bob, post, note, host) == nothing
    assert post["id"] not in await same_as_sql(client, sql, alice)  # the cached home feed equals SQL
    followers = await (await client.get(f"/api/v1/users/{alice.id}/followers", headers=carol.headers)).json()
    assert followers["items"] == []
    feed = await (await client.get("/api/articles/feed", headers={"Authorization": f"Token {alice.access_token}"})).json()
    assert feed["articlesCount"] == 0
    # ... out of reach for new likes, comments and follows ...
    await problem_of(await client.put(f"/api/v1/posts/{post['id']}/like", headers=carol.headers), 404)
    await problem_of(await client.post(f"/api/v1/posts/{post['id']}/comments", json={"content": "hi"},
                                       headers=carol.headers), 404)
    await problem_of(await client.put(f"/api/v1/users/{bob.id}/follow", headers=carol.headers), 404)
    # ... but not from moderators.
    mod_sees = await pages_see(client, mod.headers, bob, post, note, host)
    assert mod_sees == everyone
    assert (await admin(client, mod, "GET", f"/users/{bob.id}"))["state"] == "suspended"

    view = await admin(client, mod, "DELETE", f"/users/{bob.id}/suspension", json={"note": "appeal accepted"})
    assert view["state"] == "active" and view["suspension_reason"] is None
    assert await pages_see(client, carol.headers, bob, post, note, host) == everyone
    assert await same_as_sql(client, sql, alice) == before_home
    assert (await client.post("/api/v1/auth/login", json={"login": bob.username, "password": bob.password})).status == 200
    audit = (await admin(client, mod, "GET", "/audit", params={"user_id": bob.id}))["items"]
    assert [(e["action"], e["note"]) for e in audit] == [("user.unsuspended", "appeal accepted"),
                                                        ("user.suspended", "spam wave")]
    assert audit[1]["details"]["sessions_revoked"] == 1


async def test_a_timed_suspension_lifts_itself(client, make_user):
    bob, carol = await make_user(), await make_user()
    mod = await make_moderator(client, make_user)
    post = await new_post(client, bob, "back soon")
    view = await admin(client, mod, "PUT", f"/users/{bob.id}/suspension",
                       json={"reason": "cool down", "until": in_future(1.5)})
    assert view["suspended_until"].endswith("Z")
    await problem_of(await client.get(f"/api/v1/posts/{post['id']}", headers=carol.headers), 404)
    refused = await problem_of(await client.post("/api/v1/auth/login", json={"login": bob.username,
                                                                             "password": bob.password}), 403)
    assert view["suspended_until"] in refused["detail"]
    assert (await housekeeping.run_frequent(client.app))["suspensions_lifted"] == 0
    await asyncio.sleep(1.6)
    # The background pass (every housekeeping.FREQUENT seconds) may have been first.
    assert (await housekeeping.run_frequent(client.app))["suspensions_lifted"] in (0, 1)
    assert (await client.get(f"/api/v1/posts/{post['id']}", headers=carol.headers)).status == 200
    assert (await client.post("/api/v1/auth/login", json={"login": bob.username, "password": bob.password})).status == 200
    audit = (await admin(client, mod, "GET", "/audit"))["items"]
    assert (audit[0]["action"], audit[0]["actor"], audit[0]["details"]) == ("user.unsuspended", None, {"expired": True})
    # An end in the past is refused.
    await admin(client, mod, "PUT", f"/users/{bob.id}/suspension", 422, json={"reason": "x", "until": in_future(-5)})


async def test_suspend_user_as_a_report_action(client, make_user):
    alice, bob = await make_user(), await make_user()
    mod = await make_moderator(client, make_user)
    msg = await send(client, bob, alice, "threat")
    filed = await report(client, alice, "message", msg["id"], "abuse")
    ws, _ = await connect(client, alice)
    await admin(client, mod, "POST", f"/reports/{filed['id']}/resolve",
                json={"action": "suspend_user", "note": "threats", "until": in_future(3600)})
    assert (await admin(client, mod, "GET", f"/users/{bob.id}"))["suspension_reason"] == "threats"
    assert (await next_frame(ws, "notification.created"))["data"]["message"] == (
        "Your report was reviewed: the account was suspended")
    await problem_of(await client.get(f"/api/v1/users/{bob.id}", headers=alice.headers), 404)
    # The conversation stays in alice's history.
    history = await (await client.get(f"/api/v1/conversations/{bob.id}/messages", headers=alice.headers)).json()
    assert [m["id"] for m in history["items"]] == [msg["id"]]
    await ws.close()


async def test_who_may_suspend_whom(client, make_user):
    user = await make_user()
    mod, other_mod = await make_moderator(client, make_user), await make_moderator(client, make_user)
    boss = await make_moderator(client, make_user, "admin")
    await admin(client, mod, "PUT", f"/users/{other_mod.id}/suspension", 403, json={"reason": "x"})
    await admin(client, mod, "PUT", f"/users/{boss.id}/suspension", 403, json={"reason": "x"})
    await admin(client, mod, "PUT", f"/users/{mod.id}/suspension", 403, json={"reason": "x"})
    await admin(client, boss, "PUT", f"/users/{boss.id}/suspension", 403, json={"reason": "x"})
    await admin(client, mod, "PUT", "/users/99999999/suspension", 404, json={"reason": "x"})
    assert (await admin(client, boss, "PUT", f"/users/{other_mod.id}/suspension", json={"reason": "x"}))["role"] == "moderator"
    # A suspended moderator moderates nothing.
    await admin(client, other_mod, "GET", "/reports", 401)
    assert (await admin(client, mod, "PUT", f"/users/{user.id}/suspension", json={"reason": "x"}))["state"] == "suspended"
    await admin(client, mod, "PUT", f"/users/{user.id}/suspension", json={"reason": "longer", "until": in_future(60)})
    assert (await admin(client, mod, "DELETE", f"/users/{user.id}/suspension"))["state"] == "active"
    assert (await admin(client, mod, "DELETE", f"/users/{user.id}/suspension"))["state"] == "active"  # no-op


async def test_nothing_updates_or_deletes_the_moderation_log():
    for path in (ROOT / "sql" / "queries").glob("*.sql"):
        text = path.read_text()
        assert not re.search(r"(UPDATE|DELETE\s+FROM)\s+moderation_log", text, re.I), path
        assert not re.search(r"TRUNCATE", text, re.I), path
