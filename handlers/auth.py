"""Auth: registration, login, token refresh, logout, password change and reset."""

from __future__ import annotations

import pymysql
from aiohttp import web
from marshmallow import fields, validate

from server import present
from server.auth import create_session
from server.db import error_code
from server.errors import Conflict, Unauthorized
from server.keys import CONFIG, DB
from server.openapi import docs
from server.passwords import hash_password, verify_password
from server.queries import QUERIES as Q
from server.responses import json_response, load_body
from server.schemas import Email, Password, Strict, TokenPairSchema, Username

routes = web.RouteTableDef()
TAGS = ["auth"]


class RegisterSchema(Strict):
    username = Username(required=True)
    email = Email(required=True)
    password = Password(required=True)
    full_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class LoginSchema(Strict):
    login = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


def client_ip(request: web.Request) -> str | None:
    if request.app[CONFIG].http.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45]
    return request.remote


async def issue_session(request: web.Request, user_id: int, kind: str = "api", conn=None) -> dict:
    """A new session for user_id: {user, access_token, refresh_token, token_type, expires_in}."""
    app = request.app
    meta = {"user_id": user_id, "kind": kind, "user_agent": request.headers.get("User-Agent"),
            "ip": client_ip(request)}
    if conn is None:
        async with app[DB].transaction() as tx:
            tokens = await create_session(tx, app[CONFIG], **meta)
            row = await tx.fetchone(Q.users.by_id, {"id": user_id})
    else:
        tokens = await create_session(conn, app[CONFIG], **meta)
        row = await conn.fetchone(Q.users.by_id, {"id": user_id})
    tokens.pop("session_id")
    return {"user": present.user(app, row, with_email=True), **tokens}


@routes.post("/api/v1/auth/register")
@docs("Create an account and log in", tags=TAGS, body=RegisterSchema,
      responses={201: TokenPairSchema, 409: None})
async def register(request: web.Request) -> web.Response:
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
    row = await request.app[DB].fetchone(Q.users.by_login, {"login": data["login"].strip()})
    ok = await verify_password(request.app, data["password"], row["password_hash"] if row else None)
    if not ok:
        raise Unauthorized("Wrong login or password.", headers={})
    return json_response(await issue_session(request, row["id"]))
