"""Mutes: the muted user's posts leave the muter's home feed and public timeline (cached or not), their
notifications are not made (with notifications), a timed mute ends by itself, a muted conversation
still delivers but makes no notification or unread badge; the muted user notices nothing."""

from __future__ import annotations

import asyncio
import contextlib

from server.housekeeping import run_once
from server.keys import DB
from tests.helpers import next_frame, no_frame, problem_of
from tests.test_posts import new_post
from tests.test_timeline import cached, same_as_sql, sql_only
from tests.test_ws import connect


async def mute(client, user, target, status: int = 200, **body) -> dict:
    resp = await client.put(f"/api/v1/users/{target.id}/mute", headers=user.headers,
                            **({"json": body} if body else {}))
    assert resp.status == status, await resp.text()
    return await resp.json(content_type=None)


async def ids_of(client, path, user=None, **params) -> list[int]:
    resp = await client.get(path, headers=user.headers if user else None, params=params or None)
    assert resp.status == 200, await resp.text()
    return [item["id"] for item in (await resp.json())["items"]]


async def unread(client, user) -> int:
    return (await (await client.get("/api/v1/notifications/unread_count", headers=user.headers)).json())["count"]


async def test_muted_posts_leave_home_feed_and_public_timeline_only(client, make_user, aiohttp_client, make_config):
    sql = await sql_only(aiohttp_client, make_config)
    me, loud, friend = await make_user(), await make_user(), await make_user()
    for u in (loud, friend):
        assert (await client.put(f"/api/v1/users/{u.id}/follow", headers=me.headers)).status == 200
    loud_posts = [(await new_post(client, loud, f"loud {i}"))["id"] for i in range(3)]
    friend_posts = [(await new_post(client, friend, f"friend {i}"))["id"] for i in range(3)]
    assert len(await same_as_sql(client, sql, me)) == 6

    state = await mute(client, me, loud)
    assert state == {"muting": True, "notifications": True, "expires_at": None}
    assert await cached(client.app, me.id) is None  # the muter's timeline was dropped
    assert await same_as_sql(client, sql, me) == friend_posts[::-1]
    assert await cached(client.app, me.id) == friend_posts[::-1]
    # A new post of the muted user is not fanned out to the muter, but to others.
    fresh = (await new_post(client, loud, "louder"))["id"]
    assert fresh not in await cached(client.app, me.id)
    assert await same_as_sql(client, sql, me) == friend_posts[::-1]
    assert set(await ids_of(client, "/api/v1/posts", me)) == set(friend_posts)
    # Elsewhere nothing changes: their profile, their posts page, the follow.
    assert await ids_of(client, f"/api/v1/users/{loud.id}/posts", me) == [fresh, *loud_posts[::-1]]
    seen = await (await client.get(f"/api/v1/users/{loud.id}", headers=me.headers)).json()
    assert seen["muting"] is True and seen["following"] is True and seen["blocking"] is False
    # The muted user notices nothing.
    seen_by_loud = await (await client.get(f"/api/v1/users/{me.id}", headers=loud.headers)).json()
    assert seen_by_loud["followed_by"] is True and seen_by_loud["muting"] is False
    assert fresh in await ids_of(client, "/api/v1/posts", loud)

    assert await (await client.delete(f"/api/v1/users/{loud.id}/mute", headers=me.headers)).json() == {
        "muting": False}
    assert await same_as_sql(client, sql, me) == sorted(loud_posts + friend_posts + [fresh], reverse=True)


async def test_notifications_of_a_muted_user(client, make_user):
    me, loud, quiet = await make_user(), await make_user(), await make_user()
    post = await new_post(client, me, "mine")
    await mute(client, me, loud)
    await mute(client, me, quiet, notifications=False)
    ws, _ = await connect(client, me)
    for u in (loud, quiet):
        await client.put(f"/api/v1/users/{me.id}/follow", headers=u.headers)
        await client.put(f"/api/v1/posts/{post['id']}/like", headers=u.headers)
        await client.post(f"/api/v1/posts/{post['id']}/comments", headers=u.headers, json={"content": "hey"})
        resp = await client.post("/api/v1/messages", headers=u.headers, json={"recipient_id": me.id, "content": "hi"})
        assert resp.status == 201  # the muted user may still write (and notices nothing)
    notes = (await (await client.get("/api/v1/notifications", headers=me.headers)).json())["items"]
    assert {n["actor"]["id"] for n in notes} == {quiet.id}
    assert sorted(n["type"] for n in notes) == ["comment", "follow", "like", "message"]
    assert await unread(client, me) == 4
    # Over the socket: both messages arrive, only the unmuted user's notifications do.
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(await next_frame(ws, wait=0.5))
    assert {f["data"]["sender_id"] for f in frames if f["type"] == "message.created"} == {loud.id, quiet.id}
    notified = [f["data"]["actor"]["id"] for f in frames if f["type"] == "notification.created"]
    assert notified == [quiet.id] * 4
    await ws.close()


async def test_a_timed_mute_ends_by_itself(client, make_user, aiohttp_client, make_config):
    sql = await sql_only(aiohttp_client, make_config)
    me, loud = await make_user(), await make_user()
    await client.put(f"/api/v1/users/{loud.id}/follow", headers=me.headers)
    before = (await new_post(client, loud, "before"))["id"]
    state = await mute(client, me, loud, duration=1)
    assert state["muting"] is True and state["expires_at"].endswith("Z")
    assert await same_as_sql(client, sql, me, limits=(20,)) == []
    during = (await new_post(client, loud, "during"))["id"]  # not fanned out to the cached timeline
    assert await same_as_sql(client, sql, me, limits=(20,)) == []
    assert [m["user"]["id"] for m in (await (await client.get("/api/v1/mutes", headers=me.headers)).json())[
        "items"]] == [loud.id]

    await asyncio.sleep(1.2)
    # Over: the posts are back in the public timeline and in the home feed, cached or not.
    assert set(await ids_of(client, "/api/v1/posts", me)) == {before, during}
    assert await same_as_sql(client, sql, me, limits=(20,)) == [during, before]
    assert await cached(client.app, me.id) == [during, before]
    assert await ids_of(client, "/api/v1/mutes", me) == []
    seen = await (await client.get(f"/api/v1/users/{loud.id}", headers=me.headers)).json()
    assert seen["muting"] is False
    like = await client.put(f"/api/v1/users/{me.id}/follow", headers=loud.headers)
    assert like.status == 200 and await unread(client, me) == 1  # notifications again
    removed = await run_once(client.app)
    assert removed["mutes"] == 1
    assert await client.app[DB].fetchval("SELECT COUNT(*) FROM mutes") == 0


async def test_mute_settings_list_and_errors(client, make_user):
    me = await make_user()
    others = [await make_user() for _ in range(4)]
    for other in others:
        await mute(client, me, other)
    state = await mute(client, me, others[0], duration=3600, notifications=False)  # new settings
    assert state["notifications"] is False and state["expires_at"] is not None
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"before": cursor} if cursor else {})}
        page = await (await client.get("/api/v1/mutes", headers=me.headers, params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [m["user"]["id"] for m in seen] == [o.id for o in reversed(others)]
    assert seen[-1]["notifications"] is False and seen[-1]["expires_at"] == state["expires_at"]
    assert all(m["user"]["muting"] is True and m["created_at"].endswith("Z") for m in seen)

    await problem_of(await client.put(f"/api/v1/users/{me.id}/mute", headers=me.headers), 422)
    await problem_of(await client.put("/api/v1/users/999999/mute", headers=me.headers), 404)
    await problem_of(await client.delete("/api/v1/users/999999/mute", headers=me.headers), 404)
    for bad in ({"duration": 0}, {"duration": "1h"}, {"duration": 10**9}, {"notifications": "yes"},
                {"forever": True}):
        await problem_of(await client.put(f"/api/v1/users/{others[1].id}/mute", headers=me.headers, json=bad), 422)
    await problem_of(await client.put(f"/api/v1/users/{others[1].id}/mute"), 401)
    await problem_of(await client.get("/api/v1/mutes"), 401)


async def test_conduit_lists_leave_muted_authors_out(client, make_user):
    me, loud, friend = await make_user(), await make_user(), await make_user()

    def conduit(user):
        return {"Authorization": f"Token {user.access_token}"}

    slugs = {}
    for u in (loud, friend):
        await client.put(f"/api/v1/users/{u.id}/follow", headers=me.headers)
        resp = await client.post("/api/articles", headers=conduit(u), json={"article": {
            "title": f"by {u.username}", "description": "d", "body": "b", "tagList": ["t"]}})
        slugs[u.id] = (await resp.json())["article"]["slug"]
    await mute(client, me, loud)
    for path, params in (("/api/articles", {}), ("/api/articles/feed", {}), ("/api/articles", {"tag": "t"})):
        body = await (await client.get(path, params=params, headers=conduit(me))).json()
        assert [a["slug"] for a in body["articles"]] == [slugs[friend.id]] and body["articlesCount"] == 1, path
    body = await (await client.get("/api/articles", params={"author": loud.username}, headers=conduit(me))).json()
    assert body["articlesCount"] == 1  # their own list is theirs to read
    assert (await (await client.get("/api/articles", headers=conduit(loud))).json())["articlesCount"] == 2
    profile = await (await client.get(f"/api/profiles/{loud.username}", headers=conduit(me))).json()
    assert set(profile["profile"]) == {"username", "bio", "image", "following"}  # the Conduit shape


# --- one conversation ------------------------------------------------------------------------------

async def test_muted_conversation_delivers_without_notification_or_badge(client, make_user):
    me, chatty = await make_user(), await make_user()
    resp = await client.put(f"/api/v1/conversations/{chatty.id}/mute", headers=me.headers)
    assert resp.status == 200 and await resp.json() == {"muted": True}
    ws, _ = await connect(client, me)
    for i in range(3):
        resp = await client.post("/api/v1/messages", headers=chatty.headers,
                                 json={"recipient_id": me.id, "content": f"m{i}"})
        assert resp.status == 201
        assert (await next_frame(ws, "message.created"))["data"]["content"] == f"m{i}"
    await no_frame(ws, "notification.created")
    assert await unread(client, me) == 0
    assert len(await ids_of(client, f"/api/v1/conversations/{chatty.id}/messages", me)) == 3
    conv = (await (await client.get("/api/v1/conversations", headers=me.headers)).json())["items"][0]
    assert conv["muted"] is True and conv["unread_count"] == 0
    # The peer notices nothing: their side is an ordinary conversation.
    theirs = (await (await client.get("/api/v1/conversations", headers=chatty.headers)).json())["items"][0]
    assert theirs["muted"] is False
    read = await client.post(f"/api/v1/conversations/{chatty.id}/read", headers=me.headers,
                             json={"up_to_id": conv["last_message"]["id"] - 1})
    assert (await read.json())["unread_count"] == 0

    resp = await client.delete(f"/api/v1/conversations/{chatty.id}/mute", headers=me.headers)
    assert await resp.json() == {"muted": False}
    conv = (await (await client.get("/api/v1/conversations", headers=me.headers)).json())["items"][0]
    assert conv["muted"] is False and conv["unread_count"] == 1  # what is still unread shows again
    await client.post("/api/v1/messages", headers=chatty.headers, json={"recipient_id": me.id, "content": "back"})
    assert (await next_frame(ws, "notification.created"))["data"]["type"] == "message"
    assert await unread(client, me) == 1
    await problem_of(await client.put(f"/api/v1/conversations/{me.id}/mute", headers=me.headers), 404)
    await problem_of(await client.put("/api/v1/conversations/999999/mute", headers=me.headers), 404)
    await ws.close()


async def test_mute_routes_are_in_the_openapi_document(client):
    spec = await (await client.get("/api/openapi.json")).json()
    assert {"put", "delete"} <= set(spec["paths"]["/api/v1/users/{id}/mute"])
    assert {"put", "delete"} <= set(spec["paths"]["/api/v1/conversations/{user_id}/mute"])
    assert "get" in spec["paths"]["/api/v1/mutes"]
