"""Public and directory routes: health, the server key, the signed directory."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import DIRECTORY, STATUS
from exchange.api.keys import authenticate

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/v1/health")
async def health(request: web.Request) -> web.Response:
    ok = await request.app[STATUS].database_ok()
    body = {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"}
    return web.json_response(body, status=200 if ok else 503)


@routes.get("/v1/server-key")
async def server_key(request: web.Request) -> web.Response:
    """PROTOCOL §7: the server's signing JWK itself; clients pin its kid."""
    return web.json_response(request.app[DIRECTORY].server_jwk())


@routes.get("/v1/directory")
async def directory(request: web.Request) -> web.Response:
    await authenticate(request)
    return web.json_response({"directory": await request.app[DIRECTORY].signed()})
