"""Accounts: registration, login and the sessions it opens, refresh rotation, logout, passwords
(change, reset by mail), the Conduit account edit, and single-use WebSocket tickets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pymysql
from aiohttp import web

from server import events, present, users
from server.auth import (
    BROWSER,
    CONDUIT,
    Principal,
    encode_token,
    forget_sessions,
    hash_token,
    new_opaque_token,
    session_active,
    session_cache_ctx,
)
from server.config import Config
from server.db import Conn, error_code
from server.errors import AccountSuspended, BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from server.formats import iso
from server.http.pagination import PageParams, make_page
from server.http.ratelimit import RateLimiter
from server.keys import CONFIG, DB, REDIS, SERVICES
from server.mailer import Mailer, create_mailer
from server.media.uploads import delete_unused_files
from server.passwords import gate as password_gate
from server.passwords import hash_password, verify_password
from server.present import media_url
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)
# Background password-reset work, awaited on shutdown so no mail is lost.
RESET_TASKS = web.AppKey("reset_tasks", set)
# How often the sessions that served requests get their last_used_at written (seconds).
SEEN_FLUSH_EVERY = 30.0


@dataclass(frozen=True, slots=True)
class Client:
    """Who is asking: recorded on the sessions it opens; its address is what IP throttles count."""

    user_agent: str | None = None
    ip: str | None = None

    @property
    def ident(self) -> str:
        return self.ip or "-"


class Taken(Conflict):
    """The username or email of a new or edited account is already in use (409).

    `found` names what a read after the refused write saw taken; the message also counts the
    unique key the database named, which a read cannot miss.
    """

    def __init__(self, found: set[str], named: set[str] = frozenset()):
        errors: dict[str, list[str]] = {}
        if "username" in found | named:
            errors["username"] = ["This username is taken."]
        if "email" in found | named:
            errors["email"] = ["This email is already registered."]
        super().__init__("Username or email is already taken.", errors=errors)
        self.found = found


def setup(app: web.Application) -> None:
    """Called at app creation: the set of reset mails in flight, drained on shutdown; the record
    of sessions in use, flushed to MySQL periodically and at cleanup; this process's session
    cache (server/auth.py), kept true by revocations on the bus."""
    app[RESET_TASKS] = set()
    app[SERVICES]["seen_sessions"] = SeenSessions(app)

    async def drain(app: web.Application) -> None:
        if tasks := app[RESET_TASKS]:
            await asyncio.wait(tasks, timeout=10)

    app.on_shutdown.append(drain)
    app.cleanup_ctx.extend([_seen_ctx, session_cache_ctx])


class SeenSessions:
    """Which sessions served a request since the last flush, written as last_used_at in one
    UPDATE every SEEN_FLUSH_EVERY seconds. Writing the row on every request would put a write
    on the hot read path; noting an id in a set costs nothing, and "last used" to the half
    minute is what a session list needs."""

    def __init__(self, app: web.Application):
        self.app = app
        self.ids: set[int] = set()

    def note(self, session_id: int) -> None:
        self.ids.add(session_id)

    async def flush(self) -> int:
        ids, self.ids = self.ids, set()
        if not ids:
            return 0
        try:
            return await self.app[DB].execute(Q.sessions.mark_used, {"ids": sorted(ids)})
        except Exception as exc:  # MySQL away: keep them for the next flush
            self.ids |= ids
            log.warning("could not record session use: %s", exc)
            return 0


async def _seen_ctx(app: web.Application) -> AsyncIterator[None]:
    seen: SeenSessions = app[SERVICES]["seen_sessions"]

    async def loop() -> None:
        while True:
            await asyncio.sleep(SEEN_FLUSH_EVERY)
            await seen.flush()

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await seen.flush()


def session_used(app: web.Application, principal: Principal) -> None:
    """Note that a request was served for this session (its last_used_at moves on the next flush)."""
    seen = app[SERVICES].get("seen_sessions")
    if seen is not None:
        seen.note(principal.session_id)


def limiter(app: web.Application) -> RateLimiter:
    services = app[SERVICES]
    if "ratelimit" not in services:
        services["ratelimit"] = RateLimiter(app[REDIS], app[CONFIG].ratelimit.enabled)
    return services["ratelimit"]


def mailer(app: web.Application) -> Mailer:
    services = app[SERVICES]
    if "mailer" not in services:
        services["mailer"] = create_mailer(app[CONFIG])
    return services["mailer"]


# --- sessions ---------------------------------------------------------------------------------

async def create_session(conn: Conn, config: Config, *, user_id: int, kind: str = "api",
                         user_agent: str | None = None, ip: str | None = None) -> dict:
    """Insert a session and its first refresh token; return the token response body parts."""
    ttl = config.auth.conduit_ttl if kind == CONDUIT else config.auth.refresh_ttl
    session_id = await conn.insert(Q.sessions.create, {
        "user_id": user_id, "kind": kind, "user_agent": (user_agent or "")[:255] or None,
        "ip": ip, "ttl": ttl})
    refresh, refresh_hash = new_opaque_token()
    await conn.execute(Q.sessions.add_refresh, {"token_hash": refresh_hash, "session_id": session_id})
    return token_pair(config, user_id=user_id, session_id=session_id, refresh=refresh, kind=kind)


def token_pair(config: Config, *, user_id: int, session_id: int, refresh: str, kind: str = "api") -> dict:
    ttl = config.auth.conduit_ttl if kind == CONDUIT else config.auth.access_ttl
    return {
        "access_token": encode_token(config, user_id=user_id, session_id=session_id, ttl=ttl, kind=kind),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": ttl,
        "session_id": session_id,
    }


async def issue_session(app: web.Application, user_id: int, client: Client, *, kind: str = "api",
                        conn: Conn | None = None, with_session_id: bool = False) -> dict:
    """A new session for user_id: {user, access_token, refresh_token, token_type, expires_in}."""
    meta = {"user_id": user_id, "kind": kind, "user_agent": client.user_agent, "ip": client.ip}
    if conn is None:
        async with app[DB].transaction() as tx:
            tokens = await create_session(tx, app[CONFIG], **meta)
            user = await present.user(tx, app, user_id, with_email=True)
    else:
        tokens = await create_session(conn, app[CONFIG], **meta)
        user = await present.user(conn, app, user_id, with_email=True)
    session_id = tokens.pop("session_id")
    body = {"user": user, **tokens}
    if with_session_id:
        body["session_id"] = session_id
    return body


async def revoke_session(conn: Conn, session_id: int, reason: str) -> list[int]:
    """Inside a transaction: revoke one session; [id] if it was live, else []."""
    changed = await conn.execute(Q.sessions.revoke, {"id": session_id, "reason": reason})
    return [session_id] if changed else []


async def revoke_user_sessions(conn: Conn, user_id: int, reason: str, *, keep: int = 0) -> list[int]:
    """Inside a transaction: revoke every live session of user_id except `keep`; their ids."""
    rows = await conn.fetchall(Q.sessions.active_ids_except, {"user_id": user_id, "keep": keep})
    await conn.execute(Q.sessions.revoke_all_of_user, {"user_id": user_id, "reason": reason, "keep": keep})
    return [row["id"] for row in rows]


async def sessions_revoked(app: web.Application, user_id: int, session_ids: list[int]) -> None:
    """After the revocation commits: the cache says revoked at once, open sockets close.

    Emits the transient event {"type": "session.revoked", "data": {"session_ids": [...]}}
    that the WebSocket hub consumes (close code 4001).
    """
    if not session_ids:
        return
    await forget_sessions(app, session_ids)
    await events.publish_transient(app, user_id, "session.revoked", {"session_ids": list(session_ids)})


def _session(row: dict[str, Any], current_id: int) -> dict[str, Any]:
    return {
        "id": row["id"], "kind": row["kind"], "user_agent": row["user_agent"], "ip": row["ip"],
        "created_at": iso(row["created_at"]), "last_used_at": iso(row["last_used_at"]),
        "expires_at": iso(row["expires_at"]), "current": row["id"] == current_id,
    }


async def list_sessions(app: web.Application, principal: Principal, p: PageParams) -> dict[str, Any]:
    """The user's sessions still in force → a page of Session (`current`: the one asking)."""
    await app[SERVICES]["seen_sessions"].flush()  # "last used" includes this request
    rows = await app[DB].fetchall(p.sql(Q.sessions.live_page), p.args(user_id=principal.user_id))
    return make_page(rows, p, dump=lambda r: _session(r, principal.session_id))


async def end_session(app: web.Application, principal: Principal, session_id: int) -> None:
    """End one of one's own sessions (404 for anyone else's, or one already ended): its tokens
    stop working on their next use and its sockets close (4001)."""
    async with app[DB].transaction() as tx:
        if not await tx.execute(Q.sessions.revoke_own, {"id": session_id, "user_id": principal.user_id,
                                                        "reason": "ended_by_user"}):
            raise NotFound("No such session.")
    await sessions_revoked(app, principal.user_id, [session_id])


# --- registration, login, refresh, logout ------------------------------------------------------

async def throttle_registration(app: web.Application, client: Client) -> None:
    """Spend one of the client's registrations (429 when none is left); before the body is read."""
    await limiter(app).hit("register_ip", client.ident, app[CONFIG].ratelimit.register_ip)


async def _taken(app: web.Application, username: str | None, email: str | None) -> set[str]:
    rows = await app[DB].fetchall(Q.users.taken, {"username": username, "email": email})
    return ({"username"} if any(r["username_taken"] for r in rows) else set()) | (
        {"email"} if any(r["email_taken"] for r in rows) else set())


async def register(app: web.Application, client: Client, *, username: str, email: str, password: str,
                   full_name: str | None = None, kind: str = "api") -> dict:
    """Create an account and log it in → the session body (issue_session). Taken (409) on a duplicate."""
    password_hash = await hash_password(app, password)
    try:
        async with app[DB].transaction() as tx:
            user_id = await tx.insert(Q.users.create, {
                "username": username, "email": email, "password_hash": password_hash, "full_name": full_name})
            return await issue_session(app, user_id, client, kind=kind, conn=tx)
    except pymysql.err.IntegrityError as exc:
        if error_code(exc) != 1062:  # ER_DUP_ENTRY
            raise
        named = {f for f in ("username", "email") if f"uq_users_{f}" in str(exc)}
        raise Taken(await _taken(app, username, email), named) from None


async def check_credentials(app: web.Application, client: Client, login: str, password: str) -> int:
    """The user id for login + password, throttled per account and per IP.

    An unknown login costs and answers exactly like a wrong password.
    """
    # A full hashing queue refuses (within 0.1 s) before the rate limits and the user's row are read:
    # a burst of logins past it costs the server next to nothing (503 busy, Retry-After).
    await password_gate(app).check()
    config = app[CONFIG]
    rates, account, ip = limiter(app), login.strip().lower(), client.ident
    await rates.check_failures("login_account", account, config.ratelimit.login_account)
    await rates.check_failures("login_ip", ip, config.ratelimit.login_ip)
    row = await app[DB].fetchone(Q.users.by_login, {"login": login.strip()})
    if not await verify_password(app, password, row["password_hash"] if row else None):
        await rates.record_failure("login_account", account, config.ratelimit.login_account)
        await rates.record_failure("login_ip", ip, config.ratelimit.login_ip)
        raise Unauthorized("Wrong login or password.", headers={})
    await rates.clear_failures("login_account", account)
    # A timed suspension past its end lets the owner in; the sweeper (server/moderation.py)
    # makes the account visible again within seconds.
    if row["state"] == "suspended" and row["state_lasts"]:
        raise AccountSuspended(iso(row["state_until"]))
    return row["id"]


async def login(app: web.Application, client: Client, login: str, password: str, *, kind: str = "api",
                with_session_id: bool = False) -> dict:
    """Check the credentials (401 when wrong) and open a session of `kind` → the session body."""
    user_id = await check_credentials(app, client, login, password)
    return await issue_session(app, user_id, client, kind=kind, with_session_id=with_session_id)


async def refresh(app: web.Application, refresh_token: str) -> dict:
    """Trade a refresh token for a new pair (401 when it is not live); a reused one ends its session."""
    outcome = await app[DB].run(lambda tx: _rotate_refresh(tx, app, hash_token(refresh_token)))
    if "revoked" in outcome:
        await sessions_revoked(app, outcome["user_id"], outcome["revoked"])
    if "body" not in outcome:
        raise Unauthorized("The refresh token is not valid.")
    return outcome["body"]


async def _rotate_refresh(tx: Conn, app: web.Application, token_hash: bytes) -> dict:
    """Rotate a live refresh token; a rotated one presented again revokes its whole session."""
    config = app[CONFIG]
    row = await tx.fetchone(Q.sessions.find_refresh, {"token_hash": token_hash})
    if row is None or row["kind"] == BROWSER or not row["active"]:
        return {}
    if row["rotated_at"] is not None:
        log.warning("refresh token reuse on session %s: revoking it", row["session_id"])
        return {"user_id": row["user_id"],
                "revoked": await revoke_session(tx, row["session_id"], "refresh_reuse")}
    await tx.execute(Q.sessions.rotate_refresh, {"token_hash": token_hash})
    new, new_hash = new_opaque_token()
    await tx.execute(Q.sessions.add_refresh, {"token_hash": new_hash, "session_id": row["session_id"]})
    ttl = config.auth.conduit_ttl if row["kind"] == CONDUIT else config.auth.refresh_ttl
    await tx.execute(Q.sessions.touch, {"id": row["session_id"], "ttl": ttl})
    user = await present.user(tx, app, row["user_id"], with_email=True)
    tokens = token_pair(config, user_id=row["user_id"], session_id=row["session_id"], refresh=new,
                        kind=row["kind"])
    tokens.pop("session_id")
    return {"body": {"user": user, **tokens}}


async def logout(app: web.Application, user_id: int, session_id: int) -> None:
    """End one session: its tokens stop working and its sockets close at once."""
    async with app[DB].transaction() as tx:
        revoked = await revoke_session(tx, session_id, "logout")
    await sessions_revoked(app, user_id, revoked)


# --- passwords --------------------------------------------------------------------------------

async def change_password(app: web.Application, principal: Principal, current_password: str,
                          new_password: str) -> None:
    """403 unless current_password is right; then every other session of the user is revoked."""
    row = await app[DB].fetchone(Q.users.password_of, {"id": principal.user_id})
    if row is None or not await verify_password(app, current_password, row["password_hash"]):
        raise Forbidden("The current password is wrong.")
    password_hash = await hash_password(app, new_password)
    async with app[DB].transaction() as tx:
        await tx.execute(Q.users.set_password, {"id": principal.user_id, "password_hash": password_hash})
        revoked = await revoke_user_sessions(tx, principal.user_id, "password_change",
                                             keep=principal.session_id)
    await sessions_revoked(app, principal.user_id, revoked)


async def throttle_reset(app: web.Application, client: Client) -> None:
    """Spend one of the client's reset requests (429 when none is left); before the body is read."""
    await limiter(app).hit("reset_ip", client.ident, app[CONFIG].ratelimit.reset_ip)


def request_reset(app: web.Application, email: str) -> None:
    """Mail a reset link to the account of `email`, if any, in the background.

    For known and unknown emails alike nothing is awaited: the caller's timing says nothing
    about whether the account exists.
    """
    task = asyncio.create_task(send_reset(app, email))
    app[RESET_TASKS].add(task)
    task.add_done_callback(app[RESET_TASKS].discard)


async def send_reset(app: web.Application, email: str) -> None:
    config = app[CONFIG]
    try:
        user = await app[DB].fetchone(Q.users.by_email, {"email": email})
        if user is None:
            return
        token, token_hash = new_opaque_token()  # 32 random bytes, URL-safe
        async with app[DB].transaction() as tx:
            await tx.execute(Q.password_resets.void_open, {"user_id": user["id"]})
            await tx.insert(Q.password_resets.create, {"user_id": user["id"], "token_hash": token_hash,
                                                       "ttl": config.auth.reset_ttl})
        minutes = config.auth.reset_ttl // 60
        await mailer(app).send(user["email"], "Reset your Chatter password", (
            f"Hello {user['username']},\n\n"
            f"Someone asked to reset the password of your Chatter account. To choose a new one,\n"
            f"open this link within {minutes} minutes:\n\n"
            f"{config.auth.reset_url}{token}\n\n"
            f"If it was not you, ignore this mail: your password stays as it is.\n"))
    except Exception:
        log.exception("password reset mail for a forgot request failed")


async def reset_password(app: web.Application, token: str, new_password: str) -> None:
    """Redeem a reset token (400 when used, expired or unknown): new password, every session revoked."""
    password_hash = await hash_password(app, new_password)
    token_hash = hash_token(token)

    async def redeem(tx: Conn) -> tuple[dict, list[int]]:
        if not await tx.execute(Q.password_resets.redeem, {"token_hash": token_hash}):
            raise BadRequest("The reset token is used, expired or unknown.")
        user_id = await tx.fetchval(Q.password_resets.user_of, {"token_hash": token_hash})
        await tx.execute(Q.users.set_password, {"id": user_id, "password_hash": password_hash})
        user = await tx.fetchone(Q.users.password_of, {"id": user_id})
        return user, await revoke_user_sessions(tx, user_id, "password_reset")

    user, revoked = await app[DB].run(redeem)
    await sessions_revoked(app, user["id"], revoked)
    # The owner proved control of the mailbox: a login throttle on the account starts afresh.
    for ident in (user["username"].lower(), user["email"].lower()):
        await limiter(app).clear_failures("login_account", ident)


# --- the account as the Conduit API edits it ---------------------------------------------------

async def account(app: web.Application, user_id: int) -> dict[str, Any] | None:
    """id, username, email, bio, avatar_key of one account (Conduit's User), or None."""
    return await app[DB].fetchone(Q.conduit.account, {"id": user_id})


async def update_account(app: web.Application, principal: Principal, changes: dict[str, Any]) -> dict[str, Any]:
    """Change username, email, password, bio or the profile picture → the account row (as account()).

    `password`: "" leaves it unchanged. `image`: an http(s) URL becomes the profile picture (an uploaded avatar goes); null/"" removes
    it; the current URL changes nothing (front ends send the whole form back). A new password
    revokes every other session. Taken on a duplicate name or email; nothing changes then.
    """
    row = await account(app, principal.user_id)
    image = changes.get("image") or None
    set_image = "image" in changes and image != media_url(app, row["avatar_key"])
    # An empty password leaves it unchanged (Conduit front ends send the field empty).
    password_hash = await hash_password(app, changes["password"]) if changes.get("password") else None
    args = {"id": principal.user_id, "set_bio": "bio" in changes, "bio": (changes.get("bio") or "").strip() or None}
    for name in ("username", "email"):
        args[f"set_{name}"] = name in changes
        args[name] = changes[name].strip() if name in changes else None
    old_files: list[str | None] = []
    try:
        async with app[DB].transaction() as tx:
            await tx.execute(Q.conduit.update_account, args)
            if set_image:
                old_files = await users.replace_avatar(tx, principal.user_id, url=image)
            revoked: list[int] = []
            if password_hash is not None:
                await tx.execute(Q.users.set_password, {"id": principal.user_id, "password_hash": password_hash})
                revoked = await revoke_user_sessions(tx, principal.user_id, "password_change",
                                                     keep=principal.session_id)
    except pymysql.err.IntegrityError as exc:
        if error_code(exc) != 1062:
            raise
        raise Taken(await _taken(app, args["username"] if args["set_username"] else None,
                                 args["email"] if args["set_email"] else None)) from None
    await delete_unused_files(app, old_files)
    await sessions_revoked(app, principal.user_id, revoked)
    return await account(app, principal.user_id)


# --- WebSocket tickets ---------------------------------------------------------------------------

def _ticket_key(app: web.Application, ticket: str) -> str:
    return app[REDIS].key("wst", ticket)


async def issue_ticket(app: web.Application, principal: Principal) -> dict[str, Any]:
    """A single-use ticket that opens the WebSocket as this session → {ticket, expires_in}."""
    ttl = app[CONFIG].auth.ws_ticket_ttl
    value = secrets.token_urlsafe(32)
    await app[REDIS].client.set(_ticket_key(app, value),
                                f"{principal.user_id}:{principal.session_id}:{principal.kind}", ex=ttl)
    return {"ticket": value, "expires_in": ttl}


async def redeem_ticket(app: web.Application, ticket: str) -> Principal | None:
    """The principal a ticket was issued to, once; None when unknown, used, expired or its session ended."""
    # GETDEL: of two concurrent uses exactly one gets the value.
    value = await app[REDIS].client.getdel(_ticket_key(app, ticket))
    if not value:
        return None
    user_id, session_id, kind = value.split(":", 2)
    principal = Principal(int(user_id), int(session_id), kind)
    return principal if await session_active(app, principal) else None
