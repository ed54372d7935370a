"""Reports: a user reports a user, post, comment or message (with a snapshot of it, rate-limited, one
open report per reporter and target); moderators list them and resolve them with an action, and
every reporter of that target is told (`report.resolved`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pymysql
from aiohttp import web

from server import accounts, chat, comments, moderation, notifications, posts
from server.db import Tx, error_code
from server.errors import Conflict, NotFound, ValidationFailed
from server.formats import dumps, iso
from server.http.pagination import PageParams, make_page
from server.keys import CONFIG, DB
from server.media.uploads import remove_files
from server.present import media_url
from server.queries import QUERIES as Q

TARGETS = ("user", "post", "comment", "message")
REASONS = ("spam", "abuse", "illegal", "other")
ACTIONS = ("dismiss", "delete_content", "suspend_user")
_TARGET_QUERIES = {"user": Q.reports.user_target, "post": Q.reports.post_target,
                   "comment": Q.reports.comment_target, "message": Q.reports.message_target}


def _urls(app: web.Application, keys: Any) -> list[str | None]:
    if isinstance(keys, str | bytes):
        keys = orjson.loads(keys)
    return [media_url(app, k) for k in keys or []]


def _snapshot(app: web.Application, target_type: str, row: dict[str, Any]) -> dict[str, Any]:
    """What the reported thing said when it was reported: it stays reviewable if it changes or goes."""
    if target_type == "user":
        return {"id": row["id"], "username": row["username"], "full_name": row["full_name"], "bio": row["bio"],
                "location": row["location"], "profile_pic": media_url(app, row["avatar_key"])}
    base = {"id": row["id"], "content": row["content"], "created_at": iso(row["created_at"]),
            "edited_at": iso(row["edited_at"])}
    if target_type == "post":
        return {**base, "author_id": row["user_id"], "title": row["title"], "media": _urls(app, row["media_keys"])}
    if target_type == "comment":
        return {**base, "author_id": row["user_id"], "post_id": row["post_id"],
                "media": _urls(app, row["media_keys"])}
    return {**base, "sender_id": row["sender_id"], "recipient_id": row["recipient_id"],
            "message_type": row["message_type"], "media": _urls(app, [row["media_key"]] if row["media_key"] else [])}


def filed(row: dict[str, Any]) -> dict[str, Any]:
    """A report as its reporter sees it (FiledReport)."""
    return {"id": row["id"], "target": {"type": row["target_type"], "id": row["target_id"]},
            "reason": row["reason"], "comment": row["comment"], "status": row["status"],
            "created_at": iso(row["created_at"])}


async def file_report(app: web.Application, reporter_id: int, *, target_type: str, target_id: int, reason: str,
                      comment: str | None = None) -> tuple[dict[str, Any], bool]:
    """Report something the reporter can see (a message only if they took part in it) → (FiledReport,
    created). An open report by the same reporter on the same target is returned instead of a new one.
    Rate-limited per reporter (ratelimit.reports_user)."""
    config = app[CONFIG]
    await accounts.limiter(app).hit("reports_user", reporter_id, config.ratelimit.reports_user)
    db = app[DB]
    row = await db.fetchone(_TARGET_QUERIES[target_type], {"id": target_id})
    if row is None or (target_type == "message" and reporter_id not in (row["sender_id"], row["recipient_id"])):
        raise NotFound(f"No such {target_type}.")
    if row["user_id"] == reporter_id:
        raise ValidationFailed({"id": [f"You cannot report your own {target_type}."]})
    args = {"reporter_id": reporter_id, "target_type": target_type, "target_id": target_id,
            "target_user_id": row["user_id"], "reason": reason, "comment": comment,
            "snapshot": dumps(_snapshot(app, target_type, row)).decode()}
    try:
        report_id = await db.insert(Q.reports.create, args)
    except pymysql.err.IntegrityError as exc:
        if error_code(exc) != 1062:  # ER_DUP_ENTRY on uq_reports_open: already reported, still open
            raise
        existing = await db.fetchone(Q.reports.open_of, args)
        if existing is None:  # resolved in between: try once more
            return await file_report(app, reporter_id, target_type=target_type, target_id=target_id,
                                     reason=reason, comment=comment)
        return filed(existing), False
    return filed(await db.fetchone(Q.reports.by_id, {"id": report_id})), True


# --- the moderators' side ------------------------------------------------------------------------------

def _summary(app: web.Application, row: dict[str, Any], prefix: str, id_key: str) -> dict[str, Any] | None:
    if row[id_key] is None:
        return None
    return {"id": row[id_key], "username": row[f"{prefix}_username"], "full_name": row[f"{prefix}_full_name"],
            "profile_pic": media_url(app, row[f"{prefix}_avatar_key"])}


def report(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    """A Q.reports.page / by_id row → Report (the moderators' view)."""
    target_user = _summary(app, row, "target", "target_user_id")
    target_user["state"] = row["target_state"]
    return {
        **filed(row),
        "reporter": _summary(app, row, "reporter", "reporter_id"),
        "target_user": target_user,
        "snapshot": orjson.loads(row["snapshot"]),
        "action": row["action"], "note": row["note"],
        "resolved_by": _summary(app, row, "resolver", "resolved_by"),
        "resolved_at": iso(row["resolved_at"]),
    }


async def reports_page(app: web.Application, moderator_id: int, status: str, p: PageParams) -> dict[str, Any]:
    """Open or resolved reports, newest first (?after= for oldest first) → a page of Report."""
    db = app[DB]
    await moderation.require_staff(db, moderator_id)
    rows = await db.fetchall(p.sql(Q.reports.page), p.args(status=status))
    return make_page(rows, p, dump=lambda r: report(app, r))


async def get_report(app: web.Application, moderator_id: int, report_id: int) -> dict[str, Any]:
    await moderation.require_staff(app[DB], moderator_id)
    row = await app[DB].fetchone(Q.reports.by_id, {"id": report_id})
    if row is None:
        raise NotFound("No such report.")
    return report(app, row)


async def _delete_content(tx: Tx, app: web.Application, head: dict[str, Any],
                          after: moderation.AfterCommit) -> bool:
    """Remove the reported post, comment or message (False: it was gone already)."""
    kind, target_id = head["target_type"], head["target_id"]
    if kind == "post":
        removed = await posts.remove_post(tx, target_id)
        if removed is not None:
            author_id, files = removed
            after.append(lambda: posts.post_removed(app, author_id, target_id, files))
        return removed is not None
    if kind == "comment":
        files = await comments.remove_comment(tx, target_id)
        if files is not None:
            after.append(lambda: remove_files(app, files))
        return files is not None
    if kind == "message":
        return await chat.remove_message(tx, target_id)
    raise ValidationFailed({"action": ["A reported user has no content to delete: use suspend_user."]})


async def resolve(app: web.Application, moderator_id: int, report_id: int, *, action: str,
                  note: str | None = None, until: dt.datetime | None = None) -> dict[str, Any]:
    """Resolve a report with an action: dismiss; delete_content (the post, comment or message);
    suspend_user (the reported user or author, until `until` or until lifted). Every open report on
    the same target is resolved with it, each reporter gets `report.resolved`, and the moderation
    log records it all, in one transaction → the Report. 409 when it is already resolved."""
    async def fn(tx: Tx, after: moderation.AfterCommit) -> None:
        role = await moderation.require_staff(tx, moderator_id)
        head = await tx.fetchone(Q.reports.lock, {"id": report_id})
        if head is None:
            raise NotFound("No such report.")
        if head["status"] != "open":
            raise Conflict("This report is already resolved.")
        details: dict[str, Any] = {}
        if action == "delete_content":
            details["deleted"] = await _delete_content(tx, app, head, after)
            if details["deleted"]:
                await moderation.log_action(tx, moderator_id, "content.deleted",
                                            subject_user_id=head["target_user_id"],
                                            target_type=head["target_type"], target_id=head["target_id"],
                                            report_id=report_id, note=note)
        elif action == "suspend_user":
            await moderation.suspend_in(tx, app, moderator_id, role, head["target_user_id"],
                                        reason=note or f"Reported for {head['reason']}.", until=until,
                                        after=after, report_id=report_id)
        together = await tx.fetchall(Q.reports.lock_open_on_target, {
            "target_type": head["target_type"], "target_id": head["target_id"]})
        ids = [r["id"] for r in together]
        await tx.execute(Q.reports.resolve, {"ids": ids, "action": action, "note": note,
                                             "moderator_id": moderator_id})
        await moderation.log_action(tx, moderator_id, "report.resolved", subject_user_id=head["target_user_id"],
                                    target_type=head["target_type"], target_id=head["target_id"],
                                    report_id=report_id, note=note, outcome=action, report_ids=ids, **details)
        for row in together:
            await notifications.report_resolved(tx, app, user_id=row["reporter_id"], report_id=row["id"],
                                                action=action)

    await moderation.run(app, fn)
    return await get_report(app, moderator_id, report_id)
