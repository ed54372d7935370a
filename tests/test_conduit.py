"""The RealWorld "Conduit" API under /api: every operation, its errors, and the same data as /api/v1."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass

import jwt

from server.keys import DB

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$")


@dataclass
class Writer:
    id: int
    username: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(client, name: str | None = None, password: str = "password1") -> Writer:
    name = name or f"w{uuid.uuid4().hex[:10]}"
    resp = await client.post("/api/users", json={"user": {
        "username": name, "email": f"{name}@example.com", "password": password}})
    assert resp.status == 201, await resp.text()
    user = (await resp.json())["user"]
    me = await (await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {user['token']}"})).json()
    return Writer(me["id"], name, user["email"], password, user["token"])


async def errors_of(resp, status: int) -> dict:
    """Assert a Conduit error answer (not problem+json) and return its `errors` object."""
    assert resp.status == status, f"{resp.status} != {status}: {await resp.text()}"
    assert resp.content_type == "application/json", resp.content_type
    body = await resp.json()
    assert set(body) == {"errors"}
    assert all(isinstance(v, list) and v for v in body["errors"].values())
    return body["errors"]


async def create_article(client, writer: Writer, title: str = "How to train your dragon", **extra) -> dict:
    article = {"title": title, "description": "Ever wonder how?", "body": "Very carefully.",
               "tagList": ["training", "dragons"], **extra}
    resp = await client.post("/api/articles", json={"article": article}, headers=writer.headers)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["article"]


async def native_post_of(client, writer: Writer) -> dict:
    page = await (await client.get(f"/api/v1/users/{writer.id}/posts")).json()
    return page["items"][0]


async def notifications_of(app, user_id: int) -> list[dict]:
    return await app[DB].fetchall(
        "SELECT type, actor_id, post_id, comment_id FROM notifications WHERE user_id = %(u)s ORDER BY id",
        {"u": user_id})


# --- users and authentication --------------------------------------------------------------

async def test_register_login_and_current_user_with_token_or_bearer(client, config):
    resp = await client.post("/api/users", json={"user": {
        "username": "jake", "email": "jake@jake.jake", "password": "jakejake"}})
    assert resp.status == 201
    user = (await resp.json())["user"]
    assert user == {"email": "jake@jake.jake", "token": user["token"], "username": "jake",
                    "bio": None, "image": None}
    claims = jwt.decode(user["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == config.auth.conduit_ttl  # clients never refresh

    resp = await client.post("/api/users/login", json={"user": {"email": "jake@jake.jake", "password": "jakejake"}})
    assert resp.status == 200
    token = (await resp.json())["user"]["token"]
    for scheme in ("Token", "Bearer"):
        resp = await client.get("/api/user", headers={"Authorization": f"{scheme} {token}"})
        assert resp.status == 200
        assert (await resp.json())["user"] == {"email": "jake@jake.jake", "token": token, "username": "jake",
                                               "bio": None, "image": None}
    # The same account on the native API.
    me = await (await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["username"] == "jake" and me["email"] == "jake@jake.jake"


async def test_register_errors(client):
    await register(client, "taken")
    resp = await client.post("/api/users", json={"user": {
        "username": "taken", "email": "taken@example.com", "password": "password1"}})
    assert await errors_of(resp, 409) == {"username": ["has already been taken"],
                                          "email": ["has already been taken"]}
    resp = await client.post("/api/users", json={"user": {"username": "", "email": "x@example.com"}})
    errors = await errors_of(resp, 422)
    assert "can't be blank" in errors["username"] and errors["password"] == ["can't be blank"]
    assert await errors_of(await client.post("/api/users", json={}), 422) == {"user": ["can't be blank"]}
    resp = await client.post("/api/users", json={"user": {
        "username": "ok_name", "email": "not-an-email", "password": "short"}})
    assert set(await errors_of(resp, 422)) == {"email", "password"}


async def test_login_errors(client):
    writer = await register(client)
    resp = await client.post("/api/users/login", json={"user": {"email": writer.email, "password": "wrong pass"}})
    assert await errors_of(resp, 401) == {"credentials": ["invalid"]}
    resp = await client.post("/api/users/login", json={"user": {"email": "nobody@example.com", "password": "x"}})
    assert await errors_of(resp, 401) == {"credentials": ["invalid"]}
    resp = await client.post("/api/users/login", json={"user": {"email": writer.email}})
    assert await errors_of(resp, 422) == {"password": ["can't be blank"]}


async def test_missing_or_bad_token_is_a_conduit_401(client):
    assert await errors_of(await client.get("/api/user"), 401) == {"token": ["is missing"]}
    resp = await client.get("/api/user", headers={"Authorization": "Token not.a.jwt"})
    assert await errors_of(resp, 401) == {"token": ["is invalid"]}
    resp = await client.post("/api/articles", json={"article": {}}, headers={"Authorization": "Token x"})
    await errors_of(resp, 401)
    # The native API keeps problem+json.
    resp = await client.get("/api/v1/users/me")
    assert resp.status == 401 and resp.content_type == "application/problem+json"


async def test_conduit_token_is_revoked_like_any_session(client):
    writer = await register(client)
    assert (await client.get("/api/user", headers=writer.headers)).status == 200
    assert (await client.post("/api/v1/auth/logout", headers=writer.bearer)).status == 204
    assert await errors_of(await client.get("/api/user", headers=writer.headers), 401) == {"token": ["is invalid"]}


async def test_update_user(client):
    writer = await register(client)
    await register(client, "someone_else")
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {
        "bio": "I like to skateboard", "username": "skater", "email": "skater@example.com", "image": None}})
    assert resp.status == 200
    user = (await resp.json())["user"]
    assert user == {"email": "skater@example.com", "token": writer.token, "username": "skater",
                    "bio": "I like to skateboard", "image": None}
    native = await (await client.get(f"/api/v1/users/{writer.id}")).json()
    assert native["username"] == "skater" and native["bio"] == "I like to skateboard"

    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"bio": ""}})
    assert (await resp.json())["user"]["bio"] is None
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"username": "someone_else"}})
    assert await errors_of(resp, 422) == {"username": ["has already been taken"]}
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"image": "ftp://x.test/a.jpg"}})
    assert list(await errors_of(resp, 422)) == ["image"]
    assert await errors_of(await client.put("/api/user", headers=writer.headers, json={"user": {}}), 422)


async def test_password_change_through_conduit_revokes_other_sessions(client):
    writer = await register(client)
    other = (await (await client.post("/api/users/login", json={"user": {
        "email": writer.email, "password": writer.password}})).json())["user"]["token"]
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"password": "a new password"}})
    assert resp.status == 200
    assert (await client.get("/api/user", headers=writer.headers)).status == 200
    assert (await client.get("/api/user", headers={"Authorization": f"Token {other}"})).status == 401
    resp = await client.post("/api/users/login", json={"user": {"email": writer.email, "password": "a new password"}})
    assert resp.status == 200


# --- profiles and follows ------------------------------------------------------------------

async def test_profiles_and_follow_across_apis(client, app):
    jake, celeb = await register(client), await register(client)
    resp = await client.get(f"/api/profiles/{celeb.username}")
    assert (await resp.json())["profile"] == {"username": celeb.username, "bio": None, "image": None,
                                              "following": False}
    resp = await client.post(f"/api/profiles/{celeb.username}/follow", headers=jake.headers,
                             json={"user": {"email": jake.email}})  # clients send a body; it is ignored
    assert resp.status == 200 and (await resp.json())["profile"]["following"] is True
    native = await (await client.get(f"/api/v1/users/{celeb.id}", headers=jake.bearer)).json()
    assert native["following"] is True and native["followers_count"] == 1
    assert [(n["type"], n["actor_id"]) for n in await notifications_of(app, celeb.id)] == [("follow", jake.id)]

    resp = await client.delete(f"/api/profiles/{celeb.username}/follow", headers=jake.headers)
    assert (await resp.json())["profile"]["following"] is False
    native = await (await client.get(f"/api/v1/users/{celeb.id}", headers=jake.bearer)).json()
    assert native["following"] is False and native["followers_count"] == 0

    # ...and the other way round: a native follow is a Conduit following.
    assert (await client.put(f"/api/v1/users/{celeb.id}/follow", headers=jake.bearer)).status == 200
    resp = await client.get(f"/api/profiles/{celeb.username}", headers=jake.headers)
    assert (await resp.json())["profile"]["following"] is True


async def test_profile_errors(client):
    jake = await register(client)
    assert await errors_of(await client.get("/api/profiles/nobody_here"), 404) == {"profile": ["not found"]}
    resp = await client.post("/api/profiles/nobody_here/follow", headers=jake.headers)
    assert await errors_of(resp, 404) == {"profile": ["not found"]}
    assert await errors_of(await client.post(f"/api/profiles/{jake.username}/follow"), 401)
    resp = await client.post(f"/api/profiles/{jake.username}/follow", headers=jake.headers)
    assert list(await errors_of(resp, 422)) == ["username"]


# --- articles ----------------------------------------------------------------------------------

async def test_create_article_is_a_titled_post(client):
    jake = await register(client)
    article = await create_article(client, jake)
    assert article["slug"] == "how-to-train-your-dragon"
    assert article["tagList"] == ["dragons", "training"]
    assert article["body"] == "Very carefully." and article["description"] == "Ever wonder how?"
    assert article["favorited"] is False and article["favoritesCount"] == 0
    assert article["author"] == {"username": jake.username, "bio": None, "image": None, "following": False}
    assert ISO_MS.match(article["createdAt"]) and ISO_MS.match(article["updatedAt"])
    post = await native_post_of(client, jake)
    assert post["title"] == "How to train your dragon" and post["content"] == "Very carefully."
    me = await (await client.get("/api/v1/users/me", headers=jake.bearer)).json()
    assert me["posts_count"] == 1
    resp = await client.get(f"/api/articles/{article['slug']}")
    assert (await resp.json())["article"] == article

    again = await create_article(client, jake)  # same title: a slug of its own
    assert again["slug"] != article["slug"] and again["slug"].startswith("how-to-train-your-dragon-")
    assert (await client.get(f"/api/articles/{again['slug']}")).status == 200


async def test_concurrent_articles_with_one_title_and_new_tags(client):
    jake, anna = await register(client), await register(client)
    made = await asyncio.gather(*[
        create_article(client, w, title="Same title", tagList=["fresh", "new"]) for w in (jake, anna) * 3])
    slugs = {a["slug"] for a in made}
    assert len(slugs) == 6 and "same-title" in slugs
    assert all(a["tagList"] == ["fresh", "new"] for a in made)
    body = await (await client.get("/api/articles?tag=fresh")).json()
    assert body["articlesCount"] == 6


async def test_article_errors(client):
    jake, other = await register(client), await register(client)
    resp = await client.post("/api/articles", headers=jake.headers, json={"article": {"body": " "}})
    assert await errors_of(resp, 422) == {"title": ["can't be blank"], "description": ["can't be blank"],
                                          "body": ["can't be blank"]}
    resp = await client.post("/api/articles", json={"article": {"title": "t", "description": "d", "body": "b"}})
    assert await errors_of(resp, 401) == {"token": ["is missing"]}
    assert await errors_of(await client.get("/api/articles/no-such-slug"), 404) == {"article": ["not found"]}
    slug = (await create_article(client, jake))["slug"]
    resp = await client.put(f"/api/articles/{slug}", headers=other.headers, json={"article": {"body": "mine"}})
    assert await errors_of(resp, 403) == {"article": ["forbidden"]}
    assert await errors_of(await client.delete(f"/api/articles/{slug}", headers=other.headers), 403) == {
        "article": ["forbidden"]}
    resp = await client.put("/api/articles/no-such-slug", headers=jake.headers, json={"article": {"body": "x"}})
    assert await errors_of(resp, 404) == {"article": ["not found"]}
    resp = await client.post("/api/articles", headers={**jake.headers, "Content-Type": "application/json"},
                             data=b"{not json")
    assert list(await errors_of(resp, 400)) == ["body"]
    assert await errors_of(await client.get("/api/articles?limit=zero"), 422) == {"limit": ["must be an integer"]}
    assert list(await errors_of(await client.get("/api/articles?offset=-1"), 422)) == ["offset"]


async def test_update_article_and_slug(client):
    jake = await register(client)
    slug = (await create_article(client, jake))["slug"]
    resp = await client.put(f"/api/articles/{slug}", headers=jake.headers, json={"article": {"body": "With two hands"}})
    article = (await resp.json())["article"]
    assert article["slug"] == slug and article["body"] == "With two hands"
    assert article["tagList"] == ["dragons", "training"]
    resp = await client.put(f"/api/articles/{slug}", headers=jake.headers, json={"article": {
        "title": "Did you train your dragon?", "description": "New", "tagList": ["b", "a", "a"]}})
    article = (await resp.json())["article"]
    assert article["slug"] == "did-you-train-your-dragon"
    assert article["description"] == "New" and article["tagList"] == ["a", "b"]
    assert (await client.get(f"/api/articles/{slug}")).status == 404
    post = await native_post_of(client, jake)
    assert post["title"] == "Did you train your dragon?" and post["edited"] is True


async def test_delete_article_deletes_the_post(client):
    jake = await register(client)
    slug = (await create_article(client, jake))["slug"]
    post = await native_post_of(client, jake)
    assert (await client.delete(f"/api/articles/{slug}", headers=jake.headers)).status == 204
    assert (await client.get(f"/api/v1/posts/{post['id']}")).status == 404
    assert (await client.get(f"/api/articles/{slug}")).status == 404
    assert (await (await client.get("/api/tags")).json())["tags"] == []


async def test_native_titled_post_is_an_article(client):
    jake = await register(client)
    resp = await client.post("/api/v1/posts", headers=jake.bearer, json={"title": "Hello, World!", "content": "hi"})
    post = await resp.json()
    await client.post("/api/v1/posts", headers=jake.bearer, json={"content": "no title: not an article"})
    listing = await (await client.get("/api/articles")).json()
    assert listing["articlesCount"] == 1
    [article] = listing["articles"]
    assert article["slug"] == f"hello-world-{post['id']}" and article["description"] == ""
    assert article["tagList"] == [] and "body" not in article  # lists leave the body out
    resp = await client.get(f"/api/articles/{article['slug']}")
    assert (await resp.json())["article"]["body"] == "hi"
    assert (await client.get(f"/api/articles/goodbye-world-{post['id']}")).status == 404
    # Edited through Conduit, it keeps its slug until it is retitled.
    resp = await client.put(f"/api/articles/{article['slug']}", headers=jake.headers,
                            json={"article": {"tagList": ["greeting"]}})
    assert (await resp.json())["article"]["slug"] == article["slug"]


async def test_list_filters_and_offset_paging(client):
    jake, anna = await register(client), await register(client)
    for i in range(5):
        await create_article(client, jake, title=f"Jake {i}", tagList=["even" if i % 2 == 0 else "odd"])
    await create_article(client, anna, title="Anna", tagList=["even"])

    async def slugs(query: str, writer: Writer | None = None) -> tuple[list[str], int]:
        resp = await client.get(f"/api/articles{query}", headers=writer.headers if writer else None)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return [a["slug"] for a in body["articles"]], body["articlesCount"]

    assert await slugs("") == (["anna", "jake-4", "jake-3", "jake-2", "jake-1", "jake-0"], 6)
    assert await slugs("?limit=2&offset=1") == (["jake-4", "jake-3"], 6)
    assert await slugs("?limit=2&offset=6") == ([], 6)
    assert await slugs(f"?author={jake.username}&limit=2") == (["jake-4", "jake-3"], 5)
    assert await slugs("?tag=even") == (["anna", "jake-4", "jake-2", "jake-0"], 4)
    assert await slugs(f"?tag=even&author={anna.username}") == (["anna"], 1)
    assert await slugs("?author=nobody_at_all") == ([], 0)
    assert await slugs("?tag=nothing") == ([], 0)

    await client.post("/api/articles/jake-3/favorite", headers=anna.headers)
    await client.put(f"/api/v1/posts/{(await native_post_of(client, anna))['id']}/like", headers=anna.bearer)
    assert await slugs(f"?favorited={anna.username}") == (["anna", "jake-3"], 2)
    assert await slugs(f"?favorited={anna.username}&tag=odd") == (["jake-3"], 1)
    assert await slugs(f"?favorited={jake.username}") == ([], 0)

    tags = (await (await client.get("/api/tags")).json())["tags"]
    assert tags == ["even", "odd"]  # most used first


async def test_feed_has_the_followed_authors_articles(client):
    jake, celeb, stranger = await register(client), await register(client), await register(client)
    await create_article(client, celeb, title="Celeb one")
    await create_article(client, stranger, title="Stranger")
    await create_article(client, celeb, title="Celeb two")
    await create_article(client, jake, title="Own")
    assert await errors_of(await client.get("/api/articles/feed"), 401) == {"token": ["is missing"]}
    body = await (await client.get("/api/articles/feed", headers=jake.headers)).json()
    assert body == {"articles": [], "articlesCount": 0}
    await client.post(f"/api/profiles/{celeb.username}/follow", headers=jake.headers)
    body = await (await client.get("/api/articles/feed?limit=1", headers=jake.headers)).json()
    assert [a["slug"] for a in body["articles"]] == ["celeb-two"] and body["articlesCount"] == 2
    assert body["articles"][0]["author"]["following"] is True
    body = await (await client.get("/api/articles/feed?offset=1", headers=jake.headers)).json()
    assert [a["slug"] for a in body["articles"]] == ["celeb-one"]


async def test_favorite_is_a_like_across_apis(client, app):
    jake, fan = await register(client), await register(client)
    slug = (await create_article(client, jake))["slug"]
    post_id = (await native_post_of(client, jake))["id"]
    resp = await client.post(f"/api/articles/{slug}/favorite", headers=fan.headers)
    article = (await resp.json())["article"]
    assert resp.status == 200 and article["favorited"] is True and article["favoritesCount"] == 1
    post = await (await client.get(f"/api/v1/posts/{post_id}", headers=fan.bearer)).json()
    assert post["liked"] is True and post["likes_count"] == 1
    assert [(n["type"], n["actor_id"], n["post_id"]) for n in await notifications_of(app, jake.id)] == [
        ("like", fan.id, post_id)]
    events = await app[DB].fetchall("SELECT type FROM user_events WHERE user_id = %(u)s", {"u": jake.id})
    assert [e["type"] for e in events] == ["notification.created"]

    resp = await client.post(f"/api/articles/{slug}/favorite", headers=fan.headers)  # idempotent
    assert (await resp.json())["article"]["favoritesCount"] == 1
    resp = await client.delete(f"/api/articles/{slug}/favorite", headers=fan.headers)
    article = (await resp.json())["article"]
    assert article["favorited"] is False and article["favoritesCount"] == 0
    assert await notifications_of(app, jake.id) == []  # unread: taken back

    # A native like shows as favorited.
    await client.put(f"/api/v1/posts/{post_id}/like", headers=fan.bearer)
    article = (await (await client.get(f"/api/articles/{slug}", headers=fan.headers)).json())["article"]
    assert article["favorited"] is True and article["favoritesCount"] == 1
    anon = (await (await client.get(f"/api/articles/{slug}")).json())["article"]
    assert anon["favorited"] is False and anon["favoritesCount"] == 1
    assert await errors_of(await client.post("/api/articles/nope/favorite", headers=fan.headers), 404)
    assert await errors_of(await client.post(f"/api/articles/{slug}/favorite"), 401)


# --- comments and tags --------------------------------------------------------------------------

async def test_comments_across_apis(client, app):
    jake, fan, third = await register(client), await register(client), await register(client)
    slug = (await create_article(client, jake))["slug"]
    post_id = (await native_post_of(client, jake))["id"]
    resp = await client.post(f"/api/articles/{slug}/comments", headers=fan.headers,
                             json={"comment": {"body": "Thank you so much!"}})
    assert resp.status == 201
    comment = (await resp.json())["comment"]
    assert comment["body"] == "Thank you so much!" and isinstance(comment["id"], int)
    assert comment["author"] == {"username": fan.username, "bio": None, "image": None, "following": False}
    assert ISO_MS.match(comment["createdAt"]) and ISO_MS.match(comment["updatedAt"])
    native = await (await client.get(f"/api/v1/posts/{post_id}/comments")).json()
    assert [c["id"] for c in native["items"]] == [comment["id"]]
    assert (await (await client.get(f"/api/v1/posts/{post_id}")).json())["comments_count"] == 1
    assert ("comment", fan.id) in [(n["type"], n["actor_id"]) for n in await notifications_of(app, jake.id)]

    resp = await client.post(f"/api/v1/posts/{post_id}/comments", headers=jake.bearer, json={"content": "native"})
    native_id = (await resp.json())["id"]
    body = await (await client.get(f"/api/articles/{slug}/comments")).json()
    assert [c["id"] for c in body["comments"]] == [native_id, comment["id"]]

    resp = await client.delete(f"/api/articles/{slug}/comments/{comment['id']}", headers=third.headers)
    assert await errors_of(resp, 403) == {"comment": ["forbidden"]}
    resp = await client.delete(f"/api/articles/{slug}/comments/{comment['id']}", headers=jake.headers)
    assert resp.status == 204  # the article's author may remove it
    assert (await (await client.get(f"/api/v1/posts/{post_id}")).json())["comments_count"] == 1
    resp = await client.delete(f"/api/articles/{slug}/comments/{comment['id']}", headers=jake.headers)
    assert await errors_of(resp, 404) == {"comment": ["not found"]}
    resp = await client.delete(f"/api/articles/{slug}/comments/abc", headers=jake.headers)
    assert await errors_of(resp, 404) == {"comment": ["not found"]}


async def test_comment_errors(client):
    jake = await register(client)
    slug = (await create_article(client, jake))["slug"]
    resp = await client.post(f"/api/articles/{slug}/comments", headers=jake.headers, json={"comment": {"body": ""}})
    assert await errors_of(resp, 422) == {"body": ["can't be blank"]}
    resp = await client.post(f"/api/articles/{slug}/comments", json={"comment": {"body": "hi"}})
    assert await errors_of(resp, 401) == {"token": ["is missing"]}
    resp = await client.post("/api/articles/nope/comments", headers=jake.headers, json={"comment": {"body": "hi"}})
    assert await errors_of(resp, 404) == {"article": ["not found"]}
    assert await errors_of(await client.get("/api/articles/nope/comments"), 404) == {"article": ["not found"]}
    assert (await (await client.get(f"/api/articles/{slug}/comments")).json()) == {"comments": []}


async def test_tags(client):
    assert await (await client.get("/api/tags")).json() == {"tags": []}
    jake = await register(client)
    await create_article(client, jake, tagList=["dragons", " training ", ""])
    await create_article(client, jake, title="Other", tagList=["dragons"])
    assert (await (await client.get("/api/tags")).json())["tags"] == ["dragons", "training"]


async def test_conduit_routes_are_in_the_openapi_document(client):
    spec = await (await client.get("/api/openapi.json")).json()
    ops = {(path, method) for path, item in spec["paths"].items() for method, op in item.items()
           if "conduit" in op.get("tags", [])}
    assert ("/api/articles/{slug}/comments/{id}", "delete") in ops
    assert len(ops) == 19


# --- articlesCount: kept, and exact after writes; the offset cap ----------------------------------

async def test_articles_count_stays_exact_through_writes_while_kept(aiohttp_client, make_config):
    # A kept count an hour long: only the writes themselves can keep it right.
    from server import moderation
    from server.app import create_app

    client = await aiohttp_client(create_app(make_config(conduit={"count_ttl": 3600})))
    jake, anna, mod = await register(client), await register(client), await register(client)
    await moderation.set_role(client.app[DB], mod.username, "moderator")

    async def count(query: str = "", who: Writer | None = None) -> int:
        resp = await client.get(f"/api/articles{query}", headers=who.headers if who else None)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert len(body["articles"]) <= body["articlesCount"]
        return body["articlesCount"]

    async def counts(who: Writer | None = None) -> tuple[int, ...]:
        return (await count("", who), await count("?tag=dragons", who), await count("?tag=odd", who),
                await count(f"?favorited={anna.username}", who),
                await count(f"?tag=dragons&author={jake.username}", who))

    first = await create_article(client, jake, title="One")
    await create_article(client, anna, title="Two", tagList=["odd"])
    assert await counts() == (2, 1, 1, 0, 1)  # now kept

    third = await create_article(client, jake, title="Three")  # training, dragons
    assert await counts() == (3, 2, 1, 0, 2)
    resp = await client.put(f"/api/articles/{third['slug']}", headers=jake.headers,
                            json={"article": {"tagList": ["odd"]}})
    assert resp.status == 200
    assert await counts() == (3, 1, 2, 0, 1)
    # A #hashtag in a body edit is the same tag as a tagList entry.
    resp = await client.put(f"/api/articles/{third['slug']}", headers=jake.headers,
                            json={"article": {"body": "Now about #dragons too."}})
    assert resp.status == 200
    assert await counts() == (3, 2, 2, 0, 2)
    resp = await client.put(f"/api/articles/{third['slug']}", headers=jake.headers,
                            json={"article": {"body": "Very carefully."}})
    assert await counts() == (3, 1, 2, 0, 1)
    assert (await client.post(f"/api/articles/{first['slug']}/favorite", headers=anna.headers)).status == 200
    assert await counts() == (3, 1, 2, 1, 1)
    assert (await client.delete(f"/api/articles/{first['slug']}/favorite", headers=anna.headers)).status == 200
    assert await counts() == (3, 1, 2, 0, 1)
    assert (await client.post(f"/api/articles/{first['slug']}/favorite", headers=anna.headers)).status == 200
    assert (await client.delete(f"/api/articles/{first['slug']}", headers=jake.headers)).status == 204
    assert await counts() == (2, 0, 2, 0, 0)

    # The viewer's own difference is exact at once: blocks and mutes (lists that leave them out),
    # suspensions (moderators still count the suspended author's articles).
    await client.put(f"/api/v1/users/{anna.id}/block", headers=jake.bearer)
    assert await counts(jake) == (1, 0, 1, 0, 0) and await counts() == (2, 0, 2, 0, 0)
    await client.delete(f"/api/v1/users/{anna.id}/block", headers=jake.bearer)
    await client.put(f"/api/v1/users/{anna.id}/mute", headers=jake.bearer)
    assert await count("", jake) == 1 and await count(f"?author={anna.username}", jake) == 1
    resp = await client.put(f"/api/v1/admin/users/{jake.id}/suspension", headers=mod.bearer,
                            json={"reason": "spam"})
    assert resp.status == 200, await resp.text()
    assert await counts() == (1, 0, 1, 0, 0)
    assert await counts(mod) == (2, 0, 2, 0, 0)


async def test_articles_count_from_elsewhere_shows_within_the_ttl(aiohttp_client, make_config):
    # A titled post through /api/v1 is an article the kept count learns of when it expires.
    from server.app import create_app

    client = await aiohttp_client(create_app(make_config(conduit={"count_ttl": 0.5})))
    jake = await register(client)
    await create_article(client, jake, title="One")
    assert (await (await client.get("/api/articles")).json())["articlesCount"] == 1
    resp = await client.post("/api/v1/posts", headers=jake.bearer, json={"title": "Two", "content": "x"})
    assert resp.status == 201
    await asyncio.sleep(0.6)
    body = await (await client.get("/api/articles")).json()
    assert body["articlesCount"] == 2 and len(body["articles"]) == 2
    # An account deletion: its articles are hidden at once while its job runs; once the job has
    # deleted them, the kept count (loaded before) is up to a TTL late, then right again.
    resp = await client.delete("/api/v1/users/me", headers=jake.bearer, json={"password": jake.password})
    assert resp.status == 202, await resp.text()
    seen = []
    for _ in range(40):
        seen.append((await (await client.get("/api/articles?tag=dragons")).json())["articlesCount"])
        await asyncio.sleep(0.1)
    assert seen[0] == 0 and seen[-10:] == [0] * 10 and max(seen) <= 1, seen


async def test_offset_past_the_cap_is_an_empty_page(client, monkeypatch):
    from server import articles

    jake = await register(client)
    for title in ("One", "Two", "Three"):
        await create_article(client, jake, title=title)
    monkeypatch.setattr(articles, "MAX_OFFSET", 1)
    jake_follower = await register(client)
    await client.post(f"/api/profiles/{jake.username}/follow", headers=jake_follower.headers)
    for path in ("/api/articles", f"/api/articles?author={jake.username}", "/api/articles?tag=dragons",
                 "/api/articles/feed"):
        sep = "&" if "?" in path else "?"
        body = await (await client.get(f"{path}{sep}offset=1&limit=1", headers=jake_follower.headers)).json()
        assert [a["slug"] for a in body["articles"]] == ["two"] and body["articlesCount"] == 3, path
        body = await (await client.get(f"{path}{sep}offset=2", headers=jake_follower.headers)).json()
        assert body == {"articles": [], "articlesCount": 3}, path


async def test_article_documents_keep_text_and_fallback_slugs(client):
    # Built by MariaDB: non-ASCII text stays text, a native titled post gets its fallback slug.
    jake = await register(client)
    await client.put("/api/user", headers=jake.headers, json={"user": {"bio": "Ça va ☕ \"quoted\""}})
    made = await create_article(client, jake, title="Café ☕ talk", description="über", tagList=["naïve", "☕"])
    assert made["slug"] == "cafe-talk" and made["tagList"] == ["naïve", "☕"]
    resp = await client.post("/api/v1/posts", headers=jake.bearer, json={"title": "Ünïcode \"title\"", "content": "é"})
    post = await resp.json()
    body = await (await client.get("/api/articles", headers=jake.headers)).json()
    native, conduit_made = body["articles"]
    assert native["slug"] == f"unicode-title-{post['id']}" and native["title"] == "Ünïcode \"title\""
    assert native["tagList"] == [] and native["description"] == "" and "body" not in native
    assert conduit_made["author"] == {"username": jake.username, "bio": "Ça va ☕ \"quoted\"", "image": None,
                                      "following": False}
    assert ISO_MS.match(native["createdAt"]) and native["favorited"] is False and native["favoritesCount"] == 0
    got = (await (await client.get(f"/api/articles/{native['slug']}")).json())["article"]
    assert got["body"] == "é" and got["slug"] == native["slug"]


async def test_create_article_slugs_and_tags_in_one_transaction(client, make_user):
    # The slug goes into the INSERT unless another post's stored slug or a slugless titled post's
    # fallback slug ("<title>-<id>") already answers to it; with or without tags.
    jake = await make_user()
    post = await (await client.post("/api/v1/posts", json={"content": "c", "title": "Hello World"},
                                    headers=jake.headers)).json()
    auth = {"Authorization": f"Token {jake.access_token}"}
    resp = await client.post("/api/articles", headers=auth, json={"article": {
        "title": f"Hello World {post['id']}", "description": "d", "body": "b #Tagged", "tagList": ["x", "Y"]}})
    art = (await resp.json())["article"]
    assert art["slug"].startswith(f"hello-world-{post['id']}-") and art["slug"] != f"hello-world-{post['id']}"
    assert art["tagList"] == ["x", "Y"]
    resp = await client.post("/api/articles", headers=auth, json={"article": {
        "title": "Plain", "description": "d", "body": "b", "tagList": []}})
    a1 = (await resp.json())["article"]
    resp = await client.post("/api/articles", headers=auth, json={"article": {
        "title": "Plain", "description": "d", "body": "b"}})
    a2 = (await resp.json())["article"]
    assert a1["slug"] == "plain" and a2["slug"].startswith("plain-") and a2["tagList"] == []
    me = await (await client.get(f"/api/v1/users/{jake.id}", headers=jake.headers)).json()
    assert me["posts_count"] == 4
    tagged = await (await client.get("/api/articles?tag=tagged")).json()
    assert [a["slug"] for a in tagged["articles"]] == [art["slug"]]
    tagged = await (await client.get("/api/articles?tag=y")).json()
    assert [a["slug"] for a in tagged["articles"]] == [art["slug"]]
