"""The RealWorld Conduit spec kept in the repository (tests/realworld/) is the one we serve."""

from pathlib import Path

import yaml

SPEC = Path(__file__).parent / "realworld" / "openapi.yml"
METHODS = {"get", "post", "put", "patch", "delete"}


def operations(paths: dict, prefix: str = "") -> set[tuple[str, str]]:
    return {(prefix + path, method) for path, item in paths.items() for method in item if method in METHODS}


async def test_every_realworld_operation_is_served_and_documented(client):
    realworld = yaml.safe_load(SPEC.read_text())
    wanted = operations(realworld["paths"], prefix="/api")
    assert len(wanted) == 19
    ours = operations((await (await client.get("/api/openapi.json")).json())["paths"])
    assert wanted - ours == set()
    for path, method in sorted(wanted):
        # Fill the path's parameters: every operation answers with a Conduit status, never 404/405
        # for want of a route (a missing article is a Conduit 404 body, not aiohttp's text one).
        url = path.replace("{slug}", "no-such-article").replace("{username}", "nobody").replace("{id}", "1")
        resp = await client.request(method.upper(), url, json={})
        assert resp.status != 405, (method, url)
        if resp.status == 404:
            assert "errors" in await resp.json(content_type=None), (method, url)
