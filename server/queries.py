"""Loader of named queries from sql/queries/<area>.sql (aiosql's `-- name:` format).

A name ending in `@` marks a statement worth preparing on the server (see Prepared)."""

from __future__ import annotations

import re
from pathlib import Path

QUERIES_DIR = Path(__file__).resolve().parent.parent / "sql" / "queries"
_NAME = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)([$^!<*#@]*)\s*$")


class Prepared(str):
    """SQL that server/db.py runs as a server-side prepared statement (PREPARE once per connection,
    then EXECUTE) when its list arguments hold one item or a full page (db.PREPARED_LENGTHS): a long
    statement read for one document (a post, a user) costs MariaDB more to parse than to run."""


class QueryError(Exception):
    """A queries file that does not parse."""


def parse(text: str, source: str = "<sql>") -> dict[str, str]:
    """Split one file into {name: sql}; suffixes like ^ or ! are accepted and dropped, but for @
    (the SQL is then a Prepared)."""
    queries: dict[str, str] = {}
    name: str | None = None
    prepared = False
    body: list[str] = []

    def flush() -> None:
        if name is None:
            if any(line.strip() and not line.strip().startswith("--") for line in body):
                raise QueryError(f"{source}: SQL before the first '-- name:'")
            return
        sql = "\n".join(line for line in body if not line.strip().startswith("--")).strip()
        sql = sql.rstrip(";").strip()
        if not sql:
            raise QueryError(f"{source}: query {name!r} is empty")
        if name in queries:
            raise QueryError(f"{source}: query {name!r} is defined twice")
        queries[name] = Prepared(sql) if prepared else sql

    for line in text.splitlines():
        match = _NAME.match(line.strip())
        if match:
            flush()
            name, body, prepared = match.group(1), [], "@" in match.group(2)
        else:
            body.append(line)
    flush()
    return queries


class Queries:
    """All named queries, looked up as q["area.name"] or q.area.name."""

    def __init__(self, directory: Path = QUERIES_DIR):
        self._all: dict[str, str] = {}
        self._areas: dict[str, _Area] = {}
        for path in sorted(directory.glob("*.sql")):
            area = path.stem
            parsed = parse(path.read_text(encoding="utf-8"), str(path))
            self._areas[area] = _Area(area, parsed)
            for name, sql in parsed.items():
                self._all[f"{area}.{name}"] = sql

    def __getitem__(self, key: str) -> str:
        return self._all[key]

    def __getattr__(self, area: str) -> _Area:
        try:
            return self._areas[area]
        except KeyError:
            raise AttributeError(area) from None

    def names(self) -> list[str]:
        return sorted(self._all)


class _Area:
    def __init__(self, area: str, queries: dict[str, str]):
        self._area = area
        self.__dict__.update(queries)

    def __getattr__(self, name: str) -> str:
        raise AttributeError(f"no query {self._area}.{name} in sql/queries/{self._area}.sql")


QUERIES = Queries()
