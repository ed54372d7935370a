"""Edit history: every edit of a post, comment or message keeps the version it replaced (in the same
transaction), readable by whoever may see the original; documents carry `edited_at`."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

from server import moderation
from server.keys import DB
from tests.helpers import next_frame, problem_of
from tests.test_conduit import create_article, register
from tests.test_deletion import finish
from tests.test_export import download
from tests.test_messages import send, socket
from tests.test_posts import add_media, new_post, scalar


async def history(client, path: str, user=None, status: int = 200, **params) -> dict:
    resp = await client.get(f"/api/v1/{path}/history", headers=user.headers if user else {}, params=params or None)
    if status >= 400:
        return await problem_of(resp, status)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def patch(client, path: str, user, status: int = 200, **body) -> dict:
    resp = await client.patch(f"/api/v1/{path}", headers=user.headers, json=body)
    if status >= 400:
        return await problem_of(resp, status)
    assert resp.status == status, await resp.text()
    return await resp.json()


def assert_chained(versions_oldest_first: list[dict], current: dict) -> None:
    """Each version was replaced when the next one was written; the newest when the current one was."""
    for older, newer in zip(versions_oldest_first, versions_oldest_first[1:], strict=False):
        assert older["replaced_at"] == newer["created_at"]
        assert older["created_at"] <= older["replaced_at"]
    assert versions_oldest_first[0]["created_at"] == current["created_at"]
    assert versions_oldest_first[-1]["replaced_at"] == current["edited_at"]


# --- posts -----------------------------------------------------------------------------------------

async def test_post_history_keeps_each_version_with_its_title_and_media(client, make_user):
    alice, bob = await make_user(), await make_user()
    m1, m2 = await add_media(client, alice), await add_media(client, alice)
    post = await new_post(client, alice, "first draft", title="Title one", media_ids=[m1])
    assert post["edited"] is False and post["edited_at"] is None
    assert await history(client, f"posts/{post['id']}") == {"items": [], "next_cursor": None}

    second = await patch(client, f"posts/{post['id']}", alice, media_ids=[m2])
    assert second["edited"] is True and second["edited_at"] is not None
    third = await patch(client, f"posts/{post['id']}", alice, content="final", title="Title two")
    assert [m["id"] for m in third["media"]] == [m2] and third["title"] == "Title two"

    page = await history(client, f"posts/{post['id']}", bob)  # anyone who may see the post
    versions = page["items"]
    assert page["next_cursor"] is None
    assert [(v["title"], v["content"], [m["id"] for m in v["media"]]) for v in versions] == [
        ("Title one", "first draft", [m2]),  # newest first: the version the second edit replaced
        ("Title one", "first draft", [m1]),
    ]
    # The media of that version, as a Media object, though it is attached to nothing any more.
    assert versions[1]["media"][0] == post["media"][0]
    assert set(versions[0]) == {"id", "title", "content", "media", "created_at", "replaced_at"}
    assert_chained(versions[::-1], third)
    assert versions[0]["created_at"] == second["edited_at"]

    # Keyset pages, newest first by default, oldest first with ?after.
    first_page = await history(client, f"posts/{post['id']}", limit=1)
    assert [v["id"] for v in first_page["items"]] == [versions[0]["id"]]
    rest = await history(client, f"posts/{post['id']}", limit=1, before=first_page["next_cursor"])
    assert [v["id"] for v in rest["items"]] == [versions[1]["id"]] and rest["next_cursor"] is None
    oldest_first = await history(client, f"posts/{post['id']}", after=0)
    assert [v["id"] for v in oldest_first["items"]] == [versions[1]["id"], versions[0]["id"]]

    # The documents everywhere carry edited_at.
    shown = await (await client.get(f"/api/v1/posts/{post['id']}")).json()
    listed = (await (await client.get("/api/v1/posts")).json())["items"][0]
    assert shown["edited_at"] == listed["edited_at"] == third["edited_at"] and shown["edited"] is True


async def test_concurrent_edits_each_keep_exactly_one_version(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice, "v0")
    await asyncio.gather(*(patch(client, f"posts/{post['id']}", alice, content=f"v{i}") for i in range(1, 11)))
    versions = (await history(client, f"posts/{post['id']}", after=0))["items"]
    assert len(versions) == 10
    assert versions[0]["content"] == "v0"
    # Edits queued on the post's row: each version is what the previous edit wrote, no two alike.
    assert len({v["content"] for v in versions}) == 10
    current = await (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert current["content"] not in {v["content"] for v in versions}
    assert_chained(versions, current)


async def test_an_edit_refused_by_validation_leaves_no_version(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice, "original")
    comment = await (await client.post(f"/api/v1/posts/{post['id']}/comments", headers=alice.headers,
                                       json={"content": "original"})).json()
    bobs_upload = await add_media(client, bob)
    # Refused inside the edit's transaction (someone else's upload): nothing of it stays.
    await patch(client, f"posts/{post['id']}", alice, 422, content="changed", media_ids=[bobs_upload])
    await patch(client, f"comments/{comment['id']}", alice, 422, content="changed", media_ids=[bobs_upload])
    # Refused by the schema, before the service.
    await patch(client, f"posts/{post['id']}", alice, 422, content="")
    await patch(client, f"posts/{post['id']}", bob, 403, content="mine now")
    msg = await send(client, alice, bob, "hello")
    await patch(client, f"messages/{msg['id']}", alice, 422, content="   ")
    await patch(client, f"messages/{msg['id']}", bob, 403, content="not yours")
    assert (await client.put(f"/api/v1/users/{alice.id}/block", headers=bob.headers)).status == 200
    await patch(client, f"messages/{msg['id']}", alice, 403, content="read-only now")

    for table in ("post_versions", "comment_versions", "message_versions"):
        assert await scalar(client, f"SELECT COUNT(*) FROM {table}") == 0, table  # noqa: S608
    shown = await (await client.get(f"/api/v1/posts/{post['id']}")).json()
    assert shown["content"] == "original" and shown["edited_at"] is None
    assert await scalar(client, "SELECT content FROM messages WHERE id = %s", msg["id"]) == "hello"


async def test_deleting_a_post_removes_its_history_and_its_comments(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice, "v1")
    await patch(client, f"posts/{post['id']}", alice, content="v2")
    comment = await (await client.post(f"/api/v1/posts/{post['id']}/comments", headers=bob.headers,
                                       json={"content": "c1"})).json()
    await patch(client, f"comments/{comment['id']}", bob, content="c2")
    other = await (await client.post(f"/api/v1/posts/{post['id']}/comments", headers=bob.headers,
                                     json={"content": "d1"})).json()
    await patch(client, f"comments/{other['id']}", bob, content="d2")
    assert await scalar(client, "SELECT COUNT(*) FROM comment_versions") == 2

    assert (await client.delete(f"/api/v1/comments/{other['id']}", headers=bob.headers)).status == 204
    assert await scalar(client, "SELECT COUNT(*) FROM comment_versions WHERE comment_id = %s", other["id"]) == 0
    await history(client, f"comments/{other['id']}", status=404)

    assert (await client.delete(f"/api/v1/posts/{post['id']}", headers=alice.headers)).status == 204
    assert await scalar(client, "SELECT COUNT(*) FROM post_versions") == 0
    assert await scalar(client, "SELECT COUNT(*) FROM comment_versions") == 0
    await history(client, f"posts/{post['id']}", status=404)
    await history(client, f"comments/{comment['id']}", status=404)


async def test_post_and_comment_history_is_for_whoever_may_see_the_post(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    post = await new_post(client, alice, "v1")
    await patch(client, f"posts/{post['id']}", alice, content="v2")
    comment = await (await client.post(f"/api/v1/posts/{post['id']}/comments", headers=carol.headers,
                                       json={"content": "c1"})).json()
    await patch(client, f"comments/{comment['id']}", carol, content="c2")
    assert len((await history(client, f"comments/{comment['id']}", bob))["items"]) == 1

    # The post's author blocks bob: the post, its comments and their histories are a 404 to him.
    assert (await client.put(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 200
    await history(client, f"posts/{post['id']}", bob, 404)
    await history(client, f"comments/{comment['id']}", bob, 404)
    assert len((await history(client, f"posts/{post['id']}"))["items"]) == 1  # others still see it
    # The comment's author blocks someone: the comment's history is a 404 to them.
    dave = await make_user()
    assert (await client.put(f"/api/v1/users/{dave.id}/block", headers=carol.headers)).status == 200
    await history(client, f"comments/{comment['id']}", dave, 404)
    assert len((await history(client, f"posts/{post['id']}", dave))["items"]) == 1

    # A suspended author: hidden from everyone but moderators.
    mod = await make_user()
    await moderation.set_role(client.app[DB], mod.username, "moderator")
    resp = await client.put(f"/api/v1/admin/users/{alice.id}/suspension", headers=mod.headers, json={"reason": "x"})
    assert resp.status == 200
    await history(client, f"posts/{post['id']}", None, 404)
    await history(client, f"comments/{comment['id']}", carol, 404)
    assert len((await history(client, f"posts/{post['id']}", mod))["items"]) == 1
    assert len((await history(client, f"comments/{comment['id']}", mod))["items"]) == 1
    await history(client, "posts/424242", status=404)
    await history(client, "comments/424242", status=404)


# --- comments --------------------------------------------------------------------------------------

async def test_comment_history_with_media_changes(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    m1, m2 = await add_media(client, bob), await add_media(client, bob)
    resp = await client.post(f"/api/v1/posts/{post['id']}/comments", headers=bob.headers,
                             json={"content": "nice", "media_ids": [m1, m2]})
    comment = await resp.json()
    assert comment["edited_at"] is None
    one = await patch(client, f"comments/{comment['id']}", bob, media_ids=[])
    two = await patch(client, f"comments/{comment['id']}", bob, content="very nice", media_ids=[m2])
    assert one["edited_at"] is not None and two["media"][0]["id"] == m2

    versions = (await history(client, f"comments/{comment['id']}", alice))["items"]
    assert [(v["content"], [m["id"] for m in v["media"]]) for v in versions] == [("nice", []), ("nice", [m1, m2])]
    assert set(versions[0]) == {"id", "content", "media", "created_at", "replaced_at"}
    assert versions[1]["media"] == comment["media"]
    assert_chained(versions[::-1], two)
    listed = (await (await client.get(f"/api/v1/posts/{post['id']}/comments")).json())["items"][0]
    assert listed["edited_at"] == two["edited_at"] and listed["edited"] is True


# --- messages --------------------------------------------------------------------------------------

async def test_message_history_is_for_the_two_participants(client, make_user):
    alice, bob, eve = await make_user(), await make_user(), await make_user()
    msg = await send(client, alice, bob, "helo")
    assert msg["edited_at"] is None
    bob_ws = await socket(client, bob)
    first = await patch(client, f"messages/{msg['id']}", alice, content="hello")
    update = await next_frame(bob_ws, "message.updated")
    assert update["data"]["edited_at"] == first["edited_at"] is not None
    second = await patch(client, f"messages/{msg['id']}", alice, content="hello there")
    assert (await next_frame(bob_ws, "message.updated"))["data"]["edited_at"] == second["edited_at"]
    await bob_ws.close()

    for user in (alice, bob):
        versions = (await history(client, f"messages/{msg['id']}", user))["items"]
        assert [v["content"] for v in versions] == ["hello", "helo"]
        assert set(versions[0]) == {"id", "content", "created_at", "replaced_at"}
        assert_chained(versions[::-1], second)
    await history(client, f"messages/{msg['id']}", eve, 404)
    await history(client, "messages/424242", alice, 404)
    await problem_of(await client.get(f"/api/v1/messages/{msg['id']}/history"), 401)
    page = await history(client, f"messages/{msg['id']}", bob, limit=1, after=0)
    assert [v["content"] for v in page["items"]] == ["helo"] and page["next_cursor"]

    # A deleted message takes its history with it.
    assert (await client.delete(f"/api/v1/messages/{msg['id']}", headers=alice.headers)).status == 204
    assert await scalar(client, "SELECT COUNT(*) FROM message_versions") == 0
    await history(client, f"messages/{msg['id']}", alice, 404)


async def test_the_export_holds_the_earlier_versions(client, make_user):
    alice, bob = await make_user(), await make_user()
    m1, m2 = await add_media(client, alice), await add_media(client, alice)
    post = await new_post(client, alice, "draft", title="T", media_ids=[m1])
    await patch(client, f"posts/{post['id']}", alice, content="final", media_ids=[m2])
    comment = await (await client.post(f"/api/v1/posts/{post['id']}/comments", headers=alice.headers,
                                       json={"content": "c1"})).json()
    await patch(client, f"comments/{comment['id']}", alice, content="c2")
    msg = await send(client, alice, bob, "m1")
    await patch(client, f"messages/{msg['id']}", alice, content="m2")

    archive = zipfile.ZipFile(io.BytesIO(await download(client, alice)))
    [exported] = json.loads(archive.read("posts.json"))
    key = (await client.app[DB].fetchval("SELECT storage_key FROM media WHERE id = %s", (m1,)))
    assert exported["versions"] == [{"title": "T", "content": "draft", "created_at": post["created_at"],
                                     "media": [{"id": m1, "type": "image", "content_type": "image/jpeg",
                                                "file": f"media/{key}"}]}]
    [note] = json.loads(archive.read("comments.json"))
    assert [(v["content"], v["media"]) for v in note["versions"]] == [("c1", [])]
    [message] = json.loads(archive.read("messages.json"))
    assert message["versions"] == [{"content": "m1", "created_at": msg["created_at"]}]


# --- the Conduit API edits through the same path ---------------------------------------------------

async def test_a_conduit_article_edit_keeps_the_previous_version(client):
    jake = await register(client)
    article = await create_article(client, jake, title="Dragons", body="Very carefully.")
    resp = await client.put(f"/api/articles/{article['slug']}", headers=jake.headers,
                            json={"article": {"body": "With two hands", "title": "Dragons, again"}})
    assert resp.status == 200, await resp.text()
    post = (await (await client.get(f"/api/v1/users/{jake.id}/posts")).json())["items"][0]
    assert post["content"] == "With two hands" and post["edited_at"] is not None
    versions = (await history(client, f"posts/{post['id']}"))["items"]
    assert [(v["title"], v["content"]) for v in versions] == [("Dragons", "Very carefully.")]
    assert versions[0]["replaced_at"] == post["edited_at"]
    # An edit of only what the native Post does not show still moves edited_at, so it keeps a version.
    slug = (await (await client.get(f"/api/articles?author={jake.username}")).json())["articles"][0]["slug"]
    resp = await client.put(f"/api/articles/{slug}", headers=jake.headers, json={"article": {"description": "New"}})
    assert resp.status == 200, await resp.text()
    versions = (await history(client, f"posts/{post['id']}"))["items"]
    assert [(v["title"], v["content"]) for v in versions] == [("Dragons, again", "With two hands"),
                                                               ("Dragons", "Very carefully.")]
    # A refused Conduit edit (not the author) leaves none.
    other = await register(client)
    resp = await client.put(f"/api/articles/{slug}", headers=other.headers, json={"article": {"body": "mine"}})
    assert resp.status == 403
    assert len((await history(client, f"posts/{post['id']}"))["items"]) == 2


async def test_account_deletion_takes_the_history_of_its_posts_and_comments_not_of_its_messages(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, bob, "bob's")
    mine = await new_post(client, alice, "v1")
    await patch(client, f"posts/{mine['id']}", alice, content="v2")
    comment = await (await client.post(f"/api/v1/posts/{post['id']}/comments", headers=alice.headers,
                                       json={"content": "c1"})).json()
    await patch(client, f"comments/{comment['id']}", alice, content="c2")
    msg = await send(client, alice, bob, "m1")
    await patch(client, f"messages/{msg['id']}", alice, content="m2")

    resp = await client.delete("/api/v1/users/me", headers=alice.headers, json={"password": alice.password})
    assert resp.status == 202
    await history(client, f"posts/{mine['id']}", bob, 404)  # at once
    await finish(client, alice.id)
    assert await scalar(client, "SELECT COUNT(*) FROM post_versions") == 0
    assert await scalar(client, "SELECT COUNT(*) FROM comment_versions") == 0
    # The message stays in bob's history, and so does what it said before.
    assert [v["content"] for v in (await history(client, f"messages/{msg['id']}", bob))["items"]] == ["m1"]


async def test_the_routes_are_in_the_openapi_document(client):
    doc = await (await client.get("/api/openapi.json")).json()
    for path in ("/api/v1/posts/{id}/history", "/api/v1/comments/{id}/history", "/api/v1/messages/{id}/history"):
        assert {"200", "404"} <= set(doc["paths"][path]["get"]["responses"]), path
    assert "edited_at" in doc["components"]["schemas"]["Comment"]["properties"]
    assert "422" in doc["paths"]["/api/v1/messages/{id}"]["patch"]["responses"]
