"""What real Conduit front ends do, and what Chatter must answer (issue: hardening, Conduit part)."""

import uuid

from tests.test_avatars import avatar_rows, put_avatar
from tests.test_conduit import create_article, errors_of, register
from tests.test_intake import png_rgba

BAD = {"Authorization": "Token not.a.jwt"}


async def test_public_reads_answer_a_bad_token_as_anonymous(client):
    jake = await register(client)
    article = await create_article(client, jake)
    slug = article["slug"]
    await client.post(f"/api/articles/{slug}/comments", json={"comment": {"body": "hi"}}, headers=jake.headers)
    for path in ("/api/tags", "/api/articles", f"/api/articles/{slug}", f"/api/articles/{slug}/comments",
                 f"/api/profiles/{jake.username}"):
        resp = await client.get(path, headers=BAD)
        assert resp.status == 200, path
        body = await resp.json()
        if "article" in body:
            assert body["article"]["favorited"] is False
    # Where a user is needed the token is still refused, and the native API stays strict.
    assert await errors_of(await client.get("/api/user", headers=BAD), 401) == {"token": ["is invalid"]}
    assert (await client.get("/api/articles/feed", headers=BAD)).status == 401
    resp = await client.get("/api/v1/posts", headers={"Authorization": "Bearer not.a.jwt"})
    assert resp.status == 401 and resp.content_type == "application/problem+json"


class Native:
    """The native API's view of a Conduit writer (Bearer token)."""

    def __init__(self, writer):
        self.id, self.headers = writer.id, writer.bearer


async def image_everywhere(client, writer, follower) -> set:
    """The picture as each document shows it: Conduit user, profile, article author, native user,
    post author (a document built in SQL), follower list, like list and a notification's actor."""
    me = (await (await client.get("/api/user", headers=writer.headers)).json())["user"]["image"]
    profile = (await (await client.get(f"/api/profiles/{writer.username}")).json())["profile"]["image"]
    article = await create_article(client, writer, title=f"Art {uuid.uuid4().hex[:8]}")
    native = (await (await client.get(f"/api/v1/users/{writer.id}")).json())["profile_pic"]
    posts = await (await client.get(f"/api/v1/users/{writer.id}/posts")).json()
    await client.put(f"/api/v1/users/{follower.id}/follow", headers=writer.bearer)
    followers = await (await client.get(f"/api/v1/users/{follower.id}/followers")).json()
    notes = await (await client.get("/api/v1/notifications", headers=follower.bearer)).json()
    seen = {me, profile, article["author"]["image"], native, posts["items"][0]["author"]["profile_pic"],
            next(u["profile_pic"] for u in followers["items"] if u["id"] == writer.id),
            notes["items"][0]["actor"]["profile_pic"]}
    return seen


async def test_conduit_image_url_is_the_profile_picture_everywhere(client):
    writer, follower = await register(client), await register(client)
    url = "https://static.productionready.io/images/smiley-cyrus.jpg"
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"image": url, "bio": "hi"}})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user"]["image"] == url
    assert await image_everywhere(client, writer, follower) == {url}
    # The settings page sends the same URL back: nothing changes. "" removes it.
    assert (await client.put("/api/user", headers=writer.headers, json={"user": {"image": url}})).status == 200
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"image": ""}})
    assert (await resp.json())["user"]["image"] is None
    assert (await (await client.get(f"/api/v1/users/{writer.id}")).json())["profile_pic"] is None
    # The scheme in any case (found by the fuzzer: a 500 when the profile was shown).
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"image": "HttPs://Example.com:8443/a"}})
    assert (await resp.json())["user"]["image"] == "HttPs://Example.com:8443/a"
    for bad in ("javascript:alert(1)", "https://", "http://x/" + "a" * 2048, "https://a b/", "http://x/\n"):
        resp = await client.put("/api/user", headers=writer.headers, json={"user": {"image": bad}})
        assert list(await errors_of(resp, 422)) == ["image"], bad


async def test_image_url_and_uploaded_avatar_replace_each_other(client):
    writer = await register(client)
    native = Native(writer)
    resp = await put_avatar(client, native, png_rgba())
    uploaded = (await resp.json())["profile_pic"]
    assert uploaded.startswith("http") and len(await avatar_rows(client, native)) == 1
    url = "http://example.com/me.png"
    resp = await client.put("/api/user", headers=writer.headers, json={"user": {"image": url}})
    assert (await resp.json())["user"]["image"] == url
    assert await avatar_rows(client, native) == []  # the upload's row went with it
    resp = await put_avatar(client, native, png_rgba())
    assert (await resp.json())["profile_pic"] != url
    assert (await (await client.get("/api/user", headers=writer.headers)).json())["user"]["image"] \
        == (await resp.json())["profile_pic"]


async def test_bodies_with_read_only_and_unknown_fields_are_accepted(client):
    jake = await register(client)
    article = await create_article(client, jake)
    # What the Angular front end sends on edit: the whole article.
    sent = {**article, "body": "Edited body", "unknownField": 1}
    resp = await client.put(f"/api/articles/{article['slug']}", json={"article": sent}, headers=jake.headers)
    assert resp.status == 200, await resp.text()
    edited = (await resp.json())["article"]
    assert edited["body"] == "Edited body" and edited["slug"] == article["slug"]
    assert edited["favoritesCount"] == 0 and edited["author"]["username"] == jake.username
    resp = await client.put("/api/user", headers=jake.headers,
                            json={"user": {"bio": "b", "token": "x", "username": jake.username, "admin": True}})
    assert resp.status == 200 and (await resp.json())["user"]["bio"] == "b"
    # The native API stays strict.
    resp = await client.patch("/api/v1/users/me", json={"bio": "b", "admin": True}, headers=jake.bearer)
    assert resp.status == 422


async def test_wrong_password_is_invalid_credentials(client):
    jake = await register(client)
    resp = await client.post("/api/users/login", json={"user": {"email": jake.email, "password": "wrong pass"}})
    assert await errors_of(resp, 401) == {"credentials": ["invalid"]}


async def test_trailing_slash_paths_answer_like_the_documented_ones(client):
    jake = await register(client)
    article = {"title": "Slash", "description": "d", "body": "b", "tagList": ["x"]}
    resp = await client.post("/api/articles/", json={"article": article}, headers=jake.headers)
    assert resp.status == 201, await resp.text()
    slug = (await resp.json())["article"]["slug"]
    assert (await client.get(f"/api/articles/{slug}/")).status == 200
    assert (await client.get("/api/tags/")).status == 200
    # The browser's preflight for it gets CORS headers (an allowed development origin).
    resp = await client.options("/api/articles/", headers={
        "Origin": "http://localhost:4200", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "http://localhost:4200"
    # Listed once in the document.
    spec = await (await client.get("/api/openapi.json")).json()
    assert "/api/articles" in spec["paths"] and "/api/articles/" not in spec["paths"]


async def test_settings_saved_with_the_empty_password_field_keep_the_password(client):
    jake = await register(client)
    url = "https://api.realworld.io/images/smiley-cyrus.jpeg"
    sent = {"image": url, "username": jake.username, "bio": "I test things.", "email": jake.email, "password": ""}
    resp = await client.put("/api/user", json={"user": sent}, headers=jake.headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user"]["image"] == url
    login = {"user": {"email": jake.email, "password": jake.password}}
    assert (await client.post("/api/users/login", json=login)).status == 200
    resp = await client.put("/api/user", json={"user": {"password": "short"}}, headers=jake.headers)
    assert list(await errors_of(resp, 422)) == ["password"]
