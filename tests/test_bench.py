"""The load-testing kit: seed data is exact and deterministic, reports render, wrk output parses.

Fast checks only: no load is generated and nothing is timed.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from bench import report, runner, seed, tokens, wrk

SMALL = seed.SeedSpec(users=50, posts_per_user=3, follows_per_user=5, likes_per_user=4, comments_per_user=2,
                      seed=7, bcrypt_rounds=4)


def _snapshot(config) -> dict:
    conn = seed.connect(config)
    try:
        with conn.cursor() as cur:
            out = {}
            for name, sql in {
                "users": "SELECT id, username, email, full_name, followers_count, following_count, posts_count "
                         "FROM users ORDER BY id",
                "follows": "SELECT follower_id, followee_id FROM follows ORDER BY id",
                "posts": "SELECT id, user_id, title, content, likes_count, comments_count FROM posts ORDER BY id",
                "comments": "SELECT post_id, user_id, content FROM comments ORDER BY id",
                "likes": "SELECT post_id, user_id FROM post_likes ORDER BY id",
            }.items():
                cur.execute(sql)
                out[name] = cur.fetchall()
            out["mismatch"] = seed.counters_mismatch(conn)
        return out
    finally:
        conn.close()


async def test_small_seed_has_exact_counters_and_is_deterministic(config):
    quiet = seed.Progress(stream=io.StringIO())
    summary = seed.seed(config, SMALL, progress=quiet)
    first = _snapshot(config)

    assert summary["counts"] == {"users": 50, "follows": 250, "posts": 150, "comments": 100, "post_likes": 200}
    tagged = summary["hashtags"]
    assert 15 <= tagged["posts"] <= 80 and tagged["posts"] <= tagged["uses"] <= 3 * tagged["posts"]
    assert len(first["users"]) == 50 and len(first["posts"]) == 150 and len(first["follows"]) == 250
    assert first["mismatch"] == {"posts_count": 0, "followers_count": 0, "following_count": 0,
                                 "likes_count": 0, "comments_count": 0}
    assert all(row[6] == 3 and row[5] == 5 for row in first["users"])  # posts_count, following_count
    assert sum(row[4] for row in first["users"]) == 250  # followers_count adds up to the follows
    assert not any(a == b for a, b in first["follows"])
    assert len(set(first["follows"])) == 250
    assert len({row[1].lower() for row in first["users"]}) == 50
    assert all(row[3] for row in first["posts"])  # Faker text, never empty

    seed.seed(config, SMALL, progress=quiet)
    assert _snapshot(config) == first
    other = seed.seed(config, dataclasses.replace(SMALL, seed=8), progress=quiet)
    assert other["counts"]["users"] == 50
    assert _snapshot(config)["users"] != first["users"]


async def test_seeded_users_log_in_and_minted_tokens_are_accepted(client, config):
    seed.seed(config, SMALL, progress=seed.Progress(stream=io.StringIO()))
    conn = seed.connect(config)
    try:
        data = tokens.mint(config, conn, count=5, password=SMALL.password, cold_count=10, filtered_count=3,
                           filter_size=5)
        with conn.cursor() as cur:
            cur.execute("SELECT user_id, COUNT(*) FROM blocks GROUP BY user_id")
            blocks = dict(cur.fetchall())
            cur.execute("SELECT user_id, COUNT(*) FROM mutes GROUP BY user_id")
            mutes = dict(cur.fetchall())
            cur.execute("SELECT COUNT(*) FROM blocks b JOIN follows f ON (f.follower_id = b.user_id AND "
                        "f.followee_id = b.target_id) OR (f.follower_id = b.target_id AND f.followee_id = b.user_id)")
            blocked_follows = cur.fetchone()[0]
    finally:
        conn.close()
    filtered = {t["user_id"] for t in data["filtered_tokens"]}
    assert len(filtered) == 3 and not filtered & {t["user_id"] for t in data["tokens"] + data["cold_tokens"]}
    assert blocks == {u: 5 for u in filtered} and mutes == {u: 5 for u in filtered}
    assert blocked_follows == 0  # as a block leaves it
    assert "filtered_tokens = {" in tokens.to_lua(data)
    assert len(data["tokens"]) == 5 and data["users"] == (1, 50) and data["posts"] == (1, 150)
    cold = {t["user_id"] for t in data["cold_tokens"]}
    assert len(cold) == 10 and not cold & {t["user_id"] for t in data["tokens"]}  # feed_cold's users only
    assert "cold_tokens = {" in tokens.to_lua(data)
    assert len(data["logins"]) == 5

    resp = await client.post("/api/v1/auth/login", json={"login": data["logins"][0], "password": SMALL.password})
    assert resp.status == 200, await resp.text()

    entry = data["tokens"][0]
    resp = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {entry['token']}"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["id"] == entry["user_id"]
    # The search scenario's queries are made of words of the seeded posts: they find them.
    assert data["search"] and all(p.startswith("/api/v1/search?") for p in data["search"])
    assert "search = {" in tokens.to_lua(data)
    found = 0
    for path in data["search"]:
        resp = await client.get(path, headers={"Authorization": f"Bearer {entry['token']}"})
        assert resp.status == 200, (path, await resp.text())
        found += bool((await resp.json())["items"])
    assert found >= len(data["search"]) // 2
    for path in ("/api/v1/feed", "/api/v1/posts"):
        token = data["filtered_tokens"][0]["token"]
        resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200, await resp.text()


def test_filtered_scenarios_are_compared_with_their_plain_ones():
    rows = [runner._row("hello", 1, "http", rps=1000.0), runner._row("feed", 1, "http", rps=400.0),
            runner._row("feed_filtered", 1, "http", rps=380.0, notes="steady state"),
            runner._row("public_timeline_filtered", 1, "http", rps=300.0)]
    rows[1]["latency_ms"], rows[2]["latency_ms"] = {"p50": 10.0}, {"p50": 11.0}
    runner.add_ratios(rows)
    assert rows[2]["filter_ratio"] == 0.95 and rows[2]["ratio"] == 0.38
    assert rows[2]["notes"] == "steady state; blocking and muting 100 accounts each: 95.0 % of feed's req/s " \
                               "(p50 11.0 vs 10.0 ms)"
    assert "filter_ratio" not in rows[3]  # no plain row in this run
    assert runner.HTTP_SCENARIOS.index("feed") < runner.HTTP_SCENARIOS.index("feed_filtered")


def test_paired_slices_merge_into_one_row():
    def part(requests, seconds, p50, p99, non2xx=0):
        return {"requests": requests, "duration_s": seconds, "rps": requests / seconds,
                "latency_ms": {"p50": p50, "p99": p99}, "errors": {"timeout": 1, "non2xx": non2xx},
                "statuses": {"200": requests - non2xx, "503": non2xx}, "error_total": 1 + non2xx}

    merged = runner._merge_slices([part(300, 1.0, 5.0, 20.0), part(100, 1.0, 9.0, 40.0, non2xx=2),
                                   part(200, 2.0, 7.0, 30.0)])
    assert merged["requests"] == 600 and merged["duration_s"] == 4.0 and merged["rps"] == 150.0
    assert merged["latency_ms"] == {"p50": 7.0, "p99": 30.0}  # each percentile: the median of the slices'
    assert merged["errors"] == {"timeout": 3, "non2xx": 2} and merged["statuses"] == {"200": 598, "503": 2}
    assert merged["error_total"] == 5
    for name, (plain, filtered) in runner.PAIRED.items():
        assert name in runner.HTTP_SCENARIOS and runner.script_for(name) == filtered
        assert plain in runner.HTTP_SCENARIOS and filtered in runner.FILTERED


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    plain, tty = io.StringIO(), Tty()
    for progress in (seed.Progress(stream=plain), seed.Progress(stream=tty)):
        progress.update("posts", 5, 10)
        progress.finish("posts", 10)
    assert "[" not in plain.getvalue() and "posts: 10 rows" in plain.getvalue()
    assert "\r" in tty.getvalue() and "#" in tty.getvalue()


def test_every_http_scenario_has_a_lua_script_that_uses_the_common_helpers():
    assert (wrk.LUA_DIR / "common.lua").exists()
    for name in runner.HTTP_SCENARIOS + ["healthz"]:
        text = wrk.script_path(runner.script_for(name)).read_text()
        assert 'dofile(dir .. "/common.lua")' in text, name
        assert "function request()" in text, name
    common = (wrk.LUA_DIR / "common.lua").read_text()
    assert "function response(" in common and "BENCH_JSON" in common


def test_data_lua_escapes_strings():
    text = tokens.to_lua({"users": (1, 9), "posts": (1, 90), "hot_posts": (70, 90), "comment_posts": (80, 90),
                          "tokens": [{"user_id": 3, "token": 'a"b\\c'}], "heavy_tokens": [],
                          "logins": ["bob_1"], "password": "p\"w"})
    assert 'users_min = 1, users_max = 9' in text
    assert '{3, "a\\"b\\\\c"}' in text and 'password = "p\\"w"' in text


WRK_TEXT = """Running 3s test @ http://127.0.0.1:8080
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.12ms    1.50ms  45.10ms   90.00%
    Req/Sec     7.80k   500.00     8.50k    70.00%
  Latency Distribution
     50%    3.90ms
     75%    4.50ms
     90%    5.20ms
     99%    1.20s
  46800 requests in 3.00s, 7.50MB read
  Socket errors: connect 0, read 2, write 0, timeout 7
  Non-2xx or 3xx responses: 120
Requests/sec:  15600.00
Transfer/sec:      2.50MB
"""

WRK_JSON = ('Running 3s test @ http://127.0.0.1:8080\nRequests/sec: 1.0\n'
            'BENCH_JSON {"requests": 3000, "duration_us": 2000000, "bytes": 100, "errors": {"connect": 1, '
            '"read": 0, "write": 0, "status": 40, "timeout": 2}, "latency_us": {"min": 100, "mean": 1500.5, '
            '"max": 90000, "stdev": 10.0, "p50": 1200, "p90": 2000, "p99": 15000, "p999": 80000}, '
            '"statuses": {"200": 2960, "404": 40}}\n')


def test_wrk_parser_reads_our_json_line():
    parsed = wrk.parse(WRK_JSON)
    assert parsed["requests"] == 3000 and parsed["rps"] == 1500.0
    assert parsed["latency_ms"]["p50"] == 1.2 and parsed["latency_ms"]["p999"] == 80.0
    assert parsed["statuses"] == {"200": 2960, "404": 40}
    assert parsed["errors"]["non2xx"] == 40 and parsed["error_total"] == 43


def test_wrk_parser_falls_back_to_the_text_summary():
    parsed = wrk.parse(WRK_TEXT)
    assert parsed["requests"] == 46800 and parsed["rps"] == 15600.0 and parsed["duration_s"] == 3.0
    assert parsed["latency_ms"]["mean"] == 4.12 and parsed["latency_ms"]["p99"] == 1200.0
    assert parsed["errors"]["timeout"] == 7 and parsed["errors"]["non2xx"] == 120
    assert parsed["error_total"] == 129
    assert wrk.parse("")["requests"] == 0


@pytest.fixture
def result() -> dict:
    def row(scenario, rps, kind="http", **extra):
        base = {"scenario": scenario, "workers": 1, "kind": kind, "rps": rps, "requests": 100,
                "latency_ms": {"p50": 1.0, "p99": 9.5, "p999": 20.0}, "errors": {}, "error_total": 0,
                "statuses": {"200": 100}, "cpu": {"server": 95.0, "mariadb": 40.0, "redis": 2.0, "loadgen": 50.0,
                        "host": 190.0},
                "notes": ""}
        base.update(extra)
        return base

    rows = [row("hello", 10000.0), row("get_post", 2500.0),
            row("feed", 50.0, statuses={"200": 10, "404": 5}, errors={"non2xx": 5, "timeout": 1}, error_total=6),
            row("ws_chat", 300.0, kind="ws", notes="300/300 delivered"),
            row("comments", None, latency_ms={}, failed="server did not become ready")]
    runner.add_ratios(rows)
    return {"started_at": "2026-01-02T03:04:05Z", "host": {"cpus": 2, "platform": "Linux", "python": "3.11"},
            "params": {"duration": 10, "connections": 64, "threads": 2, "login_connections": 20},
            "dataset": {"counts": {"users": 10000, "posts": 1000000}, "spec": {"seed": 1}},
            "results": rows, "problems": ["wrk is not installed"]}


def test_report_renders_ratios_errors_and_failures(result, tmp_path):
    md = report.markdown(result)
    lines = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "100.0 %" in lines["hello"] and "25.0 %" in lines["get_post"] and "0.5 %" in lines["feed"]
    assert "**6** (404×5, timeout×1)" in lines["feed"]
    assert "95.0 / 40.0 / 2.0 / 50.0 (190)" in lines["get_post"]
    assert "server did not become ready" in lines["comments"] and "—" in lines["comments"]
    assert "300/300 delivered" in lines["ws_chat"]
    assert "10,000 users" in md and "wrk is not installed" in md

    path = tmp_path / "2026-01-02T030405.json"
    path.write_text(json.dumps(result))
    md_path, png_path = report.render(path)
    assert md_path.read_text() == md
    assert png_path is not None and png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_knows_every_scenario():
    from bench.__main__ import main

    with pytest.raises(SystemExit):
        main(["run", "--scenario", "no_such_scenario"])
    assert set(runner.SCENARIOS) >= {"hello", "get_user", "get_post", "feed", "public_timeline", "comments",
                                     "create_post", "like_toggle", "login", "mixed", "ws_hold", "ws_chat",
                                     "ws_fanout", "overload", "feed_cold"}
    order = runner.HTTP_SCENARIOS
    assert order.index("mixed") < order.index("overload") < order.index("login")


TCP_TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 20 4 30 10 -1
   2: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:D432 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0
   4: garbage
"""
TCP6_TABLE = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D433 01 00000000:00000000 00:00000000 00000000     0        0 1004 1 0 20 4 30 10 -1
   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D434 01 00000000:00000000 00:00000000 00000000     0        0 1005 1 0 20 4 30 10 -1
"""


def test_proc_net_tcp_rows_parse():
    from bench import procs

    rows = procs.parse_tcp_table(TCP_TABLE)
    assert len(rows) == 4  # the garbage line is skipped
    assert rows[0] == procs.TcpRow(("127.0.0.1", 8080), ("0.0.0.0", 0), 0x0A, 1001)
    assert rows[1] == procs.TcpRow(("127.0.0.1", 8080), ("127.0.0.1", 54321), 1, 1002)
    assert rows[3].state == 6 and rows[3].inode == 0  # TIME_WAIT: no inode
    six = procs.parse_tcp_table(TCP6_TABLE)
    assert six[0].local == ("127.0.0.1", 8080) and six[0].remote == ("127.0.0.1", 54323)  # v4-mapped
    assert six[1].remote == ("::1", 54324) and six[1].inode == 1005


def test_connection_owner_is_the_process_holding_the_accepted_socket():
    import os
    import socket

    from bench import procs

    rows = procs.parse_tcp_table(TCP_TABLE)
    # Only the server's end (local port 8080) of an ESTABLISHED row counts; this process holds none.
    assert procs.connection_owners(8080, [("127.0.0.1", 54321)], [os.getpid()], rows=rows) == {}
    assert procs.connection_owners(8080, [], [], rows=rows) is None  # no fd table readable: unknown

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            with accepted:
                if procs.tcp_rows() is None:
                    pytest.skip("/proc/net/tcp is not readable here")
                me = client.getsockname()[:2]
                assert procs.connection_owners(port, [me, ("127.0.0.1", 1)], [os.getpid()]) == {me: os.getpid()}


def test_chat_pairs_are_placed_across_workers():
    from collections import Counter

    from bench import wsbench

    owner = [7] * 8 + [9] * 2 + [None]
    pairs = wsbench.cross_pairs(owner, 5)
    assert len(pairs) == 2 and all(owner[a] != owner[b] for a, b in pairs)  # only two sockets on worker 9
    assert wsbench._split_shortfall(owner, 5) == 3  # 5 + 2 usable: 3 more needed off worker 7
    owner += [11, 11, 9]
    assert wsbench._split_shortfall(owner, 5) == 0
    pairs = wsbench.cross_pairs(owner, 5)
    assert len(pairs) == 5 and all(owner[a] != owner[b] and None not in (owner[a], owner[b]) for a, b in pairs)
    halves = [7] * 50 + [9] * 50
    senders = Counter(halves[a] for a, _ in wsbench.cross_pairs(halves, 50))
    assert senders == {7: 25, 9: 25}  # every worker stores messages, not only one
    flat = [owner[i] for pair in pairs for i in pair]
    assert wsbench._pairs_split(flat) == 5 and wsbench._count([7, 7, 9, None]) == {"7": 2, "9": 1, "?": 1}


# -- overload: status split, verdict, notes ---------------------------------------------------------

def _phase(statuses, rps=1000.0, timeout=0, requests=None, p99=40.0, seconds=5.0):
    requests = sum(statuses.values()) if requests is None else requests
    return {"statuses": {str(k): v for k, v in statuses.items()}, "rps": rps, "requests": requests,
            "duration_s": seconds, "latency_ms": {"p50": 5.0, "p99": p99},
            "errors": {"connect": 0, "read": 0, "write": 0, "timeout": timeout}}


MIB = 1024


def test_overload_statuses_keep_503_apart_from_other_5xx():
    from bench import overload

    split = overload.split_statuses({"200": 10, "201": 2, "404": 3, "503": 7, "500": 1, "502": 2, "302": 1})
    assert split == {"2xx": 12, "3xx": 1, "4xx": 3, "503": 7, "5xx_other": 3, "other": 0}
    assert overload.split_statuses({}) == {"2xx": 0, "3xx": 0, "4xx": 0, "503": 0, "5xx_other": 0, "other": 0}


def test_overload_connections_fit_the_open_files_limit():
    from bench import overload

    assert overload.fit_connections(1024, 20000) == 1024
    assert overload.fit_connections(1024, 1024) == 768  # room left for the server's own descriptors
    assert overload.fit_connections(1024, 100) == 1


def test_memory_returns_to_baseline_within_a_stated_slack():
    from bench import overload

    assert overload.memory_returned(80 * MIB, 80 * MIB)
    assert overload.memory_returned(100 * MIB, 100 * MIB + 26 * MIB)  # 10 % + 16 MiB
    assert not overload.memory_returned(100 * MIB, 100 * MIB + 27 * MIB)


def test_overload_passes_when_it_sheds_with_fast_503s_and_memory_comes_back():
    from bench import overload

    sat = _phase({200: 5000})
    over = _phase({200: 4000, 503: 6000}, p99=180.0)
    rss = {"before": 80 * MIB, "peak": 120 * MIB, "after5": 86 * MIB, "after": 85 * MIB}
    decision = overload.verdict(sat, over, rss)
    assert decision["pass"] is True and decision["reasons"] == []
    assert all(decision["checks"].values())
    text = overload.notes(sat, over, rss, 64, 1024, decision)
    assert "c=64: 1,000 req/s, 0 5xx" in text and "c=1024" in text
    assert "503×6,000 (shed 60%)" in text and "other 5xx 0" in text and "2xx 800/s (80% of c=64)" in text
    assert "p99 180 ms" in text and "p99 40.0 ms" in text
    assert "RSS 80→120→86→85 MiB" in text and "+5 MiB kept (allowed 24)" in text and text.endswith("→ PASS")


@pytest.mark.parametrize(("sat", "over", "after", "reason"), [
    ({200: 99, 503: 1}, {200: 10, 503: 10}, 80, "5xx at saturation"),
    ({200: 100}, {200: 10, 503: 10, 500: 2}, 80, "other than 503"),
    ({200: 100}, {200: 10, 503: 10}, 200, "RSS 200 MiB after vs 80 MiB before"),
])
def test_overload_fails_on_5xx_below_saturation_other_5xx_or_memory_kept(sat, over, after, reason):
    from bench import overload

    rss = {"before": 80 * MIB, "peak": 250 * MIB, "after5": after * MIB, "after": after * MIB}
    decision = overload.verdict(_phase(sat), _phase(over), rss)
    assert decision["pass"] is False
    assert any(reason in r for r in decision["reasons"]), decision["reasons"]
    assert "→ FAIL" in overload.notes(_phase(sat), _phase(over), rss, 64, 1024, decision)


def test_overload_that_only_queues_fails_and_one_that_never_sheds_proves_nothing():
    from bench import overload

    rss = {"before": 80 * MIB, "peak": 90 * MIB, "after5": 80 * MIB, "after": 80 * MIB}
    queued = overload.verdict(_phase({200: 100}), _phase({200: 1000}, timeout=300, p99=1990.0), rss)
    assert queued["pass"] is False and not queued["checks"]["bounded_latency"]
    assert any("queued" in r for r in queued["reasons"])
    absorbed = overload.verdict(_phase({200: 100}), _phase({200: 1000}), rss)
    assert absorbed["pass"] is None and "did not overload" in absorbed["reasons"][-1]
    assert "INCONCLUSIVE" in overload.notes(_phase({200: 100}), _phase({200: 1000}), rss, 64, 1024, absorbed)
    unmeasured = overload.verdict(_phase({200: 100}), _phase({200: 10, 503: 5}), {"before": 0})
    assert unmeasured["pass"] is False and "server RSS not measured" in unmeasured["reasons"]


# -- feeds: steady state versus cold -----------------------------------------------------------------

def test_feed_cold_reads_are_first_reads_until_the_walk_wraps():
    from bench import feeds

    assert feeds.all_reads_cold(requests=4000, users=4000)
    assert not feeds.all_reads_cold(requests=4001, users=4000)
    assert not feeds.all_reads_cold(requests=0, users=0)
    assert feeds.gen_key("bench:") == "bench:tl:gen"
    assert feeds.stale_generations([4, 5]) == [3, 4]  # before the first bump, and the cold run's own
    assert feeds.stale_generations([1, 2]) == [0, 1]
    assert feeds.stale_generations([]) == []
    note = feeds.cold_note(True, 500, 4000, 2, [])
    assert "bumped at the start" in note and note.endswith("all 500 reads were first reads")
    assert "the walk wrapped, 1,000 of 5,000 reads may have been warm" in feeds.cold_note(True, 5000, 4000, 2, [])
    assert feeds.cold_note(False, 500, 4000, 2, ["ConnectionError: refused"]).startswith("NOT cold")


def test_warm_up_summary_counts_every_failure():
    from bench import feeds

    ok = feeds.summarize(3, {"200": 3}, {}, 1.234)
    assert ok == {"users": 3, "answered": 3, "ok": 3, "failures": {}, "unanswered": 0, "seconds": 1.23,
                  "complete": True}
    assert feeds.warm_note(ok) == "warmed 3 timelines in 1.2 s, 0 errors"
    bad = feeds.summarize(1000, {"200": 700, "503": 20}, {"ClientConnectorError": 5}, 60.0)
    assert bad["unanswered"] == 280 and not bad["complete"]
    note = feeds.warm_note(bad)
    assert note.startswith("warm-up INCOMPLETE: 700/1,000") and "503×20" in note and "ClientConnectorError×5" in note


def test_feed_cold_script_walks_each_threads_share_of_the_tokens():
    text = wrk.script_path("feed_cold").read_text()
    assert "BENCH_THREADS" in text and "n * nthreads + (tid or 1) - 1" in text and "D.cold_tokens" in text
    assert wrk.effective_threads(2, 64) == 2 and wrk.effective_threads(4, 1) == 1
    assert runner.script_for("overload") == "get_post" and runner.script_for("feed") == "feed"
    assert set(runner.WARMED) >= {"feed", "feed_heavy"} and "feed_cold" not in runner.WARMED


async def test_warm_up_reads_every_users_feed_once_and_counts_refusals(client, make_user):
    from bench import feeds

    alice, bob = await make_user(), await make_user()
    base = str(client.make_url("")).rstrip("/")
    summary = await feeds.warm(base, [alice.access_token, bob.access_token, "not-a-token"], concurrency=2)
    assert summary["users"] == 3 and summary["ok"] == 2 and summary["answered"] == 3
    assert summary["failures"] == {"401": 1} and not summary["complete"]


def test_overload_row_has_no_share_of_hello():
    rows = [{"scenario": "hello", "workers": 1, "kind": "http", "rps": 1000.0},
            {"scenario": "overload", "workers": 1, "kind": "http", "rps": 3000.0},
            {"scenario": "feed_cold", "workers": 1, "kind": "http", "rps": 50.0}]
    runner.add_ratios(rows)
    assert rows[1]["ratio"] is None and rows[2]["ratio"] == 0.05
