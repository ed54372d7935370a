"""Moderation: roles, who may moderate whom, suspensions (the users.state that hides an account)
and their timed end, and the append-only moderation log every moderator action writes to."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from server import timeline
from server.accounts import revoke_user_sessions, sessions_revoked
from server.db import Conn, Database, Tx
from server.errors import Forbidden, NotFound, ValidationFailed
from server.events import run_and_publish
from server.formats import dumps, iso
from server.http.pagination import PageParams, make_page
from server.keys import DB
from server.present import media_url
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)

ROLES = ("user", "moderator", "admin")
STAFF = ("moderator", "admin")
LIFT_BATCH = 100
# Work to do after COMMIT: closing sockets, dropping cached timelines.
AfterCommit = list[Callable[[], Awaitable[None]]]


def utc_naive(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime as the naive UTC value DATETIME(3) columns hold."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


# --- who may moderate ------------------------------------------------------------------------------

async def require_staff(conn: Conn | Database, user_id: int) -> str:
    """The role of an active moderator or admin; 403 for anyone else."""
    row = await conn.fetchone(Q.moderation.staff, {"id": user_id})
    if row is None or row["role"] not in STAFF or row["state"] != "active":
        raise Forbidden("Only moderators may do this.")
    return row["role"]


def _may_suspend(actor_id: int, actor_role: str, target: dict[str, Any]) -> None:
    """Moderators suspend users; admins also moderators; nobody an admin, nobody themselves."""
    if target["id"] == actor_id:
        raise Forbidden("You cannot suspend yourself.")
    if target["role"] == "admin" or (target["role"] == "moderator" and actor_role != "admin"):
        raise Forbidden(f"A {actor_role} cannot suspend a {target['role']}.")


# --- the log ---------------------------------------------------------------------------------------

async def log_action(conn: Conn, actor_id: int | None, action: str, *, subject_user_id: int | None = None,
                     target_type: str | None = None, target_id: int | None = None,
                     report_id: int | None = None, note: str | None = None, **details: Any) -> None:
    """Append one entry to the moderation log, in the action's own transaction."""
    await conn.execute(Q.moderation.log, {
        "actor_id": actor_id, "action": action, "subject_user_id": subject_user_id,
        "target_type": target_type, "target_id": target_id, "report_id": report_id, "note": note,
        "details": dumps(details).decode()})


def _entry(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    actor = None
    if row["actor_id"] is not None:
        actor = {"id": row["actor_id"], "username": row["actor_username"], "full_name": row["actor_full_name"],
                 "profile_pic": media_url(app, row["actor_avatar_key"])}
    return {
        "id": row["id"], "actor": actor, "action": row["action"], "subject_user_id": row["subject_user_id"],
        "target": {"type": row["target_type"], "id": row["target_id"]} if row["target_type"] else None,
        "report_id": row["report_id"], "note": row["note"], "details": orjson.loads(row["details"]),
        "created_at": iso(row["created_at"]),
    }


async def audit_page(app: web.Application, moderator_id: int, p: PageParams,
                     subject_user_id: int | None = None) -> dict[str, Any]:
    """The moderation log, newest first (one subject's entries when asked) → a page of AuditEntry."""
    db = app[DB]
    await require_staff(db, moderator_id)
    rows = await db.fetchall(p.sql(Q.moderation.log_page), p.args(subject=subject_user_id))
    return make_page(rows, p, dump=lambda r: _entry(app, r))


# --- suspensions -------------------------------------------------------------------------------------

def _user_view(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "username": row["username"], "full_name": row["full_name"],
        "profile_pic": media_url(app, row["avatar_key"]), "role": row["role"], "state": row["state"],
        "suspended_until": iso(row["state_until"]) if row["state"] == "suspended" else None,
        "suspension_reason": row["state_reason"] if row["state"] == "suspended" else None,
        "state_changed_at": iso(row["state_changed_at"]), "created_at": iso(row["created_at"]),
        "followers_count": row["followers_count"], "following_count": row["following_count"],
        "posts_count": row["posts_count"], "open_reports": int(row["open_reports"]),
    }


async def user_view(app: web.Application, moderator_id: int, user_id: int) -> dict[str, Any]:
    """A user as moderators see them (role, state, suspension, open reports), whatever their state
    short of deleted → ModeratedUser; 404 for none."""
    await require_staff(app[DB], moderator_id)
    row = await app[DB].fetchone(Q.moderation.user_view, {"id": user_id})
    if row is None:
        raise NotFound("No such user.")
    return _user_view(app, row)


async def suspend_in(tx: Tx, app: web.Application, actor_id: int, actor_role: str, user_id: int, *,
                     reason: str, until: dt.datetime | None, after: AfterCommit,
                     report_id: int | None = None) -> None:
    """Inside a transaction: suspend user_id (again: a new reason and end) and revoke all their
    sessions; `after` gets the closing of their sockets and the refresh of the home timelines."""
    until = utc_naive(until)
    if until is not None and until <= dt.datetime.now(dt.UTC).replace(tzinfo=None):
        raise ValidationFailed({"until": ["Must be in the future."]})
    target = await tx.fetchone(Q.moderation.lock_user, {"id": user_id})
    if target is None or target["state"] == "deleted":
        raise NotFound("No such user.")
    _may_suspend(actor_id, actor_role, target)
    await tx.execute(Q.moderation.suspend, {"id": user_id, "until": until, "reason": reason})
    revoked = await revoke_user_sessions(tx, user_id, "suspended")
    await log_action(tx, actor_id, "user.suspended", subject_user_id=user_id, target_type="user",
                     target_id=user_id, report_id=report_id, note=reason, until=iso(until),
                     sessions_revoked=len(revoked))

    async def later() -> None:
        await sessions_revoked(app, user_id, revoked)  # sockets close with 4001 now
        await timeline.author_visibility_changed(app, user_id)

    after.append(later)


async def run(app: web.Application, fn: Callable[[Tx, AfterCommit], Awaitable[Any]]) -> Any:
    """fn(tx, after) in one transaction (events published after COMMIT), then the after steps."""
    after: AfterCommit = []

    async def attempt(tx: Tx) -> Any:
        after.clear()  # a retried transaction starts over
        return await fn(tx, after)

    result = await run_and_publish(app, attempt)
    for step in after:
        await step()
    return result


async def suspend(app: web.Application, moderator_id: int, user_id: int, *, reason: str,
                  until: dt.datetime | None = None) -> dict[str, Any]:
    """Suspend a user (until a time, or until lifted): their sessions end and sockets close at once,
    logins are refused (account-suspended), their profile, posts and comments are hidden from
    everyone but moderators → ModeratedUser."""
    async def fn(tx: Tx, after: AfterCommit) -> None:
        role = await require_staff(tx, moderator_id)
        await suspend_in(tx, app, moderator_id, role, user_id, reason=reason, until=until, after=after)

    await run(app, fn)
    return await user_view(app, moderator_id, user_id)


async def _lift(tx: Tx, app: web.Application, actor_id: int | None, user_id: int, note: str | None,
                after: AfterCommit, **details: Any) -> bool:
    if not await tx.execute(Q.moderation.unsuspend, {"id": user_id}):
        return False
    await log_action(tx, actor_id, "user.unsuspended", subject_user_id=user_id, target_type="user",
                     target_id=user_id, note=note, **details)

    async def later() -> None:
        await timeline.author_visibility_changed(app, user_id)

    after.append(later)
    return True


async def unsuspend(app: web.Application, moderator_id: int, user_id: int, note: str | None = None) -> dict[str, Any]:
    """Lift a suspension (nothing to lift is no error): the account is visible again → ModeratedUser."""
    async def fn(tx: Tx, after: AfterCommit) -> None:
        role = await require_staff(tx, moderator_id)
        target = await tx.fetchone(Q.moderation.lock_user, {"id": user_id})
        if target is None or target["state"] == "deleted":
            raise NotFound("No such user.")
        _may_suspend(moderator_id, role, target)
        await _lift(tx, app, moderator_id, user_id, note, after)

    await run(app, fn)
    return await user_view(app, moderator_id, user_id)


async def lift_due(app: web.Application) -> int:
    """Lift every timed suspension whose end has come (logged with no actor) → how many."""
    lifted = 0
    while True:
        due = await app[DB].fetchall(Q.moderation.due_to_lift, {"limit": LIFT_BATCH})
        for row in due:
            async def fn(tx: Tx, after: AfterCommit, user_id: int = row["id"]) -> bool:
                if await tx.fetchone(Q.moderation.lock_due, {"id": user_id}) is None:
                    return False  # lifted meanwhile (another worker, a moderator)
                return await _lift(tx, app, None, user_id, None, after, expired=True)

            lifted += bool(await run(app, fn))
        if len(due) < LIFT_BATCH:
            return lifted


# --- roles (the command line: python -m server set-role NAME ROLE) ------------------------------------

async def set_role(db: Database, username: str, role: str) -> dict[str, Any]:
    """Give the account `username` a role (logged with no actor) → {id, username, role, previous}."""
    if role not in ROLES:
        raise ValidationFailed({"role": [f"One of {', '.join(ROLES)}."]})
    async with db.transaction() as tx:
        row = await tx.fetchone(Q.moderation.role_by_username, {"username": username})
        if row is None:
            raise NotFound(f"No user named {username!r}.")
        if row["role"] != role:
            await tx.execute(Q.moderation.set_role, {"id": row["id"], "role": role})
            await log_action(tx, None, "role.changed", subject_user_id=row["id"], target_type="user",
                             target_id=row["id"], previous=row["role"], role=role)
    return {"id": row["id"], "username": username, "role": role, "previous": row["role"]}
