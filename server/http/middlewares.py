"""Request pipeline: one layer for id, metrics, shedding, timeout and errors; one for authentication."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid
from typing import NamedTuple

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


def check_path_ids(request: web.Request, names: tuple[str, ...] | None = None) -> None:
    """A path id (`{id}`, `{user_id}`, ...) that is not a row id in range names nothing: 404.

    Before any SQL, so an id past BIGINT never reaches MariaDB (and `/x/0` or `/x/abc` in a
    route that takes any text is the same 404 as a missing row). `names`: the route's id
    parameters when known (the pipeline keeps them per route).
    """
    match_info = request.match_info
    for name in names if names is not None else [n for n in match_info if is_id_name(n)]:
        value = match_info[name]
        if not (value.isascii() and value.isdigit() and len(value) <= 19 and ID_MIN <= int(value) <= ID_MAX):
            noun = _noun(match_info.route.resource.canonical, name)
            raise NotFound(f"No such {noun}.", resource=noun)


def _noun(path: str, param: str) -> str:
    """What a path id names: `{user_id}` a user; `/comments/{id}` a comment."""
    if param != "id":
        return param.removesuffix("_id")
    segments = path.split("/")
    before = segments[segments.index("{id}") - 1] if "{id}" in segments else ""
    return before.removesuffix("s") if before and not before.startswith("{") else "resource"


_NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics"})


class _Route(NamedTuple):
    """What the pipeline needs of a route, computed on its first request."""

    template: str  # the metrics label
    long_lived: bool  # never timed (a streamed download)
    shed: bool  # counted against http.max_in_flight
    auth_required: bool
    id_params: tuple[str, ...]


_UNMATCHED = _Route("unmatched", False, True, False, ())


def _route_of(request: web.Request, cache: dict) -> _Route:
    match_info = request.match_info
    route = match_info.route
    info = cache.get(route)
    if info is None:
        if route.resource is None:  # 404/405: a new route object per request, never cached
            return _UNMATCHED
        handler = match_info.handler
        template = route.resource.canonical
        info = cache[route] = _Route(
            template, bool(getattr(handler, "__long_lived__", False)), template not in _NEVER_SHED,
            getattr(handler, "__auth__", None) == AUTH_REQUIRED, tuple(n for n in match_info if is_id_name(n)))
    return info


class _Deadlines:
    """Request timeouts kept in a dict and enforced by one periodic sweep.

    `asyncio.timeout()` per request costs a Timeout object, a timer in the loop's heap and its
    cancellation (~5 % of a request that does no I/O). Here a request costs a dict insert and
    delete; a sweep every timeout/10 (at most 1 s, only while requests are in flight) cancels
    the tasks past their deadline, so a request times out between `timeout` and 1.1 × timeout
    (timeout + 1 s at most). The cancellation is asyncio.timeout's: the task is cancelled, and
    uncancelled when the CancelledError reaches the pipeline, which answers 503.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.every = min(1.0, timeout / 10)
        self.tasks: dict[asyncio.Task, float] = {}
        self.expired: set[asyncio.Task] = set()
        self._sweeping = False

    def add(self, task: asyncio.Task, now: float) -> None:
        self.tasks[task] = now + self.timeout
        if not self._sweeping:
            self._sweeping = True
            asyncio.get_running_loop().call_later(self.every, self._sweep)

    def _sweep(self) -> None:
        now = time.perf_counter()
        for task, deadline in list(self.tasks.items()):
            if deadline <= now and task not in self.expired and not task.done():
                self.expired.add(task)
                task.cancel()
        if self.tasks:
            asyncio.get_running_loop().call_later(self.every, self._sweep)
        else:
            self._sweeping = False

    def timed_out(self, task: asyncio.Task) -> bool:
        """On a CancelledError: True when it was this deadline's alone (then it is taken back)."""
        if task not in self.expired:
            return False
        self.expired.discard(task)
        return task.uncancel() == 0

    def done(self, task: asyncio.Task) -> None:
        self.tasks.pop(task, None)
        if self.expired and task in self.expired:  # the handler swallowed the cancellation
            self.expired.discard(task)
            task.uncancel()


def pipeline_middleware(config: Config, metrics: Metrics):
    """Request id → metrics → load shedding → timeout → problem+json errors → authentication →
    path ids → per-user write budget, as one layer.

    One middleware rather than several: each aiohttp middleware layer costs a coroutine and a
    call on every request. What depends only on the route (metrics label, timed or not, auth
    required, id parameters) is computed on its first request.
    Shedding: past http.max_in_flight requests in this process, a 503 at once (overload sheds
    work instead of queueing without bound). Timeout: a request running longer than
    http.request_timeout is a 503 (see _Deadlines). Sockets live long, uploads are bounded by
    their size limits and streamed downloads (handlers marked `__long_lived__`, the account
    export) by their client's pace, so none of them is timed; health and metrics are never shed.
    """
    max_in_flight = config.http.max_in_flight
    deadlines = _Deadlines(config.http.request_timeout)
    routes: dict[object, _Route] = {}
    in_flight = 0  # counted against max_in_flight
    served = 0  # every request in progress: the in-flight gauge reads it
    metrics.in_flight.set_function(lambda: served)
    observe = metrics.requests.observe

    @web.middleware
    async def pipeline(request: web.Request, handler):
        nonlocal in_flight, served
        start = time.perf_counter()
        rid = request[REQUEST_ID] = _request_id(request)
        token = request_id_var.set(rid)
        route = _route_of(request, routes)
        headers = request.headers
        long_lived = route.long_lived or (
            "Upgrade" in headers and headers["Upgrade"].lower() == "websocket") or (
            "Content-Type" in headers and request.content_type.startswith("multipart/"))
        served += 1
        status = 500
        task = asyncio.current_task()
        try:
            try:
                counted = not long_lived and route.shed
                if counted and in_flight >= max_in_flight:
                    metrics.shed.inc()
                    raise ServiceUnavailable("The server is overloaded; retry shortly.", retry_after=1)
                in_flight += counted
                if not long_lived:
                    deadlines.add(task, start)
                try:
                    response = await _authenticated(request, handler, route)
                except asyncio.CancelledError:
                    if not long_lived and deadlines.timed_out(task):
                        raise ServiceUnavailable("The request took too long; retry shortly.", retry_after=2) from None
                    raise
                finally:
                    in_flight -= counted
                    if not long_lived:
                        deadlines.done(task)
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
            served -= 1
            observe(request.method, route.template, status, time.perf_counter() - start)

    return pipeline


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _authenticated(request: web.Request, handler, route: _Route):
    """Bearer token (or browser cookie) → request[PRINCIPAL]; then the per-user write budget.

    Routes documented auth="required" answer 401 without a principal. Writes by a user spend
    ratelimit.writes_user (auth routes have limits of their own).
    """
    try:
        principal = await authenticate(request)
    except Unauthorized:
        if not _bad_token_is_anonymous(request, route):
            raise
        principal = None
    if principal is None and "Cookie" in request.headers:
        cookie_auth = request.app.get(COOKIE_AUTH)
        if cookie_auth is not None:
            principal = await cookie_auth(request)
    request[PRINCIPAL] = principal
    if principal is None:
        if route.auth_required:
            raise Unauthorized()
        if route.id_params:
            check_path_ids(request, route.id_params)
        return await handler(request)
    session_used(request.app, principal)
    if route.id_params:
        check_path_ids(request, route.id_params)
    if request.method not in _UNSAFE or request.path.startswith("/api/v1/auth/"):
        return await handler(request)
    limiter = request.app[SERVICES]["ratelimit"]
    state = await limiter.hit("writes_user", principal.user_id, request.app[CONFIG].ratelimit.writes_user)
    response = await handler(request)
    if not response.prepared:
        response.headers.update(state.headers())
    return response


def _bad_token_is_anonymous(request: web.Request, route: _Route) -> bool:
    """Conduit reads that need no login answer an invalid or expired token as anonymous: every
    Conduit front end sends its stored token on every request, and a 401 there logs the user out
    of pages anyone may see. The native API and routes that need a user keep the 401."""
    path = request.path
    return path.startswith("/api/") and not path.startswith("/api/v1/") and not route.auth_required


# Optional browser-session authenticator (aiohttp-session), installed by browser_session.setup:
# async def cookie_auth(request) -> server.auth.Principal | None
COOKIE_AUTH = web.AppKey("cookie_auth", object)


_SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                     ("Referrer-Policy", "no-referrer"))


def prepare_hook(cors_prepare=None):
    """The one on_response_prepare handler: headers on every response, including errors, static
    files and WebSocket upgrades; CORS headers (aiohttp-cors's handler) only for a request with
    an Origin, since without one that handler's route lookups only end in "nothing to do"."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        rid = request.get(REQUEST_ID)
        if rid:
            headers["X-Request-ID"] = rid
        for name, value in _SECURITY_HEADERS:
            if name not in headers:
                headers[name] = value
        if cors_prepare is not None and "Origin" in request.headers:
            await cors_prepare(request, response)

    return on_prepare
