"""Application keys shared by several route modules."""

from __future__ import annotations

from aiohttp import web

__all__ = ["SOCKETS"]

#: open stream connections, closed with 1001 (going away) on shutdown
SOCKETS: web.AppKey[set[web.WebSocketResponse[bool]]] = web.AppKey("sockets")
