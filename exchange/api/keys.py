"""The per-request authentication step and the request key of its client."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import AUTH, SEEN
from exchange.service.caller import Caller

__all__ = ["CLIENT_ID", "authenticate"]

#: the authenticated client of a request, for the request log
CLIENT_ID = web.RequestKey("client_id", str)


def _websocket_upgrade(request: web.Request) -> bool:
    """A complete RFC 6455 opening handshake, not merely an ``Upgrade`` header."""
    return request.method == "GET" and web.WebSocketResponse().can_prepare(request).ok


async def authenticate(request: web.Request) -> tuple[Caller, bytes]:
    """Read the body (bounded by ``client_max_size``) and verify the request token
    (PROTOCOL §6). ``htu`` is the path as sent on the wire, without the query."""
    app = request.app
    body = await request.read()
    auth = request.headers.get("Authorization", "")
    token: str | None = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    if token is None and _websocket_upgrade(request):
        token = request.query.get("access_token")  # PROTOCOL §6: WebSocket upgrades only
    path = request.rel_url.raw_path
    caller = await app[AUTH].authenticate(token, request.method, path, body or None)
    request[CLIENT_ID] = caller.client_id  # for the request log
    app[SEEN].note(caller, request.path)  # reports' reachability (memory only)
    return caller, body
