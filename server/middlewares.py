"""Request pipeline: request id → metrics → problem+json errors → timeout → authentication."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid

import redis.exceptions
from aiohttp import web

from server import auth
from server.db import is_unavailable
from server.errors import ApiError, ServiceUnavailable, Unauthorized, problem
from server.keys import CONFIG, METRICS, PRINCIPAL, REQUEST_ID, SERVICES
from server.logs import request_id_var
from server.openapi import AUTH_REQUIRED
from server.responses import problem_response

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Request ids: a random per-process prefix and a counter, unique without os.urandom per request.
_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


@web.middleware
async def request_id_middleware(request: web.Request, handler):
    incoming = request.headers.get("X-Request-ID", "")
    rid = incoming if _REQUEST_ID.match(incoming) else f"{_ID_PREFIX}{next(_ID_COUNTER):x}"
    request[REQUEST_ID] = rid
    token = request_id_var.set(rid)
    try:
        return await handler(request)
    finally:
        request_id_var.reset(token)


@web.middleware
async def metrics_middleware(request: web.Request, handler):
    metrics = request.app[METRICS]
    route = request.match_info.route
    template = route.resource.canonical if route.resource is not None else "unmatched"
    metrics.in_flight.inc()
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.in_flight.dec()
        metrics.latency.labels(request.method, template, str(status)).observe(time.perf_counter() - start)


def _is_redis_down(exc: BaseException) -> bool:
    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Every non-2xx becomes application/problem+json; a 500 carries only the request id."""
    rid = request.get(REQUEST_ID)
    try:
        return await handler(request)
    except ApiError as exc:
        return problem_response(exc.body(), exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
        if exc.status == 413:
            detail = "The request body is too large."
        return problem_response(problem(exc.status, exc.reason, detail), headers)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_unavailable(exc) or _is_redis_down(exc):
            log.warning("dependency unavailable on %s %s: %r", request.method, request.path, exc)
            err = ServiceUnavailable()
            return problem_response(err.body(rid), err.headers)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(problem(500, "Internal Server Error", "An unexpected error occurred.",
                                        slug="internal", request_id=rid))


_NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics"})


def shed_middleware(max_in_flight: int):
    """Past max_in_flight requests in this process, answer 503 at once: overload sheds work."""
    in_flight = 0

    @web.middleware
    async def middleware(request: web.Request, handler):
        nonlocal in_flight
        if request.path in _NEVER_SHED or request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        if in_flight >= max_in_flight:
            request.app[METRICS].shed.inc()
            raise ServiceUnavailable("The server is overloaded; retry shortly.", retry_after=1)
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return middleware


@web.middleware
async def timeout_middleware(request: web.Request, handler):
    """Shed requests that run too long (503) instead of letting them queue without bound."""
    # Sockets live long, and uploads are bounded by their size limits instead (a slow link
    # sending a large video must not be cut off mid-body).
    if request.headers.get("Upgrade", "").lower() == "websocket" or request.content_type.startswith("multipart/"):
        return await handler(request)
    try:
        async with asyncio.timeout(request.app[CONFIG].http.request_timeout):
            return await handler(request)
    except TimeoutError:
        raise ServiceUnavailable("The request took too long; retry shortly.", retry_after=2) from None


@web.middleware
async def auth_middleware(request: web.Request, handler):
    """Bearer token → request["principal"]; routes documented auth="required" answer 401 without one."""
    principal = await auth.authenticate(request)
    if principal is None:
        cookie_auth = request.app.get(COOKIE_AUTH)
        if cookie_auth is not None:
            principal = await cookie_auth(request)
    request[PRINCIPAL] = principal
    route_handler = request.match_info.handler
    if principal is None and getattr(route_handler, "__auth__", None) == AUTH_REQUIRED:
        raise Unauthorized()
    return await handler(request)


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@web.middleware
async def write_limit_middleware(request: web.Request, handler):
    """Per-user budget for writes (ratelimit.writes_user); auth routes have their own limits."""
    principal = request.get(PRINCIPAL)
    if principal is None or request.method not in _UNSAFE or request.path.startswith("/api/v1/auth/"):
        return await handler(request)
    limiter = request.app[SERVICES]["ratelimit"]
    state = await limiter.hit("writes_user", principal.user_id, request.app[CONFIG].ratelimit.writes_user)
    response = await handler(request)
    if not response.prepared:
        response.headers.update(state.headers())
    return response


# Optional browser-session authenticator (aiohttp-session), installed by the accounts area:
# async def cookie_auth(request) -> auth.Principal | None
COOKIE_AUTH = web.AppKey("cookie_auth", object)


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Headers on every response, including errors, static files and WebSocket upgrades."""
    rid = request.get(REQUEST_ID)
    if rid:
        response.headers["X-Request-ID"] = rid
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
