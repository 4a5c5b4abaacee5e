"""``PUT /v1/admin/signing-policy`` and ``PUT /v1/admin/parties/{party}/signing-policy``
(issue 20): require hybrid ML-DSA-65-Ed25519 keys of the whole exchange or of one party."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import DIRECTORY
from exchange.api.keys import authenticate
from exchange.api.parse import PARTY_ID, check_id, json_request
from exchange.errors import InputError
from exchange.service import signing_policy

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _put(request: web.Request, party: str | None) -> web.Response:
    caller, body = await authenticate(request)
    obj = json_request(request, body)
    required = obj.get("require_hybrid")
    if not isinstance(required, bool) or set(obj) != {"require_hybrid"}:
        raise InputError('the body is exactly {"require_hybrid": true|false}')
    dirs = request.app[DIRECTORY]
    v = await signing_policy.set_policy(dirs, caller, party=party, required=required)
    scope = "*" if party is None else party
    return web.json_response({"party": scope, "require_hybrid": required, "version": v})


@routes.put("/v1/admin/signing-policy")
async def put_exchange_policy(request: web.Request) -> web.Response:
    return await _put(request, None)


@routes.put("/v1/admin/parties/{party}/signing-policy")
async def put_party_policy(request: web.Request) -> web.Response:
    return await _put(request, check_id(request.match_info["party"], PARTY_ID, "party id"))
