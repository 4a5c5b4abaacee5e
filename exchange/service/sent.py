"""The sender's view: what a party posted and how far each got (``exchange sent``), so
that following up needs no copied bulletin id."""

from __future__ import annotations

from typing import Any

from exchange.service.caller import Caller
from exchange.service.clock import Clock, iso_ms
from exchange.store.db import Database
from exchange.store.sent import sent_page

__all__ = ["Sent"]


class Sent:
    """A party's posted bulletins, each with its ledger in numbers."""

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock  # "overdue" is as of now

    async def page(
        self, caller: Caller, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The caller's party's bulletins after ``after``: only its own (PROTOCOL §7, like
        the ledger of one bulletin)."""
        caller.require("poster")
        now = self.clock.ms()
        items = await self.db.run_read(lambda c: sent_page(c, caller.party, after, limit, now))
        for item in items:
            item["accepted_at"] = iso_ms(item["accepted_at"])
        return items, items[-1]["seq"] if items else after
