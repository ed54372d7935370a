"""HTTP handlers, one module per area: each turns requests into calls of the core's services
(server/<area>.py) and their answers into responses, and exposes `routes` and optionally `setup(app)`."""

from __future__ import annotations

import importlib

from aiohttp import web

AREAS = ["health", "auth", "users", "follows", "blocks", "mutes", "posts", "comments", "tags", "media", "messages",
         "notifications", "reactions", "realtime", "avatars", "conduit", "reports", "admin",
         "history", "search"]
AREAS.append("web")  # the web client at / (web/)


def setup(app: web.Application) -> None:
    for area in AREAS:
        module = importlib.import_module(f"handlers.{area}")
        if hasattr(module, "setup"):
            module.setup(app)
        app.router.add_routes(module.routes)
