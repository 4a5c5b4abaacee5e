"""Key lifecycle routes (issue 18): a client rotates its signing key, the operator
rotates one for a client or sets an expiry date; parse, call the service, format."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from exchange.api.app_keys import KEY_LIFECYCLE, SERVER_KEYS
from exchange.api.keys import authenticate
from exchange.api.parse import CLIENT_ID, KID, check_id, json_request, opt_str, req_str
from exchange.errors import InputError

__all__ = ["opt_ms", "routes"]

routes = web.RouteTableDef()

#: the longest grace period an operator may give (a year), and the latest expiry date
_MAX_GRACE = 366 * 24 * 60 * 60
_MAX_MS = 2**53


def _opt_int(obj: dict[str, Any], name: str, hi: int) -> int | None:
    v = obj.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
        raise InputError(f"'{name}' must be an integer between 0 and {hi}")
    return v


def opt_ms(obj: dict[str, Any], name: str) -> int | None:
    """An optional time in ms since the epoch (``expires_at``)."""
    return _opt_int(obj, name, _MAX_MS)


@routes.post("/v1/keys/signing")
async def rotate_own(request: web.Request) -> web.Response:
    """Signed by the client's current key; ``proof`` is signed by the new one."""
    caller, body = await authenticate(request)
    obj = json_request(request, body)
    out = await request.app[KEY_LIFECYCLE].rotate_own(
        caller,
        jwk=obj.get("jwk"),
        proof=req_str(obj, "proof", max_len=16 * 1024),
        grace=_opt_int(obj, "grace", _MAX_GRACE),
        expires_at=_opt_int(obj, "expires_at", _MAX_MS),
    )
    return web.json_response(out, status=201)


@routes.post("/v1/admin/clients/{party}/{name}/signing-key")
async def rotate_for_client(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    cid = check_id(
        f"{request.match_info['party']}/{request.match_info['name']}", CLIENT_ID, "client id"
    )
    obj = json_request(request, body)
    out = await request.app[KEY_LIFECYCLE].rotate_by_operator(
        caller,
        client_id=cid,
        jwk=obj.get("jwk"),
        grace=_opt_int(obj, "grace", _MAX_GRACE),
        expires_at=_opt_int(obj, "expires_at", _MAX_MS),
    )
    return web.json_response(out, status=201)


@routes.put("/v1/admin/key-expiry")
async def set_expiry(request: web.Request) -> web.Response:
    """``{"client": "KZ/ops"}`` or ``{"kid": ENC_KID}``, with ``expires_at`` (ms, or null)."""
    caller, body = await authenticate(request)
    obj = json_request(request, body)
    cid = opt_str(obj, "client", pattern=CLIENT_ID, max_len=96)
    kid = opt_str(obj, "kid", pattern=KID, max_len=64)
    expires_at = _opt_int(obj, "expires_at", _MAX_MS)
    v = await request.app[KEY_LIFECYCLE].set_expiry(
        caller, client_id=cid, kid=kid, expires_at=expires_at
    )
    return web.json_response({"client": cid, "kid": kid, "expires_at": expires_at, "version": v})


@routes.get("/v1/server-key/rotation")
async def server_key_rotation(request: web.Request) -> web.Response:
    """Public, like /v1/server-key: every rotation's statement, signed by the old key."""
    items = await request.app[SERVER_KEYS].rotations()
    return web.json_response({"rotations": items})
