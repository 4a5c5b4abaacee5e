"""Group commit of request-token ids (PROTOCOL §6).

Every authenticated request spends its ``jti`` in the database; concurrent requests
share one statement and one commit (:class:`~exchange.service.batch.Batcher`). A
bulletin's post spends it in its admission transaction instead (ADR 0020)."""

from __future__ import annotations

from exchange.errors import AuthError
from exchange.service.batch import Batcher
from exchange.service.caller import TokenId
from exchange.store import replay
from exchange.store.db import Database

__all__ = ["REPLAYED", "JtiSpender"]

REPLAYED = "token already used"


class JtiSpender(Batcher[tuple[str, int], bool]):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db

    async def spend(self, jti: str, exp: int) -> bool:
        """True when ``jti`` was unused (and is now spent); False on a replay."""
        return await self.submit((jti, exp))

    async def spend_token(self, token: TokenId) -> None:
        """Spend ``token``'s id, or refuse the request as a replay (401)."""
        if not await self.spend(token.jti, token.exp):
            raise AuthError(REPLAYED)

    async def commit(self, items: list[tuple[str, int]]) -> list[bool | BaseException]:
        first: dict[str, int] = {}
        for i, (jti, _exp) in enumerate(items):
            first.setdefault(jti, i)  # a repeat inside one batch is a replay too
        rows = [items[i] for i in first.values()]
        fresh = await self.db.run_write(lambda conn: replay.use_jtis(conn, rows))
        return [first[jti] == i and jti in fresh for i, (jti, _exp) in enumerate(items)]
