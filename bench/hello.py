"""The ceiling: a bare aiohttp handler returning a small JSON, served like the real server.

One worker: uvloop + `web.run_app` in this process (as `python -m server run`); more: gunicorn
with aiohttp's uvloop worker (as server/__main__.py does), so the comparison is like for like.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

BODY = b'{"hello": "world", "id": 1}'


async def hello(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/healthz", hello)
    return app


async def app() -> web.Application:
    """gunicorn entry point: `gunicorn bench.hello:app --worker-class aiohttp.GunicornUVLoopWebWorker`."""
    return make_app()


def serve(port: int, workers: int = 1, host: str = "127.0.0.1") -> None:
    if workers <= 1:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        web.run_app(make_app(), host=host, port=port, access_log=None, print=None)
        return
    argv = [sys.executable, "-m", "gunicorn", "bench.hello:app",
            "--worker-class", "aiohttp.GunicornUVLoopWebWorker", "--workers", str(workers),
            "--bind", f"{host}:{port}", "--access-logfile", "/dev/null", "--log-level", "warning"]
    os.execvp(argv[0], argv)
