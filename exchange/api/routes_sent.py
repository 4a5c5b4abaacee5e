"""``GET /v1/sent``: the caller's party's posted bulletins with their ledger in numbers."""

from __future__ import annotations

from aiohttp import web

from exchange.api.keys import EXCHANGE, authenticate
from exchange.api.parse import query_int
from exchange.service.sent import sent

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/v1/sent")
async def sent_bulletins(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    ex = request.app[EXCHANGE]
    after = query_int(request, "after", 0)
    limit = query_int(request, "limit", ex.limits.page_size, lo=1, hi=ex.limits.max_page_size)
    items, nxt = await sent(ex, caller, after, limit)
    return web.json_response({"items": items, "next": nxt})
