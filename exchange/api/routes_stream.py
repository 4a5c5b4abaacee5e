"""``GET /v1/stream``: the backlog after a cursor, then each new bulletin (PROTOCOL §7).

Each connection reads its party's inbox after its own cursor when woken, so it never
skips or repeats an item. A subscriber that does not read within the send timeout is
dropped and resumes by cursor; it can never stall the others."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from exchange.api.app_keys import SOCKETS
from exchange.api.keys import EXCHANGE, authenticate
from exchange.api.parse import query_int
from exchange.bulletin.vocab import PRIORITIES, TYPES, meets_min_priority
from exchange.errors import ExchangeError, InputError
from exchange.service.clock import iso_ms
from exchange.store import bulletins as bstore

__all__ = ["routes"]

routes = web.RouteTableDef()
log = logging.getLogger("exchange.stream")

#: seconds one frame may take to leave; a reader slower than that is dropped
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
    loop = asyncio.get_running_loop()
    request.app[SOCKETS].add(ws)
    sub = ex.hub.subscribe(caller.party)
    # A page bounds what one read holds in memory (items carry whole envelopes).
    page = ex.limits.page_size
    last_sent = loop.time()

    async def send(msg: dict[str, Any]) -> None:
        nonlocal last_sent
        await asyncio.wait_for(ws.send_str(json.dumps(msg)), SEND_TIMEOUT)
        last_sent = loop.time()

    async def push_backlog() -> None:
        """Everything after the cursor, in seq order; the cursor moves past each item
        examined, pushed or filtered out (PROTOCOL §7: never skipped, never repeated)."""
        nonlocal cursor
        while True:
            async with ex.db.read() as conn:
                items = await bstore.inbox(conn, caller.party, cursor, page)
            sent: list[int] = []
            try:
                for item in items:
                    if _wanted(item, min_priority, types):
                        await send({"kind": "bulletin", **item})
                        sent.append(item["seq"])
                    cursor = item["seq"]
            finally:
                ex.marker.mark(caller.party, sent)  # delivered_at: first push
            if len(items) < page:
                return

    async def pump() -> None:
        while not ws.closed:
            sub.wake.clear()
            await push_backlog()
            while sub.notices:
                await send(sub.notices.popleft())
            # Wake-ups (every post, and the poll) come more often than heartbeats are
            # due, so a heartbeat goes out when nothing else was sent for that long.
            idle = max(0.0, last_sent + ex.limits.ws_heartbeat - loop.time())
            try:
                await asyncio.wait_for(sub.wake.wait(), idle)
            except TimeoutError:
                await send({"kind": "heartbeat", "at": iso_ms(ex.clock.ms()), "cursor": cursor})

    async def drain() -> None:
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break

    pump_task = asyncio.create_task(pump())
    drain_task = asyncio.create_task(drain())
    aborted = False
    try:
        done, _pending = await asyncio.wait(
            {pump_task, drain_task}, return_when=asyncio.FIRST_COMPLETED
        )
        exc = None
        if pump_task in done and not pump_task.cancelled():
            exc = pump_task.exception()
        if isinstance(exc, TimeoutError):
            # Too slow a reader: a close frame would only queue behind what it does not
            # read, and a closed transport would keep its buffer and socket until it
            # did. Drop it; it resumes by cursor.
            log.info("stream of %s dropped: send timed out", caller.client_id)
            aborted = True
            if request.transport is not None:
                request.transport.abort()
        elif isinstance(exc, ExchangeError):
            log.warning("stream of %s closed: %s", caller.client_id, exc.code)
            await _close(request, ws, WSCloseCode.TRY_AGAIN_LATER)
        elif isinstance(exc, ConnectionError):
            pass  # the peer went away mid-send
        elif exc is not None:
            log.error("stream of %s failed", caller.client_id, exc_info=exc)
            await _close(request, ws, WSCloseCode.INTERNAL_ERROR)
    finally:
        ex.hub.unsubscribe(sub)
        request.app[SOCKETS].discard(ws)
        for t in (pump_task, drain_task):
            t.cancel()
        for t in (pump_task, drain_task):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if not aborted and not ws.closed:
            await _close(request, ws, WSCloseCode.OK)
    return ws


async def _close(request: web.Request, ws: web.WebSocketResponse, code: int) -> None:
    """Close, bounded in time: a peer that does not read never completes the handshake,
    and is then cut off rather than left holding a socket and its send buffer."""
    try:
        await asyncio.wait_for(
            ws.close(code=code, message=b"resume from your last cursor"), SEND_TIMEOUT
        )
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()
    except ConnectionError:
        pass
