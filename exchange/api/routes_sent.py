"""``GET /v1/sent``: the caller's party's posted bulletins with their ledger in numbers."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import LIMITS, SENT
from exchange.api.keys import authenticate
from exchange.api.parse import query_int

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/v1/sent")
async def sent_bulletins(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    limits = request.app[LIMITS]
    after = query_int(request, "after", 0)
    limit = query_int(request, "limit", limits.page_size, lo=1, hi=limits.max_page_size)
    items, nxt = await request.app[SENT].page(caller, after, limit)
    return web.json_response({"items": items, "next": nxt})
