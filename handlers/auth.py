"""Auth: registration, login, token refresh, logout, password change and reset, browser sessions."""

from __future__ import annotations

from aiohttp import web
from marshmallow import Schema, fields, validate

from server import accounts
from server.auth import BROWSER
from server.errors import Forbidden
from server.http import browser_session
from server.http.identity import client_of, require_principal
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import json_response, load_body
from server.http.schemas import Email, Password, Strict, TokenPairSchema, Username, UserSchema

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


class SessionSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(validate=validate.OneOf(["api", "browser", "conduit"]), metadata={
        "description": "api: bearer tokens; browser: the cookie session; conduit: a Conduit API token"})
    user_agent = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    created_at = fields.String()
    last_used_at = fields.String(metadata={"description": "to about half a minute"})
    expires_at = fields.String()
    current = fields.Boolean(metadata={"description": "the session of the token asking"})


def setup(app: web.Application) -> None:
    browser_session.setup(app)


@routes.post("/api/v1/auth/register")
@docs("Create an account and log in", tags=TAGS, body=RegisterSchema,
      responses={201: TokenPairSchema, 409: None, 429: None})
async def register(request: web.Request) -> web.Response:
    client = client_of(request)
    await accounts.throttle_registration(request.app, client)  # before the body: bad bodies count too
    data = await load_body(request, RegisterSchema())
    return json_response(await accounts.register(request.app, client, **data), status=201)


@routes.post("/api/v1/auth/login")
@docs("Log in with username or email", tags=TAGS, body=LoginSchema,
      responses={200: TokenPairSchema, 401: None, 403: None, 429: None},
      description="A suspended account's correct password is a 403 of type account-suspended.")
async def login(request: web.Request) -> web.Response:
    data = await load_body(request, LoginSchema())
    return json_response(await accounts.login(request.app, client_of(request), data["login"], data["password"]))


@routes.post("/api/v1/auth/refresh")
@docs("Trade a refresh token for a new token pair (the old one stops working)", tags=TAGS,
      body=RefreshSchema, responses={200: TokenPairSchema, 401: None})
async def refresh(request: web.Request) -> web.Response:
    data = await load_body(request, RefreshSchema())
    return json_response(await accounts.refresh(request.app, data["refresh_token"]))


@routes.post("/api/v1/auth/logout")
@docs("Log out: this session's tokens stop working at once", tags=TAGS, auth="required",
      responses={204: None})
async def logout(request: web.Request) -> web.Response:
    principal = require_principal(request)
    await accounts.logout(request.app, principal.user_id, principal.session_id)
    response = web.Response(status=204)
    if principal.kind == BROWSER:
        await browser_session.end(request, response)
    return response


@routes.post("/api/v1/auth/password/change")
@docs("Change the password; every other session is revoked", tags=TAGS, auth="required",
      body=PasswordChangeSchema, responses={204: None, 403: None})
async def change_password(request: web.Request) -> web.Response:
    data = await load_body(request, PasswordChangeSchema())
    await accounts.change_password(request.app, require_principal(request), data["current_password"],
                                   data["new_password"])
    return web.Response(status=204)


@routes.post("/api/v1/auth/password/forgot")
@docs("Mail a single-use password-reset link (202 whether or not the email exists)", tags=TAGS,
      body=ForgotSchema, responses={202: None, 429: None})
async def forgot_password(request: web.Request) -> web.Response:
    await accounts.throttle_reset(request.app, client_of(request))
    data = await load_body(request, ForgotSchema())
    accounts.request_reset(request.app, data["email"])
    return web.Response(status=202)


@routes.post("/api/v1/auth/password/reset")
@docs("Set a new password with a reset token; every session is revoked", tags=TAGS,
      body=ResetSchema, responses={204: None, 400: None})
async def reset_password(request: web.Request) -> web.Response:
    data = await load_body(request, ResetSchema())
    await accounts.reset_password(request.app, data["token"], data["new_password"])
    return web.Response(status=204)


@routes.post("/api/v1/auth/session")
@docs("Browser login: sets an HttpOnly session cookie instead of returning tokens", tags=TAGS,
      body=LoginSchema, responses={200: SessionUserSchema, 401: None, 403: None, 429: None})
async def session_login(request: web.Request) -> web.Response:
    if "Origin" in request.headers and not browser_session.origin_allowed(request):
        raise Forbidden("This Origin may not log in with a cookie.")
    data = await load_body(request, LoginSchema())
    body = await accounts.login(request.app, client_of(request), data["login"], data["password"],
                                kind=BROWSER, with_session_id=True)
    response = json_response({"user": body["user"]})
    await browser_session.start(request, response, body["user"]["id"], body["session_id"])
    return response


@routes.delete("/api/v1/auth/session")
@docs("Browser logout: ends the cookie session", tags=TAGS, responses={204: None})
async def session_logout(request: web.Request) -> web.Response:
    response = web.Response(status=204)
    ended = await browser_session.end(request, response)
    if ended is not None:  # the cookie names its session: only our Redis could have said so
        await accounts.logout(request.app, *ended)
    return response


@routes.get("/api/v1/auth/sessions")
@docs("The viewer's sessions still in force (devices), newest first", tags=TAGS, auth="required",
      paginated=True, responses={200: SessionSchema})
async def sessions(request: web.Request) -> web.Response:
    return json_response(await accounts.list_sessions(request.app, require_principal(request),
                                                      page_params(request)))


@routes.delete(r"/api/v1/auth/sessions/{id:\d+}")
@docs("End one of one's sessions: its tokens stop working and its sockets close (4001)", tags=TAGS,
      auth="required", responses={204: None, 404: None})
async def end_session(request: web.Request) -> web.Response:
    await accounts.end_session(request.app, require_principal(request), int(request.match_info["id"]))
    return web.Response(status=204)
