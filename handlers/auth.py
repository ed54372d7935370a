"""Auth: registration, login, token refresh, logout, password change and reset, browser sessions."""

from __future__ import annotations

import asyncio
import logging

import pymysql
from aiohttp import web
from marshmallow import Schema, fields, validate

from server import present
from server.auth import (
    create_session,
    hash_token,
    new_opaque_token,
    revoke_session,
    revoke_user_sessions,
    sessions_revoked,
    token_pair,
)
from server.db import Conn, error_code
from server.errors import BadRequest, Conflict, Forbidden, Unauthorized
from server.http import browser_session
from server.http.openapi import docs
from server.http.ratelimit import RateLimiter
from server.http.responses import json_response, load_body
from server.http.schemas import Email, Password, Strict, TokenPairSchema, Username, UserSchema
from server.keys import CONFIG, DB, PRINCIPAL, REDIS, SERVICES
from server.mailer import Mailer, create_mailer
from server.passwords import hash_password, verify_password
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
TAGS = ["auth"]
# Background password-reset work, awaited on cleanup so no mail is lost at shutdown.
RESET_TASKS = web.AppKey("reset_tasks", set)


class RegisterSchema(Strict):
    username = Username(required=True)
    email = Email(required=True)
    password = Password(required=True)
    full_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class LoginSchema(Strict):
    login = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RefreshSchema(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class PasswordChangeSchema(Strict):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = Password(required=True)


class ForgotSchema(Strict):
    email = Email(required=True)


class ResetSchema(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    new_password = Password(required=True)


class SessionUserSchema(Schema):
    user = fields.Nested(UserSchema)


def setup(app: web.Application) -> None:
    browser_session.setup(app)
    app[RESET_TASKS] = set()

    async def drain(app: web.Application) -> None:
        if tasks := app[RESET_TASKS]:
            await asyncio.wait(tasks, timeout=10)

    app.on_shutdown.append(drain)


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


def client_ip(request: web.Request) -> str | None:
    if request.app[CONFIG].http.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45]
    return request.remote


async def issue_session(request: web.Request, user_id: int, kind: str = "api", conn=None,
                        with_session_id: bool = False) -> dict:
    """A new session for user_id: {user, access_token, refresh_token, token_type, expires_in}."""
    app = request.app
    meta = {"user_id": user_id, "kind": kind, "user_agent": request.headers.get("User-Agent"),
            "ip": client_ip(request)}
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


async def check_credentials(request: web.Request, login: str, password: str) -> int:
    """The user id for login + password, throttled per account and per IP.

    An unknown login costs and answers exactly like a wrong password.
    """
    app, config = request.app, request.app[CONFIG]
    rates, account, ip = limiter(app), login.strip().lower(), client_ip(request) or "-"
    await rates.check_failures("login_account", account, config.ratelimit.login_account)
    await rates.check_failures("login_ip", ip, config.ratelimit.login_ip)
    row = await app[DB].fetchone(Q.users.by_login, {"login": login.strip()})
    if not await verify_password(app, password, row["password_hash"] if row else None):
        await rates.record_failure("login_account", account, config.ratelimit.login_account)
        await rates.record_failure("login_ip", ip, config.ratelimit.login_ip)
        raise Unauthorized("Wrong login or password.", headers={})
    await rates.clear_failures("login_account", account)
    return row["id"]


@routes.post("/api/v1/auth/register")
@docs("Create an account and log in", tags=TAGS, body=RegisterSchema,
      responses={201: TokenPairSchema, 409: None, 429: None})
async def register(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    await limiter(request.app).hit("register_ip", client_ip(request) or "-", config.ratelimit.register_ip)
    data = await load_body(request, RegisterSchema())
    password_hash = await hash_password(request.app, data["password"])
    db = request.app[DB]
    try:
        async with db.transaction() as tx:
            user_id = await tx.insert(Q.users.create, {
                "username": data["username"], "email": data["email"],
                "password_hash": password_hash, "full_name": data["full_name"]})
            body = await issue_session(request, user_id, conn=tx)
    except pymysql.err.IntegrityError as exc:
        if error_code(exc) != 1062:  # ER_DUP_ENTRY
            raise
        rows = await db.fetchall(Q.users.taken, {"username": data["username"], "email": data["email"]})
        errors = {}
        if any(r["username_taken"] for r in rows) or "uq_users_username" in str(exc):
            errors["username"] = ["This username is taken."]
        if any(r["email_taken"] for r in rows) or "uq_users_email" in str(exc):
            errors["email"] = ["This email is already registered."]
        raise Conflict("Username or email is already taken.", errors=errors) from None
    return json_response(body, status=201)


@routes.post("/api/v1/auth/login")
@docs("Log in with username or email", tags=TAGS, body=LoginSchema,
      responses={200: TokenPairSchema, 401: None, 429: None})
async def login(request: web.Request) -> web.Response:
    data = await load_body(request, LoginSchema())
    user_id = await check_credentials(request, data["login"], data["password"])
    return json_response(await issue_session(request, user_id))


@routes.post("/api/v1/auth/refresh")
@docs("Trade a refresh token for a new token pair (the old one stops working)", tags=TAGS,
      body=RefreshSchema, responses={200: TokenPairSchema, 401: None})
async def refresh(request: web.Request) -> web.Response:
    data = await load_body(request, RefreshSchema())
    app = request.app
    outcome = await app[DB].run(lambda tx: rotate_refresh(tx, request, hash_token(data["refresh_token"])))
    if "revoked" in outcome:
        await sessions_revoked(app, outcome["user_id"], outcome["revoked"])
    if "body" not in outcome:
        raise Unauthorized("The refresh token is not valid.")
    return json_response(outcome["body"])


async def rotate_refresh(tx: Conn, request: web.Request, token_hash: bytes) -> dict:
    """Rotate a live refresh token; a rotated one presented again revokes its whole session."""
    config = request.app[CONFIG]
    row = await tx.fetchone(Q.sessions.find_refresh, {"token_hash": token_hash})
    if row is None or row["kind"] == browser_session.KIND or not row["active"]:
        return {}
    if row["rotated_at"] is not None:
        log.warning("refresh token reuse on session %s: revoking it", row["session_id"])
        return {"user_id": row["user_id"],
                "revoked": await revoke_session(tx, row["session_id"], "refresh_reuse")}
    await tx.execute(Q.sessions.rotate_refresh, {"token_hash": token_hash})
    new, new_hash = new_opaque_token()
    await tx.execute(Q.sessions.add_refresh, {"token_hash": new_hash, "session_id": row["session_id"]})
    ttl = config.auth.conduit_ttl if row["kind"] == "conduit" else config.auth.refresh_ttl
    await tx.execute(Q.sessions.touch, {"id": row["session_id"], "ttl": ttl})
    user = await present.user(tx, request.app, row["user_id"], with_email=True)
    tokens = token_pair(config, user_id=row["user_id"], session_id=row["session_id"], refresh=new,
                        kind=row["kind"])
    tokens.pop("session_id")
    return {"body": {"user": user, **tokens}}


@routes.post("/api/v1/auth/logout")
@docs("Log out: this session's tokens stop working at once", tags=TAGS, auth="required",
      responses={204: None})
async def logout(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    async with request.app[DB].transaction() as tx:
        revoked = await revoke_session(tx, principal.session_id, "logout")
    await sessions_revoked(request.app, principal.user_id, revoked)
    response = web.Response(status=204)
    if principal.kind == browser_session.KIND:
        await browser_session.end(request, response)
    return response


@routes.post("/api/v1/auth/password/change")
@docs("Change the password; every other session is revoked", tags=TAGS, auth="required",
      body=PasswordChangeSchema, responses={204: None, 403: None})
async def change_password(request: web.Request) -> web.Response:
    data = await load_body(request, PasswordChangeSchema())
    app, principal = request.app, request[PRINCIPAL]
    row = await app[DB].fetchone(Q.users.password_of, {"id": principal.user_id})
    if row is None or not await verify_password(app, data["current_password"], row["password_hash"]):
        raise Forbidden("The current password is wrong.")
    password_hash = await hash_password(app, data["new_password"])
    async with app[DB].transaction() as tx:
        await tx.execute(Q.users.set_password, {"id": principal.user_id, "password_hash": password_hash})
        revoked = await revoke_user_sessions(tx, principal.user_id, "password_change",
                                             keep=principal.session_id)
    await sessions_revoked(app, principal.user_id, revoked)
    return web.Response(status=204)


@routes.post("/api/v1/auth/password/forgot")
@docs("Mail a single-use password-reset link (202 whether or not the email exists)", tags=TAGS,
      body=ForgotSchema, responses={202: None, 429: None})
async def forgot_password(request: web.Request) -> web.Response:
    app = request.app
    await limiter(app).hit("reset_ip", client_ip(request) or "-", app[CONFIG].ratelimit.reset_ip)
    data = await load_body(request, ForgotSchema())
    # Everything after validation runs in the background, for known and unknown emails alike:
    # the answer's timing says nothing about whether the account exists.
    task = asyncio.create_task(send_reset(app, data["email"]))
    app[RESET_TASKS].add(task)
    task.add_done_callback(app[RESET_TASKS].discard)
    return web.Response(status=202)


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


@routes.post("/api/v1/auth/password/reset")
@docs("Set a new password with a reset token; every session is revoked", tags=TAGS,
      body=ResetSchema, responses={204: None, 400: None})
async def reset_password(request: web.Request) -> web.Response:
    data = await load_body(request, ResetSchema())
    app = request.app
    password_hash = await hash_password(app, data["new_password"])
    token_hash = hash_token(data["token"])

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
    return web.Response(status=204)


@routes.post("/api/v1/auth/session")
@docs("Browser login: sets an HttpOnly session cookie instead of returning tokens", tags=TAGS,
      body=LoginSchema, responses={200: SessionUserSchema, 401: None, 403: None, 429: None})
async def session_login(request: web.Request) -> web.Response:
    if "Origin" in request.headers and not browser_session.origin_allowed(request):
        raise Forbidden("This Origin may not log in with a cookie.")
    data = await load_body(request, LoginSchema())
    user_id = await check_credentials(request, data["login"], data["password"])
    body = await issue_session(request, user_id, kind=browser_session.KIND, with_session_id=True)
    response = json_response({"user": body["user"]})
    await browser_session.start(request, response, user_id, body["session_id"])
    return response


@routes.delete("/api/v1/auth/session")
@docs("Browser logout: ends the cookie session", tags=TAGS, responses={204: None})
async def session_logout(request: web.Request) -> web.Response:
    response = web.Response(status=204)
    ended = await browser_session.end(request, response)
    if ended is not None:  # the cookie names its session: only our Redis could have said so
        user_id, session_id = ended
        async with request.app[DB].transaction() as tx:
            revoked = await revoke_session(tx, session_id, "logout")
        await sessions_revoked(request.app, user_id, revoked)
    return response
