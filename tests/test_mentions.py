"""Mentions: parsed from post and comment text, stored, on documents, and notified (live, once,
not across blocks or notification mutes)."""

from __future__ import annotations

from server.textrefs import parse_mentions
from tests.helpers import next_frame, no_frame
from tests.test_comments import comment_on
from tests.test_mutes import mute
from tests.test_posts import new_post

WS = "/api/v1/ws"


def test_mention_parsing():
    assert parse_mentions("hi @Alice, @bob_1! and @ALICE again") == ["Alice", "bob_1"]
    assert parse_mentions("(@carol) @dave.") == ["carol", "dave"]
    # Emails, links, too short or too long names, a name running into other letters: plain text.
    assert parse_mentions("mail bob@example.com or see https://social.example/@alice") == []
    assert parse_mentions("@ab @" + "x" * 31 + " @alicé @@eve #@frank") == []


async def mentions_of(client, user, type: str = "mention") -> list[dict]:
    items = (await (await client.get("/api/v1/notifications", headers=user.headers)).json())["items"]
    return [n for n in items if n["type"] == type]


async def test_a_mention_is_on_the_document_and_notifies_live(client, make_user):
    alice, bob = await make_user(), await make_user()
    bob_ws = await client.ws_connect(WS, headers=bob.headers)
    await next_frame(bob_ws, "hello")
    post = await new_post(client, alice, f"hi @{bob.username.upper()}, @nobody_by_that_name and me @{alice.username}")
    assert post["mentions"] == [{"id": bob.id, "username": bob.username}, {"id": alice.id, "username": alice.username}]
    note = (await next_frame(bob_ws, "notification.created"))["data"]
    assert note["type"] == "mention" and note["post_id"] == post["id"] and note["comment_id"] is None
    assert note["actor"]["id"] == alice.id and note["message"] == f"{alice.username} mentioned you"
    assert await mentions_of(client, bob) == [note]
    assert await mentions_of(client, alice) == []  # mentioning oneself notifies nobody
    public = (await (await client.get("/api/v1/posts")).json())["items"][0]
    assert public == {**post, "liked": False}


async def test_blocks_and_notification_mutes_suppress_the_notification(client, make_user):
    alice, blocker, blocked, muter, quiet_muter = [await make_user() for _ in range(5)]
    assert (await client.put(f"/api/v1/users/{alice.id}/block", headers=blocker.headers)).status == 200
    assert (await client.put(f"/api/v1/users/{blocked.id}/block", headers=alice.headers)).status == 200
    await mute(client, muter, alice)  # with notifications (the default)
    await mute(client, quiet_muter, alice, notifications=False)  # the timeline only
    ws = {u.id: await client.ws_connect(WS, headers=u.headers) for u in (blocker, blocked, muter, quiet_muter)}
    for sock in ws.values():
        await next_frame(sock, "hello")
    names = " ".join(f"@{u.username}" for u in (blocker, blocked, muter, quiet_muter))
    await new_post(client, alice, f"hello {names}")
    note = (await next_frame(ws[quiet_muter.id], "notification.created"))["data"]
    assert note["type"] == "mention"
    for user in (blocker, blocked, muter):
        await no_frame(ws[user.id], "notification.created")
        assert await mentions_of(client, user) == []


async def test_an_edit_notifies_only_the_newly_mentioned(client, make_user):
    alice, bob, carol = [await make_user() for _ in range(3)]
    post = await new_post(client, alice, f"hey @{bob.username}")
    resp = await client.patch(f"/api/v1/posts/{post['id']}", headers=alice.headers,
                              json={"content": f"hey @{carol.username} and @{bob.username}"})
    edited = await resp.json()
    assert [m["id"] for m in edited["mentions"]] == [carol.id, bob.id]
    assert len(await mentions_of(client, bob)) == 1 and len(await mentions_of(client, carol)) == 1
    # Unchanged content or a title-only edit notifies nobody again.
    await client.patch(f"/api/v1/posts/{post['id']}", headers=alice.headers, json={"title": "Titled"})
    resp = await client.patch(f"/api/v1/posts/{post['id']}", headers=alice.headers,
                              json={"content": f"@{bob.username} @{carol.username} again"})
    assert [m["id"] for m in (await resp.json())["mentions"]] == [bob.id, carol.id]
    assert len(await mentions_of(client, bob)) == 1 and len(await mentions_of(client, carol)) == 1
    # Dropping a mention takes it off the document.
    resp = await client.patch(f"/api/v1/posts/{post['id']}", headers=alice.headers, json={"content": "nobody"})
    assert (await resp.json())["mentions"] == []


async def test_mentions_in_comments(client, make_user):
    host, alice, bob, carol = [await make_user() for _ in range(4)]
    post = await new_post(client, host, "a post")
    bob_ws = await client.ws_connect(WS, headers=bob.headers)
    await next_frame(bob_ws, "hello")
    comment = await comment_on(client, alice, post["id"], f"@{bob.username} look, @{host.username} wrote this")
    assert comment["mentions"] == [{"id": bob.id, "username": bob.username},
                                   {"id": host.id, "username": host.username}]
    note = (await next_frame(bob_ws, "notification.created"))["data"]
    assert (note["type"], note["post_id"], note["comment_id"]) == ("mention", post["id"], comment["id"])
    # The post's author has the comment's own notification, not a second one.
    assert await mentions_of(client, host) == [] and len(await mentions_of(client, host, "comment")) == 1

    resp = await client.patch(f"/api/v1/comments/{comment['id']}", headers=alice.headers,
                              json={"content": f"@{bob.username} and @{carol.username}"})
    assert [m["id"] for m in (await resp.json())["mentions"]] == [bob.id, carol.id]
    assert len(await mentions_of(client, bob)) == 1
    assert [n["comment_id"] for n in await mentions_of(client, carol)] == [comment["id"]]
    listed = (await (await client.get(f"/api/v1/posts/{post['id']}/comments")).json())["items"][0]
    assert listed["mentions"] == [{"id": bob.id, "username": bob.username}, {"id": carol.id, "username": carol.username}]


async def test_a_hidden_user_leaves_the_mentions(client, make_user):
    from tests.test_moderation import make_moderator

    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice, f"@{bob.username}")
    mod = await make_moderator(client, make_user)
    resp = await client.put(f"/api/v1/admin/users/{bob.id}/suspension", headers=mod.headers, json={"reason": "x"})
    assert resp.status == 200, await resp.text()
    assert (await (await client.get(f"/api/v1/posts/{post['id']}")).json())["mentions"] == []
    # A suspended account cannot be newly mentioned either.
    later = await new_post(client, alice, f"@{bob.username} again")
    assert later["mentions"] == []
