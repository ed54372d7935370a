"""Handlers for notifications (see shared/API.md)."""

from aiohttp import web

routes = web.RouteTableDef()
