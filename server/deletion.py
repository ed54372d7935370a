"""Account deletion: the request (the account is gone from every page at once, its sessions end) and
the background job that removes its rows in batches, resumable after a crash, keeping everyone
else's counters exact; the files nothing uses any more; the username's release after reserve_days."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server import search, timeline
from server.accounts import revoke_user_sessions, sessions_revoked
from server.auth import Principal
from server.db import Tx
from server.errors import Forbidden, NotFound
from server.events import emit, run_and_publish
from server.keys import DB, SERVICES
from server.media.uploads import delete_unused_files
from server.passwords import verify_password
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)

BATCH = 200  # rows per transaction (posts: a quarter of it, their cascades are larger)
LEASE = 60  # seconds a worker holds a job between two batches; a dead worker's job is free after it
RESERVE_DAYS = 30  # how long a deleted account's username stays taken
D = Q.deletion


# --- the request ------------------------------------------------------------------------------------

async def request_deletion(app: web.Application, principal: Principal, password: str) -> None:
    """Delete one's own account (403 for a wrong password): from this COMMIT on it answers 404
    everywhere, its sessions are revoked and its sockets close; the job then removes its rows."""
    user_id = principal.user_id
    row = await app[DB].fetchone(Q.users.password_of, {"id": user_id})
    if row is None or not await verify_password(app, password, row["password_hash"]):
        raise Forbidden("The password is wrong.")

    async def fn(tx: Tx) -> list[int]:
        account = await tx.fetchone(D.lock_account, {"id": user_id})
        if account is None or account["state"] == "deleted":
            raise NotFound("No such user.")
        await tx.execute(D.mark_deleted, {"id": user_id})
        await tx.execute(D.create_job, {"user_id": user_id})
        return await revoke_user_sessions(tx, user_id, "account_deleted")

    revoked = await app[DB].run(fn)
    await sessions_revoked(app, user_id, revoked)
    await timeline.author_visibility_changed(app, user_id)
    kick(app)


# --- the job ------------------------------------------------------------------------------------------

class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow to renew its lease)."""


class Job:
    """One claimed deletion: runs the stages, renewing the lease between batches."""

    def __init__(self, app: web.Application, user_id: int, token: str):
        self.app, self.user_id, self.token = app, user_id, token
        self.args = {"user_id": user_id, "limit": BATCH}

    async def renew(self, stage: str) -> None:
        if not await self.app[DB].execute(D.renew, {"user_id": self.user_id, "token": self.token,
                                                    "lease": LEASE, "stage": stage}):
            raise LeaseLost()

    async def stage(self, name: str, batch: Callable[[], Awaitable[bool]]) -> None:
        """Run batch() until it says nothing was left."""
        while True:
            await self.renew(name)
            if not await batch():
                return

    async def run(self) -> None:
        for name, batch in (("post_likes", self.post_likes), ("comment_likes", self.comment_likes),
                            ("comments", self.comments), ("follows", self.follows),
                            ("bookmarks", self.bookmarks), ("posts", self.posts),
                            ("notifications", self.notifications), ("media", self.media),
                            ("rest", self.rest)):
            await self.stage(name, batch)
            await remove_orphans(self.app)
        await self.app[DB].execute(D.finish, {"user_id": self.user_id, "token": self.token})

    # Each batch: one transaction; True when it found something to remove.

    async def post_likes(self) -> bool:
        return await self._likes(D.post_likes_of, D.lock_posts, D.post_likes_in, D.delete_post_likes,
                                 D.unbump_posts_likes, "post_id")

    async def comment_likes(self) -> bool:
        return await self._likes(D.comment_likes_of, D.lock_comments, D.comment_likes_in,
                                 D.delete_comment_likes, D.unbump_comments_likes, "comment_id")

    async def _likes(self, of: str, lock: str, mine: str, delete: str, unbump: str, key: str) -> bool:
        ids = [r["id"] for r in await self.app[DB].fetchall(of, self.args)]
        if not ids:
            return False

        async def fn(tx: Tx) -> None:
            # The liked rows first (as a like does), then the account's likes on them; each one
            # removed takes one off its counter. A like gone meanwhile (its post deleted) is not
            # counted twice: it is not found any more.
            locked = [r["id"] for r in await tx.fetchall(lock, {"ids": ids})]
            if not locked:
                return
            liked = [r[key] for r in await tx.fetchall(mine, {"user_id": self.user_id, "ids": locked})]
            if liked:
                await tx.execute(delete, {"user_id": self.user_id, "ids": liked})
                await tx.execute(unbump, {"ids": liked})

        await self.app[DB].run(fn)
        return True

    async def comments(self) -> bool:
        post_ids = sorted({r["id"] for r in await self.app[DB].fetchall(D.comments_of, self.args)})
        if not post_ids:
            return False

        async def fn(tx: Tx) -> None:
            # Posts first, in id order, as comments.create_comment and delete_comment lock them.
            locked = [r["id"] for r in await tx.fetchall(D.lock_posts, {"ids": post_ids})]
            if not locked:
                return
            rows = await tx.fetchall(D.comments_in, {"user_id": self.user_id, "ids": locked, "limit": BATCH})
            ids = [r["id"] for r in rows]
            await _orphan(tx, await tx.fetchall(D.comments_media, {"ids": ids}))
            await tx.execute(D.delete_comments, {"ids": ids})
            per_post = Counter(r["post_id"] for r in rows)
            await tx.executemany(D.unbump_post_comments, [{"n": n, "post_id": p} for p, n in sorted(per_post.items())])

        await self.app[DB].run(fn)
        return True

    async def follows(self) -> bool:
        rows = await self.app[DB].fetchall(D.follows_of, self.args)
        if not rows:
            return False
        people = sorted({self.user_id} | {r["follower_id"] for r in rows} | {r["followee_id"] for r in rows})

        async def fn(tx: Tx) -> list[int]:
            await tx.fetchall(D.lock_users, {"ids": people})
            still = await tx.fetchall(D.follows_in, {"ids": [r["id"] for r in rows]})
            if not still:
                return []
            await tx.execute(D.delete_follows, {"ids": [r["id"] for r in still]})
            followers, following = Counter(r["followee_id"] for r in still), Counter(r["follower_id"] for r in still)
            await tx.executemany(D.unbump_follow_counts, [
                {"id": uid, "followers": followers[uid], "following": following[uid]}
                for uid in sorted(followers.keys() | following.keys())])
            return [r["follower_id"] for r in still if r["followee_id"] == self.user_id]

        fans = await self.app[DB].run(fn)
        # Their home feeds hid the account's posts already; a rebuild now sees the follow gone too.
        await timeline.of(self.app).invalidate(*fans)
        return True

    async def bookmarks(self) -> bool:
        """The account's own bookmarks (others' bookmarks of its posts go with the posts)."""
        return await self.app[DB].execute(D.delete_bookmarks, self.args) > 0

    async def posts(self) -> bool:
        ids = [r["id"] for r in await self.app[DB].fetchall(D.posts_of, {**self.args, "limit": max(1, BATCH // 4)})]
        if not ids:
            return False

        async def fn(tx: Tx) -> None:
            await tx.fetchone(D.lock_user, {"id": self.user_id})
            mine = [r["id"] for r in await tx.fetchall(D.own_posts_in, {"user_id": self.user_id, "ids": ids})]
            if not mine:
                return
            await _orphan(tx, await tx.fetchall(D.posts_media, {"ids": mine}))
            await tx.execute(D.delete_posts, {"ids": mine})
            await search.unindex_posts(tx, mine)
            await tx.execute(D.unbump_user_posts, {"id": self.user_id, "n": len(mine)})

        await self.app[DB].run(fn)
        return True

    async def notifications(self) -> bool:
        """The account's own notifications, and those it caused (their readers' unread counts are
        sent again, as when a like is undone)."""
        if await self.app[DB].execute(D.delete_notifications_of, self.args):
            return True

        async def fn(tx: Tx) -> bool:
            rows = await tx.fetchall(D.notifications_by, self.args)
            if not rows:
                return False
            await tx.execute(D.delete_notifications_in, {"ids": [r["id"] for r in rows]})
            for uid in sorted({r["user_id"] for r in rows if not r["is_read"]}):
                count = await tx.fetchval(D.unread_count, {"user_id": uid})
                await emit(tx, uid, "notification.read", {"unread_count": int(count)})
            return True

        return await run_and_publish(self.app, fn)

    async def media(self) -> bool:
        async def fn(tx: Tx) -> bool:
            rows = await tx.fetchall(D.media_left, self.args)
            if not rows:
                return False
            await _orphan(tx, rows)
            await tx.execute(D.delete_media_in, {"ids": [r["id"] for r in rows]})
            return True

        return await self.app[DB].run(fn)

    async def rest(self) -> bool:
        removed = 0
        for query in (D.delete_events, D.delete_event_seq, D.delete_idempotency, D.delete_resets,
                      D.delete_conversations, D.delete_reactions, D.delete_sessions, D.delete_tag_follows,
                      D.delete_post_mentions, D.delete_comment_mentions):
            removed += await self.app[DB].execute(query, self.args)
        return removed > 0


async def _orphan(tx: Tx, rows: list[dict[str, Any]]) -> None:
    keys = sorted({k for r in rows for k in (r["storage_key"], r["thumb_key"]) if k})
    if keys:
        await tx.executemany(D.add_orphans, [(k,) for k in keys])


async def remove_orphans(app: web.Application) -> int:
    """Delete the listed files that no media row uses any more; each leaves the list once handled."""
    done = 0
    while rows := await app[DB].fetchall(D.orphans, {"limit": BATCH}):
        for row in rows:
            await delete_unused_files(app, [row["storage_key"]])
            await app[DB].execute(D.forget_orphan, {"key": row["storage_key"]})
            done += 1
        if len(rows) < BATCH:
            break
    return done


async def run_pending(app: web.Application) -> int:
    """Claim and run unfinished deletion jobs until none is free → how many finished. A job that
    fails is released (the next pass retries it); one whose worker died is free once its lease
    runs out."""
    finished = 0
    while True:
        token = secrets.token_hex(16)
        if not await app[DB].execute(D.claim, {"token": token, "lease": LEASE}):
            return finished
        user_id = await app[DB].fetchval(D.claimed, {"token": token})
        if user_id is None:
            continue
        try:
            await Job(app, user_id, token).run()
        except LeaseLost:
            log.warning("deletion of account %s: lease lost to another worker", user_id)
            continue
        except Exception as exc:
            log.exception("deletion of account %s failed; it will be retried", user_id)
            with contextlib.suppress(Exception):
                await app[DB].execute(D.release, {"user_id": user_id, "token": token,
                                                  "error": f"{type(exc).__name__}: {exc}"[:500]})
            return finished
        finished += 1
        log.info("account %s deleted", user_id)


def kick(app: web.Application) -> None:
    """Start run_pending in the background now, unless this process already runs it."""
    services = app[SERVICES]
    task = services.get("deletion_task")
    if task is not None and not task.done():
        services["deletion_again"] = True
        return

    async def go() -> None:
        while True:
            services["deletion_again"] = False
            try:
                await run_pending(app)
            except Exception as exc:  # MySQL away: the frequent housekeeping pass retries
                log.warning("account deletions failed: %s", exc)
            if not services.get("deletion_again"):
                return

    services["deletion_task"] = asyncio.get_running_loop().create_task(go())


async def idle(app: web.Application) -> None:
    """Wait for this process's background deletion work (tests, shutdown)."""
    task = app[SERVICES].get("deletion_task")
    if task is not None:
        await asyncio.shield(task)


def setup(app: web.Application) -> None:
    """Called at app creation: background deletion work is cancelled at cleanup (it resumes later)."""
    async def stop(app: web.Application) -> None:
        task = app[SERVICES].get("deletion_task")
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    app.on_cleanup.insert(0, stop)


async def release_usernames(app: web.Application) -> int:
    """Free the usernames of accounts deleted RESERVE_DAYS ago → how many."""
    total = 0
    while n := await app[DB].execute(D.release_usernames, {"days": RESERVE_DAYS, "limit": BATCH}):
        total += n
        if n < BATCH:
            break
    return total
