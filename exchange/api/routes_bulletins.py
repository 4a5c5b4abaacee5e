"""Posting, reading and acknowledging bulletins (PROTOCOL §7)."""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from exchange.api.app_keys import ADMISSIONS, DELIVERY, LIMITS, STATUS
from exchange.api.keys import authenticate, authenticate_unspent
from exchange.api.parse import query_flag, query_int
from exchange.bulletin import item as inbox_item
from exchange.errors import ExchangeError, InputError, NotFound, UnsupportedMediaType
from exchange.vocab import BID_RE

__all__ = ["routes"]

routes = web.RouteTableDef()


def _bid(request: web.Request) -> str:
    """Checked before any query: PostgreSQL answers an error for a NUL in a text value."""
    bid = request.match_info["bid"]
    if not BID_RE.fullmatch(bid):
        raise InputError("bid must be a UUID in lower-case canonical form")
    return bid


def _jose_body(request: web.Request, body: bytes) -> bytes:
    if request.content_type != "application/jose":
        raise UnsupportedMediaType("the body must be sent as application/jose")
    if not body:
        raise InputError("empty body")
    return body.strip()


@routes.post("/v1/bulletins")
async def post_bulletin(request: web.Request) -> web.Response:
    caller, token_id, body = await authenticate_unspent(request)
    admissions = request.app[ADMISSIONS]
    try:
        envelope = _jose_body(request, body)
    except ExchangeError:
        await admissions.spend_refused(token_id)  # its replay is answered 401
        raise
    created, receipt = await admissions.admit(caller, token_id, envelope)
    return web.json_response({"receipt": receipt}, status=201 if created else 200)


# allow_head=False: a HEAD would run the handler, mark a delivery and send nothing
@routes.get("/v1/bulletins/{bid}", allow_head=False)
async def get_bulletin(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    return web.json_response(await request.app[DELIVERY].get_bulletin(caller, _bid(request)))


@routes.get("/v1/inbox", allow_head=False)
async def inbox(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    limits = request.app[LIMITS]
    after = query_int(request, "after", 0)
    limit = query_int(request, "limit", limits.page_size, lo=1, hi=limits.max_page_size)
    unacked = query_flag(request, "unacked")
    items, nxt = await request.app[DELIVERY].inbox(caller, after, limit, unacked=unacked)
    return web.Response(body=inbox_item.inbox_body(items, nxt), content_type="application/json")


@routes.post("/v1/bulletins/{bid}/acks")
async def post_ack(request: web.Request) -> web.Response:
    caller, body = await authenticate(request)
    created, view = await request.app[DELIVERY].ack(
        caller, _bid(request), _jose_body(request, body)
    )
    return web.json_response(view, status=201 if created else 200)


@routes.get("/v1/bulletins/{bid}/status")
async def status(request: web.Request) -> web.Response:
    caller, _ = await authenticate(request)
    return web.json_response(await request.app[DELIVERY].ledger(caller, _bid(request)))


def _metrics_allowed(request: web.Request, token: str | None) -> bool:
    """Issue 17: a configured bearer credential, or else a loopback peer only."""
    if token is not None:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address((request.remote or "").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@routes.get("/metrics", allow_head=False)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; expose to the monitoring network only (docs/deploy.md)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    status = request.app[STATUS]
    if not _metrics_allowed(request, status.metrics_token):
        raise NotFound("no such resource")  # nothing tells a scanner that it exists
    return web.Response(body=await status.scrape(), headers={"Content-Type": CONTENT_TYPE_LATEST})
