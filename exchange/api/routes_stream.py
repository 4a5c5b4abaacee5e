"""``GET /v1/stream``: the backlog after a cursor, then each new bulletin (PROTOCOL §7).

Each connection reads its party's inbox after its own cursor when woken, so it never
skips or repeats an item. A subscriber that does not read within the send timeout is
dropped and resumes by cursor; it can never stall the others."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
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


class _Socket:
    """Writes to one stream's socket, each write bounded by ``Limits.ws_send_timeout``.

    A write blocked on a peer that does not read is never cancelled: aiohttp shares one
    drain waiter among every writer of a socket, and cancelling it would fail the others
    (the close of a server shutdown, say) with CancelledError. The connection is cut off
    instead, which releases them all, and which also frees the socket and its send
    buffer at once (a plain close would wait for the peer to read them)."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, timeout: float) -> None:
        self.request = request
        self.timeout = timeout
        self.ws = ws
        self.loop = asyncio.get_running_loop()
        self.last_sent = self.loop.time()
        self.cut = False

    def cut_off(self) -> None:
        self.cut = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def _bounded(self, write: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(write)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except BaseException:
            if not task.done():
                self.cut_off()
                task.add_done_callback(_consume)
            raise

    async def send(self, msg: dict[str, Any]) -> None:
        await self._bounded(self.ws.send_str(json.dumps(msg)))
        self.last_sent = self.loop.time()

    async def close(self, code: int) -> None:
        if self.cut or self.ws.closed:
            return
        with contextlib.suppress(TimeoutError, ConnectionError):
            await self._bounded(self.ws.close(code=code, message=b"resume from your last cursor"))

    async def settle(self) -> None:
        """Closed by someone else (the server shutting down): a peer that does not read
        must not hold that close, and the shutdown, open for ever."""
        deadline = self.loop.time() + self.timeout
        while not self.cut:
            transport = self.request.transport
            if transport is None or transport.get_write_buffer_size() == 0:
                return
            if self.loop.time() > deadline:
                self.cut_off()
                return
            await asyncio.sleep(0.05)


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a write left behind, so that it is not reported."""
    if not task.cancelled():
        task.exception()


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
    try:
        await ws.prepare(request)
    except ConnectionError:  # the client left during the handshake: nothing to serve
        return ws
    sock = _Socket(request, ws, ex.limits.ws_send_timeout)
    request.app[SOCKETS].add(ws)
    sub = ex.hub.subscribe(caller.party)
    # A page bounds what one read holds in memory (items carry whole envelopes).
    page = ex.limits.page_size

    async def push_backlog() -> None:
        """Everything after the cursor, in seq order; the cursor moves past each item
        examined, pushed or filtered out (PROTOCOL §7: never skipped, never repeated)."""
        nonlocal cursor
        while True:
            async with ex.db.read() as conn:
                items, more = await bstore.inbox_page(
                    conn, caller.party, cursor, page, ex.limits.page_bytes
                )
            sent: list[int] = []
            try:
                for item in items:
                    if _wanted(item, min_priority, types):
                        await sock.send({"kind": "bulletin", **item})
                        sent.append(item["seq"])
                    cursor = item["seq"]
            finally:
                ex.marker.mark(caller.party, sent)  # delivered_at: first push
            if not more:
                return

    async def pump() -> None:
        while not ws.closed:
            sub.wake.clear()
            await push_backlog()
            while sub.notices:
                await sock.send(sub.notices.popleft())
            # Only a wake-up means the inbox may have grown; a heartbeat goes out when
            # nothing else was sent for that long, and costs no database read.
            while True:
                idle = max(0.0, sock.last_sent + ex.limits.ws_heartbeat - sock.loop.time())
                try:
                    await asyncio.wait_for(sub.wake.wait(), idle)
                    break
                except TimeoutError:
                    beat = {"kind": "heartbeat", "at": iso_ms(ex.clock.ms()), "cursor": cursor}
                    await sock.send(beat)

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
        exc = None
        if pump_task in done and not pump_task.cancelled():
            exc = pump_task.exception()
        if isinstance(exc, TimeoutError):
            # Too slow a reader, already cut off: it resumes by cursor.
            log.info("stream of %s dropped: send timed out", caller.client_id)
        elif isinstance(exc, ExchangeError):
            log.warning("stream of %s closed: %s", caller.client_id, exc.code)
            await sock.close(WSCloseCode.TRY_AGAIN_LATER)
        elif exc is not None and not isinstance(exc, ConnectionError):
            log.error("stream of %s failed", caller.client_id, exc_info=exc)
            await sock.close(WSCloseCode.INTERNAL_ERROR)
    finally:
        ex.hub.unsubscribe(sub)
        request.app[SOCKETS].discard(ws)
        for t in (pump_task, drain_task):
            t.cancel()
        for t in (pump_task, drain_task):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if ws.closed:
            await sock.settle()
        else:
            await sock.close(WSCloseCode.OK)
    return ws
