"""Batched ``delivered_at`` marks (first push or fetch), written off the request path."""

from __future__ import annotations

import asyncio
from typing import Any

from exchange.errors import ExchangeError
from exchange.store import bulletins as bstore
from exchange.store.db import Database

__all__ = ["DeliveryMarker"]


class DeliveryMarker:
    """Records ``delivered_at`` (first push or fetch) in batches off the request path."""

    def __init__(self, db: Database, clock: Any, interval: float = 0.2) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self._pending: dict[str, set[int]] = {}

    def mark(self, party: str, seqs: list[int]) -> None:
        if seqs:
            self._pending.setdefault(party, set()).update(seqs)

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        marks = {p: sorted(s) for p, s in pending.items()}
        try:
            async with self.db.write() as conn:
                await bstore.mark_delivered(conn, marks, self.clock.ms())
        except ExchangeError:
            for p, s in marks.items():  # keep them for the next round
                self._pending.setdefault(p, set()).update(s)
            raise

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except ExchangeError:
                await asyncio.sleep(1.0)
