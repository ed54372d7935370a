"""The application factory, used by the CLI, gunicorn and the tests."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import aiohttp_cors
from aiohttp import web

import handlers
from server import accounts, deletion, replicas, timeline
from server.auth import check_secret
from server.config import Config, load_config
from server.db import Database
from server.housekeeping import housekeeping_ctx
from server.http.middlewares import pipeline_middleware, prepare_hook
from server.http.ratelimit import RateLimiter
from server.keys import BUS, CONFIG, DB, EXECUTOR, METRICS, REDIS, SERVICES
from server.media import uploads
from server.metrics import Metrics
from server.redis import Redis
from ws.bus import Bus, MemoryBus
from ws.socketio import setup as setup_socketio

log = logging.getLogger(__name__)


def create_app(config: Config | None = None, *, bus: Bus | None = None) -> web.Application:
    config = config or load_config()
    check_secret(config)
    app = web.Application(
        client_max_size=config.http.max_body,
    )
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app.middlewares.append(pipeline_middleware(config, app[METRICS]))  # authentication included
    if config.database.replicas:
        app.middlewares.append(replicas.middleware)
    app[SERVICES] = {}
    app.cleanup_ctx.extend([_executor_ctx, _db_ctx, _redis_ctx, replicas.ctx, _bus_ctx(bus), housekeeping_ctx])
    # The core's services with state of their own, then the HTTP routes that call them.
    for service in (accounts, timeline, uploads, deletion):
        service.setup(app)
    handlers.setup(app)
    app.on_response_prepare.append(prepare_hook(_setup_cors(app, config)))
    setup_socketio(app)  # after CORS: Engine.IO answers CORS for /socket.io/ from the same origins
    return app


async def _executor_ctx(app: web.Application) -> AsyncIterator[None]:
    # bcrypt and Pillow release the GIL; one core is left to the event loop.
    threads = app[CONFIG].server.blocking_threads or max(1, (os.cpu_count() or 2) - 1)
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="blocking")
    app[EXECUTOR] = executor
    yield
    executor.shutdown(wait=True, cancel_futures=True)


async def _db_ctx(app: web.Application) -> AsyncIterator[None]:
    db = await Database.connect(app[CONFIG])
    app[DB] = db
    app[METRICS].watch_pool(lambda: (db.pool.size, db.pool.freesize, db.pool.maxsize))
    yield
    await db.close()


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    app[REDIS] = Redis.from_config(app[CONFIG])
    app[METRICS].watch_breaker(app[REDIS].breaker)
    app[SERVICES]["ratelimit"] = RateLimiter(app[REDIS], app[CONFIG].ratelimit.enabled)
    yield
    await app[REDIS].close()


def _bus_ctx(bus: Bus | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        chosen = bus
        if chosen is None:
            if app[CONFIG].bus.backend == "redis":
                from ws.redis_bus import RedisBus

                chosen = RedisBus(app[CONFIG], app[REDIS].prefix, app[REDIS])
            else:
                chosen = MemoryBus()
        app[BUS] = chosen
        await chosen.start()
        yield
        await chosen.stop()

    return ctx


def _setup_cors(app: web.Application, config: Config):
    """CORS only for the configured origins; an unknown Origin gets no CORS headers at all.

    Returns aiohttp-cors's response handler, taken off app.on_response_prepare: the pipeline's
    own handler calls it for requests with an Origin only (prepare_hook)."""
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=True,
        expose_headers=("X-Request-ID", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                        "RateLimit-Reset", "Location"),
        allow_headers=("Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"),
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in config.http.cors_origins})
    for route in list(app.router.routes()):
        if route.method in ("OPTIONS", "HEAD") or route.resource is None:
            continue
        info = route.resource.get_info()
        if "prefix" in info:  # static files
            continue
        try:
            cors.add(route)
        except ValueError:
            pass  # already added (e.g. GET and HEAD on one resource)
    found = [h for h in app.on_response_prepare
             if type(getattr(h, "__self__", None)).__module__.startswith("aiohttp_cors")]
    (handler,) = found  # exactly one, or aiohttp-cors changed: fail at startup, not silently
    app.on_response_prepare.remove(handler)
    return handler
