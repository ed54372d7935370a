"""Hashtags: parsed from text, on documents, tag pages, trending, followed tags in the home feed
(cached and not), and one tag store with the Conduit API."""

from __future__ import annotations

import asyncio

from server.app import create_app
from server.keys import REDIS
from server.textrefs import normalize_tag, parse_tags
from tests.helpers import problem_of
from tests.test_comments import comment_on
from tests.test_conduit import create_article, register
from tests.test_moderation import make_moderator
from tests.test_mutes import mute
from tests.test_posts import new_post
from tests.test_timeline import cached, same_as_sql, sql_only

# --- parsing -------------------------------------------------------------------------------------------

def test_tags_are_letters_digits_and_underscore_in_any_script_case_folded():
    assert parse_tags("Loving #Python, #python3 and #PYTHON!") == ["python", "python3"]
    assert parse_tags("#ÜBER #Straße #日本語 #हिन्दी #snake_case") == ["über", "strasse", "日本語", "हिन्दी", "snake_case"]
    assert parse_tags("decomposed #cafe\u0301 and composed #café") == ["café"]  # NFKC first
    assert parse_tags("full-width ＃Ｔａｇ") == ["tag"]
    assert parse_tags("(#one) #two. #three's #four-five #six/seven") == ["one", "two", "three", "four", "six"]


def test_what_is_not_a_tag():
    assert parse_tags("#123 #2026 # #_") == ["_"]  # all digits: no tag; underscore alone is one
    assert parse_tags("#1st #42nd") == ["1st", "42nd"]
    # Inside words, entities, repeated signs and URLs: plain text.
    assert parse_tags("C# and F#, a#b, &#38;, ##double, x/#y") == []
    assert parse_tags("see https://example.com/page#section and www.example.org/#tag") == []
    assert parse_tags("https://example.com/x #after") == ["after"]
    assert parse_tags("#" + "a" * 100) == ["a" * 100]
    assert parse_tags("#" + "a" * 101) == []  # longer than a tag may be
    assert normalize_tag(" Dragons ") == "dragons"


# --- documents and pages --------------------------------------------------------------------------------

async def tag_page(client, tag: str, user=None, **params) -> list[int]:
    resp = await client.get(f"/api/v1/tags/{tag}/posts", headers=user.headers if user else None,
                            params=params or None)
    assert resp.status == 200, await resp.text()
    return [p["id"] for p in (await resp.json())["items"]]


async def test_posts_and_comments_carry_their_tags_everywhere(client, make_user):
    alice, bob = await make_user(), await make_user()
    post = await new_post(client, alice, "Off to see #Dragons and #dragons, #ÜBER cool #123")
    assert post["tags"] == ["dragons", "über"] and post["mentions"] == []
    await client.put(f"/api/v1/users/{alice.id}/follow", headers=bob.headers)
    single = await (await client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)).json()
    public = (await (await client.get("/api/v1/posts", headers=bob.headers)).json())["items"][0]
    home = (await (await client.get("/api/v1/feed", headers=bob.headers)).json())["items"][0]
    users = (await (await client.get(f"/api/v1/users/{alice.id}/posts", headers=bob.headers)).json())["items"][0]
    tagged = (await (await client.get("/api/v1/tags/dragons/posts", headers=bob.headers)).json())["items"][0]
    assert single == public == home == users == tagged

    edited = await (await client.patch(f"/api/v1/posts/{post['id']}", headers=alice.headers,
                                       json={"content": "now #über and #knights"})).json()
    assert edited["tags"] == ["über", "knights"]
    assert await tag_page(client, "dragons") == [] and await tag_page(client, "knights") == [post["id"]]
    # A title-only edit leaves the tags alone.
    retitled = await (await client.patch(f"/api/v1/posts/{post['id']}", headers=alice.headers,
                                         json={"title": "A title"})).json()
    assert retitled["tags"] == ["über", "knights"]

    comment = await comment_on(client, bob, post["id"], "#Knights rule, #Knights!")
    assert comment["tags"] == ["knights"]
    listed = (await (await client.get(f"/api/v1/posts/{post['id']}/comments")).json())["items"][0]
    assert listed == {**comment, "liked": False}
    changed = await (await client.patch(f"/api/v1/comments/{comment['id']}", headers=bob.headers,
                                        json={"content": "no tags"})).json()
    assert changed["tags"] == []
    # Comment tags do not put the post on a tag page: that is the post's own text.
    assert await tag_page(client, "knights") == [post["id"]]


async def test_tag_page_filters_blocks_mutes_and_suspended_authors_and_pages(client, make_user):
    alice, bob, carol, viewer = [await make_user() for _ in range(4)]
    ids = {}
    for user in (alice, bob, carol):
        ids[user.id] = [(await new_post(client, user, f"#Dragons {user.username} {i}"))["id"] for i in range(3)]
    await new_post(client, alice, "no tag here")
    everything = sorted(sum(ids.values(), []), reverse=True)
    assert await tag_page(client, "dragons") == everything
    assert await tag_page(client, "DRAGONS", viewer) == everything
    assert await tag_page(client, "%23Dragons") == everything  # a leading '#' is allowed
    assert await tag_page(client, "nothing-yet") == []

    # Keyset pages: newest first with before, oldest first with after, same posts.
    seen, cursor = [], None
    while True:
        resp = await client.get("/api/v1/tags/dragons/posts", params={"limit": 2, **({"before": cursor} if cursor else {})})
        page = await resp.json()
        seen += [p["id"] for p in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == everything
    assert await tag_page(client, "dragons", after=0, limit=100) == everything[::-1]

    # The viewer blocks bob; carol blocks the viewer; the viewer mutes alice: none of theirs.
    assert (await client.put(f"/api/v1/users/{bob.id}/block", headers=viewer.headers)).status == 200
    assert (await client.put(f"/api/v1/users/{viewer.id}/block", headers=carol.headers)).status == 200
    assert await tag_page(client, "dragons", viewer) == sorted(ids[alice.id], reverse=True)
    await mute(client, viewer, alice)
    assert await tag_page(client, "dragons", viewer, limit=1) == []
    assert await tag_page(client, "dragons", bob) == everything  # the viewer posted none

    # A suspended author leaves the page (moderators still see them).
    mod = await make_moderator(client, make_user)
    resp = await client.put(f"/api/v1/admin/users/{carol.id}/suspension", headers=mod.headers, json={"reason": "spam"})
    assert resp.status == 200, await resp.text()
    assert await tag_page(client, "dragons") == sorted(ids[alice.id] + ids[bob.id], reverse=True)
    assert await tag_page(client, "dragons", mod) == everything

    await problem_of(await client.get("/api/v1/tags/" + "x" * 101 + "/posts"), 422)
    await problem_of(await client.get("/api/v1/tags/%20/posts"), 422)


async def test_trending_counts_distinct_authors_and_survives_redis_trouble(client, make_user):
    users = [await make_user() for _ in range(4)]
    for i in range(5):  # one author, many posts: one author
        await new_post(client, users[0], f"#spam #Solo {i}")
    for user in users[1:]:
        await new_post(client, user, "#Popular and #spam")
    await new_post(client, users[1], "#popular again, #rare")

    resp = await client.get("/api/v1/tags/trending")
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    # Most distinct authors first, then most posts.
    assert items == [{"tag": "spam", "authors": 4, "posts": 8},
                     {"tag": "popular", "authors": 3, "posts": 4},
                     {"tag": "solo", "authors": 1, "posts": 5},
                     {"tag": "rare", "authors": 1, "posts": 1}]
    assert (await (await client.get("/api/v1/tags/trending", params={"limit": 1})).json())["items"] == items[:1]

    # Cached briefly: a new use shows once the cached list is gone.
    await new_post(client, users[2], "#rare too")
    assert (await (await client.get("/api/v1/tags/trending")).json())["items"] == items
    r = client.app[REDIS]
    await r.client.delete(r.key("tags", "trending"))
    fresh = (await (await client.get("/api/v1/tags/trending")).json())["items"]
    assert {"tag": "rare", "authors": 2, "posts": 2} in fresh
    await problem_of(await client.get("/api/v1/tags/trending", params={"limit": 0}), 400)


async def test_trending_without_redis(private_redis, make_config, aiohttp_client, make_user):
    client = await aiohttp_client(create_app(make_config(
        redis={"url": f"redis://127.0.0.1:{private_redis.port}/0", "request_timeout": 0.1})))
    user = await register(client)
    resp = await client.post("/api/v1/posts", json={"content": "#offline tag"}, headers=user.headers)
    assert resp.status == 201, await resp.text()
    private_redis.pause()
    try:
        resp = await client.get("/api/v1/tags/trending")
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["items"] == [{"tag": "offline", "authors": 1, "posts": 1}]
    finally:
        private_redis.resume()


# --- followed tags in the home feed ----------------------------------------------------------------------

async def follow_tag(client, user, tag: str, on: bool = True) -> dict:
    method = client.put if on else client.delete
    resp = await method(f"/api/v1/tags/{tag}/follow", headers=user.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_followed_tags_join_the_home_feed_cached_or_not(client, make_user, aiohttp_client, make_config):
    sql = await sql_only(aiohttp_client, make_config)
    me, friend, stranger, rude, loud = [await make_user() for _ in range(5)]
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    mine = (await new_post(client, me, "my own"))["id"]
    both = (await new_post(client, friend, "followed and #Dragons"))["id"]
    before = (await new_post(client, stranger, "#dragons before the follow"))["id"]
    assert await same_as_sql(client, sql, me) == [both, mine]

    assert await follow_tag(client, me, "Dragons") == {"tag": "dragons", "following": True}
    assert await follow_tag(client, me, "%23DRAGONS") == {"tag": "dragons", "following": True}  # idempotent
    assert await cached(client.app, me.id) is None  # the follow dropped the cached timeline
    assert await same_as_sql(client, sql, me) == [before, both, mine]  # no duplicate of `both`
    assert await cached(client.app, me.id) == [before, both, mine]

    # New posts with the tag reach the warm timeline by fan-out; not those of blocked or muted users.
    assert (await client.put(f"/api/v1/users/{rude.id}/block", headers=me.headers)).status == 200
    await mute(client, me, loud)
    await same_as_sql(client, sql, me)  # warm again
    fresh = (await new_post(client, stranger, "more #DRAGONS"))["id"]
    await new_post(client, rude, "#dragons from someone I block")
    await new_post(client, loud, "#dragons from someone I mute")
    await new_post(client, stranger, "#lizards are not followed")
    assert await cached(client.app, me.id) == [fresh, before, both, mine]
    assert await same_as_sql(client, sql, me) == [fresh, before, both, mine]

    # Edits: a post gaining the tag joins, one losing it leaves; deleting takes it out.
    late = (await new_post(client, stranger, "plain"))["id"]
    assert (await client.patch(f"/api/v1/posts/{late}", headers=stranger.headers,
                               json={"content": "now with #dragons"})).status == 200
    assert (await cached(client.app, me.id))[0] == late
    assert await same_as_sql(client, sql, me) == [late, fresh, before, both, mine]
    assert (await client.patch(f"/api/v1/posts/{before}", headers=stranger.headers,
                               json={"content": "no longer tagged"})).status == 200
    assert await same_as_sql(client, sql, me) == [late, fresh, both, mine]
    assert (await client.delete(f"/api/v1/posts/{fresh}", headers=stranger.headers)).status == 204
    assert fresh not in await cached(client.app, me.id)
    assert await same_as_sql(client, sql, me) == [late, both, mine]

    followed = await (await client.get("/api/v1/tags/followed", headers=me.headers)).json()
    assert [t["tag"] for t in followed["items"]] == ["dragons"] and followed["next_cursor"] is None
    assert await follow_tag(client, me, "dragons", on=False) == {"tag": "dragons", "following": False}
    assert await follow_tag(client, me, "dragons", on=False) == {"tag": "dragons", "following": False}
    assert await cached(client.app, me.id) is None
    assert await same_as_sql(client, sql, me) == [both, mine]
    assert (await (await client.get("/api/v1/tags/followed", headers=me.headers)).json())["items"] == []
    await problem_of(await client.put("/api/v1/tags/dragons/follow"), 401)


async def test_an_authors_suspension_leaves_tag_followers_timelines(client, make_user, aiohttp_client, make_config):
    sql = await sql_only(aiohttp_client, make_config)
    me, author = await make_user(), await make_user()
    await follow_tag(client, me, "knights")
    post = (await new_post(client, author, "#knights"))["id"]
    assert await same_as_sql(client, sql, me) == [post]
    mod = await make_moderator(client, make_user)
    resp = await client.put(f"/api/v1/admin/users/{author.id}/suspension", headers=mod.headers, json={"reason": "x"})
    assert resp.status == 200, await resp.text()
    assert await cached(client.app, me.id) is None
    assert await same_as_sql(client, sql, me) == []
    resp = await client.delete(f"/api/v1/admin/users/{author.id}/suspension", headers=mod.headers)
    assert resp.status in (200, 204), await resp.text()
    assert await same_as_sql(client, sql, me) == [post]


# --- one tag store with the Conduit API -----------------------------------------------------------------

async def test_conduit_tags_and_hashtags_are_one_store(client):
    jake = await register(client)
    article = await create_article(client, jake, title="Dragon care", tagList=["Dragons", "Training"],
                                   body="Feed them #Meat daily.")
    assert article["tagList"] == ["Dragons", "Training"]  # as sent
    native = await (await client.get(f"/api/v1/posts/{await post_id_of(client, jake)}")).json()
    assert native["tags"] == ["meat", "dragons", "training"]  # the body's first, then the list's
    assert await tag_page(client, "dragons") == [native["id"]]

    # A titled native post with #dragons is an article Conduit finds by ?tag= (in any case).
    resp = await client.post("/api/v1/posts", headers=jake.headers,
                             json={"title": "Native dragons", "content": "I love #dragons"})
    assert resp.status == 201
    post = await resp.json()
    for tag in ("dragons", "DRAGONS", "Dragons"):
        body = await (await client.get("/api/articles", params={"tag": tag})).json()
        assert [a["title"] for a in body["articles"]] == ["Native dragons", "Dragon care"]
        assert body["articlesCount"] == 2
    assert await tag_page(client, "dragons") == [post["id"], native["id"]]
    body = await (await client.get("/api/articles", params={"tag": "meat"})).json()
    assert [a["slug"] for a in body["articles"]] == [article["slug"]]
    assert (await (await client.get("/api/tags")).json())["tags"][0] == "dragons"  # one tag, used twice

    # Changing the tagList moves the post between tag pages; the tagList stays as sent.
    resp = await client.put(f"/api/articles/{article['slug']}", headers=jake.headers,
                            json={"article": {"tagList": ["Knights"]}})
    assert (await resp.json())["article"]["tagList"] == ["Knights"]
    assert await tag_page(client, "dragons") == [post["id"]]
    assert await tag_page(client, "knights") == [native["id"]]
    assert sorted((await (await client.get("/api/tags")).json())["tags"]) == ["dragons", "knights", "meat"]


async def post_id_of(client, writer) -> int:
    page = await (await client.get(f"/api/v1/users/{writer.id}/posts")).json()
    return page["items"][0]["id"]


async def test_concurrent_posts_and_edits_sharing_tags_never_deadlock(aiohttp_client, make_config):
    # No deadlock retries: a single 1213 would be a 500 here.
    client = await aiohttp_client(create_app(make_config(database={"retries": 0}, ratelimit={"enabled": False})))
    writers = [await register(client) for _ in range(6)]

    async def write(i: int):
        resp = await client.post("/api/v1/posts", headers=writers[i % 6].headers,
                                 json={"content": f"#shared #fresh{i} #Shared and @{writers[(i + 1) % 6].username}"})
        return resp.status, await resp.json()

    results = await asyncio.gather(*[write(i) for i in range(24)])
    assert [s for s, _ in results] == [201] * 24, [b for s, b in results if s != 201][:2]
    posts = [b for _, b in results]
    assert sorted(await tag_page(client, "shared", limit=100)) == sorted(p["id"] for p in posts)

    async def edit(n: int, post: dict):
        resp = await client.patch(f"/api/v1/posts/{post['id']}", headers=writers[posts.index(post) % 6].headers,
                                  json={"content": f"#shared #edit{n % 3} #n{n}"})
        return resp.status, await resp.text()

    jobs = [edit(n, p) for n in range(2) for p in posts]
    assert [s for s, _ in await asyncio.gather(*jobs)] == [200] * len(jobs)
    for post in posts:
        tags = (await (await client.get(f"/api/v1/posts/{post['id']}")).json())["tags"]
        assert tags in (["shared", "edit0", "n0"], ["shared", "edit1", "n1"])  # one edit's, whole
