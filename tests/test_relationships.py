"""Relationship state: the User documents a viewer fetches say whether the viewer follows, is followed
by, blocks and mutes that user; being blocked shows only as a 404; Conduit profiles keep their shape."""

from __future__ import annotations

from tests.helpers import problem_of

FLAGS = ("following", "followed_by", "blocking", "muting")


def flags(doc: dict) -> tuple[bool, ...]:
    return tuple(doc[f] for f in FLAGS)


async def test_flags_on_every_user_document_the_viewer_fetches(client, make_user):
    me = await make_user("rel_me")
    friend, fan, pest, bore = [await make_user(f"rel_{n}") for n in ("friend", "fan", "pest", "bore")]
    await client.put(f"/api/v1/users/{friend.id}/follow", headers=me.headers)
    await client.put(f"/api/v1/users/{me.id}/follow", headers=friend.headers)
    await client.put(f"/api/v1/users/{me.id}/follow", headers=fan.headers)
    await client.put(f"/api/v1/users/{bore.id}/follow", headers=me.headers)
    await client.put(f"/api/v1/users/{pest.id}/block", headers=me.headers)
    await client.put(f"/api/v1/users/{bore.id}/mute", headers=me.headers, json={"notifications": False})
    expected = {friend.id: (True, True, False, False), fan.id: (False, True, False, False),
                pest.id: (False, False, True, False), bore.id: (True, False, False, True)}

    for user_id, want in expected.items():
        doc = await (await client.get(f"/api/v1/users/{user_id}", headers=me.headers)).json()
        assert flags(doc) == want, (user_id, doc)
    doc = await (await client.get("/api/v1/users/lookup", params={"username": "rel_bore"},
                                  headers=me.headers)).json()
    assert flags(doc) == expected[bore.id]
    # Search leaves the blocked user out; the rest carry their flags.
    found = await (await client.get("/api/v1/users", params={"q": "rel_"}, headers=me.headers)).json()
    assert {u["id"]: flags(u) for u in found["items"]} == {
        **{k: v for k, v in expected.items() if k != pest.id}, me.id: (False, False, False, False)}
    followers = await (await client.get(f"/api/v1/users/{me.id}/followers", headers=me.headers)).json()
    assert {u["id"]: flags(u) for u in followers["items"]} == {friend.id: expected[friend.id],
                                                               fan.id: expected[fan.id]}
    blocked = await (await client.get("/api/v1/blocks", headers=me.headers)).json()
    assert flags(blocked["items"][0]["user"]) == expected[pest.id]
    muted = await (await client.get("/api/v1/mutes", headers=me.headers)).json()
    assert flags(muted["items"][0]["user"]) == expected[bore.id]

    # Seen from the other side: the follows show, the mute does not, the block is a 404.
    doc = await (await client.get(f"/api/v1/users/{me.id}", headers=bore.headers)).json()
    assert flags(doc) == (False, True, False, False)
    await problem_of(await client.get(f"/api/v1/users/{me.id}", headers=pest.headers), 404)
    # Anonymous and one's own account carry no flags.
    for doc in (await (await client.get(f"/api/v1/users/{friend.id}")).json(),
                await (await client.get("/api/v1/users/me", headers=me.headers)).json()):
        assert not set(FLAGS) & set(doc)


async def test_blocked_by_shows_only_as_a_404(client, make_user):
    me, other = await make_user(), await make_user()
    await client.put(f"/api/v1/users/{me.id}/block", headers=other.headers)
    await problem_of(await client.get(f"/api/v1/users/{other.id}", headers=me.headers), 404)
    # Blocking back: my list shows them (with my flags), their profile stays a 404 to me.
    assert (await client.put(f"/api/v1/users/{other.id}/block", headers=me.headers)).status == 200
    listed = (await (await client.get("/api/v1/blocks", headers=me.headers)).json())["items"]
    assert [b["user"]["id"] for b in listed] == [other.id] and "blocked_by" not in listed[0]["user"]
    await problem_of(await client.get(f"/api/v1/users/{other.id}", headers=me.headers), 404)


async def test_conduit_profiles_keep_their_shape(client, make_user):
    me, other = await make_user(), await make_user()
    conduit = {"Authorization": f"Token {me.access_token}"}
    await client.put(f"/api/v1/users/{other.id}/mute", headers=me.headers)
    await client.put(f"/api/v1/users/{other.id}/follow", headers=me.headers)
    body = await (await client.get(f"/api/profiles/{other.username}", headers=conduit)).json()
    assert body == {"profile": {"username": other.username, "bio": None, "image": None, "following": True}}
    await client.put(f"/api/v1/users/{other.id}/block", headers=me.headers)
    body = await (await client.get(f"/api/profiles/{other.username}", headers=conduit)).json()
    assert body["profile"]["following"] is False and set(body["profile"]) == {"username", "bio", "image",
                                                                               "following"}
