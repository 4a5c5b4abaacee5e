"""``/v1/admin/…`` (PROTOCOL §7) and group subscriptions: parse, call, format."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import DIRECTORY
from exchange.api.keys import authenticate
from exchange.api.parse import (
    CLIENT_ID,
    GROUP_ID,
    KID,
    PARTY_ID,
    check_id,
    json_request,
    opt_str,
    req_str,
    str_list,
)
from exchange.api.routes_keys import opt_ms
from exchange.service import admin
from exchange.vocab import CLIENT_ROLES, GROUP_ROLES, PARTY_KINDS, PRIORITIES, TYPES

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.post("/v1/admin/parties")
async def add_party(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    obj = json_request(request, body)
    pid = req_str(obj, "id", pattern=PARTY_ID, max_len=32)
    name = req_str(obj, "name", max_len=200)
    kind = req_str(obj, "kind", choices=PARTY_KINDS)
    v = await admin.add_party(request.app[DIRECTORY], caller, id=pid, name=name, kind=kind)
    return web.json_response({"id": pid, "name": name, "kind": kind, "version": v}, status=201)


@routes.post("/v1/admin/clients")
async def add_client(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    obj = json_request(request, body)
    cid = req_str(obj, "id", pattern=CLIENT_ID, max_len=96)
    party = req_str(obj, "party", pattern=PARTY_ID, max_len=32)
    roles = str_list(obj, "roles", choices=CLIENT_ROLES)
    dirs = request.app[DIRECTORY]
    expires_at = opt_ms(obj, "expires_at")  # issue 18
    kid, v = await admin.add_client(
        dirs, caller, id=cid, party=party, roles=roles, jwk=obj.get("jwk"), expires_at=expires_at
    )
    out = {"id": cid, "party": party, "roles": sorted(roles), "kid": kid, "version": v}
    return web.json_response(out | {"expires_at": expires_at}, status=201)


@routes.post("/v1/admin/parties/{party}/encryption-keys")
async def add_enc_key(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    party = check_id(request.match_info["party"], PARTY_ID, "party id")
    obj = json_request(request, body)
    dirs = request.app[DIRECTORY]
    expires_at = opt_ms(obj, "expires_at")  # issue 18
    kid, v = await admin.add_enc_key(
        dirs, caller, party=party, jwk=obj.get("jwk"), expires_at=expires_at
    )
    out = {"party": party, "kid": kid, "status": "active", "version": v}
    return web.json_response(out | {"expires_at": expires_at}, status=201)


@routes.post("/v1/admin/keys/{kid}/revoke")
async def revoke_key(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    kid = check_id(request.match_info["kid"], KID, "kid")
    v = await admin.revoke_key(request.app[DIRECTORY], caller, kid=kid)
    return web.json_response({"kid": kid, "status": "revoked", "version": v})


@routes.post("/v1/admin/groups")
async def add_group(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    obj = json_request(request, body)
    gid = req_str(obj, "id", pattern=GROUP_ID, max_len=64)
    name = req_str(obj, "name", max_len=200)
    v = await admin.add_group(request.app[DIRECTORY], caller, id=gid, name=name)
    return web.json_response({"id": gid, "name": name, "version": v}, status=201)


@routes.put("/v1/admin/groups/{gid}/members/{party}")
async def set_member(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    gid = check_id(request.match_info["gid"], GROUP_ID, "group id")
    party = check_id(request.match_info["party"], PARTY_ID, "party id")
    role = req_str(json_request(request, body), "role", choices=GROUP_ROLES)
    v = await admin.set_member(request.app[DIRECTORY], caller, group=gid, party=party, role=role)
    return web.json_response({"group": gid, "party": party, "role": role, "version": v})


@routes.delete("/v1/admin/groups/{gid}/members/{party}")
async def remove_member(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    gid = check_id(request.match_info["gid"], GROUP_ID, "group id")
    party = check_id(request.match_info["party"], PARTY_ID, "party id")
    v = await admin.remove_member(request.app[DIRECTORY], caller, group=gid, party=party)
    return web.json_response({"group": gid, "party": party, "removed": True, "version": v})


@routes.get("/v1/groups/{gid}/subscriptions")
async def list_subscriptions(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    gid = check_id(request.match_info["gid"], GROUP_ID, "group id")
    subs = await admin.list_subscriptions(request.app[DIRECTORY], caller, gid)
    return web.json_response({"group": gid, "subscriptions": subs})


@routes.put("/v1/groups/{gid}/subscriptions/{source}")
async def put_subscription(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    gid = check_id(request.match_info["gid"], GROUP_ID, "group id")
    source = check_id(request.match_info["source"], PARTY_ID, "source party id")
    obj = json_request(request, body)
    types = None if obj.get("types") is None else str_list(obj, "types", choices=TYPES)
    min_priority = opt_str(obj, "min_priority", choices=PRIORITIES)
    created, v = await admin.put_subscription(
        request.app[DIRECTORY],
        caller,
        group=gid,
        source=source,
        types=types,
        min_priority=min_priority,
    )
    out = {"group": gid, "source": source, "types": types, "min_priority": min_priority}
    return web.json_response({**out, "version": v}, status=201 if created else 200)


@routes.delete("/v1/groups/{gid}/subscriptions/{source}")
async def delete_subscription(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    gid = check_id(request.match_info["gid"], GROUP_ID, "group id")
    source = check_id(request.match_info["source"], PARTY_ID, "source party id")
    v = await admin.delete_subscription(request.app[DIRECTORY], caller, group=gid, source=source)
    return web.json_response({"group": gid, "source": source, "deleted": True, "version": v})


# --- suspend, resume, remove (exchange/store/directory_status.py says what each means) ---


def _client_id(request: web.Request) -> str:
    cid = f"{request.match_info['party']}/{request.match_info['name']}"
    return check_id(cid, CLIENT_ID, "client id")


def _party(request: web.Request) -> str:
    return check_id(request.match_info["party"], PARTY_ID, "party id")


@routes.post("/v1/admin/parties/{party}/suspend")
async def suspend_party(request: web.Request) -> web.Response:
    return await _party_status(request, "suspended")


@routes.post("/v1/admin/parties/{party}/resume")
async def resume_party(request: web.Request) -> web.Response:
    return await _party_status(request, "active")


async def _party_status(request: web.Request, status: str) -> web.Response:
    caller, _ = await authenticate(request)
    party = _party(request)
    dirs = request.app[DIRECTORY]
    v = await admin.set_party_status(dirs, caller, party=party, status=status)
    return web.json_response({"party": party, "status": status, "version": v})


@routes.delete("/v1/admin/parties/{party}")
async def remove_party(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    party = _party(request)
    changes, v = await admin.remove_party(request.app[DIRECTORY], caller, party=party)
    return web.json_response({"party": party, "status": "removed", **changes, "version": v})


@routes.post("/v1/admin/clients/{party}/{name}/suspend")
async def suspend_client(request: web.Request) -> web.Response:
    return await _client_status(request, "suspended")


@routes.post("/v1/admin/clients/{party}/{name}/resume")
async def resume_client(request: web.Request) -> web.Response:
    return await _client_status(request, "active")


async def _client_status(request: web.Request, status: str) -> web.Response:
    caller, _ = await authenticate(request)
    cid = _client_id(request)
    dirs = request.app[DIRECTORY]
    kid, v = await admin.set_client_status(dirs, caller, client_id=cid, status=status)
    return web.json_response({"id": cid, "kid": kid, "status": status, "version": v})


@routes.delete("/v1/admin/clients/{party}/{name}")
async def remove_client(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    cid = _client_id(request)
    kid, v = await admin.remove_client(request.app[DIRECTORY], caller, client_id=cid)
    return web.json_response({"id": cid, "kid": kid, "status": "revoked", "version": v})


@routes.delete("/v1/admin/groups/{gid}")
async def remove_group(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    gid = check_id(request.match_info["gid"], GROUP_ID, "group id")
    changes, v = await admin.remove_group(request.app[DIRECTORY], caller, group=gid)
    return web.json_response({"group": gid, "removed": True, **changes, "version": v})
