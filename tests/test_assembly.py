"""Posts and comments built as JSON by MariaDB equal the objects the Python builders made, byte for byte of text."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson

from server import documents
from server.http.responses import iso
from server.keys import DB, SERVICES
from tests.test_comments import comment_on
from tests.test_posts import add_media, new_post

TRICKY = [
    'say "hi" \\o/ C:\\path\\ and \\"escaped\\"',
    "line one\nline two\r\n\ttabbed",
    "emoji 😀👩‍👩‍👧 and ✓ é ß 日本語 and \u2028\u2029 separators",
    "</script><b>html</b> & 'single' `back`",
    "control \x01\x1f\x7f end",
    "   padded   ",
    "#Tagged #日本語 and #\"quoted\" for @tricky_alice, @TRICKY_BOB and @nobody",
]

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# --- the Python builders these documents replaced, kept here as the reference -------------------

def _url(app, key: str | None) -> str | None:
    storage = app[SERVICES].get("storage")
    return storage.url(key) if key and storage is not None else None

async def load_posts(app, ids, viewer):
    """The Post documents for ids, parsed (what a page's items decode to)."""
    return [orjson.loads(d) for d in await documents.post_docs(app, ids, viewer)]


async def load_comments(app, ids, viewer):
    return [orjson.loads(d) for d in await documents.comment_docs(app, ids, viewer)]



_SQL = {
    "posts": ("SELECT * FROM posts WHERE id = %s",
              "SELECT * FROM media WHERE post_id = %s ORDER BY position, id",
              "SELECT 1 FROM post_likes WHERE post_id = %s AND user_id = %s",
              "SELECT t.name FROM post_hashtags x JOIN tags t ON t.id = x.tag_id WHERE x.post_id = %s"
              " ORDER BY x.position, t.id",
              "SELECT u.id, u.username FROM post_mentions x JOIN users u ON u.id = x.user_id"
              " WHERE x.post_id = %s AND u.state = 'active' ORDER BY x.position, u.id"),
    "comments": ("SELECT * FROM comments WHERE id = %s",
                 "SELECT * FROM media WHERE comment_id = %s ORDER BY position, id",
                 "SELECT 1 FROM comment_likes WHERE comment_id = %s AND user_id = %s",
                 "SELECT t.name FROM comment_hashtags x JOIN tags t ON t.id = x.tag_id WHERE x.comment_id = %s"
                 " ORDER BY x.position, t.id",
                 "SELECT u.id, u.username FROM comment_mentions x JOIN users u ON u.id = x.user_id"
                 " WHERE x.comment_id = %s AND u.state = 'active' ORDER BY x.position, u.id"),
}


async def _reference(app, table: str, ids: list[int], viewer_id: int | None) -> list[dict[str, Any]]:
    db = app[DB]
    row_q, media_q, liked_q, tags_q, mentions_q = _SQL[table]
    out = []
    for i in ids:
        row = await db.fetchone(row_q, (i,))
        if row is None:
            continue
        author = await db.fetchone("SELECT u.*, m.storage_key AS avatar_key FROM users u"
                                   " LEFT JOIN media m ON m.id = u.avatar_media_id WHERE u.id = %s", (row["user_id"],))
        media = await db.fetchall(media_q, (i,))
        liked = viewer_id is not None and bool(await db.fetchval(liked_q, (i, viewer_id)))
        obj: dict[str, Any] = {"id": row["id"]}
        if table == "comments":
            obj["post_id"] = row["post_id"]
        obj["author"] = {"id": author["id"], "username": author["username"], "full_name": author["full_name"],
                         "profile_pic": _url(app, author["avatar_key"])}
        if table == "posts":
            obj["title"] = row["title"]
        obj["content"] = row["content"]
        obj["likes_count"] = row["likes_count"]
        if table == "posts":
            obj["comments_count"] = row["comments_count"]
        obj["liked"] = liked
        if table == "posts":
            obj["bookmarked"] = viewer_id is not None and bool(await db.fetchval(
                "SELECT 1 FROM bookmarks WHERE post_id = %s AND user_id = %s", (i, viewer_id)))
        obj.update(created_at=iso(row["created_at"]), updated_at=iso(row["updated_at"]),
                   edited_at=iso(row["edited_at"]), edited=row["edited_at"] is not None)
        obj["media"] = [{
            "id": m["id"], "type": m["media_type"], "url": _url(app, m["storage_key"]),
            "thumbnail_url": _url(app, m["thumb_key"]), "width": m["width"], "height": m["height"],
            "duration": m["duration"], "size": m["size"], "content_type": m["content_type"],
            "created_at": iso(m["created_at"]),
        } for m in media]
        # Then the lists server/documents.py appends to the document MariaDB built.
        obj["tags"] = [r["name"] for r in await db.fetchall(tags_q, (i,))]
        obj["mentions"] = [{"id": r["id"], "username": r["username"]} for r in await db.fetchall(mentions_q, (i,))]
        out.append(obj)
    return out


def assert_same(got: list[dict], expected: list[dict]) -> None:
    """Equal, key order included, and the JSON types too (True is not 1, [] is not "[]")."""
    assert got == expected
    for g, e in zip(got, expected, strict=True):
        assert list(g) == list(e)
        for key, value in e.items():
            assert type(g[key]) is type(value) or {type(g[key]), type(value)} <= {int, float}, (key, g[key], value)
        assert isinstance(g["media"], list) and isinstance(g["author"], dict)
        assert ISO.match(g["created_at"]) and ISO.match(g["updated_at"])


async def _world(client, make_user):
    """Alice (avatar, unicode name) and Bob post tricky text with and without titles, media,
    likes, comments and edits."""
    alice, bob = await make_user("tricky_alice"), await make_user("tricky_bob")  # mentioned in TRICKY
    db = client.app[DB]
    avatar = await add_media(client, alice, purpose="avatar")
    await db.execute("UPDATE users SET avatar_media_id = %s, full_name = %s WHERE id = %s",
                     (avatar, 'Ålice "the" 🦊 \\ O\'Neil', alice.id))
    posts = []
    for i, text in enumerate(TRICKY):
        author = (alice, bob)[i % 2]
        extra = {"title": text[:100]} if i % 3 == 0 else {}
        if i == 2:
            ids = [await add_media(client, author) for _ in range(3)]
            extra["media_ids"] = [ids[2], ids[0], ids[1]]
        posts.append(await new_post(client, author, text, **extra))
    # A video without a thumbnail, a fractional duration, and a time with .000 ms.
    video = await add_media(client, bob, media_type="video")
    await db.execute("UPDATE media SET thumb_key = NULL, duration = 12.345, content_type = 'video/mp4',"
                     " width = NULL, height = NULL WHERE id = %s", (video,))
    posts.append(await new_post(client, bob, "a video", media_ids=[video]))
    await db.execute("UPDATE posts SET created_at = '2026-01-02 03:04:05.000', updated_at = '2026-01-02 03:04:05.007'"
                     " WHERE id = %s", (posts[-1]["id"],))

    tagged = posts[len(TRICKY) - 1]
    assert tagged["tags"] == ["tagged", "日本語"]
    assert tagged["mentions"] == [{"id": alice.id, "username": "tricky_alice"}, {"id": bob.id, "username": "tricky_bob"}]
    resp = await client.patch(f"/api/v1/posts/{posts[1]['id']}", json={"content": TRICKY[0] + " (edited)"},
                              headers=bob.headers)
    assert resp.status == 200
    for p in posts[:3]:
        await client.put(f"/api/v1/posts/{p['id']}/like", headers=bob.headers)
    for p in (posts[0], posts[3]):
        assert (await client.put(f"/api/v1/posts/{p['id']}/bookmark", headers=bob.headers)).status == 200

    post_id = posts[0]["id"]
    comments = [await comment_on(client, (bob, alice)[i % 2], post_id, text) for i, text in enumerate(TRICKY)]
    m = await add_media(client, bob)
    comments.append(await comment_on(client, bob, post_id, "with a picture", media_ids=[m]))
    resp = await client.patch(f"/api/v1/comments/{comments[0]['id']}", json={"content": "edité ✓"},
                              headers=bob.headers)
    assert resp.status == 200
    await client.put(f"/api/v1/comments/{comments[1]['id']}/like", headers=bob.headers)
    return alice, bob, posts, comments


async def test_documents_equal_the_python_built_objects(client, make_user):
    alice, bob, posts, comments = await _world(client, make_user)
    app = client.app
    post_ids = [p["id"] for p in posts]
    comment_ids = [c["id"] for c in comments]
    for viewer in (None, alice.id, bob.id):
        # In the order asked for, duplicates and missing ids left out.
        asked = [*post_ids[::-1], post_ids[0], 10**12]
        assert_same(await load_posts(app, asked, viewer), await _reference(app, "posts", post_ids[::-1], viewer))
        assert_same(await load_comments(app, [*comment_ids, 10**12], viewer),
                    await _reference(app, "comments", comment_ids, viewer))

    # Through HTTP: single objects, every page, anonymous and with a viewer.
    for user in (None, bob):
        headers, viewer = (user.headers, user.id) if user else (None, None)
        for pid in post_ids:
            body = await (await client.get(f"/api/v1/posts/{pid}", headers=headers)).json()
            assert_same([body], await _reference(app, "posts", [pid], viewer))
        for url, ids in [("/api/v1/posts", post_ids), (f"/api/v1/users/{bob.id}/posts",
                                                       [p["id"] for p in posts if p["author"]["id"] == bob.id])]:
            page = await (await client.get(url, params={"limit": 100}, headers=headers)).json()
            assert page["next_cursor"] is None
            assert_same(page["items"], await _reference(app, "posts", sorted(ids, reverse=True), viewer))
        resp = await client.get(f"/api/v1/posts/{post_ids[0]}/comments", params={"limit": 3}, headers=headers)
        page = await resp.json()
        assert page["next_cursor"] == str(page["items"][-1]["id"])
        assert_same(page["items"], await _reference(app, "comments", sorted(comment_ids, reverse=True)[:3], viewer))
    feed_page = await (await client.get("/api/v1/feed", headers=bob.headers)).json()
    assert_same(feed_page["items"], await _reference(app, "posts", [i["id"] for i in feed_page["items"]], bob.id))


async def test_the_details_come_out_as_json_types(client, make_user):
    alice, bob, posts, comments = await _world(client, make_user)
    shown = await (await client.get(f"/api/v1/posts/{posts[0]['id']}", headers=bob.headers)).json()
    assert shown["liked"] is True and shown["edited"] is False and shown["content"] == TRICKY[0]
    assert shown["title"] == TRICKY[0] and shown["author"]["full_name"] == 'Ålice "the" 🦊 \\ O\'Neil'
    assert shown["author"]["profile_pic"] == client.app[SERVICES]["storage"].url(
        await client.app[DB].fetchval("SELECT m.storage_key FROM users u JOIN media m ON m.id = u.avatar_media_id"
                                      " WHERE u.id = %s", (alice.id,)))
    anon = await (await client.get(f"/api/v1/posts/{posts[0]['id']}")).json()
    assert anon["liked"] is False

    edited = await (await client.get(f"/api/v1/posts/{posts[1]['id']}")).json()
    assert edited["edited"] is True and edited["title"] is None and edited["author"]["profile_pic"] is None
    with_media = await (await client.get(f"/api/v1/posts/{posts[2]['id']}")).json()
    assert [m["id"] for m in with_media["media"]] == [m["id"] for m in posts[2]["media"]]  # the order given
    assert all(m["url"].endswith(".jpg") and m["url"].startswith("http") for m in with_media["media"])

    video = await (await client.get(f"/api/v1/posts/{posts[-1]['id']}")).json()
    assert video["created_at"] == "2026-01-02T03:04:05.000Z" and video["updated_at"] == "2026-01-02T03:04:05.007Z"
    [m] = video["media"]
    assert m["thumbnail_url"] is None and m["duration"] == 12.345 and m["width"] is None and m["type"] == "video"
    assert ISO.match(m["created_at"])

    for text, post in zip(TRICKY, posts, strict=False):  # exact round trip, including the 201 bodies
        got = await (await client.get(f"/api/v1/posts/{post['id']}")).json()
        if post is not posts[1]:
            assert got["content"] == text == post["content"]
    assert [c["content"] for c in comments[1:len(TRICKY)]] == TRICKY[1:]
    resp = await client.get(f"/api/v1/posts/{posts[0]['id']}/comments", params={"limit": 100}, headers=bob.headers)
    assert resp.content_type == "application/json"
    page = orjson.loads(await resp.read())
    by_id = {c["id"]: c for c in page["items"]}
    assert by_id[comments[0]["id"]]["content"] == "edité ✓" and by_id[comments[0]["id"]]["edited"] is True
    assert by_id[comments[1]["id"]]["liked"] is True and by_id[comments[2]["id"]]["liked"] is False
    assert [m["id"] for m in by_id[comments[-1]["id"]]["media"]] == [m["id"] for m in comments[-1]["media"]]


async def test_without_storage_every_url_is_null(client, make_user, monkeypatch):
    alice, bob, posts, _ = await _world(client, make_user)
    monkeypatch.delitem(client.app[SERVICES], "storage")
    got = await load_posts(client.app, [p["id"] for p in posts], None)
    assert_same(got, await _reference(client.app, "posts", [p["id"] for p in posts], None))
    assert got[0]["author"]["profile_pic"] is None and got[2]["media"][0]["url"] is None


async def test_times_match_iso_at_every_millisecond_edge(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    db = client.app[DB]
    for stamp in ("1999-12-31 23:59:59.999", "2026-11-21 12:34:56.789", "2030-06-01 00:00:00.000",
                  "2026-02-03 04:05:06.050"):
        await db.execute("UPDATE posts SET created_at = %s WHERE id = %s", (stamp, post["id"]))
        [got] = await load_posts(client.app, [post["id"]], None)
        assert got["created_at"] == iso(dt.datetime.fromisoformat(stamp))


async def test_empty_pages_still_tell_a_missing_owner_from_an_empty_one(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice)
    await client.delete(f"/api/v1/posts/{post['id']}", headers=alice.headers)
    quiet = await make_user()
    lonely = await new_post(client, quiet)
    for url in (f"/api/v1/users/{quiet.id}/posts?before={lonely['id']}", f"/api/v1/posts/{lonely['id']}/comments"):
        resp = await client.get(url)
        assert resp.status == 200 and await resp.json() == {"items": [], "next_cursor": None}
    for url in (f"/api/v1/posts/{post['id']}/comments", "/api/v1/users/99999999/posts"):
        assert (await client.get(url)).status == 404
