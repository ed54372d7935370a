"""Search: posts by full text (InnoDB FULLTEXT, boolean mode), users and tags by prefix.

Posts. The user's text never reaches MATCH ... AGAINST as written: `parse` reads it as words,
"quoted phrases", `-exclusions` (a word or a phrase) and `word*` prefixes, and `boolean_query`
writes a boolean-mode query of its own from them, every word made of word characters only, so
no input can make the full-text parser fail. Every word and phrase is required (`+`). Words the
index never holds are dropped before that: shorter than innodb_ft_min_token_size (3), longer
than innodb_ft_max_token_size (84), or one of InnoDB's default stopwords (a required stopword
would match nothing). A text left with nothing to look for answers an empty page.

Ranking is bounded: MATCH finds every post holding the words, which for a common word is a large
share of all posts, and ranking (and filtering) all of them is what makes full-text search slow.
So the query takes the newest CANDIDATES visible matches (id order, read backwards from the
newest post) and ranks only those by relevance, newest first on ties. A rare word is ranked over
every post that has it; a common one over its newest CANDIDATES posts: recent posts win over
better-matching old ones (docs/API.md, "Search").

Users and tags by prefix, case-insensitively, on indexes (uq_users_username, ix_users_full_name,
uq_tags_name); LIKE wildcards in the text are escaped.

Pages are offset-paginated (relevance is no keyset) up to MAX_RESULTS results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.documents import post_docs
from server.errors import BadRequest
from server.keys import DB
from server.present import user_docs
from server.queries import QUERIES as Q

TYPES = ("posts", "users", "tags")
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
MAX_RESULTS = 1_000  # offset + items never reach past this many results
MAX_QUERY = 200  # characters of q
MAX_TERMS = 8  # words and phrases used; later ones are ignored
CANDIDATES = 1_000  # newest matching posts ranked by relevance
USER_CANDIDATES = 2_000  # matches read from each prefix index (username, full name)

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
    """A search text as the full-text index can answer it."""

    required: list[str] = field(default_factory=list)  # boolean-mode terms without the operator
    excluded: list[str] = field(default_factory=list)

    def boolean_query(self) -> str | None:
        """The AGAINST text, or None when there is nothing to look for (no required term)."""
        if not self.required:
            return None
        return " ".join([f"+{t}" for t in self.required] + [f"-{t}" for t in self.excluded])


def _indexed(word: str) -> bool:
    return MIN_TOKEN <= len(word) <= MAX_TOKEN and word.lower() not in STOPWORDS


def parse(text: str) -> Terms:
    """Words, phrases, exclusions and prefixes of a search text (see the module docstring)."""
    terms = Terms()
    for m in _TERM.finditer(text):
        if len(terms.required) + len(terms.excluded) >= MAX_TERMS:
            break
        target = terms.excluded if m.group("neg") else terms.required
        if m.group("phrase") is not None:
            words = _WORD.findall(m.group("phrase"))
            # InnoDB skips stopwords and short words inside a phrase; at least one must be indexed.
            if not any(_indexed(w) for w in words):
                continue
            term = " ".join(words)
            target.append(f'"{term}"' if len(words) > 1 else term)
        else:
            word = m.group("word")
            if not _indexed(word):
                continue
            target.append(word + ("*" if m.group("star") else ""))
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
                 viewer_id: int | None) -> dict[str, Any]:
    """A page of Post, User or Tag documents (kind) matching q, best first, newest first on ties:
    {"items": [JSON text], "next_cursor": the next offset or None}."""
    take = _check_window(offset, limit)
    if kind == "posts":
        return await _posts(app, q, offset, take, viewer_id)
    if kind == "users":
        return await _users(app, q, offset, take, viewer_id)
    return await _tags(app, q, offset, take)


async def _posts(app: web.Application, q: str, offset: int, take: int, viewer_id: int | None) -> dict[str, Any]:
    against = parse(q).boolean_query()
    if against is None or take == 0:
        return {"items": [], "next_cursor": None}
    async with app[DB].read().connection() as c:
        rows = await c.fetchall(Q.search.posts, {"against": against, "viewer_id": viewer_id,
                                                "candidates": CANDIDATES, "offset": offset, "limit": take + 1})
        ids, cursor = _page([r["id"] for r in rows], offset, take)
        docs = await post_docs(app, ids, viewer_id, c)
    return {"items": docs, "next_cursor": cursor}


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
    rows = await app[DB].read().fetchall(Q.search.tags, {"q": q, "prefix": _like_prefix(q), "offset": offset,
                                                         "limit": take + 1})
    ids, cursor = _page([r["id"] for r in rows], offset, take)
    docs = {r["id"]: r["doc"] for r in rows}
    return {"items": [docs[i] for i in ids], "next_cursor": cursor}
