"""Grouped notifications (likes per post or comment and UTC day, follows per UTC day, the rest one by
one) and the per-type settings every notification obeys."""

from __future__ import annotations

import asyncio

from server.keys import DB
from tests.helpers import next_frame, no_frame, problem_of

WS = "/api/v1/ws"
N = "/api/v1/notifications"
SETTINGS = "/api/v1/users/me/notification_settings"


async def post(client, user, content="a post"):
    resp = await client.post("/api/v1/posts", headers=user.headers, json={"content": content})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def comment(client, user, post_id, content="a comment"):
    resp = await client.post(f"/api/v1/posts/{post_id}/comments", headers=user.headers, json={"content": content})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]


async def ok(resp, status=200):
    assert resp.status == status, await resp.text()
    return await resp.json() if status != 204 else None


async def like(client, user, post_id, on=True):
    return await ok(await (client.put if on else client.delete)(f"/api/v1/posts/{post_id}/like", headers=user.headers))


async def follow(client, user, target):
    return await ok(await client.put(f"/api/v1/users/{target.id}/follow", headers=user.headers))


async def grouped(client, user, **params):
    return await ok(await client.get(N, headers=user.headers, params={"grouped": "true", **params}))


async def unread(client, user):
    return (await ok(await client.get(f"{N}/unread_count", headers=user.headers)))["count"]


async def days_ago(client, notification_ids, days):
    await client.app[DB].execute(
        "UPDATE notifications SET created_at = created_at - INTERVAL %(days)s DAY WHERE id IN %(ids)s",
        {"ids": notification_ids, "days": days})


async def notification_ids(client, user, type_):
    page = await ok(await client.get(N, headers=user.headers, params={"limit": "100"}))
    return [n["id"] for n in page["items"] if n["type"] == type_]


async def test_likes_and_follows_group_by_target_and_day(client, make_user):
    alice = await make_user("alice")
    fans = [await make_user(f"fan{i}") for i in range(6)]
    first, second = await post(client, alice, "first"), await post(client, alice, "second")
    note_on = await comment(client, fans[0], first, "nice")
    my_comment = await comment(client, alice, first, "thanks")
    for fan in fans[:5]:
        await like(client, fan, first)  # fan0 .. fan4: five likers of the first post
    await like(client, fans[5], second)
    await ok(await client.put(f"/api/v1/comments/{my_comment}/like", headers=fans[1].headers))
    await ok(await client.put(f"/api/v1/comments/{my_comment}/like", headers=fans[2].headers))
    await follow(client, fans[3], alice)
    await follow(client, fans[4], alice)

    page = await grouped(client, alice)
    assert page["next_cursor"] is None
    items = page["items"]
    assert [g["type"] for g in items] == ["follow", "comment_like", "like", "like", "comment"]
    follows, comment_likes, second_likes, first_likes, the_comment = items
    today = first_likes["day"]
    assert first_likes["group_key"] == f"like:{first}:{today}" and first_likes["post_id"] == first
    assert first_likes["count"] == 5
    # The latest three actors, newest first.
    assert [a["username"] for a in first_likes["actors"]] == ["fan4", "fan3", "fan2"]
    assert first_likes["message"] == "fan4, fan3 and 3 others liked your post"
    assert first_likes["unread_count"] == 5 and first_likes["is_read"] is False
    assert second_likes["count"] == 1 and second_likes["message"] == "fan5 liked your post"
    assert comment_likes["group_key"] == f"comment_like:{my_comment}:{today}"
    assert comment_likes["comment_id"] == my_comment and comment_likes["count"] == 2
    assert comment_likes["message"] == "fan2 and fan1 liked your comment"
    assert follows["group_key"] == f"follow:{today}" and follows["count"] == 2
    assert follows["message"] == "fan4 and fan3 started following you"
    # Other types are groups of one, keyed by their notification.
    assert the_comment["group_key"] == f"notification:{the_comment['latest_notification_id']}"
    assert the_comment["count"] == 1 and [a["username"] for a in the_comment["actors"]] == ["fan0"]
    assert the_comment["post_id"] == first and the_comment["day"] is None
    assert note_on  # (the comment alice got notified of)
    # Each group's latest is its newest notification; groups are newest first.
    latest = [g["latest_notification_id"] for g in items]
    assert latest == sorted(latest, reverse=True)
    assert latest[2] > latest[3]

    # Two of the first post's likes were yesterday: a group of their own, further down.
    likes = await notification_ids(client, alice, "like")  # newest first: fan5, fan4 .. fan0
    await days_ago(client, likes[-2:], 1)  # fan1's and fan0's
    items = (await grouped(client, alice))["items"]
    first_groups = [g for g in items if g["type"] == "like" and g["post_id"] == first]
    assert [(g["count"], [a["username"] for a in g["actors"]]) for g in first_groups] == [
        (3, ["fan4", "fan3", "fan2"]), (2, ["fan1", "fan0"])]
    assert first_groups[0]["day"] != first_groups[1]["day"]
    assert first_groups[1]["message"] == "fan1 and fan0 liked your post"


async def test_counts_are_distinct_actors_through_unlike_and_relike(client, make_user):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    p = await post(client, alice)
    await like(client, bob, p)
    await like(client, carol, p)
    await ok(await client.post(f"{N}/read", headers=alice.headers))  # alice reads them
    await like(client, bob, p, on=False)  # the read notification stays
    await like(client, bob, p)  # a new one
    await like(client, carol, p, on=False)
    await like(client, carol, p)
    [group] = (await grouped(client, alice))["items"]
    assert group["count"] == 2
    assert [a["username"] for a in group["actors"]] == ["carol", "bob"]
    assert group["unread_count"] == 2 and group["is_read"] is False
    # Unliking while unread takes that notification away: bob is still there (his read one).
    await like(client, bob, p, on=False)
    [group] = (await grouped(client, alice))["items"]
    assert group["count"] == 2 and group["unread_count"] == 1
    assert [a["username"] for a in group["actors"]] == ["carol", "bob"]


async def test_pages_have_no_gaps_or_repeats(client, make_user):
    alice = await make_user("alice")
    others = [await make_user(f"user{i}") for i in range(4)]
    posts = [await post(client, alice, f"p{i}") for i in range(3)]
    # Interleave: likes on three posts, messages (groups of one) and follows.
    for round_ in range(3):
        for i, other in enumerate(others):
            await like(client, other, posts[(i + round_) % 3])
            if round_ == 0:
                await ok(await client.post("/api/v1/messages", headers=other.headers,
                                           json={"recipient_id": alice.id, "content": f"hi {i}"}), 201)
        if round_ == 1:
            await follow(client, others[0], alice)
    whole = (await grouped(client, alice, limit="100"))["items"]
    assert len(whole) == 3 + 4 + 1  # three posts, four messages, one day of follows
    assert sum(g["count"] for g in whole if g["type"] == "like") == 12
    for limit in (1, 2, 3, 5):
        seen, cursor = [], None
        while True:
            params = {"limit": str(limit)} | ({"before": cursor} if cursor else {})
            page = await grouped(client, alice, **params)
            assert len(page["items"]) <= limit
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert cursor == str(page["items"][-1]["latest_notification_id"])
        assert seen == whole, limit
    # ?after= walks the other way (oldest group first).
    up = await grouped(client, alice, after="0", limit="100")
    assert [g["group_key"] for g in up["items"]] == [g["group_key"] for g in reversed(whole)]
    problem = await problem_of(await client.get(N, headers=alice.headers,
                                                params={"grouped": "true", "unread": "true"}), 400)
    assert "grouped" in problem["detail"]


async def test_mark_one_group_read(client, make_user):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    p1, p2 = await post(client, alice), await post(client, alice)
    for user in (bob, carol):
        await like(client, user, p1)
        await like(client, user, p2)
    await ok(await client.post("/api/v1/messages", headers=bob.headers,
                               json={"recipient_id": alice.id, "content": "hey"}), 201)
    assert await unread(client, alice) == 5
    alice_ws = await client.ws_connect(WS, headers=alice.headers)
    await next_frame(alice_ws, "hello")
    groups = {g["group_key"]: g for g in (await grouped(client, alice))["items"]}
    p1_key = next(k for k, g in groups.items() if g["post_id"] == p1 and g["type"] == "like")
    body = await ok(await client.post(f"{N}/read", headers=alice.headers, json={"group_key": p1_key}))
    assert body == {"unread_count": 3}
    assert (await next_frame(alice_ws, "notification.read"))["data"] == {"unread_count": 3}
    after = {g["group_key"]: g for g in (await grouped(client, alice))["items"]}
    assert after[p1_key]["is_read"] is True and after[p1_key]["unread_count"] == 0
    assert all(not g["is_read"] for k, g in after.items() if k != p1_key)
    # Again: nothing changes, no event.
    assert (await ok(await client.post(f"{N}/read", headers=alice.headers, json={"group_key": p1_key}))) == {
        "unread_count": 3}
    await no_frame(alice_ws, "notification.read")
    # A group of one, by its key.
    message_key = next(k for k, g in after.items() if g["type"] == "message")
    assert (await ok(await client.post(f"{N}/read", headers=alice.headers,
                                       json={"group_key": message_key}))) == {"unread_count": 2}
    # Someone else's group key marks nothing of theirs.
    bob_key = f"notification:{after[message_key]['latest_notification_id']}"
    assert await ok(await client.post(f"{N}/read", headers=bob.headers, json={"group_key": bob_key})) == {
        "unread_count": 0}
    for bad in ("like:1", "like:x:2026-01-01", "follow:2026-13-40", "notification:", "post:1:2026-01-01", 7):
        await problem_of(await client.post(f"{N}/read", headers=alice.headers, json={"group_key": bad}),
                         400 if bad == "follow:2026-13-40" else 422)
    assert await unread(client, alice) == 2
    await alice_ws.close()


async def test_settings_off_means_neither_stored_nor_pushed(client, make_user):
    alice, bob = await make_user("alice"), await make_user("bob")
    defaults = await ok(await client.get(SETTINGS, headers=alice.headers))
    assert defaults == {"follow": True, "like": True, "comment": True, "comment_like": True, "message": True,
                        "response": True, "mention": True, "report.resolved": True}
    body = await ok(await client.patch(SETTINGS, headers=alice.headers,
                                       json={"like": False, "message": False, "mention": False}))
    assert body == {**defaults, "like": False, "message": False, "mention": False}
    assert await ok(await client.get(SETTINGS, headers=alice.headers)) == body
    assert await ok(await client.get(SETTINGS, headers=bob.headers)) == defaults  # bob's are his own

    p = await post(client, alice)
    alice_ws = await client.ws_connect(WS, headers=alice.headers)
    await next_frame(alice_ws, "hello")
    await like(client, bob, p)
    msg = await ok(await client.post("/api/v1/messages", headers=bob.headers,
                                     json={"recipient_id": alice.id, "content": "hi"}), 201)
    assert (await next_frame(alice_ws, "message.created"))["data"]["id"] == msg["id"]  # still delivered
    await no_frame(alice_ws, "notification.created")
    assert await unread(client, alice) == 0
    assert (await ok(await client.get(N, headers=alice.headers)))["items"] == []
    # Types left on still notify.
    await comment(client, bob, p)
    note = (await next_frame(alice_ws, "notification.created"))["data"]
    assert note["type"] == "comment"

    # On again: notified again.
    assert (await ok(await client.patch(SETTINGS, headers=alice.headers, json={"like": True})))["like"] is True
    await like(client, bob, p, on=False)
    await like(client, bob, p)
    assert (await next_frame(alice_ws, "notification.created"))["data"]["type"] == "like"
    assert [n["type"] for n in (await ok(await client.get(N, headers=alice.headers)))["items"]] == ["like", "comment"]
    await alice_ws.close()


async def test_settings_requests_are_checked(client, make_user):
    alice = await make_user("alice")
    problem = await problem_of(await client.patch(SETTINGS, headers=alice.headers,
                                                  json={"like": False, "poke": False}), 400)
    assert "poke" in problem["detail"]
    for bad in ({"like": "no"}, {"like": 0}, {"like": None}, [True]):
        await problem_of(await client.patch(SETTINGS, headers=alice.headers, json=bad), 422)
    assert (await ok(await client.get(SETTINGS, headers=alice.headers)))["like"] is True  # nothing was saved
    assert (await ok(await client.patch(SETTINGS, headers=alice.headers, json={})))["like"] is True
    await problem_of(await client.get(SETTINGS), 401)
    # Concurrent changes of different types by the same user are all kept.
    await asyncio.gather(*(client.patch(SETTINGS, headers=alice.headers, json={t: False})
                           for t in ("follow", "comment", "response", "report.resolved")))
    state = await ok(await client.get(SETTINGS, headers=alice.headers))
    assert [t for t, on in state.items() if not on] == ["follow", "comment", "response", "report.resolved"]


async def test_report_resolved_obeys_the_settings_too(client, make_user):
    from server import moderation

    alice, carol, bob = await make_user("alice"), await make_user("carol"), await make_user("bob")
    mod = await make_user("mod")
    await moderation.set_role(client.app[DB], mod.username, "moderator")
    p = await post(client, bob, "spam")
    reports = []
    for user in (alice, carol):
        reports.append(await ok(await client.post("/api/v1/reports", headers=user.headers,
                                                  json={"target": "post", "id": p, "reason": "spam"}), 201))
    await ok(await client.patch(SETTINGS, headers=alice.headers, json={"report.resolved": False}))
    await ok(await client.post(f"/api/v1/admin/reports/{reports[0]['id']}/resolve", headers=mod.headers,
                               json={"action": "dismiss"}))
    assert (await ok(await client.get(N, headers=alice.headers)))["items"] == []
    [note] = (await ok(await client.get(N, headers=carol.headers)))["items"]
    assert note["type"] == "report.resolved"
