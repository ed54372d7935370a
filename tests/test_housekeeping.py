"""Housekeeping drops what nobody can use any more and nothing else."""

from __future__ import annotations

from server.housekeeping import run_once
from server.keys import DB


async def test_expired_rows_go_and_live_ones_stay(client, make_user, app):
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    db = app[DB]
    await db.execute("INSERT INTO mutes (user_id, target_id, expires_at) VALUES "
                     "(%s, %s, UTC_TIMESTAMP(3) - INTERVAL 1 SECOND), (%s, %s, UTC_TIMESTAMP(3) + INTERVAL 1 DAY), "
                     "(%s, %s, NULL)", (alice.id, bob.id, alice.id, carol.id, bob.id, alice.id))
    for label, days_ago in (("old", 10), ("new", 0)):
        await db.execute("INSERT INTO password_resets (user_id, token_hash, expires_at) "
                         "VALUES (%s, UNHEX(SHA2(%s, 256)), UTC_TIMESTAMP(3) - INTERVAL %s DAY)",
                         (alice.id, label, days_ago))
        await db.execute("INSERT INTO idempotency_keys (user_id, key_hash, request_hash, created_at) "
                         "VALUES (%s, UNHEX(SHA2(%s, 256)), UNHEX(SHA2('b', 256)), "
                         "UTC_TIMESTAMP(3) - INTERVAL %s DAY)", (alice.id, label, days_ago))
        await db.execute("INSERT INTO sessions (user_id, expires_at) "
                         "VALUES (%s, UTC_TIMESTAMP(3) - INTERVAL %s DAY)", (alice.id, days_ago))
    await db.execute("INSERT INTO user_events (user_id, seq, type, payload, created_at) "
                     "VALUES (%s, 1000, 'x', '{}', UTC_TIMESTAMP(3) - INTERVAL 30 DAY)", (alice.id,))

    removed = await run_once(app)

    assert removed == {"events": 1, "idempotency_keys": 1, "password_resets": 1, "sessions": 1, "mutes": 1,
                       "usernames_released": 0}
    assert await db.fetchval("SELECT COUNT(*) FROM mutes") == 2
    assert await db.fetchval("SELECT COUNT(*) FROM password_resets") == 1
    assert await db.fetchval("SELECT COUNT(*) FROM idempotency_keys") == 1
    # alice's login session (still valid) and the fresh one remain; her token still works.
    assert await db.fetchval("SELECT COUNT(*) FROM sessions WHERE user_id = %s", (alice.id,)) == 2
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status == 200
    assert await run_once(app) == {"events": 0, "idempotency_keys": 0, "password_resets": 0, "sessions": 0,
                                   "mutes": 0, "usernames_released": 0}


async def test_the_search_index_pass_rebuilds_it_once_it_spans_two_windows(client, make_user, app, monkeypatch):
    from server import housekeeping, search

    alice = await make_user("alice")
    ids = []
    for i in range(5):
        resp = await client.post("/api/v1/posts", json={"content": f"kiwi {i}"}, headers=alice.headers)
        ids.append((await resp.json())["id"])
    monkeypatch.setattr(search, "WINDOW", 3)
    assert await housekeeping.search_index(app) == {"search_index_rebuilt": 0}  # spans 5 < 2 windows
    resp = await client.post("/api/v1/posts", json={"content": "kiwi 5"}, headers=alice.headers)
    ids.append((await resp.json())["id"])
    assert await housekeeping.search_index(app) == {"search_index_rebuilt": 3}
    rows = await app[DB].fetchall("SELECT id FROM post_search_recent ORDER BY id")
    assert [r["id"] for r in rows] == ids[-3:]
