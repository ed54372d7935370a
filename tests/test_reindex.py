"""`python -m server reindex` (server/reindex.py): posts and comments written without their #tags
and @mentions (a database from before they were parsed) get them, nobody is notified, the tag's
followers see the post in their home feed, and a second run changes nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from server.keys import DB
from server.reindex import reindex
from tests.conftest import _db_url_with
from tests.test_moderation import ROOT
from tests.test_posts import new_post


async def raw_post(app, user, content: str) -> int:
    """A post inserted as an old database holds it: no tags, no mentions."""
    return await app[DB].insert("INSERT INTO posts (user_id, content) VALUES (%s, %s)", (user.id, content))


async def test_old_posts_and_comments_get_their_tags_and_mentions_once(client, make_user, app):
    alice = await make_user("alice")
    bob = await make_user("bob")
    carol = await make_user("carol")
    resp = await client.put("/api/v1/tags/heron/follow", headers=carol.headers)
    assert resp.status == 200, await resp.text()
    assert (await client.get("/api/v1/feed", headers=carol.headers)).status == 200  # carol's timeline cached
    old = await raw_post(app, alice, f"A grey #Heron by the lake, @{bob.username}")
    plain = await raw_post(app, alice, "nothing to see")
    host = await new_post(client, bob, "a walk")
    comment = await app[DB].insert("INSERT INTO comments (post_id, user_id, content) VALUES (%s, %s, %s)",
                                   (host["id"], alice.id, f"#birds with @{bob.username}"))
    before = await app[DB].fetchval("SELECT COUNT(*) FROM notifications WHERE user_id = %s", (bob.id,))

    done = await reindex(app, batch=2)

    assert done["tags_changed"] == 1 and done["mentions_added"] == 2
    assert done["posts"] >= 1 and done["comments"] == 1
    page = await (await client.get("/api/v1/tags/heron/posts", headers=bob.headers)).json()
    assert [p["id"] for p in page["items"]] == [old]
    doc = await (await client.get(f"/api/v1/posts/{old}", headers=bob.headers)).json()
    assert doc["tags"] == ["heron"] and doc["mentions"] == [{"id": bob.id, "username": bob.username}]
    assert (await (await client.get(f"/api/v1/posts/{plain}")).json())["tags"] == []
    rows = await app[DB].fetchall("SELECT user_id FROM comment_mentions WHERE comment_id = %s", (comment,))
    assert [r["user_id"] for r in rows] == [bob.id]
    assert await app[DB].fetchval("SELECT COUNT(*) FROM comment_hashtags WHERE comment_id = %s", (comment,)) == 1
    # Nobody is notified of a mention months old.
    assert await app[DB].fetchval("SELECT COUNT(*) FROM notifications WHERE user_id = %s", (bob.id,)) == before
    # The tag's follower sees the post in the home feed (the cached timeline follows).
    feed = await (await client.get("/api/v1/feed", headers=carol.headers)).json()
    assert old in [p["id"] for p in feed["items"]]
    # A second run finds everything in place.
    again = await reindex(app)
    assert again["tags_changed"] == 0 and again["mentions_added"] == 0


async def test_reindex_from_the_command_line(client, make_user, app, services):
    alice = await make_user("alice")
    old = await raw_post(app, alice, "#Kestrel overhead")
    env = {**os.environ, "CHATTER_DATABASE__URL": _db_url_with(services.db_url, services.database),
           "CHATTER_REDIS__URL": services.redis_url, "CHATTER_AUTH__SECRET": "s" * 40}
    run = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "server", "--no-local-services", "reindex"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "1 tags changed" in run.stdout, run.stdout
    page = await (await client.get("/api/v1/tags/kestrel/posts")).json()
    assert [p["id"] for p in page["items"]] == [old]
