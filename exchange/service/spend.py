"""Group commit of request-token ids (PROTOCOL §6).

Every authenticated request spends its ``jti`` in the database; concurrent requests
share one statement and one commit (:class:`~exchange.service.batch.Batcher`)."""

from __future__ import annotations

from exchange.service.batch import Batcher
from exchange.store import replay
from exchange.store.db import Database

__all__ = ["JtiSpender"]


class JtiSpender(Batcher[tuple[str, int], bool]):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db

    async def spend(self, jti: str, exp: int) -> bool:
        """True when ``jti`` was unused (and is now spent); False on a replay."""
        return await self.submit((jti, exp))

    async def commit(self, items: list[tuple[str, int]]) -> list[bool | BaseException]:
        first: dict[str, int] = {}
        for i, (jti, _exp) in enumerate(items):
            first.setdefault(jti, i)  # a repeat inside one batch is a replay too
        rows = [items[i] for i in first.values()]
        fresh = await self.db.run_write(lambda conn: replay.use_jtis(conn, rows))
        return [first[jti] == i and jti in fresh for i, (jti, _exp) in enumerate(items)]
