"""Server-side prepared statements (queries.Prepared, db.Conn.fetchall): the same rows as the text
protocol, prepared once per connection, re-prepared when the connection lost the statement, and
never for a list of several items (each length would be a statement of its own)."""

from __future__ import annotations

from server import articles
from server import db as dbmod
from server.keys import DB
from server.queries import QUERIES, Prepared, parse
from tests.test_posts import new_post


def test_an_at_sign_marks_a_prepared_statement():
    queries = parse("-- name: one@\nSELECT 1\n-- name: two$\nSELECT 2\n")
    assert type(queries["one"]) is Prepared and queries["one"] == "SELECT 1"
    assert type(queries["two"]) is str


async def prepared_count(conn) -> int:
    return int((await conn.fetchone("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'"))["Value"])


async def test_prepared_reads_match_the_text_protocol(client, make_user):
    alice = await make_user()
    bob = await make_user()
    posts = [await new_post(client, alice, f"prepared {i} \u00e9l\u00e8ve #tag{i} @{bob.username}") for i in range(3)]
    sql = Prepared("SELECT id, content, %(viewer_id)s AS viewer, 'a%%b' AS pct FROM posts WHERE id IN %(ids)s "
                   "AND user_id = %(user_id)s")
    async with client.app[DB].connection() as c:
        for post in posts:
            args = {"ids": [post["id"]], "viewer_id": None, "user_id": alice.id}
            before = await prepared_count(c)
            prepared = await c.fetchall(sql, args)
            assert await prepared_count(c) - before <= 1
            assert prepared == await c.fetchall(str(sql), args)
            assert prepared == [{"id": post["id"], "content": post["content"], "viewer": None, "pct": "a%b"}]
        # Prepared once on this connection: later reads only EXECUTE.
        before = await prepared_count(c)
        await c.fetchall(sql, {"ids": [posts[0]["id"]], "viewer_id": 7, "user_id": alice.id})
        assert await prepared_count(c) == before
        # Three ids: the text protocol (no statement per length); a full page of 20 is prepared.
        many = {"ids": [p["id"] for p in posts], "viewer_id": 7, "user_id": alice.id}
        assert sorted(r["id"] for r in await c.fetchall(sql, many)) == sorted(p["id"] for p in posts)
        assert await prepared_count(c) == before
        page = {**many, "ids": [p["id"] for p in posts] + [10**12 + i for i in range(17)]}
        assert len(page["ids"]) == 20
        assert sorted(r["id"] for r in await c.fetchall(sql, page)) == sorted(p["id"] for p in posts)
        assert await prepared_count(c) == before + 1
        assert sorted(r["id"] for r in await c.fetchall(sql, page)) == sorted(p["id"] for p in posts)
        assert await prepared_count(c) == before + 1
        # The documents the API serves are the same both ways.
        assert all(type(sql) is Prepared for sql in articles._DOCS.values())  # formatted, still prepared
        for name in ("post_docs", "comment_docs"):
            query = getattr(QUERIES.feed, name)
            assert type(query) is Prepared
            args = {"ids": [posts[1]["id"]], "viewer_id": bob.id, "url_prefix": "/media/"}
            assert await c.fetchall(query, args) == await c.fetchall(str(query), args)


async def test_a_statement_the_connection_lost_is_prepared_again(client, make_user):
    alice = await make_user()
    post = await new_post(client, alice, "lost statement")
    sql = Prepared("SELECT id FROM posts WHERE id IN %(ids)s")
    args = {"ids": [post["id"]]}
    async with client.app[DB].connection() as c:
        assert await c.fetchall(sql, args) == [{"id": post["id"]}]
        name = dbmod._statement(sql, args)[0]
        await c.execute(f"DEALLOCATE PREPARE {name}")
        assert await c.fetchall(sql, args) == [{"id": post["id"]}]


async def test_a_connection_prepares_a_bounded_number_of_statements(client, make_user, monkeypatch):
    alice = await make_user()
    post = await new_post(client, alice, "bounded")
    async with client.app[DB].connection() as c:
        await c.fetchall(Prepared("SELECT id FROM posts WHERE id IN %(ids)s AND 1 = 1"), {"ids": [post["id"]]})
        held = len(dbmod._prepared_on[c.raw])
        monkeypatch.setattr(dbmod, "PREPARED_PER_CONNECTION", held)
        before = await prepared_count(c)
        other = Prepared("SELECT id FROM posts WHERE id IN %(ids)s AND 2 = 2")
        assert await c.fetchall(other, {"ids": [post["id"]]}) == [{"id": post["id"]}]
        assert await prepared_count(c) == before  # sent as text: the connection holds its quota
