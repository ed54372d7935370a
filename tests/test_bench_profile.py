"""`python -m bench profile`: py-spy's raw stacks are summarised right, the reports read right.

Fast checks only: no server, no load, no py-spy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import profiling, runner, stacks

MAIN = "thread (100): MainThread;"
ROOT = ("_run_module_as_main (<frozen runpy>:198);<module> (server/__main__.py:196);"
        "_run_single (server/__main__.py:82);run_app (aiohttp/web.py:502)")
# 10 samples of the event-loop thread: 4 idle (the loop waiting, leaf run_app), 6 busy; 50 of an idle
# executor thread; one malformed line.
RAW = f"""\
{MAIN}{ROOT} 4
{MAIN}{ROOT};show (handlers/posts.py:114);get_post (server/posts.py:149);_docs (server/documents.py:33) 2
{MAIN}{ROOT};show (handlers/posts.py:114);_docs (server/documents.py:39);_docs (server/documents.py:40) 1
{MAIN}Connection._read_packet (aiomysql/connection.py:653);Connection._read_packet (aiomysql/connection.py:647) 2
{MAIN}{ROOT};StreamWriter.write (asyncio/streams.py:343) 1
thread (101): ThreadPoolExecutor-0_0;Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:81) 50
not a stack line
"""


def _share(rows, func: str) -> float:
    return dict((frame[0], share) for frame, share in rows)[func]


def test_raw_lines_parse_into_threads_frames_and_counts():
    parsed = stacks.parse_raw(RAW)
    assert len(parsed) == 6  # the malformed line is skipped
    first = parsed[0]
    assert first.thread == "MainThread" and first.count == 4
    assert first.frames[0] == ("_run_module_as_main", "<frozen runpy>")
    assert first.frames[-1] == ("run_app", "aiohttp/web.py")  # line numbers merged
    assert parsed[-1].thread == "ThreadPoolExecutor-0_0" and parsed[-1].count == 50
    assert stacks.parse_frame("pipeline_middleware.<locals>.pipeline (server/http/middlewares.py:239)") == \
        ("pipeline_middleware.<locals>.pipeline", "server/http/middlewares.py")
    assert stacks.parse_frame("f (/usr/lib/python3.11/asyncio/streams.py:343)") == ("f", "asyncio/streams.py")
    assert stacks.parse_frame("f (/x/.venv/lib/python3.11/site-packages/aiomysql/pool.py)") == \
        ("f", "aiomysql/pool.py")


def test_idle_share_and_busy_shares_of_the_event_loop_thread():
    summary = stacks.summarise(stacks.parse_raw(RAW))
    assert summary.samples == 10 and summary.idle == 4 and summary.busy == 6
    assert summary.idle_share == pytest.approx(0.4)
    assert summary.other_threads == 50  # the executor's idle thread is left out
    inclusive = summary.top_inclusive()
    assert _share(inclusive, "run_app") == pytest.approx(4 / 6)  # rootless stacks (uvloop callbacks) too
    assert _share(inclusive, "show") == pytest.approx(3 / 6)
    # Recursion: _docs twice in one stack, Connection._read_packet twice in another: once per sample.
    assert _share(inclusive, "_docs") == pytest.approx(3 / 6)
    assert _share(inclusive, "Connection._read_packet") == pytest.approx(2 / 6)
    assert all(share <= 1.0 for _, share in inclusive)
    selfs = summary.top_self()
    assert selfs[0] == (("_docs", "server/documents.py"), pytest.approx(3 / 6))
    assert _share(selfs, "Connection._read_packet") == pytest.approx(2 / 6)
    assert _share(selfs, "StreamWriter.write") == pytest.approx(1 / 6)
    assert "run_app" not in {frame[0] for frame, _ in selfs}  # idle samples are not busy leaves
    assert sum(share for _, share in selfs) == pytest.approx(1.0)
    assert len(summary.top_inclusive(3)) == 3


def test_without_thread_names_every_stack_counts_and_the_stdlib_loop_idles_in_select():
    raw = ("main (app.py:3);BaseEventLoop.run_forever (asyncio/base_events.py:607);"
           "BaseEventLoop._run_once (asyncio/base_events.py:1884);EpollSelector.select (selectors.py:468) 3\n"
           "main (app.py:3);BaseEventLoop.run_forever (asyncio/base_events.py:607);"
           "BaseEventLoop._run_once (asyncio/base_events.py:1922);handler (app.py:9) 1\n")
    summary = stacks.summarise(stacks.parse_raw(raw))
    assert summary.samples == 4 and summary.idle == 3 and summary.other_threads == 0
    assert summary.top_self() == [(("handler", "app.py"), 1.0)]


def test_other_threads_are_described_apart():
    raw = RAW + ("thread (102): blocking_0;Thread.run (threading.py:982);_worker (concurrent/futures/thread.py:83);"
                 "_WorkItem.run (concurrent/futures/thread.py:58) 9\n"
                 "thread (102): blocking_0;Thread.run (threading.py:982);_worker (concurrent/futures/thread.py:81) 1\n")
    parsed = stacks.parse_raw(raw)
    threads = stacks.other_threads(parsed, stacks.main_thread(parsed))
    assert [t.describe() for t in threads] == [
        "blocking_0 busy in 90 % of its samples (mostly _WorkItem.run (concurrent/futures/thread.py))",
        "ThreadPoolExecutor-0_0 idle"]
    assert stacks.summarise(parsed).samples == 10  # the main thread's figures do not change


def test_the_busiest_thread_is_summarised_when_none_is_called_main():
    raw = "thread (7): worker;a (m.py:1) 5\nthread (8): other;b (m.py:1) 2\n"
    assert stacks.main_thread(stacks.parse_raw(raw)) == "worker"
    assert stacks.summarise(stacks.parse_raw("")).idle_share is None


def test_tables_read_like_the_round2_profile():
    rows = [(("_docs", "server/documents.py"), 0.158), (("run_app", "aiohttp/web.py"), 0.448)]
    assert stacks.table(rows) == ["   15.8 %  _docs (server/documents.py)", "   44.8 %  run_app (aiohttp/web.py)"]


def test_reading_names_what_bounds_the_scenario():
    db = stacks.reading({"worker": 55.2, "mariadb": 105.0, "host": 190.0}, 0.45, 2)
    assert db.startswith("worker busy 55 % of one core, idle 45 % of its samples, MariaDB 105 %")
    assert db.endswith("the database bounds this scenario")
    assert "the Python worker bounds" in stacks.reading({"worker": 97.0, "mariadb": 10.0}, 0.03, 2)
    assert "saturated" in stacks.reading({"worker": 60.0, "mariadb": 50.0, "host": 195.0}, 0.4, 2)
    assert "waits" in stacks.reading({"worker": 40.0, "mariadb": 30.0, "host": 90.0}, 0.6, 2)


def test_only_wrk_scenarios_but_overload_can_be_profiled():
    profiling.check_scenarios(["get_post", "feed_blocking", "login", "hello"])
    for bad, why in (("overload", "get_post"), ("ws_chat", "WebSocket"), ("nope", "unknown")):
        with pytest.raises(SystemExit, match=why):
            profiling.check_scenarios(["get_post", bad])
    from bench.__main__ import main

    with pytest.raises(SystemExit, match="WebSocket"):
        main(["profile", "--scenario", "ws_hold"])
    assert set(profiling.PROFILED) == set(runner.HTTP_SCENARIOS) - {"overload"}


def test_py_spy_samples_the_idle_loop_without_pausing_it_and_stops_before_wrk():
    argv = profiling.spy_command("py-spy", 42, 250, profiling.spy_seconds(10), Path("out/profile-x.raw"))
    assert argv[:3] == ["py-spy", "record", "--pid"] and "42" in argv
    assert {"--idle", "--nonblocking", "--threads"} <= set(argv)
    assert argv[argv.index("--format") + 1] == "raw" and argv[argv.index("--duration") + 1] == "9"
    assert profiling.spy_seconds(12) + profiling.LEAD < 12 and profiling.spy_seconds(0.5) == 1


def test_a_ptrace_refusal_says_what_would_allow_it():
    log = "Error: Permission denied (os error 13)\n"
    msg = profiling.explain_failure(log, 1, "1", euid=1000, cap=False)
    assert "exit 1" in msg and "Permission denied" in msg
    assert "ptrace_scope is 1" in msg and "root" in msg
    assert "SYS_PTRACE" in profiling.explain_failure(log, 1, None, euid=0, cap=False)
    other = profiling.explain_failure("Error: Failed to find python version\n", 1, "1", euid=0, cap=True)
    assert "ptrace" not in other and "Failed to find python version" in other


def _result(summary: stacks.Summary | None, problem: str | None = None) -> dict:
    return {"scenario": "get_post", "script": "get_post", "duration": 10.0, "rate": 250, "spy_seconds": 9,
            "worker_pid": 42, "cores": 2, "command": "python -m bench profile --scenario get_post",
            "spy_command": "py-spy record --pid 42", "raw": "profile-get_post.raw", "summary": summary,
            "problem": problem, "spy_cpu": 12.0, "spy_samples": 2300, "spy_errors": 3,
            "row": {"rps": 2838.4, "latency_ms": {"p50": 20.1, "p99": 65.7}, "error_total": 0, "connections": 64,
                    "cpu": {"server": 56.0, "worker": 55.0, "mariadb": 105.0, "redis": 3.0, "loadgen": 30.0,
                            "host": 195.0}, "notes": ""}}


def test_profile_text_and_index_carry_the_figures_and_the_top_frames():
    summary = stacks.summarise(stacks.parse_raw(RAW))
    result = _result(summary)
    result["threads"] = stacks.other_threads(stacks.parse_raw(RAW), "MainThread")
    text = profiling.render_text(result)
    assert "Other threads (left out of the shares): ThreadPoolExecutor-0_0 idle" in text
    assert "2,838.4 req/s, p50 20.1 ms, p99 65.7 ms" in text
    assert "server worker 55 (all server processes 56), MariaDB 105, Redis 3, wrk 30, py-spy 12, whole machine 195" \
        in text
    assert "Idle: 40.0 % of them (4)" in text
    assert "Reading: worker busy 55 % of one core, idle 40 % of its samples, MariaDB 105 %: the database bounds" \
        in text
    inclusive = text.split("Top inclusive")[1].split("Top self")[0]
    assert "   50.0 %  _docs (server/documents.py)" in inclusive
    assert "   50.0 %  _docs (server/documents.py)" in text.split("Top self")[1]
    index = profiling.render_index([_result(summary), _result(None, "py-spy failed (exit 1): denied")],
                                   ["header"])
    rows = [ln for ln in index.splitlines() if ln.startswith("| [get_post]")]
    assert rows[0] == ("| [get_post](profile-get_post.txt) | 2,838 | 65.7 | 55 | 105 | 40.0 % | "
                       "_docs (server/documents.py) 50.0 %; Connection._read_packet (aiomysql/connection.py) "
                       "33.3 %; StreamWriter.write (asyncio/streams.py) 16.7 % |")
    assert "no profile: py-spy failed (exit 1): denied" in rows[1]
    assert "Profile failed: py-spy failed" in profiling.render_text(_result(None, "py-spy failed (exit 1)"))


def test_tokens_a_later_mint_revoked_stop_the_profile():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from types import SimpleNamespace

    class Sessions(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            ok = self.path == "/api/v1/users/me" and self.headers.get("Authorization") == "Bearer fresh"
            self.send_response(200 if ok else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Sessions)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        server = SimpleNamespace(port=httpd.server_address[1])
        fresh = {"tokens": {"tokens": [{"token": "fresh"}], "filtered_tokens": [{"token": "fresh"}]}}
        assert profiling.stale_token(server, fresh) is None
        revoked = {"tokens": {"tokens": [{"token": "fresh"}], "filtered_tokens": [{"token": "old"}]}}
        assert profiling.stale_token(server, revoked) == "filtered_tokens"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
