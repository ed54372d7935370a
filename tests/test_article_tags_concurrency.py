"""Concurrent Conduit writes sharing one tag never deadlock (no retry needed, no 500)."""

import asyncio
import json
import uuid

from server.app import create_app
from tests.test_conduit import register


async def test_articles_sharing_a_tag_never_deadlock(aiohttp_client, make_config):
    # No deadlock retries: a single 1213 would be a 500 here.
    client = await aiohttp_client(create_app(make_config(database={"retries": 0}, ratelimit={"enabled": False})))
    writers = [await register(client) for _ in range(6)]

    async def write(i: int):
        tags = sorted({"shared", f"t{uuid.uuid4().hex[:6]}", f"t{uuid.uuid4().hex[:6]}"})
        article = {"title": f"Story {i}", "description": "d", "body": "b", "tagList": tags}
        resp = await client.post("/api/articles", json={"article": article}, headers=writers[i % 6].headers)
        return resp.status, await resp.text()

    slugs = []
    for _ in range(3):
        results = await asyncio.gather(*[write(i) for i in range(24)])
        assert [s for s, _ in results] == [201] * 24, [t for s, t in results if s != 201][:2]
        slugs += [(i % 6, json.loads(t)["article"]["slug"]) for i, (_, t) in enumerate(results)]
    body = await (await client.get("/api/articles?tag=shared&limit=100")).json()
    assert body["articlesCount"] == 72

    # Edits of tags, several at once on one article too (each article is edited three times).
    async def edit(who: int, slug: str, n: int):
        tags = ["shared", f"edit{n % 3}", f"n{n}"]
        resp = await client.put(f"/api/articles/{slug}", json={"article": {"tagList": tags}},
                                headers=writers[who].headers)
        return resp.status, await resp.text(), slug, tags

    jobs = [edit(who, slug, n) for n in range(3) for who, slug in slugs[:24]]
    results = await asyncio.gather(*jobs)
    assert [s for s, *_ in results] == [200] * len(jobs), [t for s, t, *_ in results if s != 200][:2]
    for slug in {slug for *_, slug, _ in results}:
        got = (await (await client.get(f"/api/articles/{slug}")).json())["article"]["tagList"]
        assert sorted(got) in [sorted(tags) for *_, s, tags in results if s == slug]  # one edit's, whole
