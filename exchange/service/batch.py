"""Group commit: concurrent requests queue their writes and one flusher commits
whatever has queued in a single transaction.

The single SQLite writer (and every PostgreSQL commit) allows one transaction at a time;
one per request makes the commit the bottleneck. Each request still waits for its own
outcome, and a request whose write fails alone fails alone."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

__all__ = ["Batcher"]

T = TypeVar("T")
R = TypeVar("R")


class Batcher(ABC, Generic[T, R]):
    """Subclasses say how to commit a batch (:meth:`commit`); :meth:`submit` waits for
    one item's outcome. At most ``max_batch`` items go into one transaction."""

    max_batch = 500

    def __init__(self) -> None:
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await fut

    @abstractmethod
    async def commit(self, items: list[T]) -> list[R | BaseException]:
        """Write ``items`` in one transaction; one outcome (a result or the error of
        that item alone) per item, in order. Raising fails the whole batch."""

    async def _flush(self) -> None:
        while self._queue:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            try:
                outcomes = await self.commit([item for item, _ in batch])
            except BaseException as exc:
                for _item, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    for _item, fut in self._queue:
                        fut.cancel()
                    self._queue.clear()
                    raise
                continue
            for (_item, fut), outcome in zip(batch, outcomes, strict=True):
                if fut.done():  # the request went away
                    continue
                if isinstance(outcome, BaseException):
                    fut.set_exception(outcome)
                else:
                    fut.set_result(outcome)
