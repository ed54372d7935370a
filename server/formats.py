"""JSON encoding (orjson) and ISO-8601 millisecond times, shared by the core and the HTTP layer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson


def iso(value: dt.datetime | None) -> str | None:
    """2026-11-21T12:34:56.789Z (naive datetimes from MySQL are UTC)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        return iso(obj)
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.decode()
    if isinstance(obj, set | frozenset):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
