"""Request pipeline: one layer for id, metrics, shedding, timeout and errors; one for authentication."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid

import redis.exceptions
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from server.accounts import session_used
from server.config import Config
from server.db import is_unavailable
from server.errors import ApiError, BadRequest, NotFound, ServiceUnavailable, Unauthorized, problem
from server.http.identity import authenticate
from server.http.openapi import AUTH_REQUIRED, is_id_name
from server.http.responses import problem_response
from server.http.schemas import ID_MAX, ID_MIN
from server.keys import CONFIG, PRINCIPAL, REQUEST_ID, SERVICES
from server.logs import request_id_var
from server.metrics import Metrics

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Request ids: a random per-process prefix and a counter, unique without os.urandom per request.
_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


def _is_redis_down(exc: BaseException) -> bool:
    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError)


def _request_id(request: web.Request) -> str:
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _REQUEST_ID.match(incoming) else f"{_ID_PREFIX}{next(_ID_COUNTER):x}"


def _error_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """Every non-2xx as application/problem+json (a 500 carries only the request id).

    A route may render its own 4xx bodies: a handler attribute `__render_error__(request, exc)`
    (the Conduit routes answer {"errors": {...}} that way), also for aiohttp's own 4xx (e.g. a
    body over client_max_size).
    """
    rid = request.get(REQUEST_ID)
    if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
        # Malformed framing inside a body aiohttp parses for us (e.g. a multipart part header).
        exc = BadRequest(f"Malformed request: {exc.message}"[:300])
    if isinstance(exc, web.HTTPException):
        exc = _http_error(exc)
    if isinstance(exc, ApiError):
        render = getattr(request.match_info.handler, "__render_error__", None)
        if render is not None and exc.status < 500:
            return render(request, exc)
        return problem_response(exc.body(rid if exc.status >= 500 else None), exc.headers)
    if is_unavailable(exc) or _is_redis_down(exc):
        log.warning("dependency unavailable on %s %s: %r", request.method, request.path, exc)
        err = ServiceUnavailable()
        return problem_response(err.body(rid), err.headers)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(problem(500, "Internal Server Error", "An unexpected error occurred.",
                                    slug="internal", request_id=rid))


class _HttpError(ApiError):
    """An aiohttp HTTPException (404 no route, 405, 413 body too large) as an ApiError."""

    slug = None  # type "about:blank": the status says it all

    def __init__(self, status: int, title: str, detail: str | None, headers: dict[str, str]):
        self.status = status
        super().__init__(detail, headers=headers, title=title)


def _http_error(exc: web.HTTPException) -> ApiError:
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
    if exc.status == 413:
        detail = "The request body is too large."
    return _HttpError(exc.status, exc.reason, detail, headers)


def check_path_ids(request: web.Request) -> None:
    """A path id (`{id}`, `{user_id}`, ...) that is not a row id in range names nothing: 404.

    Before any SQL, so an id past BIGINT never reaches MariaDB (and `/x/0` or `/x/abc` in a
    route that takes any text is the same 404 as a missing row).
    """
    for name, value in request.match_info.items():
        if is_id_name(name) and not (value.isascii() and value.isdigit() and len(value) <= 19
                                     and ID_MIN <= int(value) <= ID_MAX):
            noun = _noun(request.match_info.route.resource.canonical, name)
            raise NotFound(f"No such {noun}.", resource=noun)


def _noun(path: str, param: str) -> str:
    """What a path id names: `{user_id}` a user; `/comments/{id}` a comment."""
    if param != "id":
        return param.removesuffix("_id")
    segments = path.split("/")
    before = segments[segments.index("{id}") - 1] if "{id}" in segments else ""
    return before.removesuffix("s") if before and not before.startswith("{") else "resource"


_NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics"})


def pipeline_middleware(config: Config, metrics: Metrics):
    """Request id → metrics → load shedding → timeout → problem+json errors, as one layer.

    One middleware rather than five: each aiohttp middleware layer costs a coroutine and a call
    on every request, which showed as ~40 % of a request that does no I/O.
    Shedding: past http.max_in_flight requests in this process, a 503 at once (overload sheds
    work instead of queueing without bound). Timeout: a request running longer than
    http.request_timeout is a 503. Sockets live long, uploads are bounded by their size limits and
    streamed downloads (handlers marked `__long_lived__`, the account export) by their client's
    pace, so none of them is timed; health and metrics are never shed.
    """
    max_in_flight, timeout = config.http.max_in_flight, config.http.request_timeout
    in_flight = 0

    @web.middleware
    async def pipeline(request: web.Request, handler):
        nonlocal in_flight
        rid = request[REQUEST_ID] = _request_id(request)
        token = request_id_var.set(rid)
        route = request.match_info.route
        template = route.resource.canonical if route.resource is not None else "unmatched"
        long_lived = (request.headers.get("Upgrade", "").lower() == "websocket"
                      or request.content_type.startswith("multipart/")
                      or getattr(request.match_info.handler, "__long_lived__", False))
        metrics.in_flight.inc()
        start = time.perf_counter()
        status = 500
        try:
            try:
                counted = not long_lived and request.path not in _NEVER_SHED
                if counted and in_flight >= max_in_flight:
                    metrics.shed.inc()
                    raise ServiceUnavailable("The server is overloaded; retry shortly.", retry_after=1)
                in_flight += counted
                try:
                    if long_lived:
                        response = await handler(request)
                    else:
                        async with asyncio.timeout(timeout):
                            response = await handler(request)
                except TimeoutError:
                    raise ServiceUnavailable("The request took too long; retry shortly.", retry_after=2) from None
                finally:
                    in_flight -= counted
            except web.HTTPException as exc:
                if exc.status < 400:
                    status = exc.status
                    raise
                response = _error_response(request, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                response = _error_response(request, exc)
            status = response.status
            return response
        finally:
            request_id_var.reset(token)
            metrics.in_flight.dec()
            metrics.latency.labels(request.method, template, str(status)).observe(time.perf_counter() - start)

    return pipeline


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@web.middleware
async def auth_middleware(request: web.Request, handler):
    """Bearer token (or browser cookie) → request[PRINCIPAL]; then the per-user write budget.

    Routes documented auth="required" answer 401 without a principal. Writes by a user spend
    ratelimit.writes_user (auth routes have limits of their own).
    """
    try:
        principal = await authenticate(request)
    except Unauthorized:
        if not _bad_token_is_anonymous(request):
            raise
        principal = None
    if principal is None:
        cookie_auth = request.app.get(COOKIE_AUTH)
        if cookie_auth is not None:
            principal = await cookie_auth(request)
    request[PRINCIPAL] = principal
    if principal is not None:
        session_used(request.app, principal)
    if principal is None:
        if getattr(request.match_info.handler, "__auth__", None) == AUTH_REQUIRED:
            raise Unauthorized()
        check_path_ids(request)
        return await handler(request)
    check_path_ids(request)
    if request.method not in _UNSAFE or request.path.startswith("/api/v1/auth/"):
        return await handler(request)
    limiter = request.app[SERVICES]["ratelimit"]
    state = await limiter.hit("writes_user", principal.user_id, request.app[CONFIG].ratelimit.writes_user)
    response = await handler(request)
    if not response.prepared:
        response.headers.update(state.headers())
    return response


def _bad_token_is_anonymous(request: web.Request) -> bool:
    """Conduit reads that need no login answer an invalid or expired token as anonymous: every
    Conduit front end sends its stored token on every request, and a 401 there logs the user out
    of pages anyone may see. The native API and routes that need a user keep the 401."""
    path = request.path
    return (path.startswith("/api/") and not path.startswith("/api/v1/")
            and getattr(request.match_info.handler, "__auth__", None) != AUTH_REQUIRED)


# Optional browser-session authenticator (aiohttp-session), installed by browser_session.setup:
# async def cookie_auth(request) -> server.auth.Principal | None
COOKIE_AUTH = web.AppKey("cookie_auth", object)


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Headers on every response, including errors, static files and WebSocket upgrades."""
    rid = request.get(REQUEST_ID)
    if rid:
        response.headers["X-Request-ID"] = rid
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
