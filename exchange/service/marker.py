"""Batched ``delivered_at`` marks (first push or fetch), written off the request path."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from exchange.errors import ExchangeError
from exchange.store import inbox as inbox_store
from exchange.store.db import Database

__all__ = ["DeliveryMarker"]

log = logging.getLogger("exchange.marker")


class DeliveryMarker:
    """Records ``delivered_at`` (first push or fetch) in batches off the request path."""

    def __init__(self, db: Database, clock: Any, interval: float = 0.2) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self._pending: dict[str, set[int]] = {}
        self._ranges: list[tuple[str, int, int]] = []

    def mark(self, party: str, seqs: list[int]) -> None:
        if seqs:
            self._pending.setdefault(party, set()).update(seqs)

    def mark_range(self, party: str, lo: int, hi: int) -> None:
        """Every item of ``party`` with ``lo <= seq <= hi`` was pushed (a whole page of
        an unfiltered stream): one statement instead of one per item."""
        self._ranges.append((party, lo, hi))

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        ranges, self._ranges = self._ranges, []
        if not pending and not ranges:
            return
        marks = {p: sorted(s) for p, s in pending.items()}
        try:
            now = self.clock.ms()
            await self.db.run_write(
                lambda conn: inbox_store.mark_delivered(conn, marks, now, ranges)
            )
        except BaseException:
            # Keep them for the next round, also when cancelled mid-write at shutdown
            # (the final flush then writes them).
            for p, s in marks.items():
                self._pending.setdefault(p, set()).update(s)
            self._ranges.extend(ranges)
            raise

    async def run(self) -> None:
        """Flush every ``interval``; a failed round is retried, never ends the task."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except ExchangeError as exc:
                log.warning("delivery marks not written: %s", exc.code)
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("delivery marks not written")
                await asyncio.sleep(1.0)
