"""Profiles: the viewer's own account, profile edits, prefix search, lookup by username or id."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server import present
from server.auth import require_user, viewer_id
from server.errors import NotFound
from server.http.openapi import docs
from server.http.pagination import make_page, page_params
from server.http.responses import load_body, load_query, raw_json, raw_page
from server.http.schemas import Strict, UserSchema
from server.keys import DB
from server.queries import QUERIES as Q

routes = web.RouteTableDef()
TAGS = ["users"]
PROFILE_FIELDS = ("full_name", "bio", "location")


class ProfileSchema(Strict):
    full_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    bio = fields.String(allow_none=True, validate=validate.Length(max=500))
    location = fields.String(allow_none=True, validate=validate.Length(max=100))


class SearchQuery(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=100),
                      metadata={"description": "prefix of a username or full name"})

    class Meta:
        unknown = EXCLUDE  # limit, before, after: read by page_params


class LookupQuery(Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=30))


async def show(request: web.Request, user_id: int | None, *, with_email: bool = False) -> web.Response:
    """One User (JSON built by MariaDB), with the viewer's relation when a token was sent."""
    viewer = viewer_id(request)
    docs = await present.user_docs(request.app[DB].read(), request.app, [user_id] if user_id else [],
                                   viewer_id=None if with_email else viewer, with_email=with_email)
    if user_id not in docs:
        raise NotFound("No such user.")
    return raw_json(docs[user_id])


@routes.get("/api/v1/users/me")
@docs("The viewer's own account (with email)", tags=TAGS, auth="required", responses={200: UserSchema})
async def me(request: web.Request) -> web.Response:
    return await show(request, require_user(request), with_email=True)


@routes.patch("/api/v1/users/me")
@docs("Edit the profile: full_name, bio, location (nothing else is writable)", tags=TAGS,
      auth="required", body=ProfileSchema, responses={200: UserSchema})
async def update_me(request: web.Request) -> web.Response:
    user_id = require_user(request)
    data = await load_body(request, ProfileSchema())
    args: dict[str, Any] = {"id": user_id}
    for name in PROFILE_FIELDS:
        args[f"set_{name}"] = name in data
        args[name] = data.get(name)
    db = request.app[DB]
    await db.execute(Q.users.update_profile, args)
    return await show(request, user_id, with_email=True)


@routes.get("/api/v1/users")
@docs("Users whose username or full name starts with q", tags=TAGS, auth="optional",
      query=SearchQuery, responses={200: UserSchema, 400: None}, paginated=True)
async def search(request: web.Request) -> web.Response:
    q = load_query(request, SearchQuery())["q"]
    p = page_params(request)
    prefix = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    db = request.app[DB].read()
    rows = await db.fetchall(p.sql(Q.users.search), p.args(prefix=prefix))
    page = make_page(rows, p)
    docs = await present.user_docs(db, request.app, [r["id"] for r in page["items"]],
                                   viewer_id=viewer_id(request))
    return raw_page([docs[r["id"]] for r in page["items"] if r["id"] in docs], page["next_cursor"])


@routes.get("/api/v1/users/lookup")
@docs("The user with this username (case-insensitive)", tags=TAGS, auth="optional",
      query=LookupQuery, responses={200: UserSchema, 404: None})
async def lookup(request: web.Request) -> web.Response:
    username = load_query(request, LookupQuery())["username"]
    return await show(request, await request.app[DB].fetchval(Q.users.id_by_username, {"username": username},
                                                              replica=True))


@routes.get(r"/api/v1/users/{id:\d+}")
@docs("A user's public profile", tags=TAGS, auth="optional", responses={200: UserSchema, 404: None})
async def get_user(request: web.Request) -> web.Response:
    user_id = int(request.match_info["id"])
    return await show(request, user_id)
