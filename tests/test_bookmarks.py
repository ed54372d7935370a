"""Bookmarks: a user keeps a private list of posts; `bookmarked` says whether the viewer did; posts
that became invisible leave the list; account deletion and the export know about them."""

from __future__ import annotations

import io
import json
import zipfile

from server import moderation
from server.keys import DB
from tests.helpers import problem_of
from tests.test_deletion import finish
from tests.test_export import download
from tests.test_posts import new_post, scalar


async def put(client, user, post_id: int, status: int = 200) -> dict:
    resp = await client.put(f"/api/v1/posts/{post_id}/bookmark", headers=user.headers)
    if status >= 400:
        return await problem_of(resp, status)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def delete(client, user, post_id: int, status: int = 200) -> dict:
    resp = await client.delete(f"/api/v1/posts/{post_id}/bookmark", headers=user.headers)
    if status >= 400:
        return await problem_of(resp, status)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def listed(client, user, **params) -> dict:
    resp = await client.get("/api/v1/bookmarks", headers=user.headers, params=params or None)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def ids_of(client, user, **params) -> list[int]:
    return [p["id"] for p in (await listed(client, user, **params))["items"]]


async def bookmark_id(client, user, post_id: int) -> int:
    return await scalar(client, "SELECT id FROM bookmarks WHERE user_id = %s AND post_id = %s", user.id, post_id)


async def test_a_bookmark_is_idempotent_and_private_to_its_owner(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    post = await new_post(client, alice)
    assert post["bookmarked"] is False
    for _ in range(2):
        assert await put(client, bob, post["id"]) == {"bookmarked": True}
    assert await scalar(client, "SELECT COUNT(*) FROM bookmarks") == 1

    # Each viewer sees their own answer, in single documents and in pages alike.
    async def seen(user) -> tuple[bool, bool]:
        headers = user.headers if user else {}
        one = await (await client.get(f"/api/v1/posts/{post['id']}", headers=headers)).json()
        page = await (await client.get("/api/v1/posts", headers=headers)).json()
        return one["bookmarked"], page["items"][0]["bookmarked"]

    assert await seen(bob) == (True, True)
    assert await seen(carol) == (False, False)
    assert await seen(alice) == (False, False)
    assert await seen(None) == (False, False)
    await client.put(f"/api/v1/users/{alice.id}/follow", headers=bob.headers)
    feed = await (await client.get("/api/v1/feed", headers=bob.headers)).json()
    assert feed["items"][0]["bookmarked"] is True

    page = await listed(client, bob)
    assert [p["id"] for p in page["items"]] == [post["id"]] and page["next_cursor"] is None
    assert page["items"][0]["bookmarked"] is True and page["items"][0]["author"]["id"] == alice.id
    assert await ids_of(client, carol) == []

    for _ in range(2):
        assert await delete(client, bob, post["id"]) == {"bookmarked": False}
    assert await ids_of(client, bob) == []
    assert await scalar(client, "SELECT COUNT(*) FROM bookmarks") == 0
    assert (await (await client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)).json())["bookmarked"] is False


async def test_errors(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    await problem_of(await client.put(f"/api/v1/posts/{post['id']}/bookmark"), 401)
    await problem_of(await client.delete(f"/api/v1/posts/{post['id']}/bookmark"), 401)
    await problem_of(await client.get("/api/v1/bookmarks"), 401)
    await put(client, alice, 424242, 404)
    await delete(client, alice, 424242, 404)
    await problem_of(await client.get("/api/v1/bookmarks", headers=alice.headers, params={"before": "x"}), 400)


async def test_the_list_is_newest_bookmark_first_with_the_bookmarks_own_cursor(client, make_user):
    alice, bob = await make_user(), await make_user()
    p1, p2, p3 = [await new_post(client, alice, f"post {i}") for i in range(3)]
    for post in (p2, p3, p1):  # bookmarked in another order than written
        await put(client, bob, post["id"])

    first = await listed(client, bob, limit=2)
    assert [p["id"] for p in first["items"]] == [p1["id"], p3["id"]]
    # The cursor is the bookmark's id, not the post's.
    assert first["next_cursor"] == str(await bookmark_id(client, bob, p3["id"]))
    second = await listed(client, bob, limit=2, before=first["next_cursor"])
    assert [p["id"] for p in second["items"]] == [p2["id"]] and second["next_cursor"] is None
    assert await ids_of(client, bob, after=0) == [p2["id"], p3["id"], p1["id"]]

    # Bookmarking again keeps the original place in the list.
    await put(client, bob, p2["id"])
    assert await ids_of(client, bob) == [p1["id"], p3["id"], p2["id"]]


async def test_posts_the_viewer_may_not_see_are_a_404_and_leave_the_list(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    old, new = await new_post(client, alice, "old"), await new_post(client, alice, "new")
    other = await new_post(client, carol, "carol's")
    for post in (other, old, new):
        await put(client, bob, post["id"])
    assert await ids_of(client, bob) == [new["id"], old["id"], other["id"]]

    # alice blocks bob: her posts are none of his business any more, and the pages stay full.
    assert (await client.put(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 200
    assert await ids_of(client, bob) == [other["id"]]
    page = await listed(client, bob, limit=1)
    assert [p["id"] for p in page["items"]] == [other["id"]] and page["next_cursor"] is None
    await put(client, bob, new["id"], 404)
    await delete(client, bob, new["id"], 404)
    # The rows stay: unblocked, the bookmarks are back.
    assert (await client.delete(f"/api/v1/users/{bob.id}/block", headers=alice.headers)).status == 200
    assert await ids_of(client, bob) == [new["id"], old["id"], other["id"]]

    # A post of someone bob blocks is still his to see and keep.
    assert (await client.put(f"/api/v1/users/{carol.id}/block", headers=bob.headers)).status == 200
    assert await ids_of(client, bob) == [new["id"], old["id"], other["id"]]

    # A suspended author: out of the list and a 404, except for moderators.
    mod = await make_user()
    await moderation.set_role(client.app[DB], mod.username, "moderator")
    await put(client, mod, old["id"])
    resp = await client.put(f"/api/v1/admin/users/{alice.id}/suspension", headers=mod.headers,
                            json={"reason": "spam"})
    assert resp.status == 200, await resp.text()
    assert await ids_of(client, bob) == [other["id"]]
    await put(client, bob, old["id"], 404)
    assert await ids_of(client, mod) == [old["id"]]
    resp = await client.delete(f"/api/v1/admin/users/{alice.id}/suspension", headers=mod.headers)
    assert resp.status == 200
    assert await ids_of(client, bob) == [new["id"], old["id"], other["id"]]


async def test_a_deleted_post_takes_its_bookmarks_with_it(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice)
    await put(client, bob, post["id"])
    assert (await client.delete(f"/api/v1/posts/{post['id']}", headers=alice.headers)).status == 204
    assert await scalar(client, "SELECT COUNT(*) FROM bookmarks") == 0
    assert await ids_of(client, bob) == []


async def test_account_deletion_removes_the_accounts_bookmarks_and_others_bookmarks_of_its_posts(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    alices, carols = await new_post(client, alice), await new_post(client, carol)
    await put(client, bob, alices["id"])
    await put(client, bob, carols["id"])
    await put(client, alice, carols["id"])

    resp = await client.delete("/api/v1/users/me", headers=alice.headers, json={"password": alice.password})
    assert resp.status == 202
    # At once: alice's post is gone from bob's list (the page query tests her state).
    assert await ids_of(client, bob) == [carols["id"]]
    await finish(client, alice.id)
    assert await scalar(client, "SELECT COUNT(*) FROM bookmarks WHERE user_id = %s", alice.id) == 0
    assert await scalar(client, "SELECT COUNT(*) FROM bookmarks WHERE post_id = %s", alices["id"]) == 0
    assert await ids_of(client, bob) == [carols["id"]]


async def test_the_export_lists_the_bookmarks(client, make_user):
    alice, bob = await make_user(), await make_user()
    p1, p2 = await new_post(client, alice, "one"), await new_post(client, alice, "two")
    await put(client, bob, p2["id"])
    await put(client, bob, p1["id"])
    archive = zipfile.ZipFile(io.BytesIO(await download(client, bob)))
    saved = json.loads(archive.read("bookmarks.json"))
    assert [b["post_id"] for b in saved] == [p2["id"], p1["id"]]
    assert all(set(b) == {"post_id", "created_at"} and b["created_at"].endswith("Z") for b in saved)
    others = zipfile.ZipFile(io.BytesIO(await download(client, alice)))
    assert json.loads(others.read("bookmarks.json")) == []  # bob's bookmarks of alice's posts are bob's


async def test_the_routes_are_in_the_openapi_document(client):
    doc = await (await client.get("/api/openapi.json")).json()
    assert set(doc["paths"]["/api/v1/posts/{id}/bookmark"]) == {"put", "delete"}
    assert "404" in doc["paths"]["/api/v1/posts/{id}/bookmark"]["put"]["responses"]
    assert "get" in doc["paths"]["/api/v1/bookmarks"]
    assert {"bookmarked", "edited_at"} <= set(doc["components"]["schemas"]["Post"]["properties"])
