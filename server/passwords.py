"""bcrypt hashing, always in the executor so the event loop never blocks."""

from __future__ import annotations

import asyncio

import bcrypt
from aiohttp import web

from server.keys import CONFIG, EXECUTOR

# Hashed for unknown logins so they cost the same time as a wrong password.
_DUMMY: dict[int, bytes] = {}


async def hash_password(app: web.Application, password: str) -> str:
    rounds = app[CONFIG].auth.bcrypt_rounds
    loop = asyncio.get_running_loop()
    hashed = await loop.run_in_executor(
        app[EXECUTOR], lambda: bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)))
    return hashed.decode()


async def verify_password(app: web.Application, password: str, hashed: str | None) -> bool:
    """Constant work whether or not the user exists (hashed=None checks a dummy hash)."""
    loop = asyncio.get_running_loop()
    rounds = app[CONFIG].auth.bcrypt_rounds
    if hashed is None:
        if rounds not in _DUMMY:
            _DUMMY[rounds] = await loop.run_in_executor(
                app[EXECUTOR], lambda: bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds)))
        target, real = _DUMMY[rounds], False
    else:
        target, real = hashed.encode(), True
    try:
        ok = await loop.run_in_executor(app[EXECUTOR], bcrypt.checkpw, password.encode(), target)
    except ValueError:  # malformed stored hash
        return False
    return ok and real
