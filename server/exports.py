"""Account export: one zip of everything of an account (profile, posts, comments, likes, bookmarks,
follows, messages, responses and reactions as JSON, plus every file it uploaded), streamed to the client as it is made.

Why a hand-rolled stream over the standard library's zipfile, not the archive built in memory or
in a temporary file: an account may hold gigabytes of media, and one export must not cost the
server that much memory or disk. zipfile writes to an object that cannot seek with data
descriptors after each entry (so sizes and CRCs need not be known in advance); _Sink collects what
it writes and the exporter hands that to the response after every few dozen KiB, awaiting the
socket's flow control. JSON is produced a keyset page at a time and files are read in chunks, so
memory stays at a few pages and chunks whatever the account's size, and no new dependency is
needed (zipstream-ng would do the same job).
"""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from server import accounts
from server.formats import dumps, iso
from server.keys import CONFIG, DB
from server.media.uploads import storage_of
from server.present import media_url
from server.queries import QUERIES as Q

log = logging.getLogger(__name__)

PAGE = 500  # rows per query
FLUSH_AT = 64 * 1024  # bytes collected before they are written to the client
CHUNK = 64 * 1024  # bytes of a stored file read at a time
E = Q.export
Write = Callable[[bytes], Awaitable[None]]


class _Sink:
    """The zip's output: zipfile writes into it, the exporter takes what gathered and sends it.

    It has no tell() or seek(), which makes zipfile stream: a data descriptor follows each entry."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


def file_path(key: str | None) -> str | None:
    """Where a stored file is inside the archive."""
    return f"media/{key}" if key else None


async def _pages(app: web.Application, query: str, args: dict[str, Any], key: str = "id") -> AsyncIterator[list[dict]]:
    """Keyset pages of a query with %(after)s and %(limit)s, until one comes back short."""
    after: Any = 0 if key == "id" else ""
    while True:
        rows = await app[DB].fetchall(query, {**args, "after": after, "limit": PAGE})
        if rows:
            yield rows
            after = rows[-1][key]
        if len(rows) < PAGE:
            return


async def _attached(app: web.Application, query: str, ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for row in await app[DB].fetchall(query, {"ids": ids}):
        out.setdefault(row["owner_id"], []).append({
            "id": row["id"], "type": row["media_type"], "content_type": row["content_type"],
            "file": file_path(row["storage_key"])})
    return out


async def _versions(app: web.Application, query: str, ids: list[int], *, title: bool = False,
                    media: bool = False) -> dict[int, list[dict]]:
    """The earlier versions (edit history) of these rows, oldest first, by row id."""
    out: dict[int, list[dict]] = {}
    if not ids:
        return out
    for row in await app[DB].fetchall(query, {"ids": ids}):
        version: dict[str, Any] = {"title": row["title"]} if title else {}
        version["content"] = row["content"]
        if media:
            version["media"] = [{"id": m["id"], "type": m["media_type"], "content_type": m["content_type"],
                                 "file": file_path(m["storage_key"])} for m in orjson.loads(row["media"] or "[]")]
        version["created_at"] = iso(row["created_at"])
        out.setdefault(row["owner_id"], []).append(version)
    return out


def _json_array(items: AsyncIterator[list[dict]]) -> AsyncIterator[bytes]:
    """A JSON array, one page of items at a time."""
    async def gen() -> AsyncIterator[bytes]:
        yield b"["
        first = True
        async for page in items:
            for item in page:
                yield (b"" if first else b",") + dumps(item)
                first = False
        yield b"]"

    return gen()


async def _object_of_arrays(parts: list[tuple[str, AsyncIterator[list[dict]]]]) -> AsyncIterator[bytes]:
    """{"name": [...], ...}, each array streamed."""
    yield b"{"
    for i, (name, items) in enumerate(parts):
        yield (b"," if i else b"") + dumps(name) + b":"
        async for piece in _json_array(items):
            yield piece
    yield b"}"


# --- what goes in ------------------------------------------------------------------------------------

async def _profile(app: web.Application, user_id: int) -> AsyncIterator[bytes]:
    row = await app[DB].fetchone(E.account, {"user_id": user_id})
    yield dumps({
        "id": row["id"], "username": row["username"], "email": row["email"], "full_name": row["full_name"],
        "bio": row["bio"], "location": row["location"], "role": row["role"],
        "profile_pic": row["image_url"] or media_url(app, row["avatar_key"]),
        "profile_pic_file": file_path(row["avatar_key"]),
        "followers_count": row["followers_count"], "following_count": row["following_count"],
        "posts_count": row["posts_count"], "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]), "exported_at": iso(dt.datetime.now(dt.UTC)),
    })


async def _posts(app: web.Application, user_id: int) -> AsyncIterator[list[dict]]:
    async for rows in _pages(app, E.posts, {"user_id": user_id}):
        ids = [r["id"] for r in rows]
        media = await _attached(app, E.post_media, ids)
        versions = await _versions(app, E.post_versions, ids, title=True, media=True)
        tags: dict[int, list[str]] = {}
        for t in await app[DB].fetchall(E.post_tags, {"ids": ids}):
            tags.setdefault(t["post_id"], []).append(t["name"])
        yield [{**r, "created_at": iso(r["created_at"]), "updated_at": iso(r["updated_at"]),
                "edited_at": iso(r["edited_at"]), "tags": tags.get(r["id"], []), "media": media.get(r["id"], []),
                "versions": versions.get(r["id"], [])}
               for r in rows]


async def _comments(app: web.Application, user_id: int) -> AsyncIterator[list[dict]]:
    async for rows in _pages(app, E.comments, {"user_id": user_id}):
        ids = [r["id"] for r in rows]
        media = await _attached(app, E.comment_media, ids)
        versions = await _versions(app, E.comment_versions, ids, media=True)
        yield [{**r, "created_at": iso(r["created_at"]), "updated_at": iso(r["updated_at"]),
                "edited_at": iso(r["edited_at"]), "media": media.get(r["id"], []),
                "versions": versions.get(r["id"], [])} for r in rows]


async def _rows(app: web.Application, query: str, user_id: int, drop: tuple[str, ...] = ()) -> AsyncIterator[list[dict]]:
    async for rows in _pages(app, query, {"user_id": user_id}):
        yield [{k: v for k, v in r.items() if k not in drop} for r in rows]


async def _messages(app: web.Application, user_id: int) -> AsyncIterator[list[dict]]:
    async for peers in _pages(app, E.peers, {"user_id": user_id}):
        for peer in peers:
            pair = {"lo": min(user_id, peer["id"]), "hi": max(user_id, peer["id"])}
            async for rows in _pages(app, E.messages, pair):
                versions = await _versions(app, E.message_versions, [r["id"] for r in rows])
                yield [{**{k: v for k, v in r.items() if k != "storage_key"}, "file": file_path(r["storage_key"]),
                        "versions": versions.get(r["id"], [])} for r in rows]


async def _responses(app: web.Application, user_id: int) -> AsyncIterator[list[dict]]:
    async for rows in _pages(app, E.responses, {"user_id": user_id}):
        yield [{**{k: v for k, v in r.items() if k != "storage_key"}, "file": file_path(r["storage_key"])}
               for r in rows]


def entries(app: web.Application, user_id: int) -> list[tuple[str, AsyncIterator[bytes]]]:
    """The JSON entries of the archive, in order, each produced a piece at a time."""
    return [
        ("profile.json", _profile(app, user_id)),
        ("posts.json", _json_array(_posts(app, user_id))),
        ("comments.json", _json_array(_comments(app, user_id))),
        ("likes.json", _object_of_arrays([("posts", _rows(app, E.post_likes, user_id)),
                                          ("comments", _rows(app, E.comment_likes, user_id))])),
        ("bookmarks.json", _json_array(_rows(app, E.bookmarks, user_id, ("id",)))),
        ("follows.json", _object_of_arrays([("following", _rows(app, E.following, user_id, ("id",))),
                                            ("followers", _rows(app, E.followers, user_id, ("id",)))])),
        ("messages.json", _json_array(_messages(app, user_id))),
        ("responses.json", _json_array(_responses(app, user_id))),
        ("reactions.json", _json_array(_rows(app, E.reactions, user_id, ("id",)))),
    ]


# --- the archive -----------------------------------------------------------------------------------

async def export_account(app: web.Application, user_id: int, start: Callable[[str], Awaitable[Write]]) -> None:
    """Stream the account's archive: `start(filename)` is called once the export may go ahead (it
    is rate-limited per account: ratelimit.export_user, 429 before anything is sent) and returns
    the function that writes bytes to the client."""
    await accounts.limiter(app).hit("export_user", user_id, app[CONFIG].ratelimit.export_user)
    row = await app[DB].fetchone(E.account, {"user_id": user_id})
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    write = await start(f"chatter-{row['username']}-{stamp}.zip")
    sink = _Sink()

    async def drain(at_least: int = 1) -> None:
        if sink.size >= at_least:
            await write(sink.take())

    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, pieces in entries(app, user_id):
            with archive.open(name, "w") as entry:
                async for piece in pieces:
                    entry.write(piece)
                    await drain(FLUSH_AT)
            await drain()
        storage = storage_of(app)
        async for rows in _pages(app, E.files, {"user_id": user_id}, key="storage_key"):
            for r in rows:
                chunks = storage.chunks(r["storage_key"], CHUNK)
                try:
                    first = await anext(chunks, b"")
                except FileNotFoundError:  # the row outlived its file: leave it out
                    log.warning("export of account %s: file %s is missing", user_id, r["storage_key"])
                    continue
                info = zipfile.ZipInfo(file_path(r["storage_key"]), date_time=dt.datetime.now(dt.UTC).timetuple()[:6])
                info.compress_type = zipfile.ZIP_STORED  # images and videos are compressed already
                with archive.open(info, "w") as entry:
                    entry.write(first)
                    async for chunk in chunks:
                        entry.write(chunk)
                        await drain(FLUSH_AT)
                await drain()
    await drain()  # the central directory, written on close
