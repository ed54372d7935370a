"""Command line: python -m bench seed | tokens | run | profile | report | hello-server."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench import runner


def cmd_seed(args) -> None:
    from bench import seed

    config = runner.bench_config(args.database)
    import asyncio

    from server.migrate import migrate

    asyncio.run(migrate(config))
    spec = seed.SeedSpec(users=args.users, posts_per_user=args.posts_per_user,
                         follows_per_user=args.follows_per_user, likes_per_user=args.likes_per_user,
                         comments_per_user=args.comments_per_user, heavy_users=args.heavy_users,
                         heavy_follows=args.heavy_follows, seed=args.seed,
                         bcrypt_rounds=config.auth.bcrypt_rounds)
    summary = seed.seed(config, spec, meta_path=runner.VAR / "dataset.json")
    print(f"seeded {summary['database']}: " + ", ".join(f"{v:,} {k}" for k, v in summary["counts"].items())
          + f" in {summary['seconds']} s; every user's password is {summary['password']!r}")
    cmd_tokens(args)


def cmd_tokens(args) -> None:
    import json

    from bench import seed, tokens

    config = runner.bench_config(args.database)
    meta_path = runner.VAR / "dataset.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    conn = seed.connect(config)
    try:
        data = tokens.mint(config, conn, count=args.tokens, heavy_ids=meta.get("heavy_user_ids", []),
                           password=meta.get("password", seed.PASSWORD), cold_count=args.cold_tokens,
                           filtered_count=args.filtered_tokens)
    finally:
        conn.close()
    json_path, lua_path = tokens.write(data, runner.VAR)
    print(f"{len(data['tokens'])} tokens (+{len(data['heavy_tokens'])} heavy followers, "
          f"+{len(data['cold_tokens'])} for feed_cold, +{len(data['filtered_tokens'])} blocking and muting "
          f"{tokens.FILTER_SIZE} accounts each) in {json_path} "
          f"and {lua_path}")


def cmd_run(args) -> None:
    unknown = [s for s in args.scenario if s not in runner.SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(runner.SCENARIOS)}")
    opts = runner.Options(
        scenarios=args.scenario or list(runner.SCENARIOS), workers=args.workers, duration=args.duration,
        connections=args.connections, threads=args.threads, warmup=args.warmup,
        login_connections=args.login_connections, ws_sockets=args.ws_sockets, chat_pairs=args.chat_pairs,
        chat_rate=args.chat_rate, fanout_receivers=args.fanout_receivers,
        overload_connections=args.overload_connections, tokens=args.tokens, cold_tokens=args.cold_tokens,
        filtered_tokens=args.filtered_tokens,
        database=args.database, out_dir=Path(args.out_dir), reseed=args.reseed,
        keep_db_settings=args.keep_db_settings)
    runner.run(opts)


def cmd_profile(args) -> None:
    from bench import profiling

    profiling.check_scenarios(args.scenario)
    opts = runner.Options(
        scenarios=args.scenario, workers=[1], duration=args.duration, connections=args.connections,
        threads=args.threads, warmup=args.warmup, login_connections=args.login_connections,
        database=args.database, keep_db_settings=args.keep_db_settings)
    index = profiling.run(opts, rate=args.rate, out_dir=Path(args.out_dir) if args.out_dir else None)
    print(index.read_text())
    print(f"wrote {index.parent}/: PROFILES.md, profile-<scenario>.txt and .raw", file=sys.stderr)


def cmd_report(args) -> None:
    from bench import report

    md_path, png_path = report.render(Path(args.json))
    print(md_path.read_text())
    print(f"wrote {md_path}" + (f" and {png_path}" if png_path else ""), file=sys.stderr)


def cmd_hello(args) -> None:
    from bench import hello

    hello.serve(args.port, args.workers)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Chatter load-testing kit")
    sub = parser.add_subparsers(dest="command", required=True)

    def db_opts(p) -> None:
        p.add_argument("--database", default=runner.BENCH_DATABASE,
                       help=f"database to seed and serve from (default {runner.BENCH_DATABASE}; it is wiped)")
        p.add_argument("--tokens", type=int, default=1000, help="sessions to open for the load scripts")
        p.add_argument("--cold-tokens", type=int, default=4000,
                       help="sessions of other users, read only by feed_cold (first reads of cold timelines)")
        p.add_argument("--filtered-tokens", type=int, default=100,
                       help="sessions of other users who each block and mute 100 accounts, read only by "
                            "feed_filtered and public_timeline_filtered")

    s = sub.add_parser("seed", help="wipe the bench database and fill it with a deterministic dataset")
    s.add_argument("--users", type=int, default=10_000)
    s.add_argument("--posts-per-user", type=int, default=100)
    s.add_argument("--follows-per-user", type=int, default=100)
    s.add_argument("--likes-per-user", type=int, default=20)
    s.add_argument("--comments-per-user", type=int, default=10)
    s.add_argument("--heavy-users", type=int, default=10, help="users 1..N follow --heavy-follows accounts")
    s.add_argument("--heavy-follows", type=int, default=1000)
    s.add_argument("--seed", type=int, default=1)
    db_opts(s)
    s.set_defaults(fn=cmd_seed)

    t = sub.add_parser("tokens", help="open fresh sessions and write var/bench/tokens.json and data.lua")
    db_opts(t)
    t.set_defaults(fn=cmd_tokens)

    r = sub.add_parser("run", help="start the servers, run the scenarios, write bench/results/<date>.*")
    r.add_argument("--scenario", nargs="+", default=[], metavar="NAME",
                   help="scenarios to run (default: all): " + ", ".join(runner.SCENARIOS))
    r.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    r.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    r.add_argument("--connections", type=int, default=64)
    r.add_argument("--threads", type=int, default=2, help="wrk threads")
    r.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured load before each scenario")
    r.add_argument("--login-connections", type=int, default=20)
    r.add_argument("--ws-sockets", type=int, default=10_000)
    r.add_argument("--chat-pairs", type=int, default=50)
    r.add_argument("--chat-rate", type=float, default=None,
                   help="messages/s in total (default 300 with one worker, 700 with more)")
    r.add_argument("--fanout-receivers", type=int, default=200)
    r.add_argument("--overload-connections", type=int, default=1024,
                   help="wrk connections of the overload phase (capped by the open-files limit)")
    r.add_argument("--out-dir", default=str(runner.RESULTS))
    r.add_argument("--reseed", action="store_true", help="seed the default dataset again first")
    r.add_argument("--keep-db-settings", action="store_true",
                   help="leave innodb_buffer_pool_size as it is (by default the run raises it to hold the "
                        "bench database, loads the indexes, and puts it back at the end)")
    db_opts(r)
    r.set_defaults(fn=cmd_run)

    f = sub.add_parser("profile", help="py-spy on the worker during scenarios (one worker): where the time goes")
    f.add_argument("--scenario", nargs="+", required=True, metavar="NAME",
                   help="HTTP scenarios to profile (not overload; feed_blocking and public_timeline_blocking "
                        "profile their filtered script)")
    f.add_argument("--duration", type=float, default=12.0, help="seconds of wrk per scenario (py-spy: 1 s less)")
    f.add_argument("--connections", type=int, default=64)
    f.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    f.add_argument("--out-dir", default=None,
                   help="where to write PROFILES.md and profile-<scenario>.txt/.raw "
                        "(default bench/results/<date>-profiles)")
    f.add_argument("--threads", type=int, default=2, help="wrk threads")
    f.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured load before each scenario")
    f.add_argument("--login-connections", type=int, default=20)
    f.add_argument("--database", default=runner.BENCH_DATABASE,
                   help="the seeded bench database (profile never seeds nor mints tokens)")
    f.add_argument("--keep-db-settings", action="store_true",
                   help="leave innodb_buffer_pool_size as it is (as `run --keep-db-settings`)")
    f.set_defaults(fn=cmd_profile)

    p = sub.add_parser("report", help="re-render the Markdown table and chart of a result JSON")
    p.add_argument("json")
    p.set_defaults(fn=cmd_report)

    h = sub.add_parser("hello-server", help="the ceiling: a bare aiohttp JSON handler")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--workers", type=int, default=1)
    h.set_defaults(fn=cmd_hello)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.fn(args)


if __name__ == "__main__":
    main()
