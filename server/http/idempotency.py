"""Idempotency-Key for creates: the same key and body within 24 h replays the first response.

    return await idempotent(request, user_id, lambda: create_the_thing(request))

The key is claimed with INSERT IGNORE on (user_id, key_hash) before the create runs, so two
concurrent requests with one key can never both create: the second waits briefly for the
first to finish and replays its answer, or gets a 409 if it is still running. A create that
fails (any error) releases the key, so the client may retry it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from server.errors import BadRequest, Conflict, ValidationFailed
from server.keys import DB
from server.queries import QUERIES as Q

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# 1–255 printable ASCII characters, not only spaces (HTTP drops spaces around a header value).
KEY_PATTERN = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"
_KEY = re.compile(KEY_PATTERN)
# How long a duplicate waits for the first request to finish before answering 409.
WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What "the same request" means: method, path and body bytes."""
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


def request_key(request: web.Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise BadRequest(f"{HEADER} must be 1–{MAX_KEY_LENGTH} printable ASCII characters.")
    return key


async def idempotent(request: web.Request, user_id: int, create: Callable[[], Awaitable[web.Response]],
                     *, request_hash: bytes | None = None) -> web.Response:
    """Run create() once per (user, Idempotency-Key); replay its 2xx response for 24 h.

    request_hash defaults to a hash of method, path and the whole body (read and cached by
    aiohttp, so create() can read it again); streaming uploads pass their own fingerprint.
    """
    key = request_key(request)
    if key is None:
        return await create()
    if request_hash is None:
        request_hash = fingerprint(request.method, request.path, await request.read())
    db = request.app[DB]
    ident = {"user_id": user_id, "key_hash": hashlib.sha256(key.encode()).digest()}

    if not await db.execute(Q.idempotency.claim, {**ident, "request_hash": request_hash}):
        replay = await _existing(db, ident, request_hash)
        if replay is not None:
            return replay
        # The old record expired and was dropped: claim afresh (a racing twin may win it).
        if not await db.execute(Q.idempotency.claim, {**ident, "request_hash": request_hash}):
            replay = await _existing(db, ident, request_hash)
            if replay is not None:
                return replay
            raise Conflict(f"A request with this {HEADER} is in progress; retry shortly.")

    try:
        response = await create()
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.shield(db.execute(Q.idempotency.release, ident))
        raise
    if 200 <= response.status < 300 and isinstance(response.body, bytes | bytearray):
        await db.execute(Q.idempotency.finish, {**ident, "status": response.status,
                                                "body": bytes(response.body)})
    else:
        await db.execute(Q.idempotency.release, ident)
    return response


async def _existing(db, ident: dict, request_hash: bytes) -> web.Response | None:
    """The recorded answer for a key already claimed; None when the record had expired."""
    waited = 0.0
    while True:
        row = await db.fetchone(Q.idempotency.find, ident)
        if row is None:
            return None  # released by a failed first attempt: claim it again
        if row["expired"]:
            await db.execute(Q.idempotency.drop_expired, ident)
            return None
        if bytes(row["request_hash"]) != request_hash:
            raise ValidationFailed({HEADER: ["This key was used with a different request body."]},
                                   detail=f"The {HEADER} was already used for a different request.")
        if row["state"] == "done":
            return web.Response(body=bytes(row["response_body"]), status=row["response_status"],
                                content_type="application/json", headers={"Idempotent-Replayed": "true"})
        if waited >= WAIT_SECONDS:
            raise Conflict(f"A request with this {HEADER} is in progress; retry shortly.")
        await asyncio.sleep(POLL_SECONDS)
        waited += POLL_SECONDS
