"""Profiles: the own account, profile edits (and nothing else), search, lookup, public profiles."""

from __future__ import annotations

from server.keys import DB
from tests.helpers import problem_of

PUBLIC = {"id", "username", "full_name", "bio", "location", "profile_pic", "join_date",
          "followers_count", "following_count", "posts_count", "created_at", "updated_at"}


async def follow(client, follower, followee) -> None:
    # Follow edges straight into the table: this file tests profiles, not the follow routes.
    await client.app[DB].execute("INSERT INTO follows (follower_id, followee_id) VALUES (%s, %s)",
                                 (follower.id, followee.id))


async def test_me_is_the_own_account_with_email(client, make_user):
    alice = await make_user("alice", full_name="Alice Liddell")
    resp = await client.get("/api/v1/users/me", headers=alice.headers)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == PUBLIC | {"email", "dm_policy", "role"}
    assert body["email"] == "alice@example.com" and body["full_name"] == "Alice Liddell"
    assert body["dm_policy"] == "everyone"
    assert body["created_at"].endswith("Z") and len(body["join_date"]) == 10
    await problem_of(await client.get("/api/v1/users/me"), 401)


async def test_profile_edit_changes_only_the_fields_sent(client, make_user):
    alice = await make_user("alice", full_name="Alice")
    resp = await client.patch("/api/v1/users/me", headers=alice.headers,
                              json={"bio": "Down the rabbit hole", "location": "Wonderland"})
    assert resp.status == 200
    body = await resp.json()
    assert (body["full_name"], body["bio"], body["location"]) == ("Alice", "Down the rabbit hole", "Wonderland")
    assert body["email"] == "alice@example.com"

    resp = await client.patch("/api/v1/users/me", headers=alice.headers, json={"full_name": None})
    body = await resp.json()
    assert body["full_name"] is None and body["bio"] == "Down the rabbit hole"
    me = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    assert me["full_name"] is None and me["location"] == "Wonderland"


async def test_mass_assignment_is_a_422_and_changes_nothing(client, make_user):
    alice = await make_user("alice", full_name="Alice")
    before = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    for extra in ({"followers_count": 1000}, {"id": 1}, {"username": "queen"}, {"email": "q@example.com"},
                  {"password_hash": "x"}, {"avatar_media_id": 1}, {"created_at": "2020-01-01"}):
        resp = await client.patch("/api/v1/users/me", headers=alice.headers,
                                  json={"full_name": "Hacked", **extra})
        body = await problem_of(resp, 422)
        assert set(body["errors"]) == set(extra), body
    for bad in ({"full_name": "n" * 101}, {"bio": "b" * 501}, {"location": "l" * 101}, {"bio": 5}):
        await problem_of(await client.patch("/api/v1/users/me", headers=alice.headers, json=bad), 422)
    resp = await client.patch("/api/v1/users/me", data="[]",
                              headers={**alice.headers, "Content-Type": "application/json"})
    await problem_of(resp, 422)
    after = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    assert after == before
    await problem_of(await client.patch("/api/v1/users/me", json={"bio": "anon"}), 401)


async def test_a_public_profile_hides_email_and_adds_the_relation_for_a_viewer(client, make_user):
    alice = await make_user("alice")
    bob = await make_user("bob")
    carol = await make_user("carol")
    await follow(client, alice, bob)
    await follow(client, carol, alice)

    resp = await client.get(f"/api/v1/users/{bob.id}")
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == PUBLIC and body["username"] == "bob"

    bob_seen = await (await client.get(f"/api/v1/users/{bob.id}", headers=alice.headers)).json()
    assert (bob_seen["following"], bob_seen["followed_by"]) == (True, False)
    assert "email" not in bob_seen
    carol_seen = await (await client.get(f"/api/v1/users/{carol.id}", headers=alice.headers)).json()
    assert (carol_seen["following"], carol_seen["followed_by"]) == (False, True)
    self_seen = await (await client.get(f"/api/v1/users/{alice.id}", headers=alice.headers)).json()
    assert (self_seen["following"], self_seen["followed_by"]) == (False, False)

    await problem_of(await client.get(f"/api/v1/users/{carol.id + 1000}"), 404)
    await problem_of(await client.get("/api/v1/users/abc"), 404)
    # An invalid token on an optional-auth route is still a 401, never silently anonymous.
    await problem_of(await client.get(f"/api/v1/users/{bob.id}", headers={"Authorization": "Bearer x"}), 401)


async def test_lookup_by_username_in_any_case(client, make_user):
    alice = await make_user("Alice")
    bob = await make_user("bob")
    await follow(client, bob, alice)
    resp = await client.get("/api/v1/users/lookup", params={"username": "aLiCe"})
    assert resp.status == 200
    assert (await resp.json())["id"] == alice.id
    body = await (await client.get("/api/v1/users/lookup", params={"username": "alice"},
                                   headers=bob.headers)).json()
    assert body["following"] is True and body["followed_by"] is False
    await problem_of(await client.get("/api/v1/users/lookup", params={"username": "nobody"}), 404)
    await problem_of(await client.get("/api/v1/users/lookup"), 400)


async def test_search_by_prefix_of_username_or_full_name_page_by_page(client, make_user):
    anna = await make_user("anna", full_name="Anna Karenina")
    ann_b = await make_user("ann_b", full_name="Zed")
    await make_user("annex", full_name=None)
    kitty = await make_user("kitty", full_name="Annabel Lee")
    await make_user("bob", full_name="Bob Anna")  # "anna" in the middle: no match
    await make_user("annXb")

    resp = await client.get("/api/v1/users", params={"q": "ann"})
    assert resp.status == 200
    body = await resp.json()
    names = [u["username"] for u in body["items"]]
    assert names == ["annXb", "kitty", "annex", "ann_b", "anna"]  # newest first
    assert body["next_cursor"] is None and "following" not in body["items"][0]

    # `_` is a literal, not a LIKE wildcard.
    body = await (await client.get("/api/v1/users", params={"q": "ann_"})).json()
    assert [u["id"] for u in body["items"]] == [ann_b.id]
    body = await (await client.get("/api/v1/users", params={"q": "ANNA"})).json()
    assert {u["id"] for u in body["items"]} == {anna.id, kitty.id}
    body = await (await client.get("/api/v1/users", params={"q": "%"})).json()
    assert body["items"] == []

    seen, cursor = [], None
    while True:
        params = {"q": "ann", "limit": "2", **({"before": cursor} if cursor else {})}
        page = await (await client.get("/api/v1/users", params=params, headers=anna.headers)).json()
        assert len(page["items"]) <= 2
        assert all("following" in u for u in page["items"])
        seen += [u["username"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names

    newer = await (await client.get("/api/v1/users", params={"q": "ann", "after": str(ann_b.id)})).json()
    assert [u["username"] for u in newer["items"]] == ["annex", "kitty", "annXb"]  # oldest first

    await problem_of(await client.get("/api/v1/users"), 400)
    await problem_of(await client.get("/api/v1/users", params={"q": ""}), 400)
    await problem_of(await client.get("/api/v1/users", params={"q": "a", "limit": "x"}), 400)


async def test_profile_text_round_trips_exactly_for_any_viewer(client, make_user):
    """Users are built as JSON by MariaDB: non-ASCII text must survive, with and without a viewer."""
    alice = await make_user("alice")
    bob = await make_user("bob")
    profile = {"full_name": "Zoë Ångström 😀 \"quoted\" \\ back", "bio": "línea\nnueva\t☕", "location": "Zürich"}
    assert (await client.patch("/api/v1/users/me", json=profile, headers=alice.headers)).status == 200
    await client.put(f"/api/v1/users/{alice.id}/follow", headers=bob.headers)
    for headers in ({}, bob.headers, alice.headers):
        body = await (await client.get(f"/api/v1/users/{alice.id}", headers=headers)).json()
        assert {k: body[k] for k in profile} == profile
    seen_by_bob = await (await client.get(f"/api/v1/users/{alice.id}", headers=bob.headers)).json()
    assert seen_by_bob["following"] is True and seen_by_bob["followed_by"] is False
    found = await (await client.get("/api/v1/users", params={"q": "Zoë"}, headers=bob.headers)).json()
    assert [u["full_name"] for u in found["items"]] == [profile["full_name"]]


async def test_user_times_are_iso_milliseconds_of_the_stored_values(client, make_user):
    from server.http.responses import iso
    from server.keys import DB

    alice = await make_user("alice")
    await client.patch("/api/v1/users/me", json={"bio": "edited"}, headers=alice.headers)
    body = await (await client.get(f"/api/v1/users/{alice.id}")).json()
    row = await client.app[DB].fetchone("SELECT created_at, updated_at FROM users WHERE id = %s", (alice.id,))
    assert body["created_at"] == iso(row["created_at"]) and body["updated_at"] == iso(row["updated_at"])
    assert body["join_date"] == row["created_at"].date().isoformat()
