"""``GET /v1/stream`` (PROTOCOL §7): parse the query, authenticate, upgrade the
connection, and write the frames of a stream session (service/stream.py) to it.

A subscriber that makes no progress within the send timeout is dropped and resumes by
cursor; it can never stall the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from exchange.api.app_keys import LIMITS, SOCKETS, STREAMS
from exchange.api.keys import authenticate
from exchange.api.parse import query_int
from exchange.errors import AuthError, ExchangeError
from exchange.service.stream import Filters

__all__ = ["routes"]

routes = web.RouteTableDef()
log = logging.getLogger("exchange.stream")


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
            async with asyncio.timeout(self.timeout):
                await asyncio.shield(task)
        except BaseException:
            self._abandon(task)
            raise

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        """A write we stop waiting for (timed out, or we were cancelled): cut a peer
        that still blocks it off, and retrieve its outcome whenever it comes, also when
        it failed at the same moment as we were cancelled."""
        if not task.done():
            self.cut_off()
        task.add_done_callback(_consume)

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send(self, frame: bytes) -> None:
        await self._bounded(self.ws.send_frame(frame, WSMsgType.TEXT))
        self.last_sent = self.loop.time()

    async def send_frames(self, frames: Iterator[bytes]) -> None:
        """Send frames one after another in one task; the peer is cut off when none of
        them left for ``timeout`` seconds (a slow but reading peer keeps up)."""
        task = asyncio.ensure_future(self._send_all(frames))
        try:
            while True:
                await asyncio.wait({task}, timeout=self.timeout)
                if task.done():
                    task.result()
                    return
                if self.loop.time() - self.last_sent > self.timeout:
                    raise TimeoutError
        except BaseException:
            self._abandon(task)
            raise

    async def _send_all(self, frames: Iterator[bytes]) -> None:
        for frame in frames:  # UTF-8 JSON already: a text frame without a copy
            await self.ws.send_frame(frame, WSMsgType.TEXT)
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


@routes.get("/v1/stream", allow_head=False)
async def stream(request: web.Request) -> web.StreamResponse:
    caller, _ = await authenticate(request)
    limits = request.app[LIMITS]
    after = query_int(request, "after", 0)
    filters = Filters.parse(request.query.get("min_priority"), request.query.get("types"))
    session = request.app[STREAMS].open(caller, after, filters)  # refuses a non-reader
    ws = web.WebSocketResponse(  # no permessage-deflate: ciphertext does not compress
        max_msg_size=limits.ws_max_frame, heartbeat=limits.ws_heartbeat, compress=False
    )
    try:
        await ws.prepare(request)
    except ConnectionError:  # the client left during the handshake: nothing to serve
        session.close()
        return ws
    except BaseException:
        session.close()
        raise
    sock = _Socket(request, ws, limits.ws_send_timeout)
    request.app[SOCKETS].add(ws)
    pump_task = asyncio.create_task(session.run(sock))
    drain_task = asyncio.create_task(_drain(ws))
    try:
        await _until_ended(caller.client_id, sock, pump_task, drain_task)
    finally:
        session.close()
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


async def _drain(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


async def _until_ended(
    client_id: str, sock: _Socket, pump: asyncio.Task[None], drain: asyncio.Task[None]
) -> None:
    """Until the session ends or the client closes; what ended the session becomes a
    close code (1008 for a revocation, PROTOCOL §7)."""
    done, _pending = await asyncio.wait({pump, drain}, return_when=asyncio.FIRST_COMPLETED)
    exc = None
    if pump in done and not pump.cancelled():
        exc = pump.exception()
    if isinstance(exc, AuthError):
        log.info("stream of %s closed: %s", client_id, exc.detail)
        await sock.close(WSCloseCode.POLICY_VIOLATION)
    elif isinstance(exc, TimeoutError):
        # Too slow a reader, already cut off: it resumes by cursor.
        log.info("stream of %s dropped: send timed out", client_id)
    elif isinstance(exc, ExchangeError):
        log.warning("stream of %s closed: %s", client_id, exc.code)
        await sock.close(WSCloseCode.TRY_AGAIN_LATER)
    elif exc is not None and not isinstance(exc, ConnectionError):
        log.error("stream of %s failed", client_id, exc_info=exc)
        await sock.close(WSCloseCode.INTERNAL_ERROR)
