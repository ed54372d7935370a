"""Feeds: home (followed and own, never others'), public timeline, a user's posts; keyset pages, indexes."""

from __future__ import annotations

import asyncio
import re

import pytest

from server import timeline
from server.db import Conn
from server.http.pagination import PageParams
from server.keys import DB
from server.queries import QUERIES as Q
from tests.helpers import problem_of
from tests.test_posts import add_media, new_post


async def walk(client, url, user=None, limit=10) -> tuple[list[int], list[str]]:
    """Follow next_cursor from the newest page to the end: (ids, cursors)."""
    seen, cursors, cursor = [], [], None
    headers = user.headers if user else None
    while True:
        params = {"limit": limit, **({"before": cursor} if cursor else {})}
        resp = await client.get(url, params=params, headers=headers)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        assert len(page["items"]) <= limit
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, cursors
        cursors.append(cursor)


def assert_newest_first(ids):
    assert len(ids) == len(set(ids))
    assert all(a > b for a, b in zip(ids, ids[1:], strict=False))


async def test_home_feed_has_followed_and_own_posts_only(client, make_user):
    me, friend, stranger = await make_user(), await make_user(), await make_user()
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    expected, friends = [], []
    for i in range(9):
        author = (me, friend, stranger)[i % 3]
        post = await new_post(client, author, f"post {i}")
        if author is not stranger:
            expected.append(post["id"])
        if author is friend:
            friends.append(post["id"])
    ids, _ = await walk(client, "/api/v1/feed", me)
    assert ids == expected[::-1]
    # The friend's feed: only their own (they follow nobody).
    ids, _ = await walk(client, "/api/v1/feed", friend)
    assert ids == friends[::-1]
    await problem_of(await client.get("/api/v1/feed"), 401)

    # Unfollowing removes the friend's posts from the feed.
    await client.delete(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    page = await (await client.get("/api/v1/feed", headers=me.headers)).json()
    assert {p["author"]["id"] for p in page["items"]} == {me.id}


@pytest.mark.parametrize("window", [None, 3])
async def test_pagination_walks(client, make_user, monkeypatch, window):
    if window:  # a tiny window exercises the widening path of the home feed
        monkeypatch.setattr(timeline, "HOME_WINDOWS", (window,))
    me, friend, other = await make_user(), await make_user(), await make_user()
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    home, mine = [], []
    for i in range(25):
        author = friend if i % 2 else me
        post = await new_post(client, author, f"p{i}")
        home.append(post["id"])
        if author is me:
            mine.append(post["id"])
        await new_post(client, other, "noise")  # never in the home feed
    for url, user, expected in [("/api/v1/feed", me, home), ("/api/v1/posts", None, None),
                                (f"/api/v1/users/{me.id}/posts", None, mine)]:
        ids, cursors = await walk(client, url, user)
        assert_newest_first(ids)
        if expected is not None:
            assert ids == expected[::-1]
        else:
            assert len(ids) == 50
        if url == "/api/v1/feed":
            assert len(cursors) == 2
            # after: only newer items, oldest first, and their own next_cursor walks on
            resp = await client.get(url, params={"after": cursors[0], "limit": 5}, headers=user.headers)
            page = await resp.json()
            newer = [p["id"] for p in page["items"]]
            assert newer == sorted(ids[:10])[1:6] and page["next_cursor"] == str(newer[-1])
            page = await (await client.get(url, params={"after": page["next_cursor"], "limit": 5},
                                            headers=user.headers)).json()
            assert [p["id"] for p in page["items"]] == sorted(ids[:10])[6:] and page["next_cursor"] is None


async def test_bad_page_parameters(client, make_user):
    me = await make_user()
    for params in ({"limit": "x"}, {"before": "-1"}, {"before": 5, "after": 3}, {"limit": 0}):
        await problem_of(await client.get("/api/v1/feed", params=params, headers=me.headers), 400)
    resp = await client.get("/api/v1/posts", params={"limit": 1000})
    assert resp.status == 200


async def test_user_posts_of_unknown_user_is_404(client):
    await problem_of(await client.get("/api/v1/users/123456/posts"), 404)


def explain(sql: str) -> str:
    """EXPLAIN of a query, under its own `SET STATEMENT ... FOR` settings when it has them."""
    m = re.match(r"(SET STATEMENT .*? FOR\s+)", sql, re.S)
    return f"{m.group(1)}EXPLAIN {sql[m.end():]}" if m else "EXPLAIN " + sql


async def test_home_feed_query_uses_indexes_with_a_thousand_follows(client, make_user):
    me = await make_user()
    db = client.app[DB]
    async with db.transaction() as tx:
        await tx.executemany("INSERT INTO users (username, email, password_hash) VALUES (%s, %s, 'x')",
                             [(f"f{i}", f"f{i}@x") for i in range(1500)])
    others = [r["id"] for r in await db.fetchall("SELECT id FROM users WHERE id <> %s ORDER BY id", (me.id,))]
    async with db.transaction() as tx:
        await tx.executemany("INSERT INTO follows (follower_id, followee_id) VALUES (%s, %s)",
                             [(me.id, uid) for uid in others[:1000]])
        await tx.executemany("INSERT INTO posts (user_id, content) VALUES (%s, 'x')",
                             [(others[(i * 7) % 1500],) for i in range(5000)])
    await db.execute("ANALYZE TABLE posts, follows")
    query = PageParams(20).sql(Q.feed.home_ids)
    for lo in (0, 4000):
        plan = await db.fetchall(explain(query), {"viewer_id": me.id, "lo": lo, "hi": 2**63 - 1, "limit": 21})
        for step in plan:
            if step["table"] in ("p", "f", "posts"):
                assert step["type"] != "ALL", plan  # never a full scan
                assert step["key"] in ("PRIMARY", "ix_posts_user", "uq_follows_pair", "ix_follows_follower"), plan
    page = await (await client.get("/api/v1/feed", params={"limit": 20}, headers=me.headers)).json()
    ids = [p["id"] for p in page["items"]]
    expected = await db.fetchall(
        "SELECT p.id FROM posts p WHERE p.user_id = %s OR p.user_id IN (SELECT followee_id FROM follows"
        " WHERE follower_id = %s) ORDER BY p.id DESC LIMIT 20", (me.id, me.id))
    assert ids == [r["id"] for r in expected]
    for sql in (Q.feed.public_ids, Q.feed.user_ids, Q.feed.comment_ids):
        plan = await db.fetchall(explain(PageParams(20).sql(sql)),
                                 {"cursor": 2**63 - 1, "limit": 21, "user_id": me.id, "post_id": 1,
                                  "viewer_id": me.id})
        assert all(step["type"] != "ALL" for step in plan), plan


async def test_pages_use_a_bounded_number_of_queries(client, make_user, monkeypatch):
    """A page is its ids, then ONE query that returns every post (author, media, counts, the viewer's
    like) as a JSON document built by MariaDB, whatever the page size."""
    me = await make_user()
    authors = await asyncio.gather(*(make_user() for _ in range(6)))
    posts = []
    for i in range(30):
        a = authors[i % 6]
        posts.append(await new_post(client, a, media_ids=[await add_media(client, a)]))
    for a in authors:
        await client.put(f"/api/v1/users/{a.id}/follow", headers=me.headers)
    for _ in range(3):
        await client.post(f"/api/v1/posts/{posts[0]['id']}/comments", json={"content": "c"}, headers=me.headers)
    statements: list[str] = []
    for name in ("fetchall", "fetchone", "fetchval", "execute"):
        original = getattr(Conn, name)

        def counting(self, sql, args=None, _original=original):
            statements.append(sql)
            return _original(self, sql, args)

        monkeypatch.setattr(Conn, name, counting)

    async def page_statements(url, limit):
        statements.clear()
        resp = await client.get(url, params={"limit": limit}, headers=me.headers)
        page = await resp.json()
        assert len(page["items"]) == limit
        assert all(len(p["media"]) == (0 if "comments" in url else 1) and p["liked"] is False
                   for p in page["items"])
        return list(statements)

    # Every post here has media: its list is a third query (never a JSON_ARRAYAGG: feed.sql).
    assert await page_statements("/api/v1/posts", 2) == [PageParams(2).sql(Q.feed.public_ids), Q.feed.post_docs,
                                                         Q.feed.post_media]
    assert await page_statements("/api/v1/posts", 25) == [PageParams(25).sql(Q.feed.public_ids),
                                                          Q.feed.post_docs, Q.feed.post_media]
    # A user's posts and a post's comments are two queries too (the owner is looked up only for an
    # empty page); the home feed may find its ids in several steps (server/timeline.py), and a cold
    # timeline's build also reads when the viewer's first timed mute ends.
    for limit in (2, 3):
        assert await page_statements(f"/api/v1/users/{authors[0].id}/posts", limit) == [
            PageParams(limit).sql(Q.feed.user_ids), Q.feed.post_docs, Q.feed.post_media]
        assert await page_statements(f"/api/v1/posts/{posts[0]['id']}/comments", limit) == [
            PageParams(limit).sql(Q.feed.comment_ids), Q.feed.comment_docs]
        seen = await page_statements("/api/v1/feed", limit)
        assert seen.count(Q.feed.post_docs) == 1 and seen.count(Q.feed.post_media) == 1 and len(seen) <= 6, seen
        assert not any("FROM media" in s and s not in (Q.feed.post_docs, Q.feed.post_media) for s in seen), seen
