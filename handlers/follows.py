"""Follows: follow/unfollow (idempotent, exact counters), follower and following lists, relation flags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web
from marshmallow import Schema, fields

from server import present, timeline
from server.auth import require_user, viewer_id
from server.db import Conn, Database, Tx
from server.errors import NotFound, ValidationFailed
from server.events import run_and_publish
from server.http.openapi import docs
from server.http.pagination import make_page, page_params
from server.http.responses import json_response, raw_page
from server.http.schemas import UserSchema
from server.keys import DB
from server.notify import notify, retract
from server.queries import QUERIES as Q

routes = web.RouteTableDef()
TAGS = ["users"]


class FollowStateSchema(Schema):
    following = fields.Boolean(required=True)
    followers_count = fields.Integer(required=True)


async def relation(db_or_conn: Database | Conn, viewer_id: int | None,
                   user_ids: Iterable[int]) -> dict[int, dict[str, bool]]:
    """{user_id: {"following": viewer follows them, "followed_by": they follow the viewer}}."""
    ids = list(dict.fromkeys(user_ids))
    if viewer_id is None or not ids:
        return {}
    args = {"viewer_id": viewer_id, "ids": ids}
    following = {r["id"] for r in await db_or_conn.fetchall(Q.follows.viewer_follows, args)}
    followed_by = {r["id"] for r in await db_or_conn.fetchall(Q.follows.follows_viewer, args)}
    return {i: {"following": i in following, "followed_by": i in followed_by} for i in ids}


async def _change(app: web.Application, follower_id: int, followee_id: int, *, on: bool) -> dict[str, Any]:
    if follower_id == followee_id:
        raise ValidationFailed({"id": ["You cannot follow yourself."]})

    async def tx(conn: Tx) -> dict[str, Any]:
        locked = await conn.fetchall(Q.follows.lock_pair, {"ids": [follower_id, followee_id]})
        if len(locked) != 2:
            raise NotFound("No such user.")
        pair = {"follower_id": follower_id, "followee_id": followee_id}
        if await conn.execute(Q.follows.insert if on else Q.follows.delete, pair):
            await conn.execute(Q.follows.bump_counts, {**pair, "delta": 1 if on else -1})
            change = notify if on else retract
            await change(conn, app, user_id=followee_id, type="follow", actor_id=follower_id)
        count = await conn.fetchval(Q.follows.followers_count, {"id": followee_id})
        return {"following": on, "followers_count": int(count)}

    result = await run_and_publish(app, tx)
    await timeline.follows_changed(app, follower_id)
    return result


async def follow(app: web.Application, follower_id: int, followee_id: int) -> dict[str, Any]:
    """follower follows followee (idempotent) → {following: True, followers_count}."""
    return await _change(app, follower_id, followee_id, on=True)


async def unfollow(app: web.Application, follower_id: int, followee_id: int) -> dict[str, Any]:
    """Undo a follow (idempotent) → {following: False, followers_count}."""
    return await _change(app, follower_id, followee_id, on=False)


@routes.put(r"/api/v1/users/{id:\d+}/follow")
@docs("Follow a user", tags=TAGS, auth="required",
      responses={200: FollowStateSchema, 404: None, 422: None})
async def put_follow(request: web.Request) -> web.Response:
    return json_response(await follow(request.app, require_user(request), int(request.match_info["id"])))


@routes.delete(r"/api/v1/users/{id:\d+}/follow")
@docs("Stop following a user", tags=TAGS, auth="required",
      responses={200: FollowStateSchema, 404: None, 422: None})
async def delete_follow(request: web.Request) -> web.Response:
    return json_response(await unfollow(request.app, require_user(request), int(request.match_info["id"])))


async def _user_list(request: web.Request, query: str) -> web.Response:
    app, me = request.app, viewer_id(request)
    user_id = int(request.match_info["id"])
    p = page_params(request)
    db = app[DB]
    async with db.connection() as conn:
        if not await conn.fetchval(Q.follows.user_exists, {"id": user_id}):
            raise NotFound("No such user.")
        rows = await conn.fetchall(p.sql(query), p.args(user_id=user_id))
        page = make_page(rows, p, key=lambda r: r["follow_id"])
        docs = await present.user_docs(conn, app, [r["id"] for r in page["items"]], viewer_id=me)
    return raw_page([docs[r["id"]] for r in page["items"] if r["id"] in docs], page["next_cursor"])


@routes.get(r"/api/v1/users/{id:\d+}/followers")
@docs("Users following this user (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: UserSchema, 404: None})
async def followers(request: web.Request) -> web.Response:
    return await _user_list(request, Q.follows.followers)


@routes.get(r"/api/v1/users/{id:\d+}/following")
@docs("Users this user follows (newest first)", tags=TAGS, auth="optional", paginated=True,
      responses={200: UserSchema, 404: None})
async def following(request: web.Request) -> web.Response:
    return await _user_list(request, Q.follows.following)
