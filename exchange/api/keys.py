"""The per-request authentication step and the request key of its client."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import AUTH, SEEN
from exchange.service.caller import Caller, TokenId

__all__ = ["CLIENT_ID", "authenticate", "authenticate_unspent"]

#: the authenticated client of a request, for the request log
CLIENT_ID = web.RequestKey("client_id", str)


def _websocket_upgrade(request: web.Request) -> bool:
    """A complete RFC 6455 opening handshake, not merely an ``Upgrade`` header."""
    return request.method == "GET" and web.WebSocketResponse().can_prepare(request).ok


def _bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    token: str | None = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    if token is None and _websocket_upgrade(request):
        token = request.query.get("access_token")  # PROTOCOL §6: WebSocket upgrades only
    return token


def _note(request: web.Request, caller: Caller) -> None:
    request[CLIENT_ID] = caller.client_id  # for the request log
    request.app[SEEN].note(caller, request.path)  # reports' reachability (memory only)


async def authenticate(request: web.Request) -> tuple[Caller, bytes]:
    """Read the body (bounded by ``client_max_size``) and verify the request token
    (PROTOCOL §6). ``htu`` is the path as sent on the wire, without the query."""
    body = await request.read()
    path = request.rel_url.raw_path
    caller = await request.app[AUTH].authenticate(
        _bearer(request), request.method, path, body or None
    )
    _note(request, caller)
    return caller, body


async def authenticate_unspent(request: web.Request) -> tuple[Caller, TokenId, bytes]:
    """As :func:`authenticate`, but the token's ``jti`` is left to the request's one
    write transaction (a bulletin's admission, ADR 0020), which must spend it."""
    body = await request.read()
    path = request.rel_url.raw_path
    caller, token_id = await request.app[AUTH].authenticate_unspent(
        _bearer(request), request.method, path, body or None
    )
    _note(request, caller)
    return caller, token_id, body
