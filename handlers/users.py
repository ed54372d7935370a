"""Profiles: the viewer's own account, profile edits, prefix search, lookup by username or id."""

from __future__ import annotations

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server import deletion, exports, users
from server.http.identity import require_principal, require_user, viewer_id
from server.http.openapi import docs
from server.http.pagination import page_params
from server.http.responses import load_body, load_query, raw_json, raw_page
from server.http.schemas import Strict, UserSchema

routes = web.RouteTableDef()
TAGS = ["users"]


class ProfileSchema(Strict):
    full_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    bio = fields.String(allow_none=True, validate=validate.Length(max=500))
    location = fields.String(allow_none=True, validate=validate.Length(max=100))
    dm_policy = fields.String(validate=validate.OneOf(users.DM_POLICIES), metadata={
        "description": "who may message you: everyone (default), following (the users you follow) or nobody"})


class SearchQuery(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=100),
                      metadata={"description": "prefix of a username or full name"})

    class Meta:
        unknown = EXCLUDE  # limit, before, after: read by page_params


class LookupQuery(Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=30))


class DeleteAccountSchema(Strict):
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


@routes.get("/api/v1/users/me")
@docs("The viewer's own account (with email)", tags=TAGS, auth="required", responses={200: UserSchema})
async def me(request: web.Request) -> web.Response:
    return raw_json(await users.get_user(request.app, require_user(request), with_email=True))


@routes.patch("/api/v1/users/me")
@docs("Edit the profile: full_name, bio, location, and dm_policy (nothing else is writable)", tags=TAGS,
      auth="required", body=ProfileSchema, responses={200: UserSchema})
async def update_me(request: web.Request) -> web.Response:
    user_id = require_user(request)
    data = await load_body(request, ProfileSchema())
    return raw_json(await users.update_profile(request.app, user_id, data))


@routes.delete("/api/v1/users/me")
@docs("Delete one's account: at once its sessions end and it answers 404 everywhere; a background job "
      "then removes its posts, comments, likes, follows, notifications and files", tags=TAGS,
      auth="required", body=DeleteAccountSchema, responses={202: None, 403: None})
async def delete_me(request: web.Request) -> web.Response:
    principal = require_principal(request)
    data = await load_body(request, DeleteAccountSchema())
    await deletion.request_deletion(request.app, principal, data["password"])
    return web.Response(status=202)


@routes.get("/api/v1/users/me/export")
@docs("Download everything of one's account as a zip, streamed: profile.json, posts.json, comments.json, "
      "likes.json, follows.json, messages.json, responses.json and media/<file> for every upload",
      tags=TAGS, auth="required", responses={200: None, 429: None},
      extra={"responses": {"200": {"description": "A zip archive",
                                   "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                           "401": {"description": "Unauthenticated"}, "429": {"description": "Rate limited"}}})
async def export_me(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/zip", "Cache-Control": "no-store"})

    async def start(filename: str):
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        await response.prepare(request)
        return response.write

    await exports.export_account(request.app, require_user(request), start)
    await response.write_eof()
    return response


export_me.__long_lived__ = True  # type: ignore[attr-defined]  # streams as long as the download lasts


@routes.get("/api/v1/users")
@docs("Users whose username or full name starts with q", tags=TAGS, auth="optional",
      query=SearchQuery, responses={200: UserSchema, 400: None}, paginated=True)
async def search(request: web.Request) -> web.Response:
    q = load_query(request, SearchQuery())["q"]
    page = await users.search(request.app, q, page_params(request), viewer_id(request))
    return raw_page(page["items"], page["next_cursor"])


@routes.get("/api/v1/users/lookup")
@docs("The user with this username (case-insensitive)", tags=TAGS, auth="optional",
      query=LookupQuery, responses={200: UserSchema, 404: None})
async def lookup(request: web.Request) -> web.Response:
    username = load_query(request, LookupQuery())["username"]
    return raw_json(await users.lookup(request.app, username, viewer_id(request)))


@routes.get(r"/api/v1/users/{id:\d+}")
@docs("A user's public profile", tags=TAGS, auth="optional", responses={200: UserSchema, 404: None})
async def get_user(request: web.Request) -> web.Response:
    return raw_json(await users.get_user(request.app, int(request.match_info["id"]), viewer_id(request)))
