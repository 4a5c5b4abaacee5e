"""Application keys shared by several route modules."""

from __future__ import annotations

import weakref

from aiohttp import web

__all__ = ["SOCKETS"]

SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse[bool]]] = web.AppKey("sockets")
