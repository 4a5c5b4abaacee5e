"""Wake-ups for live streams on one node.

The database is the source of truth: a stream connection reads its party's inbox after
its own cursor whenever it is woken, so a lost, duplicated or reordered wake-up can delay
an item by at most one poll interval but never skip or repeat one (PROTOCOL §7). The hub
only carries *that* something arrived, plus best-effort notices (escalations)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["Hub", "Subscription"]


class Subscription:
    """One live stream connection of one party."""

    def __init__(self, party: str, notice_limit: int) -> None:
        self.party = party
        self.wake = asyncio.Event()
        self.notices: deque[dict[str, Any]] = deque(maxlen=notice_limit)

    def poke(self) -> None:
        self.wake.set()


class Hub:
    def __init__(self, *, queue_size: int = 1024) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size

    def subscribe(self, party: str) -> Subscription:
        sub = Subscription(party, self._queue_size)
        self._subs.setdefault(party, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.party)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.party]

    def wake(self, parties: Iterable[str]) -> None:
        for party in parties:
            for sub in self._subs.get(party, ()):
                sub.poke()

    def wake_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.poke()

    def notify(self, party: str, notice: dict[str, Any]) -> None:
        """Queue a notice for every connection of ``party`` (oldest dropped when full)."""
        for sub in self._subs.get(party, ()):
            sub.notices.append(notice)
            sub.poke()

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._subs.values())
