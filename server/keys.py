"""Typed application state keys (web.AppKey), all in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:

    pass

CONFIG = web.AppKey("config", "Config")
DB = web.AppKey("db", "Database")
REDIS = web.AppKey("redis", "Redis")
BUS = web.AppKey("bus", "Bus")
METRICS = web.AppKey("metrics", "Metrics")
EXECUTOR = web.AppKey("executor", "Executor")
# Filled by the areas that need them (storage, mailer, hub, ...).
SERVICES = web.AppKey("services", dict[str, Any])

# Per-request state.
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", "Principal | None")
