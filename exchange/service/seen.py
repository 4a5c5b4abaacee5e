"""When each client was last seen (reachability in reports, issue 14), at almost no
cost: a request only sets a few fields in memory; the times reach the database at most
once a minute (and before each report), together, in one statement."""

from __future__ import annotations

from exchange.service.caller import Caller
from exchange.service.clock import Clock
from exchange.service.hub import Hub
from exchange.store import reports as rstore
from exchange.store.db import Database

__all__ = ["SeenMarks", "SeenTracker"]

INBOX_PATH = "/v1/inbox"
STREAM_PATH = "/v1/stream"


class SeenTracker:
    """Last-seen marks of one node, kept in memory until flushed."""

    def __init__(self) -> None:
        self._marks: dict[str, rstore.SeenMark] = {}
        #: party -> its clients that opened a stream on this node
        self._streamers: dict[str, set[str]] = {}

    def note(self, client_id: str, party: str, path: str, now: int) -> None:
        old = self._marks.get(client_id)
        inbox_at = now if path == INBOX_PATH else (old.inbox_at if old else None)
        stream_at = now if path == STREAM_PATH else (old.stream_at if old else None)
        if path == STREAM_PATH:
            self._streamers.setdefault(party, set()).add(client_id)
        self._marks[client_id] = rstore.SeenMark(client_id, party, now, inbox_at, stream_at)

    def take(self, live_parties: set[str], now: int) -> list[rstore.SeenMark]:
        """The pending marks; a party with a stream open now counts as streaming now."""
        for party in live_parties:
            for cid in self._streamers.get(party, ()):
                old = self._marks.get(cid)
                self._marks[cid] = rstore.SeenMark(
                    cid, party, old.request_at if old else now, old.inbox_at if old else None, now
                )
        marks, self._marks = list(self._marks.values()), {}
        return marks

    def restore(self, marks: list[rstore.SeenMark]) -> None:
        """Put marks back after a failed write (newer ones already noted win)."""
        for m in marks:
            self._marks.setdefault(m.client_id, m)


class SeenMarks:
    """The node's marks (one per node, built by ``Exchange``): noted on every
    authenticated request, written by the minute task and before each report."""

    def __init__(self, *, db: Database, clock: Clock, hub: Hub) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub  # the parties streaming now count as seen now
        self.tracker = SeenTracker()

    def note(self, caller: Caller, path: str) -> None:
        """An authenticated request of ``caller`` (called for every one: memory only)."""
        self.tracker.note(caller.client_id, caller.party, path, self.clock.ms())

    async def flush(self) -> None:
        t = self.tracker
        marks = t.take(self.hub.live_parties(), self.clock.ms())
        if not marks:
            return
        try:
            await self.db.run_write(lambda conn: rstore.record_seen(conn, marks))
        except BaseException:
            t.restore(marks)
            raise
