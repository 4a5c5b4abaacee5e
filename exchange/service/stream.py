"""One stream session (PROTOCOL §7): the backlog after a cursor, then each new item.

A session reads its party's inbox after its own cursor, then takes new bulletins from
the hub (or reads again when the hub cannot vouch for them, see service/hub.py), so it
never skips or repeats an item: the cursor moves past an item only once its frame was
written, or once the filters passed over it. Catch-up pages are read and encoded in a
reader thread while the page before is being sent. An item is marked delivered only
after its frame was written to a client that the same read transaction (or, for items
from memory, a re-check) found to be an active reader of its party (issue 17). The
session decides what to send and when; the API layer owns the socket (:class:`Sink`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Connection

from exchange.bulletin import item as inbox_item
from exchange.config import Limits
from exchange.errors import ExchangeError, InputError
from exchange.service.caller import Caller
from exchange.service.clock import Clock, iso_ms
from exchange.service.delivery import Delivery, reader_txn
from exchange.service.hub import Hub
from exchange.service.marker import DeliveryMarker
from exchange.store import inbox as inbox_store
from exchange.store.db import Database
from exchange.vocab import PRIORITIES, TYPES, meets_min_priority

__all__ = ["Filters", "Session", "Sink", "Streams"]

#: one catch-up page: (seq, frame or None when filtered out) in seq order, and whether
#: more may follow
_Page = tuple[list[tuple[int, bytes | None]], bool]


@dataclass(frozen=True)
class Filters:
    """The stream's ``min_priority`` and ``types`` (PROTOCOL §7); None lets all pass."""

    min_priority: str | None = None
    types: frozenset[str] | None = None

    @classmethod
    def parse(cls, min_priority: str | None, types: str | None) -> Filters:
        if min_priority is not None and min_priority not in PRIORITIES:
            raise InputError(f"min_priority must be one of {', '.join(PRIORITIES)}")
        wanted = None
        if types is not None:
            wanted = frozenset(t for t in types.split(",") if t)
            if not wanted or not wanted <= set(TYPES):
                raise InputError(f"types must be a comma-separated list of {', '.join(TYPES)}")
        return cls(min_priority, wanted)

    @property
    def unfiltered(self) -> bool:
        return self.min_priority is None and self.types is None

    def wanted(self, item: Mapping[str, Any]) -> bool:
        if self.types is not None and item["type"] not in self.types:
            return False
        return meets_min_priority(item["priority"], self.min_priority)


class Sink(Protocol):
    """The socket a session writes to (api/routes_stream.py); each write is bounded."""

    @property
    def closed(self) -> bool: ...

    @property
    def last_sent(self) -> float:
        """Loop time of the last frame written."""

    async def send(self, frame: bytes) -> None: ...

    async def send_frames(self, frames: Iterator[bytes]) -> None:
        """Write frames one after another; raises TimeoutError when none left for too
        long (the frames' generator is then left where it is)."""


class Streams:
    """What the stream sessions of one node use (built once by ``Exchange``); :meth:`open`
    starts a session."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        limits: Limits,
        hub: Hub,
        marker: DeliveryMarker,
        delivery: Delivery,
    ) -> None:
        self.db = db
        self.clock = clock
        self.limits = limits
        self.hub = hub
        self.marker = marker
        self.delivery = delivery  # the reader re-check (service/delivery.py)

    def open(self, caller: Caller, after: int, filters: Filters) -> Session:
        """A session for ``caller`` after ``after``; refuses a client without reader."""
        return Session(self, caller, after, filters)


class Session:
    """The state of one stream: its cursor, filters, hub subscription and the next
    revocation check. :meth:`run` pushes until the sink closes or a check fails
    (:class:`AuthError`: the client was revoked or lost its reader role)."""

    def __init__(self, streams: Streams, caller: Caller, after: int, filters: Filters) -> None:
        caller.require("reader")
        self.streams = streams
        self.caller = caller
        self.filters = filters
        #: the last seq examined (pushed or filtered out); heartbeats carry it
        self.cursor = after
        #: a page bounds what one read holds in memory (items carry whole envelopes)
        self._page = streams.limits.max_page_size
        self._carry = streams.hub.carry
        self._sub = streams.hub.subscribe(caller.party)
        self._loop = asyncio.get_running_loop()
        self._checked_epoch = streams.hub.directory_epoch
        self._next_check = self._loop.time() + streams.limits.ws_recheck

    def close(self) -> None:
        self.streams.hub.unsubscribe(self._sub)

    # -- catch-up from the database ---------------------------------------------------

    def _read_page(self, conn: Connection, after: int) -> _Page:
        """One page after ``after``. Runs in a reader thread, so frames are built while
        the loop is sending the page before."""
        streams, wanted = self.streams, self.filters.wanted
        rows, more = inbox_store.inbox_rows(
            conn, self.caller.party, after, self._page, streams.limits.page_bytes, chunk=256
        )
        reader_txn(conn, self.caller)  # revoked meanwhile: none of these go out
        page = [
            (int(r.seq), inbox_item.frame_of_row(r) if wanted(r._mapping) else None) for r in rows
        ]
        return page, more

    def _listed(self, entries: list[tuple[int, bytes | None]], sent: list[int]) -> Iterator[bytes]:
        """The frames of a page; the cursor moves past each item examined, pushed or
        filtered out (PROTOCOL §7: never skipped, never repeated)."""
        for seq, frame in entries:
            if frame is not None:
                yield frame
                sent.append(seq)
            self.cursor = seq

    async def _push_backlog(self, sink: Sink) -> None:
        """Everything after the cursor, in seq order; the next page is read while this
        one is sent."""
        run_read = self.streams.db.run_read
        reading = asyncio.ensure_future(run_read(partial(self._read_page, after=self.cursor)))
        try:
            while True:
                entries, more = await reading
                if more:
                    after = entries[-1][0]
                    reading = asyncio.ensure_future(run_read(partial(self._read_page, after=after)))
                await self._push(sink, partial(self._listed, entries), page=True)
                if not more:
                    return
        finally:
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, ExchangeError):
                    await reading

    # -- live items from the hub -------------------------------------------------------

    def _arrived(self, sent: list[int]) -> Iterator[bytes]:
        """What the hub carried since the last read (see service/hub.py)."""
        sub = self._sub
        while sub.arrivals and not sub.stale:
            arrival = sub.arrivals.popleft()
            if arrival.seq <= self.cursor:
                continue  # also in the database read
            if self.filters.wanted(arrival.item):
                yield arrival.frame()
                sent.append(arrival.seq)
            self.cursor = arrival.seq

    # -- delivery marks ------------------------------------------------------------------

    async def _push(
        self, sink: Sink, frames: Callable[[list[int]], Iterator[bytes]], *, page: bool = False
    ) -> None:
        sent: list[int] = []
        try:
            await sink.send_frames(frames(sent))
        finally:
            # delivered_at: first push, of the frames written only. A database page of
            # an unfiltered stream holds every item of the party between its first and
            # last seq.
            marker, party = self.streams.marker, self.caller.party
            if page and self.filters.unfiltered and len(sent) > 1:
                marker.mark_range(party, sent[0], sent[-1])
            else:
                marker.mark(party, sent)

    # -- revocation ------------------------------------------------------------------------

    async def _recheck(self) -> None:
        """Issue 17: revocation reaches open streams. Periodically (any node's change),
        and before items from memory while this node's change is in flight or after it."""
        epoch = self.streams.hub.directory_epoch
        await self.streams.delivery.check_reader(self.caller)
        self._checked_epoch = epoch
        self._next_check = self._loop.time() + self.streams.limits.ws_recheck

    # -- the loop ----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Push until the sink closes; raises what ends the stream (AuthError on a
        revocation, TimeoutError for a peer too slow, ExchangeError for storage)."""
        streams, sub, loop = self.streams, self._sub, self._loop
        while not sink.closed:
            sub.wake.clear()
            if loop.time() >= self._next_check:
                await self._recheck()
            if sub.stale or not self._carry:
                sub.stale = False
                await self._push_backlog(sink)
            if self._carry:
                hub = streams.hub
                if hub.directory_changing or hub.directory_epoch != self._checked_epoch:
                    await self._recheck()
                await self._push(sink, self._arrived)
            while sub.notices:  # escalations for the sender (service/delivery.py)
                await sink.send(inbox_item.dumps(sub.notices.popleft()))
            if sub.stale or sub.arrivals:
                continue
            await self._idle(sink)

    async def _idle(self, sink: Sink) -> None:
        """Wait for a wake-up: only a wake-up means the inbox may have grown. A
        heartbeat goes out when nothing else was sent for that long, and costs no
        database read; the revocation check stays on schedule."""
        streams, loop = self.streams, self._loop
        while True:
            now = loop.time()
            idle = max(0.0, sink.last_sent + streams.limits.ws_heartbeat - now)
            try:
                async with asyncio.timeout(min(idle, self._next_check - now)):
                    await self._sub.wake.wait()
                return
            except TimeoutError:
                if loop.time() >= self._next_check:
                    await self._recheck()
                    continue
                at = iso_ms(streams.clock.ms())
                beat = {"kind": "heartbeat", "at": at, "cursor": self.cursor}
                await sink.send(inbox_item.dumps(beat))
