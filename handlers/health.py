"""Operations: liveness, readiness, metrics, the OpenAPI document and offline API docs."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.errors import ServiceUnavailable
from server.http.openapi import build_spec, docs, setup_docs
from server.http.responses import json_response
from server.keys import DB, METRICS, REDIS, SERVICES

routes = web.RouteTableDef()
READY_TIMEOUT = 1.0


def setup(app: web.Application) -> None:
    # Swagger UI assets ship inside swagger-ui-py: the docs page needs no network.
    setup_docs(app, spec_url="/api/openapi.json", prefix="/api/docs", title="Chatter API")


@routes.get("/healthz")
@docs("Liveness: 200 while the process runs (no I/O)", tags=["operations"], responses={200: None})
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _check(name: str, coro) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(coro, READY_TIMEOUT)
        return name, None
    except Exception as exc:  # any failure means not ready
        return name, f"{type(exc).__name__}: {exc}"[:200]


@routes.get("/readyz")
@docs("Readiness: 200 when MySQL and Redis answer within 1 s, else 503", tags=["operations"],
      responses={200: None, 503: None})
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    results = await asyncio.gather(
        _check("mysql", app[DB].fetchval("SELECT 1")),
        _check("redis", app[REDIS].client.ping()),
    )
    failed = {name: err for name, err in results if err}
    if failed:
        raise ServiceUnavailable("Not ready: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return json_response({"status": "ok", "mysql": "ok", "redis": "ok"})


@routes.get("/metrics")
@docs("Prometheus metrics", tags=["operations"], responses={200: None})
async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


@routes.get("/api/openapi.json")
@docs("This OpenAPI 3.1 document", tags=["operations"], responses={200: None})
async def openapi(request: web.Request) -> web.Response:
    # The route table is frozen once serving starts, so the document is built once.
    services = request.app[SERVICES]
    if "openapi" not in services:
        services["openapi"] = json_response(build_spec(request.app)).body
    return web.Response(body=services["openapi"], content_type="application/json")
