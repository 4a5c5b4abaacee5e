"""``GET /v1/stream``: the backlog after a cursor, then each new bulletin (PROTOCOL §7).

Each connection reads its party's inbox after its own cursor, then takes new bulletins
from the hub (or reads again when the hub cannot vouch for them), so it never skips or
repeats an item. A subscriber that makes no progress within the send timeout is dropped
and resumes by cursor; it can never stall the others."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Coroutine, Iterator, Mapping
from functools import partial
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import Connection

from exchange.api.app_keys import SOCKETS
from exchange.api.keys import EXCHANGE, authenticate
from exchange.api.parse import query_int
from exchange.bulletin.vocab import PRIORITIES, TYPES, meets_min_priority
from exchange.errors import AuthError, ExchangeError, InputError
from exchange.service import delivery
from exchange.service.clock import iso_ms
from exchange.store import bulletins as bstore
from exchange.store import inbox as inbox_store

__all__ = ["routes"]

routes = web.RouteTableDef()
log = logging.getLogger("exchange.stream")

#: printable ASCII but the two characters a JSON string escapes
_PLAIN = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')


def _plain(text: str) -> bool:
    """Nothing in ``text`` needs escaping inside a JSON string (a compact JWS never
    does). ``bytes.translate`` deletes the plain bytes in C, 4x faster than a regex."""
    return text.isascii() and not text.encode("ascii").translate(None, _PLAIN)


#: a stored list of party or group ids, as admission wrote it (compact JSON)
_ID_LIST = re.compile(r'\[(?:"[A-Za-z0-9@-]+"(?:,"[A-Za-z0-9@-]+")*)?\]')


def _string(value: str | None) -> str:
    if value is None:
        return "null"
    return '"' + value + '"' if _plain(value) else json.dumps(value)


def _id_list(text: str) -> str:
    return text if _ID_LIST.fullmatch(text) else json.dumps(json.loads(text))


def frame_of_row(row: Any) -> str:
    """:func:`frame_of` straight from a stored row (``bstore.ITEM_COLUMNS``), without
    building the item: catch-up frames are most of what a resuming stream costs."""
    if not _plain(row.envelope):
        return frame_of(bstore.item_of(row))
    exp = "null" if row.exp is None else str(int(row.exp))
    return (
        f'{{"kind":"bulletin","seq":{int(row.seq)},"bid":{_string(row.bid)},'
        f'"iss":{_string(row.iss)},"groups":{_id_list(row.groups)},"to":{_id_list(row.to)},'
        f'"type":{_string(row.type)},"priority":{_string(row.priority)},'
        f'"tlp":{_string(row.tlp)},"iat":{int(row.iat)},"exp":{exp},'
        f'"supersedes":{_string(row.supersedes)},"envelope":"{row.envelope}"}}'
    )


def frame_of(item: dict[str, Any]) -> str:
    """The stream message for one inbox item. The envelope (up to ``max_body`` bytes) is
    spliced in rather than run through the JSON encoder: catch-up sends thousands."""
    envelope: str = item["envelope"]
    if not _plain(envelope):  # admission checked its form; never trust it here
        return json.dumps({"kind": "bulletin", **item}, separators=(",", ":"))
    head = json.dumps({"kind": "bulletin", **item, "envelope": ""}, separators=(",", ":"))
    return head[: -len('""}')] + '"' + envelope + '"}'


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


def _wanted(
    item: Mapping[str, Any], min_priority: str | None, types: frozenset[str] | None
) -> bool:
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
            self._abandon(task)
            raise

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        """A write we stop waiting for (timed out, or we were cancelled): cut a peer
        that still blocks it off, and retrieve its outcome whenever it comes, also when
        it failed at the same moment as we were cancelled."""
        if not task.done():
            self.cut_off()
        task.add_done_callback(_consume)

    async def send(self, msg: dict[str, Any]) -> None:
        await self._bounded(self.ws.send_str(json.dumps(msg)))
        self.last_sent = self.loop.time()

    async def send_frames(self, frames: Iterator[str]) -> None:
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

    async def _send_all(self, frames: Iterator[str]) -> None:
        for frame in frames:
            await self.ws.send_str(frame)
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
    page = ex.limits.max_page_size
    carry = ex.hub.carry

    Page = tuple[list[tuple[int, str | None]], bool]

    def read_page(conn: Connection, after: int) -> Page:
        """One page after ``after`` as (seq, frame or None when filtered out). Runs in a
        reader thread, so frames are built while the loop is sending the page before."""
        rows, more = inbox_store.inbox_rows(
            conn, caller.party, after, page, ex.limits.page_bytes, chunk=256
        )
        delivery.reader_txn(conn, caller)  # revoked meanwhile: none of these go out
        wanted = [
            (int(r.seq), frame_of_row(r) if _wanted(r._mapping, min_priority, types) else None)
            for r in rows
        ]
        return wanted, more

    def listed(entries: list[tuple[int, str | None]], sent: list[int]) -> Iterator[str]:
        """The frames of a page; the cursor moves past each item examined, pushed or
        filtered out (PROTOCOL §7: never skipped, never repeated)."""
        nonlocal cursor
        for seq, frame in entries:
            if frame is not None:
                yield frame
                sent.append(seq)
            cursor = seq

    unfiltered = min_priority is None and types is None

    async def push(frames: Callable[[list[int]], Iterator[str]], *, page: bool = False) -> None:
        sent: list[int] = []
        try:
            await sock.send_frames(frames(sent))
        finally:
            # delivered_at: first push. A database page of an unfiltered stream holds
            # every item of the party between its first and last seq.
            if page and unfiltered and len(sent) > 1:
                ex.marker.mark_range(caller.party, sent[0], sent[-1])
            else:
                ex.marker.mark(caller.party, sent)

    async def push_backlog() -> None:
        """Everything after the cursor, in seq order, from the database; the next page
        is read while this one is sent."""
        reading = asyncio.ensure_future(ex.db.run_read(partial(read_page, after=cursor)))
        try:
            while True:
                entries, more = await reading
                if more:
                    after = entries[-1][0]
                    reading = asyncio.ensure_future(ex.db.run_read(partial(read_page, after=after)))
                await push(partial(listed, entries), page=True)
                if not more:
                    return
        finally:
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, ExchangeError):
                    await reading

    def arrived(sent: list[int]) -> Iterator[str]:
        """What the hub carried since the last read (see service/hub.py)."""
        nonlocal cursor
        while sub.arrivals and not sub.stale:
            arrival = sub.arrivals.popleft()
            if arrival.seq <= cursor:
                continue  # also in the database read
            if _wanted(arrival.item, min_priority, types):
                if arrival.frame is None:
                    arrival.frame = frame_of(arrival.item)
                yield arrival.frame
                sent.append(arrival.seq)
            cursor = arrival.seq

    checked_epoch = ex.hub.directory_epoch
    next_check = sock.loop.time() + ex.limits.ws_recheck

    async def recheck() -> None:
        """Issue 17: revocation reaches open streams. Periodically (any node's change),
        and before items from memory while this node's change is in flight or after it."""
        nonlocal checked_epoch, next_check
        epoch = ex.hub.directory_epoch
        await delivery.check_reader(ex, caller)
        checked_epoch = epoch
        next_check = sock.loop.time() + ex.limits.ws_recheck

    async def pump() -> None:
        while not ws.closed:
            sub.wake.clear()
            if sock.loop.time() >= next_check:
                await recheck()
            if sub.stale or not carry:
                sub.stale = False
                await push_backlog()
            if carry:
                if ex.hub.directory_changing or ex.hub.directory_epoch != checked_epoch:
                    await recheck()
                await push(arrived)
            while sub.notices:
                await sock.send(sub.notices.popleft())
            if sub.stale or sub.arrivals:
                continue
            # Only a wake-up means the inbox may have grown; a heartbeat goes out when
            # nothing else was sent for that long, and costs no database read.
            while True:
                now = sock.loop.time()
                idle = max(0.0, sock.last_sent + ex.limits.ws_heartbeat - now)
                try:
                    await asyncio.wait_for(sub.wake.wait(), min(idle, next_check - now))
                    break
                except TimeoutError:
                    if sock.loop.time() >= next_check:
                        await recheck()
                        continue
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
        if isinstance(exc, AuthError):
            log.info("stream of %s closed: %s", caller.client_id, exc.detail)
            await sock.close(WSCloseCode.POLICY_VIOLATION)
        elif isinstance(exc, TimeoutError):
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
