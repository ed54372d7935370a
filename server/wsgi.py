"""gunicorn entry point: `gunicorn server.wsgi:app --worker-class aiohttp.GunicornUVLoopWebWorker`."""

from __future__ import annotations

from aiohttp import web

from server.app import create_app
from server.config import load_config
from server.logs import setup_logging


async def app() -> web.Application:
    config = load_config()
    setup_logging(config.log.level, config.log.json)
    return create_app(config)
