"""Account deletion: a user deletes their account; it is gone from every page at once, a background
job removes its rows and files in batches (resuming after a crash), everyone else's counters stay
exact, the other side of a conversation keeps it (from a "deleted user"), the username stays
reserved for 30 days."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
from PIL import Image

from server import deletion, housekeeping
from server.app import create_app
from server.keys import CONFIG, DB
from tests.helpers import closed_with, problem_of
from tests.test_posts import new_post
from tests.test_ws import connect, send


def image(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), color).save(out, "PNG")
    return out.getvalue()


async def upload(client, user, color, path: str = "/api/v1/media") -> dict:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(image(color)), filename="x.png", content_type="image/png")
    method = client.put if path.endswith("avatar") else client.post
    resp = await method(path, data=form, headers=user.headers)
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


def stored_files(client) -> set[str]:
    root = Path(client.app[CONFIG].media.dir)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def key_of(url: str) -> str:
    return url.split("/media/", 1)[1]


async def counter_mismatches(client) -> list[dict]:
    """Every counter that differs from the rows it counts (empty: all exact)."""
    db = client.app[DB]
    return [
        *await db.fetchall(
            "SELECT 'user' AS kind, u.id, u.followers_count, u.following_count, u.posts_count FROM users u"
            " WHERE u.followers_count <> (SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id)"
            "    OR u.following_count <> (SELECT COUNT(*) FROM follows f WHERE f.follower_id = u.id)"
            "    OR u.posts_count <> (SELECT COUNT(*) FROM posts p WHERE p.user_id = u.id)"),
        *await db.fetchall(
            "SELECT 'post' AS kind, p.id, p.likes_count, p.comments_count FROM posts p"
            " WHERE p.likes_count <> (SELECT COUNT(*) FROM post_likes l WHERE l.post_id = p.id)"
            "    OR p.comments_count <> (SELECT COUNT(*) FROM comments c WHERE c.post_id = p.id)"),
        *await db.fetchall(
            "SELECT 'comment' AS kind, c.id, c.likes_count FROM comments c"
            " WHERE c.likes_count <> (SELECT COUNT(*) FROM comment_likes l WHERE l.comment_id = c.id)"),
    ]


async def rows_of(client, user_id: int) -> dict[str, int]:
    """What is left that belongs to (or was done by) the account."""
    db = client.app[DB]
    counts = {}
    for name, sql in {
        "posts": "SELECT COUNT(*) FROM posts WHERE user_id = %s",
        "comments": "SELECT COUNT(*) FROM comments WHERE user_id = %s",
        "post_likes": "SELECT COUNT(*) FROM post_likes WHERE user_id = %s",
        "comment_likes": "SELECT COUNT(*) FROM comment_likes WHERE user_id = %s",
        "follows": "SELECT COUNT(*) FROM follows WHERE follower_id = %s OR followee_id = %s",
        "notifications": "SELECT COUNT(*) FROM notifications WHERE user_id = %s OR actor_id = %s",
        "media": "SELECT COUNT(*) FROM media WHERE user_id = %s AND message_id IS NULL",
        "events": "SELECT COUNT(*) FROM user_events WHERE user_id = %s",
        "sessions": "SELECT COUNT(*) FROM sessions WHERE user_id = %s",
        "tag_follows": "SELECT COUNT(*) FROM tag_follows WHERE user_id = %s",
        "mentions": "SELECT (SELECT COUNT(*) FROM post_mentions WHERE user_id = %s)"
                    " + (SELECT COUNT(*) FROM comment_mentions WHERE user_id = %s)",
        "own_conversations": "SELECT COUNT(*) FROM conversations WHERE user_id = %s",
        "idempotency": "SELECT COUNT(*) FROM idempotency_keys WHERE user_id = %s",
    }.items():
        counts[name] = int(await db.fetchval(sql, (user_id,) * sql.count("%s")))
    return counts


async def job(client, user_id: int) -> dict | None:
    return await client.app[DB].fetchone("SELECT * FROM account_deletions WHERE user_id = %s", (user_id,))


async def finish(client, user_id: int) -> dict:
    """Let the job run to its end (the request's own background run, then any pass left)."""
    await deletion.idle(client.app)
    for _ in range(20):
        row = await job(client, user_id)
        if row["finished_at"] is not None:
            return row
        await deletion.run_pending(client.app)
    raise AssertionError(f"deletion of {user_id} never finished: {row}")


async def comment(client, user, post_id, content="c") -> dict:
    resp = await client.post(f"/api/v1/posts/{post_id}/comments", json={"content": content}, headers=user.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_a_deleted_account_is_gone_at_once_and_its_rows_follow(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    # alice's life on Chatter: posts (one with a picture), comments, likes, follows both ways,
    # an avatar, messages both ways (one with a picture), notifications both ways.
    pic = await upload(client, alice, (200, 0, 0))
    own = await new_post(client, alice, "with a picture", media_ids=[pic["id"]])
    await new_post(client, alice, "plain")
    avatar = (await upload(client, alice, (0, 200, 0), "/api/v1/users/me/avatar"))["profile_pic"]
    bob_post = await new_post(client, bob, "bob's")
    carol_post = await new_post(client, carol, "carol's")
    carol_note = await comment(client, carol, bob_post["id"], "carol's comment")
    for path in (f"/api/v1/posts/{bob_post['id']}/like", f"/api/v1/posts/{own['id']}/like",
                 f"/api/v1/comments/{carol_note['id']}/like", f"/api/v1/users/{bob.id}/follow",
                 f"/api/v1/users/{carol.id}/follow"):
        assert (await client.put(path, headers=alice.headers)).status == 200
    await comment(client, alice, bob_post["id"], "alice on bob's")
    await comment(client, alice, carol_post["id"], "alice on carol's")
    bob_on_alice = await comment(client, bob, own["id"], f"bob on alice's, @{alice.username}")
    await new_post(client, bob, f"hello @{alice.username}")
    assert (await client.put("/api/v1/tags/dragons/follow", headers=alice.headers)).status == 200
    await client.put(f"/api/v1/comments/{bob_on_alice['id']}/like", headers=carol.headers)
    await client.put(f"/api/v1/posts/{own['id']}/like", headers=bob.headers)
    await client.put(f"/api/v1/users/{alice.id}/follow", headers=bob.headers)
    shared = await upload(client, bob, (0, 0, 200))  # bob's own copy of a file alice uploads too
    await new_post(client, bob, "bob's picture", media_ids=[shared["id"]])
    same_bytes = await upload(client, alice, (0, 0, 200))
    await new_post(client, alice, "same picture", media_ids=[same_bytes["id"]])
    chat_pic = await upload(client, alice, (90, 90, 90))
    sent = [await send(client, alice, bob, "hi bob"), await send(client, bob, alice, "hi alice"),
            await send(client, alice, bob, "", message_type="image", media_id=chat_pic["id"])]
    files_before = stored_files(client)
    assert {key_of(pic["url"]), key_of(avatar), key_of(chat_pic["url"]), key_of(shared["url"])} <= files_before
    ws, _ = await connect(client, alice)

    await problem_of(await client.delete("/api/v1/users/me", json={"password": "not it"}, headers=alice.headers), 403)
    await problem_of(await client.delete("/api/v1/users/me", json={}, headers=alice.headers), 422)
    resp = await client.delete("/api/v1/users/me", json={"password": alice.password}, headers=alice.headers)
    assert resp.status == 202

    # At once: sessions end, sockets close, the account answers 404 (or nothing) everywhere.
    await closed_with(ws, 4001)
    await problem_of(await client.get("/api/v1/users/me", headers=alice.headers), 401)
    for path in (f"/api/v1/users/{alice.id}", f"/api/v1/users/{alice.id}/posts", f"/api/v1/posts/{own['id']}",
                 f"/api/v1/users/{alice.id}/followers", f"/api/profiles/{alice.username}"):
        assert (await client.get(path, headers=bob.headers)).status == 404, path
    public = await (await client.get("/api/v1/posts", headers=bob.headers)).json()
    assert {p["author"]["id"] for p in public["items"]} == {bob.id, carol.id}
    await problem_of(await client.post("/api/v1/auth/login", json={"login": alice.username,
                                                                   "password": alice.password}), 401)
    await problem_of(await client.put(f"/api/v1/users/{alice.id}/follow", headers=carol.headers), 404)
    await problem_of(await client.post("/api/v1/messages", json={"recipient_id": alice.id, "content": "there?"},
                                       headers=bob.headers), 422)

    row = await finish(client, alice.id)
    assert row["stage"] == "done" and row["last_error"] is None
    assert await counter_mismatches(client) == []
    assert await rows_of(client, alice.id) == dict.fromkeys(await rows_of(client, alice.id), 0)
    bob_row = await client.app[DB].fetchone("SELECT followers_count, following_count FROM users WHERE id = %s", (bob.id,))
    assert bob_row == {"followers_count": 0, "following_count": 0}
    assert (await (await client.get(f"/api/v1/posts/{bob_post['id']}")).json())["likes_count"] == 0
    assert (await (await client.get(f"/api/v1/posts/{bob_post['id']}")).json())["comments_count"] == 1
    assert (await (await client.get(f"/api/v1/posts/{carol_post['id']}")).json())["comments_count"] == 0

    # Files: alice's go, unless someone else's row still uses the same bytes; chat files stay.
    files_after = stored_files(client)
    assert key_of(pic["url"]) not in files_after and key_of(avatar) not in files_after
    assert key_of(shared["url"]) in files_after and key_of(chat_pic["url"]) in files_after
    assert await client.app[DB].fetchval("SELECT COUNT(*) FROM orphan_files") == 0

    # bob keeps the conversation, from a deleted user.
    convs = (await (await client.get("/api/v1/conversations", headers=bob.headers)).json())["items"]
    assert convs[0]["peer"] == {"id": alice.id, "username": "deleted user", "full_name": None,
                                "profile_pic": None, "deleted": True}
    history = (await (await client.get(f"/api/v1/conversations/{alice.id}/messages", headers=bob.headers)).json())
    assert [m["id"] for m in history["items"]] == [m["id"] for m in sent[::-1]]
    assert history["items"][0]["media"]["url"] == chat_pic["url"]

    # The email is free at once; the username for 30 days.
    resp = await client.post("/api/v1/auth/register", json={"username": alice.username, "email": "new@example.com",
                                                            "password": "password123"})
    await problem_of(resp, 409)
    resp = await client.post("/api/v1/auth/register", json={"username": "alice_again", "email": alice.email,
                                                            "password": "password123"})
    assert resp.status == 201
    await client.app[DB].execute("UPDATE users SET state_changed_at = state_changed_at - INTERVAL 31 DAY"
                                 " WHERE id = %s", (alice.id,))
    assert (await housekeeping.run_once(client.app))["usernames_released"] == 1
    resp = await client.post("/api/v1/auth/register", json={"username": alice.username, "email": "new@example.com",
                                                            "password": "password123"})
    assert resp.status == 201


async def test_an_interrupted_deletion_resumes_and_every_counter_stays_exact(client, make_user, monkeypatch):
    monkeypatch.setattr(deletion, "BATCH", 2)
    alice = await make_user()
    others = [await make_user() for _ in range(5)]
    for other in others:
        post = await new_post(client, other, "theirs")
        note = await comment(client, other, post["id"], "their comment")
        await client.put(f"/api/v1/posts/{post['id']}/like", headers=alice.headers)
        await client.put(f"/api/v1/comments/{note['id']}/like", headers=alice.headers)
        for i in range(2):
            await comment(client, alice, post["id"], f"alice {i}")
        await client.put(f"/api/v1/users/{other.id}/follow", headers=alice.headers)
        await client.put(f"/api/v1/users/{alice.id}/follow", headers=other.headers)
    for i in range(6):
        mine = await new_post(client, alice, f"mine {i}")
        await comment(client, others[i % 5], mine["id"], "on alice's")
        await client.put(f"/api/v1/posts/{mine['id']}/like", headers=others[(i + 1) % 5].headers)
    assert await counter_mismatches(client) == []

    # The worker dies in the middle of the comments (after two batches of them).
    original, calls = deletion.Job.comments, []

    async def crashing(self):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return await original(self)

    monkeypatch.setattr(deletion.Job, "comments", crashing)
    resp = await client.delete("/api/v1/users/me", json={"password": alice.password}, headers=alice.headers)
    assert resp.status == 202
    await deletion.idle(client.app)
    row = await job(client, alice.id)
    assert row["finished_at"] is None and row["stage"] == "comments" and "worker killed" in row["last_error"]
    left = await rows_of(client, alice.id)
    assert left["post_likes"] == left["comment_likes"] == 0 and 0 < left["comments"] < 10
    assert await counter_mismatches(client) == []  # every batch committed whole

    # A worker that died holding the lease: nobody takes the job until the lease runs out.
    await client.app[DB].execute("UPDATE account_deletions SET lease_token = 'x' ,"
                                 " lease_until = UTC_TIMESTAMP(3) + INTERVAL 60 SECOND WHERE user_id = %s", (alice.id,))
    monkeypatch.setattr(deletion.Job, "comments", original)
    assert await deletion.run_pending(client.app) == 0
    await client.app[DB].execute("UPDATE account_deletions SET lease_until = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND"
                                 " WHERE user_id = %s", (alice.id,))
    row = await finish(client, alice.id)
    assert row["attempts"] >= 2 and row["finished_at"] is not None
    assert await rows_of(client, alice.id) == dict.fromkeys(left, 0)
    assert await counter_mismatches(client) == []
    for other in others:
        counts = await client.app[DB].fetchone(
            "SELECT followers_count, following_count, posts_count FROM users WHERE id = %s", (other.id,))
        assert counts == {"followers_count": 0, "following_count": 0, "posts_count": 1}


async def test_deletion_is_resumed_after_a_restart(aiohttp_client, make_config, make_user, client, monkeypatch):
    """A job left unfinished by a process that stopped is finished by the next one's frequent pass."""
    alice, bob = await make_user(), await make_user()
    await new_post(client, alice, "one")
    await client.put(f"/api/v1/users/{bob.id}/follow", headers=alice.headers)
    with monkeypatch.context() as patch:
        patch.setattr(deletion, "kick", lambda app: None)  # the process stops before its background run
        resp = await client.delete("/api/v1/users/me", json={"password": alice.password}, headers=alice.headers)
        assert resp.status == 202
    assert (await job(client, alice.id))["finished_at"] is None
    restarted = await aiohttp_client(create_app(make_config()))
    assert (await housekeeping.run_frequent(restarted.app))["accounts_deleted"] in (0, 1)
    row = await finish(restarted, alice.id)
    assert row["finished_at"] is not None and await counter_mismatches(client) == []
