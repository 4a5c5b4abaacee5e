"""``/v1/audit/…`` (PROTOCOL §8): any authenticated client may audit the log."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import AUDIT_LOG
from exchange.api.keys import authenticate
from exchange.api.parse import query_int
from exchange.errors import InputError

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/v1/audit/sth")
async def sth(request: web.Request) -> web.Response:
    await authenticate(request)
    return web.json_response({"sth": await request.app[AUDIT_LOG].signed_tree_head()})


@routes.get("/v1/audit/entries")
async def entries(request: web.Request) -> web.Response:
    await authenticate(request)
    start = query_int(request, "start", None)
    end = query_int(request, "end", None)
    return web.json_response({"entries": await request.app[AUDIT_LOG].entries(start, end)})


@routes.get("/v1/audit/proof")
async def proof(request: web.Request) -> web.Response:
    await authenticate(request)
    index = query_int(request, "index", None)
    size = query_int(request, "size", None, lo=1)
    return web.json_response(await request.app[AUDIT_LOG].inclusion(index, size))


@routes.get("/v1/audit/consistency")
async def consistency(request: web.Request) -> web.Response:
    await authenticate(request)
    first = query_int(request, "first", None, lo=1)
    second = query_int(request, "second", None, lo=1)
    return web.json_response(await request.app[AUDIT_LOG].consistency(first, second))


@routes.get("/v1/audit/entries/{index}/opening")
async def opening(request: web.Request) -> web.Response:
    """A committed leaf's full entry and salt, for the entitled only (issue 17)."""
    caller, _ = await authenticate(request)
    raw = request.match_info["index"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise InputError("index must be a non-negative integer")
    return web.json_response(await request.app[AUDIT_LOG].opening(caller, int(raw)))
