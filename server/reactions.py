"""Reactions on messages: one emoji per PUT/DELETE (idempotent), at most MAX_EMOJI distinct emoji
per message, only the two participants, refused between users who block one another; the
summaries (`reactions`) every Message document carries; `message.reaction` to both sides."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import regex
from aiohttp import web

from server.blocks import refuse_between
from server.db import Conn, Tx
from server.errors import ApiError, BadRequest, NotFound
from server.events import emit_many, run_and_publish
from server.keys import DB
from server.queries import QUERIES as Q

MAX_EMOJI = 20  # distinct emoji on one message
MAX_LENGTH = 32  # code points of one emoji (the longest RGI sequences have 10)

# One emoji, after UTS #51: a keycap, a flag (two regional indicators), or a ZWJ sequence of
# elements, each a pictograph (with an optional VS16 and a tag sequence, e.g. the flag of Scotland),
# a modifier sequence (skin tone) or a lone skin-tone swatch.
_TAGS = r"[\U000E0020-\U000E007E]+\U000E007F"
_ELEMENT = (r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}"
            r"|[\p{Extended_Pictographic}&&\p{Emoji}]\uFE0F?(?:" + _TAGS + r")?"
            r"|\p{Emoji_Modifier})")
_EMOJI = regex.compile(r"[0-9#*]\uFE0F?\u20E3|\p{RI}\p{RI}|" + _ELEMENT + r"(?:\u200D" + _ELEMENT + r")*",
                       regex.V1)
_CLUSTER = regex.compile(r"\X")


class TooManyReactions(ApiError):
    """The 21st distinct emoji on one message (409 `reaction-limit`)."""

    status, slug = 409, "reaction-limit"

    def __init__(self) -> None:
        super().__init__(f"A message carries at most {MAX_EMOJI} different emoji.", title="Too many reactions")


def is_emoji(text: str) -> bool:
    """Exactly one grapheme cluster (regex's \\X, extended grapheme clusters) that is an emoji."""
    return (0 < len(text) <= MAX_LENGTH and _CLUSTER.fullmatch(text) is not None
            and _EMOJI.fullmatch(text) is not None)


def check_emoji(text: str) -> str:
    if not is_emoji(text):
        raise BadRequest("The reaction must be exactly one emoji (one grapheme cluster).")
    return text


# --- summaries ----------------------------------------------------------------------------------

async def summaries(conn: Any, ids: Iterable[int], a: int,
                    b: int | None = None) -> dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """{message id: (summary as user a sees it, as user b sees it)} for the messages that have
    reactions, each [{emoji, count, me}] in order of first use. One query whatever the count."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    rows = await conn.fetchall(Q.reactions.summaries, {"ids": ids, "a": a, "b": a if b is None else b})
    out: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for r in rows:
        for_a, for_b = out.setdefault(r["message_id"], ([], []))
        count = int(r["count"])
        for_a.append({"emoji": r["emoji"], "count": count, "me": bool(r["a_me"])})
        for_b.append({"emoji": r["emoji"], "count": count, "me": bool(r["b_me"])})
    return out


async def attach(app: web.Application, viewer_id: int, messages: list[dict[str, Any]],
                 conn: Conn | None = None) -> list[dict[str, Any]]:
    """Set `reactions` on Message documents (in place) as viewer_id sees them; returns them."""
    found = await summaries(conn or app[DB], [m["id"] for m in messages], viewer_id)
    for m in messages:
        m["reactions"] = found[m["id"]][0] if m["id"] in found else []
    return messages


# --- react ----------------------------------------------------------------------------------------

async def react(app: web.Application, user_id: int, message_id: int, emoji: str, *, on: bool) -> dict[str, Any]:
    """Add (on) or remove user_id's reaction `emoji` on a message (idempotent) → {message_id, emoji,
    reacted, reactions}. Participants only (404 otherwise); 403 when either blocks the other;
    409 reaction-limit for a 21st distinct emoji. A change sends `message.reaction` to both."""
    check_emoji(emoji)

    async def fn(conn: Tx) -> dict[str, Any]:
        # The message row locked first: its reactions change one transaction at a time.
        head = await conn.fetchone(Q.messages.lock, {"id": message_id})
        if head is None or user_id not in (head["sender_id"], head["recipient_id"]):
            raise NotFound("No such message.")
        other = head["recipient_id"] if head["sender_id"] == user_id else head["sender_id"]
        args = {"message_id": message_id, "user_id": user_id, "emoji": emoji}
        # Between users who block one another the conversation is read-only, reactions included.
        await refuse_between(conn, user_id, other, "react to messages of this user")
        if on:
            if await conn.fetchval(Q.messages.deleted, {"id": other}):
                raise NotFound("No such message.")
            state = await conn.fetchone(Q.reactions.state, args)
            if not state["known"] and state["distinct_emoji"] >= MAX_EMOJI:
                raise TooManyReactions()
            changed = await conn.execute(Q.reactions.add, args)
        else:
            changed = await conn.execute(Q.reactions.remove, args)
        lo, hi = sorted((head["sender_id"], head["recipient_id"]))
        views = (await summaries(conn, [message_id], lo, hi)).get(message_id, ([], []))
        if changed:
            base = {"message_id": message_id, "sender_id": head["sender_id"],
                    "recipient_id": head["recipient_id"], "user_id": user_id, "emoji": emoji, "reacted": on}
            await emit_many(conn, [(lo, "message.reaction", {**base, "reactions": views[0]}),
                                   (hi, "message.reaction", {**base, "reactions": views[1]})])
        return {"message_id": message_id, "emoji": emoji, "reacted": on,
                "reactions": views[0] if user_id == lo else views[1]}

    return await run_and_publish(app, fn)
