"""``GET /v1/reports`` (PROTOCOL §7, version 1.1): delivery and acknowledgement figures
for a group, a party, or (for the operator) the whole exchange."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import REPORTS
from exchange.api.keys import authenticate
from exchange.errors import InputError

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/v1/reports")
async def get_report(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    query: dict[str, str] = {}
    for key, value in request.query.items():
        if key in query:
            raise InputError(f"parameter {key!r} given twice")
        if len(value) > 64:
            raise InputError(f"parameter {key!r} is too long")
        query[key] = value
    return web.json_response(await request.app[REPORTS].report(caller, query))
