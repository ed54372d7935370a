"""Search: posts by full text (InnoDB FULLTEXT, boolean mode), users and tags by prefix.

Posts. The user's text never reaches MATCH ... AGAINST as written: `parse` reads it as words,
"quoted phrases", `-exclusions` (a word or a phrase) and `word*` prefixes, and `boolean_query`
writes a boolean-mode query of its own from them, every word made of word characters only, so
no input can make the full-text parser fail. Every word and phrase is required (`+`). Words the
index never holds are dropped before that: shorter than innodb_ft_min_token_size (3), longer
than innodb_ft_max_token_size (84), or one of InnoDB's default stopwords (a required stopword
would match nothing). A text left with nothing to look for answers an empty page.

Ranking is bounded (`candidates`). InnoDB computes the whole match set of a query's words before
the first row: over a million posts, a common word has tens of thousands of entries (tens of ms of
CPU per search). So the first statement asks post_search_recent (migration 0015), a copy of the
text of the newest posts with a full-text index of its own, for the newest CANDIDATES matches among
the newest WINDOW posts; that index holds between WINDOW and twice as many posts (trim_index
rebuilds it), so the same words match a few hundred entries. Only when fewer than FEW posts of the
window match does a second statement read every match of all time from ft_posts_text, and only if
there are at most PROBE: the words' matches in the recent index, scaled to all posts, say whether
there can be (else that statement is not run: for common words it is the expensive one), and
within PROBE_BUDGET seconds (else the window's are kept). Phrases
are checked with REGEXP on the rows read, never with InnoDB's phrase search (which re-reads every
post holding the words). The ranked candidates are the same for every viewer: they are cached in
Redis for search.cache_ttl seconds, and each request filters them for its viewer (blocks, mutes,
hidden accounts) in SQL, in rank order, until its page is full.

Users and tags by prefix, case-insensitively (users: ranges of uq_users_username and
ix_users_full_name; tags: a range of ix_tags_norm, by the normalized form hashtags use); LIKE
wildcards in the text are escaped.

Pages are offset-paginated (relevance is no keyset) up to MAX_RESULTS results.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import pymysql
import redis.exceptions
from aiohttp import web

from server import accounts
from server.accounts import Client
from server.db import Conn, Database, Tx, error_code
from server.documents import post_docs
from server.errors import BadRequest
from server.keys import CONFIG, DB, REDIS, SERVICES
from server.present import user_docs
from server.queries import QUERIES as Q
from server.textrefs import normalize_tag

TYPES = ("posts", "users", "tags")
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
MAX_RESULTS = 1_000  # offset + items never reach past this many results
MAX_QUERY = 200  # characters of q
MAX_TERMS = 8  # words and phrases used; later ones are ignored
CANDIDATES = 300  # the newest this many matches are ranked ...
WINDOW = 20_000  # ... found among the newest this many posts (post_search_recent);
FEW = 10  # with fewer matches there, every match of all time is ranked instead ...
PROBE = 200  # ... if there are at most this many,
PROBE_BUDGET = 0.1  # ... found within this many seconds
REBUILD_AT = 2  # post_search_recent is rebuilt once it spans this many windows
REBUILD_LOCK = "chatter.search_recent"  # a MariaDB named lock: one rebuild at a time
USER_CANDIDATES = 2_000  # matches read from each prefix index (username, full name)

# max_statement_time exceeded: ER_STATEMENT_TIMEOUT (1969), or, inside InnoDB's full-text search,
# the handler's HA_ERR_ABORTED_BY_USER (188, which the server passes on as is); ER_QUERY_INTERRUPTED.
STATEMENT_TIMEOUT = {1969, 188, 1317}
_REDIS_FAILURES = (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)

# The server's tokenizer (MariaDB defaults; tests/test_search.py checks them against the server).
MIN_TOKEN = 3  # innodb_ft_min_token_size
MAX_TOKEN = 84  # innodb_ft_max_token_size
# INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD (innodb_ft_enable_stopword = ON).
STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to was what "
    "when where who will with und www".split())

# A term: an optional '-' at the start of the text or after a space (inside a word it is a hyphen,
# which the tokenizer splits on), then a quoted phrase (an unbalanced quote runs to the end) or a
# word with an optional trailing '*'. Everything else separates terms, as it does in the index.
_TERM = re.compile(r'(?P<neg>(?:^|(?<=\s))-)?(?:"(?P<phrase>[^"]*)(?:"|$)|(?P<word>\w+)(?P<star>\*)?)')
_WORD = re.compile(r"\w+")


@dataclass
class Terms:
    """A search text as the full-text index can answer it: words (without operators) and phrases
    (each a list of words) to require or to exclude."""

    required: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    excluded_phrases: list[list[str]] = field(default_factory=list)

    def boolean_query(self) -> str | None:
        """The AGAINST text, or None when there is nothing to look for (no required term). A
        phrase's indexed words are required words here; the phrase itself is checked with
        phrase_pattern (InnoDB's own phrase search re-reads every post holding the words)."""
        words = list(dict.fromkeys(self.required + [w for ph in self.phrases for w in ph if _indexed(w)]))
        if not words:
            return None
        return " ".join([f"+{w}" for w in words] + [f"-{w}" for w in self.excluded])

    def phrase_pattern(self) -> str | None:
        """A regular expression (MariaDB's PCRE) that text holding every required phrase matches."""
        if not self.phrases:
            return None
        # Anchored: unanchored, each lookahead would be tried again at every position of the text.
        return _PCRE + "^" + "".join(f"(?=.*{_phrase_re(ph)})" for ph in self.phrases)

    def excluded_pattern(self) -> str | None:
        """A regular expression that text holding any excluded phrase matches."""
        if not self.excluded_phrases:
            return None
        return _PCRE + "(?:" + "|".join(_phrase_re(ph) for ph in self.excluded_phrases) + ")"


# Unicode word boundaries, case-insensitive, '.' across lines. Phrases hold word characters only
# (\w+ runs), so they need no escaping.
_PCRE = "(*UCP)(?is)"


def _phrase_re(words: list[str]) -> str:
    return r"\b" + r"\W+".join(words) + r"\b"


def _indexed(word: str) -> bool:
    return MIN_TOKEN <= len(word) <= MAX_TOKEN and word.lower() not in STOPWORDS


def parse(text: str) -> Terms:
    """Words, phrases, exclusions and prefixes of a search text (see the module docstring)."""
    terms = Terms()
    used = 0
    for m in _TERM.finditer(text):
        if used >= MAX_TERMS:
            break
        negative = bool(m.group("neg"))
        if m.group("phrase") is not None:
            words = _WORD.findall(m.group("phrase"))
            # A phrase needs one word the index holds (the others are matched in the text).
            if not any(_indexed(w) for w in words):
                continue
            if len(words) == 1:
                (terms.excluded if negative else terms.required).append(words[0])
            else:
                (terms.excluded_phrases if negative else terms.phrases).append(words)
        else:
            word = m.group("word")
            if not _indexed(word):
                continue
            (terms.excluded if negative else terms.required).append(word + ("*" if m.group("star") else ""))
        used += 1
    return terms


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _check_window(offset: int, limit: int) -> int:
    """How many rows to read (limit, shortened at MAX_RESULTS, plus one to see whether there is more)."""
    if offset > MAX_RESULTS:
        raise BadRequest(f"Bad query parameter 'offset': a search answers its first {MAX_RESULTS:,} results "
                         f"at most; offset must be from 0 to {MAX_RESULTS:,}.")
    return max(min(limit, MAX_RESULTS - offset), 0)


def _page(ids: list[int], offset: int, take: int) -> tuple[list[int], str | None]:
    more = len(ids) > take and offset + take < MAX_RESULTS
    return ids[:take], (str(offset + take) if more else None)


async def search(app: web.Application, q: str, kind: str, offset: int, limit: int,
                 viewer_id: int | None, client: Client) -> dict[str, Any]:
    """A page of Post, User or Tag documents (kind) matching q, best first, newest first on ties:
    {"items": [JSON text], "next_cursor": the next offset or None}. Rate-limited per account, or
    per client address when anonymous (ratelimit.search_client: 429)."""
    take = _check_window(offset, limit)
    who = f"u{viewer_id}" if viewer_id is not None else f"ip{client.ident}"
    await accounts.limiter(app).hit("search_client", who, app[CONFIG].ratelimit.search_client)
    if kind == "posts":
        return await _posts(app, q, offset, take, viewer_id)
    if kind == "users":
        return await _users(app, q, offset, take, viewer_id)
    return await _tags(app, q, offset, take)


async def _posts(app: web.Application, q: str, offset: int, take: int, viewer_id: int | None) -> dict[str, Any]:
    terms = parse(q)
    against = terms.boolean_query()
    if against is None or take == 0:
        return {"items": [], "next_cursor": None}
    args = {"against": against, "viewer_id": viewer_id, "phrase": terms.phrase_pattern(),
            "excluded": terms.excluded_pattern()}
    want = offset + take + 1
    async with app[DB].read().connection() as c:
        ranked = await _cached_candidates(app, c, terms, args)
        # The viewer's page: candidates in rank order, less what the viewer may not see, checked a
        # chunk at a time until the page (and one more, for next_cursor) is full.
        visible: list[int] = []
        start = 0
        while len(visible) < want and start < len(ranked):
            # Most candidates are visible to most viewers: a chunk is the page and half as many again.
            chunk = ranked[start:start + (want - len(visible)) * 3 // 2 + 10]
            start += len(chunk)
            seen = {r["id"] for r in await c.fetchall(Q.search.posts_visible, {"viewer_id": viewer_id, "ids": chunk})}
            visible += [i for i in chunk if i in seen]
        ids, cursor = _page(visible[offset:want], offset, take)
        docs = await post_docs(app, ids, viewer_id, c)
    return {"items": docs, "next_cursor": cursor}


async def _cached_candidates(app: web.Application, c: Any, terms: Terms, args: dict[str, Any]) -> list[int]:
    """candidates(), through a Redis cache of search.cache_ttl seconds keyed by the query (the list
    is the same for every viewer; Redis unavailable: computed, never an error; `r2`: the version of
    what is cached: text checks done). Concurrent misses
    of one query in this process share one computation: a popular query that is not cached yet
    arrives many times at once."""
    ttl = app[CONFIG].search.cache_ttl
    if not ttl:
        return await candidates(c, terms, args)
    redis = app[REDIS]
    digest = hashlib.sha256("\0".join(str(args[k]) for k in ("against", "phrase", "excluded")).encode())
    key = redis.key("search", f"r2.{CANDIDATES}.{WINDOW}.{FEW}.{PROBE}", digest.hexdigest()[:32])
    inflight: dict[str, asyncio.Future] = app[SERVICES].setdefault("search_inflight", {})
    if key in inflight and (shared := await _join(inflight[key])) is not None:
        return shared
    if redis.available:
        with contextlib.suppress(*_REDIS_FAILURES):
            cached = await redis.client.get(key)
            if cached is not None:
                text = cached.decode() if isinstance(cached, bytes) else cached
                return [int(i) for i in text.split(",") if i]
    # Another request may have started it while this one asked Redis.
    if key in inflight and (shared := await _join(inflight[key])) is not None:
        return shared
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    inflight[key] = future
    try:
        found = await candidates(c, terms, args)
        future.set_result(found)
    except BaseException:
        future.cancel()  # those waiting compute it themselves
        raise
    finally:
        if inflight.get(key) is future:
            del inflight[key]
    if redis.available:
        with contextlib.suppress(*_REDIS_FAILURES):
            await redis.client.set(key, ",".join(map(str, found)), ex=ttl)
    return found


async def _join(future: asyncio.Future) -> list[int] | None:
    """The result of another request's computation; None when it failed or was cancelled."""
    try:
        return list(await asyncio.shield(future))
    except asyncio.CancelledError:
        if future.cancelled():
            return None
        raise  # this request itself was cancelled


async def candidates(c: Any, terms: Terms, args: dict[str, Any]) -> list[int]:
    """The posts a search ranks, best first, for every viewer alike (posts_visible then filters
    them per viewer): the newest CANDIDATES matches among the newest WINDOW posts; when the window
    holds fewer than FEW matches, every match of all time instead, if there are at most PROBE."""
    newest = await c.fetchval(Q.feed.max_post_id) or 0
    floor = max(newest - WINDOW, 0)
    rows = await c.fetchall(Q.search.posts_recent, {**args, "floor": floor, "candidates": CANDIDATES})
    recent = [r["id"] for r in rows]
    if len(recent) < FEW and floor > 0:
        every = await _all_matches(c, args, newest)
        if every is not None:
            return every
    return recent


async def _all_matches(c: Any, args: dict[str, Any], newest: int) -> list[int] | None:
    """Every match, ranked, when the text matches at most PROBE posts of all time (each older match
    is a read of a page that is likely not in memory: bounded); else None. The words' matches in
    post_search_recent, scaled to all posts, tell first whether there can be so few: when there
    cannot, ft_posts_text is not asked (its match set of common words costs tens of ms)."""
    extent = await c.fetchone(Q.search.recent_extent, args)
    if extent["oldest"] is not None:
        # Holding every post, its count is the answer; else scaled by the ids it spans.
        span = max(newest - extent["oldest"] + 1, 1) if extent["older"] else newest
        if extent["matches"] * newest / span > PROBE:
            return None
    try:
        hits = await c.fetchall(Q.search.post_matches, {**args, "probe": PROBE + 1, "budget": PROBE_BUDGET})
    except pymysql.err.MySQLError as exc:
        if error_code(exc) not in STATEMENT_TIMEOUT:
            raise
        return None  # words common in the past: their match set takes longer than the budget
    if len(hits) > PROBE:
        return None
    return [h["id"] for h in sorted(hits, key=lambda h: (h["score"], h["id"]), reverse=True)]


def index_post(conn: Tx, post_id: int) -> None:
    """In the transaction that creates or edits a post: its text into post_search_recent (sent
    with the COMMIT)."""
    conn.commit_with(Q.search.index_post, {"id": post_id})


async def unindex_posts(conn: Conn, post_ids: list[int]) -> None:
    """In the transaction that deletes posts: their rows out of post_search_recent."""
    await conn.execute(Q.search.unindex_posts, {"ids": post_ids})


async def trim_index(db: Database, force: bool = False) -> int:
    """Rebuild post_search_recent from posts with the newest WINDOW posts once it spans REBUILD_AT
    windows (force: now) → the rows copied, 0 when nothing was done. One worker at a time (a named
    lock; the others skip). A copy replaces the table (RENAME, atomic): deleting the old rows would
    leave their entries in the full-text index until an OPTIMIZE. Writes made while it copies went
    to the old table; they are caught up after the swap."""
    async with db.connection() as c:
        start = await c.fetchone(Q.search.rebuild_lock, {"name": REBUILD_LOCK})
        if not start["locked"]:
            return 0
        try:
            newest = await c.fetchval(Q.feed.max_post_id) or 0
            oldest = await c.fetchval(Q.search.recent_oldest)
            if not force and (oldest is None or newest - oldest + 1 < REBUILD_AT * WINDOW):
                return 0
            floor = max(newest - WINDOW, 0)
            await c.execute(Q.search.rebuild_drop_spare)
            await c.execute(Q.search.rebuild_create)
            await c.execute(Q.search.rebuild_isolation)
            copied = await c.execute(Q.search.rebuild_copy, {"floor": floor})
            last = await c.fetchval(Q.search.rebuild_copied)
            await c.execute(Q.search.rebuild_swap)
            await c.execute(Q.search.rebuild_isolation)
            await c.execute(Q.search.rebuild_catch_up, {"floor": floor, "copied": last, "since": start["since"]})
            await c.execute(Q.search.rebuild_drop_spare)
            return copied
        finally:
            await c.execute(Q.search.rebuild_unlock, {"name": REBUILD_LOCK})


async def _users(app: web.Application, q: str, offset: int, take: int, viewer_id: int | None) -> dict[str, Any]:
    if take == 0:
        return {"items": [], "next_cursor": None}
    db = app[DB].read()
    rows = await db.fetchall(Q.search.users, {"q": q, "prefix": _like_prefix(q), "viewer_id": viewer_id,
                                              "candidates": USER_CANDIDATES, "offset": offset, "limit": take + 1})
    ids, cursor = _page([r["id"] for r in rows], offset, take)
    docs = await user_docs(db, app, ids, viewer_id=viewer_id)
    return {"items": [docs[i] for i in ids if i in docs], "next_cursor": cursor}


async def _tags(app: web.Application, q: str, offset: int, take: int) -> dict[str, Any]:
    if take == 0:
        return {"items": [], "next_cursor": None}
    norm = normalize_tag(q.lstrip("#"))  # tags are looked up by their normalized form (textrefs)
    rows = await app[DB].read().fetchall(Q.search.tags, {"q": norm, "prefix": _like_prefix(norm), "offset": offset,
                                                         "limit": take + 1})
    ids, cursor = _page([r["id"] for r in rows], offset, take)
    docs = {r["id"]: r["doc"] for r in rows}
    return {"items": [docs[i] for i in ids], "next_cursor": cursor}
