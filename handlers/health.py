"""Operations: liveness, readiness, metrics, the OpenAPI document and offline API docs."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.errors import ServiceUnavailable
from server.http.openapi import build_spec, docs, setup_docs
from server.http.responses import json_response, raw_json
from server.keys import DB, METRICS, REDIS, SERVICES

routes = web.RouteTableDef()
_OK = b'{"status":"ok"}'
READY_TIMEOUT = 1.0


def setup(app: web.Application) -> None:
    # Swagger UI assets ship inside swagger-ui-py: the docs page needs no network.
    setup_docs(app, spec_url="/api/openapi.json", prefix="/api/docs", title="Chatter API")


@routes.get("/healthz")
@docs("Liveness: 200 while the process runs (no I/O)", tags=["operations"], responses={200: None})
async def healthz(request: web.Request) -> web.Response:
    return raw_json(_OK)


class NotReady(ServiceUnavailable):
    """The 503 problem, with each dependency's state beside the detail."""

    def __init__(self, detail: str, states: dict[str, str]):
        super().__init__(detail)
        self.states = states

    def body(self, request_id: str | None = None) -> dict:
        return {**super().body(request_id), **self.states}


async def _check(coro) -> str | None:
    try:
        await asyncio.wait_for(coro, READY_TIMEOUT)
        return None
    except Exception as exc:  # any failure means not ready
        return f"{type(exc).__name__}: {exc}"[:200]


async def _redis_check(app: web.Application) -> str | None:
    breaker = app[REDIS].breaker
    if not breaker.closed:  # calls fail fast and take their fallbacks; the probe is the breaker's
        return f"circuit breaker {breaker.describe()}"
    return await _check(app[REDIS].client.ping())


@routes.get("/readyz")
@docs("Readiness: 200 when MySQL and Redis answer within 1 s, else 503 naming the dependency: "
      '"mysql": "unavailable" (requests answer 503), "redis": "degraded" (its circuit breaker is '
      "open: requests are served from fallbacks)", tags=["operations"], responses={200: None, 503: None})
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    mysql, redis = await asyncio.gather(_check(app[DB].fetchval("SELECT 1")), _redis_check(app))
    states = {"mysql": "unavailable" if mysql else "ok", "redis": "degraded" if redis else "ok"}
    if mysql or redis:
        failed = {"mysql": mysql, "redis": redis}
        raise NotReady("Not ready: " + "; ".join(f"{k}: {v}" for k, v in failed.items() if v), states)
    return json_response({"status": "ok", **states})


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
