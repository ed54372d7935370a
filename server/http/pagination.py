"""One keyset-pagination helper for every list: ?limit, ?before, ?after and next_cursor."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from server.db import ID_MAX
from server.errors import BadRequest

_DIGITS = re.compile(r"[0-9]+")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Largest limit and cursor accepted (a larger limit is clamped to MAX_LIMIT; ids are BIGINT).
MAX_CURSOR = _MAX_ID = ID_MAX


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    before: int | None = None
    after: int | None = None

    @property
    def newest_first(self) -> bool:
        return self.after is None

    @property
    def cursor(self) -> int:
        if self.after is not None:
            return self.after
        return self.before if self.before is not None else _MAX_ID

    def sql(self, query: str) -> str:
        """Fill a query's `{cmp}` and `{dir}` markers: the only non-bound parts, both constants."""
        if self.newest_first:
            return query.replace("{cmp}", "<").replace("{dir}", "DESC")
        return query.replace("{cmp}", ">").replace("{dir}", "ASC")

    def args(self, **kwargs: Any) -> dict[str, Any]:
        """Bound parameters: cursor, limit (+1 to see whether there is more) and the caller's."""
        return {"cursor": self.cursor, "limit": self.limit + 1, **kwargs}


def _int_param(request: web.Request, name: str, minimum: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    # Decimal digits only: int() would also take " 7", "+7", "1_000" and non-ASCII digits.
    if not _DIGITS.fullmatch(raw):
        raise BadRequest(f"Bad query parameter {name!r}: expected an integer.")
    value = int(raw) if len(raw) <= 40 else _MAX_ID + 1
    if value < minimum or value > _MAX_ID:
        raise BadRequest(f"Bad query parameter {name!r}: must be from {minimum} to {_MAX_ID}.")
    return value


def page_params(request: web.Request) -> PageParams:
    limit = _int_param(request, "limit", 1)
    before = _int_param(request, "before", 1)
    after = _int_param(request, "after", 0)
    if before is not None and after is not None:
        raise BadRequest("Pass either 'before' or 'after', not both.")
    return PageParams(min(limit or DEFAULT_LIMIT, MAX_LIMIT), before, after)


def make_page(
    rows: Sequence[Any],
    params: PageParams,
    key: Callable[[Any], int] = lambda row: row["id"],
    dump: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Rows fetched with LIMIT limit+1 → {"items", "next_cursor"}."""
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    items = [dump(r) for r in rows] if dump else list(rows)
    next_cursor = str(key(rows[-1])) if more and rows else None
    return {"items": items, "next_cursor": next_cursor}
