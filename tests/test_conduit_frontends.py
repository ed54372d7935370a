"""What real Conduit front ends do, and what Chatter must answer (issue: hardening, Conduit part)."""

from tests.test_conduit import create_article, errors_of, register

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
