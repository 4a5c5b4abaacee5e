"""Client rows by kid, for request authentication (PROTOCOL §6).

Every request reads its client's row (key, party, roles, status). On the only writer
(SQLite, one process) every directory change passes through this process, so the rows
can be kept in memory and dropped at each change: a generation number moves before a
change starts and again after it ends, and a row read under an older generation is
never used or kept (so a read racing a revocation cannot bring the old row back).
Anywhere else each request reads the database."""

from __future__ import annotations

from functools import partial

from cachetools import LRUCache

from exchange.store import parties as party_store
from exchange.store.db import Database

__all__ = ["ClientCache"]

_MAX = 10_000


class ClientCache:
    def __init__(self, db: Database, *, enabled: bool, maxsize: int = _MAX) -> None:
        self.db = db
        self.enabled = enabled
        self._gen = 0
        self._rows: LRUCache[str, tuple[int, party_store.ClientRow]] = LRUCache(maxsize)

    async def by_kid(self, kid: str) -> party_store.ClientRow | None:
        hit = self._rows.get(kid)
        if hit is not None and hit[0] == self._gen:
            return hit[1]
        gen = self._gen
        row = await self.db.run_read(partial(party_store.client_by_kid, kid=kid), single=True)
        if self.enabled and row is not None and gen == self._gen:
            self._rows[kid] = (gen, row)
        return row

    def invalidate(self) -> None:
        """Called before a directory change starts and after it ends (committed or not)."""
        self._gen += 1
        self._rows.clear()
