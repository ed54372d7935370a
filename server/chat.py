"""One-to-one chat: the one send path (REST and the `message.send` frame), edits, reads, responses,
conversations and history, typing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import pymysql
from aiohttp import web

from server import present
from server.blocks import refuse_between
from server.db import Conn, Tx, error_code
from server.errors import DmNotAllowed, Forbidden, NotFound, ValidationFailed
from server.events import Event, deliver_local, emit, emitted, publish_transient, reservation, run_and_publish
from server.formats import iso
from server.history import save_message
from server.http.pagination import PageParams, make_page
from server.keys import DB, SERVICES
from server.notifications import notify, now_ms, switched_off
from server.notifications import present as present_notification
from server.queries import QUERIES as Q
from server.reactions import attach as attach_reactions
from server.reactions import summaries as reaction_summaries

log = logging.getLogger(__name__)

MAX_CONTENT = 5000
GROUP_MAX = 32  # sends stored together at most (_Group)
FLIGHTS = 2  # send transactions at once per process before sends queue up for a group (_Group)
# message_type / response_type → the media types it may carry.
MEDIA_TYPES = {"image": ("image", "gif"), "video": ("video",)}


# --- API objects ----------------------------------------------------------------------------

def media_of(app: web.Application, row: dict[str, Any]) -> dict[str, Any] | None:
    """The attached Media of a row joined with the media columns prefixed `md_` (messages.sql)."""
    if row.get("md_id") is None:
        return None
    return present.media(app, {k[3:]: v for k, v in row.items() if k.startswith("md_")})


def message(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "sender_id": row["sender_id"], "recipient_id": row["recipient_id"],
        "message_type": row["message_type"], "content": row["content"], "media": media_of(app, row),
        "client_id": row["client_id"], "read_at": iso(row["read_at"]),
        "responses_count": row["responses_count"], "created_at": iso(row["created_at"]),
        "edited_at": iso(row["edited_at"]),
    }


def response(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "message_id": row["message_id"], "author_id": row["author_id"],
        "response_type": row["response_type"], "content": row["content"], "media": media_of(app, row),
        "created_at": iso(row["created_at"]),
    }


DELETED_USER = "deleted user"


def conversation(app: web.Application, row: dict[str, Any]) -> dict[str, Any]:
    """A Q.conversations.page row → Conversation; a deleted peer is shown as a "deleted user"."""
    if row["peer_state"] == "deleted":
        peer = {"id": row["peer_id"], "username": DELETED_USER, "full_name": None, "profile_pic": None,
                "deleted": True}
    else:
        peer = {"id": row["peer_id"], "username": row["peer_username"], "full_name": row["peer_full_name"],
                "profile_pic": present.media_url(app, row["peer_avatar_key"])}
    return {
        "peer": peer,
        "last_message": message(app, row),
        "unread_count": row["unread_count"],
        "last_read_id": row["last_read_id"],
        "muted": bool(row["muted"]),
    }


def pair(a: int, b: int) -> dict[str, int]:
    """The conversation's key in messages (user_lo, user_hi)."""
    return {"lo": min(a, b), "hi": max(a, b)}


# --- transactions that publish after COMMIT ---------------------------------------------------

def _check_body(kind: str, content: str, type_: str, media_id: int | None) -> None:
    errors: dict[str, list[str]] = {}
    if len(content) > MAX_CONTENT:
        errors["content"] = [f"At most {MAX_CONTENT} characters."]
    elif not content.strip() and media_id is None:
        errors["content"] = ["Must not be blank (unless media is attached)."]
    if type_ == "text" and media_id is not None:
        errors[f"{kind}_type"] = ["Media needs image or video."]
    elif type_ != "text" and media_id is None:
        errors["media_id"] = [f"An {type_} {kind} needs media_id."]
    if errors:
        raise ValidationFailed(errors)


async def _attach(conn: Conn, query: str, owner: dict[str, int], user_id: int, media_id: int | None,
                  type_: str) -> None:
    if media_id is None:
        return
    changed = await conn.execute(query, {**owner, "media_id": media_id, "user_id": user_id,
                                         "types": MEDIA_TYPES[type_]})
    if changed != 1:
        raise ValidationFailed({"media_id": [f"Must be one of your own unattached {type_} uploads."]})


async def may_message(conn: Conn, sender_id: int, recipient_id: int) -> dict[str, Any]:
    """Refuse what the recipient does not accept: 403 when the sender blocks the recipient (they may
    unblock); 403 dm-not-allowed when the recipient blocks the sender or their dm_policy refuses
    the sender (`nobody`; `following` and they do not follow the sender), the same answer
    whichever the reason, so the sender learns no more than that. 422 for no such recipient.

    Returns the sender's summary for the recipient's notification (notifications.create's actor).
    """
    return _judge(await conn.fetchone(Q.messages.gate, {"sender_id": sender_id, "recipient_id": recipient_id}))


def _judge(gate: dict[str, Any] | None) -> dict[str, Any]:
    """may_message's verdict on a Q.messages.gate row."""
    if gate is None:
        raise ValidationFailed({"recipient_id": ["No such user."]})
    if gate["blocking"]:
        raise Forbidden("You have blocked this user: unblock them to send messages.")
    policy = gate["dm_policy"]
    if gate["blocked_by"] or policy == "nobody" or (policy == "following" and not gate["follows_sender"]):
        raise DmNotAllowed()
    return gate


class _Message(dict):
    """A Message stored by _store, with its JSON (`json`: the text its message.created events carry)."""

    __slots__ = ("json",)


def encoded(msg: dict[str, Any]) -> str | None:
    """The JSON of a Message just stored by send_message (the same text as its events), else None."""
    return getattr(msg, "json", None)


@dataclass(slots=True)
class _Send:
    """One message to store (send_message's arguments)."""

    sender_id: int
    recipient_id: int
    content: str
    message_type: str
    media_id: int | None
    client_id: str | None
    done: asyncio.Future | None = None

    @property
    def pair(self) -> tuple[int, int]:
        return (self.sender_id, self.recipient_id) if self.sender_id < self.recipient_id else \
            (self.recipient_id, self.sender_id)


async def send_message(app: web.Application, sender_id: int, *, recipient_id: int, content: str,
                       message_type: str = "text", media_id: int | None = None,
                       client_id: str | None = None) -> tuple[dict[str, Any], bool]:
    """Store a message → (Message, created). A known (sender, client_id) returns the existing one.

    message.created goes to both participants, a notification to the recipient. A message the
    recipient does not accept (may_message) is refused and nothing of it is stored.

    The hot path of chat (see _store and _Group): three round trips to MySQL, one to Redis after
    COMMIT, and under load the sends of a process share them (group commit).
    """
    if recipient_id == sender_id:
        raise ValidationFailed({"recipient_id": ["You cannot message yourself."]})
    _check_body("message", content, message_type, media_id)
    send = _Send(sender_id, recipient_id, content, message_type, media_id, client_id)
    group = app[SERVICES].get("chat.sends")
    if group is None:
        group = app[SERVICES]["chat.sends"] = _Group(app)
    return await group.send(send)


class _Group:
    """Group commit of a process's sends. While fewer than FLIGHTS send transactions are running in
    the process, a send is stored at once, in its caller's task; sends that arrive while FLIGHTS
    are running queue up, and the next transaction to finish goes on (in a task of the process)
    to store all of them together, in one transaction: the same three round trips for all. So
    under load the round trips, the COMMIT and the Redis publish are shared, and a slow commit
    holds up no more than the sends queued behind it. Should a group's transaction fail (a
    refusal, a retried client_id, a deadlock past its retries), nothing of it was kept: each of
    its sends is then stored on its own and gets its own answer.

    Not with read replicas (the replica router notes a write in its caller's context), nor for a
    message with media: those are always stored on their own.
    """

    def __init__(self, app: web.Application):
        self.app = app
        self.flights = 0  # send transactions running (a caller's or a group's)
        self.queue: list[_Send] = []
        self.tasks: set[asyncio.Task] = set()

    async def send(self, send: _Send) -> tuple[dict[str, Any], bool]:
        if send.media_id is not None or self.app[DB].router is not None:
            return await _send_one(self.app, send)
        if self.flights >= FLIGHTS:
            send.done = asyncio.get_running_loop().create_future()
            self.queue.append(send)
            return await send.done
        self.flights += 1
        try:
            return await _send_one(self.app, send)
        finally:
            if self.queue:  # this flight goes on with what queued meanwhile
                task = asyncio.create_task(self._drain())
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            else:
                self.flights -= 1

    async def _drain(self) -> None:
        group: list[_Send] = []
        try:
            while self.queue:
                group, self.queue = self.queue[:GROUP_MAX], self.queue[GROUP_MAX:]
                await self._store(group)
        except asyncio.CancelledError:  # shutting down: whoever still waits is told
            for send in group + self.queue:
                if not send.done.done():
                    send.done.set_exception(ConnectionError("the server is shutting down"))
            self.queue = []
            raise
        finally:
            self.flights -= 1

    async def _store(self, group: list[_Send]) -> None:
        if len(group) > 1:
            later: list[Event] = []
            try:
                msgs = await run_and_publish(self.app, lambda conn: _store(self.app, conn, group), later=later)
            except Exception as exc:  # each on its own below, with its own answer
                log.info("a group of %d sends failed (%s): storing them one by one", len(group), exc)
            else:
                for send, msg in zip(group, msgs, strict=True):
                    if not send.done.done():
                        send.done.set_result((msg, True))
                # Queued right after the answers, so each sender's ack (queued when its task
                # resumes) and its message.created go out in one write.
                deliver_local(self.app, later)
                return
        for send in group:
            try:
                result = await _send_one(self.app, send)
            except Exception as exc:
                if not send.done.done():
                    send.done.set_exception(exc)
            else:
                if not send.done.done():
                    send.done.set_result(result)


async def _send_one(app: web.Application, send: _Send) -> tuple[dict[str, Any], bool]:
    """One send in its own transaction → (Message, created)."""
    try:
        return (await run_and_publish(app, lambda conn: _store(app, conn, [send]), local=True))[0], True
    except pymysql.err.IntegrityError as exc:
        code = error_code(exc)
        if code == 1452 and "fk_messages_recipient" in str(exc):  # ER_NO_REFERENCED_ROW_2
            raise ValidationFailed({"recipient_id": ["No such user."]}) from None
        # ER_DUP_ENTRY: a send with this client_id (a retry, or a concurrent send that won the unique
        # key (sender_id, client_id)) is already stored: return that message, unless the recipient
        # refuses the sender now (the refusal is answered first, as for any send).
        if code != 1062 or send.client_id is None:
            raise
        await may_message(app[DB], send.sender_id, send.recipient_id)
        row = await app[DB].fetchone(Q.messages.by_client_full,
                                     {"sender_id": send.sender_id, "client_id": send.client_id})
        if row is None:
            raise
    if row["recipient_id"] != send.recipient_id:
        raise ValidationFailed({"client_id": ["Already used for a message to another user."]})
    return (await attach_reactions(app, send.sender_id, [message(app, row)]))[0], False


async def _store(app: web.Application, conn: Tx, sends: list[_Send]) -> list[dict[str, Any]]:
    """Inside the transaction: store sends → their Messages, with their events. Every statement is
    built from values already known (nothing is read back), in three round trips whatever the
    number of sends (Tx.batch); a refusal raises (and the transaction rolls back)."""
    created_at = now_ms()
    # 1. BEGIN, the gates and the messages. The unique key (sender_id, client_id) refuses a retried
    # send (1062), and the INSERT selects from the recipient's row, so a missing or deleted one
    # inserts nothing (id 0).
    first = await conn.batch(*(statement for send in sends for statement in (
        (Q.messages.gate, {"sender_id": send.sender_id, "recipient_id": send.recipient_id}),
        (Q.messages.create, {"sender_id": send.sender_id, "recipient_id": send.recipient_id,
                             "message_type": send.message_type, "content": send.content,
                             "client_id": send.client_id, "created_at": created_at}))))
    senders, mids = [], []
    for k in range(len(sends)):
        gate, inserted = first[2 * k], first[2 * k + 1]
        senders.append(_judge(gate.rows[0] if gate.rows else None))
        if not inserted.lastrowid:
            raise ValidationFailed({"recipient_id": ["No such user."]})
        mids.append(inserted.lastrowid)
    media: list[dict[str, Any] | None] = [None] * len(sends)
    for k, send in enumerate(sends):  # (a message with media is always stored on its own)
        if send.media_id is not None:
            await _attach(conn, Q.messages.attach_media, {"message_id": mids[k]}, send.sender_id, send.media_id,
                          send.message_type)
            media[k] = media_of(app, await conn.fetchone(Q.messages.media_row, {"id": send.media_id}))
    # 2. Both conversation rows of each message (one statement per pair, pairs in user id order,
    # so concurrent transactions never lock them in opposite orders), the recipient's
    # notification unless they suppress it (as notifications.create decides), and the seqs of
    # every event (in user id order).
    statements = []
    for k in sorted(range(len(sends)), key=lambda k: (sends[k].pair, mids[k])):
        (lo, hi), recipient = sends[k].pair, sends[k].recipient_id
        statements.append((Q.conversations.touch_pair, {
            "lo": lo, "hi": hi, "message_id": mids[k],
            "lo_unread": int(lo == recipient), "hi_unread": int(hi == recipient)}))
    notified = [k for k in range(len(sends)) if not senders[k]["suppressed"]
                and not switched_off(senders[k]["disabled"], "message")]
    for k in notified:
        statements.append((Q.notifications.create, {
            "user_id": sends[k].recipient_id, "type": "message", "actor_id": sends[k].sender_id,
            "post_id": None, "comment_id": None, "message_id": mids[k], "response_id": None,
            "created_at": created_at}))
    owners = [user for k, send in enumerate(sends) for user in send.pair]
    owners += [sends[k].recipient_id for k in notified]
    seqs = reservation(conn, owners)
    done = await conn.batch(*statements, *seqs)
    note_ids = {k: done[len(sends) + n].lastrowid for n, k in enumerate(notified)}
    msgs, items = [], []
    for k, send in enumerate(sends):
        msg = _Message({
            "id": mids[k], "sender_id": send.sender_id, "recipient_id": send.recipient_id,
            "message_type": send.message_type, "content": send.content, "media": media[k],
            "client_id": send.client_id, "read_at": None, "responses_count": 0,
            "created_at": iso(created_at), "edited_at": None, "reactions": [],
        })
        msgs.append(msg)
        items += [(user, "message.created", msg) for user in send.pair]
        if k in note_ids:
            sender = senders[k]
            items.append((send.recipient_id, "notification.created", present_notification(app, {
                "id": note_ids[k], "type": "message", "actor_id": send.sender_id,
                "actor_username": sender["username"], "actor_full_name": sender["full_name"],
                "actor_avatar_key": sender["avatar_key"], "post_id": None, "comment_id": None,
                "message_id": mids[k], "is_read": False, "created_at": created_at})))
    # 3. The log rows of the events go with the COMMIT (events.emitted).
    for event in emitted(conn, items, done[-len(seqs):]):
        if type(event.data) is _Message:
            event.data.json = event.payload()
    return msgs


async def _participant_message(conn: Conn, user_id: int, message_id: int, *, lock: bool) -> dict[str, Any]:
    row = await conn.fetchone(Q.messages.lock if lock else Q.messages.head, {"id": message_id})
    if row is None or user_id not in (row["sender_id"], row["recipient_id"]):
        raise NotFound("No such message.")
    return row


async def get_message(app: web.Application, user_id: int, message_id: int) -> dict[str, Any]:
    row = await app[DB].fetchone(Q.messages.by_id, {"id": message_id})
    if row is None or user_id not in (row["sender_id"], row["recipient_id"]):
        raise NotFound("No such message.")
    return (await attach_reactions(app, user_id, [message(app, row)]))[0]


async def edit_message(app: web.Application, user_id: int, message_id: int, content: str) -> dict[str, Any]:
    """Sender only → the Message with edited_at; message.updated to both; the replaced version is
    kept (server/history.py)."""
    async def fn(conn: Tx) -> dict[str, Any]:
        head = await _participant_message(conn, user_id, message_id, lock=True)
        if head["sender_id"] != user_id:
            raise Forbidden("Only the sender may edit this message.")
        # Between users who block one another the history is read-only.
        await refuse_between(conn, head["sender_id"], head["recipient_id"], "edit messages to this user")
        if len(content) > MAX_CONTENT or (not content.strip() and head["message_type"] == "text"):
            raise ValidationFailed({"content": [f"1–{MAX_CONTENT} characters, not blank."]})
        await save_message(conn, message_id)  # the version this edit replaces
        await conn.execute(Q.messages.edit, {"id": message_id, "content": content})
        msg = message(app, await conn.fetchone(Q.messages.by_id, {"id": message_id}))
        # Each side's document carries the reactions as that side sees them (`me`).
        lo, hi = sorted((head["sender_id"], head["recipient_id"]))
        views = (await reaction_summaries(conn, [message_id], lo, hi)).get(message_id, ([], []))
        for uid, view in ((lo, views[0]), (hi, views[1])):
            await emit(conn, uid, "message.updated", {**msg, "reactions": view})
        return {**msg, "reactions": views[0] if user_id == lo else views[1]}

    return await run_and_publish(app, fn)


async def delete_message(app: web.Application, user_id: int, message_id: int) -> None:
    """Sender only; conversations and unread counts follow; message.deleted to both."""
    async def fn(conn: Tx) -> None:
        head = await _participant_message(conn, user_id, message_id, lock=True)
        if head["sender_id"] != user_id:
            raise Forbidden("Only the sender may delete this message.")
        await _remove(conn, head)

    await run_and_publish(app, fn)


async def remove_message(conn: Tx, message_id: int) -> bool:
    """Inside a transaction: delete a message whoever sent it (a moderator's removal), with the
    events of a deletion; False when it is already gone."""
    head = await conn.fetchone(Q.messages.lock, {"id": message_id})
    if head is None:
        return False
    await _remove(conn, head)
    return True


async def _remove(conn: Tx, head: dict[str, Any]) -> None:
    """Delete a locked message (head: id, sender_id, recipient_id): unread counts and both
    conversation rows follow, message.deleted to both."""
    message_id = head["id"]
    sender, recipient = head["sender_id"], head["recipient_id"]
    lost = {r["user_id"]: r["n"] for r in await conn.fetchall(
        Q.notifications.unread_by_message, {"message_id": message_id})}
    await conn.execute(Q.conversations.unread_minus, {
        "user_id": recipient, "peer_id": sender, "message_id": message_id})
    await conn.execute(Q.messages.delete, {"id": message_id})
    newest = await conn.fetchval(Q.messages.newest_id, pair(sender, recipient))
    args = {"a": sender, "b": recipient, "message_id": message_id, "newest": newest}
    await conn.execute(Q.conversations.drop_pair if newest is None else Q.conversations.retarget, args)
    data = {"id": message_id, "sender_id": sender, "recipient_id": recipient}
    for uid in sorted((sender, recipient)):
        await emit(conn, uid, "message.deleted", data)
        if lost.get(uid):
            count = await conn.fetchval(Q.notifications.unread_count, {"user_id": uid})
            await emit(conn, uid, "notification.read", {"unread_count": int(count)})


async def mark_read(app: web.Application, user_id: int, peer_id: int, up_to_id: int | None) -> dict[str, int]:
    """Read the peer's messages up to up_to_id (default newest) → {unread_count, last_read_id}."""
    async def fn(conn: Tx) -> dict[str, int]:
        conv = await conn.fetchone(Q.conversations.lock, {"user_id": user_id, "peer_id": peer_id})
        if conv is None:
            if not await conn.fetchval(Q.messages.user_exists, {"id": peer_id}) or peer_id == user_id:
                raise NotFound("No such conversation.")
            return {"unread_count": 0, "last_read_id": 0}
        old = conv["last_read_id"]
        target = conv["last_message_id"] if up_to_id is None else min(up_to_id, conv["last_message_id"])
        if target <= old:
            return {"unread_count": 0 if conv["muted"] else conv["unread_count"], "last_read_id": old}
        keys = {**pair(user_id, peer_id), "user_id": user_id, "peer_id": peer_id,
                "from_id": old, "to_id": target}
        await conn.execute(Q.messages.mark_read, keys)
        await conn.execute(Q.conversations.set_read, keys)
        unread = await conn.fetchval(Q.conversations.unread, {"user_id": user_id, "peer_id": peer_id})
        data = {"reader_id": user_id, "peer_id": peer_id, "last_read_id": target}
        for uid in sorted((user_id, peer_id)):
            await emit(conn, uid, "message.read", data)
        return {"unread_count": int(unread), "last_read_id": target}

    return await run_and_publish(app, fn)


async def add_response(app: web.Application, user_id: int, message_id: int, *, content: str,
                       response_type: str = "text", media_id: int | None = None) -> dict[str, Any]:
    """A participant's reply attached to a message → Response; response.created to both. Refused as
    a message to the other participant would be (may_message)."""
    _check_body("response", content, response_type, media_id)

    async def fn(conn: Tx) -> dict[str, Any]:
        head = await _participant_message(conn, user_id, message_id, lock=True)
        other = head["recipient_id"] if head["sender_id"] == user_id else head["sender_id"]
        await may_message(conn, user_id, other)
        if await conn.fetchval(Q.messages.deleted, {"id": other}):
            raise NotFound("No such message.")
        rid = await conn.insert(Q.messages.response_create, {
            "message_id": message_id, "author_id": user_id, "response_type": response_type,
            "content": content})
        await conn.execute(Q.messages.bump_responses, {"id": message_id})
        await _attach(conn, Q.messages.attach_response_media, {"response_id": rid}, user_id, media_id,
                      response_type)
        obj = response(app, await conn.fetchone(Q.messages.response_by_id, {"id": rid}))
        for uid in sorted((head["sender_id"], head["recipient_id"])):
            await emit(conn, uid, "response.created", obj)
        # "a response to one's message": its sender is told, unless they wrote it.
        await notify(conn, app, user_id=head["sender_id"], type="response", actor_id=user_id,
                                   message_id=message_id, response_id=rid)
        return obj

    return await run_and_publish(app, fn)


async def mute_conversation(app: web.Application, user_id: int, peer_id: int, *, on: bool = True) -> dict[str, bool]:
    """Mute (on) or unmute the conversation with peer_id (idempotent) → {muted}. Its messages still
    arrive and are stored, but make no notification for user_id and no unread badge (unread_count
    shows 0 while muted); the peer notices nothing. 404 for no such user (or oneself)."""
    db = app[DB]
    if peer_id == user_id or not await db.fetchval(Q.messages.user_exists, {"id": peer_id}):
        raise NotFound("No such user.")
    await db.execute(Q.conversations.mute if on else Q.conversations.unmute, {"user_id": user_id, "peer_id": peer_id})
    return {"muted": on}


# --- reads ----------------------------------------------------------------------------------

async def conversations(app: web.Application, user_id: int, p: PageParams) -> dict[str, Any]:
    """The user's conversations, most recent first → a page of Conversation."""
    rows = await app[DB].fetchall(p.sql(Q.conversations.page), p.args(user_id=user_id))
    page = make_page(rows, p, key=lambda r: r["last_message_id"], dump=lambda r: conversation(app, r))
    await attach_reactions(app, user_id, [c["last_message"] for c in page["items"]])
    return page


async def history(app: web.Application, user_id: int, peer_id: int, p: PageParams) -> dict[str, Any]:
    """Messages between the user and a peer → a page of Message; 404 for no such user (or oneself)."""
    db = app[DB]
    if peer_id == user_id or not await db.fetchval(Q.messages.user_exists, {"id": peer_id}):
        raise NotFound("No such user.")
    rows = await db.fetchall(p.sql(Q.messages.history), p.args(**pair(user_id, peer_id)))
    page = make_page(rows, p, dump=lambda r: message(app, r))
    await attach_reactions(app, user_id, page["items"])
    return page


async def responses(app: web.Application, user_id: int, message_id: int, p: PageParams) -> dict[str, Any]:
    """Responses to a message the user takes part in → a page of Response; 404 otherwise."""
    db = app[DB]
    head = await db.fetchone(Q.messages.head, {"id": message_id})
    if head is None or user_id not in (head["sender_id"], head["recipient_id"]):
        raise NotFound("No such message.")
    rows = await db.fetchall(p.sql(Q.messages.responses), p.args(message_id=message_id))
    return make_page(rows, p, dump=lambda r: response(app, r))


# --- typing ---------------------------------------------------------------------------------

async def typing(app: web.Application, user_id: int, peer_id: int) -> None:
    """Tell the peer the user is typing: a transient event, neither stored nor replayed. Only
    conversation peers see each other typing (404 otherwise); between users who block one another
    nothing is sent (and nothing said)."""
    row = await app[DB].fetchone(Q.realtime.typing_gate, {"user_id": user_id, "peer_id": peer_id})
    if not row["peer"]:
        raise NotFound("No conversation with this user.")
    if not row["blocked"]:
        await publish_transient(app, peer_id, "typing", {"user_id": user_id})
