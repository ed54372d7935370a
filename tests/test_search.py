"""Search: posts by full text (ranked, phrases, exclusions), users and tags by prefix; blocks, mutes,
hidden accounts, paging and hostile input."""

from __future__ import annotations

import pytest

from server import search
from server.app import create_app
from server.keys import DB, REDIS
from tests.helpers import problem_of
from tests.test_moderation import admin, make_moderator
from tests.test_posts import new_post

NASTY = [
    '"', '""', '"""', '"unbalanced phrase', 'phrase" odd', "+-", "-", "--zebra", "+", "*", "**", "zebra**",
    "@", "@3", "zebra @2", "()", "(zebra", "zebra)", "~", "~zebra", "<>", "<zebra >zebra", "+zebra -zebra",
    "-zebra", "-\"zebra\"", "'", "zebra' OR '1'='1", "'; DROP TABLE posts; --", "\\", "\\\"", "%", "_", "%_%",
    "a", "an the", "of to in", "zz", "\U0001f993", "zebra \U0001f993", "\u0000", "\t\n", "   ",
    "x" * 200, "zebra " * 40, '"' * 200, "-" * 200, "\u00e9l\u00e8ve", "\u5b57\u5e55", "+(>zebra <giraffe)",
    "zebra*" * 10, "MATCH(title) AGAINST('x')", "\u202e", "\ud7ff",
]


@pytest.fixture
def config(make_config):
    """Search without its cache: these tests search right after they write."""
    return make_config(search={"cache_ttl": 0})


async def find(client, q: str, user=None, status: int = 200, **params) -> dict:
    resp = await client.get("/api/v1/search", params={"q": q, **params},
                            headers=user.headers if user else None)
    if status != 200:
        return await problem_of(resp, status)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def post_ids(client, q: str, user=None, **params) -> list[int]:
    return [p["id"] for p in (await find(client, q, user, **params))["items"]]


async def test_posts_rank_by_relevance_and_newest_first_on_ties(client, make_user):
    alice = await make_user()
    once_old = await new_post(client, alice, "A zebra crossed the road")
    thrice = await new_post(client, alice, "zebra zebra zebra everywhere")
    await new_post(client, alice, "nothing striped here")
    twice = await new_post(client, alice, "zebra and another zebra", title="Stripes")
    once_new = await new_post(client, alice, "one more zebra sighting")
    found = await find(client, "zebra", alice)
    assert [p["id"] for p in found["items"]] == [thrice["id"], twice["id"], once_new["id"], once_old["id"]]
    # The same Post documents as everywhere else.
    one = await (await client.get(f"/api/v1/posts/{twice['id']}", headers=alice.headers)).json()
    assert found["items"][1] == one
    assert found["next_cursor"] is None
    # Titles are searched too; case does not matter.
    assert await post_ids(client, "STRIPES") == [twice["id"]]


async def test_words_are_all_required_phrases_exclusions_and_prefixes(client, make_user):
    alice = await make_user()
    fox = await new_post(client, alice, "The quick brown fox jumps over the lazy dog")
    reversed_ = await new_post(client, alice, "A brown and quick fox, not lazy at all")
    cat = await new_post(client, alice, "The quick brown cat sleeps")
    assert set(await post_ids(client, "quick brown")) == {fox["id"], reversed_["id"], cat["id"]}
    assert set(await post_ids(client, "quick fox")) == {fox["id"], reversed_["id"]}
    assert await post_ids(client, '"quick brown fox"') == [fox["id"]]
    assert await post_ids(client, '"brown fox jumps" lazy') == [fox["id"]]
    assert await post_ids(client, "quick -lazy") == [cat["id"]]
    assert set(await post_ids(client, 'brown -"quick brown cat"')) == {fox["id"], reversed_["id"]}
    assert await post_ids(client, "sle*") == [cat["id"]]
    # A hyphen inside a word is no exclusion: the index splits the word there.
    assert await post_ids(client, "brown-cat") == [cat["id"]]
    # An unbalanced quote runs to the end of the text.
    assert await post_ids(client, 'lazy "dog') == [fox["id"]]
    # Stopwords and short words are not looked for (a required stopword would match nothing).
    assert set(await post_ids(client, "the quick fox at")) == {fox["id"], reversed_["id"]}
    assert await post_ids(client, '"the lazy dog"') == [fox["id"]]


@pytest.mark.parametrize("type_", ["posts", "users", "tags"])
async def test_hostile_text_never_fails(client, make_user, type_):
    alice = await make_user("zebra_fan", full_name="Zebra Fan")
    await new_post(client, alice, "zebra giraffe")
    for q in NASTY:
        resp = await client.get("/api/v1/search", params={"q": q, "type": type_}, headers=alice.headers)
        assert resp.status in (200, 400), (q, resp.status, await resp.text())
        if resp.status == 200:
            body = await resp.json()
            assert set(body) == {"items", "next_cursor"}, q
        else:
            await problem_of(resp, 400)
    # Only operators, short words or stopwords: an empty page, not an error.
    for q in ("+-", '""', "*", "()", "an the", "zz", "-zebra", "\U0001f993"):
        assert (await find(client, q, alice, type="posts"))["items"] == [], q
    # Too long, empty or missing: a 400 naming the parameter.
    assert "q" in (await find(client, "x" * (search.MAX_QUERY + 1), status=400))["detail"]
    assert "q" in (await find(client, "", status=400))["detail"]
    await problem_of(await client.get("/api/v1/search"), 400)
    await problem_of(await client.get("/api/v1/search", params={"q": "zebra", "type": "places"}), 400)


def test_the_parser_writes_only_safe_boolean_queries():
    terms = search.parse('quick "brown fox" -lazy -"red dog" jum*')
    assert terms.boolean_query() == "+quick +jum* +brown +fox -lazy"
    assert terms.phrase_pattern() == r"(*UCP)(?is)^(?=.*\bbrown\W+fox\b)"
    assert terms.excluded_pattern() == r"(*UCP)(?is)(?:\bred\W+dog\b)"
    assert search.parse("-only -excluded").boolean_query() is None
    assert search.parse('the of "to be" ab').boolean_query() is None
    assert search.parse('+(>zebra <giraffe)~ @8 "a zebra"').boolean_query() == "+zebra +giraffe"
    assert search.parse("x" * 85 + " zebra").boolean_query() == "+zebra"
    assert search.parse(" ".join(f"word{i}" for i in range(20))).boolean_query().count("+") == search.MAX_TERMS
    for q in NASTY:
        terms = search.parse(q)
        against = terms.boolean_query() or ""
        assert all(c.isalnum() or c in '_+-* ' for c in against), q
        for phrase in terms.phrases + terms.excluded_phrases:
            assert all(w.isidentifier() or w.replace("_", "").isalnum() for w in phrase), q


async def test_the_tokenizer_settings_are_the_servers(client):
    db = client.app[DB]
    assert await db.fetchval("SELECT @@innodb_ft_min_token_size") == search.MIN_TOKEN
    assert await db.fetchval("SELECT @@innodb_ft_max_token_size") == search.MAX_TOKEN
    rows = await db.fetchall("SELECT value FROM INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD")
    assert {r["value"] for r in rows} == search.STOPWORDS


async def test_users_by_username_or_full_name_prefix(client, make_user):
    zed = await make_user("zed", full_name="Zed Shaw")
    zedd = await make_user("zedd_music", full_name="Anton Zaslavski")
    anna = await make_user("anna", full_name="Zedna Z")
    old_ze = await make_user("zelda")
    await make_user("bob", full_name="Bob Zed")  # "Zed" later in the name: no prefix
    found = await find(client, "ZED", anna, type="users")
    # The username itself, then username prefixes (newest first), then full-name prefixes.
    assert [u["id"] for u in found["items"]] == [zed.id, zedd.id, anna.id]
    user = await (await client.get(f"/api/v1/users/{zed.id}", headers=anna.headers)).json()
    assert found["items"][0] == user
    assert [u["id"] for u in (await find(client, "ze", type="users"))["items"]] == [
        old_ze.id, zedd.id, zed.id, anna.id]
    # LIKE wildcards are plain characters.
    under = await make_user("under_score")
    await make_user("underXscore")
    assert [u["id"] for u in (await find(client, "under_", type="users"))["items"]] == [under.id]
    assert (await find(client, "%", type="users"))["items"] == []
    assert (await find(client, "_", type="users"))["items"] == []
    pct = await make_user("pct", full_name="100% real")
    assert [u["id"] for u in (await find(client, "100%", type="users"))["items"]] == [pct.id]
    assert (await find(client, "100%x", type="users"))["items"] == []


async def test_tags_by_prefix(client, make_user):
    writer = await make_user()
    names = ["Dragons", "dragon", "dragonfly", "drag_race", "dragXrace", "dr%y", "train"]
    for name in names:
        resp = await client.post("/api/articles", headers=writer.headers, json={"article": {
            "title": f"About {name}", "description": "d", "body": "b", "tagList": [name]}})
        assert resp.status == 201, await resp.text()
    found = await find(client, "DRAGON", type="tags")
    # The name itself first, then shorter names; newest first on ties. Tags are found and shown in
    # their normalized form (the one hashtags use): tagList "Dragons" is the tag "dragons".
    assert [t["name"] for t in found["items"]] == ["dragon", "dragons", "dragonfly"]
    assert set(found["items"][0]) == {"id", "name"}
    assert [t["name"] for t in (await find(client, "drag_", type="tags"))["items"]] == ["drag_race"]
    assert [t["name"] for t in (await find(client, "dr%", type="tags"))["items"]] == ["dr%y"]
    assert (await find(client, "%", type="tags"))["items"] == []
    assert (await find(client, "zzz", type="tags"))["items"] == []


async def test_blocks_either_way_hide_posts_and_users(client, make_user):
    alice = await make_user("alice_blocks")
    bob = await make_user("alice_blocked_bob")
    carol = await make_user("alice_carol")
    for user in (alice, bob, carol):
        await new_post(client, user, f"okapi sighting by {user.username}")
    resp = await client.put(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert resp.status == 200
    everyone = {alice.username, bob.username, carol.username}

    async def seen(viewer) -> tuple[set, set]:
        posts = {p["author"]["username"] for p in (await find(client, "okapi", viewer))["items"]}
        users = {u["username"] for u in (await find(client, "alice", viewer, type="users"))["items"]}
        return posts, users

    assert await seen(alice) == (everyone - {bob.username},) * 2
    assert await seen(bob) == (everyone - {alice.username},) * 2
    assert await seen(carol) == (everyone, everyone)
    assert await seen(None) == (everyone, everyone)  # anonymous: no blocks of its own


async def test_muted_users_posts_are_hidden_but_the_user_is_found(client, make_user):
    alice = await make_user()
    bob = await make_user("muted_bob")
    post = await new_post(client, bob, "tapir parade")
    assert (await client.put(f"/api/v1/users/{bob.id}/mute", headers=alice.headers)).status == 200
    assert await post_ids(client, "tapir", alice) == []
    users = (await find(client, "muted_b", alice, type="users"))["items"]
    assert [(u["id"], u["muting"]) for u in users] == [(bob.id, True)]
    assert await post_ids(client, "tapir") == [post["id"]]


async def test_suspended_accounts_only_for_moderators_deleted_for_nobody(client, make_user):
    alice = await make_user()
    mod = await make_moderator(client, make_user)
    bob = await make_user("hidden_bob")
    dave = await make_user("hidden_dave", password="dave password 1")
    bob_post = await new_post(client, bob, "narwhal news")
    await new_post(client, dave, "narwhal facts")
    await admin(client, mod, "PUT", f"/users/{bob.id}/suspension", json={"reason": "spam"})
    resp = await client.delete("/api/v1/users/me", json={"password": dave.password}, headers=dave.headers)
    assert resp.status == 202
    for viewer in (alice, None):
        assert await post_ids(client, "narwhal", viewer) == []
        assert (await find(client, "hidden", viewer, type="users"))["items"] == []
    assert await post_ids(client, "narwhal", mod) == [bob_post["id"]]
    assert [u["id"] for u in (await find(client, "hidden", mod, type="users"))["items"]] == [bob.id]


async def test_pages_by_offset_up_to_the_cap(client, make_user):
    alice = await make_user()
    made = [(await new_post(client, alice, f"lemur note {i}"))["id"] for i in range(7)]
    newest_first = made[::-1]
    seen, offset = [], "0"
    while offset is not None:
        page = await find(client, "lemur", alice, limit=3, offset=offset)
        assert len(page["items"]) <= 3
        seen += [p["id"] for p in page["items"]]
        offset = page["next_cursor"]
    assert seen == newest_first
    assert (await find(client, "lemur", limit=3))["next_cursor"] == "3"
    assert (await find(client, "lemur", limit=7))["next_cursor"] is None
    assert [p["id"] for p in (await find(client, "lemur", offset=5))["items"]] == newest_first[5:]
    assert (await find(client, "lemur", offset=search.MAX_RESULTS))["items"] == []
    problem = await find(client, "lemur", offset=search.MAX_RESULTS + 1, status=400)
    assert "offset" in problem["detail"] and "1,000" in problem["detail"]
    for bad in ("-1", "x", "1.5"):
        await find(client, "lemur", offset=bad, status=400)
    for bad in ("0", "-3", "many"):
        await find(client, "lemur", limit=bad, status=400)
    # Above the maximum the limit is clamped.
    assert len((await find(client, "lemur", limit=10_000))["items"]) == 7


async def test_a_page_never_reaches_past_the_cap(client, make_user, monkeypatch):
    alice = await make_user()
    for i in range(6):
        await new_post(client, alice, f"ibis note {i}")
    monkeypatch.setattr(search, "MAX_RESULTS", 4)
    first = await find(client, "ibis", limit=3)
    assert first["next_cursor"] == "3"
    last = await find(client, "ibis", limit=3, offset=3)
    assert len(last["items"]) == 1 and last["next_cursor"] is None


async def test_common_words_are_ranked_among_their_newest_matches(client, make_user, monkeypatch):
    alice = await make_user()
    best_old = await new_post(client, alice, "quokka quokka quokka quokka")
    newer = [(await new_post(client, alice, f"quokka {i}"))["id"] for i in range(3)]
    phrase_old = await new_post(client, alice, "happy quokka day")
    newest = await new_post(client, alice, "one quokka more")
    # Few matches: every one is ranked.
    assert await post_ids(client, "quokka") == [best_old["id"], newest["id"], phrase_old["id"], *newer[::-1]]
    # More than CANDIDATES matches: the newest CANDIDATES are ranked, the old better match is past
    # the horizon; phrases, exclusions and paging apply there too.
    monkeypatch.setattr(search, "CANDIDATES", 3)
    assert await post_ids(client, "quokka") == [newest["id"], phrase_old["id"], newer[2]]
    assert await post_ids(client, '"happy quokka"') == [phrase_old["id"]]
    assert await post_ids(client, 'quokka -"happy quokka" -more') == newer[::-1]
    assert await post_ids(client, "quokka", limit=2, offset=2) == [newer[2]]
    # Candidates are looked for among the newest WINDOW posts only; when fewer than FEW are there,
    # a text that matches at most PROBE posts of all time has them all ranked, else the window's are.
    monkeypatch.setattr(search, "WINDOW", 2)
    assert await post_ids(client, "quokka") == [best_old["id"], newest["id"], phrase_old["id"], *newer[::-1]]
    assert await post_ids(client, "quokka one") == [newest["id"]]
    monkeypatch.setattr(search, "FEW", 2)
    assert await post_ids(client, "quokka") == [newest["id"], phrase_old["id"]]
    monkeypatch.setattr(search, "FEW", 10)
    monkeypatch.setattr(search, "PROBE", 5)
    assert await post_ids(client, "quokka") == [newest["id"], phrase_old["id"]]
    assert await post_ids(client, "happy") == [phrase_old["id"]]
    assert await post_ids(client, "quokka quokka") == [newest["id"], phrase_old["id"]]
    bob = await make_user()
    assert (await client.put(f"/api/v1/users/{alice.id}/block", headers=bob.headers)).status == 200
    assert await post_ids(client, "quokka", bob) == []


async def test_search_works_anonymously_and_rejects_a_bad_token(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice, "pangolin")
    found = await find(client, "pangolin")
    assert [p["id"] for p in found["items"]] == [post["id"]]
    assert found["items"][0]["liked"] is False
    await problem_of(await client.get("/api/v1/search", params={"q": "pangolin"},
                                      headers={"Authorization": "Bearer nope"}), 401)


async def test_cached_candidates_serve_everyone_but_each_viewer_is_filtered_at_once(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config(search={"cache_ttl": 60})))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "walrus_fan", "email": "w@example.com", "password": "correct horse battery"})
    alice = (await resp.json())["access_token"]
    resp = await client.post("/api/v1/auth/register", json={
        "username": "bob_walrus", "email": "b@example.com", "password": "correct horse battery"})
    bob_body = await resp.json()
    bob, bob_id = {"Authorization": f"Bearer {bob_body['access_token']}"}, bob_body["user"]["id"]
    alice = {"Authorization": f"Bearer {alice}"}

    async def ids(headers) -> list[int]:
        resp = await client.get("/api/v1/search", params={"q": "walrus"}, headers=headers)
        assert resp.status == 200, await resp.text()
        return [p["id"] for p in (await resp.json())["items"]]

    async def post(headers, content) -> int:
        resp = await client.post("/api/v1/posts", json={"content": content}, headers=headers)
        assert resp.status == 201
        return (await resp.json())["id"]

    first = await post(bob, "walrus one")
    second = await post(alice, "walrus two")
    assert await ids(alice) == [second, first]
    later = await post(alice, "walrus three")
    assert await ids(alice) == [second, first]  # new posts show up when the cached list expires
    assert (await client.put(f"/api/v1/users/{bob_id}/block", headers=alice)).status == 200
    assert await ids(alice) == [second]  # a block applies at once, cache or not
    assert await ids(bob) == [first]
    assert (await client.delete(f"/api/v1/posts/{first}", headers=bob)).status == 204
    assert await ids(bob) == []  # and so does a deletion
    keys = [k async for k in client.app[REDIS].client.scan_iter(client.app[REDIS].key("search", "*"))]
    await client.app[REDIS].client.delete(*keys)
    assert await ids(None) == [later, second]


async def test_concurrent_first_searches_of_one_text_share_one_computation(aiohttp_client, make_config,
                                                                             monkeypatch):
    import asyncio

    client = await aiohttp_client(create_app(make_config(search={"cache_ttl": 60})))
    resp = await client.post("/api/v1/auth/register", json={
        "username": "herd", "email": "h@example.com", "password": "correct horse battery"})
    headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
    resp = await client.post("/api/v1/posts", json={"content": "gnu migration"}, headers=headers)
    post_id = (await resp.json())["id"]
    calls = []
    real = search.candidates

    async def slow(*args):
        calls.append(1)
        await asyncio.sleep(0.2)
        return await real(*args)

    monkeypatch.setattr(search, "candidates", slow)
    answers = await asyncio.gather(*(client.get("/api/v1/search", params={"q": "gnu"}) for _ in range(5)))
    assert [r.status for r in answers] == [200] * 5
    assert [[p["id"] for p in (await r.json())["items"]] for r in answers] == [[post_id]] * 5
    assert len(calls) == 1


async def recent_ids(client, ids) -> set[int]:
    """Which of these posts search's index of the newest posts (post_search_recent) holds."""
    rows = await client.app[DB].fetchall("SELECT id FROM post_search_recent WHERE id IN %(ids)s", {"ids": list(ids)})
    return {r["id"] for r in rows}


async def test_edits_and_deletions_reach_the_index_of_the_newest_posts(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice, "a wombat named alpha")
    other = await new_post(client, alice, "another wombat")
    assert await post_ids(client, "wombat alpha") == [post["id"]]
    resp = await client.patch(f"/api/v1/posts/{post['id']}", json={"content": "a wombat named beta"},
                              headers=alice.headers)
    assert resp.status == 200, await resp.text()
    assert await post_ids(client, "alpha") == []
    assert await post_ids(client, "wombat beta") == [post["id"]]
    # A title given later is searched too.
    resp = await client.patch(f"/api/v1/posts/{post['id']}", json={"title": "Marsupials"}, headers=alice.headers)
    assert resp.status == 200, await resp.text()
    assert await post_ids(client, "marsupials") == [post["id"]]
    assert (await client.delete(f"/api/v1/posts/{post['id']}", headers=alice.headers)).status == 204
    assert await recent_ids(client, [post["id"], other["id"]]) == {other["id"]}
    assert await post_ids(client, "wombat") == [other["id"]]


async def test_the_index_of_the_newest_posts_is_rebuilt_to_its_window(client, make_user, monkeypatch):
    alice = await make_user()
    ids = [(await new_post(client, alice, f"numbat {i}"))["id"] for i in range(6)]
    db = client.app[DB]
    try:
        monkeypatch.setattr(search, "WINDOW", 3)
        copied = await search.trim_index(db, force=True)
        assert copied == 3
        assert await db.fetchval("SELECT COUNT(*) FROM post_search_recent") == 3
        assert await recent_ids(client, ids) == set(ids[-3:])
        # Searches read the window from it; when few match there, all time from the posts, unless
        # the window's share of matches, scaled to every post, says there are more than PROBE.
        monkeypatch.setattr(search, "PROBE", 10**9)
        assert await post_ids(client, "numbat") == ids[::-1]
        monkeypatch.setattr(search, "PROBE", 2)
        assert await post_ids(client, "numbat") == ids[:2:-1]
        # Four more posts: it spans two windows and the next pass rebuilds it; a pass that finds
        # it small enough does nothing.
        more = [(await new_post(client, alice, f"numbat more {i}"))["id"] for i in range(4)]
        assert await search.trim_index(db) == 3
        assert await recent_ids(client, ids + more) == set(more[1:])
        assert await search.trim_index(db) == 0
    finally:
        monkeypatch.undo()
        await search.trim_index(db, force=True)  # the whole (small) test database again
    assert await recent_ids(client, ids) == set(ids)


async def test_posts_written_while_the_index_is_rebuilt_are_in_it(client, make_user, monkeypatch):
    import asyncio

    alice = await make_user()
    bob = await make_user()
    target = await new_post(client, bob, "echidna before")

    async def writes() -> list[int]:
        made = []
        for i in range(15):
            made.append((await new_post(client, alice, f"echidna during {i}"))["id"])
        resp = await client.patch(f"/api/v1/posts/{target['id']}", json={"content": "echidna edited"},
                                  headers=bob.headers)
        assert resp.status == 200
        return made

    db = client.app[DB]
    copied, made = await asyncio.gather(search.trim_index(db, force=True), writes())
    assert copied > 0
    assert await recent_ids(client, made + [target["id"]]) == set(made + [target["id"]])
    assert await post_ids(client, "echidna edited") == [target["id"]]
    # Nothing is left of the tables a rebuild uses.
    spare = await db.fetchval("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                              "AND table_name IN ('post_search_next', 'post_search_old')")
    assert spare == 0


async def test_one_rebuild_at_a_time(client, make_user):
    await new_post(client, await make_user(), "platypus")
    db = client.app[DB]
    async with db.connection() as c:
        assert await c.fetchval("SELECT GET_LOCK(%(n)s, 0)", {"n": search.REBUILD_LOCK}) == 1
        try:
            assert await search.trim_index(db, force=True) == 0
        finally:
            await c.execute("DO RELEASE_LOCK(%(n)s)", {"n": search.REBUILD_LOCK})
    assert await search.trim_index(db, force=True) > 0


async def test_searches_are_rate_limited_per_account_and_per_address(aiohttp_client, make_config, make_user):
    alice = await make_user()  # through the suite's own client, which limits nothing
    bob = await make_user()
    client = await aiohttp_client(create_app(make_config(
        search={"cache_ttl": 0}, ratelimit={"enabled": True, "search_client": "2/60"})))
    for _ in range(2):
        await find(client, "anteater", alice)
    resp = await client.get("/api/v1/search", params={"q": "anteater"}, headers=alice.headers)
    await problem_of(resp, 429)
    assert int(resp.headers["Retry-After"]) > 1
    # Someone else, and an anonymous client (counted by address), have their own allowance.
    await find(client, "anteater", bob)
    await find(client, "anteater", type="users")
    await find(client, "anteater")
    await problem_of(await client.get("/api/v1/search", params={"q": "anteater"}), 429)
    # A bad query is refused before it spends anything.
    await find(client, "anteater", bob, status=400, offset=5000)
    await find(client, "anteater", bob)
