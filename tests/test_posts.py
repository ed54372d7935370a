"""Posts: create with media, read, edit and delete by the author only, and what a delete takes with it."""

from __future__ import annotations

import asyncio
import uuid

from server.keys import DB
from tests.helpers import problem_of

# --- helpers shared by the social tests --------------------------------------------------------


async def add_media(client, user, *, purpose: str = "upload", media_type: str = "image") -> int:
    """A media row as the upload endpoint would leave it (the tests do not depend on that endpoint)."""
    name = uuid.uuid4().hex
    return await client.app[DB].insert(
        "INSERT INTO media (user_id, purpose, media_type, storage_key, thumb_key, content_type, width, height,"
        " size) VALUES (%s, %s, %s, %s, %s, 'image/jpeg', 640, 480, 12345)",
        (user.id, purpose, media_type, f"ab/cd/{name}.jpg", f"ab/cd/{name}_t.jpg"))


async def new_post(client, user, content: str = "hello world", **extra) -> dict:
    resp = await client.post("/api/v1/posts", json={"content": content, **extra}, headers=user.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def scalar(client, sql: str, *args):
    return await client.app[DB].fetchval(sql, args or None)


async def user_row(client, user) -> dict:
    return await client.app[DB].fetchone("SELECT * FROM users WHERE id = %s", (user.id,))


# --- create --------------------------------------------------------------------------------------

async def test_create_post_with_title_and_media(client, make_user):
    alice = await make_user()
    m1, m2 = await add_media(client, alice), await add_media(client, alice)
    post = await new_post(client, alice, "first post", title="Hi", media_ids=[m2, m1])
    assert post["content"] == "first post" and post["title"] == "Hi"
    assert post["author"]["id"] == alice.id and post["author"]["username"] == alice.username
    assert set(post["author"]) == {"id", "username", "full_name", "profile_pic"}
    assert [m["id"] for m in post["media"]] == [m2, m1]  # the order given
    media = post["media"][0]
    assert set(media) == {"id", "type", "url", "thumbnail_url", "width", "height", "duration", "size",
                          "content_type", "created_at"}
    assert media["type"] == "image" and media["width"] == 640 and media["size"] == 12345
    assert post["likes_count"] == 0 and post["comments_count"] == 0
    assert post["liked"] is False and post["edited"] is False
    assert post["created_at"].endswith("Z") and len(post["created_at"]) == 24
    assert (await user_row(client, alice))["posts_count"] == 1

    resp = await client.get(f"/api/v1/posts/{post['id']}")
    assert resp.status == 200
    assert await resp.json() == post


async def test_create_post_without_title(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice, "x")
    assert post["title"] is None and post["media"] == []


async def test_create_post_needs_a_token(client):
    await problem_of(await client.post("/api/v1/posts", json={"content": "x"}), 401)


async def test_create_post_validation(client, make_user):
    alice, bob = await make_user(), await make_user()
    bobs = await add_media(client, bob)
    avatar = await add_media(client, alice, purpose="avatar")
    five = [await add_media(client, alice) for _ in range(5)]
    mine = await add_media(client, alice)
    cases = [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 5001}, "content"),
        ({"content": "x", "title": "t" * 101}, "title"),
        ({"content": "x", "media_ids": five}, "media_ids"),
        ({"content": "x", "media_ids": [mine, mine]}, "media_ids"),
        ({"content": "x", "media_ids": [bobs]}, "media_ids"),
        ({"content": "x", "media_ids": [avatar]}, "media_ids"),
        ({"content": "x", "media_ids": [mine, 999999]}, "media_ids"),
        ({"content": "x", "likes_count": 5}, "likes_count"),
    ]
    for body, field in cases:
        resp = await client.post("/api/v1/posts", json=body, headers=alice.headers)
        problem = await problem_of(resp, 422)
        assert field in problem["errors"], (body, problem)
    # Nothing was created, and the refused media stays unattached.
    assert await scalar(client, "SELECT COUNT(*) FROM posts") == 0
    assert (await user_row(client, alice))["posts_count"] == 0
    assert await scalar(client, "SELECT post_id FROM media WHERE id = %s", mine) is None
    assert len((await new_post(client, alice, "x" * 5000, title="t" * 100, media_ids=[mine]))["media"]) == 1


async def test_attached_media_cannot_be_attached_again(client, make_user):
    alice = await make_user()
    m = await add_media(client, alice)
    await new_post(client, alice, media_ids=[m])
    resp = await client.post("/api/v1/posts", json={"content": "again", "media_ids": [m]}, headers=alice.headers)
    await problem_of(resp, 422)
    assert (await user_row(client, alice))["posts_count"] == 1


async def test_unknown_post_is_404(client, make_user):
    await problem_of(await client.get("/api/v1/posts/987654"), 404)


# --- edit ----------------------------------------------------------------------------------------

async def test_author_edits_post(client, make_user):
    alice = await make_user()
    old_m, new_m = await add_media(client, alice), await add_media(client, alice)
    post = await new_post(client, alice, "draft", title="T", media_ids=[old_m])
    await asyncio.sleep(0.01)
    resp = await client.patch(f"/api/v1/posts/{post['id']}", json={"content": "final"}, headers=alice.headers)
    assert resp.status == 200, await resp.text()
    edited = await resp.json()
    assert edited["content"] == "final" and edited["title"] == "T" and edited["edited"] is True
    assert edited["updated_at"] > post["updated_at"]
    assert edited["created_at"] == post["created_at"]
    assert [m["id"] for m in edited["media"]] == [old_m]

    resp = await client.patch(f"/api/v1/posts/{post['id']}", json={"title": None, "media_ids": [new_m]},
                              headers=alice.headers)
    edited = await resp.json()
    assert edited["title"] is None and edited["content"] == "final"
    assert [m["id"] for m in edited["media"]] == [new_m]
    # The replaced media is free again and can go on another post.
    assert await scalar(client, "SELECT post_id FROM media WHERE id = %s", old_m) is None
    assert (await client.app[DB].fetchone("SELECT edited_at FROM posts WHERE id = %s", (post["id"],)))["edited_at"]


async def test_edit_validation(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    for body in ({}, {"content": ""}, {"id": 5}, {"media_ids": [123456]}):
        resp = await client.patch(f"/api/v1/posts/{post['id']}", json=body, headers=alice.headers)
        await problem_of(resp, 422)
    assert (await (await client.get(f"/api/v1/posts/{post['id']}")).json())["edited"] is False


async def test_other_user_cannot_edit_or_delete_a_post(client, make_user):
    alice, mallory = await make_user(), await make_user()
    post = await new_post(client, alice, "mine")
    await problem_of(await client.patch(f"/api/v1/posts/{post['id']}", json={"content": "pwned"},
                                        headers=mallory.headers), 403)
    await problem_of(await client.delete(f"/api/v1/posts/{post['id']}", headers=mallory.headers), 403)
    resp = await client.get(f"/api/v1/posts/{post['id']}")
    assert await resp.json() == post
    assert (await user_row(client, alice))["posts_count"] == 1
    await problem_of(await client.patch("/api/v1/posts/99999", json={"content": "x"}, headers=alice.headers), 404)
    await problem_of(await client.delete("/api/v1/posts/99999", headers=alice.headers), 404)
    await problem_of(await client.delete(f"/api/v1/posts/{post['id']}"), 401)


# --- delete --------------------------------------------------------------------------------------

async def test_delete_post_takes_comments_likes_media_and_notifications(client, make_user):
    alice, bob = await make_user(), await make_user()
    m = await add_media(client, alice)
    post = await new_post(client, alice, media_ids=[m])
    keep = await new_post(client, alice, "stays")
    pid = post["id"]
    resp = await client.post(f"/api/v1/posts/{pid}/comments", json={"content": "nice"}, headers=bob.headers)
    comment = await resp.json()
    assert (await client.put(f"/api/v1/posts/{pid}/like", headers=bob.headers)).status == 200
    assert (await client.put(f"/api/v1/comments/{comment['id']}/like", headers=alice.headers)).status == 200
    assert (await client.put(f"/api/v1/posts/{keep['id']}/like", headers=bob.headers)).status == 200
    assert await scalar(client, "SELECT COUNT(*) FROM notifications WHERE post_id = %s", pid) == 3

    resp = await client.delete(f"/api/v1/posts/{pid}", headers=alice.headers)
    assert resp.status == 204
    await problem_of(await client.get(f"/api/v1/posts/{pid}"), 404)
    for table, column in [("comments", "post_id"), ("post_likes", "post_id"), ("media", "post_id"),
                          ("notifications", "post_id")]:
        sql = f"SELECT COUNT(*) FROM {table} WHERE {column} = %s"  # noqa: S608 - constant names
        assert await scalar(client, sql, pid) == 0, table
    assert await scalar(client, "SELECT COUNT(*) FROM comment_likes") == 0
    assert await scalar(client, "SELECT COUNT(*) FROM media WHERE id = %s", m) == 0
    assert (await user_row(client, alice))["posts_count"] == 1
    assert await scalar(client, "SELECT likes_count FROM posts WHERE id = %s", keep["id"]) == 1
    await problem_of(await client.delete(f"/api/v1/posts/{pid}", headers=alice.headers), 404)
    assert (await user_row(client, alice))["posts_count"] == 1


async def test_posts_count_exact_under_concurrent_creates_and_deletes(client, make_user):
    alice = await make_user()
    posts = await asyncio.gather(*(new_post(client, alice, f"p{i}") for i in range(20)))
    assert (await user_row(client, alice))["posts_count"] == 20
    resps = await asyncio.gather(*(client.delete(f"/api/v1/posts/{p['id']}", headers=alice.headers)
                                   for p in posts[:10] + posts[:5]))
    assert sorted(r.status for r in resps) == [204] * 10 + [404] * 5
    assert (await user_row(client, alice))["posts_count"] == 10 == await scalar(
        client, "SELECT COUNT(*) FROM posts WHERE user_id = %s", alice.id)


async def test_deleting_a_post_removes_its_files_unless_shared(client, make_user):
    from server.keys import SERVICES

    alice, bob = await make_user(), await make_user()
    storage = client.app[SERVICES]["storage"]
    db = client.app[DB]
    only, shared = await add_media(client, alice), await add_media(client, alice)
    rows = {r["id"]: r for r in await db.fetchall("SELECT * FROM media WHERE id IN (%s, %s)", (only, shared))}
    for r in rows.values():
        await storage.put(r["storage_key"], b"bytes", "image/jpeg")
    # Bob's upload of the same bytes shares the content-addressed key.
    await db.execute("INSERT INTO media (user_id, media_type, storage_key, content_type, size)"
                     " VALUES (%s, 'image', %s, 'image/jpeg', 5)", (bob.id, rows[shared]["storage_key"]))
    post = await new_post(client, alice, media_ids=[only, shared])
    assert post["media"][0]["url"]
    assert (await client.delete(f"/api/v1/posts/{post['id']}", headers=alice.headers)).status == 204
    assert await storage.get(rows[shared]["storage_key"]) == b"bytes"
    try:
        await storage.get(rows[only]["storage_key"])
        raise AssertionError("the file of the deleted post's media is still there")
    except FileNotFoundError:
        pass
