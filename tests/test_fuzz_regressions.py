"""What the fuzzer found (issue 12, points 3 and 4), against the real app: the 500s it provoked,
and an OpenAPI document that says what the server does. `make fuzz` (tools/fuzz.sh) runs the
fuzzer itself."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from server.db import ID_MAX
from server.http.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from tests.helpers import problem_of
from tests.test_conduit import create_article, errors_of, register
from tests.test_intake import png_rgba as png_bytes
from tests.test_media import form

NON_ASCII_SLUG = "/api/articles/%C3%A9t%C3%A9"  # "été"
MALFORMED_MULTIPART = b"--XX\r\nthis is not a header\r\n\r\nabc\r\n--XX--\r\n"


# --- 1. a Conduit slug with characters no slug has: 404, not 500 (MariaDB 1267) ---------------

@pytest.mark.parametrize(("method", "path"), [
    ("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/favorite"), ("DELETE", "/favorite"),
    ("GET", "/comments"), ("POST", "/comments"), ("DELETE", "/comments/1"),
])
async def test_non_ascii_slug_is_a_conduit_404(client, method, path):
    writer = await register(client)
    await create_article(client, writer, title="Ete")  # slug "ete": a neighbour, not a match
    body = {"PUT": {"article": {"title": "x"}}, "POST": {"comment": {"body": "x"}}}.get(method)
    if path == "/favorite":
        body = None
    resp = await client.request(method, NON_ASCII_SLUG + path, json=body, headers=writer.headers)
    errors = await errors_of(resp, 404)
    assert errors in ({"article": ["not found"]}, {"comment": ["not found"]})


async def test_ascii_slugs_still_resolve(client):
    writer = await register(client)
    article = await create_article(client, writer, title="Été à Paris")
    assert article["slug"] == "ete-a-paris"
    resp = await client.get(f"/api/articles/{article['slug']}")
    assert resp.status == 200
    titled = await client.post("/api/v1/posts", json={"title": "Été", "content": "x"}, headers=writer.bearer)
    post_id = (await titled.json())["id"]
    assert (await client.get(f"/api/articles/ete-{post_id}")).status == 200  # the fallback slug


# --- 2. ids out of the column's range: 422 in a body, 404 in a path, 400/422 in a query ----------

@pytest.mark.parametrize("bad", [-5, 0, ID_MAX + 1, 2**64, 1.5, "7", True])
async def test_out_of_range_or_non_integer_body_id_is_422(client, make_user, bad):
    alice = await make_user()
    resp = await client.post("/api/v1/messages", json={"recipient_id": bad, "content": "hi"}, headers=alice.headers)
    body = await problem_of(resp, 422)
    assert list(body["errors"]) == ["recipient_id"]


@pytest.mark.parametrize(("path", "payload", "field"), [
    ("/api/v1/messages", {"recipient_id": 2, "content": "x", "message_type": "image", "media_id": -1}, "media_id"),
    ("/api/v1/posts", {"content": "x", "media_ids": [2**64]}, "media_ids.0"),
    ("/api/v1/notifications/read", {"ids": [-1]}, "ids.0"),
    ("/api/v1/notifications/read", {"up_to_id": 2**64}, "up_to_id"),
    ("/api/v1/conversations/2/read", {"up_to_id": ID_MAX + 1}, "up_to_id"),
])
async def test_every_body_id_is_bounded(client, make_user, path, payload, field):
    alice = await make_user()
    body = await problem_of(await client.post(path, json=payload, headers=alice.headers), 422)
    assert field in body["errors"], body


async def test_an_integral_float_is_an_integer_as_json_says(client, make_user):
    alice, bob = await make_user(), await make_user()
    resp = await client.post("/api/v1/messages", json={"recipient_id": float(bob.id), "content": "hi"},
                             headers=alice.headers)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["recipient_id"] == bob.id


def test_ws_frame_ids_are_bounded_too():
    from ws.frames import SendFrame, TypingFrame

    with pytest.raises(ValidationError):
        SendFrame().load({"to": -5, "content": "x", "client_id": "c1"})
    with pytest.raises(ValidationError):
        TypingFrame().load({"to": 2**64})
    assert TypingFrame().load({"to": 3.0}) == {"to": 3}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/posts/0"), ("GET", f"/api/v1/posts/{ID_MAX + 1}"), ("GET", "/api/v1/users/" + "9" * 25),
    ("PUT", f"/api/v1/users/{2**64}/follow"), ("POST", f"/api/v1/conversations/{2**64}/read"),
    ("GET", f"/api/v1/messages/{2**64}/responses"), ("DELETE", f"/api/v1/comments/{ID_MAX + 1}"),
])
async def test_path_id_out_of_range_is_404(client, make_user, method, path):
    alice = await make_user()
    await problem_of(await client.request(method, path, headers=alice.headers), 404)


async def test_conduit_comment_id_that_is_no_id_is_a_conduit_404(client):
    writer = await register(client)
    article = await create_article(client, writer)
    for raw in ("-1", "abc", "0", str(2**64)):
        resp = await client.delete(f"/api/articles/{article['slug']}/comments/{raw}", headers=writer.headers)
        await errors_of(resp, 404)


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=+5", "limit=", "before=0", "before=abc",
                                   f"before={ID_MAX + 1}", "after=-1", "after=1_0", "before=1&after=2",
                                   "limit=" + "9" * 5000])
async def test_bad_page_parameters_are_400(client, query):
    await problem_of(await client.get(f"/api/v1/posts?{query}"), 400)


async def test_page_parameter_bounds_are_accepted(client):
    for query in (f"limit={ID_MAX}", "limit=1", "after=0", f"before={ID_MAX}", f"after={ID_MAX}"):
        assert (await client.get(f"/api/v1/posts?{query}")).status == 200, query


@pytest.mark.parametrize("query", ["limit=0", "offset=-1", "limit=abc", "offset=", f"limit={2**62 + 1}",
                                   "limit= 5"])
async def test_bad_conduit_paging_is_422(client, query):
    await errors_of(await client.get(f"/api/articles?{query}"), 422)


# --- 3. a multipart body that does not parse: 400, not 500 ----------------------------------------

@pytest.mark.parametrize(("method", "path"), [("POST", "/api/v1/media"), ("PUT", "/api/v1/users/me/avatar")])
async def test_malformed_multipart_is_400(client, make_user, method, path):
    alice = await make_user()
    headers = {**alice.headers, "Content-Type": "multipart/form-data; boundary=XX"}
    resp = await client.request(method, path, data=MALFORMED_MULTIPART, headers=headers)
    assert (await problem_of(resp, 400))["detail"] == "Malformed multipart body."


async def test_a_malformed_part_after_the_file_is_400_too(client, make_user):
    alice = await make_user()
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n" + png_bytes()
            + b"\r\n--XX\r\nContent-Disposition: form-data; name=\"\x01\"\r\n\r\nx\r\n--XX--\r\n")
    headers = {**alice.headers, "Content-Type": "multipart/form-data; boundary=XX"}
    await problem_of(await client.post("/api/v1/media", data=body, headers=headers), 400)


async def test_other_parts_are_still_skipped(client, make_user):
    alice = await make_user()
    fd = form(png_bytes(), filename="a.png", content_type="image/png")
    fd.add_field("caption", "holiday")
    assert (await client.post("/api/v1/media", data=fd, headers=alice.headers)).status == 201


# --- 4. the OpenAPI document tells the truth ---------------------------------------------------------

@pytest.fixture
async def spec(client):
    return await (await client.get("/api/openapi.json")).json()


def operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


async def test_every_operation_documents_the_pipeline_statuses(spec):
    for path, method, op in operations(spec):
        statuses = set(op["responses"])
        label = f"{method.upper()} {path}"
        assert {"401", "503"} <= statuses, label
        if "{" in path:
            assert "404" in statuses, label
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= statuses, label
        names = {p["name"] for p in op["parameters"]}
        if "limit" in names:
            assert ("422" if path.startswith("/api/articles") else "400") in statuses, label
        if "Idempotency-Key" in names:
            assert {"400", "409", "422"} <= statuses, label
        if method in ("post", "put", "patch", "delete") and not path.startswith("/api/v1/auth/"):
            assert "429" in statuses, label


async def test_error_bodies_are_documented_per_api(spec):
    native = spec["paths"]["/api/v1/posts/{id}"]["get"]["responses"]
    assert native["404"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    conduit = spec["paths"]["/api/articles/{slug}"]["get"]["responses"]
    assert list(conduit["404"]["content"]) == ["application/json"]
    assert list(conduit["503"]["content"]) == ["application/problem+json"]
    assert spec["paths"]["/api/articles/{slug}"]["delete"]["security"] == [{"conduitToken": []}]
    assert spec["components"]["securitySchemes"]["conduitToken"]["type"] == "apiKey"


async def test_parameters_say_what_the_server_accepts(spec):
    posts = {p["name"]: p for p in spec["paths"]["/api/v1/posts"]["get"]["parameters"]}
    assert posts["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": ID_MAX, "default": 20}
    assert posts["before"]["schema"] == {"type": "integer", "minimum": 1, "maximum": ID_MAX}
    assert posts["after"]["schema"] == {"type": "integer", "minimum": 0, "maximum": ID_MAX}
    for path in ("/api/v1/posts/{id}", "/api/v1/posts/{id}/comments", "/api/v1/messages/{id}/responses"):
        for op in spec["paths"][path].values():
            ids = [p for p in op["parameters"] if p["in"] == "path"]
            assert ids == [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}], path
    articles = {p["name"]: p for p in spec["paths"]["/api/articles"]["get"]["parameters"]}
    assert articles["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**62}
    assert articles["offset"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**62}
    key = {p["name"]: p for p in spec["paths"]["/api/v1/posts"]["post"]["parameters"]}["Idempotency-Key"]
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN}


async def test_idempotency_key_rule_is_the_documented_one(client, make_user):
    alice = await make_user()
    for key, status in (("k" * MAX_KEY_LENGTH, 201), ("k" * (MAX_KEY_LENGTH + 1), 400), ("a b", 201), ("é", 400)):
        headers = {**alice.headers, "Idempotency-Key": key}
        resp = await client.post("/api/v1/posts", json={"content": key[:10]}, headers=headers)
        assert resp.status == status, (key[:20], await resp.text())


async def test_bodies_and_fields_are_required_exactly_as_validated(spec):
    schemas = spec["components"]["schemas"]
    assert spec["paths"]["/api/v1/notifications/read"]["post"]["requestBody"]["required"] is False
    assert spec["paths"]["/api/v1/conversations/{user_id}/read"]["post"]["requestBody"]["required"] is False
    assert spec["paths"]["/api/v1/posts"]["post"]["requestBody"]["required"] is True
    create = schemas["MessageCreate"]
    assert create["additionalProperties"] is False
    assert set(create["required"]) == {"recipient_id", "content"}
    assert create["properties"]["recipient_id"] == {"type": "integer", "minimum": 1, "maximum": ID_MAX}
    assert create["properties"]["content"]["maxLength"] == 5000
    assert "anyOf" in create  # text needs content, image/video need media_id
    assert schemas["PostUpdate"]["minProperties"] == 1
    assert schemas["PostCreate"]["properties"]["content"]["pattern"] == r"\S"
    assert schemas["PostCreate"]["properties"]["media_ids"]["uniqueItems"] is True
    assert schemas["Register"]["properties"]["email"]["format"] == "email"
    assert schemas["Register"]["properties"]["password"]["maxLength"] == 72
    assert schemas["NewUser"]["properties"]["username"]["pattern"] == "^[A-Za-z0-9_]{3,30}$"


async def test_answers_are_read_only_and_links_lead_on(spec):
    schemas = spec["components"]["schemas"]
    assert all(p.get("readOnly") for p in schemas["Post"]["properties"].values())
    assert not any(p.get("readOnly") for p in schemas["PostCreate"]["properties"].values())
    assert not schemas["Upload"]["properties"]["file"].get("readOnly")
    links = spec["paths"]["/api/v1/posts"]["post"]["responses"]["201"]["links"]
    assert links["GET /api/v1/posts/{id}"] == {"operationRef": "#/paths/~1api~1v1~1posts~1{id}/get",
                                               "parameters": {"id": "$response.body#/id"}}
    comment = spec["paths"]["/api/articles/{slug}/comments"]["post"]["responses"]["201"]["links"]
    assert comment["DELETE /api/articles/{slug}/comments/{id}"]["parameters"] == {
        "id": "$response.body#/comment/id", "slug": "$request.path.slug"}
