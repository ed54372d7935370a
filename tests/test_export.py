"""Account export: a user downloads everything of theirs as a zip that is streamed while it is made
(memory stays bounded however large the account), readable with any zip tool; rate-limited."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tracemalloc
import zipfile

from server.app import create_app
from server.keys import DB
from server.media.uploads import storage_of
from tests.helpers import problem_of
from tests.test_deletion import comment, upload
from tests.test_posts import new_post
from tests.test_ws import send

ENTRIES = {"profile.json", "posts.json", "comments.json", "likes.json", "bookmarks.json", "follows.json",
           "messages.json", "responses.json", "reactions.json"}


async def download(client, user) -> bytes:
    resp = await client.get("/api/v1/users/me/export", headers=user.headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/zip"
    assert "Content-Length" not in resp.headers  # streamed (chunked), not built first
    assert resp.headers["Content-Disposition"].startswith(f'attachment; filename="chatter-{user.username}-')
    return await resp.read()


async def test_the_export_holds_everything_of_the_account(client, make_user):
    alice, bob = await make_user(full_name="Alice Export"), await make_user()
    pic = await upload(client, alice, (10, 20, 30))
    avatar = (await upload(client, alice, (40, 50, 60), "/api/v1/users/me/avatar"))["profile_pic"]
    post = await new_post(client, alice, "my post", title="Titled", media_ids=[pic["id"]])
    bob_post = await new_post(client, bob, "bob's post")
    note = await comment(client, alice, bob_post["id"], "my comment")
    bob_note = await comment(client, bob, post["id"], "bob's comment")
    await client.put(f"/api/v1/posts/{bob_post['id']}/like", headers=alice.headers)
    await client.put(f"/api/v1/comments/{bob_note['id']}/like", headers=alice.headers)
    await client.put(f"/api/v1/users/{bob.id}/follow", headers=alice.headers)
    await client.put(f"/api/v1/users/{alice.id}/follow", headers=bob.headers)
    chat_pic = await upload(client, alice, (70, 80, 90))
    sent = [await send(client, alice, bob, "hello"), await send(client, bob, alice, "hi back"),
            await send(client, alice, bob, "", message_type="image", media_id=chat_pic["id"])]
    resp = await client.post(f"/api/v1/messages/{sent[1]['id']}/responses", json={"content": "a reply"},
                             headers=alice.headers)
    assert resp.status == 201
    for user, emoji in ((alice, "👍🏽"), (bob, "🎉")):
        assert (await client.put(f"/api/v1/messages/{sent[1]['id']}/reactions/{emoji}", headers=user.headers)).status == 200

    archive = zipfile.ZipFile(io.BytesIO(await download(client, alice)))
    assert archive.testzip() is None  # every CRC checks out
    names = set(archive.namelist())
    files = {n for n in names if n.startswith("media/")}
    assert names - files == ENTRIES
    data = {n: json.loads(archive.read(n)) for n in ENTRIES}

    profile = data["profile.json"]
    assert (profile["id"], profile["username"], profile["email"], profile["full_name"]) == (
        alice.id, alice.username, alice.email, "Alice Export")
    assert profile["profile_pic"] == avatar and profile["profile_pic_file"] in files
    [exported] = data["posts.json"]
    assert (exported["id"], exported["content"], exported["title"]) == (post["id"], "my post", "Titled")
    assert exported["comments_count"] == 1 and exported["media"][0]["file"] in files
    assert [c["id"] for c in data["comments.json"]] == [note["id"]]
    assert [x["post_id"] for x in data["likes.json"]["posts"]] == [bob_post["id"]]
    assert [x["comment_id"] for x in data["likes.json"]["comments"]] == [bob_note["id"]]
    assert [x["user_id"] for x in data["follows.json"]["following"]] == [bob.id]
    assert [x["username"] for x in data["follows.json"]["followers"]] == [bob.username]
    assert [m["id"] for m in data["messages.json"]] == [m["id"] for m in sent]
    assert data["messages.json"][2]["file"] in files
    assert [r["content"] for r in data["responses.json"]] == ["a reply"]
    assert [(r["message_id"], r["emoji"]) for r in data["reactions.json"]] == [(sent[1]["id"], "👍🏽")]
    # Every upload is there once, byte for byte; bob's things are not.
    storage = storage_of(client.app)
    keys = {r["storage_key"] for r in await client.app[DB].fetchall(
        "SELECT storage_key FROM media WHERE user_id = %s", (alice.id,))}
    assert files == {f"media/{k}" for k in keys} and len(files) == 3
    for key in keys:
        assert archive.read(f"media/{key}") == await storage.get(key)


async def test_a_large_export_streams_in_bounded_memory(aiohttp_client, make_config):
    # The request timeout is short: a download is paced by its client, not timed.
    client = await aiohttp_client(create_app(make_config(http={"request_timeout": 0.5})))
    resp = await client.post("/api/v1/auth/register", json={"username": f"big_{os.getpid()}",
                                                            "email": f"big_{os.getpid()}@example.com",
                                                            "password": "password123"})
    body = await resp.json()
    user_id, headers = body["user"]["id"], {"Authorization": f"Bearer {body['access_token']}"}
    storage, size, count = storage_of(client.app), 6 * 1024 * 1024, 4
    digests = {}
    for i in range(count):
        data = os.urandom(size)
        key = f"ex/{i:02d}/{hashlib.sha256(data).hexdigest()}.mp4"
        await storage.put(key, data, "video/mp4")
        digests[f"media/{key}"] = hashlib.sha256(data).hexdigest()
        await client.app[DB].insert(
            "INSERT INTO media (user_id, purpose, media_type, storage_key, content_type, size) "
            "VALUES (%s, 'upload', 'video', %s, 'video/mp4', %s)", (user_id, key, size))
        del data
    archive_path = f"/tmp/export-{os.getpid()}.zip"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        resp = await client.get("/api/v1/users/me/export", headers=headers)
        assert resp.status == 200
        received = 0
        with open(archive_path, "wb") as out:  # noqa: ASYNC230 - a local temp file, small writes
            async for chunk in resp.content.iter_chunked(64 * 1024):
                out.write(chunk)
                received += len(chunk)
                if received < 256 * 1024:
                    await asyncio.sleep(0.3)  # a slow client at first: past the request timeout
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received > size * count
    print(f"export: peak traced memory {peak / 1e6:.2f} MB for {received / 1e6:.1f} MB streamed")
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming {received / 1e6:.1f} MB"
    try:
        with zipfile.ZipFile(archive_path) as archive:
            assert archive.testzip() is None
            for name, digest in digests.items():
                with archive.open(name) as fh:
                    h = hashlib.sha256()
                    while piece := fh.read(1 << 20):
                        h.update(piece)
                assert h.hexdigest() == digest
    finally:
        os.unlink(archive_path)


async def test_exports_are_rate_limited(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(ratelimit={"enabled": True, "export_user": "1/3600"})))
    resp = await client.post("/api/v1/auth/register", json={"username": f"rl_{os.getpid()}",
                                                            "email": f"rl_{os.getpid()}@example.com",
                                                            "password": "password123"})
    headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
    assert (await client.get("/api/v1/users/me/export", headers=headers)).status == 200
    resp = await client.get("/api/v1/users/me/export", headers=headers)
    await problem_of(resp, 429)
    assert int(resp.headers["Retry-After"]) > 1
    await problem_of(await client.get("/api/v1/users/me/export"), 401)
