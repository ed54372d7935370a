"""Command line: python -m server run | migrate | openapi | create-user | set-role | config."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys

from server.config import ROOT, ConfigError, load_config
from server.logs import setup_logging

log = logging.getLogger("server")


def _config(args, overrides=None):
    try:
        return load_config(args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        sys.exit(2)


def _local_services(args, config, overrides=None):
    """Point the config (and child processes, via the environment) at reachable services."""
    if args.no_local_services:
        return config
    from server.localsvc import ServiceError, ensure_services

    try:
        db_url, redis_url, started = ensure_services(config.database.url, config.redis.url, ROOT / "var")
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(3)
    if started:
        os.environ["CHATTER_DATABASE__URL"] = db_url
        os.environ["CHATTER_REDIS__URL"] = redis_url
        config = _config(args, overrides)
    return config


def cmd_migrate(args) -> None:
    from server.migrate import migrate

    config = _local_services(args, _config(args))
    applied = asyncio.run(migrate(config))
    print("applied: " + ", ".join(applied) if applied else "nothing to apply: the schema is up to date")


def cmd_run(args) -> None:
    overrides: dict = {}
    if args.port is not None:
        overrides.setdefault("http", {})["port"] = args.port
    if args.host is not None:
        overrides.setdefault("http", {})["host"] = args.host
    if args.workers is not None:
        overrides.setdefault("server", {})["workers"] = args.workers
        if args.workers > 1:
            overrides.setdefault("bus", {})["backend"] = "redis"
    config = _local_services(args, _config(args, overrides), overrides)
    setup_logging(config.log.level, config.log.json)
    from server.migrate import migrate

    asyncio.run(migrate(config))
    if config.server.workers == 1:
        _run_single(config)
    else:
        _run_gunicorn(config)


def _run_single(config) -> None:
    import uvloop
    from aiohttp import web

    from server.app import create_app

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.info("serving on http://%s:%s", config.http.host, config.http.port)
    web.run_app(create_app(config), host=config.http.host, port=config.http.port,
                shutdown_timeout=config.server.shutdown_timeout, access_log=None, print=None)


def _run_gunicorn(config) -> None:
    env = dict(os.environ)
    env["CHATTER_SERVER__WORKERS"] = str(config.server.workers)
    env["CHATTER_BUS__BACKEND"] = "redis"
    env["CHATTER_HTTP__PORT"] = str(config.http.port)
    env["CHATTER_HTTP__HOST"] = config.http.host
    argv = [sys.executable, "-m", "gunicorn", "server.wsgi:app",
            "--worker-class", "aiohttp.GunicornUVLoopWebWorker",
            "--workers", str(config.server.workers),
            "--bind", f"{config.http.host}:{config.http.port}",
            "--graceful-timeout", str(int(config.server.shutdown_timeout)),
            "--chdir", str(ROOT)]
    # An access log only at DEBUG: with any --access-logfile (even /dev/null) aiohttp's worker formats
    # a line per request, written to nowhere (seen in the ws_chat profile, profiles/chat/).
    if config.log.level == "DEBUG":
        argv[-2:-2] = ["--access-logfile", "-"]
    log.info("serving on http://%s:%s with %d workers", config.http.host, config.http.port,
             config.server.workers)
    os.execvpe(argv[0], argv, env)


def cmd_openapi(args) -> None:
    from server.app import create_app
    from server.http.openapi import build_spec

    print(json.dumps(build_spec(create_app(_config(args))), indent=2))


def cmd_config(args) -> None:
    print(json.dumps(_config(args).redacted(), indent=2))


def cmd_create_user(args) -> None:
    config = _local_services(args, _config(args))
    password = args.password or os.environ.get("CHATTER_NEW_PASSWORD") or getpass.getpass("Password: ")

    async def go() -> None:
        import bcrypt

        from server.db import Database
        from server.http.schemas import email_rule, password_rule
        from server.migrate import migrate
        from server.queries import QUERIES as Q

        email_rule(args.email)
        password_rule(password)
        await migrate(config)
        db = await Database.connect(config)
        try:
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(config.auth.bcrypt_rounds)).decode()
            uid = await db.insert(Q.users.create, {"username": args.username, "email": args.email,
                                                   "password_hash": hashed, "full_name": args.full_name})
            print(f"created user {args.username} with id {uid}")
        finally:
            await db.close()

    asyncio.run(go())


def cmd_set_role(args) -> None:
    config = _local_services(args, _config(args))

    async def go() -> None:
        from server.db import Database
        from server.errors import ApiError
        from server.migrate import migrate
        from server.moderation import set_role

        await migrate(config)
        db = await Database.connect(config)
        try:
            done = await set_role(db, args.username, args.role)
        except ApiError as exc:
            print(f"error: {exc.detail or exc.title}", file=sys.stderr)
            sys.exit(1)
        finally:
            await db.close()
        print(f"{done['username']} (id {done['id']}): {done['previous']} -> {done['role']}")

    asyncio.run(go())


def cmd_reindex(args) -> None:
    config = _local_services(args, _config(args))

    async def go() -> None:
        from aiohttp import web

        from server.app import create_app
        from server.migrate import migrate
        from server.reindex import reindex

        await migrate(config)
        runner = web.AppRunner(create_app(config))
        await runner.setup()  # the app's services (MySQL, Redis), without serving
        try:
            done = await reindex(runner.app)
        finally:
            await runner.cleanup()
        print("reindexed: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in done.items()))

    asyncio.run(go())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description="Chatter server")
    parser.add_argument("--config", default=None, help="config file (default: config.yaml)")
    parser.add_argument("--no-local-services", action="store_true",
                        help="never start private MariaDB/Redis; fail if the configured ones are down")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, then serve the API")
    run.add_argument("--workers", type=int, default=None)
    run.add_argument("--port", type=int, default=None)
    run.add_argument("--host", default=None)
    run.set_defaults(fn=cmd_run)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(fn=cmd_migrate)
    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(fn=cmd_openapi)
    sub.add_parser("config", help="print the effective configuration, secrets redacted").set_defaults(
        fn=cmd_config)
    cu = sub.add_parser("create-user", help="create an account")
    cu.add_argument("username")
    cu.add_argument("email")
    cu.add_argument("--password", default=None)
    cu.add_argument("--full-name", default=None)
    cu.set_defaults(fn=cmd_create_user)
    sr = sub.add_parser("set-role", help="make an account a user, moderator or admin")
    sr.add_argument("username")
    sr.add_argument("role", choices=["user", "moderator", "admin"])
    sr.set_defaults(fn=cmd_set_role)
    sub.add_parser("reindex", help="read the #tags and @mentions of every post and comment again (a database "
                   "from before they were parsed); nobody is notified; idempotent").set_defaults(fn=cmd_reindex)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.fn(args)


if __name__ == "__main__":
    main()
