"""Group commit of request-token ids (PROTOCOL §6).

Every authenticated request spends its ``jti`` in the database. One transaction per
request makes the single SQLite writer (and every PostgreSQL commit) the bottleneck, so
concurrent requests queue their ids and one flusher writes whatever has queued in a
single statement and commit; each request waits for its own answer."""

from __future__ import annotations

import asyncio

from exchange.store import replay
from exchange.store.db import Database

__all__ = ["JtiSpender"]

MAX_BATCH = 500


class JtiSpender:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[tuple[str, int, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def spend(self, jti: str, exp: int) -> bool:
        """True when ``jti`` was unused (and is now spent); False on a replay."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((jti, exp, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            first: dict[str, int] = {}
            for i, (jti, _exp, _fut) in enumerate(batch):
                first.setdefault(jti, i)  # a repeat inside one batch is a replay too
            rows = [(batch[i][0], batch[i][1]) for i in first.values()]
            try:
                async with self.db.write() as conn:
                    fresh = await replay.use_jtis(conn, rows)
            except BaseException as exc:
                for _j, _e, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for i, (jti, _exp, fut) in enumerate(batch):
                if not fut.done():
                    fut.set_result(first[jti] == i and jti in fresh)
