"""Profiles: the viewer's own account, profile edits, prefix search, lookup by username or id."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from handlers import follows
from server import present
from server.auth import require_user, viewer_id
from server.errors import NotFound
from server.keys import DB
from server.openapi import docs
from server.pagination import make_page, page_params
from server.queries import QUERIES as Q
from server.responses import json_response, load_body, load_query
from server.schemas import Strict, UserSchema

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


async def relations(db: Any, viewer: int | None, user_ids: list[int]) -> dict[int, dict[str, bool]] | None:
    """following/followed_by of the viewer with each user; None for anonymous viewers."""
    if viewer is None:
        return None
    return await follows.relation(db, viewer, user_ids)


async def show(request: web.Request, row: dict[str, Any] | None) -> web.Response:
    """One public User, with the viewer's relation when a token was sent."""
    if row is None:
        raise NotFound("No such user.")
    rel = await relations(request.app[DB], viewer_id(request), [row["id"]])
    return json_response(present.user(request.app, row, relation=rel[row["id"]] if rel else None))


@routes.get("/api/v1/users/me")
@docs("The viewer's own account (with email)", tags=TAGS, auth="required", responses={200: UserSchema})
async def me(request: web.Request) -> web.Response:
    row = await request.app[DB].fetchone(Q.users.by_id, {"id": require_user(request)})
    if row is None:
        raise NotFound("No such user.")
    return json_response(present.user(request.app, row, with_email=True))


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
    async with db.transaction() as tx:
        await tx.execute(Q.users.update_profile, args)
        row = await tx.fetchone(Q.users.by_id, {"id": user_id})
    return json_response(present.user(request.app, row, with_email=True))


@routes.get("/api/v1/users")
@docs("Users whose username or full name starts with q", tags=TAGS, auth="optional",
      query=SearchQuery, responses={200: UserSchema, 400: None}, paginated=True)
async def search(request: web.Request) -> web.Response:
    q = load_query(request, SearchQuery())["q"]
    p = page_params(request)
    prefix = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    db = request.app[DB]
    rows = await db.fetchall(p.sql(Q.users.search), p.args(prefix=prefix))
    rel = await relations(db, viewer_id(request), [r["id"] for r in rows[: p.limit]])
    return json_response(make_page(rows, p, dump=lambda r: present.user(
        request.app, r, relation=rel[r["id"]] if rel else None)))


@routes.get("/api/v1/users/lookup")
@docs("The user with this username (case-insensitive)", tags=TAGS, auth="optional",
      query=LookupQuery, responses={200: UserSchema, 404: None})
async def lookup(request: web.Request) -> web.Response:
    username = load_query(request, LookupQuery())["username"]
    return await show(request, await request.app[DB].fetchone(Q.users.by_username, {"username": username}))


@routes.get(r"/api/v1/users/{id:\d+}")
@docs("A user's public profile", tags=TAGS, auth="optional", responses={200: UserSchema, 404: None})
async def get_user(request: web.Request) -> web.Response:
    user_id = int(request.match_info["id"])
    return await show(request, await request.app[DB].fetchone(Q.users.by_id, {"id": user_id}))
