"""``GET /v1/stream``: the backlog after a cursor, then each new bulletin (PROTOCOL §7).

Each connection reads its party's inbox after its own cursor when woken, so it never
skips or repeats an item. A subscriber that does not read within the send timeout is
dropped and resumes by cursor; it can never stall the others."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from exchange.api.app_keys import SOCKETS
from exchange.api.keys import EXCHANGE, authenticate
from exchange.api.parse import query_int
from exchange.bulletin.vocab import PRIORITIES, TYPES, meets_min_priority
from exchange.errors import InputError
from exchange.service.clock import iso_ms
from exchange.store import bulletins as bstore

__all__ = ["routes"]

routes = web.RouteTableDef()

SEND_TIMEOUT = 10.0


def _filters(request: web.Request) -> tuple[str | None, frozenset[str] | None]:
    min_priority = request.query.get("min_priority")
    if min_priority is not None and min_priority not in PRIORITIES:
        raise InputError(f"min_priority must be one of {', '.join(PRIORITIES)}")
    raw = request.query.get("types")
    types = None
    if raw is not None:
        types = frozenset(t for t in raw.split(",") if t)
        if not types or not types <= set(TYPES):
            raise InputError(f"types must be a comma-separated list of {', '.join(TYPES)}")
    return min_priority, types


def _wanted(item: dict[str, Any], min_priority: str | None, types: frozenset[str] | None) -> bool:
    if types is not None and item["type"] not in types:
        return False
    return meets_min_priority(item["priority"], min_priority)


@routes.get("/v1/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    caller, _ = await authenticate(request)
    caller.require("reader")
    ex = request.app[EXCHANGE]
    cursor = query_int(request, "after", 0)
    min_priority, types = _filters(request)
    ws = web.WebSocketResponse(
        max_msg_size=ex.limits.ws_max_frame, heartbeat=ex.limits.ws_heartbeat
    )
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    sub = ex.hub.subscribe(caller.party)
    page = ex.limits.max_page_size

    async def send(msg: dict[str, Any]) -> None:
        await asyncio.wait_for(ws.send_str(json.dumps(msg)), SEND_TIMEOUT)

    async def pump() -> None:
        nonlocal cursor
        while not ws.closed:
            sub.wake.clear()
            while True:
                async with ex.db.read() as conn:
                    items = await bstore.inbox(conn, caller.party, cursor, page)
                sent = []
                for item in items:
                    if _wanted(item, min_priority, types):
                        await send({"kind": "bulletin", **item})
                        sent.append(item["seq"])
                    cursor = item["seq"]
                ex.marker.mark(caller.party, sent)
                if len(items) < page:
                    break
            while sub.notices:
                await send(sub.notices.popleft())
            try:
                await asyncio.wait_for(sub.wake.wait(), ex.limits.ws_heartbeat)
            except TimeoutError:
                await send({"kind": "heartbeat", "at": iso_ms(ex.clock.ms()), "cursor": cursor})

    async def drain() -> None:
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    pump_task = asyncio.create_task(pump())
    drain_task = asyncio.create_task(drain())
    try:
        done, _pending = await asyncio.wait(
            {pump_task, drain_task}, return_when=asyncio.FIRST_COMPLETED
        )
        if pump_task in done and (exc := pump_task.exception()) is not None:
            code = WSCloseCode.TRY_AGAIN_LATER
            if isinstance(exc, TimeoutError):
                code = WSCloseCode.POLICY_VIOLATION  # too slow a reader: resume by cursor
            await ws.close(code=code, message=b"resume from your last cursor")
    finally:
        ex.hub.unsubscribe(sub)
        request.app[SOCKETS].discard(ws)
        for t in (pump_task, drain_task):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if not ws.closed:
            await ws.close()
    return ws
