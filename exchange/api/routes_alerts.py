"""``/v1/alerts/…``: a party's webhook endpoints and e-mail addresses, their deliveries
and dead letters (docs/alerts.md). Parse, call the service, format."""

from __future__ import annotations

from aiohttp import web

from exchange.api.app_keys import ALERT_ENDPOINTS, LIMITS
from exchange.api.keys import authenticate
from exchange.api.parse import PARTY_ID, check_id, json_request, opt_str, req_str, str_list
from exchange.errors import InputError
from exchange.service.alerts.endpoints import KINDS, MODES
from exchange.vocab import PRIORITIES, TYPES, UUID_RE

__all__ = ["routes"]

routes = web.RouteTableDef()

_EVENTS = ("bulletin", "escalation")
MAX_IDS = 1000


@routes.post("/v1/alerts/endpoints")
async def add_endpoint(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    obj = json_request(request, body)
    party = req_str(obj, "party", pattern=PARTY_ID, max_len=32)
    kind = req_str(obj, "kind", choices=KINDS)
    target = req_str(obj, "url" if kind == "webhook" else "address", max_len=2048)
    types = None if obj.get("types") is None else str_list(obj, "types", choices=TYPES)
    events = None if obj.get("events") is None else str_list(obj, "events", choices=_EVENTS)
    view = await request.app[ALERT_ENDPOINTS].add(
        caller,
        party=party,
        kind=kind,
        target=target,
        mode=opt_str(obj, "mode", choices=MODES),
        events=events,
        types=types,
        min_priority=opt_str(obj, "min_priority", choices=PRIORITIES),
    )
    return web.json_response(view, status=201)


@routes.get("/v1/alerts/endpoints")
async def list_endpoints(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    party = request.query.get("party")
    if party is not None:
        check_id(party, PARTY_ID, "party id")
    eps = await request.app[ALERT_ENDPOINTS].listing(caller, party)
    return web.json_response({"endpoints": eps})


def _endpoint_id(request: web.Request) -> str:
    return check_id(request.match_info["id"], UUID_RE, "endpoint id")


@routes.delete("/v1/alerts/endpoints/{id}")
async def remove_endpoint(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    eid = _endpoint_id(request)
    cancelled = await request.app[ALERT_ENDPOINTS].remove(caller, eid)
    return web.json_response({"id": eid, "removed": True, "cancelled": cancelled})


@routes.get("/v1/alerts/endpoints/{id}/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    eid = _endpoint_id(request)
    state = request.query.get("state")
    limit = request.app[LIMITS].page_size
    rows = await request.app[ALERT_ENDPOINTS].deliveries(caller, eid, state, limit)
    return web.json_response({"id": eid, "deliveries": rows})


@routes.post("/v1/alerts/endpoints/{id}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    eid = _endpoint_id(request)
    obj = json_request(request, body) if body else {}
    ids = obj.get("ids")
    if ids is not None and (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids)
    ):
        raise InputError(f"'ids' must be a non-empty list of at most {MAX_IDS} delivery ids")
    count = await request.app[ALERT_ENDPOINTS].redeliver(caller, eid, ids)
    return web.json_response({"id": eid, "requeued": count})
