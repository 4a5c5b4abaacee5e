"""Live delivery to the streams of one node.

The database is the source of truth: a stream reads its party's inbox after its own
cursor, so a lost, duplicated or reordered wake-up can delay an item by at most one poll
interval but never skip or repeat one (PROTOCOL §7).

When this node is the only writer (SQLite, one process: ``carry=True``), every accepted
bulletin passes through :meth:`Hub.publish` after its commit, in ``seq`` order, so a
stream that has read the database once after subscribing can take the rest from memory:
what committed before its read is in the read, what committed after is in its queue
(items in both are dropped by ``seq``). One frame is then encoded for all recipients and
no stream queries the database per bulletin (issue 8). A wake-up that carries no item
(another node's notification, a poll) or a queue that overflows sends the stream back
to the database."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

from exchange.bulletin import item as inbox_item

__all__ = ["Arrival", "Hub", "Subscription"]


class Arrival:
    """One accepted bulletin (its inbox item) as its recipients' streams push it."""

    __slots__ = ("_frame", "item", "recipients", "seq")

    def __init__(self, item: dict[str, Any], recipients: list[str]) -> None:
        self.item = item
        self.seq: int = item["seq"]
        self.recipients = recipients
        self._frame: bytes | None = None

    def frame(self) -> bytes:
        """The stream message, encoded once by the first stream that sends it."""
        if self._frame is None:
            self._frame = inbox_item.frame(self.item)
        return self._frame


class Subscription:
    """One live stream connection of one party."""

    def __init__(self, party: str, notice_limit: int, arrival_limit: int) -> None:
        self.party = party
        self.wake = asyncio.Event()
        self.notices: deque[dict[str, Any]] = deque(maxlen=notice_limit)
        self.arrivals: deque[Arrival] = deque()
        #: the queue cannot be trusted alone: read the database first
        self.stale = True
        self._arrival_limit = arrival_limit

    def poke(self) -> None:
        self.wake.set()

    def reread(self) -> None:
        """Something committed that the queue does not hold."""
        self.stale = True
        self.arrivals.clear()
        self.wake.set()

    def arrive(self, arrival: Arrival) -> None:
        if len(self.arrivals) >= self._arrival_limit:
            self.reread()  # a slow reader: the database holds it all
            return
        self.arrivals.append(arrival)
        self.wake.set()


class Hub:
    def __init__(self, *, queue_size: int = 1024, carry: bool = False) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size
        #: streams may take items from memory (this node sees every commit in order)
        self.carry = carry
        #: directory changes of this node in flight, and how many have ended: a stream
        #: re-checks its client in the database before each push while a change is in
        #: flight and once after each one ends (issue 17: revocation reaches open streams)
        self.directory_changing = 0
        self.directory_epoch = 0

    def directory_change_started(self) -> None:
        self.directory_changing += 1

    def directory_change_ended(self) -> None:
        self.directory_changing -= 1
        self.directory_epoch += 1
        self.wake_all()

    def subscribe(self, party: str) -> Subscription:
        sub = Subscription(party, self._queue_size, self._queue_size)
        self._subs.setdefault(party, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.party)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.party]

    def publish(self, arrivals: Iterable[Arrival]) -> None:
        """Committed bulletins, in ``seq`` order, called right after each commit."""
        for arrival in arrivals:
            for party in arrival.recipients:
                for sub in self._subs.get(party, ()):
                    if self.carry:
                        sub.arrive(arrival)
                    else:
                        sub.reread()

    def wake(self, parties: Iterable[str]) -> None:
        """Something committed for ``parties`` that this hub did not see."""
        for party in parties:
            for sub in self._subs.get(party, ()):
                sub.reread()

    def wake_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.reread()

    def notify(self, party: str, notice: dict[str, Any]) -> None:
        """Queue a notice for every connection of ``party`` (oldest dropped when full)."""
        for sub in self._subs.get(party, ()):
            sub.notices.append(notice)
            sub.poke()

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._subs.values())

    def live_parties(self) -> set[str]:
        """Parties with a stream open on this node (reachability in reports)."""
        return set(self._subs)
